//! FFI instances: private globals per task, one shared instance per func
//! scope, thread-unsafe C from parallel tasks, instance-bound handles, and
//! pooled instances that are indistinguishable from fresh ones.

mod backend_common;
mod ffi_common;

use backend_common::*;
use coex::codegen::ir::*;
use ffi_common::*;

const COUNTER_C: &str = r#"
#include <stdint.h>
#include <stdio.h>
#include "coex_ffi.h"
static int64_t counter;
int64_t ctr_inc(void) { return ++counter; }
int64_t ctr_get(void) { return counter; }

/* Deliberately thread-unsafe: one global buffer, filled slowly. */
static char buf[64];
const char *fmt_id(int64_t x) {
    snprintf(buf, sizeof buf, "id-%lld", (long long)x);
    for (volatile int spin = 0; spin < 2000; spin++) {}
    return buf;
}

/* Handles: a heap object behind an instance-bound handle. */
int64_t box_new(int64_t v) {
    int64_t *p = malloc(sizeof *p);
    if (!p) return 0;
    *p = v;
    return coex_handle_new(p);
}
int64_t box_get(int64_t h) {
    int64_t *p = coex_handle_get(h);
    return p ? *p : -1;
}
int64_t box_free(int64_t h) {
    int64_t *p = coex_handle_free(h);
    if (!p) return -1;
    free(p);
    return 1;
}
"#;

const INC: ExternId = ExternId(0);
const GET: ExternId = ExternId(1);
const FMT: ExternId = ExternId(2);
const BOX_NEW: ExternId = ExternId(3);
const BOX_GET: ExternId = ExternId(4);
const BOX_FREE: ExternId = ExternId(5);

fn counter_program() -> ProgB {
    program_with(
        "counter",
        &[
            Sym("ctr_inc", vec![], Type::Int),
            Sym("ctr_get", vec![], Type::Int),
            Sym("fmt_id", vec![Type::Int], Type::Str),
            Sym("box_new", vec![Type::Int], Type::Int),
            Sym("box_get", vec![Type::Int], Type::Int),
            Sym("box_free", vec![Type::Int], Type::Int),
        ],
    )
}

fn counter_image() -> Vec<u8> {
    // malloc/free are the shim's: declare them without <stdlib.h> ordering issues
    unit_image("counter", &format!("#include <stdlib.h>\n{COUNTER_C}"))
}

/// 8 tasks each increment their instance's global 100,000 times and yield
/// it; then the same loop in one func, where every round shares one instance.
fn counting_program() -> Program {
    let mut p = counter_program();
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let i = f.local("i", Type::Int);
    let k = f.local("k", Type::Int);
    let results = f.local("results", list_ty(Type::Int));
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(8)),
        body: vec![
            repeat(
                i,
                100_000,
                vec![expr_stmt(call_extern(INC, vec![], Type::Int))],
            ),
            Stmt::Yield(call_extern(GET, vec![], Type::Int)),
        ],
        result: Some(results),
    });
    f.push(Stmt::ForList {
        var: k,
        list: f.get(results),
        body: vec![print(f.get(k))],
    });
    f.push(repeat(
        x,
        8,
        vec![
            repeat(
                i,
                100_000,
                vec![expr_stmt(call_extern(INC, vec![], Type::Int))],
            ),
            print(call_extern(GET, vec![], Type::Int)),
        ],
    ));
    let main = p.add(f.finish("main", FuncKind::Func));
    p.finish(main)
}

#[test]
fn each_task_has_its_own_globals_and_a_func_shares_one_instance() {
    let built = build(&counting_program(), &[counter_image()]);
    let mut expected = "100000\n".repeat(8);
    for r in 1..=8 {
        expected += &format!("{}\n", r * 100_000);
    }
    for threads in ["1", "2", "8"] {
        let out = run(
            &built,
            &[("COEX_THREADS", threads), ("COEX_FFI_STATS", "1")],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), expected, "COEX_THREADS={threads}");
        let stats = ffi_stats(&stderr(&out));
        // 8 task scopes + main's scope; every instance released at the end
        assert_eq!(stats["created"] + stats["reused"], 9, "{stats:?}");
        if threads == "1" {
            // one thread: each task after the first gets the pooled instance,
            // reset to its load-time bytes (counter back to 0)
            assert_eq!(stats["created"], 1, "{stats:?}");
            assert_eq!(stats["reused"], 8, "{stats:?}");
        }
    }
    // without the pool every scope loads a fresh copy: same output
    let out = run(
        &built,
        &[("COEX_FFI_POOL_MAX", "0"), ("COEX_FFI_STATS", "1")],
    );
    assert_eq!(stdout(&out), expected);
    let stats = ffi_stats(&stderr(&out));
    assert_eq!((stats["created"], stats["reused"]), (9, 0), "{stats:?}");
    assert_eq!(stats["destroyed"], 9, "{stats:?}");
}

#[test]
fn thread_unsafe_c_from_parallel_tasks_is_correct_every_time() {
    let p = counter_program();
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let results = f.local("results", list_ty(Type::Str));
    let bad = f.local("bad", Type::Int);
    let k = f.local("k", Type::Int);
    // 1,000 tasks, each formatting its own number through the global buffer
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(1000)),
        body: vec![Stmt::Yield(call_extern(FMT, vec![f.get(x)], Type::Str))],
        result: Some(results),
    });
    f.push(assign(bad, int(0)));
    f.push(repeat(
        k,
        1000,
        vec![count_if(
            bad,
            f.get(bad),
            bin(
                BinOp::Ne,
                index(f.get(results), f.get(k)),
                bin(BinOp::Add, string("id-"), to_string(f.get(k))),
            ),
        )],
    ));
    f.push(print(f.get(bad)));
    f.push(print(len(f.get(results))));
    let built = build_main(p, f, &[counter_image()]);
    for threads in ["2", "4"] {
        let out = run(&built, &[("COEX_THREADS", threads)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), "0\n1000\n", "COEX_THREADS={threads}");
    }
}

#[test]
fn handles_only_mean_something_in_the_instance_that_made_them() {
    let mut p = counter_program();
    // func make() -> int: its own scope (called from a task: the task's)
    let mut g = FnB::new().returns(Type::Int);
    g.push(ret(call_extern(BOX_NEW, vec![int(7)], Type::Int)));
    let make = p.add(g.finish("make", FuncKind::Func));

    let mut f = FnB::new();
    let h = f.local("h", Type::Int);
    let x = f.local("x", Type::Int);
    let r = f.local("r", list_ty(Type::Int));
    let k = f.local("k", Type::Int);
    f.push(assign(h, call_extern(BOX_NEW, vec![int(42)], Type::Int)));
    f.push(print(call_extern(BOX_GET, vec![f.get(h)], Type::Int))); // 42
    f.push(print(call_extern(
        BOX_GET,
        vec![add(f.get(h), int(1))],
        Type::Int,
    ))); // forged: -1
         // a task sees the parent's number, but not its instance: -1
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(2)),
        body: vec![
            Stmt::Yield(call_extern(BOX_GET, vec![f.get(h)], Type::Int)),
            // its own handle works inside it
            Stmt::Yield(call_extern(
                BOX_GET,
                vec![call(make, vec![], Type::Int)],
                Type::Int,
            )),
        ],
        result: Some(r),
    });
    f.push(Stmt::ForList {
        var: k,
        list: f.get(r),
        body: vec![print(f.get(k))],
    });
    f.push(print(call_extern(BOX_FREE, vec![f.get(h)], Type::Int))); // 1
    f.push(print(call_extern(BOX_GET, vec![f.get(h)], Type::Int))); // freed: -1
    f.push(print(call_extern(BOX_FREE, vec![f.get(h)], Type::Int))); // -1
    let built = build_main(p, f, &[counter_image()]);
    for threads in ["1", "2"] {
        let out = run(&built, &[("COEX_THREADS", threads)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), "42\n-1\n-1\n7\n-1\n7\n1\n-1\n-1\n");
    }
}

#[test]
fn a_handle_from_an_earlier_scope_is_dead_even_in_a_reused_instance() {
    let mut p = counter_program();
    // each call of mk/rd from main's loop runs in its own scope (main calls
    // no extern itself), so the second scope gets the pooled instance back
    let mut g = FnB::new().returns(Type::Int);
    g.push(ret(call_extern(BOX_NEW, vec![int(5)], Type::Int)));
    let mk = p.add(g.finish("mk", FuncKind::Func));
    let mut g = FnB::new().returns(Type::Int);
    let hp = g.param("h", Type::Int);
    g.push(ret(call_extern(BOX_GET, vec![g.get(hp)], Type::Int)));
    let rd = p.add(g.finish("rd", FuncKind::Func));
    let mut t = FnB::new().returns(Type::Int);
    t.push(ret(call(mk, vec![], Type::Int)));
    let task_mk = p.add(t.finish("task_mk", FuncKind::Task));
    let mut t = FnB::new().returns(Type::Int);
    let th = t.param("h", Type::Int);
    t.push(ret(call(rd, vec![t.get(th)], Type::Int)));
    let task_rd = p.add(t.finish("task_rd", FuncKind::Task));

    let mut f = FnB::new();
    let h = f.local("h", Type::Int);
    f.push(assign(h, call(task_mk, vec![], Type::Int)));
    f.push(print(bin(BinOp::Gt, f.get(h), int(0))));
    f.push(print(call(task_rd, vec![f.get(h)], Type::Int)));
    let built = build_main(p, f, &[counter_image()]);
    let out = run(&built, &[("COEX_FFI_STATS", "1")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "true\n-1\n");
    let stats = ffi_stats(&stderr(&out));
    assert_eq!((stats["created"], stats["reused"]), (1, 1), "{stats:?}");
}

const TAINT_C: &str = r#"
#include <stdint.h>
#include <stdio.h>
/* fopen: glibc allocates the FILE on the library's behalf */
int64_t open_null(void) {
    FILE *f = fopen("/dev/null", "r");
    if (!f) return -1;
    fclose(f);
    return 1;
}
static int64_t g;
int64_t bump(void) { return ++g; }
"#;

#[test]
fn units_using_libc_owned_resources_are_never_pooled() {
    let p = program_with(
        "taint",
        &[
            Sym("open_null", vec![], Type::Int),
            Sym("bump", vec![], Type::Int),
        ],
    );
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let r = f.local("r", list_ty(Type::Int));
    let k = f.local("k", Type::Int);
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(4)),
        body: vec![
            expr_stmt(call_extern(ExternId(0), vec![], Type::Int)),
            Stmt::Yield(call_extern(ExternId(1), vec![], Type::Int)),
        ],
        result: Some(r),
    });
    f.push(Stmt::ForList {
        var: k,
        list: f.get(r),
        body: vec![print(f.get(k))],
    });
    let built = build_main(p, f, &[unit_image("taint", TAINT_C)]);
    let out = run(&built, &[("COEX_THREADS", "1"), ("COEX_FFI_STATS", "1")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1\n1\n1\n1\n");
    let stats = ffi_stats(&stderr(&out));
    assert_eq!(
        (stats["created"], stats["reused"], stats["destroyed"]),
        (4, 0, 4),
        "{stats:?}"
    );
}

#[test]
fn a_pooled_instance_is_reset_to_fresh_over_thousands_of_reuses() {
    // one thread: 3,000 tasks take turns with one pooled instance; each
    // starts with the load-time globals (counter 0, empty handle table)
    let p = counter_program();
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let r = f.local("r", list_ty(Type::Int));
    let k = f.local("k", Type::Int);
    let bad = f.local("bad", Type::Int);
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(3000)),
        body: vec![
            expr_stmt(call_extern(BOX_NEW, vec![f.get(x)], Type::Int)),
            Stmt::Yield(call_extern(INC, vec![], Type::Int)),
        ],
        result: Some(r),
    });
    f.push(assign(bad, int(0)));
    f.push(Stmt::ForList {
        var: k,
        list: f.get(r),
        body: vec![count_if(bad, f.get(bad), bin(BinOp::Ne, f.get(k), int(1)))],
    });
    f.push(print(f.get(bad)));
    let built = build_main(p, f, &[counter_image()]);
    let out = run(&built, &[("COEX_THREADS", "1"), ("COEX_FFI_STATS", "1")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "0\n");
    let stats = ffi_stats(&stderr(&out));
    assert_eq!(stats["created"], 1, "{stats:?}");
    assert_eq!(stats["reused"], 2999, "{stats:?}");
}

const ALLOC_C: &str = r#"
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
void *volatile sink;
volatile size_t big = (size_t)-1;
/* Exercises the shim's allocator the way C libraries use it; 1 when every
 * check holds, else the number of the first failing check. */
int64_t heap_selftest(void) {
    char *a = malloc(10);
    if (!a) return 2;
    strcpy(a, "123456789");
    a = realloc(a, 100000); /* grows from a small class to a large block */
    if (!a || strcmp(a, "123456789") != 0) return 3;
    free(a);
    int64_t *z = calloc(1000, sizeof *z);
    if (!z) return 4;
    for (int i = 0; i < 1000; i++) if (z[i] != 0) return 5;
    memset(z, 0xff, 1000 * sizeof *z);
    free(z);
    z = calloc(1000, sizeof *z); /* reuses the freed block: zeroed again */
    for (int i = 0; i < 1000; i++) if (!z || z[i] != 0) return 6;
    void *p = NULL;
    if (posix_memalign(&p, 4096, 100) != 0 || ((uintptr_t)p & 4095)) return 7;
    free(p);
    p = aligned_alloc(64, 640);
    if (!p || ((uintptr_t)p & 63)) return 8;
    p = realloc(p, 100000);
    if (!p) return 9;
    free(p);
    char *d = strdup("copy me");
    char *n = strndup("truncate", 5);
    if (!d || !n || strcmp(d, "copy me") || strcmp(n, "trunc")) return 10;
    free(d);
    free(n);
    sink = calloc(big, 16); /* n * size overflows: NULL */
    if (sink != NULL) return 11;
    /* memory glibc allocated for the library, freed through the shim */
    char *r = realpath("/", NULL);
    if (!r || strcmp(r, "/") != 0) return 12;
    free(r);
    return 1;
}
"#;

#[test]
fn the_instance_heap_serves_the_library_like_malloc_and_forwards_libc_memory() {
    let p = program_with("alloc", &[Sym("heap_selftest", vec![], Type::Int)]);
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let r = f.local("r", list_ty(Type::Int));
    let k = f.local("k", Type::Int);
    f.push(print(call_extern(ExternId(0), vec![], Type::Int)));
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(4)),
        body: vec![Stmt::Yield(call_extern(ExternId(0), vec![], Type::Int))],
        result: Some(r),
    });
    f.push(Stmt::ForList {
        var: k,
        list: f.get(r),
        body: vec![print(f.get(k))],
    });
    let built = build_main(p, f, &[unit_image("alloc", ALLOC_C)]);
    let out = run(&built, &[("COEX_FFI_STATS", "1")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1\n1\n1\n1\n1\n");
    // realpath makes the unit non-poolable: every instance is destroyed
    let stats = ffi_stats(&stderr(&out));
    assert_eq!((stats["reused"], stats["destroyed"]), (0, 5), "{stats:?}");
}
