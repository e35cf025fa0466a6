//! The cflags allow-list and `!` exclusions in `source`, through the real
//! binary with real clang: a library built with `-g -pthread
//! -fvisibility=hidden …` and `source = ["*.c", "!main.c", …]` runs, gives
//! byte-identical images and executables in two folders with two caches,
//! names neither folder in its DWARF; the manifest's flags come after
//! `-O2` and before coex's `-Werror=date-time`; each refused flag and each
//! bad exclusion is an error naming it.

#[path = "e2e/common.rs"]
mod common;

use common::isolated::isolated_coex;
use common::{actions_that, text};
use std::path::Path;
use std::process::{Command, Output};

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, body).expect("write");
}

/// `coex ARGS` in `cwd` with cache `cwd/cache` and home `cwd/home`.
fn coex(cwd: &Path, args: &[&str]) -> Output {
    isolated_coex(cwd, &cwd.join("cache"), &cwd.join("home"))
        .args(args)
        .output()
        .expect("run coex")
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

const FLAGS: &str = r#"["-g", "-O3", "-pthread", "-fvisibility=hidden", "-ffunction-sections",
          "-fdata-sections", "-ffp-contract=off", "-std=c11", "-Wall"]"#;

/// Library `flagged` in `dir`: one unit whose `source` selects `*.c` and
/// excludes `main.c` and `broken_*.c` (each would break the link: a second
/// `flagged_helper`, a call to a function defined nowhere).
fn write_library(dir: &Path, source: &str, cflags: &str) {
    write(
        &dir.join("manifest.toml"),
        &format!(
            "[library]\nname = \"flagged\"\nversion = \"0.1.0\"\n\n\
             [ffi.core]\nsource  = {source}\nheaders = [\".\"]\ncflags  = {cflags}\n\n\
             [[ffi.core.symbols]]\nname    = \"coex_flagged_count\"\n\
             params  = [\"int\"]\nreturns = \"int\"\n"
        ),
    );
    write(
        &dir.join("src/flagged.coex"),
        "extern coex_flagged_count(n: int) -> int\n~\n\n\
         func flagged_count(n: int) -> int\n    return coex_flagged_count(n)\n~\n",
    );
    write(
        &dir.join("ffi/src/flagged.h"),
        "#include <stdint.h>\n\
         /* -fvisibility=hidden: what the manifest lists must be marked default */\n\
         #define FLAGGED_API __attribute__((visibility(\"default\")))\n\
         FLAGGED_API int64_t coex_flagged_count(int64_t n);\n\
         int64_t flagged_helper(int64_t n);\n",
    );
    write(
        &dir.join("ffi/src/api.c"),
        "#ifndef _REENTRANT\n#error \"-pthread did not reach the compile\"\n#endif\n\
         #include <pthread.h>\n#include \"flagged.h\"\n\
         static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;\n\
         static int64_t total;\n\
         int64_t coex_flagged_count(int64_t n) {\n\
             pthread_mutex_lock(&lock);\n\
             total += flagged_helper(n);\n\
             int64_t r = total;\n\
             pthread_mutex_unlock(&lock);\n\
             return r;\n}\n",
    );
    write(
        &dir.join("ffi/src/helper.c"),
        "#include \"flagged.h\"\nint64_t flagged_helper(int64_t n) { return n * 2 + 1; }\n",
    );
    write(
        &dir.join("ffi/src/main.c"),
        "#include \"flagged.h\"\nint64_t flagged_helper(int64_t n) { return n; }\n\
         int main(void) { return (int)flagged_helper(0); }\n",
    );
    write(
        &dir.join("ffi/src/broken_1.c"),
        "long not_defined_anywhere(long);\nlong broken(long x) { return not_defined_anywhere(x); }\n",
    );
}

/// Packs `lib` into `cwd/flagged.cxz` and writes a program using it.
fn pack_and_program(cwd: &Path, lib: &Path) {
    let o = coex(
        cwd,
        &["cxz", "pack", lib.to_str().unwrap(), "-o", "flagged.cxz"],
    );
    ok(&o, "coex cxz pack");
    write(
        &cwd.join("main.coex"),
        "import \"flagged\"\n\nfunc main() -> int\n    print(flagged_count(20))\n    \
         print(flagged_count(1))\n    return 0\n~\n",
    );
}

/// True if `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn tool(program: &str, args: &[&str], file: &Path) -> String {
    let o = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .expect(program);
    assert!(o.status.success(), "{program}: {}", text(&o.stderr));
    text(&o.stdout)
}

/// Builds the library's image and a program in `cwd` (its own cache),
/// runs the program; returns (image bytes, executable bytes).
fn build_in(cwd: &Path, lib: &Path) -> (Vec<u8>, Vec<u8>) {
    std::fs::create_dir_all(cwd).unwrap();
    pack_and_program(cwd, lib);
    ok(
        &coex(cwd, &["cxz", "build", "flagged.cxz"]),
        "coex cxz build",
    );
    ok(
        &coex(cwd, &["build", "main.coex", "-o", "app", "-L", "."]),
        "coex build",
    );
    let run = Command::new(cwd.join("app")).output().expect("run app");
    ok(&run, "the program");
    // helper.c's 20*2+1, then 41 + 1*2+1: main.c's helper was not linked.
    assert_eq!(text(&run.stdout), "41\n44\n");
    let image = cwd.join("target-coex/flagged/libcore.so");
    (
        std::fs::read(image).unwrap(),
        std::fs::read(cwd.join("app")).unwrap(),
    )
}

#[test]
fn debug_info_and_the_new_flags_build_byte_identical_in_two_folders() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let lib = root.join("lib-src");
    write_library(&lib, r#"["*.c", "!main.c", "!broken_*.c"]"#, FLAGS);
    let (first, second) = (root.join("one"), root.join("two/deeper/place"));
    let (image_a, app_a) = build_in(&first, &lib);
    let (image_b, app_b) = build_in(&second, &lib);
    assert!(image_a == image_b, "unit images differ between folders");
    assert!(app_a == app_b, "executables differ between folders");

    let image = first.join("target-coex/flagged/libcore.so");
    let sections = tool("readelf", &["-S", "-W"], &image);
    assert!(
        sections.contains(".debug_info"),
        "-g gave no DWARF:\n{sections}"
    );
    assert!(sections.contains(".debug_line"), "{sections}");
    // The DWARF names the sources relative to the scratch folder mapped to `.`.
    let dwarf = tool("llvm-dwarfdump", &["--debug-info"], &image);
    assert!(dwarf.contains("DW_AT_comp_dir\t(\".\")"), "{dwarf}");
    assert!(dwarf.contains("src/api.c"), "{dwarf}");
    for (name, bytes) in [("image", &image_a), ("executable", &app_a)] {
        for folder in [&root, &first, &second] {
            let folder = folder.to_str().unwrap().as_bytes();
            assert!(!contains(bytes, folder), "the {name} names a build folder");
        }
        assert!(!contains(bytes, b"/tmp/"), "the {name} names a /tmp path");
    }
    // -fvisibility=hidden: the marked manifest symbol is exported, the
    // helper is not.
    let dynsyms = tool("readelf", &["--dyn-syms", "-W"], &image);
    assert!(dynsyms.contains(" coex_flagged_count"), "{dynsyms}");
    assert!(!dynsyms.contains("flagged_helper"), "{dynsyms}");
    // Without -g the image has no DWARF at all.
    write_library(
        &lib,
        r#"["*.c", "!main.c", "!broken_*.c"]"#,
        r#"["-pthread"]"#,
    );
    let plain = root.join("plain");
    let (image_plain, _) = build_in(&plain, &lib);
    assert_ne!(image_plain, image_a);
    let image = plain.join("target-coex/flagged/libcore.so");
    assert!(!tool("readelf", &["-S", "-W"], &image).contains(".debug_info"));
}

#[test]
fn with_debug_info_a_comment_edit_compiles_again_and_matches_a_fresh_build() {
    // DWARF holds each source's MD5, so the preprocessed text (the same
    // after a comment edit) must not stand for the object.
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let lib = root.join("lib-src");
    write_library(&lib, r#"["*.c", "!main.c", "!broken_*.c"]"#, FLAGS);
    pack_and_program(root, &lib);
    ok(&coex(root, &["cxz", "build", "flagged.cxz"]), "first build");
    write(
        &lib.join("ffi/src/helper.c"),
        "#include \"flagged.h\"\nint64_t flagged_helper(int64_t n) { /* 2n+1 */ return n * 2 + 1; }\n",
    );
    pack_and_program(root, &lib);
    let o = coex(root, &["cxz", "build", "-v", "flagged.cxz"]);
    ok(&o, "build after a comment edit");
    let err = text(&o.stderr);
    let ran = actions_that(&err, "ran");
    assert!(ran.iter().any(|a| a.contains("core/helper.c")), "{err}");
    assert!(!err.contains("(preprocessed)"), "{err}");
    let image = "target-coex/flagged/libcore.so";
    let incremental = std::fs::read(root.join(image)).unwrap();
    let fresh = root.join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    pack_and_program(&fresh, &lib);
    ok(
        &coex(&fresh, &["cxz", "build", "flagged.cxz"]),
        "fresh build",
    );
    assert!(
        std::fs::read(fresh.join(image)).unwrap() == incremental,
        "the incremental image differs from a fresh build's"
    );
}

#[test]
fn manifest_flags_come_after_o2_and_before_date_time() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let lib = root.join("lib-src");
    write_library(&lib, r#"["*.c", "!main.c", "!broken_*.c"]"#, FLAGS);
    pack_and_program(root, &lib);
    let o = coex(root, &["plan", "flagged.cxz", "--json"]);
    ok(&o, "coex plan");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let actions = v["actions"].as_array().unwrap();
    let ids: Vec<&str> = actions.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.iter().filter(|i| i.starts_with("compile:")).count(),
        2,
        "{ids:?}"
    );
    for a in actions {
        let argv: Vec<&str> = a["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let at = |f: &str| argv.iter().position(|a| *a == f);
        if a["id"].as_str().unwrap().starts_with("compile:") {
            assert!(at("-O2") < at("-O3"), "{argv:?}");
            assert!(at("-O3") < at("-Werror=date-time"), "{argv:?}");
            assert!(at("-g").is_some() && at("-fvisibility=hidden").is_some());
        } else {
            // The link: -pthread links the thread library as well.
            assert!(at("-pthread").is_some(), "{argv:?}");
            assert!(at("-g").is_none(), "{argv:?}");
        }
    }
    let o = coex(root, &["cxz", "inspect", "flagged.cxz", "--json"]);
    ok(&o, "coex cxz inspect");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(
        v["units"][0]["sources"],
        serde_json::json!(["ffi/src/api.c", "ffi/src/helper.c"])
    );
    let o = coex(root, &["cxz", "inspect", "flagged.cxz"]);
    ok(&o, "coex cxz inspect");
    assert!(
        text(&o.stdout).contains("ffi/src/api.c"),
        "{}",
        text(&o.stdout)
    );
    assert!(!text(&o.stdout).contains("main.c"), "{}", text(&o.stdout));
}

#[test]
fn no_manifest_flag_switches_off_the_date_time_error() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let lib = root.join("lib-src");
    write_library(
        &lib,
        r#"["api.c", "helper.c"]"#,
        r#"["-pthread", "-Wno-everything"]"#,
    );
    write(
        &lib.join("ffi/src/helper.c"),
        "#include \"flagged.h\"\nconst char *built = __DATE__;\n\
         int64_t flagged_helper(int64_t n) { return n * 2 + 1; }\n",
    );
    pack_and_program(root, &lib);
    let o = coex(root, &["cxz", "build", "flagged.cxz"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("-Wdate-time"), "{err}");
    assert!(
        err.contains("may not use __DATE__, __TIME__ or __TIMESTAMP__"),
        "{err}"
    );
    assert!(err.contains("-Wno-everything -Werror=date-time"), "{err}");
}

/// `coex cxz pack` of the library with `source` and `cflags` as given must
/// fail with `expected` among its problems.
fn refused(source: &str, cflags: &str, expected: &str) {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib-src");
    write_library(&lib, source, cflags);
    let o = coex(
        t.path(),
        &["cxz", "pack", lib.to_str().unwrap(), "-o", "x.cxz"],
    );
    assert_eq!(o.status.code(), Some(1), "{source} {cflags}");
    let err = text(&o.stderr);
    assert!(err.contains(expected), "{source} {cflags}: {err}");
    assert!(!t.path().join("x.cxz").exists());
}

#[test]
fn bad_exclusions_and_refused_flags_are_named() {
    let ok_src = r#"["*.c", "!main.c", "!broken_*.c"]"#;
    let c11 = r#"["-std=c11"]"#;
    let bad = "manifest.toml [ffi.core]: source: ";
    refused(
        r#"["*.c", "!main.c", "!broken_*.c", "!mian.c"]"#,
        c11,
        &format!("{bad}exclusion '!mian.c' excludes nothing: there is no file ffi/src/mian.c in the archive; remove it or fix the typo"),
    );
    refused(
        r#"["api.c", "helper.c", "!main.c"]"#,
        c11,
        &format!("{bad}exclusion '!main.c' excludes nothing: it matches none of the files the entries before it select"),
    );
    refused(
        r#"["!main.c", "!broken_*.c"]"#,
        c11,
        &format!("{bad}every entry is an exclusion ('!…'); list the files to build first"),
    );
    refused(
        r#"["*.c", "!", "!main.c", "!broken_*.c"]"#,
        c11,
        &format!("{bad}'!' needs a path or glob after it"),
    );
    refused(
        r#"["*.c", "!main.c", "!broken_*.c", "!../x.c"]"#,
        c11,
        &format!("{bad}path '../x.c'"),
    );
    refused(
        r#"["*.c", "!*.c"]"#,
        c11,
        &format!("{bad}the unit has no C sources"),
    );
    for (flag, why) in [
        (
            "-Werror",
            "it turns warnings into errors, so the library would stop building on the next clang",
        ),
        ("-Werror=format", "it turns warnings into errors"),
        ("-pedantic-errors", "it turns warnings into errors"),
        ("-gsplit-dwarf", "it writes a .dwo file beside the object"),
        (
            "-Wno-date-time",
            "coex keeps __DATE__, __TIME__ and __TIMESTAMP__ an error",
        ),
        (
            "-fvisibility=protected",
            "-fvisibility= takes one of: default, hidden",
        ),
    ] {
        refused(
            ok_src,
            &format!("[\"{flag}\"]"),
            &format!("manifest.toml [ffi.core]: cflags: flag '{flag}' is not allowed: {why}"),
        );
    }
}
