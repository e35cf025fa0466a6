//! Cache hygiene through the real binary: FIFOs, directories and symbolic
//! links where cache entries belong are dropped with a warning (never
//! followed, never waited on) and reported by `coex cache verify`; scratch
//! folders of killed builds are swept by the next build and by
//! `coex cache gc`; a read-only or full local cache costs one warning, not
//! the build.
//!
//! The read-only and full caches are real: a tmpfs mounted (read-only, or
//! with a tiny size) in a private mount namespace (`unshare -m`, as root).

#[path = "e2e/common.rs"]
mod common;

use common::isolated::isolated_coex;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const HELLO: &str = "func main() -> int\n    print(1)\n    return 0\n~\n";
const HELLO2: &str = "func main() -> int\n    print(2)\n    return 0\n~\n";

fn coex(env: &Env, cwd: &Path, tmp: &Path, args: &[&str]) -> Output {
    isolated_coex(cwd, &env.path().join("cache"), &env.path().join("home"))
        .env("TMPDIR", tmp)
        .args(args)
        .timeout(Duration::from_secs(300))
        .output()
        .expect("run coex")
}

/// `<env>/work` with `main.coex` = `body`, and a private `<env>/tmp`.
fn setup(env: &Env, body: &str) -> (PathBuf, PathBuf) {
    let work = env.path().join("work");
    let tmp = env.path().join("tmp");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(work.join("main.coex"), body).unwrap();
    (work, tmp)
}

fn build_ok(env: &Env, work: &Path, tmp: &Path) -> Output {
    let o = coex(env, work, tmp, &["build", "main.coex", "-o", "app"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    o
}

fn run_app(work: &Path) -> String {
    let o = std::process::Command::new(work.join("app"))
        .output()
        .unwrap();
    text(&o.stdout)
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every regular file under `dir` (recursively), sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(list) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in list {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            out.extend(files_under(&p));
        } else if m.is_file() {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Replaces every entry of `cas/`, `ac/` and `memo/` by a FIFO, a directory
/// or a link to `outside`, in turn. Returns how many were replaced.
fn spoil_cache(cache: &Path, outside: &Path) -> usize {
    let mut n = 0;
    for section in ["cas", "ac", "memo"] {
        for (i, f) in files_under(&cache.join(section)).into_iter().enumerate() {
            std::fs::remove_file(&f).unwrap();
            match i % 3 {
                0 => mkfifo(&f),
                1 => std::fs::create_dir_all(f.join("inner")).unwrap(),
                _ => std::os::unix::fs::symlink(outside, &f).unwrap(),
            }
            n += 1;
        }
    }
    n
}

#[test]
fn fifos_directories_and_links_in_the_cache_are_dropped_and_rebuilt() {
    let env = Env::new();
    let (work, tmp) = setup(&env, HELLO);
    build_ok(&env, &work, &tmp);
    let outside = env.path().join("outside");
    std::fs::write(&outside, "not a cache entry").unwrap();
    let cache = env.path().join("cache");
    assert!(spoil_cache(&cache, &outside) > 6);
    let o = build_ok(&env, &work, &tmp);
    let stderr = text(&o.stderr);
    for what in [
        "(a FIFO (named pipe))",
        "(a directory)",
        "(a symbolic link (to ",
    ] {
        assert!(
            stderr.contains("warning: dropped corrupt cache entry ") && stderr.contains(what),
            "{what}: {stderr}"
        );
    }
    assert_eq!(run_app(&work), "1\n");
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "not a cache entry"
    );
    // Everything was rewritten as regular files.
    let o = coex(&env, &work, &tmp, &["cache", "verify"]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("all good"), "{}", text(&o.stdout));
    let o = coex(
        &env,
        &work,
        &tmp,
        &["build", "-v", "main.coex", "-o", "app"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
    assert!(actions_that(&text(&o.stderr), "ran").is_empty());
}

#[test]
fn cache_verify_reports_what_is_not_a_file() {
    let env = Env::new();
    let (work, tmp) = setup(&env, HELLO);
    build_ok(&env, &work, &tmp);
    let outside = env.path().join("outside");
    std::fs::write(&outside, "keep").unwrap();
    let cache = env.path().join("cache");
    let spoiled = spoil_cache(&cache, &outside);
    let o = coex(&env, &work, &tmp, &["cache", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("removed bad entry "))
            .count(),
        spoiled,
        "{stdout}"
    );
    for what in [
        "(a FIFO (named pipe))",
        "(a directory)",
        "(a symbolic link (to ",
    ] {
        assert!(stdout.contains(what), "{what}: {stdout}");
    }
    assert!(stdout.contains("removed bad entry memo/"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
    let o = coex(&env, &work, &tmp, &["cache", "verify"]);
    assert!(o.status.success(), "{}", text(&o.stdout));
}

/// A process that has exited: its pid, now unused (and not reused within
/// the test, at least not by a process that started before the folder).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// The inode of our pid namespace, as coex names scratch folders with it.
fn pid_ns() -> String {
    let link = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let link = link.to_string_lossy().into_owned();
    link.trim_start_matches("pid:[")
        .trim_end_matches(']')
        .to_string()
}

#[test]
fn scratch_folders_of_killed_builds_are_swept() {
    let env = Env::new();
    let (work, tmp) = setup(&env, HELLO);
    let ns = pid_ns();
    let stale: Vec<PathBuf> = ["coex-scratch-", "coex-tool-", "coex-codegen-", "coex-run-"]
        .iter()
        .map(|prefix| {
            let d = tmp.join(format!("{prefix}{}-{ns}-AbC123", dead_pid()));
            std::fs::create_dir_all(d.join("obj")).unwrap();
            std::fs::write(d.join("obj/a.o"), b"left behind").unwrap();
            d
        })
        .collect();
    let mut sleeper = std::process::Command::new("sleep")
        .arg("120")
        .spawn()
        .unwrap();
    let live = tmp.join(format!("coex-scratch-{}-{ns}-XyZ789", sleeper.id()));
    std::fs::create_dir(&live).unwrap();
    let unrelated = tmp.join("coex-scratch-notapid");
    std::fs::create_dir(&unrelated).unwrap();

    build_ok(&env, &work, &tmp);
    for d in &stale {
        assert!(!d.exists(), "{} was not swept", d.display());
    }
    assert!(live.is_dir(), "a live process's folder was swept");
    assert!(unrelated.is_dir());
    // The build's own scratch folders are gone too.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");

    // `coex cache gc` sweeps as well.
    let again = tmp.join(format!("coex-tool-{}-{ns}-AbC123", dead_pid()));
    std::fs::create_dir(&again).unwrap();
    let o = coex(&env, &work, &tmp, &["cache", "gc", "--max-size", "1G"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("removed 1 scratch folders of builds that no longer run"),
        "{}",
        text(&o.stdout)
    );
    assert!(!again.exists());
    assert!(live.is_dir());
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    // Once its process is gone, the next sweep takes it.
    let o = coex(&env, &work, &tmp, &["cache", "gc", "--max-size", "1G"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!live.exists());
}

fn is_root() -> bool {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    text(&out.stdout).trim() == "0"
}

/// Runs `script` with `sh -e` in a private mount namespace (mounts made
/// there vanish with it), with the variables `COEX`, `CACHE`, `WORK`,
/// `SEED` set and coex's own environment isolated as in the other tests.
fn in_mount_namespace(env: &Env, script: &str) -> Output {
    std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-ec", script])
        .env("COEX", env!("CARGO_BIN_EXE_coex"))
        .env("CACHE", env.path().join("cache"))
        .env("SEED", env.path().join("seed"))
        .env("WORK", env.path().join("work"))
        .env("TMPDIR", env.path().join("tmp"))
        .env("COEX_CACHE_DIR", env.path().join("cache"))
        .env("HOME", env.path().join("home"))
        .env_remove("COEX_PATH")
        .env_remove("COEX_REMOTE_CACHE")
        .env_remove("COEX_CC")
        .output()
        .expect("run unshare")
}

fn read(work: &Path, name: &str) -> String {
    std::fs::read_to_string(work.join(name)).unwrap_or_default()
}

const LOCAL_WARNING: &str = "warning: cannot write to the local cache ";

#[test]
fn a_read_only_cache_warns_once_and_the_build_goes_on() {
    if !is_root() {
        eprintln!("skipped: mounting a read-only tmpfs needs root");
        return;
    }
    let env = Env::new();
    let (work, tmp) = setup(&env, HELLO);
    // A cache filled by an ordinary build, copied onto a tmpfs made read-only.
    let seed = env.path().join("seed");
    let o = isolated_coex(&work, &seed, &env.path().join("home"))
        .env("TMPDIR", &tmp)
        .args(["build", "main.coex", "-o", "app"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::write(work.join("main.coex"), HELLO2).unwrap();
    std::fs::create_dir_all(env.path().join("cache")).unwrap();
    let o = in_mount_namespace(
        &env,
        r#"mount -t tmpfs -o size=256m tmpfs "$CACHE"
cp -a "$SEED/." "$CACHE/"
mount -o remount,ro "$CACHE"
cd "$WORK"
set +e
"$COEX" build -v main.coex -o app >out.txt 2>err.txt
echo $? >code.txt
"$COEX" cache verify >verify.txt 2>&1
"#,
    );
    assert!(o.status.success(), "unshare: {}", text(&o.stderr));
    let (stdout, stderr) = (read(&work, "out.txt"), read(&work, "err.txt"));
    assert_eq!(read(&work, "code.txt").trim(), "0", "{stderr}");
    assert_eq!(stderr.matches(LOCAL_WARNING).count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{LOCAL_WARNING}{} (Read-only file system (os error 30)); building without storing results\n",
            env.path().join("cache").display()
        )),
        "{stderr}"
    );
    // Lookups still read it: the runtime is cached, the edited code is not.
    assert!(stdout.is_empty(), "{stdout}");
    assert!(!actions_that(&stderr, "cached").is_empty(), "{stderr}");
    assert!(!actions_that(&stderr, "ran").is_empty(), "{stderr}");
    assert_eq!(run_app(&work), "2\n");
    assert!(read(&work, "verify.txt").contains("all good"));
    // The mount is gone with its namespace; nothing was written to the cache.
    assert!(files_under(&env.path().join("cache")).is_empty());
}

#[test]
fn a_full_cache_warns_once_and_the_build_goes_on() {
    if !is_root() {
        eprintln!("skipped: mounting a tiny tmpfs needs root");
        return;
    }
    let env = Env::new();
    let (work, _tmp) = setup(&env, HELLO);
    std::fs::create_dir_all(env.path().join("cache")).unwrap();
    let o = in_mount_namespace(
        &env,
        r#"mount -t tmpfs -o size=48k tmpfs "$CACHE"
cd "$WORK"
set +e
"$COEX" build -v main.coex -o app >out.txt 2>err.txt
echo $? >code.txt
find "$CACHE" -name '.tmp-*' | wc -l >tmpfiles.txt
"$COEX" cache verify >verify.txt 2>&1
"$COEX" build main.coex -o app >out2.txt 2>err2.txt
echo $? >code2.txt
"#,
    );
    assert!(o.status.success(), "unshare: {}", text(&o.stderr));
    let stderr = read(&work, "err.txt");
    assert_eq!(read(&work, "code.txt").trim(), "0", "{stderr}");
    assert_eq!(stderr.matches(LOCAL_WARNING).count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "(No space left on device (os error 28)); building without storing results\n"
        ),
        "{stderr}"
    );
    assert_eq!(run_app(&work), "1\n");
    // No half-written entry, and what was stored is sound.
    assert_eq!(read(&work, "tmpfiles.txt").trim(), "0");
    assert!(
        read(&work, "verify.txt").contains("all good"),
        "{}",
        read(&work, "verify.txt")
    );
    // The next build (cache still full) succeeds the same way.
    assert_eq!(
        read(&work, "code2.txt").trim(),
        "0",
        "{}",
        read(&work, "err2.txt")
    );
}
