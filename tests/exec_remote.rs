//! The remote cache against a real nginx WebDAV server on 127.0.0.1.

#[path = "support/exec_fixture.rs"]
mod exec_fixture;
#[path = "support/nginx.rs"]
mod nginx;

use coex::exec::local::LocalStore;
use coex::exec::{RemoteOptions, Satisfied};
use coex::ffi_build::{build_units, FfiBuildOptions};
use exec_fixture::*;
use nginx::Nginx;
use std::path::{Path, PathBuf};

fn remote_opts(cache: &Path, url: &str, upload: bool) -> FfiBuildOptions {
    let mut o = options(cache);
    o.exec.remote = Some(RemoteOptions::new(url, upload));
    o
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                v.extend(files_under(&p));
            } else {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn sha256_hex(bytes: &[u8]) -> String {
    coex::exec::digest::sha256_hex(bytes)
}

#[test]
fn machine_b_gets_everything_from_the_remote_then_failures_fall_back() {
    let server = Nginx::start();
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 3);
    let input = || vec![unit_input(&src, "demo", "u")];

    // Machine A: builds and uploads.
    let a = build_units(
        &input(),
        &remote_opts(&t.path().join("cache_a"), &server.url(), true),
        &t.path().join("out_a"),
    )
    .unwrap();
    assert_eq!(a.report.summary(), "4 actions: 4 ran, 0 cached, 0 remote");
    assert!(a.report.warnings.is_empty(), "{:?}", a.report.warnings);
    let image_a = file_digest(&t.path().join("out_a/libu.so"));
    // The server holds Bazel-protocol entries: cas/ named by SHA-256 of the bytes.
    let cas = files_under(&server.data_dir().join("cas"));
    assert!(!cas.is_empty());
    for f in &cas {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, sha256_hex(&std::fs::read(f).unwrap()));
    }
    // Two per action: the discovered-inputs list and the result; and the
    // result under the preprocessed text of each of the 3 compiles.
    assert_eq!(files_under(&server.data_dir().join("ac")).len(), 11);

    // Machine B: empty cache, zero compiles, everything remote.
    let cache_b = t.path().join("cache_b");
    let b = build_units(
        &input(),
        &remote_opts(&cache_b, &server.url(), true),
        &t.path().join("out_b"),
    )
    .unwrap();
    assert_eq!(b.report.summary(), "4 actions: 0 ran, 0 cached, 4 remote");
    assert!(b.report.warnings.is_empty(), "{:?}", b.report.warnings);
    assert_eq!(file_digest(&t.path().join("out_b/libu.so")), image_a);
    assert!(LocalStore::new(&cache_b)
        .verify()
        .unwrap()
        .removed
        .is_empty());
    // ... and B's local cache now answers on its own.
    let b2 = build_units(&input(), &options(&cache_b), &t.path().join("out_b")).unwrap();
    assert_eq!(b2.report.summary(), "4 actions: 0 ran, 4 cached, 0 remote");

    // Altered bytes on the server: detected, rebuilt locally, local cache clean.
    for f in &cas {
        // Same length, different bytes: only a hash check can notice.
        let mut bytes = std::fs::read(f).unwrap();
        match bytes.last_mut() {
            Some(b) => *b ^= 0x5a,
            None => bytes.push(b'x'),
        }
        std::fs::write(f, bytes).unwrap();
    }
    let cache_d = t.path().join("cache_d");
    let d = build_units(
        &input(),
        &remote_opts(&cache_d, &server.url(), false),
        &t.path().join("out_d"),
    )
    .unwrap();
    assert_eq!(d.report.warnings.len(), 1, "{:?}", d.report.warnings);
    assert!(
        d.report.warnings[0]
            .to_string()
            .starts_with("warning: remote cache "),
        "{}",
        d.report.warnings[0]
    );
    assert!(
        d.report.warnings[0].to_string().contains("does not match"),
        "{}",
        d.report.warnings[0]
    );
    // Results whose blobs are small (<= 16 KiB) carry them inside the AC
    // entry, checked there, so damaging the CAS cannot touch them; every
    // action needing a damaged blob runs locally.
    assert_eq!(
        d.report.count(Satisfied::Remote) + d.report.count(Satisfied::Ran),
        4
    );
    assert!(d.report.count(Satisfied::Ran) >= 1);
    assert_eq!(file_digest(&t.path().join("out_d/libu.so")), image_a);
    let v = LocalStore::new(&cache_d).verify().unwrap();
    assert!(
        v.removed.is_empty(),
        "local cache poisoned: {:?}",
        v.removed
    );
    for f in cas_files(&cache_d) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, file_digest(&f));
    }

    // Server stopped: the build succeeds with exactly one warning.
    let mut server = server;
    server.stop();
    let c = build_units(
        &input(),
        &remote_opts(&t.path().join("cache_c"), &server.url(), true),
        &t.path().join("out_c"),
    )
    .unwrap();
    assert_eq!(c.report.summary(), "4 actions: 4 ran, 0 cached, 0 remote");
    assert_eq!(c.report.warnings.len(), 1, "{:?}", c.report.warnings);
    assert_eq!(file_digest(&t.path().join("out_c/libu.so")), image_a);
}

#[test]
fn read_only_remote_uploads_nothing() {
    let server = Nginx::start();
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 2);
    let r = build_units(
        &[unit_input(&src, "demo", "u")],
        &remote_opts(&t.path().join("cache"), &server.url(), false),
        &t.path().join("out"),
    )
    .unwrap();
    assert_eq!(r.report.count(Satisfied::Ran), 3);
    assert!(r.report.warnings.is_empty(), "{:?}", r.report.warnings);
    assert!(files_under(&server.data_dir()).is_empty());
    assert!(server.access_log().iter().all(|l| !l.contains("\"PUT ")));
}

#[test]
fn the_binary_reads_coex_remote_cache_and_warns_once_when_it_is_down() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 4);
    let run = |cache: &str, url: &str| {
        assert_cmd::Command::cargo_bin("coex")
            .unwrap()
            .env("COEX_CACHE_DIR", t.path().join(cache))
            .env("COEX_REMOTE_CACHE", url)
            .args(["debug", "build-unit"])
            .arg(&src)
            .arg("-o")
            .arg(t.path().join("out"))
            .output()
            .unwrap()
    };
    let mut server = Nginx::start();
    let url = server.url();
    let a = run("a", &url);
    assert!(a.status.success());
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        "5 actions: 5 ran, 0 cached, 0 remote\n"
    );
    let b = run("b", &url);
    assert_eq!(
        String::from_utf8_lossy(&b.stdout),
        "5 actions: 0 ran, 0 cached, 5 remote\n"
    );
    server.stop();
    let c = run("c", &url);
    assert!(c.status.success());
    assert_eq!(
        String::from_utf8_lossy(&c.stdout),
        "5 actions: 5 ran, 0 cached, 0 remote\n"
    );
    let err = String::from_utf8_lossy(&c.stderr);
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("warning: remote cache {url} failed (")),
        "{err}"
    );
}

#[test]
fn a_remote_answering_5xx_costs_one_warning_and_nothing_else() {
    let server = Nginx::start_failing(503);
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 3);
    let r = build_units(
        &[unit_input(&src, "demo", "u")],
        &remote_opts(&t.path().join("cache"), &server.url(), true),
        &t.path().join("out"),
    )
    .unwrap();
    assert_eq!(r.report.summary(), "4 actions: 4 ran, 0 cached, 0 remote");
    assert_eq!(r.report.warnings.len(), 1, "{:?}", r.report.warnings);
    assert!(
        r.report.warnings[0].to_string().contains("503"),
        "{}",
        r.report.warnings[0]
    );
    // After the first fault the remote is not asked again during this build:
    // at most one request per worker (-j 2) was already in flight.
    let log = server.access_log();
    assert!(!log.is_empty() && log.len() <= 2, "{log:?}");
}

#[test]
fn a_remote_that_never_answers_times_out_once_and_the_build_goes_on() {
    // A server that accepts connections and then says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    listener.set_nonblocking(true).unwrap();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        loop {
            // Read the flag first so connections made before it was set
            // are all accepted (and counted) before the loop ends.
            let stopping = stop2.load(std::sync::atomic::Ordering::SeqCst);
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) if stopping => break,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
        held.len()
    });
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 3);
    let mut o = options(&t.path().join("cache"));
    let mut remote = RemoteOptions::new(format!("http://127.0.0.1:{port}/cache"), true);
    remote.timeout = std::time::Duration::from_millis(700);
    o.exec.remote = Some(remote);
    let started = std::time::Instant::now();
    let r = build_units(&[unit_input(&src, "demo", "u")], &o, &t.path().join("out")).unwrap();
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let connections = holder.join().unwrap();
    assert_eq!(r.report.summary(), "4 actions: 4 ran, 0 cached, 0 remote");
    assert_eq!(r.report.warnings.len(), 1, "{:?}", r.report.warnings);
    // Only the requests already in flight (at most one per job) waited for
    // the timeout; the remote was off for the rest (4 lookups and 4 stores
    // would each have opened a connection and waited). Counted, not timed:
    // a loaded machine makes the build itself slow.
    assert!(
        connections <= o.exec.jobs,
        "{connections} connections to the silent remote in {took:?}"
    );
}

#[test]
fn a_foreign_action_result_on_the_remote_is_rejected() {
    let server = Nginx::start();
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 2);
    let input = || vec![unit_input(&src, "demo", "u")];
    let a = build_units(
        &input(),
        &remote_opts(&t.path().join("a"), &server.url(), true),
        &t.path().join("out_a"),
    )
    .unwrap();
    let image = file_digest(&t.path().join("out_a/libu.so"));
    // Put a compile action's (well-formed) result where the link's first
    // entry (its list of discovered inputs) is.
    let ac = server.data_dir().join("ac");
    // On the wire an action is named by the SHA-256 of its 32 key bytes.
    let link_key = sha256_hex(a.report.actions["link:demo/u"].key.hash().as_bytes());
    let compile_result = files_under(&ac)
        .into_iter()
        .find(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).contains("obj/f0.c.o"))
        .expect("the compile's result is on the server");
    std::fs::copy(compile_result, ac.join(link_key)).unwrap();
    let b = build_units(
        &input(),
        &remote_opts(&t.path().join("b"), &server.url(), true),
        &t.path().join("out_b"),
    )
    .unwrap();
    assert_eq!(b.report.warnings.len(), 1, "{:?}", b.report.warnings);
    assert!(
        b.report.warnings[0]
            .to_string()
            .contains("declared outputs"),
        "{}",
        b.report.warnings[0]
    );
    assert_eq!(b.report.actions["link:demo/u"].satisfied, Satisfied::Ran);
    assert_eq!(file_digest(&t.path().join("out_b/libu.so")), image);
}
