//! Checking `system_headers` before any compile, by preprocessing a one-line
//! probe (`#include <h>`) with the real compiler and the unit's pkg-config
//! flags, so a missing package is reported as such (with the install
//! command) instead of as a compile error deep in a C file.

use std::io::Write;
use std::process::{Command, Stdio};

use super::hints;
use super::pkg_config::include_dirs;
use super::{Clang, ToolchainError};
use crate::exec::action::fixed_env;

/// A header name safe inside `#include <…>`.
pub fn valid_header(h: &str) -> bool {
    !h.is_empty()
        && !h.starts_with('/')
        && !h.starts_with('-')
        && h.split('/').all(|c| c != "..")
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-/".contains(&b))
}

/// Whether clang finds `<header>`: a file in one of its search dirs (one
/// `stat` each, so a warm build spawns no process), else the real
/// preprocessor decides (it knows search rules a stat cannot).
fn present(clang: &Clang, header: &str, cflags: &[String]) -> bool {
    clang
        .search_dirs(&include_dirs(cflags))
        .iter()
        .any(|d| d.is_absolute() && d.join(header).is_file())
        || probe(clang, header, cflags)
}

fn probe(clang: &Clang, header: &str, cflags: &[String]) -> bool {
    let child = Command::new(&clang.path)
        .args(["-E", "-x", "c", "-o", "/dev/null"])
        .args(cflags)
        .arg("-")
        .env_clear()
        .envs(fixed_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "#include <{header}>");
    }
    child.wait().map(|s| s.success()).unwrap_or(false)
}

/// Fails with the §5 "Missing system dependency" error for the first header
/// of `headers` that `clang` cannot find.
pub fn check_system_headers(
    clang: &Clang,
    library: &str,
    headers: &[String],
    cflags: &[String],
) -> Result<(), ToolchainError> {
    for h in headers {
        if !valid_header(h) {
            return Err(ToolchainError::BadName {
                library: library.to_string(),
                what: "system header",
                name: h.clone(),
                rule: "a header is a relative path of letters, digits and _.+-/ without '..'",
            });
        }
        if !present(clang, h, cflags) {
            let hint = match hints::for_header(h) {
                Some(x) => hints::render(&x),
                None => hints::render_generic_header(h),
            };
            return Err(ToolchainError::MissingHeader {
                library: library.to_string(),
                header: h.clone(),
                hint,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_and_missing_headers() {
        let clang = crate::toolchain::find_clang(None).unwrap();
        check_system_headers(&clang, "x", &["stdio.h".to_string()], &[]).unwrap();
        assert!(present(&clang, "stdio.h", &[]) && probe(&clang, "stdio.h", &[]));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("only_here.h"), "").unwrap();
        let flags = vec![format!("-I{}", dir.path().display())];
        assert!(present(&clang, "only_here.h", &flags));
        assert!(!present(&clang, "only_here.h", &[]));
        let e = check_system_headers(&clang, "tls", &["coexmissing/ssl.h".to_string()], &[])
            .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Missing system dependency for library 'tls'\n\nRequired header not found: coexmissing/ssl.h\n\n"));
        assert!(!valid_header("a>\n#include </etc/passwd"));
    }
}
