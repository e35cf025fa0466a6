//! Builds through a real REAPI server (BuildGrid over gRPC), attacked the
//! way a shared cache fails in practice: a second machine gets everything
//! from it; a stopped or silent server costs one warning and no hang; wrong
//! bytes in its CAS are caught and rebuilt; signed results are required
//! when a reader names a key.

#[path = "support/buildgrid.rs"]
mod buildgrid;
#[path = "e2e/common.rs"]
mod common;

use buildgrid::BuildGrid;
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const APP: &str =
    "import \"counter\"\n\nfunc main() -> int\n    print(counter_bump(3))\n    return 0\n~\n";

/// `app.coex` importing the example counter library, packed into `libs/`.
fn project(env: &Env) -> PathBuf {
    let root = env.path().join("proj");
    std::fs::create_dir_all(root.join("libs")).unwrap();
    std::fs::write(root.join("app.coex"), APP).unwrap();
    let src = repo().join("examples/libs/counter");
    let o = env.coex_in(
        &root,
        &[
            "cxz",
            "pack",
            src.to_str().unwrap(),
            "-o",
            "libs/counter.cxz",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    root
}

struct Built {
    /// The status lines of `coex build -v` (on stderr, like warnings).
    status: String,
    stderr: String,
    app: Vec<u8>,
}

/// Builds `app` with cache `cache` and `extra` flags; checks it runs right.
fn build(env: &Env, root: &Path, cache: &str, extra: &[&str]) -> Built {
    let mut args = vec!["build", "-v", "app.coex", "-L", "libs", "-o", "app"];
    args.extend_from_slice(extra);
    let o = env.coex_with_cache(root, &env.path().join(cache), &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    let run = std::process::Command::new(root.join("app"))
        .output()
        .unwrap();
    assert_eq!(text(&run.stdout), "3\n", "the built program runs right");
    Built {
        status: text(&o.stderr),
        stderr: text(&o.stderr),
        app: std::fs::read(root.join("app")).unwrap(),
    }
}

fn summary(status: &str) -> String {
    summary_of(status)
}

fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect()
}

#[test]
fn a_second_builder_gets_every_action_from_buildgrid() {
    let env = Env::new();
    let root = project(&env);
    let server = BuildGrid::start();
    let url = server.url();
    let a = build(&env, &root, "cache-a", &["--remote-cache", &url]);
    let n = actions_that(&a.status, "ran").len();
    assert!(n >= 10, "{}", a.status);
    let b = build(&env, &root, "cache-b", &["--remote-cache", &url]);
    assert_eq!(
        summary(&b.status),
        format!("{n} actions: 0 ran, 0 cached, {n} remote"),
        "{}\n{}",
        b.status,
        server.log()
    );
    assert!(warnings(&b.stderr).is_empty(), "{}", b.stderr);
    assert_eq!(a.app, b.app, "identical executables");
    assert!(b.status.contains("remote cache: "), "{}", b.status);
}

#[test]
fn a_stopped_server_costs_one_warning_and_no_hang() {
    let env = Env::new();
    let root = project(&env);
    let mut server = BuildGrid::start();
    let url = server.url();
    server.stop();
    let started = Instant::now();
    let b = build(&env, &root, "cache", &["--remote-cache", &url]);
    assert!(started.elapsed() < Duration::from_secs(60));
    let w = warnings(&b.stderr);
    assert_eq!(w.len(), 1, "{}", b.stderr);
    assert!(
        w[0].contains(&url) && w[0].contains("building locally"),
        "{}",
        w[0]
    );
    assert!(summary(&b.status).ends_with(", 0 remote"), "{}", b.status);
}

#[test]
fn a_server_that_never_answers_times_out_once() {
    let env = Env::new();
    let root = project(&env);
    // Accepts connections and never says a word (not even the HTTP/2 preface).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in silent.incoming().take(8) {
            conns.push(c);
        }
        conns.len()
    });
    let url = format!("grpc://127.0.0.1:{port}");
    let started = Instant::now();
    let b = build(&env, &root, "cache", &["--remote-cache", &url]);
    let took = started.elapsed();
    assert_eq!(warnings(&b.stderr).len(), 1, "{}", b.stderr);
    // One connect/deadline (2 s + 5 s at most), not one per action.
    assert!(took < Duration::from_secs(40), "{took:?}");
    drop(held);
}

/// SHA-256 hex, as the CAS names blobs.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn wrong_bytes_in_the_servers_cas_are_caught_and_rebuilt() {
    let env = Env::new();
    let root = project(&env);
    let server = BuildGrid::start_on_disk();
    let url = server.url();
    let a = build(&env, &root, "cache-a", &["--remote-cache", &url]);
    // Damage the stored executable: same length, other bytes.
    let object = server.cas_object(&sha256_hex(&a.app));
    let mut bytes = std::fs::read(&object).expect("the executable is in the disk CAS");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&object, &bytes).unwrap();
    let b = build(&env, &root, "cache-b", &["--remote-cache", &url]);
    let w = warnings(&b.stderr);
    assert_eq!(w.len(), 1, "{}", b.stderr);
    assert!(w[0].contains("does not match"), "{}", w[0]);
    assert_eq!(a.app, b.app, "the damaged blob was not used");
    assert!(
        actions_that(&b.status, "ran")
            .iter()
            .any(|a| a.starts_with("link")),
        "{}",
        b.status
    );
    // And B's local cache holds the right executable: a warm build is all cached.
    let c = build(&env, &root, "cache-b", &[]);
    assert!(summary(&c.status).contains(" 0 ran,"), "{}", c.status);
}

fn keygen(env: &Env, name: &str) -> (PathBuf, String) {
    let file = env.path().join(name);
    let o = env.coex_in(
        env.path(),
        &["cache", "keygen", "-o", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let public = text(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("public key: ").map(str::to_string))
        .expect("the public key is printed");
    (file, public)
}

#[test]
fn readers_with_a_verify_key_use_only_results_signed_by_it() {
    let env = Env::new();
    let root = project(&env);
    let server = BuildGrid::start();
    let url = server.url();
    let (ci_key, ci_public) = keygen(&env, "ci.key");
    let (_, stranger_public) = keygen(&env, "stranger.key");
    let a = build(
        &env,
        &root,
        "cache-ci",
        &[
            "--remote-cache",
            &url,
            "--remote-signing-key",
            ci_key.to_str().unwrap(),
        ],
    );
    let n = actions_that(&a.status, "ran").len();
    let reader = build(
        &env,
        &root,
        "cache-reader",
        &["--remote-cache", &url, "--remote-verify-key", &ci_public],
    );
    assert_eq!(
        summary(&reader.status),
        format!("{n} actions: 0 ran, 0 cached, {n} remote")
    );
    assert!(warnings(&reader.stderr).is_empty(), "{}", reader.stderr);
    let wary = build(
        &env,
        &root,
        "cache-wary",
        &[
            "--remote-cache",
            &url,
            "--remote-verify-key",
            &stranger_public,
            "--remote-upload=false",
        ],
    );
    let w = warnings(&wary.stderr);
    assert_eq!(
        w.len(),
        1,
        "one warning however many entries: {}",
        wary.stderr
    );
    assert!(w[0].contains("signature"), "{}", w[0]);
    assert_eq!(
        summary(&wary.status),
        format!("{n} actions: {n} ran, 0 cached, 0 remote")
    );
    assert_eq!(wary.app, a.app);
}
