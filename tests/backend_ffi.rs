//! FFI first form end to end: a real unit image built here with clang
//! (`-shared -fPIC -Wl,-Bsymbolic -Wl,-z,now`), embedded in the executable,
//! loaded per scope through memfd + dlopen, called through the glue.

mod backend_common;

use backend_common::*;
use coex::codegen::ir::*;

const UNIT_C: &str = r#"
#include <stdio.h>
#include <stdint.h>
#include <unistd.h>
static int64_t counter;
int64_t coex_counter_inc(int64_t by) { counter += by; return counter; }
const char *coex_echo(const char *s) { return s; }
const char *coex_greet(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf, "hello, %s! (%d)", name, (int)counter);
    return buf;
}
const char *coex_null(void) { return NULL; }
double coex_half(double x) { return x / 2; }
int32_t coex_is_even(int64_t x) { return x % 2 == 0; }
void coex_nap(int64_t ms) { usleep((useconds_t)(ms * 1000)); }
"#;

const SYMBOLS: [&str; 7] = [
    "coex_counter_inc",
    "coex_echo",
    "coex_greet",
    "coex_null",
    "coex_half",
    "coex_is_even",
    "coex_nap",
];

fn unit_image() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("unit.c"), UNIT_C).unwrap();
    let st = std::process::Command::new(CC)
        .args([
            "-O2",
            "-fPIC",
            "-shared",
            "-Wl,-Bsymbolic",
            "-Wl,-z,now",
            "-o",
            "unit.so",
            "unit.c",
        ])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(dir.path().join("unit.so")).unwrap()
}

/// A program skeleton with the unit's externs declared (ExternId = index in SYMBOLS).
fn ffi_program() -> ProgB {
    let mut p = ProgB::default();
    p.program.ffi_units.push(FfiUnit {
        library: "counter".into(),
        unit: "core".into(),
        symbols: SYMBOLS.iter().map(|s| s.to_string()).collect(),
    });
    let sig: [(Vec<Type>, Type); 7] = [
        (vec![Type::Int], Type::Int),
        (vec![Type::Str], Type::Str),
        (vec![Type::Str], Type::Str),
        (vec![], Type::Str),
        (vec![Type::Float], Type::Float),
        (vec![Type::Int], Type::Bool),
        (vec![Type::Int], Type::Void),
    ];
    for (i, (params, ret)) in sig.into_iter().enumerate() {
        p.program.externs.push(Extern {
            name: SYMBOLS[i].into(),
            params,
            ret,
            ffi: Some(FfiRef {
                unit: 0,
                symbol: i as u32,
            }),
        });
    }
    p
}

const INC: ExternId = ExternId(0);
const ECHO: ExternId = ExternId(1);
const GREET: ExternId = ExternId(2);
const NULL: ExternId = ExternId(3);
const HALF: ExternId = ExternId(4);
const IS_EVEN: ExternId = ExternId(5);
const NAP: ExternId = ExternId(6);

#[test]
fn ffi_counter_strings_and_task_isolation() {
    let mut p = ffi_program();
    // func bump() -> int: return coex_counter_inc(1)   (shares its caller's instance)
    let mut g = FnB::new().returns(Type::Int);
    g.push(ret(call_extern(INC, vec![int(1)], Type::Int)));
    let bump = p.add(g.finish("bump", FuncKind::Func));

    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let per_task = f.local("per_task", list_ty(Type::Int));
    let s = f.local("s", Type::Str);
    f.push(print(call(bump, vec![], Type::Int))); // 1
    f.push(print(call(bump, vec![], Type::Int))); // 2
    f.push(print(call_extern(INC, vec![int(10)], Type::Int))); // 12
                                                               // each task has its own instance: counters start at 0
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(1), int(5)),
        body: vec![
            expr_stmt(call_extern(INC, vec![f.get(x)], Type::Int)),
            Stmt::Yield(call(bump, vec![], Type::Int)),
        ],
        result: Some(per_task),
    });
    f.push(Stmt::ForList {
        var: x,
        list: f.get(per_task),
        body: vec![print(f.get(x))],
    }); // 2 3 4 5
    f.push(print(call_extern(INC, vec![int(0)], Type::Int))); // still 12
                                                              // strings: param copied in, return copied out (even when it is the param)
    f.push(assign(
        s,
        call_extern(ECHO, vec![add(string("round "), string("trip"))], Type::Str),
    ));
    f.push(print(add(f.get(s), string("!"))));
    f.push(print(call_extern(GREET, vec![string("coex")], Type::Str)));
    f.push(print(len(call_extern(NULL, vec![], Type::Str)))); // 0
    f.push(print(call_extern(HALF, vec![float(5.0)], Type::Float)));
    f.push(print(call_extern(IS_EVEN, vec![int(4)], Type::Bool)));
    f.push(print(call_extern(IS_EVEN, vec![int(7)], Type::Bool)));
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(
        &build(&p.finish(main), &[unit_image()]),
        &[("COEX_THREADS", "3")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "1\n2\n12\n2\n3\n4\n5\n12\nround trip!\nhello, coex! (12)\n0\n2.500000\ntrue\nfalse\n"
    );
}

#[test]
fn instance_lives_as_long_as_the_outermost_func() {
    let mut p = ffi_program();
    // task fresh() -> int: inc(1) twice in its own instance, then a nested func shares it
    let mut g = FnB::new().returns(Type::Int);
    g.push(ret(call_extern(INC, vec![int(1)], Type::Int)));
    let bump = p.add(g.finish("bump", FuncKind::Func));
    let mut t = FnB::new().returns(Type::Int);
    t.push(expr_stmt(call(bump, vec![], Type::Int)));
    t.push(ret(call(bump, vec![], Type::Int)));
    let fresh = p.add(t.finish("fresh", FuncKind::Task));
    let mut f = FnB::new();
    f.push(print(call(fresh, vec![], Type::Int))); // 2
    f.push(print(call(fresh, vec![], Type::Int))); // 2: a new task, a new instance
    f.push(print(call(bump, vec![], Type::Int))); // 1: main's own instance
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[unit_image()]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "2\n2\n1\n");
}

fn select_program() -> Program {
    let mut p = ffi_program();
    let mut f = FnB::new();
    let r = f.local("r", Type::Int);
    f.push(Stmt::Select {
        target: Some(r),
        call: INC,
        args: vec![int(5)],
        loc: loc(3, "    case r = coex_counter_inc(5):"),
        body: vec![print(f.get(r))],
        exhausted: vec![print(string("busy, try later"))],
    });
    f.push(print(string("after select")));
    f.push(print(at(
        call_extern(INC, vec![int(1)], Type::Int),
        9,
        "    print(coex_counter_inc(1))",
    )));
    let main = p.add(f.finish("main", FuncKind::Func));
    p.finish(main)
}

#[test]
fn select_runs_the_success_case_when_instances_are_available() {
    let out = run(&build(&select_program(), &[unit_image()]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "5\nafter select\n6\n");
}

#[test]
fn resource_exhausted_goes_to_select_arm_or_stops_the_program() {
    let built = build(&select_program(), &[unit_image()]);
    let out = run(&built, &[("COEX_FFI_MAX_INSTANCES", "0")]);
    assert_eq!(stdout(&out), "busy, try later\nafter select\n");
    assert_eq!(out.status.code(), Some(1));
    let expected = "error: FFI resource exhausted
  --> main.coex:9
  |
9 |     print(coex_counter_inc(1))

Cannot create FFI instance: system memory pressure.

Handle this with select:

    select
        case result = extern_function(args):
            # success
        ~
        case ResourceExhausted:
            # handle backpressure
        ~
    ~
";
    assert_eq!(stderr(&out), expected);
}

#[test]
fn within_takes_the_else_branch_after_the_deadline() {
    let mut p = ffi_program();
    let mut f = FnB::new();
    // deadline 0: the first FFI call is not made
    f.push(Stmt::Within {
        deadline: int(0),
        body: vec![
            expr_stmt(call_extern(INC, vec![int(100)], Type::Int)),
            print(string("not printed")),
        ],
        else_body: vec![print(string("timed out"))],
    });
    // generous deadline: the body completes
    f.push(Stmt::Within {
        deadline: int(10_000_000_000),
        body: vec![print(call_extern(INC, vec![int(1)], Type::Int))],
        else_body: vec![print(string("not printed"))],
    });
    // a 3 s call overruns a 50 ms deadline: it is abandoned, the else branch
    // runs at once, and the rest of the body is skipped
    f.push(Stmt::Within {
        deadline: int(50_000_000),
        body: vec![
            expr_stmt(call_extern(NAP, vec![int(3000)], Type::Void)),
            print(string("not printed")),
        ],
        else_body: vec![print(string("slow call timed out"))],
    });
    // the abandoned instance left the scope: a later call gets a fresh one
    f.push(print(call_extern(INC, vec![int(1)], Type::Int)));
    // a string-returning call abandoned mid-flight yields no garbage
    let s = f.local("s", Type::Str);
    f.push(assign(s, string("unset")));
    f.push(Stmt::Within {
        deadline: int(50_000_000),
        body: vec![
            expr_stmt(call_extern(NAP, vec![int(3000)], Type::Void)),
            assign(s, call_extern(ECHO, vec![string("late")], Type::Str)),
        ],
        else_body: vec![print(f.get(s))],
    });
    let main = p.add(f.finish("main", FuncKind::Func));
    let built = build(&p.finish(main), &[unit_image()]);
    let started = std::time::Instant::now();
    let out = run(&built, &[]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "timed out\n1\nslow call timed out\n1\nunset\n"
    );
    assert!(
        took < std::time::Duration::from_millis(2000),
        "took {took:?}"
    );
}
