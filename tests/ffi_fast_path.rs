//! The inline fast path of extern calls (src/codegen/lower/ffi.rs): after
//! the first call of a scope, calls without string arguments go straight
//! through the thread's call table. These tests check that it keeps every
//! semantic of the full path: values of every type, per-scope instances
//! (tasks isolated, the caller's instance back after a task), two units in
//! one program, GC-blocking mode and pooling off, and a `within` deadline
//! that is active only dynamically (in a func called from the body).

mod backend_common;
mod ffi_common;

use std::time::{Duration, Instant};

use backend_common::*;
use coex::codegen::ir::*;
use ffi_common::*;

const MAIN_C: &str = r#"
#include <stdint.h>
#include <unistd.h>
static int64_t counter;
int64_t bump(void) { return ++counter; }
double half(double x) { return x / 2; }
int32_t is_odd(int64_t x) { return (int32_t)(x & 1); }
int64_t pick(int32_t b, int64_t x, double y) { return b ? x : (int64_t)y; }
const char *word(int64_t k) { return k ? "yes" : "no"; }
void nap_ms(int64_t ms) { usleep((useconds_t)(ms * 1000)); }
"#;

const OTHER_C: &str = r#"
#include <stdint.h>
static int64_t ticks;
int64_t tick(void) { return ticks += 10; }
int64_t twice(int64_t x) { return 2 * x; }
"#;

const BUMP: ExternId = ExternId(0);
const HALF: ExternId = ExternId(1);
const IS_ODD: ExternId = ExternId(2);
const PICK: ExternId = ExternId(3);
const WORD: ExternId = ExternId(4);
const NAP: ExternId = ExternId(5);
const TICK: ExternId = ExternId(6);
const TWICE: ExternId = ExternId(7);

/// Unit 0 ("main") and unit 1 ("other"), so the second unit's entries sit
/// after the first unit's in the call table.
fn two_unit_program() -> ProgB {
    let mut p = program_with(
        "main",
        &[
            Sym("bump", vec![], Type::Int),
            Sym("half", vec![Type::Float], Type::Float),
            Sym("is_odd", vec![Type::Int], Type::Bool),
            Sym("pick", vec![Type::Bool, Type::Int, Type::Float], Type::Int),
            Sym("word", vec![Type::Int], Type::Str),
            Sym("nap_ms", vec![Type::Int], Type::Void),
        ],
    );
    p.program.ffi_units.push(FfiUnit {
        library: "otherlib".into(),
        unit: "other".into(),
        symbols: vec!["tick".into(), "twice".into()],
    });
    for (i, (name, params)) in [("tick", vec![]), ("twice", vec![Type::Int])]
        .into_iter()
        .enumerate()
    {
        p.program.externs.push(Extern {
            name: name.into(),
            params,
            ret: Type::Int,
            ffi: Some(FfiRef {
                unit: 1,
                symbol: i as u32,
            }),
        });
    }
    p
}

fn images() -> Vec<Vec<u8>> {
    vec![unit_image("main", MAIN_C), unit_image("other", OTHER_C)]
}

fn bump() -> Expr {
    call_extern(BUMP, vec![], Type::Int)
}

#[test]
fn repeated_calls_keep_values_instances_and_units_apart() {
    let mut p = two_unit_program();
    // a task: its own instances of both units
    let mut t = FnB::new();
    t.push(print(bump()));
    t.push(print(bump()));
    t.push(print(call_extern(TICK, vec![], Type::Int)));
    let task = p.add(t.finish("fresh", FuncKind::Task));

    let mut f = FnB::new();
    let i = f.local("i", Type::Int);
    let s = f.local("s", Type::Int);
    f.push(print(bump())); // 1: the first call acquires the instance
    f.push(assign(s, int(0)));
    f.push(repeat(
        i,
        1000,
        vec![
            assign(s, add(f.get(s), bump())),
            assign(s, add(f.get(s), call_extern(TICK, vec![], Type::Int))),
            assign(
                s,
                add(f.get(s), call_extern(TWICE, vec![f.get(i)], Type::Int)),
            ),
        ],
    ));
    // sum of bump 2..=1001, tick 10..=10000 step 10, twice 0..999
    f.push(print(f.get(s)));
    f.push(print(call_extern(HALF, vec![float(5.0)], Type::Float)));
    f.push(print(call_extern(IS_ODD, vec![int(3)], Type::Bool)));
    f.push(print(call_extern(IS_ODD, vec![int(4)], Type::Bool)));
    let pick = |b: bool| call_extern(PICK, vec![boolean(b), int(7), float(2.9)], Type::Int);
    f.push(print(pick(true)));
    f.push(print(pick(false)));
    f.push(print(call_extern(WORD, vec![int(1)], Type::Str)));
    f.push(print(call_extern(WORD, vec![int(0)], Type::Str)));
    f.push(expr_stmt(call(task, vec![], Type::Void)));
    // main's own instances again after the task's scope closed
    f.push(print(bump()));
    f.push(print(call_extern(TICK, vec![], Type::Int)));
    let main = p.add(f.finish("main", FuncKind::Func));
    let built = build(&p.finish(main), &images());

    let expected_sum: i64 = (2..=1001).sum::<i64>()
        + (1..=1000).map(|k| 10 * k).sum::<i64>()
        + (0..1000).map(|k| 2 * k).sum::<i64>();
    let expected =
        format!("1\n{expected_sum}\n2.500000\ntrue\nfalse\n7\n2\nyes\nno\n1\n2\n10\n1002\n10010\n");
    for env in [
        vec![],
        vec![("COEX_FFI_GC_BLOCKING", "1")],
        vec![("COEX_FFI_POOL_MAX", "0")],
    ] {
        let out = run(&built, &env);
        assert_eq!(out.status.code(), Some(0), "{env:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), expected, "{env:?}");
    }
}

#[test]
fn a_call_in_a_func_under_a_callers_within_is_still_abandoned() {
    let mut p = two_unit_program();
    // not lexically inside the `within`: only the thread's deadline says so;
    // the abandoned call unwinds the func to the caller's else branch
    let mut s = FnB::new();
    s.push(expr_stmt(call_extern(NAP, vec![int(3000)], Type::Void)));
    let sleeper = p.add(s.finish("sleeper", FuncKind::Func));

    let mut f = FnB::new();
    f.push(print(bump())); // the scope's table is filled before the within
    f.push(print(bump()));
    f.push(Stmt::Within {
        deadline: int(100_000_000),
        body: vec![
            expr_stmt(call(sleeper, vec![], Type::Void)),
            print(string("after sleeper")),
        ],
        else_body: vec![print(string("else"))],
    });
    // the abandoned instance was detached: a fresh one counts from 1, and
    // calls after the within take the fast path again
    f.push(print(bump()));
    f.push(print(bump()));
    let main = p.add(f.finish("main", FuncKind::Func));
    let built = build(&p.finish(main), &images());

    let started = Instant::now();
    let out = run(&built, &[("COEX_FFI_STATS", "1")]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1\n2\nelse\n1\n2\n");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    let stats = ffi_stats(&stderr(&out));
    assert_eq!(stats["abandoned"], 1, "{stats:?}");
}
