//! The limits of docs/cxz.md ("Limits", "Finding a library") and of the
//! command line, through the real binary: units per library, sources per
//! unit, the echo of thousands of `-L` folders, `-j 0`.

#[path = "cxz_common/mod.rs"]
mod cxz_common;

use cxz_common::{assert_rejected, coex, zip_of};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A library with `units` units over one shared C file, each listing
/// `sources` C files of its own folder.
fn library(units: usize, sources: usize) -> Vec<(String, Vec<u8>)> {
    let mut manifest = String::from("[library]\nname = \"big\"\nversion = \"1.0.0\"\n");
    let mut files = vec![("src/big.coex".to_string(), b"// big\n".to_vec())];
    for u in 0..units {
        manifest.push_str(&format!("\n[ffi.u{u}]\nsource = [\"u{u}/*.c\"]\n"));
        for s in 0..sources {
            files.push((
                format!("ffi/src/u{u}/s{s}.c"),
                format!("long f{u}_{s}(void) {{ return {s}; }}\n").into_bytes(),
            ));
        }
    }
    files.insert(0, ("manifest.toml".to_string(), manifest.into_bytes()));
    files
}

#[test]
fn units_per_library_are_capped_at_256() {
    // 256 is fine …
    let (dir, _) = cxz_common::archive_in_tempdir(&zip_of(&library(256, 1)));
    let o = coex(dir.path())
        .args(["cxz", "verify", "lib.cxz"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    // … 257 and 5,001 are one problem each, naming the number.
    for n in [257, 5001] {
        let err = assert_rejected(
            &zip_of(&library(n, 1)),
            &format!(
                "manifest.toml [ffi]: the library declares {n} FFI units; at most 256 are allowed"
            ),
        );
        assert!(err.contains("put related C files into one unit"), "{err}");
        assert_eq!(err.matches("manifest.toml").count(), 1, "{err}");
    }
}

#[test]
fn sources_per_unit_are_capped_at_4096() {
    let (dir, _) = cxz_common::archive_in_tempdir(&zip_of(&library(1, 4096)));
    let o = coex(dir.path())
        .args(["cxz", "verify", "lib.cxz"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = assert_rejected(
        &zip_of(&library(1, 4097)),
        "manifest.toml [ffi.u0]: source: the unit lists 4097 C files; at most 4096 are allowed per unit: split it into several units",
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn twenty_thousand_search_folders_are_echoed_in_a_dozen_lines() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("app.coex"),
        "import \"nolib\"\n\nfunc main() -> int\n    return 0\n~\n",
    )
    .unwrap();
    let mut cmd = coex(t.path());
    cmd.args(["build", "app.coex"]);
    for i in 0..20_000 {
        cmd.arg("-L").arg(format!("/nonexistent/d{i}"));
    }
    let o = cmd.output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", &err[..err.len().min(2000)]);
    assert!(err.contains("Library 'nolib' not found"), "{err}");
    assert!(err.lines().count() < 40, "{} lines", err.lines().count());
    let listed: Vec<&str> = err.lines().filter(|l| l.starts_with("  - ")).collect();
    assert_eq!(listed.len(), 12, "{err}");
    assert_eq!(listed[0], "  - /nonexistent/d0/nolib.cxz");
    assert_eq!(listed[8], "  - … and 19992 more", "{err}");
    assert!(
        listed[11].ends_with("/usr/local/lib/coex/nolib.cxz"),
        "{err}"
    );
}

#[test]
fn jobs_zero_is_refused_by_the_command_line() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("lib.cxz"), b"not read").unwrap();
    for args in [
        &["cxz", "build", "lib.cxz", "-j", "0"][..],
        &["cxz", "build", "lib.cxz", "--jobs=0"][..],
        &["build", "app.coex", "-j", "0"][..],
    ] {
        let o = coex(t.path()).args(args).output().unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("invalid value '0' for '--jobs <N>': 0 would run no action at all: give 1 or more, or leave -j out to run one action per core"),
            "{args:?}: {err}"
        );
    }
    let o = coex(t.path())
        .args(["cxz", "build", "lib.cxz", "-j", "x"])
        .output()
        .unwrap();
    assert!(
        text(&o.stderr).contains("'x' is not a whole number"),
        "{}",
        text(&o.stderr)
    );
    // -j 1 is accepted (the archive is what fails here).
    let o = coex(t.path())
        .args(["cxz", "build", "lib.cxz", "-j", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("--jobs"), "{}", text(&o.stderr));
}
