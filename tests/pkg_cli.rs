//! `coex pkg install/list/remove` and `--locked` through the real binary:
//! installing from a path and from nginx over http(s), the lock file and
//! its stable bytes, a changed archive behind a URL, `--locked` builds and
//! checks, hostile sources, the project's lib folder, and the not-found
//! message's command copy-pasted.

#[path = "e2e/common.rs"]
mod common;
#[path = "support/nginx.rs"]
mod nginx;

use common::*;
use nginx::Nginx;
use std::path::{Path, PathBuf};
use std::process::Output;

const PROGRAM: &str =
    "import \"pure\"\nfunc main() -> int\n    print(twice(21))\n    return 0\n~\n";

/// A project folder (a repository root, so no lock above it is seen).
fn project(env: &Env, name: &str) -> PathBuf {
    let dir = env.path().join(name);
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    dir
}

/// Packs a pure-Coex library `pure` (version, factor) to `env/out/FILE`.
fn pure_lib(env: &Env, file: &str, version: &str, factor: u32) -> PathBuf {
    let src = env.path().join(format!("src-{file}"));
    std::fs::create_dir_all(src.join("src")).unwrap();
    std::fs::write(
        src.join("manifest.toml"),
        format!("[library]\nname = \"pure\"\nversion = \"{version}\"\n"),
    )
    .unwrap();
    std::fs::write(
        src.join("src/pure.coex"),
        format!("func twice(n: int) -> int\n    return n * {factor}\n~\n"),
    )
    .unwrap();
    let out = env.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join(file);
    let o = env.coex_in(
        env.path(),
        &[
            "cxz",
            "pack",
            src.to_str().unwrap(),
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    file
}

fn digest_of(file: &Path) -> String {
    coex::cxz::CxzArchive::open(file).unwrap().digest
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn fails(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "stdout: {}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn install_from_a_path_writes_lib_and_a_stable_lock() {
    let env = Env::new();
    let proj = project(&env, "proj");
    let v1 = pure_lib(&env, "pure.cxz", "1.0.0", 2);
    let d1 = digest_of(&v1);
    let out = ok(&env.coex_in(&proj, &["pkg", "install", v1.to_str().unwrap()]));
    assert_eq!(
        out,
        format!("installed pure 1.0.0 -> ./lib/pure.cxz, digest {d1}\nrecorded in ./coex.lock\n")
    );
    assert_eq!(
        std::fs::read(proj.join("lib/pure.cxz")).unwrap(),
        std::fs::read(&v1).unwrap()
    );
    let lock = read(&proj.join("coex.lock"));
    let expected = format!(
        "version = 1\n\n[[library]]\nname = \"pure\"\nversion = \"1.0.0\"\ndigest = \"{d1}\"\n\
         source = \"{}\"\npath = \"lib/pure.cxz\"\n",
        v1.canonicalize().unwrap().display()
    );
    assert!(lock.starts_with("# coex.lock: "), "{lock}");
    assert!(lock.ends_with(&expected), "{lock}");
    // Reinstalling the same archive (from another folder of the project,
    // by a relative path) changes no byte and says so.
    std::fs::create_dir_all(proj.join("sub")).unwrap();
    let out = ok(&env.coex_in(&proj.join("sub"), &["pkg", "install", "../../out/pure.cxz"]));
    assert!(out.contains("pure 1.0.0 is installed -> "), "{out}");
    assert!(out.contains("(unchanged)"), "{out}");
    assert_eq!(read(&proj.join("coex.lock")), lock);
    assert!(!proj.join("sub/lib").exists() && !proj.join("sub/coex.lock").exists());
    let listed = ok(&env.coex_in(&proj, &["pkg", "list"]));
    assert!(
        listed.starts_with(&format!(
            "pure 1.0.0: ./lib/pure.cxz ok, digest {d1}, from "
        )),
        "{listed}"
    );
    // The program finds it; check --locked accepts it.
    std::fs::write(proj.join("app.coex"), PROGRAM).unwrap();
    ok(&env.coex_in(&proj, &["check", "--locked", "app.coex"]));
}

#[test]
fn another_archive_of_the_same_name_replaces_the_installed_one() {
    let env = Env::new();
    let proj = project(&env, "proj");
    let v1 = pure_lib(&env, "pure.cxz", "1.0.0", 2);
    // Named after something else: the manifest's name is what counts.
    let v2 = pure_lib(&env, "renamed-download.cxz", "2.0.0", 3);
    let (d1, d2) = (digest_of(&v1), digest_of(&v2));
    ok(&env.coex_in(&proj, &["pkg", "install", v1.to_str().unwrap()]));
    let out = ok(&env.coex_in(&proj, &["pkg", "install", v2.to_str().unwrap()]));
    assert!(
        out.contains(&format!(
            "replaced pure 1.0.0 (digest {d1}) with pure 2.0.0 -> ./lib/pure.cxz, digest {d2}"
        )),
        "{out}"
    );
    assert!(!proj.join("lib/renamed-download.cxz").exists());
    assert_eq!(
        std::fs::read(proj.join("lib/pure.cxz")).unwrap(),
        std::fs::read(&v2).unwrap()
    );
    let lock = read(&proj.join("coex.lock"));
    assert!(lock.contains(&d2) && !lock.contains(&d1), "{lock}");
    // Both at once: which one is meant is unclear, nothing is changed.
    let err = fails(&env.coex_in(
        &proj,
        &["pkg", "install", v1.to_str().unwrap(), v2.to_str().unwrap()],
    ));
    assert!(err.contains("are both library 'pure'"), "{err}");
    assert_eq!(read(&proj.join("coex.lock")), lock);
}

#[test]
fn hostile_sources_change_nothing() {
    let env = Env::new();
    let proj = project(&env, "proj");
    std::fs::write(env.path().join("notes.cxz"), "just text, not a zip").unwrap();
    let err = fails(&env.coex_in(&proj, &["pkg", "install", "../notes.cxz"]));
    assert!(err.contains("is not a ZIP archive"), "{err}");
    let err = fails(&env.coex_in(&proj, &["pkg", "install", "regex"]));
    assert!(
        err.contains("'regex' is neither a .cxz file nor an http(s):// URL"),
        "{err}"
    );
    assert!(err.contains("coex pkg install path/to/regex.cxz"), "{err}");
    let err = fails(&env.coex_in(&proj, &["pkg", "install", "ftp://h/x.cxz"]));
    assert!(err.contains("only http://, https://"), "{err}");
    let err = fails(&env.coex_in(&proj, &["pkg", "install", "missing/x.cxz"]));
    assert!(err.contains("no such file"), "{err}");
    assert!(!proj.join("lib").exists() && !proj.join("coex.lock").exists());
    // A folder where the archive would go is not replaced.
    std::fs::create_dir_all(proj.join("lib/pure.cxz")).unwrap();
    let v1 = pure_lib(&env, "pure.cxz", "1.0.0", 2);
    let err = fails(&env.coex_in(&proj, &["pkg", "install", v1.to_str().unwrap()]));
    assert!(
        err.contains("refusing to write") && err.contains("a directory"),
        "{err}"
    );
    assert!(!proj.join("coex.lock").exists());
    // A file nobody recorded is replaced, and the output says so.
    std::fs::remove_dir(proj.join("lib/pure.cxz")).unwrap();
    std::fs::write(proj.join("lib/pure.cxz"), "stale").unwrap();
    let out = ok(&env.coex_in(&proj, &["pkg", "install", v1.to_str().unwrap()]));
    assert!(
        out.contains("replacing a file coex.lock did not record"),
        "{out}"
    );
    // A lock steering `remove` outside the project is refused.
    let lock = read(&proj.join("coex.lock"));
    std::fs::write(
        proj.join("coex.lock"),
        lock.replace("lib/pure.cxz", "../../pure.cxz"),
    )
    .unwrap();
    let err = fails(&env.coex_in(&proj, &["pkg", "remove", "pure"]));
    assert!(err.contains("is not a valid coex.lock"), "{err}");
    assert!(v1.exists());
}

#[test]
fn list_and_remove() {
    let env = Env::new();
    let proj = project(&env, "proj");
    let v1 = pure_lib(&env, "pure.cxz", "1.0.0", 2);
    let out = ok(&env.coex_in(&proj, &["pkg", "list"]));
    assert!(out.starts_with("no libraries installed"), "{out}");
    ok(&env.coex_in(&proj, &["pkg", "install", v1.to_str().unwrap()]));
    std::fs::write(proj.join("lib/stray.cxz"), "x").unwrap();
    let out = ok(&env.coex_in(&proj, &["pkg", "list"]));
    assert!(out.contains("./lib/stray.cxz: not in coex.lock"), "{out}");
    // A replaced file is reported with both digests, and the exit status says so.
    let v2 = pure_lib(&env, "v2.cxz", "2.0.0", 3);
    std::fs::copy(&v2, proj.join("lib/pure.cxz")).unwrap();
    let o = env.coex_in(&proj, &["pkg", "list"]);
    let err = fails(&o);
    assert!(
        err.contains("1 installed library does not match coex.lock"),
        "{err}"
    );
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!(
            "differs: the file holds pure 2.0.0 with digest {}, coex.lock records digest {}",
            digest_of(&v2),
            digest_of(&v1)
        )),
        "{out}"
    );
    std::fs::remove_file(proj.join("lib/pure.cxz")).unwrap();
    let o = env.coex_in(&proj, &["pkg", "list"]);
    fails(&o);
    assert!(
        text(&o.stdout).contains("./lib/pure.cxz missing"),
        "{}",
        text(&o.stdout)
    );
    ok(&env.coex_in(&proj, &["pkg", "install", v1.to_str().unwrap()]));
    let out = ok(&env.coex_in(&proj, &["pkg", "remove", "pure"]));
    assert_eq!(
        out,
        "removed pure 1.0.0 (./lib/pure.cxz) and its entry in ./coex.lock\n"
    );
    assert!(!proj.join("lib/pure.cxz").exists());
    assert!(!read(&proj.join("coex.lock")).contains("pure"));
    let err = fails(&env.coex_in(&proj, &["pkg", "remove", "pure"]));
    assert!(
        err.contains("library 'pure' is not in ./coex.lock (installed: none)"),
        "{err}"
    );
    let err = fails(&env.coex_in(&proj, &["pkg", "remove", "../x"]));
    assert!(err.contains("is not a library name"), "{err}");
    assert!(proj.join("lib/stray.cxz").exists());
}

#[test]
fn locked_builds_refuse_what_the_lock_does_not_record() {
    let env = Env::new();
    let proj = project(&env, "proj");
    let v1 = pure_lib(&env, "pure.cxz", "1.0.0", 2);
    let v2 = pure_lib(&env, "v2.cxz", "2.0.0", 3);
    std::fs::write(proj.join("app.coex"), PROGRAM).unwrap();
    // No lock at all.
    std::fs::create_dir_all(proj.join("lib")).unwrap();
    std::fs::copy(&v1, proj.join("lib/pure.cxz")).unwrap();
    let err = fails(&env.coex_in(&proj, &["check", "--locked", "app.coex"]));
    assert!(err.contains("--locked: no coex.lock in ."), "{err}");
    ok(&env.coex_in(&proj, &["pkg", "install", v1.to_str().unwrap()]));
    let o = env.coex_in(&proj, &["run", "--locked", "app.coex"]);
    assert_eq!(ok(&o), "42\n");
    // The archive in lib/ replaced by another version: both digests named.
    std::fs::copy(&v2, proj.join("lib/pure.cxz")).unwrap();
    let err = fails(&env.coex_in(&proj, &["build", "--locked", "app.coex"]));
    assert!(
        err.starts_with("error: --locked: 1 imported library does not match ./coex.lock"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "library 'pure' (./lib/pure.cxz) has digest {}, coex.lock records digest {}",
            digest_of(&v2),
            digest_of(&v1)
        )),
        "{err}"
    );
    assert!(!proj.join("app").exists(), "nothing is built");
    fails(&env.coex_in(&proj, &["check", "--locked", "app.coex"]));
    ok(&env.coex_in(&proj, &["check", "app.coex"]));
    // A library the lock does not know at all.
    ok(&env.coex_in(&proj, &["pkg", "remove", "pure"]));
    std::fs::copy(&v1, proj.join("lib/pure.cxz")).unwrap();
    let err = fails(&env.coex_in(&proj, &["run", "--locked", "app.coex"]));
    assert!(
        err.contains(&format!(
            "library 'pure' (./lib/pure.cxz, digest {}) is not in coex.lock",
            digest_of(&v1)
        )),
        "{err}"
    );
}

#[test]
fn the_project_lib_folder_is_beside_the_lock() {
    let env = Env::new();
    let proj = project(&env, "proj");
    let v1 = pure_lib(&env, "pure.cxz", "1.0.0", 2);
    ok(&env.coex_in(&proj, &["pkg", "install", v1.to_str().unwrap()]));
    // A program in a subfolder (with no lib/ of its own) uses the project's.
    let tools = proj.join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::write(tools.join("app.coex"), PROGRAM).unwrap();
    ok(&env.coex_in(&tools, &["check", "--locked", "app.coex"]));
    ok(&env.coex_in(env.path(), &["check", "--locked", "proj/tools/app.coex"]));
    let found = ok(&env.coex_in(&tools, &["cxz", "find", "pure"]));
    assert_eq!(
        PathBuf::from(found.trim()).canonicalize().unwrap(),
        proj.join("lib/pure.cxz").canonicalize().unwrap()
    );
    // `pkg` from the subfolder works on the same project.
    let listed = ok(&env.coex_in(&tools, &["pkg", "list"]));
    assert!(
        listed.contains("pure 1.0.0: ") && listed.contains(" ok, "),
        "{listed}"
    );
}

/// The command in a not-found message, with `path/to/NAME.cxz` replaced
/// by `real`, split into arguments.
fn suggested(stderr: &str, name: &str, real: &Path) -> Vec<String> {
    let line = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("coex pkg install ") && l.ends_with(&format!("path/to/{name}.cxz")))
        .unwrap_or_else(|| panic!("no install command in:\n{stderr}"));
    let line = line.replace(&format!("path/to/{name}.cxz"), real.to_str().unwrap());
    line.split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_not_found_command_works_when_copy_pasted() {
    let env = Env::new();
    let v1 = pure_lib(&env, "pure.cxz", "1.0.0", 2);
    for (cwd, program) in [("proj", "app.coex"), (".", "other/app.coex")] {
        let proj = project(&env, if cwd == "proj" { "proj" } else { "other" });
        std::fs::write(proj.join("app.coex"), PROGRAM).unwrap();
        let cwd = env.path().join(cwd);
        let err = fails(&env.coex_in(&cwd, &["check", program]));
        assert!(err.contains("Library 'pure' not found"), "{err}");
        let args = suggested(&err, "pure", &v1);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&env.coex_in(&cwd, &args));
        ok(&env.coex_in(&cwd, &["check", "--locked", program]));
        assert!(proj.join("lib/pure.cxz").is_file() && proj.join("coex.lock").is_file());
    }
    assert!(!env.path().join("coex.lock").exists() && !env.path().join("lib").exists());
}

#[test]
fn install_from_a_url_is_pinned_by_the_lock() {
    let env = Env::new();
    let proj = project(&env, "proj");
    let server = Nginx::start();
    let v1 = pure_lib(&env, "pure.cxz", "1.0.0", 2);
    let v2 = pure_lib(&env, "v2.cxz", "2.0.0", 3);
    let (d1, d2) = (digest_of(&v1), digest_of(&v2));
    server.write_stored("pure.cxz", &std::fs::read(&v1).unwrap());
    let port = server.port();
    let url = format!("http://bob:s3cret@127.0.0.1:{port}/cache/pure.cxz");
    let shown = format!("http://127.0.0.1:{port}/cache/pure.cxz");
    let o = env.coex_in(&proj, &["pkg", "install", &url]);
    assert!(ok(&o).contains(&format!(
        "installed pure 1.0.0 -> ./lib/pure.cxz, digest {d1}"
    )));
    let lock = read(&proj.join("coex.lock"));
    assert!(lock.contains(&format!("source = \"{shown}\"")), "{lock}");
    assert!(!lock.contains("s3cret") && !text(&o.stderr).contains("s3cret"));
    // The server's archive changes: refused, both digests named, nothing changed.
    server.write_stored("pure.cxz", &std::fs::read(&v2).unwrap());
    let o = env.coex_in(&proj, &["pkg", "install", &url]);
    let err = fails(&o);
    assert!(!err.contains("s3cret"), "{err}");
    assert!(
        err.contains(&format!(
            "{shown} does not match coex.lock: it holds pure 2.0.0 with digest {d2}, \
             coex.lock records pure 1.0.0 with digest {d1}"
        )),
        "{err}"
    );
    assert!(err.contains("--update"), "{err}");
    assert_eq!(read(&proj.join("coex.lock")), lock);
    assert_eq!(
        std::fs::read(proj.join("lib/pure.cxz")).unwrap(),
        std::fs::read(&v1).unwrap()
    );
    let out = ok(&env.coex_in(&proj, &["pkg", "install", "--update", &url]));
    assert!(
        out.contains(&format!(
            "replaced pure 1.0.0 (digest {d1}) with pure 2.0.0"
        )),
        "{out}"
    );
    // 404, and a page of HTML where an archive should be.
    let err = fails(&env.coex_in(&proj, &["pkg", "install", &format!("{shown}.missing")]));
    assert!(err.contains("the server answered 404 Not Found"), "{err}");
    server.write_stored(
        "page.cxz",
        b"<!DOCTYPE html><html><body>Not here</body></html>",
    );
    let err = fails(&env.coex_in(
        &proj,
        &[
            "pkg",
            "install",
            &format!("http://127.0.0.1:{port}/cache/page.cxz"),
        ],
    ));
    assert!(
        err.contains("/cache/page.cxz is not a ZIP archive"),
        "{err}"
    );
    assert_eq!(
        read(&proj.join("coex.lock")).matches("[[library]]").count(),
        1
    );
}

#[test]
fn redirects_to_another_server_are_refused_and_https_takes_a_ca() {
    let env = Env::new();
    let proj = project(&env, "proj");
    let tls = Nginx::start_tls();
    let v1 = pure_lib(&env, "pure.cxz", "1.0.0", 2);
    tls.write_stored("pure.cxz", &std::fs::read(&v1).unwrap());
    let url = format!("{}/pure.cxz", tls.url());
    let err = fails(&env.coex_in(&proj, &["pkg", "install", &url]));
    assert!(err.contains("cannot download"), "{err}");
    let ca = tls.ca_cert();
    ok(&env.coex_in(
        &proj,
        &["pkg", "install", "--ca", ca.to_str().unwrap(), &url],
    ));
    let redirecting = Nginx::start_redirecting(tls.port());
    let err = fails(&env.coex_in(
        &proj,
        &["pkg", "install", &format!("{}/pure.cxz", redirecting.url())],
    ));
    assert!(
        err.contains(&format!(
            "the server redirects to http://127.0.0.1:{}/cache/pure.cxz, another server",
            tls.port()
        )),
        "{err}"
    );
}
