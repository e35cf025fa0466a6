//! What `coex` prints and where, through the real binary: status on stderr
//! (stdout of `coex build` stays empty), `-q`, `-v`, `--color`/`NO_COLOR`,
//! a closed pipe, completions, the man page and `--version`.

#[path = "e2e/common.rs"]
mod common;

use common::{actions_that, repo, summary_of, text, Env};
use std::process::{Output, Stdio};

const HELLO: &str = "func main() -> int\n    print(1)\n    return 0\n~\n";

fn hello(env: &Env) {
    std::fs::write(env.path().join("hello.coex"), HELLO).unwrap();
}

fn build(env: &Env, more: &[&str]) -> Output {
    let mut args = vec!["build", "hello.coex", "-o", "hello"];
    args.extend_from_slice(more);
    let o = env.coex_in(env.path(), &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    o
}

#[test]
fn build_prints_status_on_stderr_and_nothing_on_stdout() {
    let env = Env::new();
    hello(&env);
    let first = build(&env, &[]);
    assert_eq!(text(&first.stdout), "");
    let err = text(&first.stderr);
    assert!(err.contains("Generating codegen:hello"), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .trim_start()
            .starts_with("Finished hello in "),
        "{err}"
    );
    let n = actions_that(&err, "ran").len();
    assert_eq!(
        summary_of(&err),
        format!("{n} actions: {n} ran, 0 cached, 0 remote")
    );
    assert!(!err.contains('\x1b'), "no colour off a terminal: {err}");

    // Warm: only the Finished line; with -v every action, cached.
    let warm = build(&env, &[]);
    assert_eq!(text(&warm.stdout), "");
    assert_eq!(
        text(&warm.stderr).lines().count(),
        1,
        "{}",
        text(&warm.stderr)
    );
    let verbose = build(&env, &["-v"]);
    assert_eq!(text(&verbose.stdout), "");
    assert_eq!(actions_that(&text(&verbose.stderr), "cached").len(), n);

    // -q: nothing at all on success.
    let quiet = build(&env, &["-q"]);
    assert_eq!(text(&quiet.stdout), "");
    assert_eq!(text(&quiet.stderr), "");
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let env = Env::new();
    hello(&env);
    let always = build(&env, &["--color", "always"]);
    assert!(
        text(&always.stderr).contains("\x1b[1;32mFinished\x1b[0m"),
        "{}",
        text(&always.stderr)
    );
    let never = build(&env, &["--color", "never"]);
    assert!(!text(&never.stderr).contains('\x1b'));
    let o = common::isolated::isolated_coex(
        env.path(),
        &env.path().join("cache"),
        &env.path().join("home"),
    )
    .env("NO_COLOR", "1")
    .args(["build", "hello.coex", "-o", "hello"])
    .output()
    .unwrap();
    assert!(o.status.success());
    assert!(!text(&o.stderr).contains('\x1b'));
    // Errors are coloured too.
    let bad = env.coex_in(env.path(), &["build", "missing.coex", "--color", "always"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).starts_with("\x1b[1;31merror\x1b[0m:"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let env = Env::new();
    let hello = repo().join("examples/hello.coex");
    for args in [
        vec!["plan", hello.to_str().unwrap(), "--json"],
        vec!["completions", "bash"],
        vec!["man"],
    ] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coex"))
            .current_dir(env.path())
            .env("COEX_CACHE_DIR", env.path().join("cache"))
            .env("HOME", env.path().join("home"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before anything is written
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(out.status.code().is_some(), "{args:?}: killed by a signal");
    }
}

#[test]
fn plan_prints_a_table_and_json_on_request() {
    let env = Env::new();
    let hello = repo().join("examples/hello.coex");
    let table = env.coex_in(env.path(), &["plan", hello.to_str().unwrap()]);
    assert!(table.status.success(), "{}", text(&table.stderr));
    let t = text(&table.stdout);
    assert!(t.starts_with("ID "), "{t}");
    assert!(t.contains("codegen:hello"), "{t}");
    assert!(serde_json::from_str::<serde_json::Value>(&t).is_err());
    let json = env.coex_in(env.path(), &["plan", hello.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["format"], "coex-plan-v1");
}

#[test]
fn completions_man_page_and_version() {
    let env = Env::new();
    let bash = env.coex_in(env.path(), &["completions", "bash"]);
    assert!(bash.status.success());
    let script = text(&bash.stdout);
    assert!(script.contains("build"), "{script}");
    for shell in ["zsh", "fish"] {
        let o = env.coex_in(env.path(), &["completions", shell]);
        assert!(o.status.success() && !o.stdout.is_empty(), "{shell}");
    }
    let man = env.coex_in(env.path(), &["man"]);
    assert!(man.status.success());
    let page = text(&man.stdout);
    assert!(page.lines().any(|l| l.starts_with(".TH coex")), "{page}");
    let version = env.coex_in(env.path(), &["--version"]);
    assert!(version.status.success());
    let v = text(&version.stdout);
    assert!(
        v.starts_with(&format!("coex {} (", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(v.contains("clang"), "{v}");
    // Without clang it still answers, and says so.
    let none = common::isolated::isolated_coex(
        env.path(),
        &env.path().join("cache"),
        &env.path().join("home"),
    )
    .env("PATH", env.path())
    .arg("--version")
    .output()
    .unwrap();
    assert!(none.status.success());
    assert!(
        text(&none.stdout).contains("no clang found"),
        "{}",
        text(&none.stdout)
    );
}
