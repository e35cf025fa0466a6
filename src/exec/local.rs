//! The local disk cache: `cas/ab/<blake3>` blobs and `ac/ab/<key>` results.
//!
//! Writes go to a temporary file in the target directory and are renamed into
//! place, so readers (in this or another process) see either nothing or a
//! complete entry, and no lock is needed. Every read is verified; a bad entry
//! is deleted and reported as a [`Fetch::Fault`] so the action simply re-runs.
//! A read touches the entry's mtime, which is the LRU clock of `gc`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::action::{ActionKey, ActionResult};
use super::digest::{is_hex64, Digest};
use super::store::{FaultKind, Fetch, Put, Store, StoreFault};

/// Prefix of in-flight temporary files (ignored by stats/verify, swept by gc).
const TMP_PREFIX: &str = ".tmp-";

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

/// One entry found on disk.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its section.
    pub section: Section,
    /// Its name (hex).
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Last use (mtime).
    pub last_used: SystemTime,
}

/// Counts and sizes per section, for `coex cache stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Number of blobs.
    pub cas_entries: u64,
    /// Bytes of blobs.
    pub cas_bytes: u64,
    /// Number of action results.
    pub ac_entries: u64,
    /// Bytes of action results.
    pub ac_bytes: u64,
}

/// What `verify` found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Entries checked.
    pub checked: u64,
    /// Entries found bad and removed (relative names like `cas/ab/…`).
    pub removed: Vec<String>,
}

/// What `gc` did.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    /// Entries removed.
    pub removed: u64,
    /// Bytes freed.
    pub freed: u64,
    /// Bytes left.
    pub remaining: u64,
}

/// Parses `100M`, `2G`, `512K`, `1000` (bytes; K/M/G are powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, CacheError> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'B' => 1,
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(CacheError::BadSize(s.to_string())),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| CacheError::BadSize(s.to_string()))?;
    n.checked_mul(mult)
        .ok_or_else(|| CacheError::BadSize(s.to_string()))
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

fn touch(path: &Path) {
    let now = SystemTime::now();
    let fresh = fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| {
            now.duration_since(t)
                .map(|age| age < TOUCH_AFTER)
                .unwrap_or(true)
        })
        .unwrap_or(false);
    if fresh {
        return;
    }
    if let Ok(f) = fs::File::options().write(true).open(path) {
        let _ = f.set_modified(now);
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

    fn path_of(&self, section: Section, name: &str) -> PathBuf {
        let shard = name.get(..2).unwrap_or("xx");
        self.root.join(section.dir()).join(shard).join(name)
    }

    fn rel_name(section: Section, name: &str) -> String {
        format!(
            "{}/{}/{}",
            section.dir(),
            name.get(..2).unwrap_or("xx"),
            name
        )
    }

    fn write_atomic(&self, section: Section, name: &str, bytes: &[u8]) -> Result<(), StoreFault> {
        let path = self.path_of(section, name);
        let io = |e: std::io::Error| {
            StoreFault::new(
                FaultKind::Io,
                format!("cannot write cache entry {}: {e}", path.display()),
            )
        };
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(io)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(dir)
            .map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        tmp.as_file().sync_data().map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(())
    }

    fn read_entry(&self, section: Section, name: &str) -> Result<Option<Vec<u8>>, StoreFault> {
        let path = self.path_of(section, name);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreFault::new(
                FaultKind::Io,
                format!("cannot read cache entry {}: {e}", path.display()),
            )),
        }
    }

    fn drop_corrupt(&self, section: Section, name: &str) -> StoreFault {
        let _ = fs::remove_file(self.path_of(section, name));
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
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.path_of(Section::Cas, &digest.hash).is_file()
    }

    /// Every entry of both sections, sorted by (section, name).
    pub fn entries(&self) -> Result<Vec<Entry>, CacheError> {
        let mut out = Vec::new();
        for section in [Section::Cas, Section::Ac] {
            let sdir = self.root.join(section.dir());
            let shards = match fs::read_dir(&sdir) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(CacheError::Io {
                        path: sdir,
                        source: e,
                    })
                }
            };
            for shard in shards {
                let shard = shard.map_err(|e| CacheError::Io {
                    path: sdir.clone(),
                    source: e,
                })?;
                let spath = shard.path();
                if !spath.is_dir() {
                    continue;
                }
                let files = fs::read_dir(&spath).map_err(|e| CacheError::Io {
                    path: spath.clone(),
                    source: e,
                })?;
                for f in files {
                    let f = f.map_err(|e| CacheError::Io {
                        path: spath.clone(),
                        source: e,
                    })?;
                    let name = f.file_name().to_string_lossy().into_owned();
                    let Ok(meta) = f.metadata() else { continue };
                    if !meta.is_file() {
                        continue;
                    }
                    out.push(Entry {
                        section,
                        name,
                        path: f.path(),
                        size: meta.len(),
                        last_used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    });
                }
            }
        }
        out.sort_by(|a, b| (a.section, &a.name).cmp(&(b.section, &b.name)));
        Ok(out)
    }

    /// Entry counts and byte totals.
    pub fn stats(&self) -> Result<CacheStats, CacheError> {
        let mut s = CacheStats::default();
        for e in self.entries()? {
            if e.name.starts_with(TMP_PREFIX) {
                continue;
            }
            match e.section {
                Section::Cas => {
                    s.cas_entries += 1;
                    s.cas_bytes += e.size;
                }
                Section::Ac => {
                    s.ac_entries += 1;
                    s.ac_bytes += e.size;
                }
            }
        }
        Ok(s)
    }

    /// Checks every entry; removes the bad ones (wrong name, wrong bytes,
    /// unreadable result) and lists them.
    pub fn verify(&self) -> Result<VerifyReport, CacheError> {
        let mut rep = VerifyReport::default();
        for e in self.entries()? {
            if e.name.starts_with(TMP_PREFIX) {
                continue;
            }
            rep.checked += 1;
            let ok = is_hex64(&e.name)
                && match fs::read(&e.path) {
                    Ok(bytes) => match e.section {
                        Section::Cas => blake3::hash(&bytes).to_hex().as_str() == e.name,
                        Section::Ac => unframe_result(&bytes).is_some(),
                    },
                    Err(_) => false,
                };
            if !ok {
                let _ = fs::remove_file(&e.path);
                rep.removed.push(format!(
                    "{}/{}",
                    e.section.dir(),
                    e.path
                        .strip_prefix(self.root.join(e.section.dir()))
                        .unwrap_or(&e.path)
                        .display()
                ));
            }
        }
        Ok(rep)
    }

    /// Deletes least recently used entries until the cache holds at most
    /// `max_bytes`; also sweeps temporary files left by killed processes.
    pub fn gc(&self, max_bytes: u64) -> Result<GcReport, CacheError> {
        let mut entries = self.entries()?;
        let mut rep = GcReport::default();
        let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        entries.retain(|e| {
            if e.name.starts_with(TMP_PREFIX) {
                if e.last_used < hour_ago && fs::remove_file(&e.path).is_ok() {
                    rep.removed += 1;
                    rep.freed += e.size;
                }
                return false;
            }
            true
        });
        entries.sort_by(|a, b| (a.last_used, &a.name).cmp(&(b.last_used, &b.name)));
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        for e in &entries {
            if total <= max_bytes {
                break;
            }
            if fs::remove_file(&e.path).is_ok() {
                rep.removed += 1;
                rep.freed += e.size;
                total -= e.size;
            }
        }
        rep.remaining = total;
        Ok(rep)
    }
}

impl Store for LocalStore {
    fn get_blob(&self, digest: &Digest) -> Fetch<Vec<u8>> {
        if !is_hex64(&digest.hash) {
            return Fetch::Miss;
        }
        match self.read_entry(Section::Cas, &digest.hash) {
            Ok(None) => Fetch::Miss,
            Ok(Some(bytes)) => {
                if digest.matches(&bytes) {
                    touch(&self.path_of(Section::Cas, &digest.hash));
                    Fetch::Hit(bytes)
                } else {
                    Fetch::Fault(self.drop_corrupt(Section::Cas, &digest.hash))
                }
            }
            Err(f) => Fetch::Fault(f),
        }
    }

    fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<Put, StoreFault> {
        self.write_atomic(Section::Cas, &digest.hash, bytes)?;
        Ok(Put::Stored)
    }

    fn get_result(&self, key: &ActionKey) -> Fetch<ActionResult> {
        if !is_hex64(&key.0) {
            return Fetch::Miss;
        }
        match self.read_entry(Section::Ac, &key.0) {
            Ok(None) => Fetch::Miss,
            Ok(Some(bytes)) => match unframe_result(&bytes) {
                Some(r) => {
                    touch(&self.path_of(Section::Ac, &key.0));
                    Fetch::Hit(r)
                }
                None => Fetch::Fault(self.drop_corrupt(Section::Ac, &key.0)),
            },
            Err(f) => Fetch::Fault(f),
        }
    }

    fn put_result(&self, key: &ActionKey, result: &ActionResult) -> Result<Put, StoreFault> {
        self.write_atomic(Section::Ac, &key.0, &frame_result(result))?;
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
        let key = ActionKey("a".repeat(64));
        let r = ActionResult {
            outputs: BTreeMap::from([("o".to_string(), Digest::of(b"x"))]),
            exit_code: 0,
            stdout: Digest::of(b""),
            stderr: Digest::of(b""),
        };
        s.put_result(&key, &r).unwrap();
        assert_eq!(s.get_result(&key), Fetch::Hit(r));
        let p = s.path_of(Section::Ac, &key.0);
        let mut b = fs::read(&p).unwrap();
        let n = b.len();
        b[n - 3] ^= 1;
        fs::write(&p, b).unwrap();
        assert!(matches!(s.get_result(&key), Fetch::Fault(_)));
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("100M").unwrap(), 100 << 20);
        assert_eq!(parse_size("7").unwrap(), 7);
        assert_eq!(parse_size("2k").unwrap(), 2048);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5X").is_err());
    }

    #[test]
    fn gc_removes_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path());
        let old = vec![1u8; 1000];
        let new = vec![2u8; 1000];
        let (dold, dnew) = (Digest::of(&old), Digest::of(&new));
        s.put_blob(&dold, &old).unwrap();
        s.put_blob(&dnew, &new).unwrap();
        let f = fs::File::options()
            .write(true)
            .open(s.path_of(Section::Cas, &dold.hash))
            .unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000))
            .unwrap();
        let rep = s.gc(1500).unwrap();
        assert_eq!(rep.removed, 1);
        assert_eq!(s.get_blob(&dold), Fetch::Miss);
        assert!(matches!(s.get_blob(&dnew), Fetch::Hit(_)));
    }
}
