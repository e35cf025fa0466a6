//! Scratch directories in `$TMPDIR`, and the sweep of those left behind by
//! killed processes.
//!
//! A scratch directory is deleted when its owner is done with it; a process
//! that is killed (Ctrl-C, OOM killer, a CI timeout) cannot do that. So each
//! one is named after the process that created it —
//! `coex-scratch-<pid>-<pidns>-XXXXXX` — and [`sweep`] (run once per build
//! by the executor, and by `coex cache gc`) removes those whose process is
//! gone.
//!
//! `<pidns>` is the inode of the creator's pid namespace: a process in a
//! container or a sandbox sharing `$TMPDIR` cannot see the host's pids (nor
//! the host its), so only directories made in the sweeper's own namespace
//! are judged. A pid can be reused: a live process that started clearly
//! after the directory was created cannot have created it, so its directory
//! is swept as well. Only Linux's `/proc` is consulted; without it nothing
//! is swept.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Prefix of the executor's per-action scratch directories.
pub const SCRATCH: &str = "coex-scratch-";
/// Prefix of `coex tool` scratch directories.
pub const TOOL: &str = "coex-tool-";
/// Prefix of `coex tool codegen`'s staging directories.
pub const CODEGEN: &str = "coex-codegen-";
/// Prefix of the folder `coex run` writes the executable to.
pub const RUN: &str = "coex-run-";

/// Every prefix [`sweep`] looks at.
pub const PREFIXES: [&str; 4] = [SCRATCH, TOOL, CODEGEN, RUN];

/// Slack when comparing a process's start with a directory's creation (the
/// two come from different clocks, and the wall clock may be stepped): only
/// a process that started clearly later is not the directory's creator.
const SLACK: Duration = Duration::from_secs(10);

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, fixed at
/// 100 by the Linux ABI whatever the kernel's own tick rate).
const USER_HZ: f64 = 100.0;

/// A fresh directory `$TMPDIR/<prefix><pid>-<pidns>-XXXXXX`, deleted when
/// dropped.
pub fn tempdir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!(
            "{prefix}{}-{}-",
            std::process::id(),
            pid_namespace()
        ))
        .tempdir()
}

/// The inode of this process's pid namespace (`0` if `/proc` cannot say;
/// such directories are never swept).
pub fn pid_namespace() -> u64 {
    static NS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NS.get_or_init(|| {
        std::fs::read_link("/proc/self/ns/pid")
            .ok()
            .and_then(|t| {
                let t = t.to_string_lossy().into_owned();
                t.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
            })
            .unwrap_or(0)
    })
}

/// What a sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Directories removed.
    pub removed: Vec<PathBuf>,
}

/// Removes the stale scratch directories of `$TMPDIR` (one `read_dir`; a
/// `/proc` read per directory with a coex prefix). Never fails: a directory
/// that cannot be judged or removed is left alone.
pub fn sweep() -> SweepReport {
    sweep_in(&std::env::temp_dir())
}

/// [`sweep`] of the directory `dir`.
pub fn sweep_in(dir: &Path) -> SweepReport {
    let mut report = SweepReport::default();
    let Some(procs) = Procs::new() else {
        return report;
    };
    let ns = pid_namespace();
    if ns == 0 {
        return report;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return report;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((pid, dir_ns)) = name.to_str().and_then(owner) else {
            continue;
        };
        if dir_ns != ns {
            continue;
        }
        // Not following links: only a real directory is ours to remove.
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || !procs.same_user(&meta) {
            continue;
        }
        // Creation time where the file system keeps it (not changed by
        // utime); else the last change, which is never earlier.
        let made = meta
            .created()
            .or_else(|_| meta.modified())
            .unwrap_or(SystemTime::now());
        if procs.is_stale(pid, made) && std::fs::remove_dir_all(entry.path()).is_ok() {
            report.removed.push(entry.path());
        }
    }
    report
}

/// The creator's pid and pid namespace in a scratch directory's name
/// (`coex-scratch-1234-4026531836-AbC123`), if it has a coex prefix and
/// both numbers (older names without them are left alone).
fn owner(name: &str) -> Option<(u32, u64)> {
    let rest = PREFIXES.iter().find_map(|p| name.strip_prefix(p))?;
    let mut parts = rest.splitn(3, '-');
    let (pid, ns, suffix) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if suffix.is_empty() || !number(pid) || !number(ns) {
        return None;
    }
    let pid: u32 = pid.parse().ok().filter(|&p| p > 0)?;
    let ns: u64 = ns.parse().ok().filter(|&n| n > 0)?;
    Some((pid, ns))
}

/// What the sweep reads of `/proc`, once.
struct Procs {
    /// Our own pid (never stale).
    me: u32,
    /// The owner of `/proc/self` (our effective uid).
    uid: u32,
    /// Seconds since boot, read with `now`.
    uptime: f64,
    /// Wall clock at the `uptime` read.
    now: SystemTime,
}

impl Procs {
    fn new() -> Option<Procs> {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let now = SystemTime::now();
        let uptime: f64 = std::fs::read_to_string("/proc/uptime")
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some(Procs {
            me: std::process::id(),
            uid,
            uptime,
            now,
        })
    }

    /// Only our own directories are swept (root included: another user's
    /// processes may live in a pid namespace we cannot see).
    fn same_user(&self, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        meta.uid() == self.uid
    }

    /// Whether the directory named after `pid`, last modified at `made`, has
    /// no living creator: the process is gone, a zombie, or started after it.
    fn is_stale(&self, pid: u32, made: SystemTime) -> bool {
        if pid == self.me {
            return false;
        }
        let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(s) => s,
            Err(e) => return e.kind() == std::io::ErrorKind::NotFound,
        };
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
        let Some((_, after)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
            return true;
        }
        // Field 22 of the whole line (starttime) is the 20th after comm.
        let Some(start_ticks) = fields.get(19).and_then(|f| f.parse::<f64>().ok()) else {
            return false;
        };
        let age = self.uptime - start_ticks / USER_HZ;
        let Some(started) = self.now.checked_sub(Duration::from_secs_f64(age.max(0.0))) else {
            return false;
        };
        started > made + SLACK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_creator() {
        assert_eq!(owner("coex-scratch-123-456-AbC9xz"), Some((123, 456)));
        assert_eq!(owner("coex-tool-7-8-x"), Some((7, 8)));
        assert_eq!(owner("coex-run-42-9-q1-2"), Some((42, 9)));
        assert_eq!(owner("coex-codegen-42-9-q1"), Some((42, 9)));
        assert_eq!(owner("coex-scratch-AbC9xz"), None, "old name");
        assert_eq!(owner("coex-scratch-123-AbC9xz"), None, "no namespace");
        assert_eq!(owner("coex-scratch-12x-4-a"), None);
        assert_eq!(owner("coex-scratch-12-4-"), None);
        assert_eq!(owner("coex-scratch-0-4-a"), None);
        assert_eq!(owner("coex-scratch-5-0-a"), None);
        assert_eq!(owner("other-123-4-a"), None);
    }

    #[test]
    fn a_tempdir_is_named_after_this_process() {
        let d = tempdir(SCRATCH).unwrap();
        let name = d.path().file_name().unwrap().to_str().unwrap().to_string();
        assert_ne!(pid_namespace(), 0);
        assert_eq!(owner(&name), Some((std::process::id(), pid_namespace())));
    }

    #[test]
    fn a_live_process_that_started_after_the_directory_is_not_its_owner() {
        let procs = Procs::new().unwrap();
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = sleeper.id();
        let now = SystemTime::now();
        assert!(
            !procs.is_stale(pid, now),
            "made now: its owner may be alive"
        );
        assert!(procs.is_stale(pid, now - Duration::from_secs(3600)));
        assert!(!procs.is_stale(std::process::id(), now - Duration::from_secs(3600)));
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        assert!(Procs::new().unwrap().is_stale(pid, now), "gone");
    }

    #[test]
    fn dead_and_live_owners_foreign_namespaces_and_other_names() {
        let tmp = tempfile::tempdir().unwrap();
        let ns = pid_namespace();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let gone = tmp.path().join(format!("{SCRATCH}{dead}-{ns}-abc"));
        std::fs::create_dir(&gone).unwrap();
        std::fs::write(gone.join("f"), b"x").unwrap();
        // Our own directory and a live process's directory stay.
        let mine = tmp
            .path()
            .join(format!("{TOOL}{}-{ns}-abc", std::process::id()));
        std::fs::create_dir(&mine).unwrap();
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let live = tmp
            .path()
            .join(format!("{CODEGEN}{}-{ns}-abc", sleeper.id()));
        std::fs::create_dir(&live).unwrap();
        // Made in another pid namespace: its pids are not ours to judge.
        let foreign = tmp.path().join(format!("{RUN}{dead}-{}-abc", ns + 1));
        std::fs::create_dir(&foreign).unwrap();
        // Not ours by name, or not a directory.
        let other = tmp.path().join("unrelated-1-abc");
        std::fs::create_dir(&other).unwrap();
        let file = tmp.path().join(format!("{SCRATCH}{dead}-{ns}-file"));
        std::fs::write(&file, b"x").unwrap();

        assert_eq!(sweep_in(tmp.path()).removed, vec![gone.clone()]);
        assert!(!gone.exists());
        for kept in [&mine, &live, &foreign, &other] {
            assert!(kept.is_dir(), "{}", kept.display());
        }
        assert!(file.is_file());
        let _ = sleeper.kill();
        let _ = sleeper.wait();
    }
}
