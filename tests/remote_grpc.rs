//! The gRPC transport (`coex::exec::remote::grpc`) against a real BuildGrid
//! (REAPI cache, in memory, on 127.0.0.1): capabilities, batches, ByteStream,
//! FindMissingBlobs, the action cache, a read-only cache, a dead server, bad
//! settings, and TLS with a test CA.
//!
//! Each test starts its own BuildGrid (about 2 s): `./dev test` installs it.

#[path = "support/buildgrid.rs"]
mod buildgrid;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bazel_remote_apis::build::bazel::remote::execution::v2 as reapi;
use coex::exec::remote::grpc::{connect, GrpcEndpoint, GrpcTransport};
use coex::exec::remote::transport::{Transport, WireDigest};
use coex::exec::store::{FaultKind, Fetch, Put};
use sha2::{Digest, Sha256};

use buildgrid::BuildGrid;

fn endpoint(url: &str) -> GrpcEndpoint {
    GrpcEndpoint {
        url: url.to_string(),
        instance_name: String::new(),
        headers: vec![("x-api-key".into(), "s3cret-value".into())],
        ca_pem: None,
        timeout: Duration::from_secs(10),
    }
}

fn connected(grid: &BuildGrid) -> GrpcTransport {
    connect(&endpoint(&grid.url()))
        .unwrap_or_else(|f| panic!("connect to {}: {f}\n{}", grid.url(), grid.log()))
}

/// Deterministic pseudo-random bytes.
fn bytes(seed: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

fn digest(data: &[u8]) -> WireDigest {
    let hash = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    WireDigest {
        hash,
        size_bytes: i64::try_from(data.len()).unwrap(),
    }
}

fn hit(fetch: Fetch<Vec<u8>>) -> Vec<u8> {
    match fetch {
        Fetch::Hit(data) => data,
        other => panic!("expected a hit, got {other:?}"),
    }
}

/// A result naming `output` as its one output file and `stdout` as its
/// stdout. BuildGrid answers NOT_FOUND for a result whose blobs are not all
/// in its CAS, so tests upload them first.
fn action_result(output: &[u8], stdout: &[u8]) -> reapi::ActionResult {
    reapi::ActionResult {
        output_files: vec![reapi::OutputFile {
            path: "out/app".into(),
            digest: Some(digest(output)),
            is_executable: true,
            ..Default::default()
        }],
        exit_code: 0,
        stdout_digest: Some(digest(stdout)),
        ..Default::default()
    }
}

/// Everything a writable cache does, on one server.
#[test]
fn round_trips_through_buildgrid() {
    let grid = BuildGrid::start();
    let t = connected(&grid);
    assert!(t.updates_enabled());
    assert_eq!(t.location(), grid.url());

    // Small blobs: one batch each way; an absent one is a miss.
    let small: Vec<Vec<u8>> = (0..5)
        .map(|i| bytes(&format!("small{i}"), 100 * i))
        .collect();
    let pairs: Vec<(WireDigest, &[u8])> = small.iter().map(|b| (digest(b), b.as_slice())).collect();
    assert_eq!(t.write_blobs(&pairs), Ok(Put::Stored));
    let absent = digest(b"never written");
    let mut asked: Vec<WireDigest> = pairs.iter().map(|(d, _)| d.clone()).collect();
    asked.push(absent.clone());
    asked.push(pairs[1].0.clone()); // asked twice
    let got = t.read_blobs(&asked);
    assert_eq!(got.len(), 7);
    for (i, fetch) in got.into_iter().enumerate() {
        match i {
            5 => assert_eq!(fetch, Fetch::Miss),
            6 => assert_eq!(hit(fetch), small[1]),
            _ => assert_eq!(hit(fetch), small[i]),
        }
    }

    // FindMissingBlobs names only the absent ones.
    let other = digest(b"also absent");
    let missing = t
        .find_missing_blobs(&[
            pairs[0].0.clone(),
            absent.clone(),
            pairs[3].0.clone(),
            other.clone(),
        ])
        .unwrap();
    assert_eq!(missing, vec![absent.clone(), other]);

    // Blobs whose total exceeds BuildGrid's 4 MiB batch limit: several batches.
    let mids: Vec<Vec<u8>> = (0..4)
        .map(|i| bytes(&format!("mid{i}"), 1_500_000))
        .collect();
    let pairs: Vec<(WireDigest, &[u8])> = mids.iter().map(|b| (digest(b), b.as_slice())).collect();
    assert_eq!(t.write_blobs(&pairs), Ok(Put::Stored));
    let asked: Vec<WireDigest> = pairs.iter().map(|(d, _)| d.clone()).collect();
    for (fetch, want) in t.read_blobs(&asked).into_iter().zip(&mids) {
        assert!(hit(fetch) == *want);
    }

    // A 10 MiB blob goes through ByteStream and comes back byte-exact.
    let big = bytes("big", 10 << 20);
    let big_digest = digest(&big);
    let absent_big = digest(&bytes("absent big", 6 << 20));
    assert_eq!(
        t.read_blobs(std::slice::from_ref(&big_digest)),
        vec![Fetch::Miss]
    );
    assert_eq!(
        t.write_blobs(&[(big_digest.clone(), &big)]),
        Ok(Put::Stored)
    );
    assert!(t
        .find_missing_blobs(std::slice::from_ref(&big_digest))
        .unwrap()
        .is_empty());
    let mut got = t.read_blobs(&[big_digest.clone(), absent_big, pairs[0].0.clone()]);
    assert!(hit(got.remove(0)) == big, "10 MiB blob differs");
    assert_eq!(got.remove(0), Fetch::Miss);
    assert!(hit(got.remove(0)) == mids[0]);

    // The action cache: what was stored comes back; an unknown action misses.
    let (output, stdout) = (b"app bytes".as_slice(), b"hello".as_slice());
    let blobs = [(digest(output), output), (digest(stdout), stdout)];
    assert_eq!(t.write_blobs(&blobs), Ok(Put::Stored));
    let action = digest(b"action 1");
    let result = action_result(output, stdout);
    assert_eq!(t.update_action_result(&action, &result), Ok(Put::Stored));
    assert_eq!(t.get_action_result(&action), Fetch::Hit(result));
    assert_eq!(t.get_action_result(&digest(b"action 2")), Fetch::Miss);
    // BuildGrid's own rule: a result naming a blob its CAS lacks is a miss.
    let dangling = digest(b"action 3");
    let result = action_result(b"never uploaded", stdout);
    assert_eq!(t.update_action_result(&dangling, &result), Ok(Put::Stored));
    assert_eq!(t.get_action_result(&dangling), Fetch::Miss);
}

/// Many executor threads share one transport; dropping it inside another
/// async runtime and calling it from one neither panics nor hangs.
#[test]
fn concurrent_calls_and_drop_anywhere() {
    let grid = BuildGrid::start();
    let t = Arc::new(connected(&grid));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let t = Arc::clone(&t);
            std::thread::spawn(move || {
                for j in 0..10 {
                    let data = bytes(&format!("thread{i}/{j}"), 1000 + j * 300_000);
                    let d = digest(&data);
                    assert_eq!(t.write_blobs(&[(d.clone(), &data)]), Ok(Put::Stored));
                    assert!(hit(t.read_blobs(std::slice::from_ref(&d)).remove(0)) == data);
                    // Not `d`: BuildGrid parses a CAS blob named like the
                    // action as an Action message.
                    let action = digest(format!("action {i}/{j}").as_bytes());
                    let result = action_result(&data, &data);
                    assert_eq!(t.update_action_result(&action, &result), Ok(Put::Stored));
                    assert_eq!(t.get_action_result(&action), Fetch::Hit(result));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a caller thread panicked");
    }
    let t = Arc::into_inner(t).expect("the only reference left");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        match t.get_action_result(&digest(b"x")) {
            Fetch::Fault(f) => assert!(f.detail.contains("async runtime"), "{f}"),
            other => panic!("a call from inside a runtime: {other:?}"),
        }
        drop(t);
    });
}

/// A cache that lets clients read only: nothing is uploaded, reads work.
#[test]
fn read_only_buildgrid_skips_writes() {
    let grid = BuildGrid::start_read_only();
    let t = connected(&grid);
    assert!(!t.updates_enabled());
    let action = digest(b"action");
    assert_eq!(
        t.update_action_result(&action, &action_result(b"", b"")),
        Ok(Put::Skipped)
    );
    let data = bytes("ro", 10);
    assert_eq!(t.write_blobs(&[(digest(&data), &data)]), Ok(Put::Skipped));
    assert_eq!(t.get_action_result(&action), Fetch::Miss);
    assert_eq!(t.read_blobs(&[digest(&data)]), vec![Fetch::Miss]);
}

/// A server that went away: calls and new connections fail fast with
/// `Unreachable`, never hang.
#[test]
fn stopped_server_is_unreachable_within_the_deadline() {
    let mut grid = BuildGrid::start();
    let mut ep = endpoint(&grid.url());
    ep.timeout = Duration::from_secs(5);
    let t = connect(&ep).unwrap_or_else(|f| panic!("{f}\n{}", grid.log()));
    grid.stop();

    let start = Instant::now();
    let Fetch::Fault(fault) = t.get_action_result(&digest(b"a")) else {
        panic!("a call to a stopped server did not fail");
    };
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(fault.kind, FaultKind::Unreachable, "{fault}");
    assert!(fault.detail.starts_with(&grid.url()), "{fault}");
    assert!(!fault.detail.contains("s3cret"), "{fault}");

    let start = Instant::now();
    let data = bytes("w", 2 << 20);
    let fault = t.write_blobs(&[(digest(&data), &data)]).unwrap_err();
    assert_eq!(fault.kind, FaultKind::Unreachable, "{fault}");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );

    let start = Instant::now();
    let fault = connect(&ep)
        .err()
        .expect("connect to a stopped server fails");
    assert_eq!(fault.kind, FaultKind::Unreachable, "{fault}");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
}

/// Bad settings are clear faults at connect, naming no secret.
#[test]
fn bad_settings_are_clear_faults() {
    let mut ep = endpoint("grpc://127.0.0.1:1");
    ep.headers = vec![("bad header".into(), "s3cret-value".into())];
    let fault = connect(&ep).err().expect("a bad header name is refused");
    assert!(fault.detail.contains("\"bad header\""), "{fault}");
    assert!(!fault.detail.contains("s3cret"), "{fault}");

    ep.headers = vec![("x-api-key".into(), "line\nbreak".into())];
    let fault = connect(&ep).err().expect("a bad header value is refused");
    assert!(fault.detail.contains("x-api-key"), "{fault}");

    for url in [
        "http://127.0.0.1:1",
        "grpc://me:hunter2@127.0.0.1:1",
        "grpc://h:99999",
    ] {
        let fault = connect(&endpoint(url)).err().expect("a bad URL is refused");
        assert!(fault.detail.contains("grpc://HOST:PORT"), "{fault}");
        assert!(!fault.detail.contains("hunter2"), "{fault}");
    }

    // Nothing listens on port 1: unreachable, at once.
    let start = Instant::now();
    let fault = connect(&endpoint("grpc://127.0.0.1:1"))
        .err()
        .expect("refused");
    assert_eq!(fault.kind, FaultKind::Unreachable, "{fault}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

/// grpcs:// with the test CA trusted works; without it the server's
/// certificate is refused.
#[test]
fn tls_with_a_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let certs = buildgrid::make_test_certs(dir.path());
    let grid = BuildGrid::start_tls(&certs);
    assert!(grid.url().starts_with("grpcs://127.0.0.1:"));

    let mut ep = endpoint(&grid.url());
    ep.ca_pem = Some(certs.ca_pem.clone());
    let t = connect(&ep).unwrap_or_else(|f| panic!("{f}\n{}", grid.log()));
    let data = bytes("tls", 5 << 20);
    assert_eq!(t.write_blobs(&[(digest(&data), &data)]), Ok(Put::Stored));
    assert!(hit(t.read_blobs(&[digest(&data)]).remove(0)) == data);

    ep.ca_pem = None;
    let fault = connect(&ep)
        .err()
        .expect("an untrusted certificate is refused");
    assert!(
        fault.detail.to_lowercase().contains("certificate"),
        "{fault}"
    );

    // Plain HTTP/2 to a TLS port fails too, within the deadline.
    let start = Instant::now();
    let mut plain = endpoint(&grid.url().replace("grpcs://", "grpc://"));
    plain.timeout = Duration::from_secs(3);
    assert!(connect(&plain).is_err());
    assert!(start.elapsed() < Duration::from_secs(5));
}
