//! `coex cxz find` and `coex cxz inspect` through the real binary: the
//! search order and not-found text of format §3, and the JSON schema.

mod cxz_common;

use std::path::Path;

use cxz_common::*;

fn put(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, zip_of(&library_with(GOOD_MANIFEST))).unwrap();
}

fn find(cwd: &Path, args: &[&str], coex_path: Option<&str>) -> (i32, String, String) {
    let mut cmd = coex(cwd);
    cmd.args(["cxz", "find"]).args(args);
    if let Some(cp) = coex_path {
        cmd.env("COEX_PATH", cp);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn not_found_prints_the_contract_text() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = find(dir.path(), &["regex"], None);
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: Library 'regex' not found\n\
         \n\
         Searched in:\n  \
         - ./lib/regex.cxz\n  \
         - ~/.coex/lib/regex.cxz\n  \
         - /usr/local/lib/coex/regex.cxz\n\
         \n\
         To install it into the project's lib folder (./lib), give its archive's path or URL:\n  \
         coex pkg install path/to/regex.cxz\n  \
         coex pkg install https://…/regex.cxz\n"
    );
}

#[test]
fn not_found_lists_extra_dirs_first_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = find(
        dir.path(),
        &["regex.cxz", "-L", "first", "-L", "/second"],
        Some("/third:/fourth"),
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "Searched in:\n  - first/regex.cxz\n  - /second/regex.cxz\n  - /third/regex.cxz\n  - /fourth/regex.cxz\n  - ./lib/regex.cxz\n"
        ),
        "{stderr}"
    );
}

#[test]
fn search_order_first_hit_wins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Present everywhere except the system folder; remove from the front.
    put(&d.join("ldir/good.cxz"));
    put(&d.join("cpdir/good.cxz"));
    put(&d.join("lib/good.cxz"));
    put(&d.join(".no-home/.coex/lib/good.cxz"));
    let cp = d.join("cpdir").display().to_string();

    let (code, out, _) = find(d, &["good", "-L", "ldir"], Some(&cp));
    assert_eq!((code, out.trim()), (0, "ldir/good.cxz"));

    let (_, out, _) = find(d, &["good"], Some(&cp));
    assert_eq!(out.trim(), d.join("cpdir/good.cxz").display().to_string());

    let (_, out, _) = find(d, &["good.cxz"], None);
    assert_eq!(out.trim(), d.join("lib/good.cxz").display().to_string());

    std::fs::remove_file(d.join("lib/good.cxz")).unwrap();
    let (_, out, _) = find(d, &["good"], None);
    assert_eq!(
        out.trim(),
        d.join(".no-home/.coex/lib/good.cxz").display().to_string()
    );
}

#[test]
fn a_string_with_a_slash_is_a_path() {
    let dir = tempfile::tempdir().unwrap();
    put(&dir.path().join("vendor/good.cxz"));
    let (code, out, _) = find(dir.path(), &["vendor/good.cxz"], None);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        dir.path().join("vendor/good.cxz").display().to_string()
    );
    let (code, _, stderr) = find(dir.path(), &["vendor/none.cxz"], None);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: Library file '"), "{stderr}");
}

#[test]
fn inspect_json_is_stable_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        "{GOOD_MANIFEST}\n[ffi.system]\nheaders = [\"zlib.h\"]\nlibs = [\"z\"]\npkg_config = [\"zlib\"]\n"
    );
    std::fs::write(dir.path().join("lib.cxz"), zip_of(&library_with(&manifest))).unwrap();
    let run = || {
        coex(dir.path())
            .args(["cxz", "inspect", "--json", "lib.cxz"])
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success());
    assert_eq!(first.stdout, run().stdout, "inspect output is not stable");
    let v: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let archive = coex::cxz::CxzArchive::open(&dir.path().join("lib.cxz")).unwrap();
    assert_eq!(v["digest"], archive.digest.as_str());
    assert_eq!(v["schema"], 1);
    assert_eq!(v["library"]["name"], "good");
    assert_eq!(
        v["library"]["modules"],
        serde_json::json!(["src/good.coex"])
    );
    let unit = &v["units"][0];
    assert_eq!(unit["sources"], serde_json::json!(["ffi/src/a.c"]));
    assert_eq!(unit["system_headers"], serde_json::json!(["zlib.h"]));
    assert_eq!(unit["system_libs"], serde_json::json!(["z"]));
    assert_eq!(unit["pkg_config"], serde_json::json!(["zlib"]));
    assert_eq!(
        unit["symbols"][0],
        serde_json::json!({"name": "coex_good_get", "params": [], "returns": "int"})
    );
    // Keys are sorted at every level: re-serialising through serde_json's
    // (sorted) map gives the same text.
    let resorted = serde_json::to_string_pretty(&v).unwrap() + "\n";
    assert_eq!(String::from_utf8_lossy(&first.stdout), resorted);
}

#[test]
fn inspect_text_lists_units_and_signatures() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lib.cxz"),
        zip_of(&library_with(GOOD_MANIFEST)),
    )
    .unwrap();
    let out = coex(dir.path())
        .args(["cxz", "inspect", "lib.cxz"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.starts_with("good 1.0.0\n"), "{text}");
    assert!(text.contains("    sources:        ffi/src/a.c\n"), "{text}");
    assert!(text.contains("      coex_good_get() -> int\n"), "{text}");
}

/// The good library's files unpacked under `lib`.
fn write_good_tree(lib: &Path) {
    for (name, bytes) in library_with(GOOD_MANIFEST) {
        let p = lib.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

#[test]
fn pack_into_missing_folders_creates_them() {
    let dir = tempfile::tempdir().unwrap();
    write_good_tree(&dir.path().join("tree"));
    let out = coex(dir.path())
        .args(["cxz", "pack", "tree", "-o", "no/such/good.cxz"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let same = coex(dir.path())
        .args(["cxz", "pack", "tree", "-o", "good.cxz"])
        .output()
        .unwrap();
    assert!(same.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("no/such/good.cxz")).unwrap(),
        std::fs::read(dir.path().join("good.cxz")).unwrap()
    );
}

#[test]
fn pack_into_a_new_folder_inside_the_library_is_refused_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_good_tree(&dir.path().join("tree"));
    let before = listing(dir.path());
    let out = coex(dir.path())
        .args(["cxz", "pack", "tree", "-o", "tree/ffi/new/good.cxz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: refusing to write tree/ffi/new/good.cxz: it is inside the library folder tree"
        ),
        "{stderr}"
    );
    assert_eq!(listing(dir.path()), before);
}

#[test]
fn pack_without_output_names_the_archive_after_the_library() {
    let dir = tempfile::tempdir().unwrap();
    write_good_tree(&dir.path().join("tree"));
    let out = coex(dir.path())
        .args(["cxz", "pack", "tree"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("packed good 1.0.0 -> good.cxz (3 files), digest "),
        "{stdout}"
    );
    let archive = coex::cxz::CxzArchive::open(&dir.path().join("good.cxz")).unwrap();
    assert!(stdout.trim_end().ends_with(&archive.digest));
}
