//! Digests of files outside an action's scratch directory (system headers,
//! the compiler's own headers, system libraries), remembered by file
//! metadata so that a warm build checks them with one `stat` each instead
//! of reading them again.
//!
//! The memo is one JSON file, `<cache>/memo/file-digests.json`, loaded once
//! per build and written back (temp + rename) when it learned something. An
//! entry holds the file's size, modification and change times (nanoseconds),
//! inode and device: any write, `touch`, rename over or `chmod` gives another
//! key, so a stale digest is never used. Files changed in the last two
//! seconds are hashed but not remembered (their timestamps could still be
//! shared by a second write), as ccache does.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::digest::Digest;

/// Memo entries beyond this are dropped wholesale on save (the memo only
/// saves time; a cleared one is rebuilt by the next builds).
const MAX_ENTRIES: usize = 50_000;

/// How recent a change must be for a file not to be remembered.
const TOO_NEW: Duration = Duration::from_secs(2);

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatKey {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

impl StatKey {
    /// The key of `meta`.
    pub fn of(meta: &std::fs::Metadata) -> StatKey {
        StatKey {
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }

    /// The key of the regular file at `path`, not following a link; `None`
    /// for anything else (a FIFO, a folder, a link) or nothing. What the
    /// memos of cached blobs and written outputs compare.
    pub fn of_regular(path: &std::path::Path) -> Option<StatKey> {
        std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.file_type().is_file())
            .map(|m| StatKey::of(&m))
    }

    /// True when the file changed at or after `instant` (modification or
    /// status change), give or take the coarse clock file times use.
    pub fn changed_since(&self, instant: SystemTime) -> bool {
        let at = |(s, ns): (i64, i64)| {
            let secs = u64::try_from(s).unwrap_or(0);
            let nanos = u32::try_from(ns).unwrap_or(0);
            SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
        };
        // File times come from a clock that can lag by a scheduler tick.
        let slack = instant
            .checked_sub(Duration::from_millis(50))
            .unwrap_or(instant);
        at(self.mtime) >= slack || at(self.ctime) >= slack
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct MemoFile {
    format: String,
    files: BTreeMap<String, (StatKey, Digest)>,
}

const FORMAT: &str = "coex-file-digests-v1";

/// The memo of one build (shared by its worker threads).
#[derive(Debug)]
pub struct FileDigests {
    file: Option<PathBuf>,
    map: Mutex<BTreeMap<String, (StatKey, Digest)>>,
    dirty: AtomicBool,
    /// Existence answers of this build (many actions ask about one path).
    exists: Mutex<BTreeMap<PathBuf, bool>>,
    /// Digests already looked at in this build: the actions of one build
    /// share most headers, and one `stat` per file per build is enough.
    seen: Mutex<BTreeMap<PathBuf, (StatKey, Digest)>>,
}

impl FileDigests {
    /// The memo of the cache at `cache_root` (empty if absent or unreadable).
    pub fn load(cache_root: &Path) -> FileDigests {
        let file = cache_root.join("memo").join("file-digests.json");
        // Never blocks on a FIFO or follows a link planted there.
        let map = super::local::read_cache_file(&file)
            .and_then(|b| serde_json::from_slice::<MemoFile>(&b).ok())
            .filter(|m| m.format == FORMAT)
            .map(|m| m.files)
            .unwrap_or_default();
        FileDigests {
            file: Some(file),
            map: Mutex::new(map),
            dirty: AtomicBool::new(false),
            exists: Mutex::new(BTreeMap::new()),
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// A memo that remembers only for the life of this value.
    pub fn in_memory() -> FileDigests {
        FileDigests {
            file: None,
            map: Mutex::new(BTreeMap::new()),
            dirty: AtomicBool::new(false),
            exists: Mutex::new(BTreeMap::new()),
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// The digest of the regular file at `path` (symlinks followed), with
    /// its stat key; `None` if it is missing, unreadable or not a file.
    pub fn digest(&self, path: &Path) -> Option<(StatKey, Digest)> {
        if let Some(known) = self.seen.lock().ok().and_then(|m| m.get(path).cloned()) {
            return Some(known);
        }
        self.digest_fresh(path)
    }

    /// [`Self::digest`] from a fresh `stat`, whatever this build saw before
    /// (after a command ran: what it read must be judged as it is now).
    pub fn digest_fresh(&self, path: &Path) -> Option<(StatKey, Digest)> {
        let found = self.digest_now(path);
        if let Ok(mut seen) = self.seen.lock() {
            match &found {
                Some(f) => seen.insert(path.to_path_buf(), f.clone()),
                None => seen.remove(path),
            };
        }
        found
    }

    fn digest_now(&self, path: &Path) -> Option<(StatKey, Digest)> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let key = StatKey::of(&meta);
        let name = path.to_string_lossy().into_owned();
        if let Ok(map) = self.map.lock() {
            if let Some((k, d)) = map.get(&name) {
                if *k == key {
                    return Some((key, d.clone()));
                }
            }
        }
        let bytes = std::fs::read(path).ok()?;
        let digest = Digest::of(&bytes);
        // Re-stat: a file rewritten while it was read is not remembered.
        let after = std::fs::metadata(path).ok().map(|m| StatKey::of(&m));
        let settled = !key.changed_since(SystemTime::now() - TOO_NEW);
        if after.as_ref() == Some(&key) && settled {
            if let Ok(mut map) = self.map.lock() {
                map.insert(name, (key.clone(), digest.clone()));
                self.dirty.store(true, Ordering::SeqCst);
            }
        }
        Some((key, digest))
    }

    /// Whether anything (a file, a dangling symlink…) is at `path`, asked
    /// once per build.
    pub fn exists(&self, path: &Path) -> bool {
        if let Ok(known) = self.exists.lock() {
            if let Some(&e) = known.get(path) {
                return e;
            }
        }
        let e = std::fs::symlink_metadata(path).is_ok();
        if let Ok(mut known) = self.exists.lock() {
            known.insert(path.to_path_buf(), e);
        }
        e
    }

    /// Writes the memo back if it learned anything (best effort: a memo
    /// that cannot be written only costs time).
    pub fn save(&self) {
        let Some(file) = &self.file else { return };
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return;
        }
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() > MAX_ENTRIES {
            map.clear();
        }
        let memo = MemoFile {
            format: FORMAT.to_string(),
            files: map.clone(),
        };
        drop(map);
        super::local::write_cache_file(file, &memo);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path, secs: u64) {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn remembers_settled_files_and_notices_changes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("h.h");
        std::fs::write(&f, b"int a;").unwrap();
        let memo = FileDigests::load(dir.path());
        let (_, d1) = memo.digest(&f).unwrap();
        assert_eq!(d1, Digest::of(b"int a;"));
        std::fs::write(&f, b"int b;").unwrap();
        // One build sees one version of a file; the next build the new one.
        assert_eq!(memo.digest(&f).unwrap().1, d1);
        let memo = FileDigests::load(dir.path());
        let (_, d2) = memo.digest(&f).unwrap();
        assert_eq!(d2, Digest::of(b"int b;"));
        assert!(memo.digest(&dir.path().join("missing.h")).is_none());
        assert!(
            memo.digest(dir.path()).is_none(),
            "a directory has no digest"
        );
    }

    #[test]
    fn saved_memo_is_used_by_the_next_build_and_keyed_by_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("h.h");
        std::fs::write(&f, b"int a;").unwrap();
        // ctime cannot be set back; wait out the "too new" window instead.
        std::thread::sleep(TOO_NEW + Duration::from_millis(100));
        let memo = FileDigests::load(dir.path());
        memo.digest(&f).unwrap();
        memo.save();
        let again = FileDigests::load(dir.path());
        assert_eq!(again.map.lock().unwrap().len(), 1);
        // Same length, new content, old mtime: ctime still differs.
        std::fs::write(&f, b"int b;").unwrap();
        age(&f, 3600);
        let (_, d) = again.digest(&f).unwrap();
        assert_eq!(d, Digest::of(b"int b;"));
    }

    #[test]
    fn a_fifo_as_memo_file_is_ignored_not_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("memo")).unwrap();
        let fifo = dir.path().join("memo").join("file-digests.json");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let memo = FileDigests::load(dir.path());
        assert!(memo.map.lock().unwrap().is_empty());
    }
}
