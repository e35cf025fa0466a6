//! Helpers shared by the `cxz_*` integration tests: building archives with
//! the real zip writer, byte surgery where the writer refuses, and running
//! the real `coex` binary in a private temporary directory.
#![allow(dead_code)]

#[path = "../support/isolated.rs"]
mod isolated;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use isolated::isolated_coex;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// A valid manifest with one FFI unit (`unit`) over `ffi/src/a.c`.
pub const GOOD_MANIFEST: &str = r#"[library]
name = "good"
version = "1.0.0"
description = "test library"
authors = ["Tester"]
license = "MIT"
source = ["good.coex"]

[ffi.unit]
source = ["a.c"]
headers = ["."]

[[ffi.unit.symbols]]
name = "coex_good_get"
returns = "int"
"#;

pub const GOOD_COEX: &str = "extern coex_good_get() -> int\n~\n";
pub const GOOD_C: &str = "#include <stdint.h>\nint64_t coex_good_get(void) { return 42; }\n";

/// The files of a valid library with `manifest` as its manifest.
pub fn library_with(manifest: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        ("manifest.toml".into(), manifest.as_bytes().to_vec()),
        ("src/good.coex".into(), GOOD_COEX.as_bytes().to_vec()),
        ("ffi/src/a.c".into(), GOOD_C.as_bytes().to_vec()),
    ]
}

/// A valid library's files plus `extra` entries.
pub fn good_plus(extra: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    let mut files = library_with(GOOD_MANIFEST);
    files.extend(extra.iter().map(|(n, b)| (n.to_string(), b.to_vec())));
    files
}

pub fn opts(method: CompressionMethod) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(method)
        .unix_permissions(0o644)
}

/// ZIP bytes holding `files` in the given order (deflated).
pub fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    zip_with(files, CompressionMethod::Deflated)
}

/// ZIP bytes holding `files` with one compression method.
pub fn zip_with(files: &[(String, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
    let mut w = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(name.as_str(), opts(method))
            .expect("start_file");
        w.write_all(bytes).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// Replaces every occurrence of `from` by `to` (same length) in `bytes`;
/// returns how many were replaced.
pub fn patch_all(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len(), "byte surgery must keep lengths");
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    n
}

/// Offsets of the local header and the central header of entry `name`.
pub fn headers_of(bytes: &[u8], name: &[u8]) -> (usize, usize) {
    let find = |sig: &[u8], name_at: usize| -> usize {
        (0..bytes.len() - 4)
            .find(|&p| {
                &bytes[p..p + 4] == sig
                    && bytes.get(p + name_at..p + name_at + name.len()) == Some(name)
            })
            .expect("header not found")
    };
    (find(b"PK\x03\x04", 30), find(b"PK\x01\x02", 46))
}

/// Writes `bytes` as `lib.cxz` in a fresh temp dir, returns (dir, path).
pub fn archive_in_tempdir(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lib.cxz");
    std::fs::write(&path, bytes).expect("write archive");
    (dir, path)
}

/// All paths (files and folders) under `dir`, relative, sorted.
pub fn listing(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            out.insert(
                p.strip_prefix(dir)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned(),
            );
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out
}

/// `coex` with a private cache and home so nothing touches the real user.
pub fn coex(cwd: &Path) -> Command {
    isolated_coex(cwd, &cwd.join(".no-cache"), &cwd.join(".no-home"))
}

/// Runs `coex cxz verify` and `coex cxz inspect` (text and JSON) on `bytes`
/// and asserts each exits 1 with `expected` in stderr, no panic, and that
/// the directory holds only the archive afterwards. Returns verify's stderr.
pub fn assert_rejected(bytes: &[u8], expected: &str) -> String {
    let (dir, _path) = archive_in_tempdir(bytes);
    let mut verify_stderr = String::new();
    for args in [
        &["cxz", "verify", "lib.cxz"][..],
        &["cxz", "inspect", "lib.cxz"][..],
        &["cxz", "inspect", "--json", "lib.cxz"][..],
    ] {
        let out = coex(dir.path()).args(args).output().expect("run coex");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: stderr:\n{stderr}\nstdout:\n{stdout}"
        );
        assert!(stderr.starts_with("error: "), "{args:?}: stderr:\n{stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in stderr:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: panic:\n{stderr}");
        assert!(stdout.is_empty(), "{args:?}: unexpected stdout:\n{stdout}");
        if verify_stderr.is_empty() {
            verify_stderr = stderr;
        }
    }
    let expected_listing: BTreeSet<String> = ["lib.cxz".to_string()].into_iter().collect();
    assert_eq!(
        listing(dir.path()),
        expected_listing,
        "something was written"
    );
    verify_stderr
}
