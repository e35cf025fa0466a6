//! End to end through a real, offline Bazel (Debian's bazel-bootstrap 4.2.3)
//! and a real nginx WebDAV remote cache: the Coex rules build the example
//! workspace of `examples/bazel`.
//!
//! As in a fresh clone: the rules are a copy of this repository without
//! `target/`, `COEX_BIN` is unset, and the example's
//! `coex_register_toolchains()` builds `coex` from the copied sources with
//! cargo, offline. That cargo build keeps its target directory across test
//! runs (`target/bazel-e2e-coex`, or `COEX_E2E_CARGO_TARGET_DIR`): the first
//! run compiles every crate once (minutes), later runs find it fresh.
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
//! BuildGrid (`./dev test` installs it; see tests/support/buildgrid.rs), with
//! the other toolchain setups: `coex` downloaded from a `file://` URL through
//! the body of the Bzlmod module extension, and a C++ toolchain whose
//! compiler is a wrapper script around clang (then gcc, which is refused).
//!
//! Run it alone: `cargo nextest run --test bazel_e2e`.

use std::fs;
use std::path::Path;
use std::process::Command;

#[path = "support/bazel.rs"]
mod bazel;
#[path = "support/buildgrid.rs"]
mod buildgrid;

use bazel::{
    coex_bin, copy_tree, executed, process_counts, repo_root, rules_checkout, sha256_hex, Cleanup,
    Nginx, Workspace,
};

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
/// libraries the programs import, and codegen and link of //app:app,
/// //app:app_test, //app:args_test and //app:args_demo.
const PROGRAM_ACTIONS: usize = 10;
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
    let rules = rules_checkout(&t.join("coex_rules"));
    let ws1 = Workspace::create(&t.join("ws1"), &user_root, &home, &rules);
    let ws2 = Workspace::create(&t.join("elsewhere/deeper/ws2"), &user_root, &home, &rules);
    let nginx = Nginx::start(&t.join("nginx"));
    let _cleanup = Cleanup {
        workspaces: vec![&ws1, &ws2],
        nginx: Some(&nginx),
    };
    let disk_flag = format!("--disk_cache={}", disk_cache.display());
    let remote_flag = format!("--remote_cache={}", nginx.url());

    // 1. Build the archives (filling a disk cache). The toolchain
    //    repository builds coex from the copied rules with cargo.
    let mut build = vec!["build", disk_flag.as_str()];
    build.extend(ARCHIVES);
    let log = ws1.ok(&build);
    assert_eq!(executed(&process_counts(&log)), COEX_ACTIONS, "{log}");
    let toolchain = ws1.toolchain_build_file();
    assert!(toolchain.contains("(built with cargo)"), "{toolchain}");
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
    // `bazel test` runs app_test and args_test; args_test (and
    // `bazel run` of the coex_binary args_demo) checks its args, its data
    // file in the runfiles and its env.
    ws2.ok(&["test", "//..."]);
    let out = ws2.bazel(&["run", "//app:args_demo"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

/// Replaces the example's `coex_register_toolchains()` by what Bazel 6+
/// does for the rules' MODULE.bazel: the `coex` module extension's body
/// (`coex_toolchains_for_modules`) run on a stand-in for
/// `module_ctx.modules` (the rules' own module, without a tag, and a root
/// module whose `coex.toolchain(urls, sha256)` tag downloads this build's
/// `coex` from a `file://` URL), then `register_toolchains` as MODULE.bazel
/// does. Only extensions.bzl's few lines are left untested.
fn use_the_module_extension_with_a_download(ws: &Workspace) {
    let coex = coex_bin();
    let sha256 = sha256_hex(&fs::read(&coex).unwrap());
    let standin = format!(
        "load(\"@coex_rules//toolchains:repositories.bzl\", \"coex_toolchains_for_modules\")\n\n\
         def _tag(**attrs):\n    \
             tag = dict(path = \"\", urls = [], sha256 = \"\", cargo = \"\", cargo_profile = \"dev\",\n               \
             cargo_target_dir = \"\", build_timeout = 3600)\n    \
             tag.update(attrs)\n    \
             return struct(**tag)\n\n\
         def coex_extension_standin():\n    \
             coex_toolchains_for_modules([\n        \
                 struct(is_root = False, tags = struct(toolchain = [])),\n        \
                 struct(is_root = True, tags = struct(toolchain = [\n            \
                     _tag(urls = [\"file://{}\"], sha256 = \"{sha256}\"),\n        \
                 ])),\n    \
             ])\n",
        coex.display()
    );
    fs::write(ws.dir.join("third_party/bzlmod_standin.bzl"), standin).unwrap();
    let workspace = fs::read_to_string(ws.dir.join("WORKSPACE")).unwrap();
    let call = "\ncoex_register_toolchains()\n";
    assert!(workspace.contains(call));
    let workspace = workspace.replace(
        call,
        "\nload(\"//third_party:bzlmod_standin.bzl\", \"coex_extension_standin\")\n\n\
         coex_extension_standin()\n\n\
         register_toolchains(\"@coex_toolchain//:toolchain\")\n",
    );
    fs::write(ws.dir.join("WORKSPACE"), workspace).unwrap();
}

/// Points the workspace's auto-configured C++ toolchain at a wrapper
/// script around clang that appends its arguments to a log; returns the
/// log's path.
fn use_a_wrapper_clang(ws: &Workspace, dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir).unwrap();
    let log = dir.join("clang.log");
    let wrapper = dir.join("clang-wrapper");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec /usr/bin/clang \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    ws.append(
        ".bazelrc",
        &format!(
            "\n# Added by tests/bazel_e2e.rs: clang through a wrapper that logs.\n\
             common --repo_env=CC={}\nbuild --sandbox_writable_path={}\n",
            wrapper.display(),
            dir.display()
        ),
    );
    log
}

/// Bazel's gRPC remote cache (`--remote_cache=grpc://…`) against a real
/// BuildGrid: a build fills it, and after `bazel clean` every coex action is
/// a remote cache hit. The workspace gets its toolchain as a Bzlmod setup
/// would (the module extension's body, downloading `coex` from a `file://`
/// URL) and its C compiler from a C++ toolchain whose compiler is a wrapper
/// around clang; a C++ toolchain with gcc is refused with a clear error.
#[test]
fn bazel_shares_coex_actions_through_a_grpc_cache() {
    let grid = buildgrid::BuildGrid::start();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let home = t.join("home");
    fs::create_dir_all(&home).unwrap();
    let ws = Workspace::create(&t.join("ws"), &t.join("bazel_root"), &home, &repo_root());
    use_the_module_extension_with_a_download(&ws);
    let clang_log = use_a_wrapper_clang(&ws, &t.join("wrapper"));
    let _cleanup = Cleanup {
        workspaces: vec![&ws],
        nginx: None,
    };
    let remote_flag = format!("--remote_cache={}", grid.url());
    let mut build = vec!["build", remote_flag.as_str()];
    build.extend(ARCHIVES);

    // 1. The first build runs every coex action and uploads the results;
    //    the runtime and the FFI units were compiled by the wrapper.
    let log = ws.ok(&build);
    assert_eq!(
        executed(&process_counts(&log)),
        COEX_ACTIONS,
        "{log}\nBuildGrid:\n{}",
        grid.log()
    );
    let toolchain = ws.toolchain_build_file();
    assert!(toolchain.contains("(downloaded)"), "{toolchain}");
    let compiled = fs::read_to_string(&clang_log).unwrap_or_default();
    for source in ["rt_main.c", "greet.c", "counter.c"] {
        assert!(
            compiled.contains(source),
            "the wrapper compiled {source}:\n{compiled}"
        );
    }
    let digests1: Vec<String> = ARCHIVE_OUTPUTS
        .iter()
        .map(|p| ws.output_digest(p))
        .collect();

    // 2. After `bazel clean`, every one of them comes from BuildGrid (and
    //    the compiler does not run).
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
    assert_eq!(fs::read_to_string(&clang_log).unwrap(), compiled);

    // 3. A C++ toolchain whose compiler is gcc: analysis stops with why.
    let log = ws.fails(&["build", "--repo_env=CC=/usr/bin/gcc", "//greet"]);
    assert!(log.contains("coex needs clang"), "{log}");
    assert!(log.contains("/usr/bin/gcc"), "{log}");
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
