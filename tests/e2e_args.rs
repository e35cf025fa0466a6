//! Program arguments end to end: `arg_count()` and `arg(i)` read what
//! follows `--` in `coex run` and what a built executable is started with
//! (argv[1..], byte for byte); an index out of range is a runtime error.

#[path = "e2e/common.rs"]
mod common;

use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Output;

/// Prints the count, then each argument in brackets with its length (code
/// points; a byte that is not UTF-8 counts one).
const ECHO: &str = "\
func main()
    n = arg_count()
    print(n)
    for i in 0..n
        a = arg(i)
        print(\"[\" + a + \"] \" + a.len().to_string())
    ~
~
";

/// Reads one argument past the end after printing a line.
const PAST_END: &str = "\
func main()
    print(\"before\")
    print(arg(arg_count()))
~
";

fn write(env: &Env, name: &str, text: &str) {
    std::fs::write(env.path().join(name), text).expect("write program");
}

/// `coex run FILE -- ARGS` in the environment's folder, `ARGS` as raw bytes.
fn run_with(env: &Env, file: &str, args: &[&[u8]]) -> Output {
    isolated::isolated_coex(
        env.path(),
        &env.path().join("cache"),
        &env.path().join("home"),
    )
    .args(["run", file, "--"])
    .args(args.iter().map(|a| OsStr::from_bytes(a)))
    .output()
    .expect("run coex")
}

#[test]
fn run_passes_every_argument_exactly() {
    let env = Env::new();
    write(&env, "echo.coex", ECHO);
    let o = run_with(&env, "echo.coex", &[b"a", b"b c", b""]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "3\n[a] 1\n[b c] 3\n[] 0\n");
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));

    let o = env.coex_in(env.path(), &["run", "echo.coex"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "0\n",
        "no arguments: the program name is not one"
    );

    // Bytes that are not UTF-8 are passed through as given.
    let o = run_with(&env, "echo.coex", &[b"\xff\xfe-x"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(o.stdout, b"1\n[\xff\xfe-x] 4\n");

    // `len()` counts code points: "hé" is 2, the emoji 1.
    let o = run_with(&env, "echo.coex", &["hé".as_bytes(), "😀".as_bytes()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "2\n[hé] 2\n[😀] 1\n");
}

#[test]
fn an_argument_index_out_of_range_is_a_runtime_error() {
    let env = Env::new();
    write(&env, "past.coex", PAST_END);
    write(
        &env,
        "neg.coex",
        "func main() -> int\n    print(arg(-1))\n    return 0\n~\n",
    );
    let o = run_with(&env, "past.coex", &[b"only"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stdout),
        "before\n",
        "output before the error is kept"
    );
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "error: argument index out of range: arg(1), but the program has 1 argument\n"
        ),
        "{err}"
    );
    assert!(err.contains("--> past.coex:3"), "{err}");
    assert!(err.contains("print(arg(arg_count()))"), "{err}");

    let o = env.coex_in(env.path(), &["run", "neg.coex"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("arg(-1), but the program has 0 arguments"),
        "{err}"
    );
}

#[test]
fn a_built_executable_reads_its_own_arguments() {
    let env = Env::new();
    write(&env, "echo.coex", ECHO);
    let exe = env.path().join("echo-bin");
    let o = env.coex_in(
        env.path(),
        &["build", "echo.coex", "-o", exe.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = |args: &[&[u8]]| {
        std::process::Command::new(&exe)
            .args(args.iter().map(|a| OsStr::from_bytes(a)))
            .output()
            .expect("run the executable")
    };
    let o = run(&[b"a", b"b c", b""]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "3\n[a] 1\n[b c] 3\n[] 0\n");

    let o = run(&[]);
    assert_eq!(text(&o.stdout), "0\n");

    let o = run(&[b"\xc3\x28"]);
    assert_eq!(o.stdout, b"1\n[\xc3\x28] 2\n");

    write(&env, "past.coex", PAST_END);
    let past = env.path().join("past-bin");
    let o = env.coex_in(
        env.path(),
        &["build", "past.coex", "-o", past.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = std::process::Command::new(&past)
        .args(["x", "y"])
        .output()
        .expect("run the executable");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("arg(2), but the program has 2 arguments"),
        "{}",
        text(&o.stderr)
    );
}
