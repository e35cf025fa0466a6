//! Build without the bytes, through the real binary and a real nginx
//! remote: a second builder downloads what the build's outputs need (the
//! unit image and the executable), not the intermediates of cache hits (the
//! unit's object file); an intermediate is fetched when an action that must
//! run needs it, and re-made when the remote lost it.

#[path = "e2e/common.rs"]
mod common;
#[path = "support/nginx.rs"]
mod nginx;

use common::*;
use nginx::Nginx;
use std::path::{Path, PathBuf};

const APP: &str =
    "import \"big\"\n\nfunc main() -> int\n    print(big_total(5))\n    return 0\n~\n";

/// What the program prints: the sum of the table's first 5 entries.
fn expected_output() -> String {
    format!("{}\n", (0..5).map(entry).sum::<i64>())
}

fn entry(i: i64) -> i64 {
    (i * 2_654_435_761) % 1_000_003
}

/// A library `big` whose one C unit has an 8192-entry table, so its object
/// file (and image) is far above the 16 KiB that ride inside a result.
/// `system_libs` goes into the manifest (it changes the unit's link only).
fn write_library(dir: &Path, system_libs: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("ffi/src")).unwrap();
    std::fs::write(
        dir.join("manifest.toml"),
        format!(
            "[library]\nname = \"big\"\nversion = \"0.1.0\"\nsource = [\"big.coex\"]\n\n\
             [ffi.big]\nsource = [\"big.c\"]\nheaders = [\".\"]\nsystem_libs = [{system_libs}]\n\n\
             [[ffi.big.symbols]]\nname = \"coex_big_sum\"\nparams = [\"int\"]\nreturns = \"int\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/big.coex"),
        "extern coex_big_sum(n: int) -> int\n~\n\n\
         func big_total(n: int) -> int\n    return coex_big_sum(n)\n~\n",
    )
    .unwrap();
    let table: Vec<String> = (0..8192).map(|i| entry(i).to_string()).collect();
    std::fs::write(
        dir.join("ffi/src/big.c"),
        format!(
            "#include <stdint.h>\n\
             static const int64_t big_table_d41d[8192] = {{{}}};\n\
             int64_t coex_big_sum(int64_t n)\n{{\n    int64_t s = 0;\n\
             for (int64_t i = 0; i < n; i++) s += big_table_d41d[i % 8192];\n    return s;\n}}\n",
            table.join(",")
        ),
    )
    .unwrap();
}

/// `app.coex` and `libs/big.cxz` in `<env>/proj`.
fn project(env: &Env, system_libs: &str) -> PathBuf {
    let root = env.path().join("proj");
    std::fs::create_dir_all(root.join("libs")).unwrap();
    std::fs::write(root.join("app.coex"), APP).unwrap();
    pack(env, &root, system_libs);
    root
}

fn pack(env: &Env, root: &Path, system_libs: &str) {
    let src = env.path().join("big-src");
    let _ = std::fs::remove_dir_all(&src);
    write_library(&src, system_libs);
    let o = env.coex_in(
        root,
        &["cxz", "pack", src.to_str().unwrap(), "-o", "libs/big.cxz"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// Builds with cache `<env>/<cache>` through `url`; checks the program's
/// output; returns the status lines and the executable.
fn build(env: &Env, root: &Path, cache: &str, url: &str) -> (String, Vec<u8>) {
    let args = [
        "build",
        "-v",
        "app.coex",
        "-L",
        "libs",
        "-o",
        "app",
        "--remote-cache",
        url,
    ];
    let o = env.coex_with_cache(root, &env.path().join(cache), &args);
    let status = text(&o.stderr);
    assert!(o.status.success(), "{status}");
    let run = std::process::Command::new(root.join("app"))
        .output()
        .unwrap();
    assert_eq!(text(&run.stdout), expected_output(), "{status}");
    (status, std::fs::read(root.join("app")).unwrap())
}

/// The `X` of `remote cache: N requests, X bytes downloaded`.
fn bytes_downloaded(status: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.contains("bytes downloaded"))
        .unwrap_or_else(|| panic!("no remote line in:\n{status}"));
    let before = line.split(" bytes downloaded").next().unwrap_or_default();
    before
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad remote line: {line}"))
}

/// The SHA-256 names of the blobs fetched (`GET /cache/cas/<sha>` answered
/// 200) in the access-log lines `lines`.
fn cas_gets(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains("\"GET /cache/cas/") && l.contains("\" 200 "))
        .filter_map(|l| {
            let rest = l.split("\"GET /cache/cas/").nth(1)?;
            Some(rest.split(' ').next()?.to_string())
        })
        .collect()
}

/// The stored blob that is the unit's object file: an ELF relocatable
/// holding the table's name (the image is a shared object; the program's
/// and the runtime's objects do not name the table).
fn object_blob(server: &Nginx) -> (String, usize) {
    let found: Vec<(String, usize)> = server
        .stored()
        .into_iter()
        .filter(|(rel, b)| {
            rel.starts_with("cas/")
                && b.starts_with(b"\x7fELF")
                && b.get(16) == Some(&1)
                && b.windows(14).any(|w| w == b"big_table_d41d")
        })
        .map(|(rel, b)| (rel["cas/".len()..].to_string(), b.len()))
        .collect();
    assert_eq!(found.len(), 1, "one object file of big.c on the server");
    found[0].clone()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_second_builder_downloads_the_outputs_not_the_intermediates() {
    let env = Env::new();
    let root = project(&env, "");
    let server = Nginx::start();
    let url = server.url();
    let (_, app_a) = build(&env, &root, "cache-a", &url);
    let (object, object_size) = object_blob(&server);
    assert!(object_size > 16 * 1024, "{object_size}");

    // B, empty local cache: every action remote; the executable and the
    // image are downloaded, the object file is not.
    let seen = server.access_log().len();
    let (b, app_b) = build(&env, &root, "cache-b", &url);
    assert_eq!(app_a, app_b, "byte-identical executables");
    assert!(actions_that(&b, "ran").is_empty(), "{b}");
    let gets = cas_gets(&server.access_log()[seen..]);
    assert!(gets.contains(&sha256_hex(&app_b)), "{gets:?}\n{b}");
    assert!(
        !gets.contains(&object),
        "the object file was downloaded\n{b}"
    );
    let stored = server.stored();
    let image = gets
        .iter()
        .filter_map(|sha| stored.get(&format!("cas/{sha}")))
        .find(|bytes| {
            bytes.starts_with(b"\x7fELF") && bytes.windows(14).any(|w| w == b"big_table_d41d")
        });
    assert!(image.is_some(), "the unit image was downloaded: {gets:?}");
    let everything: usize = stored
        .iter()
        .filter(|(rel, _)| rel.starts_with("cas/"))
        .map(|(_, b)| b.len())
        .sum();
    let got = bytes_downloaded(&b);
    assert!(
        got >= (app_b.len() + image.map_or(0, Vec::len)) as u64,
        "{got}\n{b}"
    );
    assert!(got < everything as u64, "{got} of {everything}\n{b}");

    // B again: all local, the remote is not asked.
    let (b2, _) = build(&env, &root, "cache-b", &url);
    let n = summary_of(&b)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        summary_of(&b2),
        format!("{n} actions: 0 ran, {n} cached, 0 remote"),
        "{b2}"
    );
    assert!(!b2.contains("remote cache:"), "{b2}");

    // The unit's link must run (another system library): the object file,
    // a cache hit, is fetched now.
    pack(&env, &root, "\"m\"");
    let seen = server.access_log().len();
    let (b3, _) = build(&env, &root, "cache-b", &url);
    assert_eq!(
        actions_that(&b3, "ran")
            .iter()
            .filter(|a| a.starts_with("compile:"))
            .count(),
        0,
        "{b3}"
    );
    assert!(
        actions_that(&b3, "ran").contains(&"link:big/big".to_string()),
        "{b3}"
    );
    let gets = cas_gets(&server.access_log()[seen..]);
    assert!(gets.contains(&object), "{gets:?}\n{b3}");
    assert!(!b3.contains("warning:"), "{b3}");
}

#[test]
fn blobs_the_remote_lost_are_made_again() {
    let env = Env::new();
    let root = project(&env, "");
    let server = Nginx::start();
    let url = server.url();
    let (_, app_a) = build(&env, &root, "cache-a", &url);
    let (object, _) = object_blob(&server);
    // The server loses the object file and the executable.
    let data = server.data_dir();
    std::fs::remove_file(data.join("cas").join(&object)).unwrap();
    std::fs::remove_file(data.join("cas").join(sha256_hex(&app_a))).unwrap();

    // B: the final link runs again (its inputs come from the remote); the
    // compile stays a hit, its object file is not needed.
    let (b, app_b) = build(&env, &root, "cache-b", &url);
    assert_eq!(app_a, app_b, "{b}");
    assert_eq!(actions_that(&b, "ran"), vec!["link:app".to_string()], "{b}");
    assert!(!b.contains("warning:"), "{b}");

    // The unit's link must run and its object is gone: the compile runs.
    pack(&env, &root, "\"m\"");
    let (c, _) = build(&env, &root, "cache-b", &url);
    let ran = actions_that(&c, "ran");
    assert!(ran.contains(&"compile:big/big/big.c".to_string()), "{c}");
    assert!(ran.contains(&"link:big/big".to_string()), "{c}");
    assert!(!c.contains("warning:"), "{c}");

    // A fresh builder C after the repair: the object is back on the server
    // (the re-run uploaded it).
    assert!(server.read_stored(&format!("cas/{object}")).is_some());
}

#[path = "support/buildgrid.rs"]
mod buildgrid;

/// [`build`] with `COEX_REMOTE_DOWNLOAD` set to `download` when given.
fn build_with(env: &Env, root: &Path, cache: &str, url: &str, download: Option<&str>) -> String {
    let mut cmd = isolated::isolated_coex(root, &env.path().join(cache), &env.path().join("home"));
    if let Some(d) = download {
        cmd.env("COEX_REMOTE_DOWNLOAD", d);
    }
    let o = cmd
        .args(["build", "-v", "app.coex", "-L", "libs", "-o", "app"])
        .args(["--remote-cache", url])
        .output()
        .unwrap();
    let status = text(&o.stderr);
    assert!(o.status.success(), "{status}");
    let run = std::process::Command::new(root.join("app"))
        .output()
        .unwrap();
    assert_eq!(text(&run.stdout), expected_output(), "{status}");
    status
}

/// The object file of big.c in a local cache's `cas/`.
fn object_in_cache(cache: &Path) -> Vec<u8> {
    let mut found = Vec::new();
    for shard in std::fs::read_dir(cache.join("cas")).unwrap().flatten() {
        for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
            let b = std::fs::read(f.path()).unwrap();
            if b.starts_with(b"\x7fELF")
                && b.get(16) == Some(&1)
                && b.windows(14).any(|w| w == b"big_table_d41d")
            {
                found.push(b);
            }
        }
    }
    assert_eq!(found.len(), 1, "one object file of big.c");
    found.remove(0)
}

#[test]
fn through_buildgrid_the_object_stays_remote_until_a_link_needs_it() {
    let env = Env::new();
    let root = project(&env, "");
    let server = buildgrid::BuildGrid::start_on_disk();
    let url = server.url();
    build_with(&env, &root, "cache-a", &url, None);
    let object = object_in_cache(&env.path().join("cache-a"));
    assert!(object.len() > 16 * 1024);

    // Now vs every blob (the behaviour before): the difference is at least
    // the object file, which B never asked for.
    let lazy = build_with(&env, &root, "cache-b", &url, None);
    let all = build_with(&env, &root, "cache-c", &url, Some("all"));
    assert!(actions_that(&lazy, "ran").is_empty(), "{lazy}");
    let (got, got_all) = (bytes_downloaded(&lazy), bytes_downloaded(&all));
    assert!(
        got + object.len() as u64 <= got_all,
        "{got} vs {got_all}\n{lazy}\n{all}"
    );
    assert!(!env
        .path()
        .join("cache-b/cas")
        .join(&blake3_hex(&object)[..2])
        .join(blake3_hex(&object))
        .exists());

    // The server loses the object; a unit link must run: the compile runs.
    std::fs::remove_file(server.cas_object(&sha256_hex(&object))).unwrap();
    pack(&env, &root, "\"m\"");
    let d = build_with(&env, &root, "cache-b", &url, None);
    let ran = actions_that(&d, "ran");
    assert!(ran.contains(&"compile:big/big/big.c".to_string()), "{d}");
    assert!(ran.contains(&"link:big/big".to_string()), "{d}");
    assert!(!d.contains("warning:"), "{d}");
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
