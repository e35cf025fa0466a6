//! Every Core feature end to end, table-driven: each
//! `tests/e2e/programs/NAME.coex` is built and run by the real `coex run`;
//! its stdout must equal `NAME.out`, its exit status `NAME.status` (0 when
//! absent), and every line of `NAME.err` must appear in its stderr.
//! Expected outputs were written from the language rules (coex-core.md);
//! the arithmetic and float ones are also checked against the same
//! operations compiled as C by clang (`c_reference_*` tests).

#[path = "e2e/common.rs"]
mod common;

use common::*;
use std::path::Path;

fn programs() -> Vec<std::path::PathBuf> {
    let dir = repo().join("tests/e2e/programs");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .expect("programs dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "coex"))
        .collect();
    v.sort();
    v
}

fn expected(p: &Path, ext: &str) -> Option<String> {
    std::fs::read_to_string(p.with_extension(ext)).ok()
}

#[test]
fn every_program_prints_what_the_language_rules_say() {
    let env = Env::new();
    let mut failures = Vec::new();
    let list = programs();
    assert!(list.len() >= 15, "the table lost programs: {}", list.len());
    for p in &list {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = p.parent().unwrap();
        let o = env.coex_in(dir, &["run", p.file_name().unwrap().to_str().unwrap()]);
        let out = text(&o.stdout);
        let err = text(&o.stderr);
        let want_out = expected(p, "out").unwrap_or_else(|| panic!("{name}.out missing"));
        let want_status: i32 = expected(p, "status")
            .map(|s| s.trim().parse().expect("status number"))
            .unwrap_or(0);
        if out != want_out {
            failures.push(format!(
                "{name}: stdout\n--- got\n{out}--- want\n{want_out}--- stderr\n{err}"
            ));
        }
        if o.status.code() != Some(want_status) {
            failures.push(format!(
                "{name}: status {:?}, want {want_status}\n{err}",
                o.status.code()
            ));
        }
        if let Some(want_err) = expected(p, "err") {
            for line in want_err.lines() {
                if !err.contains(line) {
                    failures.push(format!("{name}: stderr lacks {line:?}\n{err}"));
                }
            }
        } else if want_status == 0 && !err.is_empty() {
            failures.push(format!("{name}: unexpected stderr\n{err}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Compiles and runs a C file of tests/e2e/reference with clang.
fn c_output(name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("tests/e2e/reference").join(name);
    let exe = dir.path().join("ref");
    let st = std::process::Command::new("clang")
        .args(["-O0", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-lm")
        .status()
        .expect("clang");
    assert!(st.success());
    text(&std::process::Command::new(&exe).output().unwrap().stdout)
}

#[test]
fn c_reference_agrees_with_the_arithmetic_expectations() {
    let want = std::fs::read_to_string(repo().join("tests/e2e/programs/arith.out")).unwrap();
    assert_eq!(c_output("arith.c"), want);
}

#[test]
fn c_reference_agrees_with_the_float_expectations() {
    let want = std::fs::read_to_string(repo().join("tests/e2e/programs/floats.out")).unwrap();
    assert_eq!(c_output("floats.c"), want);
}
