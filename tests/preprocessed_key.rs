//! The preprocessed-text key of FFI compiles (docs/cache.md, "Preprocessed
//! text"): a comment edit that keeps the lines costs a preprocess, not a
//! compile, and what it reuses is byte for byte what a fresh compile of the
//! edited source gives. Real binary, real clang.

#[path = "support/isolated.rs"]
mod isolated;

use std::fs;
use std::path::Path;

use isolated::isolated_coex;

/// Packs a library with one unit `u` over `a.c` holding `c_source`.
fn pack(root: &Path, c_source: &str) {
    let dir = root.join("lib");
    fs::create_dir_all(dir.join("src")).unwrap();
    fs::create_dir_all(dir.join("ffi/src")).unwrap();
    fs::write(
        dir.join("manifest.toml"),
        "[library]\nname = \"probe\"\nversion = \"1.0.0\"\n\n[ffi.u]\nsource = [\"a.c\"]\n\n\
         [[ffi.u.symbols]]\nname = \"probe_value\"\nreturns = \"int\"\n",
    )
    .unwrap();
    fs::write(
        dir.join("src/probe.coex"),
        "extern probe_value() -> int\n~\n",
    )
    .unwrap();
    fs::write(dir.join("ffi/src/a.c"), c_source).unwrap();
    let out = coex(root, "cache", &["cxz", "pack", "lib", "-o", "probe.cxz"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn coex(root: &Path, cache: &str, args: &[&str]) -> std::process::Output {
    isolated_coex(root, &root.join(cache), &root.join("home"))
        .env("TMPDIR", root.join("tmp"))
        .args(args)
        .output()
        .unwrap()
}

/// Builds into `out` with cache `cache`: how the compile of a.c was
/// satisfied (its report line, word for word) and the image's bytes.
fn build(root: &Path, cache: &str, out: &str) -> (String, Vec<u8>) {
    let o = coex(root, cache, &["cxz", "build", "-v", "probe.cxz", "-o", out]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "{stderr}");
    let report = format!("{stdout}{stderr}");
    // `-v` status lines: `Compiling ID`, `Cached ID`, `Cached ID (preprocessed)`.
    let status = report
        .lines()
        .map(str::trim)
        .find(|l| l.contains(" compile:probe/u/a.c"))
        .unwrap_or_else(|| panic!("no compile line in:\n{report}"));
    let line = match status.split_whitespace().next() {
        Some("Compiling") => "ran",
        Some("Cached") if status.ends_with("(preprocessed)") => "cached (preprocessed)",
        Some("Cached") => "cached",
        Some("Remote") => "remote",
        _ => panic!("unexpected status line: {status}"),
    };
    let image = fs::read(root.join(out).join("libu.so")).unwrap();
    (line.trim().to_string(), image)
}

const SOURCE: &str = "/* version one */\n#include <string.h>\n\
    long probe_value(void) { return (int)strlen(\"abc\") + __LINE__; }\n";

#[test]
fn a_comment_edit_is_a_preprocessed_hit_equal_to_a_fresh_compile() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fs::create_dir_all(root.join("tmp")).unwrap();
    pack(root, SOURCE);
    assert_eq!(build(root, "cache", "out").0, "ran");
    assert_eq!(build(root, "cache", "out").0, "cached");
    // Same lines, another comment: the text after preprocessing is equal.
    pack(
        root,
        &SOURCE.replace("version one", "the second version, longer"),
    );
    let (word, image) = build(root, "cache", "out2");
    assert_eq!(word, "cached (preprocessed)");
    // The direct key was recorded with it: the next build is a direct hit.
    assert_eq!(build(root, "cache", "out3").0, "cached");
    // What a compile of the edited source with an empty cache gives.
    let (word, fresh) = build(root, "fresh", "out4");
    assert_eq!(word, "ran");
    assert!(
        image == fresh,
        "the reused image differs from a fresh build"
    );
}

#[test]
fn a_moved_line_or_a_code_edit_is_compiled() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fs::create_dir_all(root.join("tmp")).unwrap();
    pack(root, SOURCE);
    assert_eq!(build(root, "cache", "out").0, "ran");
    // One more line before __LINE__: the line markers and the value differ.
    pack(
        root,
        &SOURCE.replace("/* version one */\n", "/* version\n one */\n"),
    );
    let (word, image) = build(root, "cache", "out2");
    assert_eq!(word, "ran");
    let (_, fresh) = build(root, "fresh", "out3");
    assert!(image == fresh);
    pack(root, &SOURCE.replace("\"abc\"", "\"abcd\""));
    assert_eq!(build(root, "cache", "out4").0, "ran");
}
