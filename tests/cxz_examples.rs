//! The example libraries in `examples/libs/` pack, verify, declare externs
//! that agree with their manifests, and their C really compiles (clang,
//! with the manifest's own include dirs, cflags and pkg-config packages)
//! and behaves as documented when called through the declared signatures.

mod cxz_common;

use std::path::{Path, PathBuf};
use std::process::Command as Proc;

use coex::cxz::{verify_externs, BoundaryType, CxzArchive, ExternDecl};
use cxz_common::*;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/libs")
        .join(name)
}

/// Packs an example with the real binary and loads the result.
fn pack_example(work: &Path, name: &str) -> (PathBuf, CxzArchive) {
    let out = work.join(format!("{name}.cxz"));
    let o = coex(work)
        .args(["cxz", "pack"])
        .arg(example(name))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let archive = CxzArchive::open(&out).unwrap();
    (out, archive)
}

/// The `extern` declarations of a Coex module (test-side reading of the
/// one-line `extern name(p: T, ...) [-> T]` form the examples use).
fn externs_of(module: &str, text: &str) -> Vec<ExternDecl> {
    let ty = |t: &str| BoundaryType::parse(t.trim(), true).unwrap_or_else(|| panic!("type {t}"));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim().strip_prefix("extern ") else {
            continue;
        };
        let (name, rest) = rest.split_once('(').unwrap();
        let (params, rest) = rest.split_once(')').unwrap();
        let params = params
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| ty(p.split_once(':').unwrap().1))
            .collect();
        let returns = match rest.trim().strip_prefix("->") {
            Some(t) => ty(t),
            None => BoundaryType::Void,
        };
        out.push(ExternDecl {
            module: module.to_string(),
            line: i + 1,
            name: name.trim().to_string(),
            params,
            returns,
        });
    }
    out
}

fn all_externs(archive: &CxzArchive) -> Vec<ExternDecl> {
    archive
        .manifest
        .library
        .modules
        .iter()
        .flat_map(|m| externs_of(m, archive.module_text(m).unwrap()))
        .collect()
}

fn c_type(t: BoundaryType) -> &'static str {
    match t {
        BoundaryType::Int => "int64_t",
        BoundaryType::Float => "double",
        BoundaryType::Bool => "int32_t",
        BoundaryType::String => "const char *",
        BoundaryType::Void => "void",
    }
}

/// C prototypes of every manifest symbol, from the boundary table (§4).
fn prototypes(archive: &CxzArchive) -> String {
    let mut s = String::from("#include <stdint.h>\n");
    for u in &archive.manifest.units {
        for sym in &u.symbols {
            let params: Vec<&str> = sym.params.iter().map(|t| c_type(*t)).collect();
            let params = if params.is_empty() {
                "void".to_string()
            } else {
                params.join(", ")
            };
            s.push_str(&format!(
                "{} {}({});\n",
                c_type(sym.returns),
                sym.name,
                params
            ));
        }
    }
    s
}

/// Builds every unit of the archive with real clang, links `harness` against
/// it and returns the harness's stdout as `key=value` lines.
fn build_and_run(work: &Path, archive: &CxzArchive, harness: &str) -> Vec<(String, String)> {
    let src = work.join("unpacked");
    for (path, bytes) in &archive.files {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let protos = work.join("protos.h");
    std::fs::write(&protos, prototypes(archive)).unwrap();
    let mut objects = Vec::new();
    let mut link_flags: Vec<String> = Vec::new();
    for unit in &archive.manifest.units {
        let mut pkg_cflags = Vec::new();
        for pkg in &unit.pkg_config {
            let cf = Proc::new("pkg-config")
                .args(["--cflags", pkg])
                .output()
                .unwrap();
            assert!(cf.status.success(), "pkg-config {pkg}");
            pkg_cflags.extend(
                String::from_utf8_lossy(&cf.stdout)
                    .split_whitespace()
                    .map(String::from),
            );
            let lf = Proc::new("pkg-config")
                .args(["--libs", pkg])
                .output()
                .unwrap();
            link_flags.extend(
                String::from_utf8_lossy(&lf.stdout)
                    .split_whitespace()
                    .map(String::from),
            );
        }
        link_flags.extend(unit.system_libs.iter().map(|l| format!("-l{l}")));
        for (i, source) in unit.sources.iter().enumerate() {
            let obj = work.join(format!("{}_{i}.o", unit.name));
            let mut cmd = Proc::new("clang");
            cmd.current_dir(&src)
                .args(["-c", "-fPIC", "-Werror", "-Wall"]);
            cmd.args(&unit.cflags).args(&pkg_cflags);
            for dir in &unit.include_dirs {
                cmd.arg("-I").arg(dir);
            }
            // The manifest's signatures must agree with the C definitions:
            // clang rejects conflicting types.
            cmd.arg("-include").arg(&protos);
            cmd.arg(source).arg("-o").arg(&obj);
            let out = cmd.output().expect("clang is installed");
            assert!(
                out.status.success(),
                "clang failed on {source}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            objects.push(obj);
        }
    }
    let main_c = work.join("harness.c");
    std::fs::write(
        &main_c,
        format!(
            "#include <stdio.h>\n#include <string.h>\n#include \"{}\"\n{harness}",
            protos.display()
        ),
    )
    .unwrap();
    let exe = work.join("harness");
    let out = Proc::new("clang")
        .args(["-std=c99", "-Wall", "-Werror"])
        .arg(&main_c)
        .args(&objects)
        .args(&link_flags)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "link failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Proc::new(&exe).output().unwrap();
    assert!(run.status.success());
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn value<'a>(results: &'a [(String, String)], key: &str) -> &'a str {
    &results
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} missing in {results:?}"))
        .1
}

fn python(expr: &str) -> String {
    let out = Proc::new("python3")
        .args(["-c", &format!("import zlib; print({expr})")])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn every_example_verifies_with_its_summary() {
    let work = tempfile::tempdir().unwrap();
    for (name, summary) in [
        (
            "counter",
            "ok: counter 0.1.0 (2 modules, 1 FFI unit, 7 symbols), digest ",
        ),
        (
            "posix_regex",
            "ok: posix_regex 0.1.0 (1 module, 1 FFI unit, 6 symbols), digest ",
        ),
        (
            "zlib",
            "ok: zlib 0.1.0 (1 module, 1 FFI unit, 5 symbols), digest ",
        ),
    ] {
        let (path, archive) = pack_example(work.path(), name);
        let out = coex(work.path())
            .args(["cxz", "verify"])
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success());
        assert_eq!(stdout, format!("{summary}{}\n", archive.digest));
    }
}

#[test]
fn example_externs_agree_with_their_manifests() {
    let work = tempfile::tempdir().unwrap();
    for name in ["counter", "posix_regex", "zlib"] {
        let (_, archive) = pack_example(work.path(), name);
        let externs = all_externs(&archive);
        assert_eq!(
            externs.len(),
            archive.manifest.symbol_count(),
            "{name}: every symbol has an extern"
        );
        assert_eq!(
            verify_externs(&archive.manifest, &externs),
            vec![],
            "{name}"
        );
    }
}

#[test]
fn verify_externs_names_both_places_on_mismatch() {
    let work = tempfile::tempdir().unwrap();
    let (_, archive) = pack_example(work.path(), "counter");
    let mut externs = all_externs(&archive);
    let add = externs
        .iter_mut()
        .find(|e| e.name == "coex_counter_add")
        .unwrap();
    add.returns = BoundaryType::String;
    let line = add.line;
    externs.push(ExternDecl {
        module: "src/counter.coex".into(),
        line: 99,
        name: "coex_counter_missing".into(),
        params: vec![],
        returns: BoundaryType::Void,
    });
    let problems = verify_externs(&archive.manifest, &externs);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(
        problems[0].to_string(),
        format!(
            "src/counter.coex:{line}: extern 'coex_counter_add' is declared as (int, int) -> string here but as (int, int) -> int in manifest.toml [[ffi.counter.symbols]]"
        )
    );
    assert!(problems[1].to_string().starts_with(
        "src/counter.coex:99: extern 'coex_counter_missing' is not declared in manifest.toml"
    ));
}

#[test]
fn counter_c_behaves_as_documented() {
    let work = tempfile::tempdir().unwrap();
    let (_, archive) = pack_example(work.path(), "counter");
    let r = build_and_run(
        work.path(),
        &archive,
        r#"
int main(void) {
    coex_counter_increment();
    printf("after_two=%lld\n", (long long)coex_counter_increment());
    printf("get=%lld\n", (long long)coex_counter_get());
    coex_counter_reset();
    printf("after_reset=%lld\n", (long long)coex_counter_get());
    int64_t h = coex_counter_new(10);
    int64_t g = coex_counter_new(-3);
    printf("handles_differ=%d\n", h != g && h > 0 && g > 0);
    printf("add=%lld\n", (long long)coex_counter_add(h, 5));
    printf("other=%lld\n", (long long)coex_counter_add(g, 1));
    printf("label=%s\n", coex_counter_label(h));
    printf("free=%d\n", coex_counter_free(h));
    printf("free_again=%d\n", coex_counter_free(h));
    printf("add_freed=%lld\n", (long long)coex_counter_add(h, 1));
    printf("label_freed=%s\n", coex_counter_label(h));
    return 0;
}
"#,
    );
    assert_eq!(value(&r, "after_two"), "2");
    assert_eq!(value(&r, "get"), "2");
    assert_eq!(value(&r, "after_reset"), "0");
    assert_eq!(value(&r, "handles_differ"), "1");
    assert_eq!(value(&r, "add"), "15");
    assert_eq!(value(&r, "other"), "-2");
    assert_eq!(value(&r, "label"), "counter #1 = 15");
    assert_eq!(value(&r, "free"), "1");
    assert_eq!(value(&r, "free_again"), "0");
    assert_eq!(value(&r, "add_freed"), "0");
    assert_eq!(value(&r, "label_freed"), "counter #1 (free)");
}

#[test]
fn posix_regex_c_behaves_as_documented() {
    let work = tempfile::tempdir().unwrap();
    let (_, archive) = pack_example(work.path(), "posix_regex");
    // Only libc: the unit declares no system libraries.
    assert!(archive.manifest.units[0].system_libs.is_empty());
    assert!(archive.manifest.units[0].pkg_config.is_empty());
    let r = build_and_run(
        work.path(),
        &archive,
        r#"
int main(void) {
    int64_t h = coex_rx_compile("[0-9]+", 0);
    printf("ok=%d\n", h > 0);
    printf("count=%lld\n", (long long)coex_rx_count(h, "a1b22c333"));
    printf("count_empty=%lld\n", (long long)coex_rx_count(h, ""));
    printf("find=%lld\n", (long long)coex_rx_find(h, "abc12"));
    printf("nofind=%lld\n", (long long)coex_rx_find(h, "abc"));
    printf("match=%d\n", coex_rx_match(h, "x9"));
    printf("nomatch=%d\n", coex_rx_match(h, "xyz"));
    int64_t star = coex_rx_compile("x*", 0);
    printf("count_star=%lld\n", (long long)coex_rx_count(star, "axxb"));
    int64_t i = coex_rx_compile("HELLO", 1);
    printf("icase=%d\n", coex_rx_match(i, "say hello"));
    int64_t bad = coex_rx_compile("(unclosed", 0);
    printf("bad=%lld\n", (long long)bad);
    printf("has_error=%d\n", strlen(coex_rx_error()) > 0);
    printf("free=%d\n", coex_rx_free(h));
    printf("free_again=%d\n", coex_rx_free(h));
    printf("stale_count=%lld\n", (long long)coex_rx_count(h, "1"));
    return 0;
}
"#,
    );
    assert_eq!(value(&r, "ok"), "1");
    assert_eq!(value(&r, "count"), "3");
    assert_eq!(value(&r, "count_empty"), "0");
    assert_eq!(value(&r, "find"), "3");
    assert_eq!(value(&r, "nofind"), "-1");
    assert_eq!(value(&r, "match"), "1");
    assert_eq!(value(&r, "nomatch"), "0");
    // "axxb": empty match at 0, "xx" at 1, empty match at 3 (before 'b').
    assert_eq!(value(&r, "count_star"), "3");
    assert_eq!(value(&r, "icase"), "1");
    assert_eq!(value(&r, "bad"), "0");
    assert_eq!(value(&r, "has_error"), "1");
    assert_eq!(value(&r, "free"), "1");
    assert_eq!(value(&r, "free_again"), "0");
    assert_eq!(value(&r, "stale_count"), "-1");
}

#[test]
fn zlib_c_agrees_with_the_system_zlib() {
    let work = tempfile::tempdir().unwrap();
    let (_, archive) = pack_example(work.path(), "zlib");
    assert_eq!(archive.manifest.units[0].pkg_config, ["zlib"]);
    assert_eq!(archive.manifest.units[0].system_headers, ["zlib.h"]);
    let r = build_and_run(
        work.path(),
        &archive,
        r#"
int main(void) {
    printf("crc=%lld\n", (long long)coex_zlib_crc32("hello"));
    printf("adler=%lld\n", (long long)coex_zlib_adler32("hello"));
    printf("roundtrip=%lld\n", (long long)coex_zlib_roundtrip("hello hello hello hello", 6));
    printf("roundtrip_empty=%lld\n", (long long)coex_zlib_roundtrip("", 6));
    printf("bad_level=%lld\n", (long long)coex_zlib_roundtrip("x", 42));
    printf("size=%lld\n", (long long)coex_zlib_compressed_size("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 9));
    printf("version=%s\n", coex_zlib_version());
    return 0;
}
"#,
    );
    assert_eq!(value(&r, "crc"), python("zlib.crc32(b'hello')"));
    assert_eq!(value(&r, "adler"), python("zlib.adler32(b'hello')"));
    assert_eq!(value(&r, "roundtrip"), "23");
    assert_eq!(value(&r, "roundtrip_empty"), "0");
    assert_eq!(value(&r, "bad_level"), "-1");
    assert_eq!(
        value(&r, "size"),
        python("len(zlib.compress(b'a' * 64, 9))")
    );
    let modversion = Proc::new("pkg-config")
        .args(["--modversion", "zlib"])
        .output()
        .unwrap();
    assert_eq!(
        value(&r, "version"),
        String::from_utf8_lossy(&modversion.stdout).trim()
    );
}
