//! What makes warm builds fast (archives, blobs and outputs remembered by
//! file metadata) must never make them wrong: each memo is attacked the way
//! a careless user or a damaged disk would, through the real binary.

#[path = "support/isolated.rs"]
mod isolated;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

use isolated::isolated_coex;

const APP: &str =
    "import \"probe\"\n\nfunc main() -> int\n    print(probe_value())\n    return 0\n~\n";

fn library(root: &Path, value: i64) -> PathBuf {
    let dir = root.join(format!("src{value}"));
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
    // Same length for every value below 10: an in-place swap keeps the size.
    fs::write(
        dir.join("ffi/src/a.c"),
        format!("#include <stdint.h>\nint64_t probe_value(void) {{ return {value}; }}\n"),
    )
    .unwrap();
    dir
}

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            root: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(env.path().join("work/lib")).unwrap();
        fs::write(env.path().join("work/app.coex"), APP).unwrap();
        env
    }

    fn path(&self) -> &Path {
        self.root.path()
    }

    fn coex(&self, args: &[&str]) -> Output {
        isolated_coex(
            &self.path().join("work"),
            &self.path().join("cache"),
            &self.path().join("home"),
        )
        .args(args)
        .output()
        .unwrap()
    }

    /// Packs the library returning `value` into work/lib/probe.cxz.
    fn pack(&self, value: i64) {
        let dir = library(self.path(), value);
        let out = self.coex(&["cxz", "pack", dir.to_str().unwrap(), "-o", "lib/probe.cxz"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Builds and runs the app; returns what it printed.
    fn build_and_run(&self) -> String {
        let out = self.coex(&["build", "app.coex", "-o", "app"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = std::process::Command::new(self.path().join("work/app"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&run.stdout).into_owned()
    }
}

fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Lets the racy-timestamp window (2 s) pass so memos are written.
fn settle() {
    std::thread::sleep(Duration::from_millis(2100));
}

#[test]
fn an_archive_swapped_for_another_of_the_same_size_and_mtime_is_read_again() {
    let env = Env::new();
    env.pack(1);
    let archive = env.path().join("work/lib/probe.cxz");
    let old_mtime = fs::metadata(&archive).unwrap().modified().unwrap();
    settle();
    assert_eq!(env.build_and_run(), "1\n");
    assert_eq!(env.build_and_run(), "1\n"); // from the archive memo
    let old_len = fs::metadata(&archive).unwrap().len();
    env.pack(2);
    assert_eq!(fs::metadata(&archive).unwrap().len(), old_len);
    set_mtime(&archive, old_mtime);
    assert_eq!(env.build_and_run(), "2\n");
}

#[test]
fn a_cached_blob_damaged_in_place_with_its_mtime_restored_is_caught() {
    let env = Env::new();
    env.pack(3);
    settle();
    assert_eq!(env.build_and_run(), "3\n");
    assert_eq!(env.build_and_run(), "3\n"); // blobs now trusted by metadata
                                            // Damage every blob of the cache in place, same size, old mtime.
    let mut damaged = 0;
    for shard in fs::read_dir(env.path().join("cache/cas")).unwrap() {
        for blob in fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = blob.unwrap().path();
            let meta = fs::metadata(&path).unwrap();
            let mut bytes = fs::read(&path).unwrap();
            if bytes.is_empty() {
                continue;
            }
            bytes[0] ^= 0xff;
            fs::write(&path, &bytes).unwrap();
            set_mtime(&path, meta.modified().unwrap());
            damaged += 1;
        }
    }
    assert!(damaged > 10);
    fs::remove_file(env.path().join("work/app")).unwrap();
    let out = env.coex(&["build", "app.coex", "-o", "app"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: dropped corrupt cache entry"),
        "{stderr}"
    );
    let run = std::process::Command::new(env.path().join("work/app"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "3\n");
}
