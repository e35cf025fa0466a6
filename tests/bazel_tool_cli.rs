//! `coex tool …` through the real binary: the argv contract the Bazel rules
//! rely on (docs/bazel.md), its errors, and that a failing tool writes nothing.

use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;

fn coex() -> Command {
    let mut cmd = Command::cargo_bin("coex").unwrap();
    // `coex tool` never uses a cache; point any stray use at nowhere useful.
    cmd.env(
        "COEX_CACHE_DIR",
        "/nonexistent/coex-tool-must-not-use-a-cache",
    );
    cmd
}

#[test]
fn tool_is_hidden_from_help_but_documented_on_its_own() {
    coex()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("tool").not());
    coex()
        .args(["tool", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("pack"))
        .stdout(predicate::str::contains("ffi-unit"))
        .stdout(predicate::str::contains("codegen"))
        .stdout(predicate::str::contains("link"));
}

#[test]
fn pack_rejects_an_archive_path_outside_the_archive_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.toml");
    fs::write(&manifest, "[library]\nname = \"x\"\nversion = \"1.0.0\"\n").unwrap();
    let out = dir.path().join("out.cxz");
    coex()
        .args(["tool", "pack", "--manifest"])
        .arg(&manifest)
        .arg("--file")
        .arg(format!("../evil.c={}", manifest.display()))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: invalid archive path '../evil.c' in --file: it has a '.' or '..' component",
        ));
    assert!(!out.exists());
}

#[test]
fn pack_names_a_missing_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.toml");
    fs::write(&manifest, "[library]\nname = \"x\"\nversion = \"1.0.0\"\n").unwrap();
    let missing = dir.path().join("nope.coex");
    let out = dir.path().join("out.cxz");
    coex()
        .args(["tool", "pack", "--manifest"])
        .arg(&manifest)
        .arg("--file")
        .arg(format!("src/nope.coex={}", missing.display()))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(format!(
            "error: cannot read {}",
            missing.display()
        )));
    assert!(!out.exists());
}

#[test]
fn pack_needs_a_root_or_a_manifest() {
    coex()
        .args(["tool", "pack", "-o", "x.cxz"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--manifest"));
}

#[test]
fn bad_names_in_program_specs_are_rejected_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.o");
    coex()
        .args([
            "tool",
            "codegen",
            "--main",
            "main.coex",
            "--cxz",
            "bad-name=x.cxz",
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: invalid name 'bad-name' in --cxz",
        ));
    coex()
        .args([
            "tool",
            "link",
            "--object",
            "a.o",
            "--runtime",
            "rt.a",
            "--cc",
            "/usr/bin/clang",
            "--unit-image",
            "greet=libgreet.so",
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: invalid --unit-image value 'greet=libgreet.so': expected NAME:UNIT=FILE",
        ));
    assert!(!out.exists());
}
