//! Attacks on the HTTP remote cache and its trust model, through the real
//! `coex` binary against private nginx servers: what is stored on the wire,
//! sharing between machines, signed results (wrong key, no signature, a
//! result moved to another action), https with a private CA, API-key
//! headers and URL credentials, redirects, bad flags, and `coex cache
//! keygen`.
//!
//! Every builder has its own cache (`COEX_CACHE_DIR`), as another machine
//! would.

#[path = "e2e/common.rs"]
mod common;
#[path = "support/nginx.rs"]
mod nginx;

use bazel_remote_apis::build::bazel::remote::execution::v2::ActionResult as WireResult;
use common::isolated::isolated_coex;
use common::*;
use nginx::Nginx;
use prost::Message;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const HELLO_PRINTS: &str = "hello from Coex\nsum of squares 1..10 = 385\n";
const COUNTER_PRINTS: &str = "5\n123\ncounter #1 = 123\n10\n20\n30\n40\n5\n";

/// A program to build: its main file, where its libraries are, and what
/// the built executable prints.
struct Prog {
    file: PathBuf,
    libs: PathBuf,
    prints: &'static str,
}

fn hello(env: &Env) -> Prog {
    Prog {
        file: repo().join("examples/hello.coex"),
        libs: env.path().join("libs"),
        prints: HELLO_PRINTS,
    }
}

/// `examples/counter_demo.coex` with `counter.cxz` packed into `<env>/libs`.
fn counter_demo(env: &Env) -> Prog {
    env.pack_example("counter");
    Prog {
        file: repo().join("examples/counter_demo.coex"),
        libs: env.path().join("libs"),
        prints: COUNTER_PRINTS,
    }
}

/// `coex ARGS` with its own cache `<env>/<cache>` and extra variables.
fn coex_env(env: &Env, cache: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = isolated_coex(
        env.path(),
        &env.path().join(cache),
        &env.path().join("home"),
    );
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("run coex")
}

/// `coex build PROG -L LIBS -o <env>/bin/<out> EXTRA…` with cache `<env>/<cache>`.
fn build_with(env: &Env, cache: &str, p: &Prog, out: &str, extra: &[&str]) -> Output {
    build_env(env, cache, p, out, extra, &[])
}

fn build_env(
    env: &Env,
    cache: &str,
    p: &Prog,
    out: &str,
    extra: &[&str],
    vars: &[(&str, &str)],
) -> Output {
    std::fs::create_dir_all(&p.libs).unwrap();
    let file = p.file.to_str().unwrap();
    let libs = p.libs.to_str().unwrap();
    std::fs::create_dir_all(env.path().join("bin")).unwrap();
    let out = exe(env, out);
    let mut args = vec!["build", file, "-L", libs, "-o", out.to_str().unwrap()];
    args.extend(extra);
    coex_env(env, cache, &args, vars)
}

/// Where `build_with(…, out, …)` writes the executable: `<env>/bin/<out>`
/// (caches are `<env>/<cache>`).
fn exe(env: &Env, out: &str) -> PathBuf {
    env.path().join("bin").join(out)
}

/// Action counts of the summary in a `coex build`'s `Finished` line (stderr).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Counts {
    total: usize,
    ran: usize,
    cached: usize,
    remote: usize,
}

fn counts(o: &Output) -> Counts {
    let out = text(&o.stderr);
    let last = summary_of(&out);
    let nums: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 4, "no summary line in:\n{out}");
    Counts {
        total: nums[0],
        ran: nums[1],
        cached: nums[2],
        remote: nums[3],
    }
}

/// The `warning:` lines of a command's stderr.
fn warnings(o: &Output) -> Vec<String> {
    text(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(str::to_string)
        .collect()
}

/// Asserts success and that the executable `<env>/bin/<out>` prints `p.prints`;
/// returns its bytes.
fn assert_built(env: &Env, o: &Output, p: &Prog, out: &str) -> Vec<u8> {
    assert!(
        o.status.success(),
        "build failed:\n{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let exe = exe(env, out);
    assert_runs(&exe, p.prints);
    std::fs::read(exe).unwrap()
}

fn assert_runs(exe: &Path, prints: &str) {
    let run = std::process::Command::new(exe).output().unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout), prints, "what {} prints", exe.display());
}

/// All ran, nothing from anywhere else, no warning: a first build.
fn assert_all_ran(o: &Output) -> Counts {
    let c = counts(o);
    assert_eq!((c.ran, c.cached, c.remote), (c.total, 0, 0), "{c:?}");
    assert!(warnings(o).is_empty(), "{}", text(&o.stderr));
    c
}

/// Everything came from the remote, without a warning.
fn assert_all_remote(o: &Output, total: usize) {
    let c = counts(o);
    assert_eq!(
        c,
        Counts {
            total,
            ran: 0,
            cached: 0,
            remote: total
        },
        "{}",
        text(&o.stderr)
    );
    assert!(warnings(o).is_empty(), "{}", text(&o.stderr));
}

/// Exactly one warning line, returned.
fn one_warning(o: &Output) -> String {
    let w = warnings(o);
    assert_eq!(w.len(), 1, "{}", text(&o.stderr));
    w[0].clone()
}

/// `coex cache keygen -o <env>/<file>`: the public key it printed.
fn keygen(env: &Env, file: &str) -> String {
    let f = env.path().join(file);
    let o = coex_env(
        env,
        "keygen-cache",
        &["cache", "keygen", "-o", f.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    out.lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .unwrap_or_else(|| panic!("no public key in:\n{out}"))
        .to_string()
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The server's `ac/` entries by name, decoded.
fn ac_entries(server: &Nginx) -> BTreeMap<String, WireResult> {
    server
        .stored()
        .into_iter()
        .filter_map(|(rel, bytes)| {
            let name = rel.strip_prefix("ac/")?.to_string();
            let r = WireResult::decode(bytes.as_slice())
                .unwrap_or_else(|e| panic!("ac/{name} is not a REAPI ActionResult: {e}"));
            Some((name, r))
        })
        .collect()
}

/// The names of the `ac/` entries whose only output is the executable of a
/// final link (`program`).
fn final_links(entries: &BTreeMap<String, WireResult>) -> Vec<String> {
    entries
        .iter()
        .filter(|(_, r)| r.output_files.len() == 1 && r.output_files[0].path == "program")
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn http_ac_entries_are_reapi_action_results_naming_stored_blobs() {
    let env = Env::new();
    let server = Nginx::start();
    let url = server.url();
    for (p, out) in [(hello(&env), "hello"), (counter_demo(&env), "counter")] {
        let o = build_with(&env, "a", &p, out, &["--remote-cache", &url]);
        assert_built(&env, &o, &p, out);
        assert!(warnings(&o).is_empty(), "{}", text(&o.stderr));
    }
    let stored = server.stored();
    let entries = ac_entries(&server);
    // Both programs' actions, each with its result (and a list of
    // discovered inputs for compiles and links).
    assert!(entries.len() >= 20, "{}", entries.len());
    for (name, r) in &entries {
        assert!(is_hex64(name), "ac/{name}");
        assert_eq!(r.exit_code, 0, "ac/{name}");
        assert!(!r.output_files.is_empty(), "ac/{name}");
        let mut digests: Vec<_> = r
            .output_files
            .iter()
            .map(|f| (f.path.clone(), f.digest.clone()))
            .collect();
        digests.push(("stdout".into(), r.stdout_digest.clone()));
        digests.push(("stderr".into(), r.stderr_digest.clone()));
        for (what, d) in digests {
            let d = d.unwrap_or_else(|| panic!("ac/{name}: {what} has no digest"));
            assert!(is_hex64(&d.hash), "ac/{name}: {what}: {}", d.hash);
            let blob = stored
                .get(&format!("cas/{}", d.hash))
                .unwrap_or_else(|| panic!("ac/{name}: {what}: cas/{} is not stored", d.hash));
            assert_eq!(
                coex::exec::digest::sha256_hex(blob),
                d.hash,
                "cas/{}",
                d.hash
            );
            assert_eq!(blob.len() as i64, d.size_bytes, "cas/{}", d.hash);
        }
    }
    // Each program's final link is there, its output the executable.
    let links = final_links(&entries);
    assert_eq!(links.len(), 2, "{links:?}");
    let exe_sizes: Vec<i64> = links
        .iter()
        .map(|n| {
            entries[n].output_files[0]
                .digest
                .as_ref()
                .unwrap()
                .size_bytes
        })
        .collect();
    let mut expected = vec![
        std::fs::metadata(exe(&env, "hello")).unwrap().len() as i64,
        std::fs::metadata(exe(&env, "counter")).unwrap().len() as i64,
    ];
    let mut got = exe_sizes.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn a_second_builder_with_an_empty_cache_gets_everything_from_the_remote() {
    let env = Env::new();
    let server = Nginx::start();
    let url = server.url();
    let p = counter_demo(&env);
    let a = build_with(&env, "a", &p, "out_a", &["--remote-cache", &url]);
    let bytes_a = assert_built(&env, &a, &p, "out_a");
    let n = assert_all_ran(&a).total;
    let b = build_with(&env, "b", &p, "out_b", &["--remote-cache", &url]);
    let bytes_b = assert_built(&env, &b, &p, "out_b");
    assert_all_remote(&b, n);
    assert!(bytes_a == bytes_b, "the two executables differ");
    assert!(actions_that(&text(&b.stderr), "ran").is_empty());
}

#[test]
fn signed_results_are_used_only_with_the_right_key() {
    let env = Env::new();
    let server = Nginx::start();
    let url = server.url();
    let public = keygen(&env, "ci.key");
    let stranger = keygen(&env, "other.key");
    let signing_key = env.path().join("ci.key");
    let sign = signing_key.to_str().unwrap();
    let p = counter_demo(&env);

    // A (CI) signs what it uploads.
    let a = build_with(
        &env,
        "a",
        &p,
        "out_a",
        &["--remote-cache", &url, "--remote-signing-key", sign],
    );
    let bytes_a = assert_built(&env, &a, &p, "out_a");
    let n = assert_all_ran(&a).total;
    assert!(n >= 10, "{n}");

    // B trusts A's key: everything remote, the same bytes.
    let b = build_with(
        &env,
        "b",
        &p,
        "out_b",
        &["--remote-cache", &url, "--remote-verify-key", &public],
    );
    assert!(assert_built(&env, &b, &p, "out_b") == bytes_a);
    assert_all_remote(&b, n);
    // The key may be given as a file too (here: the environment variable).
    std::fs::write(env.path().join("ci.pub"), format!("{public}\n")).unwrap();
    let pub_file = env.path().join("ci.pub");
    let b2 = build_env(
        &env,
        "b2",
        &p,
        "out_b2",
        &["--remote-cache", &url],
        &[("COEX_REMOTE_VERIFY_KEY", pub_file.to_str().unwrap())],
    );
    assert_built(&env, &b2, &p, "out_b2");
    assert_all_remote(&b2, n);

    // C trusts another key: one warning for all the refused results, every
    // action run here, the right program.
    let stored_before = server.stored();
    let log_before = server.access_log().len();
    let c = build_with(
        &env,
        "c",
        &p,
        "out_c",
        &["--remote-cache", &url, "--remote-verify-key", &stranger],
    );
    assert!(assert_built(&env, &c, &p, "out_c") == bytes_a);
    let w = one_warning(&c);
    assert!(
        w.starts_with(&format!("warning: remote cache {url} (read-only): ")),
        "{w}"
    );
    assert!(w.contains("signature does not verify"), "{w}");
    assert_eq!(counts(&c).ran, n, "{}", text(&c.stderr));
    assert_eq!(counts(&c).remote, 0);
    // C's local cache holds its own results only, complete and sound: with
    // the remote gone it answers everything itself.
    let verify = coex_env(&env, "c", &["cache", "verify"], &[]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
    let c2 = build_with(&env, "c", &p, "out_c2", &[]);
    assert_built(&env, &c2, &p, "out_c2");
    assert_eq!(counts(&c2).cached, n);
    // C cannot sign, so it left the signed entries alone: B-like readers
    // still get everything.
    let stored_after = server.stored();
    let changed: Vec<&String> = stored_after
        .iter()
        .filter(|(k, v)| stored_before.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        changed.is_empty(),
        "a reader that cannot sign wrote {changed:?}"
    );
    let puts: Vec<String> = server.access_log()[log_before..]
        .iter()
        .filter(|l| l.contains("\"PUT "))
        .cloned()
        .collect();
    assert!(puts.is_empty(), "{puts:?}");
    let b3 = build_with(
        &env,
        "b3",
        &p,
        "out_b3",
        &["--remote-cache", &url, "--remote-verify-key", &public],
    );
    assert_all_remote(&b3, n);

    // Unsigned results (a writer without a key) on another server: a
    // reader that requires signatures warns once and builds it all.
    let plain = Nginx::start();
    let purl = plain.url();
    let w1 = build_with(&env, "w1", &p, "out_w1", &["--remote-cache", &purl]);
    assert_all_ran(&w1);
    let r1 = build_with(
        &env,
        "r1",
        &p,
        "out_r1",
        &["--remote-cache", &purl, "--remote-verify-key", &public],
    );
    assert!(assert_built(&env, &r1, &p, "out_r1") == bytes_a);
    let w = one_warning(&r1);
    assert!(w.contains("the result is not signed"), "{w}");
    assert!(
        w.ends_with("Results are used only when signed by --remote-verify-key"),
        "{w}"
    );
    assert_eq!(counts(&r1).ran, n);
}

#[test]
fn a_result_moved_to_another_action_fools_only_a_reader_without_a_key() {
    let env = Env::new();
    let server = Nginx::start();
    let url = server.url();
    let public = keygen(&env, "ci.key");
    let key_file = env.path().join("ci.key");
    let sign = [
        "--remote-cache",
        url.as_str(),
        "--remote-signing-key",
        key_file.to_str().unwrap(),
    ];
    let (h, demo) = (hello(&env), counter_demo(&env));

    // CI builds both programs into the shared cache.
    let a = build_with(&env, "ci", &h, "hello", &sign);
    assert_built(&env, &a, &h, "hello");
    let after_hello = ac_entries(&server);
    let a = build_with(&env, "ci", &demo, "demo", &sign);
    assert_built(&env, &a, &demo, "demo");
    let n = counts(&a).total;
    let after_both = ac_entries(&server);

    // The final link of each: the one entry with output `program` that
    // each build added.
    let hello_link = final_links(&after_hello);
    assert_eq!(hello_link.len(), 1, "{hello_link:?}");
    let new: BTreeMap<String, WireResult> = after_both
        .into_iter()
        .filter(|(k, _)| !after_hello.contains_key(k))
        .collect();
    let demo_link = final_links(&new);
    assert_eq!(demo_link.len(), 1, "{demo_link:?}");

    // The attack: someone who can write to the server puts hello's link
    // result (a well-formed, signed result whose blobs are all stored)
    // where counter_demo's link result is.
    let forged = server
        .read_stored(&format!("ac/{}", hello_link[0]))
        .unwrap();
    server.write_stored(&format!("ac/{}", demo_link[0]), &forged);

    // The documented threat model: a reader without a verify key trusts
    // the server, and gets hello under counter_demo's name. (Read only, so
    // it does not write anything back.)
    let fooled = build_with(
        &env,
        "fooled",
        &demo,
        "fooled",
        &["--remote-cache", &url, "--remote-upload=false"],
    );
    assert!(fooled.status.success(), "{}", text(&fooled.stderr));
    assert_all_remote(&fooled, n);
    assert_runs(&exe(&env, "fooled"), HELLO_PRINTS);

    // With the key: the moved signature does not verify for this action;
    // one warning, the link runs here, the right program.
    let safe = build_with(
        &env,
        "safe",
        &demo,
        "safe",
        &[
            "--remote-cache",
            &url,
            "--remote-verify-key",
            &public,
            "--remote-upload=false",
        ],
    );
    assert_built(&env, &safe, &demo, "safe");
    let w = one_warning(&safe);
    assert!(w.contains("signature does not verify"), "{w}");
    let status = text(&safe.stderr);
    assert_eq!(
        actions_that(&status, "ran"),
        ["link:counter_demo"],
        "{status}"
    );
    assert_eq!(counts(&safe).remote, n - 1, "{status}");
}

#[test]
fn https_with_a_private_ca_and_without_it() {
    let env = Env::new();
    let server = Nginx::start_tls();
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = server.ca_cert();
    let ca = ca.to_str().unwrap();
    let p = hello(&env);
    let a = build_with(
        &env,
        "a",
        &p,
        "out_a",
        &["--remote-cache", &url, "--remote-ca", ca],
    );
    assert_built(&env, &a, &p, "out_a");
    let n = assert_all_ran(&a).total;
    assert!(!ac_entries(&server).is_empty());
    let b = build_with(
        &env,
        "b",
        &p,
        "out_b",
        &["--remote-cache", &url, "--remote-ca", ca],
    );
    assert_built(&env, &b, &p, "out_b");
    assert_all_remote(&b, n);
    let b2 = build_env(
        &env,
        "b2",
        &p,
        "out_b2",
        &["--remote-cache", &url],
        &[("COEX_REMOTE_CA", ca)],
    );
    assert_built(&env, &b2, &p, "out_b2");
    assert_all_remote(&b2, n);

    // Without the CA the server's certificate is not trusted: one warning,
    // a local build, success.
    let c = build_with(&env, "c", &p, "out_c", &["--remote-cache", &url]);
    assert_built(&env, &c, &p, "out_c");
    let w = one_warning(&c);
    assert!(
        w.starts_with(&format!("warning: remote cache {url} failed (")),
        "{w}"
    );
    assert!(w.to_lowercase().contains("certificate"), "{w}");
    assert_eq!(counts(&c).ran, n);
}

#[test]
fn an_api_key_header_and_credentials_in_the_url() {
    let env = Env::new();
    let p = hello(&env);
    let guarded = Nginx::start_requiring_header("x-api-key", "sesame");
    let url = guarded.url();
    let key = [
        "--remote-cache",
        url.as_str(),
        "--remote-header",
        "x-api-key=sesame",
    ];
    let a = build_with(&env, "a", &p, "out_a", &key);
    assert_built(&env, &a, &p, "out_a");
    let n = assert_all_ran(&a).total;
    assert!(!ac_entries(&guarded).is_empty());
    let b = build_with(&env, "b", &p, "out_b", &key);
    assert_built(&env, &b, &p, "out_b");
    assert_all_remote(&b, n);
    let c = build_with(&env, "c", &p, "out_c", &["--remote-cache", &url]);
    assert_built(&env, &c, &p, "out_c");
    let w = one_warning(&c);
    assert!(w.contains("401"), "{w}");
    assert_eq!(counts(&c).ran, n);
    assert!(!text(&c.stderr).contains("sesame") && !text(&b.stderr).contains("sesame"));

    // user:password@ in the URL: sent (nginx logs the user), never shown.
    let plain = Nginx::start();
    let with_creds = format!("http://bob:hunter2@127.0.0.1:{}/cache", plain.port());
    let d = build_with(&env, "d", &p, "out_d", &["--remote-cache", &with_creds]);
    assert_built(&env, &d, &p, "out_d");
    assert_all_ran(&d);
    let e = build_with(&env, "e", &p, "out_e", &["--remote-cache", &with_creds]);
    assert_built(&env, &e, &p, "out_e");
    assert_all_remote(&e, n);
    assert!(
        plain.access_log().iter().any(|l| l.contains(" bob [")),
        "no Basic auth user in the access log"
    );
    for o in [&d, &e] {
        assert!(!text(&o.stdout).contains("hunter2") && !text(&o.stderr).contains("hunter2"));
    }
    // A dead server: the warning names it without the password.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://bob:hunter2@127.0.0.1:{dead_port}/cache");
    let f = build_with(&env, "f", &p, "out_f", &["--remote-cache", &dead]);
    assert_built(&env, &f, &p, "out_f");
    let w = one_warning(&f);
    assert!(
        w.starts_with(&format!(
            "warning: remote cache http://127.0.0.1:{dead_port}/cache failed ("
        )),
        "{w}"
    );
    assert!(!text(&f.stderr).contains("hunter2") && !text(&f.stdout).contains("hunter2"));
}

/// A TCP server that counts the connections it gets (and answers none).
struct Listener {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start() -> Listener {
        use std::sync::atomic::Ordering;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (s, c) = (stop.clone(), connections.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if l.accept().is_ok() {
                    c.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        Listener {
            port,
            stop,
            connections,
            thread: Some(thread),
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_redirect_is_not_followed_and_carries_nothing_elsewhere() {
    let env = Env::new();
    let p = hello(&env);
    let elsewhere = Listener::start();
    let server = Nginx::start_redirecting(elsewhere.port);
    // Credentials too: they must not reach the other server either.
    let url = format!("http://bob:hunter2@127.0.0.1:{}/cache", server.port());
    let o = build_with(&env, "a", &p, "out", &["--remote-cache", &url]);
    assert_built(&env, &o, &p, "out");
    assert_all_ran_but_warned(&o);
    let w = one_warning(&o);
    assert!(w.contains("HTTP status 302"), "{w}");
    assert!(w.contains("coex does not follow redirects"), "{w}");
    assert!(
        w.contains(&format!(
            "a redirect to http://127.0.0.1:{}/cache/",
            elsewhere.port
        )),
        "{w}"
    );
    assert!(!text(&o.stderr).contains("hunter2"));
    assert!(!server.access_log().is_empty());
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(elsewhere.connections(), 0, "the redirect was followed");
}

fn assert_all_ran_but_warned(o: &Output) {
    let c = counts(o);
    assert_eq!((c.ran, c.cached, c.remote), (c.total, 0, 0), "{c:?}");
}

/// Flags, variables, and what the error line must name.
type BadFlags<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn bad_remote_flags_are_errors_before_anything_is_built() {
    let env = Env::new();
    let p = hello(&env);
    let url = "http://127.0.0.1:9/cache";
    let garbage_key = env.path().join("garbage.key");
    std::fs::write(&garbage_key, "not a key\n").unwrap();
    let not_pem = env.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let garbage_key = garbage_key.to_str().unwrap();
    let not_pem = not_pem.to_str().unwrap();
    // 64 hex digits that are not an ed25519 public key (about half of all
    // 32-byte strings are not a point of the curve).
    let bad_point = (0u8..=255)
        .map(|b| format!("{b:02x}").repeat(32))
        .find(|k| coex::exec::remote::signing::ResultVerifier::from_hex(k).is_err())
        .expect("some byte repeated is not a point");
    let cases: Vec<BadFlags> = vec![
        (
            vec!["--remote-cache", url, "--remote-header", "novalue"],
            vec![],
            "--remote-header",
        ),
        (
            vec!["--remote-cache", url, "--remote-verify-key", "zz"],
            vec![],
            "--remote-verify-key",
        ),
        (
            vec!["--remote-cache", url, "--remote-verify-key", &bad_point],
            vec![],
            "--remote-verify-key",
        ),
        (
            vec!["--remote-cache", url],
            vec![("COEX_REMOTE_VERIFY_KEY", "zz")],
            "COEX_REMOTE_VERIFY_KEY",
        ),
        (
            vec![
                "--remote-cache",
                url,
                "--remote-signing-key",
                "/nonexistent",
            ],
            vec![],
            "--remote-signing-key",
        ),
        (
            vec!["--remote-cache", url, "--remote-signing-key", garbage_key],
            vec![],
            "--remote-signing-key",
        ),
        (
            vec!["--remote-cache", url],
            vec![("COEX_REMOTE_SIGNING_KEY", "zz")],
            "COEX_REMOTE_SIGNING_KEY",
        ),
        (
            vec!["--remote-cache", url, "--remote-ca", "/nonexistent"],
            vec![],
            "--remote-ca",
        ),
        (
            vec!["--remote-cache", url, "--remote-ca", not_pem],
            vec![],
            "--remote-ca",
        ),
        (
            vec!["--remote-cache", url],
            vec![("COEX_REMOTE_CA", "/nonexistent")],
            "COEX_REMOTE_CA",
        ),
        (
            vec!["--remote-cache", url, "--remote-instance-name", "x"],
            vec![],
            "--remote-instance-name",
        ),
        (vec!["--remote-cache", "ftp://x"], vec![], "--remote-cache"),
        (
            vec![],
            vec![("COEX_REMOTE_CACHE", "ftp://x")],
            "COEX_REMOTE_CACHE",
        ),
    ];
    for (flags, vars, names) in cases {
        let o = build_env(&env, "cache", &p, "out", &flags, &vars);
        let err = text(&o.stderr);
        let case = format!("{flags:?} {vars:?}");
        assert_eq!(o.status.code(), Some(1), "{case}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{case}: {err}");
        assert!(err.starts_with("error: "), "{case}: {err}");
        assert!(
            errors[0].contains(names),
            "{case}: the error line does not name {names}: {err}"
        );
        // A fix follows the headline after a blank line.
        let (_, fix) = err
            .split_once("\n\n")
            .unwrap_or_else(|| panic!("{case}: no fix: {err}"));
        assert!(!fix.trim().is_empty(), "{case}: {err}");
        assert!(!err.contains("warning:"), "{case}: {err}");
        assert!(text(&o.stdout).is_empty(), "{case}: printed something");
        assert!(!err.contains("Finished"), "{case}: built something");
        assert!(
            !env.path().join("cache").exists(),
            "{case}: wrote to the cache"
        );
        assert!(!exe(&env, "out").exists(), "{case}: wrote the output");
    }
}

#[test]
fn keygen_writes_a_private_key_once_and_prints_its_public_half() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new();
    let public = keygen(&env, "k");
    assert!(is_hex64(&public), "{public}");
    let f = env.path().join("k");
    let secret = std::fs::read_to_string(&f).unwrap();
    assert_eq!(secret.len(), 65, "{secret:?}");
    assert!(
        is_hex64(&secret[..64]) && secret.ends_with('\n'),
        "{secret:?}"
    );
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let derived = coex::exec::remote::signing::ResultSigner::from_hex(&secret)
        .unwrap()
        .verifier()
        .public_hex();
    assert_eq!(derived, public);
    assert!(!env.path().join("keygen-cache").exists());

    // Never over an existing key.
    let again = coex_env(
        &env,
        "keygen-cache",
        &["cache", "keygen", "-o", f.to_str().unwrap()],
        &[],
    );
    assert_eq!(again.status.code(), Some(1));
    let err = text(&again.stderr);
    assert!(
        err.starts_with(&format!(
            "error: cannot create the key file {}",
            f.display()
        )),
        "{err}"
    );
    assert!(err.contains("never overwrites"), "{err}");
    assert!(text(&again.stdout).is_empty(), "{}", text(&again.stdout));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), secret);
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
