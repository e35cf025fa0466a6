//! Shared helpers of the end-to-end program tests: the real `coex` binary
//! with a private cache and home, and the example libraries packed once per
//! test into its own folder.
//! Include with `#[path = "e2e/common.rs"] mod common;`.
#![allow(dead_code)]

#[path = "../support/isolated.rs"]
pub mod isolated;

use isolated::isolated_coex;

use std::path::{Path, PathBuf};
use std::process::Output;

/// A private environment: cache, home and a work folder, all in one tempdir.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        Env { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `coex ARGS` in `cwd` with this environment's cache and home.
    pub fn coex_in(&self, cwd: &Path, args: &[&str]) -> Output {
        self.coex_with_cache(cwd, &self.path().join("cache"), args)
    }

    /// `coex ARGS` in `cwd` with an explicit cache folder.
    pub fn coex_with_cache(&self, cwd: &Path, cache: &Path, args: &[&str]) -> Output {
        isolated_coex(cwd, cache, &self.path().join("home"))
            .args(args)
            .output()
            .expect("run coex")
    }

    /// Packs `examples/libs/<name>` into `<env>/libs/<name>.cxz`.
    pub fn pack_example(&self, name: &str) -> PathBuf {
        let libs = self.path().join("libs");
        std::fs::create_dir_all(&libs).expect("libs dir");
        let out = libs.join(format!("{name}.cxz"));
        let src = repo().join("examples/libs").join(name);
        let o = self.coex_in(
            self.path(),
            &[
                "cxz",
                "pack",
                src.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "pack {name}: {}", text(&o.stderr));
        out
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The action ids of a `coex build -v` stderr that `ran`, were `cached`
/// or came from the `remote` cache (status lines like `   Compiling ID`,
/// `      Cached ID`, `      Remote ID`).
pub fn actions_that(stderr: &str, word: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| {
            let (w, rest) = l.trim_start().split_once(' ')?;
            let how = match w {
                "Cached" => "cached",
                "Remote" => "remote",
                "Compiling" | "Linking" | "Generating" | "Running" => "ran",
                _ => return None,
            };
            (how == word).then(|| rest.trim().to_string())
        })
        .collect()
}

/// `N actions: R ran, C cached, M remote` from the `Finished` line of a
/// build's stderr (empty if there is none).
pub fn summary_of(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find_map(|l| {
            let start = l.find(" actions: ")?;
            let from = l[..start].rfind('(')? + 1;
            let end = l[start..].find(')')? + start;
            Some(l[from..end].to_string())
        })
        .unwrap_or_default()
}
