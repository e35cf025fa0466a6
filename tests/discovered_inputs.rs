//! A cache hit is always right: every file a compile reads is either in
//! its key or checked against the digests recorded with its result, and
//! reads outside the library are refused. Real binary, real clang, real
//! pkg-config, real nginx.

#[path = "support/isolated.rs"]
mod isolated;
#[path = "support/nginx.rs"]
mod nginx;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use isolated::isolated_coex;
use nginx::Nginx;

/// A library folder `lib/` in `root` with one unit `u` over `a.c`; `extra`
/// is appended to the unit's table (e.g. `pkg_config = [...]`).
fn write_library(root: &Path, c_source: &str, extra: &str) -> PathBuf {
    let dir = root.join("lib");
    fs::create_dir_all(dir.join("src")).unwrap();
    fs::create_dir_all(dir.join("ffi/src")).unwrap();
    fs::write(
        dir.join("manifest.toml"),
        format!(
            "[library]\nname = \"probe\"\nversion = \"1.0.0\"\n\n[ffi.u]\nsource = [\"a.c\"]\n{extra}\n\
             [[ffi.u.symbols]]\nname = \"probe_value\"\nreturns = \"int\"\n"
        ),
    )
    .unwrap();
    fs::write(
        dir.join("src/probe.coex"),
        "extern probe_value() -> int\n~\n",
    )
    .unwrap();
    fs::write(dir.join("ffi/src/a.c"), c_source).unwrap();
    dir
}

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("tmp")).unwrap();
        Env { root }
    }

    fn path(&self) -> &Path {
        self.root.path()
    }

    /// `coex ARGS` with cache `cache`, TMPDIR inside the test folder and
    /// PKG_CONFIG_PATH pointing at `pc/`.
    fn coex(&self, cache: &str, args: &[&str]) -> Output {
        isolated_coex(
            self.path(),
            &self.path().join(cache),
            &self.path().join("home"),
        )
        .env("TMPDIR", self.path().join("tmp"))
        .env("PKG_CONFIG_PATH", self.path().join("pc"))
        .args(args)
        .output()
        .unwrap()
    }

    fn pack(&self) {
        let out = self.coex("cache", &["cxz", "pack", "lib", "-o", "probe.cxz"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }

    /// `coex cxz build -v probe.cxz` (cache `cache`, more flags), asserting
    /// success; its status lines (stderr).
    fn build(&self, cache: &str, more: &[&str]) -> String {
        let mut args = vec!["cxz", "build", "-v", "probe.cxz", "-o", "out"];
        args.extend_from_slice(more);
        let out = self.coex(cache, &args);
        assert!(out.status.success(), "build failed:\n{}", stderr(&out));
        assert!(out.stdout.is_empty());
        stderr(&out)
    }

    fn image(&self) -> Vec<u8> {
        fs::read(self.path().join("out/libu.so")).unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// How the compile of `a.c` was satisfied in a `coex cxz build -v` report.
fn compile_word(report: &str) -> &str {
    let word = report
        .lines()
        .find(|l| l.ends_with("compile:probe/u/a.c"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no compile line in:\n{report}"));
    match word {
        "Compiling" => "ran",
        "Cached" => "cached",
        "Remote" => "remote",
        other => panic!("unknown status word {other} in:\n{report}"),
    }
}

/// Asserts a failed build: exit 1, every `needle` in stderr, no panic, no image.
fn assert_refused(env: &Env, needles: &[&str]) {
    let out = env.coex("cache", &["cxz", "build", "probe.cxz", "-o", "out"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in:\n{err}");
    }
    assert!(!env.path().join("out/libu.so").exists());
}

#[test]
fn an_absolute_host_include_is_refused_with_the_path_named() {
    let env = Env::new();
    let host = env.path().join("host.h");
    fs::write(&host, "#define HOST_VALUE 7\n").unwrap();
    let c = format!(
        "#include \"{}\"\nlong probe_value(void) {{ return HOST_VALUE; }}\n",
        host.display()
    );
    write_library(env.path(), &c, "");
    env.pack();
    assert_refused(
        &env,
        &[
            "FFI compilation of 'probe' reads a file outside the library",
            "C file: ffi/src/a.c (unit 'u')",
            &format!("Reads:  {}", host.display()),
            "Copy the file into the library's ffi/src/ directory",
        ],
    );
}

#[test]
fn an_include_climbing_out_of_ffi_src_is_refused() {
    let env = Env::new();
    // The scratch dir is TMPDIR/coex-scratch-…; src/a.c sits one further
    // down, so ../../host.h is TMPDIR/host.h.
    let host = env.path().join("tmp/host.h");
    fs::write(&host, "#define HOST_VALUE 7\n").unwrap();
    write_library(
        env.path(),
        "#include \"../../host.h\"\nlong probe_value(void) { return HOST_VALUE; }\n",
        "",
    );
    env.pack();
    assert_refused(
        &env,
        &[
            "reads a file outside the library",
            &format!("Reads:  {}", host.display()),
        ],
    );
}

#[test]
fn has_include_and_incbin_of_host_files_are_refused_before_compiling() {
    let env = Env::new();
    write_library(
        env.path(),
        "long probe_value(void) { return 1; }\n#if __has_include(\"/etc/hostname\")\nint h;\n#endif\n",
        "",
    );
    env.pack();
    assert_refused(
        &env,
        &[
            "FFI unit 'u' of library 'probe' names a file outside the library",
            "ffi/src/a.c:2: __has_include \"/etc/hostname\"",
        ],
    );
    write_library(
        env.path(),
        "long probe_value(void) { return 1; }\n__asm__(\".section .rodata\\n.incbin \\\"/etc/hostname\\\"\\n.text\\n\");\n",
        "",
    );
    env.pack();
    assert_refused(&env, &["ffi/src/a.c:2: .incbin \"/etc/hostname\""]);
}

#[test]
fn date_and_time_macros_are_an_error_naming_file_and_line() {
    let env = Env::new();
    write_library(
        env.path(),
        "const char *stamp = \"x\";\nconst char *when = __DATE__;\nlong probe_value(void) { return 1; }\n",
        "",
    );
    env.pack();
    assert_refused(
        &env,
        &[
            "FFI compilation failed for 'probe'",
            "src/a.c:2:",
            "expansion of date or time macro is not reproducible",
            "may not use __DATE__, __TIME__ or __TIMESTAMP__",
        ],
    );
    for m in ["__TIME__", "__TIMESTAMP__"] {
        write_library(
            env.path(),
            &format!("const char *w = {m};\nlong probe_value(void) {{ return 1; }}\n"),
            "",
        );
        env.pack();
        assert_refused(&env, &["src/a.c:1:", "reproducible"]);
    }
}

/// A private pkg-config package `coexprobe` whose include dir is `inc`
/// (a symlink the tests point at one of two real folders).
fn private_package(env: &Env, value_a: i32, value_b: i32) {
    for (dir, value) in [("inc_a", value_a), ("inc_b", value_b)] {
        fs::create_dir_all(env.path().join(dir)).unwrap();
        fs::write(
            env.path().join(dir).join("probe_value.h"),
            format!("#define PROBE_VALUE {value}\n"),
        )
        .unwrap();
    }
    point_inc_at(env, "inc_a");
    package_library(env, &[env.path().join("inc")]);
}

/// The package `coexprobe` with `include_dirs` (in order) and the library
/// returning its header's `PROBE_VALUE`, packed.
fn package_library(env: &Env, include_dirs: &[PathBuf]) {
    let cflags: Vec<String> = include_dirs
        .iter()
        .map(|d| format!("-I{}", d.display()))
        .collect();
    fs::create_dir_all(env.path().join("pc")).unwrap();
    fs::write(
        env.path().join("pc/coexprobe.pc"),
        format!(
            "Name: coexprobe\nDescription: test\nVersion: 1\nCflags: {}\nLibs:\n",
            cflags.join(" ")
        ),
    )
    .unwrap();
    write_library(
        env.path(),
        "#include <probe_value.h>\nlong probe_value(void) { return PROBE_VALUE; }\n",
        "pkg_config = [\"coexprobe\"]\n",
    );
    env.pack();
}

fn point_inc_at(env: &Env, dir: &str) {
    let link = env.path().join("inc");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(env.path().join(dir), &link).unwrap();
}

#[test]
fn a_changed_pkg_config_header_rebuilds_and_a_restored_one_hits_again() {
    let env = Env::new();
    private_package(&env, 1, 2);
    let first = env.build("cache", &[]);
    assert_eq!(compile_word(&first), "ran");
    let image_a = env.image();
    assert_eq!(compile_word(&env.build("cache", &[])), "cached");

    // Same path, other bytes: never the old result.
    let header = env.path().join("inc_a/probe_value.h");
    fs::write(&header, "#define PROBE_VALUE 3\n").unwrap();
    assert_eq!(compile_word(&env.build("cache", &[])), "ran");
    let image_changed = env.image();
    assert_ne!(image_a, image_changed);

    // Restored: the first result applies again (second-level key).
    fs::write(&header, "#define PROBE_VALUE 1\n").unwrap();
    assert_eq!(compile_word(&env.build("cache", &[])), "cached");
    assert_eq!(env.image(), image_a);
}

#[test]
fn a_remote_entry_made_against_other_headers_is_not_used() {
    let env = Env::new();
    private_package(&env, 1, 2);
    let server = Nginx::start();
    let url = server.url();
    let remote = ["--remote-cache", url.as_str()];

    // Machine A (headers in inc_a) fills the remote.
    assert_eq!(compile_word(&env.build("cache_a", &remote)), "ran");
    let image_a = env.image();

    // Machine B: same action, same include path, other header bytes.
    point_inc_at(&env, "inc_b");
    let report_b = env.build("cache_b", &remote);
    assert_eq!(compile_word(&report_b), "ran", "{report_b}");
    assert_ne!(env.image(), image_a);

    // Machine C has A's headers: A's result is shared.
    point_inc_at(&env, "inc_a");
    let report_c = env.build("cache_c", &remote);
    assert_eq!(compile_word(&report_c), "remote", "{report_c}");
    assert_eq!(env.image(), image_a);
}

#[test]
fn a_warm_build_reads_no_header_twice_and_reruns_nothing() {
    let env = Env::new();
    write_library(
        env.path(),
        "#include <stdio.h>\n#include <string.h>\nlong probe_value(void) { return (int)strlen(\"abc\"); }\n",
        "",
    );
    env.pack();
    env.build("cache", &[]);
    let warm = env.build("cache", &[]);
    assert!(
        warm.ends_with("(2 actions: 0 ran, 2 cached, 0 remote)\n"),
        "{warm}"
    );
    let memo = fs::read_to_string(env.path().join("cache/memo/file-digests.json")).unwrap();
    assert!(memo.contains("/stdio.h"), "system headers are remembered");
}

#[test]
fn a_new_header_shadowing_the_one_used_rebuilds() {
    let env = Env::new();
    let (early, late) = (env.path().join("early"), env.path().join("late"));
    fs::create_dir_all(&early).unwrap();
    fs::create_dir_all(&late).unwrap();
    fs::write(late.join("probe_value.h"), "#define PROBE_VALUE 1\n").unwrap();
    package_library(&env, &[early.clone(), late.clone()]);
    assert_eq!(compile_word(&env.build("cache", &[])), "ran");
    let image_late = env.image();
    assert_eq!(compile_word(&env.build("cache", &[])), "cached");
    // The same name appears in an earlier include dir: clang would now
    // read that one, so the old result must not be used.
    fs::write(early.join("probe_value.h"), "#define PROBE_VALUE 2\n").unwrap();
    assert_eq!(compile_word(&env.build("cache", &[])), "ran");
    assert_ne!(env.image(), image_late);
}
