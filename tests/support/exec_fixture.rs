//! Fixtures for executor tests: a generated FFI unit on disk and the
//! options to build it against a private cache.
//! Include with `#[path = "support/exec_fixture.rs"] mod exec_fixture;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use coex::exec::ExecOptions;
use coex::ffi_build::{FfiBuildOptions, FfiUnitInput};

/// Writes a unit with `n` C files sharing `common.h` into `dir`.
pub fn write_unit(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("util")).expect("mkdir");
    std::fs::write(
        dir.join("common.h"),
        "#ifndef COMMON_H\n#define COMMON_H\n#define SCALE 3\nlong coex_f0(long x);\n#endif\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("util/helper.h"),
        "static inline long helper(long x) { return x * SCALE; }\n",
    )
    .expect("write");
    for i in 0..n {
        let body = format!(
            "#include \"common.h\"\n#include \"util/helper.h\"\nlong coex_f{i}(long x) {{ return helper(x) + {i}; }}\n"
        );
        std::fs::write(dir.join(format!("f{i}.c")), body).expect("write");
    }
}

/// Reads every file under `dir` (relative paths) like an archive reader would.
pub fn read_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("prefix");
                out.insert(
                    rel.to_string_lossy().into_owned(),
                    std::fs::read(&p).expect("read"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The unit input for a directory written by [`write_unit`].
pub fn unit_input(dir: &Path, library: &str, unit: &str) -> FfiUnitInput {
    let files = read_files(dir);
    let sources = files
        .keys()
        .filter(|f| f.ends_with(".c"))
        .cloned()
        .collect();
    FfiUnitInput {
        library: library.into(),
        unit: unit.into(),
        files,
        sources,
        include_dirs: vec![".".into()],
        cflags: vec!["-std=c99".into(), "-DNDEBUG".into()],
        ..Default::default()
    }
}

/// Build options against `cache` (no remote, -j 2, quiet).
pub fn options(cache: &Path) -> FfiBuildOptions {
    let mut exec = ExecOptions::new(cache);
    exec.jobs = 2;
    FfiBuildOptions { exec, cc: None }
}

/// BLAKE3 hex of a file.
pub fn file_digest(p: &Path) -> String {
    blake3::hash(&std::fs::read(p).expect("read"))
        .to_hex()
        .to_string()
}

/// All `cas/` blob paths under a cache dir.
pub fn cas_files(cache: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(shards) = std::fs::read_dir(cache.join("cas")) {
        for s in shards.flatten() {
            for f in std::fs::read_dir(s.path()).into_iter().flatten().flatten() {
                v.push(f.path());
            }
        }
    }
    v.sort();
    v
}
