//! Back-end tests of value representation: numeric conversions (IR
//! `UnOp::ToFloat` / `UnOp::ToInt`, one instruction each) and element
//! writes through places. Expected values follow the rules documented on
//! the IR (docs/runtime.md, "Numbers"), computed here by Rust's own `as`
//! casts, which have the same semantics (nearest, ties to even; truncation
//! toward zero, saturation, NaN to 0).

mod backend_common;

use backend_common::*;
use coex::codegen::ir::*;

fn to_float(x: Expr) -> Expr {
    e(ExprKind::Unary(UnOp::ToFloat, Box::new(x)), Type::Float)
}

fn to_int(x: Expr) -> Expr {
    e(ExprKind::Unary(UnOp::ToInt, Box::new(x)), Type::Int)
}

fn div(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Div, a, b)
}

#[test]
fn int_float_conversions_round_truncate_and_saturate() {
    let ints: [i64; 9] = [
        0,
        -1,
        123_456_789,
        -123_456_789,
        (1 << 53) + 1,
        -(1 << 53) - 3,
        i64::MAX,
        i64::MIN,
        i64::MAX - 511,
    ];
    let floats: [f64; 8] = [3.7, -3.7, 0.999, -0.5, 1e19, -1e19, 9.2e18, -9.3e18];
    let mut f = FnB::new();
    let mut want = String::new();
    for n in ints {
        // int -> float -> int round trip, and the float itself
        f.push(print(to_float(int(n))));
        f.push(print(to_int(to_float(int(n)))));
        want += &format!("{:.6}\n{}\n", n as f64, (n as f64) as i64);
    }
    for x in floats {
        f.push(print(to_int(float(x))));
        want += &format!("{}\n", x as i64);
    }
    // NaN and the infinities, made at run time
    f.push(print(to_int(div(float(0.0), float(0.0)))));
    f.push(print(to_int(div(float(1.0), float(0.0)))));
    f.push(print(to_int(div(float(-1.0), float(0.0)))));
    want += &format!("0\n{}\n{}\n", i64::MAX, i64::MIN);
    let out = run_main(f);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), want);
}

#[test]
fn dividing_by_a_power_of_two_rounds_like_dividing() {
    let mut f = FnB::new();
    let mut want = String::new();
    let xs = [1.0, 3.0, -7.25, 1e-310, 1e308, f64::MIN_POSITIVE];
    for x in xs {
        for d in [2.0, 0.25, 1048576.0, 2f64.powi(1000), 3.0] {
            f.push(print(div(float(x), float(d))));
            want += &format!("{:.6}\n", x / d);
        }
    }
    let out = run_main(f);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), want);
}

#[test]
fn stores_write_fields_and_elements_in_place_and_copy_shared_values() {
    let mut p = ProgB::default();
    p.program.records.push(RecordLayout {
        name: "Box".into(),
        fields: vec![
            ("flag".into(), Type::Bool),
            ("rows".into(), list_ty(list_ty(Type::Bool))),
        ],
    });
    let rec = Type::Record(RecordId(0));
    let mut f = FnB::new();
    let a = f.local("a", rec.clone());
    let b = f.local("b", rec.clone());
    let row = list(Type::Bool, vec![boolean(false), boolean(true)]);
    let rows = list(list_ty(Type::Bool), vec![row]);
    f.push(assign(
        a,
        e(
            ExprKind::Record(RecordId(0), vec![boolean(false), rows]),
            rec,
        ),
    ));
    f.push(assign(b, f.get(a)));
    // a.rows[0][1] = false; a.flag = true: b keeps its values
    let place = Place {
        root: a,
        path: vec![Step::Field(1), Step::Index(int(0)), Step::Index(int(1))],
    };
    f.push(Stmt::Store {
        place,
        value: boolean(false),
    });
    f.push(Stmt::Store {
        place: Place {
            root: a,
            path: vec![Step::Field(0)],
        },
        value: boolean(true),
    });
    let cell = |f: &FnB, l: LocalId| {
        let rows = e(
            ExprKind::Field(Box::new(f.get(l)), 1),
            list_ty(list_ty(Type::Bool)),
        );
        index(index(rows, int(0)), int(1))
    };
    let flag = |f: &FnB, l: LocalId| e(ExprKind::Field(Box::new(f.get(l)), 0), Type::Bool);
    for l in [a, b] {
        f.push(print(cell(&f, l)));
        f.push(print(flag(&f, l)));
    }
    // an element out of range stops the program at the store
    f.push(Stmt::Store {
        place: Place {
            root: a,
            path: vec![
                Step::Field(1),
                Step::Index(at(int(3), 9, "a.rows[3][0] = true")),
            ],
        },
        value: list(Type::Bool, vec![]),
    });
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[]), &[]);
    assert_eq!(stdout(&out), "false\ntrue\ntrue\nfalse\n");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("index out of range: index 3, length 1"),
        "{err}"
    );
    assert!(err.contains("main.coex:9"), "{err}");
}
