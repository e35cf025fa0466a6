//! End-to-end back-end tests: IR → Cranelift object → linked with the real C
//! runtime by the real `cc` → run. Expected outputs for arithmetic and float
//! formatting are computed by compiling the same operations as C with clang.

mod backend_common;

use backend_common::*;
use coex::codegen::compile_program;
use coex::codegen::ir::*;

/// Compile and run a C `main` body with clang; its stdout.
fn c_reference(body: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "#include <stdio.h>\n#include <stdint.h>\nint main(void) {{\n{body}\nreturn 0; }}\n"
    );
    std::fs::write(dir.path().join("ref.c"), src).unwrap();
    let st = std::process::Command::new(CC)
        .args(["-O0", "-o", "ref", "ref.c"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let out = std::process::Command::new(dir.path().join("ref"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn integer_arithmetic_matches_c() {
    let pairs: [(i64, i64); 8] = [
        (7, 2),
        (-7, 2),
        (7, -2),
        (-7, -2),
        (0, 5),
        (100, 7),
        (-100, 7),
        (i64::MAX, 3),
    ];
    let mut f = FnB::new();
    let mut c = String::new();
    for (a, b) in pairs {
        for op in [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Mod] {
            f.push(print(bin(op, int(a), int(b))));
            let sym = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                BinOp::Mul => "*",
                BinOp::Div => "/",
                _ => "%",
            };
            if matches!(op, BinOp::Add | BinOp::Mul) {
                // wrapping in Coex; compute unsigned in C to avoid UB
                c.push_str(&format!(
                    "printf(\"%lld\\n\", (long long)(int64_t)((uint64_t){a}LL {sym} (uint64_t){b}LL));\n"
                ));
            } else {
                c.push_str(&format!(
                    "printf(\"%lld\\n\", (long long)({a}LL {sym} {b}LL));\n"
                ));
            }
        }
    }
    f.push(print(neg(int(5))));
    c.push_str("printf(\"%d\\n\", -5);\n");
    let out = run_main(f);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), c_reference(&c));
}

#[test]
fn int_min_divided_by_minus_one_does_not_trap() {
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    f.push(assign(x, sub(int(i64::MIN + 1), int(1))));
    f.push(print(bin(BinOp::Div, f.get(x), int(-1))));
    f.push(print(bin(BinOp::Mod, f.get(x), int(-1))));
    let out = run_main(f);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("{}\n0\n", i64::MIN));
}

#[test]
fn floats_print_like_c_percent_f() {
    let values = [10.0, 0.1, -2.5, 1e20, 2.71875, 0.0000004, 123456.789];
    let mut f = FnB::new();
    let mut c = String::new();
    for v in values {
        f.push(print(float(v)));
        c.push_str(&format!("printf(\"%f\\n\", {v:e});\n"));
    }
    // arithmetic and to_string go through the same formatting
    f.push(print(bin(BinOp::Div, float(1.0), float(3.0))));
    c.push_str("printf(\"%f\\n\", 1.0/3.0);\n");
    f.push(print(to_string(bin(BinOp::Mul, float(2.5), float(4.0)))));
    c.push_str("printf(\"%f\\n\", 2.5*4.0);\n");
    f.push(print(bin(BinOp::Lt, float(0.5), float(1.5))));
    c.push_str("printf(\"true\\n\");\n");
    f.push(print(neg(float(1.25))));
    c.push_str("printf(\"%f\\n\", -1.25);\n");
    let out = run_main(f);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), c_reference(&c));
}

#[test]
fn strings_concat_compare_len_to_string() {
    let mut f = FnB::new();
    let s = f.local("s", Type::Str);
    f.push(assign(s, add(string("héllo"), string(", world"))));
    f.push(print(f.get(s)));
    f.push(print(len(f.get(s))));
    f.push(print(bin(
        BinOp::Eq,
        f.get(s),
        add(string("héllo, "), string("world")),
    )));
    f.push(print(bin(BinOp::Ne, f.get(s), string("x"))));
    f.push(print(bin(BinOp::Lt, string("abc"), string("abd"))));
    f.push(print(bin(BinOp::Ge, string("b"), string("abc"))));
    f.push(print(add(to_string(int(-42)), to_string(boolean(true)))));
    f.push(print(to_string(boolean(false))));
    f.push(print(string("")));
    f.push(print(len(string(""))));
    let out = run_main(f);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let expected = format!(
        "héllo, world\n{}\ntrue\ntrue\ntrue\ntrue\n-42true\nfalse\n\n0\n",
        // `len` counts code points (docs/language.md), not bytes.
        "héllo, world".chars().count()
    );
    assert_eq!(stdout(&out), expected);
}

#[test]
fn lists_have_value_semantics() {
    let mut p = ProgB::default();
    // func grow(l: [int]) -> int: l.append(99); return l.len()
    let mut g = FnB::new().returns(Type::Int);
    let l = g.param("l", list_ty(Type::Int));
    g.push(expr_stmt(g.append(l, int(99))));
    g.push(ret(len(g.get(l))));
    let grow = p.add(g.finish("grow", FuncKind::Func));

    let mut f = FnB::new();
    let xs = f.local("xs", list_ty(Type::Int));
    let ys = f.local("ys", list_ty(Type::Int));
    let zs = f.local("zs", list_ty(Type::Int));
    let nested = f.local("nested", list_ty(list_ty(Type::Int)));
    let inner = f.local("inner", list_ty(Type::Int));
    let i = f.local("i", Type::Int);
    let sum = f.local("sum", Type::Int);
    f.push(assign(xs, list(Type::Int, vec![int(1), int(2)])));
    f.push(assign(ys, f.get(xs)));
    f.push(expr_stmt(f.append(ys, int(3))));
    f.push(print(len(f.get(xs)))); // 2
    f.push(print(len(f.get(ys)))); // 3
    f.push(assign(zs, f.append(xs, int(4))));
    f.push(print(len(f.get(xs)))); // 3
    f.push(expr_stmt(f.append(zs, int(5))));
    f.push(print(len(f.get(xs)))); // 3
    f.push(print(len(f.get(zs)))); // 4
    f.push(print(index(f.get(zs), int(3)))); // 5
    f.push(print(call(grow, vec![f.get(xs)], Type::Int))); // 4
    f.push(print(len(f.get(xs)))); // 3
                                   // nested lists: an element read out is a copy
    f.push(assign(
        nested,
        list(list_ty(Type::Int), vec![f.get(xs), list(Type::Int, vec![])]),
    ));
    f.push(assign(inner, index(f.get(nested), int(0))));
    f.push(expr_stmt(f.append(inner, int(7))));
    f.push(print(len(index(f.get(nested), int(0))))); // 3
    f.push(print(len(f.get(inner)))); // 4
    f.push(print(len(get(f.get(nested), int(1))))); // 0
                                                    // a long in-place append loop, and for over a list
    f.push(assign(xs, list(Type::Int, vec![])));
    f.push(Stmt::ForRange {
        var: i,
        start: int(0),
        end: int(1000),
        body: vec![expr_stmt(f.append(xs, f.get(i)))],
    });
    f.push(assign(sum, int(0)));
    f.push(Stmt::ForList {
        var: i,
        list: f.get(xs),
        body: vec![
            assign(sum, add(f.get(sum), f.get(i))),
            // appending while iterating does not change the iteration
            expr_stmt(f.append(xs, int(0))),
        ],
    });
    f.push(print(f.get(sum))); // 499500
    f.push(print(len(f.get(xs)))); // 2000
    f.push(print(len(range(int(3), int(8))))); // 5
    f.push(print(len(range(int(8), int(3))))); // 0
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sum: i64 = (0..1000).sum();
    assert_eq!(
        stdout(&out),
        format!("2\n3\n3\n3\n4\n5\n4\n3\n3\n4\n0\n{sum}\n2000\n5\n0\n")
    );
}

#[test]
fn records_construct_and_read_fields() {
    let mut p = ProgB::default();
    p.program.records.push(RecordLayout {
        name: "Point".into(),
        fields: vec![
            ("x".into(), Type::Int),
            ("y".into(), Type::Float),
            ("name".into(), Type::Str),
            ("ok".into(), Type::Bool),
            ("tags".into(), list_ty(Type::Int)),
        ],
    });
    let point = Type::Record(RecordId(0));
    let field = |r: Expr, i: u32, t: Type| e(ExprKind::Field(Box::new(r), i), t);
    let mut f = FnB::new();
    let pt = f.local("p", point.clone());
    let q = f.local("q", point.clone());
    let tags = f.local("tags", list_ty(Type::Int));
    f.push(assign(
        pt,
        e(
            ExprKind::Record(
                RecordId(0),
                vec![
                    int(3),
                    float(-1.5),
                    string("origin"),
                    boolean(true),
                    list(Type::Int, vec![int(1)]),
                ],
            ),
            point.clone(),
        ),
    ));
    f.push(assign(q, f.get(pt)));
    f.push(print(field(f.get(q), 0, Type::Int)));
    f.push(print(field(f.get(q), 1, Type::Float)));
    f.push(print(field(f.get(q), 2, Type::Str)));
    f.push(print(field(f.get(q), 3, Type::Bool)));
    f.push(assign(tags, field(f.get(pt), 4, list_ty(Type::Int))));
    f.push(expr_stmt(f.append(tags, int(2))));
    f.push(print(len(field(f.get(pt), 4, list_ty(Type::Int))))); // 1
    f.push(print(len(f.get(tags)))); // 2
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "3\n-1.500000\norigin\ntrue\n1\n2\n");
}

#[test]
fn control_flow_loops_and_short_circuit() {
    let mut p = ProgB::default();
    // func noisy(v: bool) -> bool: print("noisy"); return v
    let mut n = FnB::new().returns(Type::Bool);
    let v = n.param("v", Type::Bool);
    n.push(print(string("noisy")));
    n.push(ret(n.get(v)));
    let noisy = p.add(n.finish("noisy", FuncKind::Func));

    let mut f = FnB::new();
    let i = f.local("i", Type::Int);
    let acc = f.local("acc", Type::Int);
    f.push(assign(i, int(0)));
    f.push(assign(acc, int(0)));
    // while i < 10: i += 1; if i == 3 continue; if i == 8 break; acc += i
    f.push(Stmt::While {
        cond: lt(f.get(i), int(10)),
        body: vec![
            assign(i, add(f.get(i), int(1))),
            Stmt::If {
                cond: bin(BinOp::Eq, f.get(i), int(3)),
                then_body: vec![Stmt::Continue],
                else_body: vec![],
            },
            Stmt::If {
                cond: bin(BinOp::Eq, f.get(i), int(8)),
                then_body: vec![Stmt::Break],
                else_body: vec![],
            },
            assign(acc, add(f.get(acc), f.get(i))),
        ],
    });
    f.push(print(f.get(acc))); // 1+2+4+5+6+7 = 25
    f.push(print(f.get(i))); // 8
                             // if / else if / else
    for x in [1, 2, 3] {
        f.push(Stmt::If {
            cond: bin(BinOp::Eq, int(x), int(1)),
            then_body: vec![print(string("one"))],
            else_body: vec![Stmt::If {
                cond: bin(BinOp::Eq, int(x), int(2)),
                then_body: vec![print(string("two"))],
                else_body: vec![print(string("many"))],
            }],
        });
    }
    f.push(print(ternary(
        lt(int(1), int(2)),
        string("yes"),
        string("no"),
    )));
    // short circuit: noisy() is not called on the right of false and / true or
    f.push(print(bin(
        BinOp::And,
        boolean(false),
        call(noisy, vec![boolean(true)], Type::Bool),
    )));
    f.push(print(bin(
        BinOp::Or,
        boolean(true),
        call(noisy, vec![boolean(false)], Type::Bool),
    )));
    f.push(print(bin(
        BinOp::And,
        boolean(true),
        call(noisy, vec![boolean(false)], Type::Bool),
    )));
    f.push(print(not(boolean(false))));
    // nested for with break in the inner loop only
    let j = f.local("j", Type::Int);
    f.push(assign(acc, int(0)));
    f.push(Stmt::ForRange {
        var: i,
        start: int(0),
        end: int(4),
        body: vec![Stmt::ForRange {
            var: j,
            start: int(0),
            end: int(10),
            body: vec![
                Stmt::If {
                    cond: bin(BinOp::Gt, f.get(j), f.get(i)),
                    then_body: vec![Stmt::Break],
                    else_body: vec![],
                },
                assign(acc, add(f.get(acc), int(1))),
            ],
        }],
    });
    f.push(print(f.get(acc))); // 1+2+3+4 = 10
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "25\n8\none\ntwo\nmany\nyes\nfalse\ntrue\nnoisy\nfalse\ntrue\n10\n"
    );
}

#[test]
fn recursion_and_exit_status() {
    let mut p = ProgB::default();
    let fib = p.reserve();
    let mut g = FnB::new().returns(Type::Int);
    let n = g.param("n", Type::Int);
    g.push(Stmt::If {
        cond: lt(g.get(n), int(2)),
        then_body: vec![ret(g.get(n))],
        else_body: vec![],
    });
    g.push(ret(add(
        call(fib, vec![sub(g.get(n), int(1))], Type::Int),
        call(fib, vec![sub(g.get(n), int(2))], Type::Int),
    )));
    p.set(fib, g.finish("fib", FuncKind::Formula));
    let mut f = FnB::new().returns(Type::Int);
    f.push(print(call(fib, vec![int(25)], Type::Int)));
    f.push(ret(int(7)));
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[]), &[]);
    fn rfib(n: i64) -> i64 {
        if n < 2 {
            n
        } else {
            rfib(n - 1) + rfib(n - 2)
        }
    }
    assert_eq!(stdout(&out), format!("{}\n", rfib(25)));
    assert_eq!(out.status.code(), Some(7));
}

fn runtime_error_case(stmt: Stmt, message: &str, line: u32, text: &str) {
    let mut f = FnB::new();
    f.push(print(string("before")));
    f.push(stmt);
    f.push(print(string("after")));
    let out = run_main(f);
    assert_eq!(out.status.code(), Some(1), "must exit 1, not signal");
    assert_eq!(stdout(&out), "before\n", "stdout flushed before the error");
    let err = stderr(&out);
    assert!(err.starts_with(&format!("error: {message}\n")), "{err}");
    assert!(err.contains(&format!("  --> main.coex:{line}\n")), "{err}");
    assert!(err.contains(&format!("{line} | {text}\n")), "{err}");
}

#[test]
fn runtime_errors_stop_with_location_and_status_1() {
    runtime_error_case(
        print(at(
            bin(BinOp::Div, int(10), sub(int(2), int(2))),
            4,
            "    print(10 / (2 - 2))",
        )),
        "division by zero",
        4,
        "    print(10 / (2 - 2))",
    );
    runtime_error_case(
        print(at(bin(BinOp::Mod, int(10), int(0)), 9, "    print(10 % 0)")),
        "modulo by zero",
        9,
        "    print(10 % 0)",
    );
    runtime_error_case(
        print(at(
            index(list(Type::Int, vec![int(1), int(2)]), int(5)),
            12,
            "    print(xs[5])",
        )),
        "index out of range: index 5, length 2",
        12,
        "    print(xs[5])",
    );
    runtime_error_case(
        print(at(get(list(Type::Int, vec![]), int(-1)), 3, "x.get(-1)")),
        "index out of range: index -1, length 0",
        3,
        "x.get(-1)",
    );
}

#[test]
fn bare_libc_externs_and_output_order() {
    let mut p = ProgB::default();
    let ext = |name: &str, params: Vec<Type>, ret: Type| Extern {
        name: name.into(),
        params,
        ret,
        ffi: None,
    };
    p.program.externs = vec![
        ext("abs", vec![Type::Int], Type::Int),
        ext("strlen", vec![Type::Str], Type::Int),
        ext("puts", vec![Type::Str], Type::Int),
        ext("floor", vec![Type::Float], Type::Float),
        ext("getpid", vec![], Type::Int),
    ];
    let mut f = FnB::new();
    f.push(print(call_extern(ExternId(0), vec![int(-17)], Type::Int)));
    f.push(print(call_extern(
        ExternId(1),
        vec![string("four")],
        Type::Int,
    )));
    f.push(print(string("coex 1")));
    f.push(expr_stmt(call_extern(
        ExternId(2),
        vec![string("c puts")],
        Type::Int,
    )));
    f.push(print(string("coex 2")));
    f.push(print(call_extern(
        ExternId(3),
        vec![float(2.75)],
        Type::Float,
    )));
    f.push(print(bin(
        BinOp::Gt,
        call_extern(ExternId(4), vec![], Type::Int),
        int(0),
    )));
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "17\n4\ncoex 1\nc puts\ncoex 2\n2.000000\ntrue\n"
    );
}

#[test]
fn consts_and_void_main() {
    let mut p = ProgB::default();
    p.program.consts.push(Const {
        name: "LIMIT".into(),
        value: Literal::Int(100),
    });
    p.program.consts.push(Const {
        name: "GREETING".into(),
        value: Literal::Str("hi".into()),
    });
    let mut f = FnB::new();
    f.push(print(e(ExprKind::Const(ConstId(0)), Type::Int)));
    f.push(print(e(ExprKind::Const(ConstId(1)), Type::Str)));
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[]), &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "100\nhi\n");
}

#[test]
fn codegen_output_is_deterministic() {
    let make = || {
        let mut p = ProgB::default();
        let mut f = FnB::new();
        let xs = f.local("xs", list_ty(Type::Int));
        f.push(assign(xs, list(Type::Int, vec![int(1), int(2)])));
        f.push(print(add(string("a"), to_string(len(f.get(xs))))));
        f.push(print(at(bin(BinOp::Div, int(1), int(1)), 2, "1/1")));
        let main = p.add(f.finish("main", FuncKind::Func));
        p.finish(main)
    };
    let a = compile_program(&make()).unwrap();
    let b = compile_program(&make()).unwrap();
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn bad_ir_is_an_error_not_a_panic() {
    let mut p = ProgB::default();
    let mut f = FnB::new();
    f.push(print(e(ExprKind::Local(LocalId(42)), Type::Int)));
    let main = p.add(f.finish("main", FuncKind::Func));
    let err = compile_program(&p.finish(main)).unwrap_err();
    assert!(err.to_string().contains("local 42 out of range"), "{err}");
    let no_entry = Program::default();
    assert!(compile_program(&no_entry).is_err());
}

#[test]
fn linked_executables_are_reproducible_across_caches() {
    let make = || {
        let mut p = ProgB::default();
        let mut f = FnB::new();
        f.push(print(add(string("same "), string("bytes"))));
        let main = p.add(f.finish("main", FuncKind::Func));
        p.finish(main)
    };
    // The shared cache, and a fresh one in another, deeper directory: the
    // runtime and link actions run again there and give the same bytes.
    let built = build(&make(), &[b"image".to_vec()]);
    let out = run(&built, &[]);
    assert_eq!(stdout(&out), "same bytes\n", "{}", stderr(&out));
    let fresh = tempfile::tempdir().unwrap();
    let cache = fresh.path().join("deeper/still/cache");
    let again = coex::link::build_executable(
        &make(),
        &[b"image".to_vec()],
        &coex::exec::ExecOptions::new(&cache),
        Some(std::path::Path::new(CC)),
    )
    .unwrap();
    assert_eq!(std::fs::read(&built.exe).unwrap(), again);
}

#[test]
fn unit_images_are_embedded_byte_for_byte() {
    let mut p = ProgB::default();
    let f = FnB::new();
    let main = p.add(f.finish("main", FuncKind::Func));
    let program = p.finish(main);
    let images = [
        b"first image \x7fELF".to_vec(),
        b"second, longer image bytes".to_vec(),
    ];
    let exe = executable_bytes(&program, &images);
    for image in &images {
        assert!(
            exe.windows(image.len()).any(|w| w == image.as_slice()),
            "image embedded"
        );
    }
}
