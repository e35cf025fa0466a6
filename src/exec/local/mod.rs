//! The local disk cache: `cas/ab/<blake3>` blobs and `ac/ab/<key>` results.
//!
//! Writes go to a temporary file in the target directory and are renamed into
//! place, so readers (in this or another process) see either nothing or a
//! complete entry, and no lock is needed. Every read is verified; a bad entry
//! is deleted and reported as a [`Fetch::Fault`] so the action simply re-runs.
//! A read touches the entry's mtime (at most hourly), the LRU clock of `gc`.
//!
//! Only regular files are entries. Anything else at an entry's path — a
//! FIFO (opening it would block), a directory, a symbolic link (never
//! followed: it could point anywhere), a device — is a corrupt entry,
//! removed like bad bytes. Entries are opened with `O_NOFOLLOW|O_NONBLOCK`
//! and checked again with `fstat`, so a swap after the first look cannot
//! make a read hang or leave the cache.

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::atomic_file::{describe_non_regular, replace_via_temp, without_temp_path, TempWrite};

use super::action::{ActionKey, ActionResult};
use super::digest::{Blake3Hash, Digest};
use super::store::{FaultKind, Fetch, Put, Store, StoreFault};

mod maintenance;
mod memo_file;
pub use maintenance::{parse_size, CacheStats, Entry, GcReport, VerifyReport};
pub use memo_file::{read_cache_file, write_cache_file};

/// Prefix of in-flight temporary files (ignored by stats/verify, swept by gc).
const TMP_PREFIX: &str = ".tmp-";

/// How cache files (entries and memos) are written: a `.tmp-` file in the
/// same folder (what stats, verify and gc recognise), mode `0600`, not
/// synced.
const CACHE_TEMP: TempWrite<'static> = TempWrite {
    prefix: TMP_PREFIX,
    suffix: "",
    mode: None,
    durable: false,
};

/// Errors of cache maintenance commands.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Neither `COEX_CACHE_DIR` nor `HOME` is set.
    #[error("cannot locate the cache: set COEX_CACHE_DIR (or HOME, for ~/.coex/cache)")]
    NoHome,
    /// A directory walk or delete failed.
    #[error("cannot read cache directory {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A `--max-size` value that is not a size.
    #[error("invalid size '{0}': use a number with an optional K, M or G suffix (e.g. 100M)")]
    BadSize(String),
}

/// `COEX_CACHE_DIR`, else `~/.coex/cache`.
pub fn default_cache_dir() -> Result<PathBuf, CacheError> {
    if let Some(d) = std::env::var_os("COEX_CACHE_DIR") {
        if !d.is_empty() {
            return Ok(PathBuf::from(d));
        }
    }
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => Ok(PathBuf::from(h).join(".coex").join("cache")),
        _ => Err(CacheError::NoHome),
    }
}

/// The on-disk CAS + AC.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

/// One section of the cache (`cas` or `ac`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Blobs by BLAKE3.
    Cas,
    /// Action results by key.
    Ac,
}

impl Section {
    fn dir(self) -> &'static str {
        match self {
            Section::Cas => "cas",
            Section::Ac => "ac",
        }
    }
}

/// Frames an AC entry: `<blake3 hex of body>\n<body>`, so reads can be verified.
fn frame_result(result: &ActionResult) -> Vec<u8> {
    let body = serde_json::to_vec(result).unwrap_or_default();
    let mut out = blake3::hash(&body).to_hex().as_bytes().to_vec();
    out.push(b'\n');
    out.extend_from_slice(&body);
    out
}

fn unframe_result(bytes: &[u8]) -> Option<ActionResult> {
    if bytes.len() < 65 || bytes[64] != b'\n' {
        return None;
    }
    let (head, body) = (&bytes[..64], &bytes[65..]);
    if blake3::hash(body).to_hex().as_bytes() != head {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// How stale an entry's mtime (the LRU clock of `gc`) may get before a
/// read refreshes it: refreshing on every read would cost a metadata write
/// per entry per build and change the metadata warm builds rely on
/// (`verified.rs`, the archive memo).
const TOUCH_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Refreshes the LRU clock of an entry that was just read, when it is stale.
fn touch(file: &fs::File) {
    let now = SystemTime::now();
    let fresh = file
        .metadata()
        .and_then(|m| m.modified())
        .map(|t| {
            now.duration_since(t)
                .map(|age| age < TOUCH_AFTER)
                .unwrap_or(true)
        })
        .unwrap_or(false);
    if !fresh {
        let _ = file.set_modified(now);
    }
}

/// Removes whatever is at `path` without following it: a directory with
/// its contents, anything else (a link, a FIFO, a file) by unlinking.
fn remove_any(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// How reading one cache file went.
enum ReadOutcome {
    /// Nothing there.
    Missing,
    /// The bytes of a regular file, and the open file (to touch it).
    Bytes(Vec<u8>, fs::File),
    /// Something that is not a regular file is there (already removed).
    Special(String),
    /// The file could not be read.
    Failed(std::io::Error),
}

/// Reads the regular file at `path` without following a link or blocking on
/// a FIFO; anything else there is removed and described.
fn read_regular(path: &Path) -> ReadOutcome {
    let described = |path: &Path, m: &fs::Metadata| {
        let what = describe_non_regular(path, m).unwrap_or_else(|| "not a regular file".into());
        let _ = remove_any(path);
        ReadOutcome::Special(what)
    };
    match fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() => return described(path, &m),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ReadOutcome::Missing,
        Err(e) => return ReadOutcome::Failed(e),
    }
    let mut file = match fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ReadOutcome::Missing,
        Err(e) => match fs::symlink_metadata(path) {
            // Swapped for something else since the first look (ELOOP, ...).
            Ok(m) if !m.is_file() => return described(path, &m),
            _ => return ReadOutcome::Failed(e),
        },
    };
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        Ok(m) => return described(path, &m),
        Err(e) => return ReadOutcome::Failed(e),
    }
    let mut bytes = Vec::new();
    match file.read_to_end(&mut bytes) {
        Ok(_) => ReadOutcome::Bytes(bytes, file),
        Err(e) => ReadOutcome::Failed(e),
    }
}

impl LocalStore {
    /// A store rooted at `root` (created lazily on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<section>/<first two hex digits>/<hex>`. A name is always 64
    /// hex digits (a digest read from JSON with anything else fails to
    /// parse), so no entry path can leave the cache folder.
    fn path_of(&self, section: Section, name: &Blake3Hash) -> PathBuf {
        let hex = name.hex();
        self.root.join(section.dir()).join(&hex[..2]).join(&*hex)
    }

    fn rel_name(section: Section, name: &Blake3Hash) -> String {
        let hex = name.hex();
        format!("{}/{}/{hex}", section.dir(), &hex[..2])
    }

    /// Writes an entry through a temporary file renamed into place. The
    /// fault's detail is the cause only (`Read-only file system (os error
    /// 30)`): the caller names the cache. A shard that is not a directory,
    /// or a directory where the entry belongs, is removed first: both are
    /// corrupt, and the fresh entry replaces them.
    fn write_atomic(
        &self,
        section: Section,
        name: &Blake3Hash,
        bytes: &[u8],
    ) -> Result<(), StoreFault> {
        let path = self.path_of(section, name);
        let io =
            |e: std::io::Error| StoreFault::new(FaultKind::Io, without_temp_path(e).to_string());
        let dir = path.parent().unwrap_or(&self.root);
        if fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir() && !m.file_type().is_symlink()) {
            let _ = remove_any(dir);
        }
        fs::create_dir_all(dir).map_err(io)?;
        // No fsync: every read verifies (a blob against its name, a result
        // against its checksum), so bytes a crash lost read as a corrupt
        // entry, dropped and rebuilt; syncing every entry cost cold builds
        // a disk flush per file.
        replace_via_temp(dir, &path, bytes, &CACHE_TEMP, io, || {
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                let _ = remove_any(&path);
            }
            Ok(())
        })
    }

    /// The bytes of an entry and its open file (for touching it), `None`
    /// if absent. Something other than a regular file there (or a shard
    /// that is not a directory) is removed and reported as corrupt.
    fn read_entry(
        &self,
        section: Section,
        name: &Blake3Hash,
    ) -> Result<Option<(Vec<u8>, fs::File)>, StoreFault> {
        let path = self.path_of(section, name);
        match read_regular(&path) {
            ReadOutcome::Missing => Ok(None),
            ReadOutcome::Bytes(bytes, file) => Ok(Some((bytes, file))),
            ReadOutcome::Special(what) => Err(self.corrupt(section, name, &what)),
            ReadOutcome::Failed(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                // The shard or the section is a file, a FIFO, ...: it is
                // dropped (everything under it is lost anyway). Above the
                // cache root nothing is ours to remove: a miss, and writes
                // will say why they fail.
                let shard = path.parent().unwrap_or(&self.root);
                let section_dir = self.root.join(section.dir());
                for (dir, rel) in [
                    (section_dir.as_path(), section.dir().to_string()),
                    (shard, format!("{}/{}", section.dir(), &name.hex()[..2])),
                ] {
                    if let Ok(m) = fs::symlink_metadata(dir) {
                        // A link to a directory is a directory here.
                        if !dir.is_dir() {
                            let what = describe_non_regular(dir, &m)
                                .unwrap_or_else(|| "a regular file".into());
                            let _ = remove_any(dir);
                            return Err(StoreFault::new(
                                FaultKind::Corrupt,
                                format!(
                                    "{rel} ({what} instead of a directory) in {}",
                                    self.root.display()
                                ),
                            ));
                        }
                    }
                }
                Ok(None)
            }
            ReadOutcome::Failed(e) => Err(StoreFault::new(
                FaultKind::Io,
                format!("cannot read cache entry {}: {e}", path.display()),
            )),
        }
    }

    fn corrupt(&self, section: Section, name: &Blake3Hash, what: &str) -> StoreFault {
        StoreFault::new(
            FaultKind::Corrupt,
            format!(
                "{} ({what}) in {}",
                Self::rel_name(section, name),
                self.root.display()
            ),
        )
    }

    fn drop_corrupt(&self, section: Section, name: &Blake3Hash) -> StoreFault {
        let _ = remove_any(&self.path_of(section, name));
        StoreFault::new(
            FaultKind::Corrupt,
            format!(
                "{} in {}",
                Self::rel_name(section, name),
                self.root.display()
            ),
        )
    }

    /// Where the blob `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.path_of(Section::Cas, &digest.hash)
    }

    /// True when a blob file exists (not verified; for skipping rewrites).
    /// A link, FIFO or directory there is not a blob.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        fs::symlink_metadata(self.path_of(Section::Cas, &digest.hash)).is_ok_and(|m| m.is_file())
    }
}

impl Store for LocalStore {
    fn get_blob(&self, digest: &Digest) -> Fetch<Vec<u8>> {
        match self.read_entry(Section::Cas, &digest.hash) {
            Ok(None) => Fetch::Miss,
            Ok(Some((bytes, file))) => {
                if digest.matches(&bytes) {
                    touch(&file);
                    Fetch::Hit(bytes)
                } else {
                    Fetch::Fault(self.drop_corrupt(Section::Cas, &digest.hash))
                }
            }
            Err(f) => Fetch::Fault(f),
        }
    }

    fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<Put, StoreFault> {
        // A blob already there with exactly these bytes is not written again
        // (reading is cheaper than writing); a damaged one is replaced.
        let path = self.path_of(Section::Cas, &digest.hash);
        let same_size = fs::symlink_metadata(&path)
            .is_ok_and(|m| m.file_type().is_file() && m.len() == digest.size);
        if same_size {
            if let ReadOutcome::Bytes(existing, _) = read_regular(&path) {
                if existing == bytes {
                    return Ok(Put::Stored);
                }
            }
        }
        self.write_atomic(Section::Cas, &digest.hash, bytes)?;
        Ok(Put::Stored)
    }

    fn get_result(&self, key: &ActionKey) -> Fetch<ActionResult> {
        match self.read_entry(Section::Ac, key.hash()) {
            Ok(None) => Fetch::Miss,
            Ok(Some((bytes, file))) => match unframe_result(&bytes) {
                Some(r) => {
                    touch(&file);
                    Fetch::Hit(r)
                }
                None => Fetch::Fault(self.drop_corrupt(Section::Ac, key.hash())),
            },
            Err(f) => Fetch::Fault(f),
        }
    }

    fn put_result(&self, key: &ActionKey, result: &ActionResult) -> Result<Put, StoreFault> {
        self.write_atomic(Section::Ac, key.hash(), &frame_result(result))?;
        Ok(Put::Stored)
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn blob_round_trip_and_corruption_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path());
        let d = Digest::of(b"abc");
        s.put_blob(&d, b"abc").unwrap();
        assert_eq!(s.get_blob(&d), Fetch::Hit(b"abc".to_vec()));
        let p = s.path_of(Section::Cas, &d.hash);
        fs::write(&p, b"abd").unwrap();
        assert!(matches!(s.get_blob(&d), Fetch::Fault(f) if f.kind == FaultKind::Corrupt));
        assert!(!p.exists());
        assert_eq!(s.get_blob(&d), Fetch::Miss);
    }

    #[test]
    fn result_round_trip_and_tamper_detected() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path());
        let key = ActionKey::from_hex(&"a".repeat(64)).unwrap();
        let r = ActionResult {
            outputs: BTreeMap::from([("o".to_string(), Digest::of(b"x"))]),
            exit_code: 0,
            stdout: Digest::of(b""),
            stderr: Digest::of(b""),
        };
        s.put_result(&key, &r).unwrap();
        assert_eq!(s.get_result(&key), Fetch::Hit(r));
        let p = s.path_of(Section::Ac, key.hash());
        let mut b = fs::read(&p).unwrap();
        let n = b.len();
        b[n - 3] ^= 1;
        fs::write(&p, b).unwrap();
        assert!(matches!(s.get_result(&key), Fetch::Fault(_)));
    }

    pub(super) fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn result_of(d: &Digest) -> ActionResult {
        ActionResult {
            outputs: BTreeMap::from([("o".to_string(), d.clone())]),
            exit_code: 0,
            stdout: Digest::of(b""),
            stderr: Digest::of(b""),
        }
    }

    #[test]
    fn a_fifo_a_directory_or_a_link_in_place_of_an_entry_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path());
        let outside = dir.path().join("outside");
        fs::write(&outside, b"abc").unwrap();
        let d = Digest::of(b"abc");
        let key = ActionKey::from_hex(&"b".repeat(64)).unwrap();
        let blob = s.path_of(Section::Cas, &d.hash);
        let result = s.path_of(Section::Ac, key.hash());
        fs::create_dir_all(blob.parent().unwrap()).unwrap();
        fs::create_dir_all(result.parent().unwrap()).unwrap();
        type Make = fn(&Path, &Path);
        let makers: [(&str, Make); 3] = [
            ("a FIFO (named pipe)", |p, _| mkfifo(p)),
            ("a directory", |p, _| {
                fs::create_dir_all(p.join("sub")).unwrap();
                fs::write(p.join("sub/f"), b"x").unwrap();
            }),
            ("a symbolic link", |p, to| {
                std::os::unix::fs::symlink(to, p).unwrap()
            }),
        ];
        for (what, make) in makers {
            make(&blob, &outside);
            make(&result, &outside);
            let Fetch::Fault(f) = s.get_blob(&d) else {
                panic!("{what}: blob not a fault")
            };
            assert_eq!(f.kind, FaultKind::Corrupt);
            assert!(f.detail.contains(what), "{}", f.detail);
            assert!(fs::symlink_metadata(&blob).is_err(), "{what} left");
            let Fetch::Fault(f) = s.get_result(&key) else {
                panic!("{what}: result not a fault")
            };
            assert!(f.detail.contains(what), "{}", f.detail);
            assert!(fs::symlink_metadata(&result).is_err(), "{what} left");
            // The link's target is untouched; the entry is written again.
            assert_eq!(fs::read(&outside).unwrap(), b"abc");
            s.put_blob(&d, b"abc").unwrap();
            assert_eq!(s.get_blob(&d), Fetch::Hit(b"abc".to_vec()));
            fs::remove_file(&blob).unwrap();
        }
        // A directory where a blob is written is replaced by the blob.
        fs::create_dir_all(blob.join("x")).unwrap();
        assert!(!s.has_blob(&d));
        s.put_blob(&d, b"abc").unwrap();
        assert!(s.has_blob(&d));
        s.put_result(&key, &result_of(&d)).unwrap();
    }

    #[test]
    fn a_shard_that_is_not_a_directory_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path());
        let d = Digest::of(b"abc");
        let shard = s
            .path_of(Section::Cas, &d.hash)
            .parent()
            .unwrap()
            .to_path_buf();
        fs::create_dir_all(shard.parent().unwrap()).unwrap();
        mkfifo(&shard);
        let Fetch::Fault(f) = s.get_blob(&d) else {
            panic!("not a fault")
        };
        assert!(f.detail.contains("instead of a directory"), "{}", f.detail);
        assert!(fs::symlink_metadata(&shard).is_err());
        mkfifo(&shard);
        s.put_blob(&d, b"abc").unwrap();
        assert_eq!(s.get_blob(&d), Fetch::Hit(b"abc".to_vec()));
        // A section that is not a directory: dropped on read, listed by verify.
        let ac = dir.path().join("ac");
        fs::write(&ac, b"").unwrap();
        let key = ActionKey::from_hex(&"a".repeat(64)).unwrap();
        let Fetch::Fault(f) = s.get_result(&key) else {
            panic!("not a fault")
        };
        assert!(
            f.detail.starts_with("ac (a regular file instead"),
            "{}",
            f.detail
        );
        mkfifo(&ac);
        let shard2 = dir.path().join("cas/ff");
        fs::write(&shard2, b"").unwrap();
        assert_eq!(
            s.verify().unwrap().removed,
            [
                "cas/ff (a regular file instead of a directory)",
                "ac (a FIFO (named pipe) instead of a directory)"
            ]
        );
        assert!(s.verify().unwrap().removed.is_empty());
    }
}
