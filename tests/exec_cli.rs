//! `coex cache …` and concurrent builds through the real binary.

#[path = "support/exec_fixture.rs"]
mod exec_fixture;

use assert_cmd::Command;
use exec_fixture::*;
use predicates::prelude::*;
use std::path::Path;

fn coex(cache: &Path) -> Command {
    let mut c = Command::cargo_bin("coex").unwrap();
    c.env("COEX_CACHE_DIR", cache)
        .env_remove("COEX_REMOTE_CACHE")
        .env_remove("COEX_CC");
    c
}

fn build_unit(cache: &Path, src: &Path, out: &Path) -> Command {
    let mut c = coex(cache);
    c.args(["debug", "build-unit"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .args(["--unit", "u"]);
    c
}

#[test]
fn stats_verify_and_gc_on_a_real_cache() {
    let t = tempfile::tempdir().unwrap();
    let (src, cache) = (t.path().join("src"), t.path().join("cache"));
    write_unit(&src, 3);
    build_unit(&cache, &src, &t.path().join("out"))
        .assert()
        .success()
        .stdout("4 actions: 4 ran, 0 cached, 0 remote\n");
    let out = coex(&cache)
        .args(["cache", "stats", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Two per action: the discovered-inputs list and the result; and the
    // result under the preprocessed text of each of the 3 compiles.
    assert_eq!(v["stats"]["ac_entries"], 11);
    let cas = cas_files(&cache);
    assert_eq!(v["stats"]["cas_entries"], cas.len() as u64);
    let cas_bytes: u64 = cas
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(v["stats"]["cas_bytes"], cas_bytes);
    coex(&cache)
        .args(["cache", "stats"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ac:  11 entries"));

    coex(&cache)
        .args(["cache", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("all good"));
    // Damage one blob: verify reports it, removes it, exits 1; then clean.
    let victim = &cas[0];
    std::fs::write(victim, b"garbage").unwrap();
    coex(&cache)
        .args(["cache", "verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("removed bad entry cas/"))
        .stderr(predicate::str::starts_with("error: 1 of "));
    assert!(!victim.exists());
    coex(&cache).args(["cache", "verify"]).assert().success();

    // gc down to nothing, and a bad size is a worded error.
    coex(&cache)
        .args(["cache", "gc", "--max-size", "lots"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: invalid size 'lots'"));
    coex(&cache)
        .args(["cache", "gc", "--max-size", "0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("removed "));
    assert!(cas_files(&cache).is_empty());
    build_unit(&cache, &src, &t.path().join("out"))
        .assert()
        .success()
        .stdout("4 actions: 4 ran, 0 cached, 0 remote\n");
}

#[test]
fn two_processes_share_one_cache_and_it_verifies_clean() {
    let t = tempfile::tempdir().unwrap();
    let (src, cache) = (t.path().join("src"), t.path().join("cache"));
    write_unit(&src, 12);
    let bin = assert_cmd::cargo::cargo_bin("coex");
    let spawn = |out: &str| {
        std::process::Command::new(&bin)
            .env("COEX_CACHE_DIR", &cache)
            .env_remove("COEX_REMOTE_CACHE")
            .args(["debug", "build-unit"])
            .arg(&src)
            .arg("-o")
            .arg(t.path().join(out))
            .args(["--unit", "u", "-j", "2"])
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("out_a"));
        let b = s.spawn(|| spawn("out_b"));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(
        file_digest(&t.path().join("out_a/libu.so")),
        file_digest(&t.path().join("out_b/libu.so"))
    );
    coex(&cache)
        .args(["cache", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("checked "));
    // And a third build finds everything.
    build_unit(&cache, &src, &t.path().join("out_c"))
        .assert()
        .success()
        .stdout("13 actions: 0 ran, 13 cached, 0 remote\n");
}

#[test]
fn missing_clang_is_one_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 1);
    let empty = t.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    build_unit(&t.path().join("c"), &src, &t.path().join("o"))
        .env("PATH", &empty)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: C compiler not found: clang is not on PATH\n\n",
        ))
        .stderr(predicate::str::contains(
            "  Ubuntu/Debian: sudo apt install clang\n",
        ))
        .stderr(predicate::str::contains("No such file").not());
    build_unit(&t.path().join("c"), &src, &t.path().join("o"))
        .env("COEX_CC", t.path().join("nowhere/clang"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("C compiler not found: ")
                .and(predicate::str::contains("nowhere/clang (from COEX_CC)")),
        );
    build_unit(&t.path().join("c"), &src, &t.path().join("o"))
        .args(["--cc", "/nonexistent/cc"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: C compiler not found: /nonexistent/cc (from --cc)",
        ));
    assert!(!t.path().join("o").exists(), "no stray files");
    assert!(!t.path().join("c").exists(), "no stray cache");
}

#[test]
fn compile_failure_through_the_binary() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 1);
    std::fs::write(src.join("f0.c"), "#include \"nope.h\"\n").unwrap();
    build_unit(&t.path().join("c"), &src, &t.path().join("o"))
        .args(["--library", "regex"])
        .assert()
        .code(1)
        .stderr(
            "error: FFI compilation failed for 'regex'\n\n\
             Command: clang -c -fPIC -O2 -Isrc -Icoex -Werror=date-time -MD -MF obj/f0.c.o.d -o obj/f0.c.o src/f0.c\n\
             Error: src/f0.c:1:10: fatal error: 'nope.h' file not found\n\n\
             Check that all header files are included in the library's src/ directory.\n",
        );
}
