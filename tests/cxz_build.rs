//! `coex cxz build` and `coex plan FILE.cxz` through the real binary, with
//! real clang, real `zip`, real nginx and a private cache per test.

#[path = "e2e/common.rs"]
mod common;
#[path = "support/nginx.rs"]
mod nginx;
#[path = "support/real_zip.rs"]
mod real_zip;

use assert_cmd::Command;
use common::isolated::isolated_coex;
use common::{actions_that, summary_of, text};
use nginx::Nginx;
use real_zip::zip_r;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository's example libraries.
fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/libs")
        .join(name)
}

/// `coex` run in `cwd` against cache `cache`, with nothing inherited that
/// could change what it does (remote, compiler, home, library path).
fn coex(cwd: &Path, cache: &Path) -> Command {
    isolated_coex(cwd, cache, &cwd.join(".home"))
}

/// Runs `coex cxz build -v ARCHIVE ARGS…` and asserts it succeeded.
fn build(cwd: &Path, cache: &Path, archive: &Path, args: &[&str]) -> Output {
    let out = coex(cwd, cache)
        .args(["cxz", "build", "-v"])
        .arg(archive)
        .args(args)
        .output()
        .expect("run coex");
    assert!(
        out.status.success(),
        "coex cxz build failed\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Action ids the build reported on stderr as `how` (`ran`, `cached`,
/// `remote`; the last two only with `-v`).
fn ids(out: &Output, how: &str) -> Vec<String> {
    actions_that(&text(&out.stderr), how)
}

/// The summary (`N actions: …`) in the `Finished` line on stderr.
fn summary(out: &Output) -> String {
    summary_of(&text(&out.stderr))
}

fn warnings(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(str::to_string)
        .collect()
}

fn pack(cwd: &Path, lib_dir: &Path, out: &Path) {
    coex(cwd, &cwd.join(".unused-cache"))
        .args(["cxz", "pack"])
        .arg(lib_dir)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, body).expect("write");
}

fn blake3_hex(path: &Path) -> String {
    blake3::hash(&std::fs::read(path).expect("read"))
        .to_hex()
        .to_string()
}

/// A library with two units: `core` (three sources found by a glob, a
/// header of its own) and `extra` (one source, linked against libm); both
/// include the shared `shared.h`.
fn write_multi(dir: &Path) {
    write(
        &dir.join("manifest.toml"),
        r#"[library]
name = "multi"
version = "0.2.0"

[ffi.core]
source  = ["core/*.c"]
headers = [".", "core"]
cflags  = ["-std=c99", "-DMULTI_CORE=1"]

[[ffi.core.symbols]]
name    = "coex_multi_a"
params  = ["int"]
returns = "int"

[ffi.extra]
source      = ["extra.c"]
headers     = ["."]
system_libs = ["m"]

[[ffi.extra.symbols]]
name    = "coex_multi_root"
params  = ["float"]
returns = "float"
"#,
    );
    write(&dir.join("src/multi.coex"), "// the multi test library\n");
    write(
        &dir.join("ffi/src/shared.h"),
        "#ifndef SHARED_H\n#define SHARED_H\n#define SCALE 3\n#endif\n",
    );
    write(
        &dir.join("ffi/src/core/core.h"),
        "#include \"shared.h\"\nlong coex_multi_b(long x);\nlong coex_multi_c(long x);\n",
    );
    for (name, body) in [
        ("a", "return coex_multi_b(x) + coex_multi_c(x) * SCALE;"),
        ("b", "return x * SCALE + MULTI_CORE;"),
        ("c", "return x - SCALE;"),
    ] {
        // `long` is int64_t on the 64-bit targets: the manifest's int.
        write(
            &dir.join(format!("ffi/src/core/{name}.c")),
            &format!("#include \"core.h\"\nlong coex_multi_{name}(long x) {{ {body} }}\n"),
        );
    }
    write(
        &dir.join("ffi/src/extra.c"),
        "#include <math.h>\n#include \"shared.h\"\ndouble coex_multi_root(double x) { return sqrt(x) * SCALE; }\n",
    );
}

const MULTI_COMPILES: [&str; 4] = [
    "compile:multi/core/core/a.c",
    "compile:multi/core/core/b.c",
    "compile:multi/core/core/c.c",
    "compile:multi/extra/extra.c",
];

#[test]
fn rebuilds_rezips_and_edits_run_exactly_what_changed() {
    let t = tempfile::tempdir().unwrap();
    let (root, cache) = (t.path(), t.path().join("cache"));
    let lib = root.join("multi");
    write_multi(&lib);
    let archive = root.join("multi.cxz");
    pack(root, &lib, &archive);

    let first = build(root, &cache, &archive, &[]);
    assert_eq!(summary(&first), "6 actions: 6 ran, 0 cached, 0 remote");
    // stderr is not a terminal here: no progress bar, only status lines;
    // stdout stays empty.
    assert!(
        !text(&first.stderr).contains('\r'),
        "{}",
        text(&first.stderr)
    );
    assert!(warnings(&first).is_empty(), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout), "");
    let core = root.join("target-coex/multi/libcore.so");
    let extra = root.join("target-coex/multi/libextra.so");
    let (core_hash, extra_hash) = (blake3_hex(&core), blake3_hex(&extra));
    assert!(text(&first.stderr).contains("Wrote target-coex/multi/libcore.so"));

    // Second build: nothing runs, same images.
    let second = build(root, &cache, &archive, &[]);
    assert_eq!(summary(&second), "6 actions: 0 ran, 6 cached, 0 remote");
    assert_eq!(blake3_hex(&core), core_hash);

    // The same files zipped by the real `zip` (other timestamps, directory
    // entries, entry order): zero actions run.
    let rezipped = root.join("rezipped.cxz");
    zip_r(&lib, &[], &rezipped, &["src", "ffi", "manifest.toml"]);
    assert_ne!(
        std::fs::read(&rezipped).unwrap(),
        std::fs::read(&archive).unwrap()
    );
    let again = build(root, &cache, &rezipped, &["-o", "rezip-out"]);
    assert_eq!(ids(&again, "ran"), Vec::<String>::new());
    assert_eq!(blake3_hex(&root.join("rezip-out/libcore.so")), core_hash);

    // One C file changed: its compile and its unit's link, nothing else.
    write(
        &lib.join("ffi/src/core/b.c"),
        "#include \"core.h\"\nlong coex_multi_b(long x) { return x * SCALE - MULTI_CORE; }\n",
    );
    pack(root, &lib, &archive);
    let edited = build(root, &cache, &archive, &[]);
    assert_eq!(
        ids(&edited, "ran"),
        ["compile:multi/core/core/b.c", "link:multi/core"]
    );
    assert_ne!(blake3_hex(&core), core_hash);
    assert_eq!(blake3_hex(&extra), extra_hash);

    // A header changed: every compile that could include it re-runs (and,
    // since SCALE changes every object, both links).
    write(
        &lib.join("ffi/src/shared.h"),
        "#ifndef SHARED_H\n#define SHARED_H\n#define SCALE 4\n#endif\n",
    );
    pack(root, &lib, &archive);
    let header = build(root, &cache, &archive, &[]);
    let mut expected: Vec<String> = MULTI_COMPILES.iter().map(|s| s.to_string()).collect();
    expected.extend([
        "link:multi/core".to_string(),
        "link:multi/extra".to_string(),
    ]);
    assert_eq!(ids(&header, "ran"), expected);

    // --unit builds one unit; an unknown one lists the units.
    let one = build(root, &cache, &archive, &["--unit", "extra", "-o", "only"]);
    assert_eq!(summary(&one), "2 actions: 0 ran, 2 cached, 0 remote");
    assert!(root.join("only/libextra.so").is_file());
    assert!(!root.join("only/libcore.so").exists());
    coex(root, &cache)
        .args(["cxz", "build"])
        .arg(&archive)
        .args(["--unit", "nope", "-o", "nope-out"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicates::str::starts_with(
            "error: Unknown FFI unit 'nope' in library 'multi'",
        ))
        .stderr(predicates::str::contains("Units of 'multi': core, extra"));
    assert!(!root.join("nope-out").exists());
}

#[test]
fn a_library_without_ffi_units_builds_nothing_and_succeeds() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("pure");
    write(
        &lib.join("manifest.toml"),
        "[library]\nname = \"pure\"\nversion = \"1.0.0\"\n",
    );
    write(&lib.join("src/pure.coex"), "// no C here\n");
    let archive = t.path().join("pure.cxz");
    pack(t.path(), &lib, &archive);
    let out = build(t.path(), &t.path().join("cache"), &archive, &[]);
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains("Finished library 'pure' has no FFI units: nothing to build\n")
    );
    assert!(!t.path().join("target-coex").exists());
    assert!(!t.path().join("cache").exists());
}

#[test]
fn two_directories_two_empty_caches_give_byte_identical_images() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("multi");
    write_multi(&lib);
    let mut images = Vec::new();
    for name in ["first-place", "second/deeper/place"] {
        let dir = t.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        pack(&dir, &lib, &dir.join("multi.cxz"));
        pack(&dir, &example("counter"), &dir.join("counter.cxz"));
        let cache = dir.join("own-cache");
        for archive in ["multi.cxz", "counter.cxz"] {
            let out = build(&dir, &cache, &dir.join(archive), &[]);
            assert_eq!(ids(&out, "cached"), Vec::<String>::new());
        }
        images.push(
            [
                "target-coex/multi/libcore.so",
                "target-coex/multi/libextra.so",
                "target-coex/counter/libcounter.so",
            ]
            .map(|p| std::fs::read(dir.join(p)).unwrap()),
        );
    }
    assert!(images[0] == images[1], "images differ between directories");
}

#[test]
fn a_corrupted_cas_blob_is_detected_dropped_and_rebuilt() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let archive = t.path().join("counter.cxz");
    pack(t.path(), &example("counter"), &archive);
    build(t.path(), &cache, &archive, &[]);
    let image = t.path().join("target-coex/counter/libcounter.so");
    let good = blake3_hex(&image);
    let blob = cache.join("cas").join(&good[..2]).join(&good);
    let mut bytes = std::fs::read(&blob).expect("the image is in the CAS by its BLAKE3");
    bytes[64] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();

    let out = build(t.path(), &cache, &archive, &[]);
    let w = warnings(&out);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("warning: dropped corrupt cache entry cas/"),
        "{}",
        w[0]
    );
    assert_eq!(ids(&out, "ran"), ["link:counter/counter"]);
    assert_eq!(blake3_hex(&image), good);
    assert_eq!(blake3_hex(&blob), good);
}

#[test]
fn two_builds_at_once_on_one_cache_both_succeed_and_leave_it_clean() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("cache");
    let lib = t.path().join("multi");
    write_multi(&lib);
    let archive = t.path().join("multi.cxz");
    pack(t.path(), &lib, &archive);
    let spawn = |out: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("coex"))
            .current_dir(t.path())
            .env("COEX_CACHE_DIR", &cache)
            .env_remove("COEX_REMOTE_CACHE")
            .env_remove("COEX_CC")
            .args(["cxz", "build"])
            .arg(&archive)
            .args(["-o", out, "-j", "2"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn coex")
    };
    let (a, b) = (spawn("out-a"), spawn("out-b"));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(warnings(&out), Vec::<String>::new());
        assert!(
            summary(&out).starts_with("6 actions: "),
            "{}",
            summary(&out)
        );
    }
    for image in ["libcore.so", "libextra.so"] {
        assert_eq!(
            std::fs::read(t.path().join("out-a").join(image)).unwrap(),
            std::fs::read(t.path().join("out-b").join(image)).unwrap()
        );
    }
    coex(t.path(), &cache)
        .args(["cache", "verify"])
        .assert()
        .success();
    let after = build(t.path(), &cache, &archive, &["-o", "out-c"]);
    assert_eq!(summary(&after), "6 actions: 0 ran, 6 cached, 0 remote");
}

#[test]
fn remote_cache_on_real_nginx_shares_builds_and_never_breaks_them() {
    let mut server = Nginx::start();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let lib = root.join("multi");
    write_multi(&lib);
    let archive = root.join("multi.cxz");
    pack(root, &lib, &archive);
    let url = server.url();
    let remote = ["--remote-cache", url.as_str()];

    // Machine A builds and uploads.
    let a = build(
        root,
        &root.join("cache-a"),
        &archive,
        &[&remote[..], &["-o", "a"]].concat(),
    );
    assert_eq!(summary(&a), "6 actions: 6 ran, 0 cached, 0 remote");
    assert_eq!(warnings(&a), Vec::<String>::new());
    let image = blake3_hex(&root.join("a/libcore.so"));

    // Machine B, empty cache, remote from the environment: zero compiles.
    let b = coex(root, &root.join("cache-b"))
        .env("COEX_REMOTE_CACHE", &url)
        .args(["cxz", "build"])
        .arg(&archive)
        .args(["-o", "b"])
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", text(&b.stderr));
    assert_eq!(summary(&b), "6 actions: 0 ran, 0 cached, 6 remote");
    assert_eq!(ids(&b, "ran"), Vec::<String>::new());
    assert_eq!(blake3_hex(&root.join("b/libcore.so")), image);

    // Altered bytes on the server: one warning, rebuilt locally, same image.
    let mut stack = vec![server.data_dir().join("cas")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mut bytes = std::fs::read(&p).unwrap();
                if let Some(last) = bytes.last_mut() {
                    *last ^= 0x5a;
                }
                std::fs::write(&p, bytes).unwrap();
            }
        }
    }
    let d = build(
        root,
        &root.join("cache-d"),
        &archive,
        &[&remote[..], &["--remote-upload=false", "-o", "d"]].concat(),
    );
    let w = warnings(&d);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("warning: remote cache "), "{}", w[0]);
    // Small blobs ride inside their AC entry (checked there), so actions
    // needing only those are still remote; the image's link ran.
    let line = summary(&d);
    assert!(
        line.starts_with("6 actions: ") && !line.contains(" 0 ran"),
        "{line}"
    );
    assert!(line.contains(" 0 cached"), "{line}");
    assert_eq!(blake3_hex(&root.join("d/libcore.so")), image);
    coex(root, &root.join("cache-d"))
        .args(["cache", "verify"])
        .assert()
        .success();

    // Server stopped: success with exactly one warning.
    server.stop();
    let c = build(
        root,
        &root.join("cache-c"),
        &archive,
        &[&remote[..], &["-o", "c"]].concat(),
    );
    let w = warnings(&c);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("warning: remote cache "), "{}", w[0]);
    assert_eq!(summary(&c), "6 actions: 6 ran, 0 cached, 0 remote");
    assert_eq!(blake3_hex(&root.join("c/libcore.so")), image);
}

/// A one-unit library `name` whose unit has `extra` manifest lines and the
/// C file `body`.
fn write_single(dir: &Path, name: &str, extra: &str, body: &str) {
    write(
        &dir.join("manifest.toml"),
        &format!(
            "[library]\nname = \"{name}\"\nversion = \"1.0.0\"\n\n[ffi.u]\nsource = [\"bad.c\"]\n{extra}\n"
        ),
    );
    write(&dir.join(format!("src/{name}.coex")), "// test\n");
    write(&dir.join("ffi/src/bad.c"), body);
}

/// Asserts `coex cxz build` of the library in `lib` fails with exit 1,
/// stderr starting with `error: ` and containing each of `expected`, and
/// writes no image. Returns stderr.
fn assert_build_fails(
    root: &Path,
    lib: &Path,
    path_env: Option<&str>,
    expected: &[&str],
) -> String {
    let archive = root.join("lib.cxz");
    pack(root, lib, &archive);
    let mut cmd = coex(root, &root.join("cache"));
    if let Some(p) = path_env {
        cmd.env("PATH", p);
    }
    let out = cmd
        .args(["cxz", "build"])
        .arg(&archive)
        .args(["-o", "out"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(!root.join("out").exists());
    err
}

#[test]
fn missing_tools_headers_packages_and_bad_c_give_the_documented_errors() {
    let t = tempfile::tempdir().unwrap();

    // clang not on PATH (pkg-config and everything else still are not needed).
    let no_clang = t.path().join("no-clang");
    std::fs::create_dir_all(no_clang.join("empty-bin")).unwrap();
    write_single(&no_clang, "plain", "", "int f(void) { return 1; }\n");
    let empty_bin = no_clang.join("empty-bin");
    assert_build_fails(
        &no_clang,
        &no_clang,
        Some(empty_bin.to_str().unwrap()),
        &["error: C compiler not found", "COEX_CC"],
    );

    let header = t.path().join("header");
    write_single(
        &header,
        "needs",
        "system_headers = [\"coex_test_no_such_header.h\"]",
        "int f(void) { return 1; }\n",
    );
    assert_build_fails(
        &header,
        &header,
        None,
        &["error: Missing system dependency for library 'needs'\n\nRequired header not found: coex_test_no_such_header.h"],
    );

    let package = t.path().join("package");
    write_single(
        &package,
        "wants",
        "pkg_config = [\"coex-test-no-such-package\"]",
        "int f(void) { return 1; }\n",
    );
    assert_build_fails(
        &package,
        &package,
        None,
        &["error: Missing system dependency for library 'wants'\n\nRequired pkg-config package not found: coex-test-no-such-package"],
    );

    let syntax = t.path().join("syntax");
    write_single(&syntax, "broken", "", "int f(void) {\n  return 1\n}\n");
    let err = assert_build_fails(
        &syntax,
        &syntax,
        None,
        &[
            "error: FFI compilation failed for 'broken'\n\nCommand: ",
            "\nError: src/bad.c:",
            "\n\nCheck that all header files are included in the library's src/ directory.",
        ],
    );
    let error_line = err.lines().find(|l| l.starts_with("Error: ")).unwrap();
    assert!(error_line.contains("error"), "{error_line}");
}

#[test]
fn plan_json_is_valid_deterministic_and_lists_every_action() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let lib = root.join("multi");
    write_multi(&lib);
    let archive = root.join("multi.cxz");
    pack(root, &lib, &archive);
    let plan = |file: &Path| {
        let out = coex(root, &root.join("cache"))
            .arg("plan")
            .arg(file)
            .arg("--json")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        out.stdout
    };
    let first = plan(&archive);
    assert_eq!(plan(&archive), first);
    let rezipped = root.join("rezipped.cxz");
    zip_r(&lib, &[], &rezipped, &["manifest.toml", "ffi", "src"]);
    assert_eq!(plan(&rezipped), first);

    let v: serde_json::Value = serde_json::from_slice(&first).expect("valid JSON");
    assert_eq!(v["format"], "coex-plan-v1");
    let actions = v["actions"].as_array().unwrap();
    let ids: Vec<&str> = actions.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let compiles: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|i| i.starts_with("compile:"))
        .collect();
    let mut links: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|i| i.starts_with("link:"))
        .collect();
    links.sort();
    let mut sorted = compiles.clone();
    sorted.sort();
    assert_eq!(sorted, MULTI_COMPILES);
    assert_eq!(links, ["link:multi/core", "link:multi/extra"]);
    assert_eq!(ids.len(), 6);
    // Planning runs nothing and writes no cache.
    assert!(!root.join("cache").exists());

    // A program is planned too (tests/e2e_incremental.rs); a broken one
    // reports the front end's errors.
    write(&root.join("app.coex"), "// a program\n");
    coex(root, &root.join("cache"))
        .args(["plan", "app.coex", "--json"])
        .assert()
        .code(1)
        .stderr(predicates::str::starts_with("error: "))
        .stderr(predicates::str::contains("could not compile `app.coex`"));
}

#[test]
fn every_example_library_builds_and_its_images_define_the_manifest_symbols() {
    let t = tempfile::tempdir().unwrap();
    let (root, cache) = (t.path(), t.path().join("cache"));
    for name in ["counter", "posix_regex", "zlib"] {
        let archive = root.join(format!("{name}.cxz"));
        pack(root, &example(name), &archive);
        let out = build(root, &cache, &archive, &[]);
        assert!(
            summary(&out).contains(" ran, 0 cached, 0 remote"),
            "{}",
            summary(&out)
        );
        let inspect = coex(root, &cache)
            .args(["cxz", "inspect", "--json"])
            .arg(&archive)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        for unit in v["units"].as_array().unwrap() {
            let unit_name = unit["name"].as_str().unwrap();
            let image = root
                .join("target-coex")
                .join(name)
                .join(format!("lib{unit_name}.so"));
            let nm = std::process::Command::new("nm")
                .args(["-D", "--defined-only"])
                .arg(&image)
                .output()
                .expect("run nm");
            assert!(nm.status.success(), "{}", text(&nm.stderr));
            let defined: Vec<String> = text(&nm.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
                .collect();
            for sym in unit["symbols"].as_array().unwrap() {
                let s = sym["name"].as_str().unwrap();
                assert!(defined.iter().any(|d| d == s), "{s} not in {image:?}");
            }
            if unit["pkg_config"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "zlib")
            {
                let readelf = std::process::Command::new("readelf")
                    .arg("-d")
                    .arg(&image)
                    .output()
                    .expect("run readelf");
                assert!(
                    text(&readelf.stdout).contains("[libz.so"),
                    "{}",
                    text(&readelf.stdout)
                );
            }
        }
    }
}
