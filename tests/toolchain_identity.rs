//! Toolchain identity through the real binary and the real clang: another
//! clang installation that differs from the system one in anything that
//! decides its output (a resource dir header, the linker beside it) never
//! shares a cache entry with it, while an identical copy at another path
//! does; and the remembered identity notices such a change.

#[path = "e2e/common.rs"]
mod common;

use common::isolated::isolated_coex;
use common::{actions_that, text};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

const MANIFEST: &str = r#"[library]
name = "ident"
version = "1.0.0"
source = ["ident.coex"]

[ffi.unit]
source  = ["a.c", "b.c"]
headers = ["."]

[[ffi.unit.symbols]]
name    = "coex_ident_size"
returns = "int"
"#;

const A_C: &str = "#include <stddef.h>\n#include <stdint.h>\nint64_t coex_ident_size(void) { return (int64_t)sizeof(size_t) + coex_ident_b(); }\n";
const B_C: &str = "#include <stdint.h>\nint64_t coex_ident_b(void) { return 1; }\n";
const COMPILES: [&str; 2] = ["compile:ident/unit/a.c", "compile:ident/unit/b.c"];

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// `coex ARGS` in `root` with cache `cache`.
fn coex(root: &Path, cache: &Path, args: &[&str]) -> Output {
    isolated_coex(root, cache, &root.join("home"))
        .args(args)
        .output()
        .unwrap()
}

/// Packs the test library into `root/ident.cxz`.
fn library(root: &Path) -> PathBuf {
    let dir = root.join("ident");
    write(&dir.join("manifest.toml"), MANIFEST);
    write(&dir.join("src/ident.coex"), "// identity test library\n");
    let a = A_C.replace(
        "int64_t coex_ident_size",
        "int64_t coex_ident_b(void);\nint64_t coex_ident_size",
    );
    write(&dir.join("ffi/src/a.c"), &a);
    write(&dir.join("ffi/src/b.c"), B_C);
    let out = root.join("ident.cxz");
    let o = coex(
        root,
        &root.join("pack-cache"),
        &[
            "cxz",
            "pack",
            dir.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "pack: {}", text(&o.stderr));
    out
}

/// `coex cxz build -v` with `cc` (system clang when `None`); asserts success.
fn build(root: &Path, cache: &Path, archive: &Path, cc: Option<&Path>) -> Output {
    let mut args = vec!["cxz", "build", "-v", archive.to_str().unwrap(), "-o"];
    let out_dir = root.join("out");
    args.push(out_dir.to_str().unwrap());
    if let Some(cc) = cc {
        args.extend(["--cc", cc.to_str().unwrap()]);
    }
    let o = coex(root, cache, &args);
    assert!(
        o.status.success(),
        "coex {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    o
}

fn ids(out: &Output, how: &str) -> Vec<String> {
    let mut v = actions_that(&text(&out.stderr), how);
    v.sort();
    v
}

/// The plan of `archive` with `cc`: action id → (key, tool fingerprint).
fn plan(root: &Path, archive: &Path, cc: Option<&Path>) -> BTreeMap<String, (String, String)> {
    let mut args = vec!["plan", archive.to_str().unwrap(), "--json"];
    if let Some(cc) = cc {
        args.extend(["--cc", cc.to_str().unwrap()]);
    }
    let o = coex(root, &root.join("plan-cache"), &args);
    assert!(o.status.success(), "plan: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut keys = BTreeMap::new();
    for a in v["actions"].as_array().unwrap() {
        keys.insert(
            a["id"].as_str().unwrap().to_string(),
            (
                a["key"].as_str().unwrap_or("null").to_string(),
                a["tool"]["fingerprint"].as_str().unwrap().to_string(),
            ),
        );
    }
    for c in COMPILES {
        assert_ne!(keys[c].0, "null", "compile keys are known at plan time");
    }
    keys
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if std::fs::metadata(&src).unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A copy of the system clang under `root`: the real driver binary as
/// `root/llvm/bin/clang` and its resource dir at the same place relative
/// to it (`root/llvm/lib/clang/<version>`), so the copy finds it.
fn copy_clang(root: &Path) -> (PathBuf, PathBuf) {
    let sys = coex::toolchain::find_clang(None).unwrap();
    let real = std::fs::canonicalize(&sys.path).unwrap();
    let prefix = real.parent().unwrap().parent().unwrap();
    let rel = sys.resource_dir.strip_prefix(prefix).unwrap_or_else(|_| {
        panic!(
            "{} is not under {}: cannot place a copy",
            sys.resource_dir.display(),
            prefix.display()
        )
    });
    let clang = root.join("llvm/bin/clang");
    std::fs::create_dir_all(clang.parent().unwrap()).unwrap();
    std::fs::copy(&real, &clang).unwrap();
    let resource = root.join("llvm").join(rel);
    copy_tree(&sys.resource_dir, &resource);
    let o = std::process::Command::new(&clang)
        .arg("-print-resource-dir")
        .output()
        .unwrap();
    assert_eq!(
        std::fs::canonicalize(text(&o.stdout).trim()).unwrap(),
        std::fs::canonicalize(&resource).unwrap(),
        "the copy uses its own resource dir"
    );
    (clang, resource)
}

/// Sets the modification time of `path`, a file or a folder.
fn set_mtime(path: &Path, when: SystemTime) {
    std::fs::File::open(path)
        .and_then(|f| f.set_modified(when))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

/// Waits until every file written so far is older than the memo's racy
/// window (2 s), so the next identity computed is remembered.
fn let_files_settle() {
    std::thread::sleep(Duration::from_millis(2200));
}

/// The remembered identities of the clang at `clang` in `cache`.
fn memo_entries(cache: &Path, clang: &Path) -> Vec<String> {
    let tag = format!("\"tag\":\"clang-v2\\u0000{}\"", clang.display());
    let mut v: Vec<String> = std::fs::read_dir(cache.join("memo"))
        .map(|d| {
            d.flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .filter(|s| s.contains(&tag))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_copy_with_another_resource_header_never_shares_cache_entries() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let archive = library(root);
    let cache = root.join("cache");

    let first = build(root, &cache, &archive, None);
    assert_eq!(ids(&first, "ran").len(), 3, "{}", text(&first.stderr));

    let (clang, resource) = copy_clang(root);
    let stddef = resource.join("include/stddef.h");
    let mut body = std::fs::read_to_string(&stddef).unwrap();
    body.push_str("\n/* coex test: another resource dir */\n");
    std::fs::write(&stddef, body).unwrap();

    let copy = build(root, &cache, &archive, Some(&clang));
    assert_eq!(ids(&copy, "ran"), {
        let mut v: Vec<String> = COMPILES.iter().map(|s| s.to_string()).collect();
        v.push("link:ident/unit".to_string());
        v.sort();
        v
    });
    assert!(ids(&copy, "cached").is_empty(), "{}", text(&copy.stderr));

    let sys_keys = plan(root, &archive, None);
    let copy_keys = plan(root, &archive, Some(&clang));
    for c in COMPILES {
        assert_ne!(sys_keys[c].0, copy_keys[c].0, "{c}");
        assert_ne!(sys_keys[c].1, copy_keys[c].1, "{c}");
    }

    // And the system clang's entries were not poisoned: all still cached.
    let again = build(root, &cache, &archive, None);
    assert!(ids(&again, "ran").is_empty(), "{}", text(&again.stderr));
}

#[test]
fn an_identical_copy_shares_entries_and_a_linker_beside_it_does_not() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let archive = library(root);
    let cache = root.join("cache");
    let (clang, _) = copy_clang(root);
    let_files_settle();

    // (c) Contents, not paths: the identical copy is the system clang.
    let sys_keys = plan(root, &archive, None);
    let copy_keys = plan(root, &archive, Some(&clang));
    assert_eq!(sys_keys, copy_keys);
    let first = build(root, &cache, &archive, Some(&clang));
    assert_eq!(ids(&first, "ran").len(), 3, "{}", text(&first.stderr));
    let memo = memo_entries(&cache, &clang);
    assert_eq!(memo.len(), 1, "the copy's identity is remembered");
    let sys = build(root, &cache, &archive, None);
    assert!(ids(&sys, "ran").is_empty(), "{}", text(&sys.stderr));

    // (b) An `ld` beside the driver is the linker clang runs now.
    let ld = clang.with_file_name("ld");
    write(&ld, "#!/bin/sh\nexec /usr/bin/ld \"$@\"\n");
    std::fs::set_permissions(&ld, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // Keep the change racy however slow this machine is: a modification
    // time in the future stays within the racy window until reset below.
    let future = SystemTime::now() + Duration::from_secs(3600);
    set_mtime(&ld, future);
    set_mtime(ld.parent().unwrap(), future);
    let with_ld = plan(root, &archive, Some(&clang));
    for (id, (key, fingerprint)) in &with_ld {
        assert_ne!(fingerprint, &copy_keys[id].1, "{id}");
        if key != "null" {
            assert_ne!(key, &copy_keys[id].0, "{id}");
        }
    }
    // The remembered identity of the copy notices the new file beside it
    // (its directory changed): everything runs again, through the wrapper.
    let second = build(root, &cache, &archive, Some(&clang));
    assert_eq!(ids(&second, "ran").len(), 3, "{}", text(&second.stderr));
    assert!(
        ids(&second, "cached").is_empty(),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(
        memo_entries(&cache, &clang),
        memo,
        "an identity computed from a file this fresh is not stored"
    );

    // Once settled, the new identity is remembered and reused.
    let past = SystemTime::now() - Duration::from_secs(60);
    set_mtime(&ld, past);
    set_mtime(ld.parent().unwrap(), past);
    let_files_settle();
    build(root, &cache, &archive, Some(&clang));
    let stored = memo_entries(&cache, &clang);
    assert_eq!(stored.len(), 1);
    assert_ne!(stored, memo);
    assert!(stored[0].contains("/llvm/bin/ld"), "{}", stored[0]);
    let third = build(root, &cache, &archive, Some(&clang));
    assert!(ids(&third, "ran").is_empty(), "{}", text(&third.stderr));
}
