//! FFI resources: heap caps and argument copies reaching ResourceExhausted,
//! abandonment at a `within` deadline (and its bound), memory over many
//! instance lifetimes, and images the runtime must refuse.

mod backend_common;
mod ffi_common;

use std::time::{Duration, Instant};

use backend_common::*;
use coex::codegen::ir::*;
use ffi_common::*;

const HEAP_C: &str = r#"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* Allocates mb MiB and keeps it; 1 on success, 0 when malloc says no. */
static void *kept[64];
static int nkept;
int64_t grab(int64_t mb) {
    void *p = malloc((size_t)mb << 20);
    if (!p) return 0;
    memset(p, 1, (size_t)mb << 20);
    if (nkept < 64) kept[nkept++] = p;
    return 1;
}
void drop_all(void) { while (nkept) free(kept[--nkept]); }
int64_t str_len(const char *s) { return (int64_t)strlen(s); }
void nap_ms(int64_t ms) { usleep((useconds_t)(ms * 1000)); }
int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int64_t counter;
int64_t bump(void) { return ++counter; }
/* Sleeps the full ms even when a signal (a GC stop) interrupts it. */
void sleep_full(int64_t ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L}, left;
    while (nanosleep(&t, &left) != 0) t = left;
}
/* Allocates n bytes (touched) and keeps them. */
int64_t grab_bytes(int64_t n) {
    char *p = malloc((size_t)n);
    if (!p) return 0;
    memset(p, 1, (size_t)n);
    return 1;
}
"#;

const GRAB: ExternId = ExternId(0);
const DROP_ALL: ExternId = ExternId(1);
const STR_LEN: ExternId = ExternId(2);
const NAP: ExternId = ExternId(3);
const NOW_MS: ExternId = ExternId(4);
const BUMP: ExternId = ExternId(5);
const GRAB_BYTES: ExternId = ExternId(6);
const SLEEP_FULL: ExternId = ExternId(7);

fn heap_program() -> ProgB {
    program_with(
        "heap",
        &[
            Sym("grab", vec![Type::Int], Type::Int),
            Sym("drop_all", vec![], Type::Void),
            Sym("str_len", vec![Type::Str], Type::Int),
            Sym("nap_ms", vec![Type::Int], Type::Void),
            Sym("now_ms", vec![], Type::Int),
            Sym("bump", vec![], Type::Int),
            Sym("grab_bytes", vec![Type::Int], Type::Int),
            Sym("sleep_full", vec![Type::Int], Type::Void),
        ],
    )
}

fn heap_image() -> Vec<u8> {
    unit_image("heap", HEAP_C)
}

fn select_grab(f: &mut FnB, r: LocalId, mb: i64, line: u32) -> Stmt {
    Stmt::Select {
        target: Some(r),
        call: GRAB,
        args: vec![int(mb)],
        loc: loc(line, "    case r = grab(mb):"),
        body: vec![print(bin(BinOp::Add, string("got "), to_string(f.get(r))))],
        exhausted: vec![print(string("exhausted"))],
    }
}

#[test]
fn a_heap_cap_sends_an_allocating_extern_to_resource_exhausted() {
    let p = heap_program();
    let mut f = FnB::new();
    let r = f.local("r", Type::Int);
    let s1 = select_grab(&mut f, r, 4, 3);
    let s2 = select_grab(&mut f, r, 64, 4);
    let s3 = select_grab(&mut f, r, 4, 5);
    f.push(s1); // fits
    f.push(s2); // over the cap: malloc NULL inside the call -> exhausted
    f.push(s3); // the instance recovers: fits again
    f.push(expr_stmt(call_extern(DROP_ALL, vec![], Type::Void)));
    f.push(print(string("unhandled next")));
    f.push(print(at(
        call_extern(GRAB, vec![int(64)], Type::Int),
        9,
        "    print(grab(64))",
    )));
    f.push(print(string("not printed")));
    let built = build_main(p, f, &[heap_image()]);
    let out = run(
        &built,
        &[
            ("COEX_FFI_INSTANCE_HEAP_MAX", "16M"),
            ("COEX_FFI_STATS", "1"),
        ],
    );
    assert_eq!(
        stdout(&out),
        "got 1\nexhausted\ngot 1\nunhandled next\n",
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(1));
    let expected = "error: FFI resource exhausted
  --> main.coex:9
  |
9 |     print(grab(64))

Cannot allocate in the FFI instance heap: heap cap reached (COEX_FFI_INSTANCE_HEAP_MAX / COEX_FFI_TOTAL_HEAP_MAX).

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

    // without the cap the same program allocates everything
    let out = run(&built, &[]);
    assert_eq!(
        stdout(&out),
        "got 1\ngot 1\ngot 1\nunhandled next\n1\nnot printed\n"
    );
    assert_eq!(out.status.code(), Some(0));

    // a size that overflows 64 bits with its suffix (2^34 G = 2^64) is
    // ignored like any invalid value: the default cap applies, not 0
    let out = run(&built, &[("COEX_FFI_INSTANCE_HEAP_MAX", "17179869184G")]);
    assert_eq!(
        stdout(&out),
        "got 1\ngot 1\ngot 1\nunhandled next\n1\nnot printed\n",
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_process_wide_cap_counts_every_instance() {
    // 4 tasks each take 12 MiB: under a 32 MiB total, at most two can hold
    // theirs at once; with one thread the instances are used one after the
    // other and each is released (heap unmapped) before the next
    let p = heap_program();
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let r = f.local("r", Type::Int);
    let res = f.local("res", list_ty(Type::Str));
    let k = f.local("k", Type::Str);
    let body = vec![Stmt::Select {
        target: Some(r),
        call: GRAB,
        args: vec![int(12)],
        loc: loc(2, "case r = grab(12):"),
        body: vec![
            // keep holding it while siblings run (long enough that a slow
            // start of a sibling on a loaded machine still overlaps)
            expr_stmt(call_extern(SLEEP_FULL, vec![int(1500)], Type::Void)),
            Stmt::Yield(string("ok")),
        ],
        exhausted: vec![Stmt::Yield(string("exhausted"))],
    }];
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(4)),
        body,
        result: Some(res),
    });
    f.push(Stmt::ForList {
        var: k,
        list: f.get(res),
        body: vec![print(f.get(k))],
    });
    let built = build_main(p, f, &[heap_image()]);
    let cap = [("COEX_FFI_TOTAL_HEAP_MAX", "32M")];
    let one = run(&built, &[cap[0], ("COEX_THREADS", "1")]);
    assert_eq!(stdout(&one), "ok\nok\nok\nok\n", "{}", stderr(&one));
    let four = run(&built, &[cap[0], ("COEX_THREADS", "4")]);
    let text = stdout(&four);
    let ok = text.lines().filter(|l| *l == "ok").count();
    let exhausted = text.lines().filter(|l| *l == "exhausted").count();
    assert_eq!(ok + exhausted, 4, "{text}");
    assert!((1..=2).contains(&ok), "{text}");
    assert_eq!(four.status.code(), Some(0));
}

#[test]
fn string_arguments_are_copied_into_the_instance_heap_under_the_cap() {
    let p = heap_program();
    let mut f = FnB::new();
    let s = f.local("s", Type::Str);
    let i = f.local("i", Type::Int);
    let r = f.local("r", Type::Int);
    // a 2 MiB string
    f.push(assign(s, string("x")));
    f.push(repeat(i, 21, vec![assign(s, add(f.get(s), f.get(s)))]));
    f.push(Stmt::Select {
        target: Some(r),
        call: STR_LEN,
        args: vec![f.get(s)],
        loc: loc(3, "case r = str_len(s):"),
        body: vec![print(f.get(r))],
        exhausted: vec![print(string("too big for the instance heap"))],
    });
    // small strings still go through in the same scope
    f.push(print(call_extern(STR_LEN, vec![string("four")], Type::Int)));
    f.push(print(at(
        call_extern(STR_LEN, vec![f.get(s)], Type::Int),
        7,
        "    print(str_len(s))",
    )));
    let built = build_main(p, f, &[heap_image()]);
    let out = run(&built, &[("COEX_FFI_INSTANCE_HEAP_MAX", "1M")]);
    assert_eq!(stdout(&out), "too big for the instance heap\n4\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(
            "error: FFI resource exhausted\n  --> main.coex:7\n  |\n7 |     print(str_len(s))\n\nCannot allocate in the FFI instance heap"
        ),
        "{}",
        stderr(&out)
    );
    let out = run(&built, &[]);
    assert_eq!(stdout(&out), "2097152\n4\n2097152\n");
}

/// `within 100ms` around a 3 s C call; then, optionally, a long nap so the
/// abandoned call returns while the program still runs.
fn within_program(linger_ms: i64) -> Program {
    let mut p = heap_program();
    let mut f = FnB::new();
    let t0 = f.local("t0", Type::Int);
    f.push(assign(t0, call_extern(NOW_MS, vec![], Type::Int)));
    f.push(Stmt::Within {
        deadline: int(100_000_000),
        body: vec![
            expr_stmt(call_extern(NAP, vec![int(3000)], Type::Void)),
            print(string("not printed")),
        ],
        else_body: vec![
            print(string("timed out")),
            print(bin(
                BinOp::Lt,
                sub(call_extern(NOW_MS, vec![], Type::Int), f.get(t0)),
                int(300),
            )),
        ],
    });
    // the scope continues with a fresh instance
    f.push(print(call_extern(BUMP, vec![], Type::Int)));
    if linger_ms > 0 {
        f.push(expr_stmt(call_extern(
            NAP,
            vec![int(linger_ms)],
            Type::Void,
        )));
    }
    let main = p.add(f.finish("main", FuncKind::Func));
    p.finish(main)
}

#[test]
fn within_abandons_a_slow_call_and_the_program_does_not_wait_for_it() {
    let built = build(&within_program(0), &[heap_image()]);
    let started = Instant::now();
    let out = run(&built, &[("COEX_FFI_STATS", "1")]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "timed out\ntrue\n1\n");
    assert!(took < Duration::from_millis(1500), "exit took {took:?}");
    let stats = ffi_stats(&stderr(&out));
    assert_eq!(stats["abandoned"], 1, "{stats:?}");
    // the sleeper was still inside its instance at exit
    assert_eq!(stats["abandoned-destroyed"], 0, "{stats:?}");
}

#[test]
fn an_abandoned_instance_is_destroyed_when_its_call_returns() {
    let built = build(&within_program(3500), &[heap_image()]);
    let out = run(&built, &[("COEX_FFI_STATS", "1")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "timed out\ntrue\n1\n");
    let stats = ffi_stats(&stderr(&out));
    assert_eq!(stats["abandoned"], 1, "{stats:?}");
    assert_eq!(stats["abandoned-destroyed"], 1, "{stats:?}");
    // 2 instances: the abandoned one and the scope's fresh one; nothing pooled
    // from the abandoned one
    assert_eq!(stats["created"] + stats["reused"], 2, "{stats:?}");
    assert_eq!(stats["destroyed"] + stats["pooled"], 2, "{stats:?}");
}

#[test]
fn abandoned_calls_are_bounded() {
    // each task abandons a 2 s call; with at most 2 abandoned instances
    // running, later tasks get ResourceExhausted instead of a new instance
    let p = heap_program();
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let res = f.local("res", list_ty(Type::Str));
    let k = f.local("k", Type::Str);
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(5)),
        body: vec![Stmt::Within {
            deadline: int(20_000_000),
            body: vec![Stmt::Select {
                target: None,
                call: NAP,
                args: vec![int(2000)],
                loc: loc(4, "case nap_ms(2000):"),
                body: vec![Stmt::Yield(string("finished"))],
                exhausted: vec![Stmt::Yield(string("exhausted"))],
            }],
            else_body: vec![Stmt::Yield(string("abandoned"))],
        }],
        result: Some(res),
    });
    f.push(Stmt::ForList {
        var: k,
        list: f.get(res),
        body: vec![print(f.get(k))],
    });
    let built = build_main(p, f, &[heap_image()]);
    let out = run(
        &built,
        &[
            ("COEX_THREADS", "1"),
            ("COEX_FFI_MAX_ABANDONED", "2"),
            ("COEX_FFI_STATS", "1"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "abandoned\nabandoned\nexhausted\nexhausted\nexhausted\n"
    );
    assert_eq!(ffi_stats(&stderr(&out))["abandoned"], 2);
}

fn peak_rss_kb(stderr: &str) -> i64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("coex-rt: peak-rss-kb "))
        .unwrap_or_else(|| panic!("no peak rss in {stderr}"))
        .trim()
        .parse()
        .unwrap()
}

/// main calls a task function `cycles` times; each call is a fresh task
/// scope: an instance is created, allocates 64 KiB in its heap, and is
/// destroyed (pool off). Nothing else is retained between cycles.
fn lifetimes_program(cycles: i64) -> Program {
    let mut p = heap_program();
    let mut t = FnB::new();
    t.push(expr_stmt(call_extern(
        GRAB_BYTES,
        vec![int(64 * 1024)],
        Type::Int,
    )));
    let once = p.add(t.finish("once", FuncKind::Task));
    let mut f = FnB::new();
    let i = f.local("i", Type::Int);
    f.push(repeat(
        i,
        cycles,
        vec![expr_stmt(call(once, vec![], Type::Void))],
    ));
    let main = p.add(f.finish("main", FuncKind::Func));
    p.finish(main)
}

#[test]
fn many_instance_lifetimes_leave_memory_flat() {
    let env = [
        ("COEX_FFI_POOL_MAX", "0"),
        ("COEX_RT_PEAK_RSS", "1"),
        ("COEX_FFI_STATS", "1"),
    ];
    let a = run(&build(&lifetimes_program(10_000), &[heap_image()]), &env);
    let b = run(&build(&lifetimes_program(100_000), &[heap_image()]), &env);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(b.status.code(), Some(0), "{}", stderr(&b));
    let stats = ffi_stats(&stderr(&b));
    assert_eq!(stats["created"], 100_000, "{stats:?}");
    assert_eq!(stats["destroyed"], 100_000, "{stats:?}");
    let (ra, rb) = (peak_rss_kb(&stderr(&a)), peak_rss_kb(&stderr(&b)));
    eprintln!("peak RSS: 10k cycles {ra} KB, 100k cycles {rb} KB");
    assert!(
        (rb as f64) <= ra as f64 * 1.10,
        "RSS grew: {ra} KB -> {rb} KB"
    );
}

const STATIC_TLS_C: &str = r#"
#include <stdint.h>
static __thread int64_t n __attribute__((tls_model("initial-exec")));
int64_t tick(void) { return ++n; }
"#;

#[test]
fn the_ffi_build_rejects_initial_exec_tls() {
    let err = try_unit_image("ietls", STATIC_TLS_C)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "FFI unit 'ietls' of library 'ietlslib' uses initial-exec thread-local storage (DF_STATIC_TLS)"
        ),
        "{err}"
    );
    assert!(err.contains("-ftls-model=global-dynamic"), "{err}");
    // default-model TLS is fine
    let ok = try_unit_image(
        "gdtls",
        "static __thread long n; long tick(void) { return ++n; }",
    );
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[test]
fn the_runtime_refuses_an_initial_exec_tls_image_it_is_handed() {
    // an image linked by hand (not through the FFI build) still cannot load
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("u.c"), STATIC_TLS_C).unwrap();
    let st = std::process::Command::new(CC)
        .args(["-O2", "-fPIC", "-shared", "-Wl,-Bsymbolic", "-Wl,-z,now"])
        .args(["-o", "u.so", "u.c"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let image = std::fs::read(dir.path().join("u.so")).unwrap();
    assert_eq!(coex::ffi_build::has_static_tls(&image), Some(true));
    let mut p = program_with("ietls", &[Sym("tick", vec![], Type::Int)]);
    let mut f = FnB::new();
    f.push(print(at(
        call_extern(ExternId(0), vec![], Type::Int),
        2,
        "    print(tick())",
    )));
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[image]), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: FFI unit 'ietlslib/ietls' uses initial-exec thread-local storage (DF_STATIC_TLS)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("-ftls-model=global-dynamic"));
}

#[test]
fn the_collector_does_not_wait_for_a_thread_in_foreign_code() {
    // task 0 sleeps 3 s inside C; task 1 allocates 1 million strings (many
    // collections) and reports how long that took: far less than 3 s, so no
    // collection waited for the sleeping thread
    let p = heap_program();
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let t0 = f.local("t0", Type::Int);
    let i = f.local("i", Type::Int);
    let s = f.local("s", Type::Str);
    let res = f.local("res", list_ty(Type::Int));
    let k = f.local("k", Type::Int);
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(2)),
        body: vec![Stmt::If {
            cond: bin(BinOp::Eq, f.get(x), int(0)),
            then_body: vec![
                expr_stmt(call_extern(SLEEP_FULL, vec![int(3000)], Type::Void)),
                Stmt::Yield(int(-1)),
            ],
            else_body: vec![
                assign(t0, call_extern(NOW_MS, vec![], Type::Int)),
                repeat(
                    i,
                    1_000_000,
                    vec![assign(s, add(to_string(f.get(i)), string("x")))],
                ),
                Stmt::Yield(sub(call_extern(NOW_MS, vec![], Type::Int), f.get(t0))),
            ],
        }],
        result: Some(res),
    });
    f.push(Stmt::ForList {
        var: k,
        list: f.get(res),
        body: vec![print(f.get(k))],
    });
    let built = build_main(p, f, &[heap_image()]);
    for blocking in ["0", "1"] {
        let out = run(
            &built,
            &[("COEX_THREADS", "2"), ("COEX_FFI_GC_BLOCKING", blocking)],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-1");
        let ms: i64 = lines[1].parse().unwrap();
        eprintln!("allocating task: {ms} ms (GC_BLOCKING={blocking})");
        // a collection that waited for the sleeper would hold it ~3000 ms
        assert!(
            ms < 2500,
            "allocating task took {ms} ms (GC_BLOCKING={blocking})"
        );
    }
}
