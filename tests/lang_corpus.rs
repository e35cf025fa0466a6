//! The Coex Core corpus, checked through the real `coex check` binary:
//! every `tests/lang/valid/*.coex` checks clean; every
//! `tests/lang/invalid/*.coex` fails with exactly the diagnostics in the
//! `.stderr` file beside it. Set `COEX_BLESS=1` to rewrite the `.stderr`
//! files from the binary's output (then review the diff).

#[path = "support/isolated.rs"]
mod isolated;

use isolated::isolated_coex;
use std::path::{Path, PathBuf};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lang")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "coex"))
        .collect();
    files.sort();
    files
}

/// `coex check NAME.coex` run inside the file's directory, so paths in
/// messages are the short relative ones. Isolated from the environment.
fn check(file: &Path, extra: &[&str]) -> std::process::Output {
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = file.file_name().unwrap_or_default();
    let home = tempfile::tempdir().expect("tempdir");
    isolated_coex(dir, &home.path().join("cache"), home.path())
        .arg("check")
        .arg(name)
        .args(extra)
        .output()
        .expect("run coex")
}

#[test]
fn valid_programs_check_clean() {
    let files = corpus("valid");
    assert!(files.len() >= 4, "corpus missing: {files:?}");
    for f in files {
        let out = check(&f, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{} should check clean, got status {:?}:\n{stderr}",
            f.display(),
            out.status.code()
        );
    }
}

#[test]
fn invalid_programs_report_exact_diagnostics() {
    let bless = std::env::var_os("COEX_BLESS").is_some();
    let files = corpus("invalid");
    assert!(files.len() >= 10, "corpus missing: {files:?}");
    let mut failures = Vec::new();
    for f in files {
        let out = check(&f, &[]);
        let got = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{} must fail with status 1:\n{got}",
            f.display()
        );
        let expected_path = f.with_extension("stderr");
        if bless {
            std::fs::write(&expected_path, &got).expect("write .stderr");
            continue;
        }
        let want = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with COEX_BLESS=1)", expected_path.display()));
        if got != want {
            failures.push(format!(
                "--- {} expected\n{want}\n--- got\n{got}",
                expected_path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_lines_match_the_text_diagnostics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang/invalid");
    let file = root.join("types.coex");
    let text = check(&file, &[]);
    let json = check(&file, &["--json"]);
    assert_eq!(json.status.code(), Some(1));
    assert!(json.stderr.is_empty());
    let stdout = String::from_utf8_lossy(&json.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    let text = String::from_utf8_lossy(&text.stderr);
    let headers: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("error: ") && !l.starts_with("error: could not check"))
        .collect();
    assert_eq!(lines.len(), headers.len());
    for (v, header) in lines.iter().zip(&headers) {
        for key in [
            "file", "line", "col", "end_line", "end_col", "severity", "message", "help",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert_eq!(v["file"], "types.coex");
        assert_eq!(v["severity"], "error");
        let message = v["message"].as_str().unwrap_or_default();
        assert_eq!(format!("error: {message}"), *header);
        // The text form names the same position.
        let loc = format!("types.coex:{}:{}", v["line"], v["col"]);
        assert!(text.contains(&loc), "{loc} not in text output");
    }
}

#[test]
fn clean_json_is_empty_and_exit_zero() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang/valid");
    let out = check(&root.join("core_tour.coex"), &["--json"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}
