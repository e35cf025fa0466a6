//! End to end through a real, offline Bazel (Debian's bazel-bootstrap 4.2.3)
//! and a real nginx WebDAV remote cache: the Coex rules build the example
//! workspace of `examples/bazel` with the `coex` binary of this crate.
//!
//! Bazel is slow on small machines, so everything happens in ONE test
//! function, in sequence, with as few Bazel invocations as the checks need.
//! Its output user root, the workspaces, the disk cache and the nginx data
//! all live in one temporary directory; both Bazel servers are shut down and
//! nginx is stopped at the end, even when a step fails.
//!
//! It also builds the example's program with `coex build` (no Bazel) and
//! requires the very bytes Bazel linked: both run the same actions.
//!
//! A second test does the remote-cache part again over gRPC, against a real
//! BuildGrid (`./dev test` installs it; see tests/support/buildgrid.rs).
//!
//! Run it alone: `cargo test --test bazel_e2e`.

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

#[path = "support/buildgrid.rs"]
mod buildgrid;

/// The root of this repository: the `coex_rules` Bazel repository.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn coex_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_coex"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Copies `from` to `to` recursively (plain files and folders only).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("bazel-") {
            continue; // convenience symlinks of a local run
        }
        let target = to.join(&name);
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// One Bazel workspace (a copy of examples/bazel) and its own Bazel server.
struct Workspace {
    dir: PathBuf,
    user_root: PathBuf,
    home: PathBuf,
}

impl Workspace {
    /// Copies the example workspace to `dir` and points it at this
    /// repository's rules and this build's `coex`.
    fn create(dir: &Path, user_root: &Path, home: &Path) -> Workspace {
        copy_tree(&repo_root().join("examples/bazel"), dir);
        let root = repo_root();
        let mut rc = fs::read_to_string(dir.join(".bazelrc")).unwrap();
        rc.push_str(&format!(
            "\n# Added by tests/bazel_e2e.rs: the rules of this checkout.\n\
             common --override_repository=coex_rules={root}\n\
             common --override_repository=remote_coverage_tools={root}/toolchains/offline/remote_coverage_tools\n\
             build --nosandbox_debug\n",
            root = root.display()
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

    fn bazel(&self, args: &[&str]) -> Output {
        let output_user_root = format!("--output_user_root={}", self.user_root.display());
        let out = Command::new("bazel")
            .arg(&output_user_root)
            .arg("--host_jvm_args=-Xmx768m")
            .args(args)
            .current_dir(&self.dir)
            .env("COEX_BIN", coex_bin())
            .env("HOME", &self.home)
            .env_remove("COEX_CACHE_DIR")
            .output()
            .expect("bazel runs (Debian package bazel-bootstrap)");
        out
    }

    /// Runs Bazel and requires success; returns its stderr (Bazel's log).
    fn ok(&self, args: &[&str]) -> String {
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

    fn output_digest(&self, path: &str) -> String {
        let bytes = fs::read(self.dir.join("bazel-bin").join(path))
            .unwrap_or_else(|e| panic!("bazel-bin/{path} in {}: {e}", self.dir.display()));
        sha256_hex(&bytes)
    }

    fn shutdown(&self) {
        let _ = self.bazel(&["shutdown"]);
    }
}

/// A private nginx serving a WebDAV cache at http://127.0.0.1:PORT/cache/.
struct Nginx {
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path) -> Nginx {
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

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cache", self.port)
    }

    /// Number of files nginx stores under `data/cache/<kind>/`.
    fn entries(&self, kind: &str) -> usize {
        fs::read_dir(self.dir.join("data/cache").join(kind))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn stop(&self) {
        if let Ok(pid) = fs::read_to_string(self.dir.join("nginx.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// Stops every server this test started, whether it passes or panics.
struct Cleanup<'a> {
    workspaces: Vec<&'a Workspace>,
    nginx: Option<&'a Nginx>,
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
fn process_counts(log: &str) -> BTreeMap<String, usize> {
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
fn executed(counts: &BTreeMap<String, usize>) -> usize {
    counts
        .iter()
        .filter(|(kind, _)| kind.as_str() != "internal" && kind.as_str() != "remote cache hit")
        .map(|(_, n)| n)
        .sum()
}

/// The library targets and the runtime: their coex actions are two packs
/// (greet.cxz and counter.cxz), one FFI unit per cxz_library (greet,
/// counter, counter_download), the runtime build and the check of the
/// coex_library util.
const ARCHIVES: [&str; 7] = [
    "//greet:greet_cxz",
    "//counter_src:counter_cxz",
    "//greet",
    "//third_party:counter",
    "@coex_rules//rules:runtime",
    "//third_party:counter_download",
    "//app:util",
];
/// How many coex actions building them runs.
const COEX_ACTIONS: usize = 7;
/// The coex actions `bazel build //...` adds: the interfaces of the two
/// libraries the programs import, and codegen and link of //app:app and
/// //app:app_test.
const PROGRAM_ACTIONS: usize = 6;
/// The coex actions a change of greet.c re-runs: greet's pack, FFI unit and
/// interface, and the two links. Not codegen: greet's interface (what it
/// reads) has the same bytes, so Bazel prunes there.
const C_CHANGE_ACTIONS: usize = 5;
/// Their outputs.
const ARCHIVE_OUTPUTS: [&str; 7] = [
    "greet/greet.cxz",
    "counter_src/counter.cxz",
    "greet/greet_ffi/libgreet.so",
    "third_party/counter_ffi/libcounter.so",
    "external/coex_rules/rules/coex_rt.o",
    "third_party/counter_download_ffi/libcounter.so",
    "app/util.checked",
];

/// Builds examples/bazel's app with `coex build` outside Bazel: each
/// library packed by `coex cxz pack` from its folder of the example (the
/// very bytes of Bazel's `cxz_archive`, checked in step 1), found through `-L`, the
/// program's files copied into a folder of their own, an empty cache.
/// Returns the executable's bytes.
fn coex_build_of_the_example_app(t: &Path) -> Vec<u8> {
    let example = repo_root().join("examples/bazel");
    let root = t.join("coex_build");
    let (lib, app) = (root.join("libs"), root.join("src"));
    fs::create_dir_all(&lib).unwrap();
    fs::create_dir_all(&app).unwrap();
    let coex = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(coex_bin())
            .args(args)
            .current_dir(&root)
            .env("COEX_CACHE_DIR", root.join("cache"))
            .env("HOME", root.join("home"))
            .env_remove("COEX_PATH")
            .env_remove("COEX_CC")
            .env_remove("COEX_REMOTE_CACHE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "coex {args:?}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for (name, folder) in [("greet", "greet"), ("counter", "counter_src/lib")] {
        let archive = lib.join(format!("{name}.cxz"));
        coex(&[
            "cxz".as_ref(),
            "pack".as_ref(),
            example.join(folder).as_os_str(),
            "-o".as_ref(),
            archive.as_os_str(),
        ]);
    }
    for file in ["main.coex", "util.coex"] {
        fs::copy(example.join("app").join(file), app.join(file)).unwrap();
    }
    let exe = root.join("app");
    coex(&[
        "build".as_ref(),
        app.join("main.coex").as_os_str(),
        "-L".as_ref(),
        lib.as_os_str(),
        "-o".as_ref(),
        exe.as_os_str(),
    ]);
    fs::read(exe).unwrap()
}

#[test]
fn bazel_builds_caches_and_shares_coex_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    fs::create_dir_all(&home).unwrap();
    let user_root = t.join("bazel_root");
    let disk_cache = t.join("disk_cache");
    let ws1 = Workspace::create(&t.join("ws1"), &user_root, &home);
    let ws2 = Workspace::create(&t.join("elsewhere/deeper/ws2"), &user_root, &home);
    let nginx = Nginx::start(&t.join("nginx"));
    let _cleanup = Cleanup {
        workspaces: vec![&ws1, &ws2],
        nginx: Some(&nginx),
    };
    let disk_flag = format!("--disk_cache={}", disk_cache.display());
    let remote_flag = format!("--remote_cache={}", nginx.url());

    // 1. Build the archives (filling a disk cache).
    let mut build = vec!["build", disk_flag.as_str()];
    build.extend(ARCHIVES);
    let log = ws1.ok(&build);
    assert_eq!(executed(&process_counts(&log)), COEX_ACTIONS, "{log}");
    let digests1: Vec<String> = ARCHIVE_OUTPUTS
        .iter()
        .map(|p| ws1.output_digest(p))
        .collect();

    // Bazel's pack (file list) gives the bytes `coex tool pack --root` gives
    // for the same tree, and the bytes of the checked-in third_party/counter.cxz
    // (made by `coex cxz pack examples/bazel/counter_src/lib`).
    let direct = t.join("direct.cxz");
    let out = Command::new(coex_bin())
        .args(["tool", "pack", "--root"])
        .arg(repo_root().join("examples/bazel/counter_src/lib"))
        .arg("-o")
        .arg(&direct)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sha256_hex(&fs::read(&direct).unwrap()), digests1[1]);
    let checked_in = fs::read(repo_root().join("examples/bazel/third_party/counter.cxz")).unwrap();
    assert_eq!(sha256_hex(&checked_in), digests1[1]);
    // greet's cxz_archive gives the bytes of `coex cxz pack` of its folder:
    // the package's BUILD.bazel is never packed, and a copy with a stray
    // build output its own .gitignore leaves out packs the same.
    let junk = t.join("greet_with_junk");
    copy_tree(&ws1.dir.join("greet"), &junk);
    fs::create_dir_all(junk.join("build")).unwrap();
    fs::write(junk.join("build/junk.o"), "stray\n").unwrap();
    fs::write(junk.join(".gitignore"), "build/\n").unwrap();
    for (i, folder) in [repo_root().join("examples/bazel/greet"), junk]
        .iter()
        .enumerate()
    {
        let packed = t.join(format!("greet_packed_{i}.cxz"));
        let out = Command::new(coex_bin())
            .args(["cxz", "pack"])
            .arg(folder)
            .arg("-o")
            .arg(&packed)
            .env("HOME", &home)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            sha256_hex(&fs::read(&packed).unwrap()),
            digests1[0],
            "coex cxz pack {} and Bazel's greet.cxz",
            folder.display()
        );
    }

    // 2. After `bazel clean`, every coex action is a disk cache hit.
    ws1.ok(&["clean"]);
    let log = ws1.ok(&build);
    let counts = process_counts(&log);
    assert_eq!(executed(&counts), 0, "{log}");
    assert_eq!(counts.get("remote cache hit"), Some(&COEX_ACTIONS), "{log}");

    // 3. Fill the nginx remote cache from ws1 (no disk cache: actions run).
    ws1.ok(&["clean"]);
    let mut remote_build = vec!["build", remote_flag.as_str()];
    remote_build.extend(ARCHIVES);
    let log = ws1.ok(&remote_build);
    assert_eq!(executed(&process_counts(&log)), COEX_ACTIONS, "{log}");
    assert!(nginx.entries("ac") >= COEX_ACTIONS, "ac/ entries stored");
    assert!(nginx.entries("cas") >= COEX_ACTIONS, "cas/ entries stored");
    // ws1 also builds the program, to compare binaries across directories in 6.
    ws1.ok(&["build", "//app:app"]);
    let app_digest1 = ws1.output_digest("app/app");
    ws1.shutdown();

    // 4. A second workspace in another directory (another output base)
    //    builds the same bytes on its own...
    let mut local_build = vec!["build"];
    local_build.extend(ARCHIVES);
    let log = ws2.ok(&local_build);
    assert_eq!(executed(&process_counts(&log)), COEX_ACTIONS, "{log}");
    let digests2: Vec<String> = ARCHIVE_OUTPUTS
        .iter()
        .map(|p| ws2.output_digest(p))
        .collect();
    assert_eq!(digests1, digests2, "same archives from two directories");

    // 5. ...and, after `bazel clean`, gets every coex action from the remote cache.
    ws2.ok(&["clean"]);
    let log = ws2.ok(&remote_build);
    let counts = process_counts(&log);
    assert_eq!(executed(&counts), 0, "{log}");
    assert_eq!(counts.get("remote cache hit"), Some(&COEX_ACTIONS), "{log}");
    let digests3: Vec<String> = ARCHIVE_OUTPUTS
        .iter()
        .map(|p| ws2.output_digest(p))
        .collect();
    assert_eq!(digests1, digests3);

    // 6. The whole example: `bazel build //...` runs the programs' codegen
    //    and link actions (everything else is built); `bazel test //...`
    //    runs the coex_test. `coex build` of the same program, from the
    //    same library folders, gives the same executable bytes.
    let log = ws2.ok(&["build", "//..."]);
    assert_eq!(executed(&process_counts(&log)), PROGRAM_ACTIONS, "{log}");
    let app = ws2.dir.join("bazel-bin/app/app");
    let ran = Command::new(&app).output().unwrap();
    assert_eq!(
        ran.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "42\n42\n3\n");
    assert_eq!(
        ws2.output_digest("app/app"),
        app_digest1,
        "two clean builds in two directories give byte-identical binaries"
    );
    ws2.ok(&["test", "//..."]);
    assert_eq!(
        coex_build_of_the_example_app(t),
        fs::read(&app).unwrap(),
        "`coex build` and `bazel build` give byte-identical executables"
    );

    // 7. Changing one C file re-runs only that library's actions and the
    //    links; the other library, the runtime and Cranelift do not re-run.
    let greet_c = ws2.dir.join("greet/ffi/src/greet.c");
    let c = fs::read_to_string(&greet_c).unwrap();
    fs::write(&greet_c, c.replace("return a + b;", "return a + b + 1;")).unwrap();
    let log = ws2.ok(&["build", "//..."]);
    assert_eq!(executed(&process_counts(&log)), C_CHANGE_ACTIONS, "{log}");
    let digests4: Vec<String> = ARCHIVE_OUTPUTS
        .iter()
        .map(|p| ws2.output_digest(p))
        .collect();
    assert_ne!(digests4[0], digests1[0], "greet.cxz changed");
    assert_ne!(digests4[2], digests1[2], "libgreet.so changed");
    assert_eq!(digests4[1], digests1[1], "counter.cxz untouched");
    assert_eq!(digests4[3], digests1[3], "libcounter.so untouched");
    assert_eq!(digests4[4], digests1[4], "runtime untouched");
    // The downloaded archive is the checked-in one: the same unit image.
    assert_eq!(digests1[5], digests1[3]);
    let ran = Command::new(&app).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "43\n42\n3\n");
    // The test's exit status is its result: greet_sum(2, 3) is now 6.
    let out = ws2.bazel(&["test", "//app:app_test"]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Bazel's gRPC remote cache (`--remote_cache=grpc://…`) against a real
/// BuildGrid: a build fills it, and after `bazel clean` every coex action is
/// a remote cache hit.
#[test]
fn bazel_shares_coex_actions_through_a_grpc_cache() {
    let grid = buildgrid::BuildGrid::start();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    fs::create_dir_all(&home).unwrap();
    let ws = Workspace::create(&t.join("ws"), &t.join("bazel_root"), &home);
    let _cleanup = Cleanup {
        workspaces: vec![&ws],
        nginx: None,
    };
    let remote_flag = format!("--remote_cache={}", grid.url());
    let mut build = vec!["build", remote_flag.as_str()];
    build.extend(ARCHIVES);

    // 1. The first build runs every coex action and uploads the results.
    let log = ws.ok(&build);
    assert_eq!(
        executed(&process_counts(&log)),
        COEX_ACTIONS,
        "{log}\nBuildGrid:\n{}",
        grid.log()
    );
    let digests1: Vec<String> = ARCHIVE_OUTPUTS
        .iter()
        .map(|p| ws.output_digest(p))
        .collect();

    // 2. After `bazel clean`, every one of them comes from BuildGrid.
    ws.ok(&["clean"]);
    let log = ws.ok(&build);
    let counts = process_counts(&log);
    assert_eq!(executed(&counts), 0, "{log}\nBuildGrid:\n{}", grid.log());
    assert_eq!(counts.get("remote cache hit"), Some(&COEX_ACTIONS), "{log}");
    let digests2: Vec<String> = ARCHIVE_OUTPUTS
        .iter()
        .map(|p| ws.output_digest(p))
        .collect();
    assert_eq!(digests1, digests2, "the outputs BuildGrid gave back");
}

#[test]
fn bazel_process_summaries_parse() {
    let counts = process_counts("x\nINFO: 5 processes: 2 remote cache hit, 3 internal.\n");
    assert_eq!(counts.get("remote cache hit"), Some(&2));
    assert_eq!(executed(&counts), 0);
    let counts = process_counts("INFO: 2 processes: 1 internal, 1 linux-sandbox.\n");
    assert_eq!(executed(&counts), 1);
    assert_eq!(
        executed(&process_counts("INFO: 1 process: 1 internal.\n")),
        0
    );
    assert!(process_counts("INFO: 0 processes.\n").is_empty());
}
