//! Scratch directories in `$TMPDIR`, and the sweep of those left behind by
//! killed processes.
//!
//! A scratch directory is deleted when its owner is done with it; a process
//! that is killed (Ctrl-C, OOM killer, a CI timeout) cannot do that. So each
//! one is named after the process that created it —
//! `coex-scratch-<pid>-XXXXXX` — and [`sweep`] (run once per build by the
//! executor, and by `coex cache gc`) removes those whose process is gone.
//!
//! A pid can be reused: a live process that started after the directory was
//! last modified cannot have created it, so its directory is swept as well.
//! Only Linux's `/proc` is consulted; without it nothing is swept.

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

/// Slack for clock granularity when comparing a process's start with a
/// directory's time: only a process that started clearly later is not the
/// directory's creator.
const SLACK: Duration = Duration::from_secs(1);

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, fixed at
/// 100 by the Linux ABI whatever the kernel's own tick rate).
const USER_HZ: f64 = 100.0;

/// A fresh directory `$TMPDIR/<prefix><pid>-XXXXXX`, deleted when dropped.
pub fn tempdir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .tempdir()
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
    let Ok(entries) = std::fs::read_dir(dir) else {
        return report;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        // Not following links: only a real directory is ours to remove.
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || !procs.same_user(&meta) {
            continue;
        }
        let made = meta.modified().unwrap_or(SystemTime::now());
        if procs.is_stale(pid, made) && std::fs::remove_dir_all(entry.path()).is_ok() {
            report.removed.push(entry.path());
        }
    }
    report
}

/// The pid in a scratch directory's name (`coex-scratch-1234-AbC123`), if
/// it has a coex prefix and a pid (older names without one are left alone).
fn owner_pid(name: &str) -> Option<u32> {
    let rest = PREFIXES.iter().find_map(|p| name.strip_prefix(p))?;
    let (pid, suffix) = rest.split_once('-')?;
    if suffix.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|&p| p > 0)
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
        assert_eq!(owner_pid("coex-scratch-123-AbC9xz"), Some(123));
        assert_eq!(owner_pid("coex-tool-7-x"), Some(7));
        assert_eq!(owner_pid("coex-run-42-q1"), Some(42));
        assert_eq!(owner_pid("coex-codegen-42-q1"), Some(42));
        assert_eq!(owner_pid("coex-scratch-AbC9xz"), None, "old name");
        assert_eq!(owner_pid("coex-scratch-12x-a"), None);
        assert_eq!(owner_pid("coex-scratch-12-"), None);
        assert_eq!(owner_pid("coex-scratch-0-a"), None);
        assert_eq!(owner_pid("other-123-a"), None);
    }

    #[test]
    fn a_tempdir_is_named_after_this_process() {
        let d = tempdir(SCRATCH).unwrap();
        let name = d.path().file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(owner_pid(&name), Some(std::process::id()));
    }

    #[test]
    fn dead_reused_and_live_owners() {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let gone = tmp.path().join(format!("{SCRATCH}{dead}-abc"));
        std::fs::create_dir(&gone).unwrap();
        std::fs::write(gone.join("f"), b"x").unwrap();
        // Our own directory and a live process's directory stay.
        let mine = tmp.path().join(format!("{TOOL}{}-abc", std::process::id()));
        std::fs::create_dir(&mine).unwrap();
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let live = tmp.path().join(format!("{CODEGEN}{}-abc", sleeper.id()));
        std::fs::create_dir(&live).unwrap();
        // A live pid whose process started after the directory: reused.
        let reused = tmp.path().join(format!("{RUN}{}-abc", sleeper.id()));
        std::fs::create_dir(&reused).unwrap();
        std::fs::File::open(&reused)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        // Not ours by name, or not a directory.
        let other = tmp.path().join("unrelated-1-abc");
        std::fs::create_dir(&other).unwrap();
        let file = tmp.path().join(format!("{SCRATCH}{dead}-file"));
        std::fs::write(&file, b"x").unwrap();

        let mut removed = sweep_in(tmp.path()).removed;
        removed.sort();
        let mut expected = vec![gone.clone(), reused.clone()];
        expected.sort();
        assert_eq!(removed, expected);
        assert!(mine.is_dir() && live.is_dir() && other.is_dir() && file.is_file());
        let _ = sleeper.kill();
        let _ = sleeper.wait();
    }
}
