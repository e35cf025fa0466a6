//! Which files `coex cxz pack` packs, through the real binary: `.gitignore`
//! and `.coexignore` inside the library folder (git syntax, `!` re-includes,
//! an excluded folder stays excluded), build-system files never, nothing
//! read from outside the folder; a file the manifest names but the rules
//! leave out is an error; two copies of a library with different junk pack
//! to the same bytes, and so does `coex tool pack` (Bazel's file list).

mod cxz_common;

use std::path::Path;

use cxz_common::*;

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// The good library (manifest, `src/good.coex`, `ffi/src/a.c`) in `lib`.
fn good_tree(lib: &Path) {
    for (name, bytes) in library_with(GOOD_MANIFEST) {
        let p = lib.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// Runs `coex ARGS` in `cwd`; returns (exit code, stdout, stderr).
fn run(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = coex(cwd).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `coex cxz pack DIR -o OUT` in `cwd`, required to succeed; the archive's bytes.
fn pack(cwd: &Path, dir: &str, out: &str) -> Vec<u8> {
    let (code, _, stderr) = run(cwd, &["cxz", "pack", dir, "-o", out]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::read(cwd.join(out)).unwrap()
}

fn names(archive: &Path) -> Vec<String> {
    coex::cxz::CxzArchive::open(archive)
        .unwrap()
        .files
        .keys()
        .cloned()
        .collect()
}

#[test]
fn ignore_files_and_build_files_decide_what_is_packed() {
    let d = tempfile::tempdir().unwrap();
    let lib = d.path().join("lib");
    good_tree(&lib);
    write(
        &lib.join(".gitignore"),
        "build/\n*.tmp\n/ffi/src/extra_*.c\nbazel-*\n",
    );
    write(
        &lib.join(".coexignore"),
        "notes/\n!extra_keep.c\n!build/keep.o\n",
    );
    write(&lib.join("src/.gitignore"), "scratch.coex\n");
    for (path, body) in [
        ("README.md", "packed\n"),
        ("build/junk.o", "gitignored folder\n"),
        ("build/keep.o", "under an excluded folder: stays out\n"),
        ("x.tmp", "gitignored\n"),
        ("ffi/src/extra_one.c", "int one;\n"),
        ("ffi/src/extra_keep.c", "int keep;\n"),
        ("notes/draft.md", "coexignored\n"),
        ("src/scratch.coex", "ignored by a nested .gitignore\n"),
        ("BUILD.bazel", "cxz_archive()\n"),
        ("BUCK", "\n"),
        ("ffi/src/BUILD", "\n"),
        ("defs.bzl", "\n"),
        ("MODULE.bazel", "\n"),
        (".hidden.c", "int h;\n"),
        ("a.c~", "editor backup\n"),
    ] {
        write(&lib.join(path), body);
    }
    // An ignored link is never looked at (a link that is packed is an error).
    std::os::unix::fs::symlink("/tmp", lib.join("bazel-out")).unwrap();
    pack(d.path(), "lib", "good.cxz");
    assert_eq!(
        names(&d.path().join("good.cxz")),
        [
            "README.md",
            "ffi/src/a.c",
            "ffi/src/extra_keep.c",
            "manifest.toml",
            "src/good.coex"
        ]
    );
    // `coex tool pack --root` reads the folder the same way.
    let (code, _, stderr) = run(
        d.path(),
        &["tool", "pack", "--root", "lib", "-o", "tool.cxz"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(d.path().join("tool.cxz")).unwrap(),
        std::fs::read(d.path().join("good.cxz")).unwrap()
    );
}

#[test]
fn nothing_outside_the_library_folder_is_read() {
    let d = tempfile::tempdir().unwrap();
    let lib = d.path().join("repo/lib");
    good_tree(&lib);
    write(&lib.join("README.md"), "packed\n");
    // A .gitignore above the folder, the folder's own .git/info/exclude,
    // git's global excludes: none applies.
    write(&d.path().join("repo/.gitignore"), "README.md\n");
    write(&lib.join(".git/info/exclude"), "README.md\n");
    let home = d.path().join(".no-home");
    write(
        &home.join(".gitconfig"),
        "[core]\n\texcludesFile = ~/global-ignore\n",
    );
    write(&home.join("global-ignore"), "README.md\n");
    write(&home.join(".config/git/ignore"), "README.md\n");
    pack(d.path(), "repo/lib", "good.cxz");
    assert!(names(&d.path().join("good.cxz")).contains(&"README.md".to_string()));
}

#[test]
fn a_file_the_manifest_names_but_the_rules_leave_out_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let lib = d.path().join("lib");
    good_tree(&lib);
    write(&lib.join(".gitignore"), "*.c\n");
    let (code, _, stderr) = run(d.path(), &["cxz", "pack", "lib", "-o", "good.cxz"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "  - entry 'ffi/src/a.c': the manifest names it, but it is not packed: \
             it is ignored by '*.c' in .gitignore; remove that line, or re-include it \
             with a '!' line in .coexignore\n"
        ),
        "{stderr}"
    );
    assert!(!d.path().join("good.cxz").exists(), "nothing written");
    // Re-included by .coexignore, it is packed.
    write(&lib.join(".coexignore"), "!a.c\n");
    pack(d.path(), "lib", "good.cxz");

    // A module under an ignored folder names the folder.
    std::fs::remove_file(lib.join(".coexignore")).unwrap();
    write(&lib.join(".gitignore"), "src/\n");
    let (code, _, stderr) = run(d.path(), &["cxz", "pack", "lib", "-o", "other.cxz"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "entry 'src/good.coex': the manifest names it, but it is not packed \
             (its folder 'src/'): it is ignored by 'src/' in .gitignore"
        ),
        "{stderr}"
    );
    // The manifest itself.
    write(&lib.join(".gitignore"), "*.toml\n");
    let (code, _, stderr) = run(d.path(), &["cxz", "pack", "lib", "-o", "other.cxz"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("entry 'manifest.toml': the manifest names it, but it is not packed"),
        "{stderr}"
    );
}

#[test]
fn a_broken_ignore_file_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let lib = d.path().join("lib");
    good_tree(&lib);
    write(&lib.join("ffi/.coexignore"), "ok.o\n{unclosed\n");
    let (code, _, stderr) = run(d.path(), &["cxz", "pack", "lib", "-o", "good.cxz"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: Cannot pack: lib/ffi/.coexignore: line 2: "),
        "{stderr}"
    );
    assert!(stderr.contains("{unclosed"), "{stderr}");
    assert!(!d.path().join("good.cxz").exists());
}

#[test]
fn two_copies_with_different_junk_pack_to_the_same_bytes() {
    let d = tempfile::tempdir().unwrap();
    let one = d.path().join("one/good");
    let two = d.path().join("elsewhere/deeper/copy");
    good_tree(&one);
    good_tree(&two);
    write(&one.join(".gitignore"), "build/\n");
    write(&one.join("build/junk.o"), "junk\n");
    write(&one.join("BUILD.bazel"), "cxz_archive()\n");
    write(&one.join(".DS_Store"), "x");
    write(&one.join("ffi/src/a.c~"), "old\n");
    write(&two.join(".coexignore"), "*.log\nout/\n");
    write(&two.join("debug.log"), "log\n");
    write(&two.join("out/good.cxz"), "not an archive\n");
    write(&two.join(".git/HEAD"), "ref: refs/heads/main\n");
    write(&two.join("BUCK"), "\n");
    write(&two.join("ffi/src/tools.bzl"), "\n");
    let a = pack(d.path(), "one/good", "a.cxz");
    let b = pack(d.path(), "elsewhere/deeper/copy", "b.cxz");
    assert_eq!(a, b);
}

#[test]
fn the_bazel_file_list_leaves_out_what_pack_never_packs() {
    let d = tempfile::tempdir().unwrap();
    let lib = d.path().join("lib");
    good_tree(&lib);
    write(&lib.join("BUILD.bazel"), "cxz_archive()\n");
    write(&lib.join("ffi/src/.clang-format"), "x\n");
    let packed = pack(d.path(), "lib", "good.cxz");
    let file = |p: &str| format!("{p}=lib/{p}");
    let mut args = vec!["tool", "pack", "--manifest", "lib/manifest.toml"];
    let files: Vec<String> = [
        "src/good.coex",
        "ffi/src/a.c",
        "BUILD.bazel",
        "ffi/src/.clang-format",
    ]
    .iter()
    .map(|p| file(p))
    .collect();
    for f in &files {
        args.extend(["--file", f.as_str()]);
    }
    args.extend(["-o", "tool.cxz"]);
    let (code, _, stderr) = run(d.path(), &args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read(d.path().join("tool.cxz")).unwrap(), packed);
}
