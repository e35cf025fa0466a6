//! Compatibility and determinism: archives made by ordinary zip tools (the
//! real `zip -r`, Python's zipfile) in the layout of the original Python
//! compiler's libraries load, and hash to the same content digest as
//! `coex cxz pack` of the same tree; packing is byte-for-byte reproducible.

mod cxz_common;
#[path = "support/real_zip.rs"]
mod real_zip;

use std::path::Path;
use std::process::Command as Proc;

use cxz_common::*;
use real_zip::zip_r;

/// A library laid out like the original compiler's `lib/regex.cxz`: it
/// declares `coex_regex_error` in the manifest without a Coex extern.
fn write_python_style_tree(root: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "manifest.toml",
            r#"[library]
name = "regex"
version = "1.0.0"
description = "POSIX regular expressions"
authors = ["Coex Project"]
license = "BSD-2-Clause"
source = ["regex.coex"]

[ffi.regex]
source = ["coex_wrapper.c", "rxspencer/reg*.c"]
headers = [".", "rxspencer"]
system_headers = []
system_libs = []

[[ffi.regex.symbols]]
name = "coex_regex_compile"
params = ["string", "int"]
returns = "int"

[[ffi.regex.symbols]]
name = "coex_regex_match"
params = ["int", "string"]
returns = "bool"

[[ffi.regex.symbols]]
name = "coex_regex_free"
params = ["int"]

[[ffi.regex.symbols]]
name = "coex_regex_error"
params = ["int"]
returns = "string"
"#,
        ),
        (
            "src/regex.coex",
            "extern coex_regex_compile(pattern: string, flags: int) -> int\n~\n\
             extern coex_regex_match(handle: int, text: string) -> bool\n~\n\
             extern coex_regex_free(handle: int)\n~\n",
        ),
        (
            "ffi/src/coex_wrapper.c",
            "#include \"regex.h\"\nint coex_wrapper_marker;\n",
        ),
        ("ffi/src/rxspencer/regex.h", "/* header */\n"),
        ("ffi/src/rxspencer/regcomp.c", "int rx_regcomp_marker;\n"),
        ("ffi/src/rxspencer/regexec.c", "int rx_regexec_marker;\n"),
        ("ffi/src/rxspencer/regerror.c", "int rx_regerror_marker;\n"),
        ("README.md", "# regex\n"),
        ("LICENSE", "BSD-2-Clause\n"),
    ];
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn inspect_json(cwd: &Path, archive: &str) -> serde_json::Value {
    let out = coex(cwd)
        .args(["cxz", "inspect", "--json", archive])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inspect failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pack(cwd: &Path, dir: &Path, out: &Path) {
    let o = coex(cwd)
        .args(["cxz", "pack"])
        .arg(dir)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "pack failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn packed_digest(work: &Path, tree: &Path) -> String {
    pack(work, tree, &work.join("packed.cxz"));
    inspect_json(work, "packed.cxz")["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn zip_r_archive_loads_and_matches_pack_digest() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("regex");
    write_python_style_tree(&tree);
    // The real Info-ZIP command, run the way library authors do: with
    // directory entries, real timestamps and mixed compression.
    zip_r(&tree, &[], Path::new("../regex_zip.cxz"), &["."]);
    let listing = Proc::new("unzip")
        .args(["-Z1", "regex_zip.cxz"])
        .current_dir(work.path())
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(names.lines().any(|l| l == "ffi/src/rxspencer/"), "{names}");

    let json = inspect_json(work.path(), "regex_zip.cxz");
    let unit = &json["units"][0];
    assert_eq!(unit["name"], "regex");
    assert_eq!(
        unit["sources"],
        serde_json::json!([
            "ffi/src/coex_wrapper.c",
            "ffi/src/rxspencer/regcomp.c",
            "ffi/src/rxspencer/regerror.c",
            "ffi/src/rxspencer/regexec.c"
        ])
    );
    assert_eq!(
        unit["include_dirs"],
        serde_json::json!(["ffi/src", "ffi/src/rxspencer"])
    );
    assert_eq!(unit["symbols"][3]["name"], "coex_regex_error");
    assert_eq!(unit["symbols"][2]["returns"], "void");

    let zip_digest = json["digest"].as_str().unwrap().to_string();
    assert_eq!(zip_digest, packed_digest(work.path(), &tree));

    // Stored instead of deflated: same content, same digest.
    zip_r(&tree, &["-0"], Path::new("../regex_stored.cxz"), &["."]);
    assert_eq!(
        inspect_json(work.path(), "regex_stored.cxz")["digest"],
        zip_digest.as_str()
    );
}

#[test]
fn python_zipfile_archive_loads_and_matches_pack_digest() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("regex");
    write_python_style_tree(&tree);
    let script = r#"
import os, sys, zipfile
root, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w") as z:
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            z.write(dirpath, rel + "/")          # directory entry
        for i, name in enumerate(sorted(filenames)):
            full = os.path.join(dirpath, name)
            arc = os.path.normpath(os.path.join(rel, name))
            method = zipfile.ZIP_DEFLATED if i % 2 == 0 else zipfile.ZIP_STORED
            z.write(full, arc, compress_type=method)
"#;
    let status = Proc::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&tree)
        .arg(work.path().join("regex_py.cxz"))
        .status()
        .expect("python3 is installed");
    assert!(status.success());
    let v = coex(work.path())
        .args(["cxz", "verify", "regex_py.cxz"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&v.stdout);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    assert!(
        stdout.starts_with("ok: regex 1.0.0 (1 module, 1 FFI unit, 4 symbols), digest "),
        "{stdout}"
    );
    let py_digest = inspect_json(work.path(), "regex_py.cxz")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(py_digest, packed_digest(work.path(), &tree));
}

#[test]
fn packing_is_byte_identical_across_runs_and_directories() {
    let work = tempfile::tempdir().unwrap();
    let a = work.path().join("one/regex");
    write_python_style_tree(&a);
    pack(work.path(), &a, &work.path().join("a1.cxz"));
    pack(work.path(), &a, &work.path().join("a2.cxz"));

    // A copy elsewhere, written later, with other permissions.
    let b = work.path().join("two/deeper/regex");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write_python_style_tree(&b);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(b.join("README.md"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    pack(work.path(), &b, &work.path().join("b.cxz"));

    let a1 = std::fs::read(work.path().join("a1.cxz")).unwrap();
    let a2 = std::fs::read(work.path().join("a2.cxz")).unwrap();
    let b1 = std::fs::read(work.path().join("b.cxz")).unwrap();
    assert!(!a1.is_empty());
    assert_eq!(a1, a2, "same tree packed twice differs");
    assert_eq!(a1, b1, "a copy of the tree packs differently");
}

#[test]
fn pack_skips_vcs_and_editor_junk() {
    let work = tempfile::tempdir().unwrap();
    let clean = work.path().join("clean");
    let dirty = work.path().join("dirty");
    write_python_style_tree(&clean);
    write_python_style_tree(&dirty);
    for junk in [
        ".git/HEAD",
        ".git/objects/ab/cdef",
        "src/regex.coex~",
        "ffi/src/.coex_wrapper.c.swp",
        ".DS_Store",
    ] {
        let p = dirty.join(junk);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "junk").unwrap();
    }
    pack(work.path(), &clean, &work.path().join("clean.cxz"));
    pack(work.path(), &dirty, &work.path().join("dirty.cxz"));
    assert_eq!(
        std::fs::read(work.path().join("clean.cxz")).unwrap(),
        std::fs::read(work.path().join("dirty.cxz")).unwrap()
    );
}

#[test]
fn pack_output_inside_the_tree_is_not_packed_into_itself() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("regex");
    write_python_style_tree(&tree);
    pack(work.path(), &tree, &tree.join("regex.cxz"));
    let first = std::fs::read(tree.join("regex.cxz")).unwrap();
    pack(work.path(), &tree, &tree.join("regex.cxz"));
    assert_eq!(first, std::fs::read(tree.join("regex.cxz")).unwrap());
}

/// Runs `coex cxz pack regex -o out.cxz` in `work` and asserts it is
/// refused: status 1, no panic, nothing written. Returns its stderr.
fn pack_refused(work: &Path) -> String {
    let before = listing(work);
    let out = coex(work)
        .args(["cxz", "pack", "regex", "-o", "out.cxz"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(listing(work), before);
    stderr
}

#[cfg(unix)]
#[test]
fn pack_refuses_symlinks_and_leaves_nothing() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("regex");
    write_python_style_tree(&tree);
    std::os::unix::fs::symlink("/etc/passwd", tree.join("ffi/src/passwd.h")).unwrap();
    let stderr = pack_refused(work.path());
    assert!(
        stderr.contains("error: Cannot pack ")
            && stderr.contains("passwd.h: it is a symbolic link"),
        "{stderr}"
    );
}

#[test]
fn pack_refuses_an_invalid_library_and_leaves_nothing() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("regex");
    write_python_style_tree(&tree);
    let manifest = std::fs::read_to_string(tree.join("manifest.toml")).unwrap();
    std::fs::write(
        tree.join("manifest.toml"),
        manifest.replace(
            "headers = [\".\", \"rxspencer\"]",
            "headers = [\"/usr/include\"]",
        ),
    )
    .unwrap();
    let stderr = pack_refused(work.path());
    assert!(
        stderr.contains("manifest.toml [ffi.regex]: headers: path '/usr/include' is absolute"),
        "{stderr}"
    );
}

#[test]
fn digest_ignores_zip_metadata_but_not_content() {
    let files = library_with(GOOD_MANIFEST);
    let deflated = coex::cxz::CxzArchive::from_bytes(&zip_of(&files), "a").unwrap();
    let stored =
        coex::cxz::CxzArchive::from_bytes(&zip_with(&files, zip::CompressionMethod::Stored), "b")
            .unwrap();
    let mut reversed = files.clone();
    reversed.reverse();
    let reordered = coex::cxz::CxzArchive::from_bytes(&zip_of(&reversed), "c").unwrap();
    assert_eq!(deflated.digest, stored.digest);
    assert_eq!(deflated.digest, reordered.digest);

    let mut changed = files.clone();
    changed[2].1.push(b'\n');
    let changed = coex::cxz::CxzArchive::from_bytes(&zip_of(&changed), "d").unwrap();
    assert_ne!(deflated.digest, changed.digest);
    assert_ne!(deflated.ffi_src_digest(), changed.ffi_src_digest());
}

#[test]
fn pack_with_a_failing_extra_check_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("regex");
    write_python_style_tree(&tree);
    let out = work.path().join("out.cxz");
    let before = listing(work.path());
    let err = coex::cxz::pack_dir_checked(&tree, &out, |archive| {
        // What the front end does: compare the externs it parsed.
        let decl = coex::cxz::ExternDecl {
            module: "src/regex.coex".into(),
            line: 1,
            name: "coex_regex_compile".into(),
            params: vec![coex::cxz::BoundaryType::String],
            returns: coex::cxz::BoundaryType::Int,
        };
        coex::cxz::verify_externs(&archive.manifest, &[decl])
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("src/regex.coex:1: extern 'coex_regex_compile' is declared as (string) -> int here but as (string, int) -> int"), "{text}");
    assert_eq!(listing(work.path()), before);
}
