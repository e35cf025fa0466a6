//! The FFI execution model end to end through the real binary: a library
//! with deliberately thread-unsafe C (`tests/ffi_e2e/isolab`) packed by
//! `coex cxz pack`, and `.coex` programs run with `coex run`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ffi_e2e")
}

/// A private cache, home and library folder with `isolab.cxz` packed.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("libs")).unwrap();
        let env = Env { dir };
        env.pack("isolab");
        env
    }

    /// Packs `tests/ffi_e2e/<name>` into `libs/<name>.cxz`.
    fn pack(&self, name: &str) -> PathBuf {
        let out = self.path().join(format!("libs/{name}.cxz"));
        let o = self.coex(
            &[
                "cxz",
                "pack",
                here().join(name).to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert!(o.status.success(), "pack {name}: {}", text(&o.stderr));
        out
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn coex(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut c = assert_cmd::Command::cargo_bin("coex").unwrap();
        c.args(args)
            .current_dir(self.path())
            .env("COEX_CACHE_DIR", self.path().join("cache"))
            .env("HOME", self.path().join("home"))
            .env_remove("COEX_PATH")
            .env_remove("COEX_REMOTE_CACHE")
            .env_remove("COEX_CC");
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// `coex run tests/ffi_e2e/<program> -L libs` with extra variables.
    fn run(&self, program: &str, vars: &[(&str, &str)]) -> Output {
        self.run_args(program, &[], vars)
    }

    /// The same with program arguments (`-- ARGS`).
    fn run_args(&self, program: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let main = self.path().join(program);
        std::fs::copy(here().join(program), &main).unwrap();
        let libs = self.path().join("libs");
        let mut argv = vec!["run", main.to_str().unwrap(), "-L", libs.to_str().unwrap()];
        argv.push("--");
        argv.extend_from_slice(args);
        self.coex(&argv, vars)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn tasks_get_their_own_c_globals_and_a_func_shares_one_instance() {
    let env = Env::new();
    let mut expected = "100000\n".repeat(8);
    for r in 1..=8 {
        expected += &format!("{}\n", r * 100_000);
    }
    for threads in ["1", "2"] {
        let o = env.run("counting.coex", &[("COEX_THREADS", threads)]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), expected, "COEX_THREADS={threads}");
    }
}

#[test]
fn thread_unsafe_c_is_correct_from_1000_parallel_tasks() {
    let env = Env::new();
    let o = env.run("unsafe.coex", &[("COEX_THREADS", "4")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "0\n");
}

#[test]
fn a_heap_cap_takes_the_resource_exhausted_case_or_stops_the_program() {
    let env = Env::new();
    let o = env.run("heapcap.coex", &[("COEX_FFI_INSTANCE_HEAP_MAX", "16M")]);
    assert_eq!(text(&o.stdout), "1\nexhausted\n", "{}", text(&o.stderr));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.starts_with("error: FFI resource exhausted\n"), "{err}");
    assert!(err.contains("heapcap.coex:20"), "{err}");
    assert!(err.contains("case ResourceExhausted:"), "{err}");
    let o = env.run("heapcap.coex", &[]);
    assert_eq!(text(&o.stdout), "1\n1\n1\n", "{}", text(&o.stderr));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn within_abandons_a_sleeping_c_call_and_the_program_exits_at_once() {
    let env = Env::new();
    // build first, so the timing below is the program's alone
    let o = env.run("deadline.coex", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let started = Instant::now();
    let o = env.run("deadline.coex", &[("COEX_FFI_STATS", "1")]);
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "timed out\n1\n");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert!(
        text(&o.stderr).contains(" abandoned=1 "),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn an_abandoned_instance_is_destroyed_once_its_call_returns() {
    let env = Env::new();
    let o = env.run("deadline_linger.coex", &[("COEX_FFI_STATS", "1")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "timed out\n1\n");
    let err = text(&o.stderr);
    assert!(err.contains(" abandoned=1 "), "{err}");
    assert!(err.contains(" abandoned-destroyed=1 "), "{err}");
}

#[test]
fn initial_exec_tls_is_refused_by_cxz_build_and_by_program_builds() {
    let env = Env::new();
    let archive = env.pack("ietls");
    let out_dir = env.path().join("images");
    let o = env.coex(
        &[
            "cxz",
            "build",
            archive.to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.starts_with(
            "error: FFI unit 'ietls' of library 'ietls' uses initial-exec thread-local storage (DF_STATIC_TLS)"
        ),
        "{err}"
    );
    assert!(err.contains("-ftls-model=global-dynamic"), "{err}");
    assert!(!out_dir.join("libietls.so").exists());
    // a program importing it is refused by `coex run` at build time, before
    // anything runs (the runtime keeps its own check as a second line)
    let o = env.run("ietls_main.coex", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "error: FFI unit 'ietls' of library 'ietls' uses initial-exec thread-local storage (DF_STATIC_TLS)"
        ),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "");
}

/// A crash inside library C: what the program printed before is kept (stdout
/// is a pipe here, so it was still buffered), then one error naming the
/// library, the extern, the signal and the call's line; status 1, not 139.
#[test]
fn a_crash_in_library_c_is_reported_with_the_call_site() {
    let env = Env::new();
    env.pack("crashlib");
    let cases = [
        ("null", "crash_null", "SIGSEGV", 9),
        ("abort", "crash_abort", "SIGABRT", 12),
        ("div", "crash_div", "SIGFPE", 15),
        ("str", "crash_str", "SIGSEGV", 18),
        ("deep", "crash_deep", "SIGSEGV", 21),
        ("task", "crash_null", "SIGSEGV", 25),
        ("within", "crash_null", "SIGSEGV", 31),
    ];
    for (what, ext, sig, line) in cases {
        let o = env.run_args("crash.coex", &[what], &[("COEX_THREADS", "2")]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert_eq!(text(&o.stdout), "before\n2\n", "{what}: {err}");
        let want = format!("error: FFI library 'crashlib' crashed in extern '{ext}' ({sig})\n");
        assert!(err.contains(&want), "{what}: {err}");
        assert!(
            err.contains(&format!("crash.coex:{line}\n")),
            "{what}: {err}"
        );
        assert_eq!(err.matches("error:").count(), 1, "{what}: {err}");
    }
    let o = env.run_args("crash.coex", &["deep"], &[]);
    assert!(text(&o.stderr).contains("ran out of stack (stack overflow)"));
}

/// A bad pointer returned by C crashes the runtime's copy of the result,
/// after the extern returned: a crash of the program itself.
#[test]
fn a_crash_outside_library_c_is_reported_as_a_program_crash() {
    let env = Env::new();
    env.pack("crashlib");
    let o = env.run_args("crash.coex", &["bad"], &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(text(&o.stdout), "before\n2\n", "{err}");
    assert!(
        err.contains("error: the program crashed (SIGSEGV) in func 'main'\n"),
        "{err}"
    );
    let o = env.run_args("crash.coex", &["none"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "before\n2\nafter\n");
}
