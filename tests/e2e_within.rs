//! `within` deadlines stop Coex code, through the real `coex` binary: loops
//! and recursion in funcs called from a `within` body leave for its else
//! branch; a slow extern reached through nested funcs takes the else branch
//! instead of giving the body a made-up value; nested `within`s; `task for`
//! under a deadline; the code after a `within` runs normally.
//! Timings are the built program's alone (each is built first) and loose:
//! the test machine is shared.

#[path = "e2e/common.rs"]
mod common;

use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Builds `src` as `app` in the env and returns its path.
fn build(env: &Env, src: &str, libs: Option<&str>) -> PathBuf {
    std::fs::write(env.path().join("app.coex"), src).unwrap();
    let mut args = vec!["build", "app.coex", "-o", "app"];
    if let Some(l) = libs {
        args.extend(["-L", l]);
    }
    let o = env.coex_in(env.path(), &args);
    assert!(o.status.success(), "build: {}", text(&o.stderr));
    env.path().join("app")
}

/// Runs the built program: (stdout, wall time).
fn run(exe: &PathBuf) -> (String, Duration) {
    let started = Instant::now();
    let o = std::process::Command::new(exe).output().expect("run app");
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    (text(&o.stdout), took)
}

const FUNCS: &str = "func forever() -> int
    n = 0
    while true
        n += 1
    ~
    return n
~

func count(n: int) -> int
    s = 0
    for i in 0..n
        s += i % 3
    ~
    return s
~

func down(n: int) -> int
    if n == 0
        return forever()
    ~
    return down(n - 1) + 1
~

func fib(n: int) -> int
    if n < 2
        return n
    ~
    return fib(n - 1) + fib(n - 2)
~
";

#[test]
fn loops_and_recursion_under_within_take_the_else_branch() {
    let env = Env::new();
    let src = format!(
        "{FUNCS}
func main() -> int
    within 50 * time.millisecond
        while true
            x = 1
        ~
        print(\"not printed\")
    else
        print(\"while true: else\")
    ~
    within 50 * time.millisecond
        print(count(10000000000))
    else
        print(\"10^10 rounds: else\")
    ~
    within 50 * time.millisecond
        print(down(20000))
    else
        print(\"20000 frames deep: else\")
    ~
    within 50 * time.millisecond
        print(fib(90))
    else
        print(\"fib: else\")
    ~
    r = 0
    within 5 * time.second
        r = count(1000)
    else
        r = -1
    ~
    print(r)
    print(\"after\")
    return 0
~
"
    );
    let exe = build(&env, &src, None);
    let (out, took) = run(&exe);
    assert_eq!(
        out,
        "while true: else\n10^10 rounds: else\n20000 frames deep: else\nfib: else\n999\nafter\n"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn nested_withins_take_the_else_of_the_deadline_that_passed() {
    let env = Env::new();
    let src = format!(
        "{FUNCS}
func main() -> int
    within 5 * time.second
        within 30 * time.millisecond
            print(forever())
        else
            print(\"inner else\")
        ~
        print(\"outer body goes on\")
    else
        print(\"not printed\")
    ~
    within 40 * time.millisecond
        within 10 * time.second
            print(forever())
        else
            print(\"not printed\")
        ~
        print(\"not printed\")
    else
        print(\"outer else\")
    ~
    within 40 * time.millisecond
        within 20 * time.millisecond
            print(forever())
        else
            print(\"inner else, then\")
            print(down(100))
        ~
        print(\"not printed\")
    else
        print(\"outer else during the inner else\")
    ~
    xs: [int] = []
    within 30 * time.millisecond
        while true
            xs.append(1)
        ~
    else
        print(len(xs) > 0)
    ~
    print(\"after\")
    return 0
~
"
    );
    let exe = build(&env, &src, None);
    let (out, took) = run(&exe);
    assert_eq!(
        out,
        "inner else\nouter body goes on\nouter else\ninner else, then\n\
         outer else during the inner else\ntrue\nafter\n"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn task_for_under_within_stops_at_the_deadline() {
    let env = Env::new();
    let src = format!(
        "{FUNCS}
func main() -> int
    within 100 * time.millisecond
        ys = task for v in [1, 2, 3, 4, 5]
            yield v + forever()
        ~
        print(len(ys))
    else
        print(\"tasks: else\")
    ~
    within 5 * time.second
        zs = task for v in [1, 2, 3]
            yield count(v * 10)
        ~
        print(zs[0] + zs[1] * 100 + zs[2] * 10000)
    else
        print(\"not printed\")
    ~
    ws = task for v in [1, 2]
        within 30 * time.millisecond
            yield forever()
        else
            yield v
        ~
    ~
    print(ws[0] + ws[1] * 10)
    return 0
~
"
    );
    let exe = build(&env, &src, None);
    let (out, took) = run(&exe);
    assert_eq!(out, "tasks: else\n301909\n21\n");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A library `slowlib` with `slow_ms(ms) -> int` (sleeps, returns ms),
/// packed into `<env>/lib`.
fn pack_slowlib(env: &Env) -> String {
    let lib = env.path().join("slowlib");
    std::fs::create_dir_all(lib.join("src")).unwrap();
    std::fs::create_dir_all(lib.join("ffi/src")).unwrap();
    std::fs::write(
        lib.join("manifest.toml"),
        "[library]\nname = \"slowlib\"\nversion = \"0.1.0\"\nsource = [\"slowlib.coex\"]\n\n\
         [ffi.slow]\nsource = [\"slow.c\"]\n\n[[ffi.slow.symbols]]\nname = \"slow_ms\"\nparams = [\"int\"]\nreturns = \"int\"\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("src/slowlib.coex"),
        "extern slow_ms(ms: int) -> int\n~\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("ffi/src/slow.c"),
        "#define _POSIX_C_SOURCE 199309L\n#include <stdint.h>\n#include <time.h>\n\
         int64_t slow_ms(int64_t ms) {\n    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };\n    nanosleep(&t, 0);\n    return ms;\n}\n",
    )
    .unwrap();
    std::fs::create_dir_all(env.path().join("lib")).unwrap();
    let o = env.coex_in(
        env.path(),
        &["cxz", "pack", "slowlib", "-o", "lib/slowlib.cxz"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    env.path().join("lib").to_str().unwrap().to_string()
}

#[test]
fn a_slow_extern_behind_nested_funcs_takes_the_else_branch_not_zero() {
    let env = Env::new();
    let lib = pack_slowlib(&env);
    let src = "import \"slowlib\"

func inner(ms: int) -> int
    r = slow_ms(ms)
    print(\"inner got \" + r.to_string())
    return r + 1
~

func outer(ms: int) -> int
    v = inner(ms)
    print(\"outer got \" + v.to_string())
    return v
~

func main() -> int
    within 50 * time.millisecond
        print(outer(5000))
    else
        print(\"slow call: else\")
    ~
    within 5 * time.second
        print(outer(1))
    else
        print(\"not printed\")
    ~
    print(slow_ms(2))
    return 0
~
";
    let exe = build(&env, src, Some(&lib));
    let (out, took) = run(&exe);
    assert_eq!(
        out, "slow call: else\ninner got 1\nouter got 2\n2\n2\n",
        "the abandoned call must not give the body a value"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn break_continue_and_return_out_of_within_keep_deadlines_balanced() {
    let env = Env::new();
    // 100,000 withins left by continue/return/break: were one level leaked
    // per round, the last within would sit beyond the 64 levels that carry
    // a deadline and never stop.
    let src = format!(
        "{FUNCS}
func f(n: int) -> int
    for i in 0..n
        within 1 * time.second
            if i % 3 == 0
                continue
            ~
            if i == 7
                break
            ~
            if i == n - 1
                return i
            ~
            n = n + 0
        else
            return -1
        ~
    ~
    return n
~

func main() -> int
    s = 0
    for i in 0..100000
        within 1 * time.second
            s += f(5)
        else
            s = -1
        ~
    ~
    print(s)
    print(f(10))
    within 50 * time.millisecond
        while true
            s += f(1000)
        ~
    else
        print(\"else\")
    ~
    within 20 * time.millisecond
        print(forever())
    else
        print(\"still stops\")
    ~
    return 0
~
"
    );
    let exe = build(&env, &src, None);
    let (out, took) = run(&exe);
    assert_eq!(out, "400000\n10\nelse\nstill stops\n");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
