//! A real, offline Bazel (Debian's bazel-bootstrap 4.2.3) on copies of
//! `examples/bazel`, for tests/bazel_e2e.rs: the workspaces, a fresh-clone
//! copy of the rules, the persistent cargo cache the toolchain repository
//! builds `coex` in, a private nginx WebDAV cache, and Bazel's log parsed.
//!
//! Include with `#[path = "support/bazel.rs"] mod bazel;`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

/// The root of this repository: the `coex_rules` Bazel repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `coex` of this build (what `coex build` comparisons and the
/// `file://` download use).
pub fn coex_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_coex"))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Copies `from` to `to` recursively: plain files (keeping their
/// modification times, so cargo sees a copied source tree as unchanged)
/// and folders, skipping symbolic links, `.git`, `target` and Bazel's
/// `bazel-*` convenience links of a local run.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text.starts_with("bazel-") || text == ".git" || text == "target" {
            continue;
        }
        let target = to.join(&name);
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            copy_keeping_mtime(&entry.path(), &target).unwrap();
        }
    }
}

/// This repository as a fresh clone has it: no `target/` (so no `coex`
/// binary), no `.git`. The toolchain repository builds `coex` from it.
pub fn rules_checkout(dir: &Path) -> PathBuf {
    copy_tree(&repo_root(), dir);
    assert!(!dir.join("target").exists());
    dir.to_path_buf()
}

/// Where the toolchain repository's cargo build keeps its target directory
/// across test runs (`COEX_CARGO_TARGET_DIR`): `COEX_E2E_CARGO_TARGET_DIR`,
/// else `bazel-e2e-coex/` in this build's own target directory (so
/// `cargo clean` removes it). The first run builds every crate once
/// (minutes); later runs only check that everything is fresh.
pub fn cargo_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("COEX_E2E_CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let bin = coex_bin();
    let profile_dir = bin.parent().expect("target/<profile>/coex");
    let target = profile_dir.parent().expect("target/<profile>/coex");
    let dir = target.join("bazel-e2e-coex");
    seed_from(profile_dir, &dir.join("debug"));
    dir
}

/// The first time: copies this build's compiled dependencies (rlibs, their
/// build-script results and fingerprints, with their modification times;
/// no test binaries) into the toolchain's cargo target dir, so its build
/// compiles only what differs (the `coex` crate at its new path, crates
/// whose features the tests' dev-dependencies widen, crates whose C is
/// compiled with `CC=clang`) instead of every crate. Later runs find the
/// dir and skip.
fn seed_from(profile_dir: &Path, to: &Path) {
    if to.exists() {
        return;
    }
    let deps = to.join("deps");
    fs::create_dir_all(&deps).expect("create the seeded target dir");
    let wanted = |name: &str| {
        [".rlib", ".rmeta", ".so", ".d"]
            .iter()
            .any(|e| name.ends_with(e))
            && !name.contains("coex")
    };
    if let Ok(entries) = fs::read_dir(profile_dir.join("deps")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if wanted(&name) {
                let _ = copy_keeping_mtime(&e.path(), &deps.join(&name));
            }
        }
    }
    for sub in ["build", ".fingerprint"] {
        let _ = Command::new("cp")
            .arg("-rp")
            .arg(profile_dir.join(sub))
            .arg(to.join(sub))
            .status();
    }
}

/// Copies the file `from` to `to` with its modification time: cargo
/// compares times (a crate's outputs with its dependents' fingerprints, a
/// source with its last build), so copies stamped "now" look changed.
fn copy_keeping_mtime(from: &Path, to: &Path) -> std::io::Result<()> {
    let modified = fs::metadata(from)?.modified()?;
    fs::copy(from, to)?;
    fs::File::options()
        .write(true)
        .open(to)?
        .set_modified(modified)
}

/// One Bazel workspace (a copy of examples/bazel) and its own Bazel server.
pub struct Workspace {
    pub dir: PathBuf,
    pub user_root: PathBuf,
    pub home: PathBuf,
}

impl Workspace {
    /// Copies the example workspace to `dir` and points it at the rules in
    /// `rules` (the toolchain is whatever the WORKSPACE asks for: the
    /// example's `coex_register_toolchains()` builds coex with cargo).
    pub fn create(dir: &Path, user_root: &Path, home: &Path, rules: &Path) -> Workspace {
        copy_tree(&repo_root().join("examples/bazel"), dir);
        let mut rc = fs::read_to_string(dir.join(".bazelrc")).unwrap();
        rc.push_str(&format!(
            "\n# Added by tests/bazel_e2e.rs: the rules of this checkout.\n\
             common --override_repository=coex_rules={root}\n\
             common --override_repository=remote_coverage_tools={root}/toolchains/offline/remote_coverage_tools\n\
             build --nosandbox_debug\n",
            root = rules.display()
        ));
        fs::write(dir.join(".bazelrc"), rc).unwrap();
        // A downloaded library: the checked-in archive through http_file
        // (a file:// URL keeps it offline), wrapped by a cxz_library.
        let archive = dir.join("third_party/counter.cxz");
        let sha256 = sha256_hex(&fs::read(&archive).unwrap());
        let mut ws = fs::read_to_string(dir.join("WORKSPACE")).unwrap();
        ws.push_str(&format!(
            "\nload(\"@bazel_tools//tools/build_defs/repo:http.bzl\", \"http_file\")\n\n\
             http_file(\n    name = \"counter_download\",\n    urls = [\"file://{}\"],\n    \
             sha256 = \"{sha256}\",\n    downloaded_file_path = \"counter.cxz\",\n)\n",
            archive.display()
        ));
        fs::write(dir.join("WORKSPACE"), ws).unwrap();
        let mut build = fs::read_to_string(dir.join("third_party/BUILD.bazel")).unwrap();
        build.push_str(
            "\ncxz_library(\n    name = \"counter_download\",\n    src = \"@counter_download//file\",\n    \
             units = [\"counter\"],\n    import_name = \"counter\",\n)\n",
        );
        fs::write(dir.join("third_party/BUILD.bazel"), build).unwrap();
        Workspace {
            dir: dir.to_path_buf(),
            user_root: user_root.to_path_buf(),
            home: home.to_path_buf(),
        }
    }

    /// Appends `text` to one of the workspace's files.
    pub fn append(&self, file: &str, text: &str) {
        let path = self.dir.join(file);
        let old = fs::read_to_string(&path).unwrap_or_default();
        fs::write(path, old + text).unwrap();
    }

    /// Runs Bazel with a private HOME, no `COEX_BIN` and cargo's own
    /// folders (the toolchain repository's cargo finds its registry cache
    /// and toolchain there, offline).
    pub fn bazel(&self, args: &[&str]) -> Output {
        let output_user_root = format!("--output_user_root={}", self.user_root.display());
        let real_home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
        let or_home = |var: &str, sub: &str| -> OsString {
            std::env::var_os(var).unwrap_or_else(|| real_home.join(sub).into_os_string())
        };
        let started = std::time::Instant::now();
        let out = Command::new("bazel")
            .arg(&output_user_root)
            .arg("--host_jvm_args=-Xmx768m")
            .args(args)
            .current_dir(&self.dir)
            .env("HOME", &self.home)
            .env("CARGO_HOME", or_home("CARGO_HOME", ".cargo"))
            .env("RUSTUP_HOME", or_home("RUSTUP_HOME", ".rustup"))
            .env("COEX_CARGO_TARGET_DIR", cargo_cache_dir())
            .env_remove("COEX_BIN")
            .env_remove("COEX_CACHE_DIR")
            .output()
            .expect("bazel runs (Debian package bazel-bootstrap)");
        // Shown with the output of a failing test (or with --no-capture).
        eprintln!(
            "[{:>6.1}s] bazel {} ({})",
            started.elapsed().as_secs_f64(),
            args.join(" "),
            self.dir.display()
        );
        out
    }

    /// Runs Bazel and requires success; returns its stderr (Bazel's log).
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.bazel(args);
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "bazel {args:?} failed in {}:\n{log}\n{}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stdout)
        );
        log
    }

    /// Runs Bazel and requires failure; returns its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.bazel(args);
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "bazel {args:?} succeeded:\n{log}");
        log
    }

    /// The BUILD file Bazel generated for the toolchain repository (its
    /// first line says where coex came from).
    pub fn toolchain_build_file(&self) -> String {
        let out = self.bazel(&["info", "output_base"]);
        let base = String::from_utf8_lossy(&out.stdout).trim().to_string();
        fs::read_to_string(Path::new(&base).join("external/coex_toolchain/BUILD.bazel"))
            .unwrap_or_else(|e| panic!("the toolchain repository in {base}: {e}"))
    }

    pub fn output_digest(&self, path: &str) -> String {
        let bytes = fs::read(self.dir.join("bazel-bin").join(path))
            .unwrap_or_else(|e| panic!("bazel-bin/{path} in {}: {e}", self.dir.display()));
        sha256_hex(&bytes)
    }

    pub fn shutdown(&self) {
        let _ = self.bazel(&["shutdown"]);
    }
}

/// A private nginx serving a WebDAV cache at http://127.0.0.1:PORT/cache/.
pub struct Nginx {
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    pub fn start(dir: &Path) -> Nginx {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        for sub in ["logs", "tmp", "data/cache"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let d = dir.display();
        let conf = format!(
            "worker_processes 1; daemon on;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/logs/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
               access_log {d}/logs/access.log;\n\
               client_body_temp_path {d}/tmp/client_body;\n\
               proxy_temp_path {d}/tmp/proxy; fastcgi_temp_path {d}/tmp/fastcgi;\n\
               uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;\n\
               server {{ listen 127.0.0.1:{port}; root {d}/data;\n\
                 location /cache/ {{ dav_methods PUT; create_full_put_path on;\n\
                   dav_access user:rw group:r all:r; client_max_body_size 0; }} }} }}\n"
        );
        fs::write(dir.join("nginx.conf"), conf).unwrap();
        // Workers run as nobody: they must be able to write the data folders.
        let chown = Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(dir.join("data"))
            .arg(dir.join("tmp"))
            .status()
            .unwrap();
        assert!(chown.success());
        let status = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .status()
            .expect("nginx runs");
        assert!(status.success(), "nginx did not start");
        Nginx {
            dir: dir.to_path_buf(),
            port,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cache", self.port)
    }

    /// Number of files nginx stores under `data/cache/<kind>/`.
    pub fn entries(&self, kind: &str) -> usize {
        fs::read_dir(self.dir.join("data/cache").join(kind))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    pub fn stop(&self) {
        if let Ok(pid) = fs::read_to_string(self.dir.join("nginx.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// Stops every server a test started, whether it passes or panics.
pub struct Cleanup<'a> {
    pub workspaces: Vec<&'a Workspace>,
    pub nginx: Option<&'a Nginx>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for ws in &self.workspaces {
            ws.shutdown();
        }
        if let Some(nginx) = self.nginx {
            nginx.stop();
        }
    }
}

/// Bazel's summary line `N processes: K remote cache hit, M internal, …` as
/// counts by kind (`remote cache hit`, `internal`, `linux-sandbox`, …).
pub fn process_counts(log: &str) -> BTreeMap<String, usize> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.starts_with("INFO: ") && (l.contains(" process: ") || l.contains(" processes")))
        .unwrap_or_else(|| panic!("no process summary in Bazel's log:\n{log}"));
    // "INFO: 1 process: 1 internal." / "INFO: 0 processes." / "INFO: 5 processes: 2 remote cache hit, 3 internal."
    let Some((_, list)) = line
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": "))
    else {
        return BTreeMap::new();
    };
    let mut counts = BTreeMap::new();
    for part in list.trim_end_matches('.').split(", ") {
        let (n, kind) = part.split_once(' ').unwrap();
        counts.insert(kind.to_string(), n.parse::<usize>().unwrap());
    }
    counts
}

/// Processes that really ran (neither Bazel-internal nor cache hits).
pub fn executed(counts: &BTreeMap<String, usize>) -> usize {
    counts
        .iter()
        .filter(|(kind, _)| kind.as_str() != "internal" && kind.as_str() != "remote cache hit")
        .map(|(_, n)| n)
        .sum()
}
