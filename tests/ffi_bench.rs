//! FFI benchmarks (ignored by default; `scripts/bench-ffi.sh` runs them).
//! The executables are the same whatever the cargo profile: generated code
//! from Cranelift, the runtime and unit images compiled by clang -O2.
//! Each figure is printed as `bench <name> <value> <unit>`.

mod backend_common;
mod ffi_common;

use backend_common::*;
use coex::codegen::ir::*;
use ffi_common::*;

const BENCH_C: &str = r#"
#include <stdint.h>
int64_t add1(int64_t x) { return x + 1; }
static int64_t g;
int64_t bump(void) { return ++g; }
/* CPU-bound: n rounds of xorshift-multiply (not foldable by the compiler) */
int64_t spin(int64_t n) {
    uint64_t x = (uint64_t)n | 1;
    for (int64_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x *= 2685821657736338717ull;
    }
    return (int64_t)(x >> 1);
}
"#;

const ADD1: ExternId = ExternId(0);
const BUMP: ExternId = ExternId(1);
const SPIN: ExternId = ExternId(2);
const NOW: ExternId = ExternId(3);
const LABS: ExternId = ExternId(4);

fn bench_program() -> ProgB {
    let mut p = program_with(
        "bench",
        &[
            Sym("add1", vec![Type::Int], Type::Int),
            Sym("bump", vec![], Type::Int),
            Sym("spin", vec![Type::Int], Type::Int),
        ],
    );
    // bare externs: direct C calls into the executable / libc
    for (name, params) in [("coex_now_ns", vec![]), ("labs", vec![Type::Int])] {
        p.program.externs.push(Extern {
            name: name.into(),
            params,
            ret: Type::Int,
            ffi: None,
        });
    }
    p
}

fn now(f: &FnB) -> Expr {
    let _ = f;
    call_extern(NOW, vec![], Type::Int)
}

/// `print(label); print((now - t0) / n)` in ns per iteration, as an int of
/// tenths of ns (the IR prints ints exactly).
fn report(f: &mut FnB, label: &str, t0: LocalId, n: i64) {
    let dt = sub(now(f), f.get(t0));
    f.push(print(string(label)));
    f.push(print(bin(BinOp::Div, bin(BinOp::Mul, dt, int(10)), int(n))));
}

fn run_figures(env: &[(&str, &str)], built: &Built) -> Vec<(String, f64)> {
    let out = run(built, env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks(2)
        .map(|c| (c[0].to_string(), c[1].parse::<f64>().unwrap() / 10.0))
        .collect()
}

#[test]
#[ignore]
fn bench_ffi() {
    let image = unit_image("bench", BENCH_C);
    let mut p = bench_program();
    // a task function that makes one FFI call: each direct call is a fresh
    // task scope, so it acquires an instance and releases it
    let mut t = FnB::new();
    t.push(expr_stmt(call_extern(BUMP, vec![], Type::Int)));
    let once = p.add(t.finish("once", FuncKind::Task));
    // the same task without FFI: the cost of the task call itself
    let mut t = FnB::new();
    t.push(expr_stmt(call_extern(LABS, vec![int(-1)], Type::Int)));
    let empty = p.add(t.finish("empty", FuncKind::Task));

    let mut f = FnB::new();
    let t0 = f.local("t0", Type::Int);
    let i = f.local("i", Type::Int);
    let s = f.local("s", Type::Int);
    const CALLS: i64 = 20_000_000;
    const SCOPES: i64 = 200_000;
    f.push(assign(s, int(0)));
    // warm up the instance of main's scope
    f.push(assign(s, call_extern(ADD1, vec![f.get(s)], Type::Int)));
    for (label, x) in [("ffi_call", ADD1), ("direct_call", LABS)] {
        f.push(assign(t0, now(&f)));
        f.push(repeat(
            i,
            CALLS,
            vec![assign(
                s,
                add(f.get(s), call_extern(x, vec![f.get(i)], Type::Int)),
            )],
        ));
        report(&mut f, label, t0, CALLS);
    }
    for (label, task) in [("task_scope_ffi", once), ("task_scope_empty", empty)] {
        f.push(assign(t0, now(&f)));
        f.push(repeat(
            i,
            SCOPES,
            vec![expr_stmt(call(task, vec![], Type::Void))],
        ));
        report(&mut f, label, t0, SCOPES);
    }
    // extern calls under an active `within` (each runs on a helper thread)
    const WITHIN_CALLS: i64 = 20_000;
    f.push(assign(t0, now(&f)));
    f.push(Stmt::Within {
        deadline: int(60_000_000_000),
        body: vec![repeat(
            i,
            WITHIN_CALLS,
            vec![assign(s, call_extern(ADD1, vec![f.get(s)], Type::Int))],
        )],
        else_body: vec![],
    });
    report(&mut f, "within_call", t0, WITHIN_CALLS);
    // task for: 8 CPU-bound calls
    let x = f.local("x", Type::Int);
    f.push(assign(t0, now(&f)));
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(8)),
        body: vec![Stmt::Yield(call_extern(
            SPIN,
            vec![int(50_000_000)],
            Type::Int,
        ))],
        result: None,
    });
    report(&mut f, "task_for_8_spins", t0, 1);
    let built = build_main(p, f, &[image]);
    // keep the executable for profiling: COEX_BENCH_KEEP=/path/app
    if let Ok(dst) = std::env::var("COEX_BENCH_KEEP") {
        std::fs::copy(&built.exe, dst).unwrap();
    }

    // best of 3 runs per configuration (the machine is shared)
    let best = |env: &[(&str, &str)]| {
        let runs: Vec<Vec<(String, f64)>> = (0..3).map(|_| run_figures(env, &built)).collect();
        let mut out = runs[0].clone();
        for (i, (_, v)) in out.iter_mut().enumerate() {
            *v = runs.iter().map(|r| r[i].1).fold(f64::INFINITY, f64::min);
        }
        out
    };
    let pooled = best(&[("COEX_THREADS", "2")]);
    let fresh = best(&[("COEX_THREADS", "2"), ("COEX_FFI_POOL_MAX", "0")]);
    let one = best(&[("COEX_THREADS", "1")]);
    let blocking = run_figures(&[("COEX_FFI_GC_BLOCKING", "1")], &built);
    let get = |v: &[(String, f64)], k: &str| v.iter().find(|(n, _)| n == k).unwrap().1;
    let ffi = get(&pooled, "ffi_call");
    let direct = get(&pooled, "direct_call");
    let empty = get(&pooled, "task_scope_empty");
    let pool = get(&pooled, "task_scope_ffi") - empty;
    let create = get(&fresh, "task_scope_ffi") - empty;
    let t2 = get(&pooled, "task_for_8_spins");
    let t1 = get(&one, "task_for_8_spins");
    println!("bench ffi_call_ns {ffi:.1} ns");
    println!("bench direct_call_ns {direct:.1} ns");
    println!("bench ffi_call_overhead_ns {:.1} ns", ffi - direct);
    println!(
        "bench ffi_call_gc_blocking_ns {:.1} ns",
        get(&blocking, "ffi_call")
    );
    println!(
        "bench ffi_call_under_within_us {:.2} us",
        get(&pooled, "within_call") / 1000.0
    );
    println!("bench task_call_no_ffi_us {:.2} us", empty / 1000.0);
    println!(
        "bench pool_acquire_reset_release_plus_call_us {:.2} us",
        pool / 1000.0
    );
    println!(
        "bench fresh_create_destroy_plus_call_us {:.2} us",
        create / 1000.0
    );
    println!("bench fresh_over_pooled_ratio {:.1} x", create / pool);
    println!("bench task_for_1_thread_ms {:.1} ms", t1 / 1e6);
    println!("bench task_for_2_threads_ms {:.1} ms", t2 / 1e6);
    println!("bench task_for_speedup {:.2} x", t1 / t2);
}
