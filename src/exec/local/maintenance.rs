//! Looking after the local cache (`coex cache stats | verify | gc`):
//! listing what is on disk, checking it, and evicting the least recently
//! used entries. Reading and writing entries is in `mod.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{
    read_regular, remove_any, unframe_result, CacheError, LocalStore, ReadOutcome, Section,
    TMP_PREFIX,
};
use crate::atomic_file::describe_non_regular;
use crate::exec::digest::Blake3Hash;

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
    /// Why this is not a usable entry although it sits where one belongs
    /// (`a FIFO (named pipe)`, `a directory`); `None` for a regular file.
    pub problem: Option<String>,
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

fn entry_of(section: Section, path: &Path, meta: &fs::Metadata, problem: Option<String>) -> Entry {
    Entry {
        section,
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_path_buf(),
        size: meta.len(),
        last_used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        problem,
    }
}

/// A failed read of cache folder `path` during a walk, as [`CacheError::Io`].
fn walk_error(path: &Path, source: std::io::Error) -> CacheError {
    CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The entry for a section or shard folder found as something else (a file,
/// a FIFO, a bad link): both levels of the walk report it the same way.
fn not_a_directory(section: Section, path: &Path, meta: &fs::Metadata) -> Entry {
    let what = describe_non_regular(path, meta).unwrap_or_else(|| "a regular file".into());
    entry_of(
        section,
        path,
        meta,
        Some(format!("{what} instead of a directory")),
    )
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

impl LocalStore {
    /// Every entry of both sections, sorted by (section, name), including
    /// what is not a regular file (with its [`Entry::problem`]) and shards
    /// that are not directories (an entry named after the shard).
    pub fn entries(&self) -> Result<Vec<Entry>, CacheError> {
        let mut out = Vec::new();
        for section in [Section::Cas, Section::Ac] {
            let sdir = self.root.join(section.dir());
            let shards = match fs::read_dir(&sdir) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    // `cas` or `ac` itself is a file, a FIFO, a bad link.
                    if let (Ok(m), false) = (fs::symlink_metadata(&sdir), sdir.is_dir()) {
                        out.push(not_a_directory(section, &sdir, &m));
                        continue;
                    }
                    return Err(walk_error(&sdir, e));
                }
            };
            for shard in shards {
                let shard = shard.map_err(|e| walk_error(&sdir, e))?;
                let spath = shard.path();
                // A link to a directory is followed (the cache's folders may
                // be links); anything else is a shard gone bad.
                match fs::metadata(&spath) {
                    Ok(m) if m.is_dir() => {}
                    _ => {
                        if let Ok(m) = fs::symlink_metadata(&spath) {
                            out.push(not_a_directory(section, &spath, &m));
                        }
                        continue;
                    }
                }
                let files = fs::read_dir(&spath).map_err(|e| walk_error(&spath, e))?;
                for f in files {
                    let f = f.map_err(|e| walk_error(&spath, e))?;
                    let path = f.path();
                    // Never following a link: its own metadata.
                    let Ok(meta) = fs::symlink_metadata(&path) else {
                        continue;
                    };
                    let problem = describe_non_regular(&path, &meta);
                    out.push(entry_of(section, &path, &meta, problem));
                }
            }
        }
        out.sort_by(|a, b| (a.section, &a.name).cmp(&(b.section, &b.name)));
        Ok(out)
    }

    /// Entry counts and byte totals (regular files only).
    pub fn stats(&self) -> Result<CacheStats, CacheError> {
        let mut s = CacheStats::default();
        for e in self.entries()? {
            if e.name.starts_with(TMP_PREFIX) || e.problem.is_some() {
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

    /// The section-relative name of an entry: `cas/ab/abcdef…`.
    fn rel_of(&self, e: &Entry) -> String {
        match e.path.strip_prefix(self.root.join(e.section.dir())) {
            Ok(rel) if !rel.as_os_str().is_empty() => {
                format!("{}/{}", e.section.dir(), rel.display())
            }
            Ok(_) => e.section.dir().to_string(),
            Err(_) => e.path.display().to_string(),
        }
    }

    /// Checks every entry; removes the bad ones (wrong name, wrong bytes,
    /// unreadable result, not a regular file — a link is removed, never
    /// followed) and lists them, with the reason for those that are not
    /// files. The remembered tool identities (`memo/`) are checked too.
    pub fn verify(&self) -> Result<VerifyReport, CacheError> {
        let mut rep = VerifyReport::default();
        for e in self.entries()? {
            if e.name.starts_with(TMP_PREFIX) && e.problem.is_none() {
                continue;
            }
            rep.checked += 1;
            if let Some(problem) = &e.problem {
                let _ = remove_any(&e.path);
                rep.removed.push(format!("{} ({problem})", self.rel_of(&e)));
                continue;
            }
            // A name that is not 64 lowercase hex digits is no entry of ours.
            let ok =
                Blake3Hash::from_hex(&e.name).is_some_and(|name| match read_regular(&e.path) {
                    ReadOutcome::Bytes(bytes, _) => match e.section {
                        Section::Cas => Blake3Hash::of(&bytes) == name,
                        Section::Ac => unframe_result(&bytes).is_some(),
                    },
                    _ => false,
                });
            if !ok {
                let _ = remove_any(&e.path);
                rep.removed.push(self.rel_of(&e));
            }
        }
        self.verify_memo(&mut rep)?;
        Ok(rep)
    }

    /// `memo/*.json`: regular files holding JSON, else removed.
    fn verify_memo(&self, rep: &mut VerifyReport) -> Result<(), CacheError> {
        let dir = self.root.join("memo");
        let list = match fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                // `memo` itself is a file, FIFO or link: drop it whole.
                if let Ok(m) = fs::symlink_metadata(&dir) {
                    if !m.is_dir() {
                        let what = describe_non_regular(&dir, &m)
                            .unwrap_or_else(|| "a regular file".into());
                        let _ = remove_any(&dir);
                        rep.checked += 1;
                        rep.removed
                            .push(format!("memo ({what} instead of a directory)"));
                        return Ok(());
                    }
                }
                return Err(walk_error(&dir, e));
            }
        };
        drop(list);
        self.verify_memo_dir(&dir, "memo", rep);
        Ok(())
    }

    /// One folder of `memo/` (the memos of `plan::`, `toolchain::` and `exec::` keep
    /// sub-folders: `verified/ab/`, `remote/ab/`, `archives/`, `outputs/`, `images-ok/`):
    /// folders are walked, files must be regular and hold JSON (the
    /// markers of `images-ok/` are empty), anything else is removed.
    fn verify_memo_dir(&self, dir: &Path, rel: &str, rep: &mut VerifyReport) {
        let Ok(list) = fs::read_dir(dir) else { return };
        let mut names: Vec<PathBuf> = list.flatten().map(|e| e.path()).collect();
        names.sort();
        let markers = rel.ends_with("images-ok");
        for path in names {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue; // a store in progress
            }
            // Folders only where the memos keep them; any other folder is
            // a bad entry like a FIFO or a link.
            let folder_here = match rel {
                "memo" => ["verified", "remote", "archives", "outputs", "images-ok"]
                    .contains(&name.as_str()),
                "memo/verified" | "memo/remote" => name.len() == 2,
                _ => false,
            };
            if folder_here && fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                self.verify_memo_dir(&path, &format!("{rel}/{name}"), rep);
                continue;
            }
            rep.checked += 1;
            let problem = match read_regular(&path) {
                ReadOutcome::Bytes(bytes, _) => {
                    if markers || serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
                        continue;
                    }
                    None
                }
                ReadOutcome::Special(what) => Some(what),
                ReadOutcome::Missing => continue,
                ReadOutcome::Failed(_) => None,
            };
            let _ = remove_any(&path);
            rep.removed.push(match problem {
                Some(what) => format!("{rel}/{name} ({what})"),
                None => format!("{rel}/{name}"),
            });
        }
    }

    /// Drops memo files about entries that are gone: the verified-blob memo
    /// and the remote-held memo of an action result no longer cached
    /// (`memo/verified/ab/KEY.json`, `memo/remote/ab/KEY.json`),
    /// the checked-image marker of a blob no longer cached
    /// (`memo/images-ok/HASH`). Without this they would only ever grow.
    fn prune_memos(&self) {
        let memo = self.root.join("memo");
        let files_in = |dir: &Path| -> Vec<PathBuf> {
            fs::read_dir(dir)
                .map(|r| r.flatten().map(|e| e.path()).collect())
                .unwrap_or_default()
        };
        let shards = files_in(&memo.join("verified"))
            .into_iter()
            .chain(files_in(&memo.join("remote")));
        for shard in shards {
            for f in files_in(&shard) {
                let key = f
                    .file_stem()
                    .and_then(|s| Blake3Hash::from_hex(s.to_str()?));
                if let Some(key) = key {
                    if fs::symlink_metadata(self.path_of(Section::Ac, &key)).is_err() {
                        let _ = fs::remove_file(&f);
                    }
                }
            }
        }
        for f in files_in(&memo.join("images-ok")) {
            let hash = f
                .file_name()
                .and_then(|s| Blake3Hash::from_hex(s.to_str()?));
            if let Some(hash) = hash {
                if fs::symlink_metadata(self.path_of(Section::Cas, &hash)).is_err() {
                    let _ = fs::remove_file(&f);
                }
            }
        }
    }

    /// Deletes least recently used entries until the cache holds at most
    /// `max_bytes`; also sweeps temporary files left by killed processes and
    /// anything that is not a regular file where an entry belongs.
    pub fn gc(&self, max_bytes: u64) -> Result<GcReport, CacheError> {
        let mut entries = self.entries()?;
        let mut rep = GcReport::default();
        let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        entries.retain(|e| {
            if e.problem.is_some() {
                // Not a file (a FIFO, a link, a directory): corrupt, dropped.
                if remove_any(&e.path).is_ok() {
                    rep.removed += 1;
                }
                return false;
            }
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
        self.prune_memos();
        Ok(rep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::mkfifo;
    use super::*;
    use crate::exec::action::{ActionKey, ActionResult};
    use crate::exec::digest::Digest;
    use crate::exec::store::{Fetch, Store};
    use std::collections::BTreeMap;

    /// The hash spelt by 64 times `digit`.
    fn hash_of(digit: &str) -> Blake3Hash {
        Blake3Hash::from_hex(&digit.repeat(64)).unwrap()
    }

    #[test]
    fn verify_reports_and_removes_what_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path());
        let good = Digest::of(b"good");
        s.put_blob(&good, b"good").unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();
        let fifo = s.path_of(Section::Cas, &hash_of("c"));
        let sub = s.path_of(Section::Ac, &hash_of("d"));
        let link = s.path_of(Section::Ac, &hash_of("e"));
        fs::create_dir_all(fifo.parent().unwrap()).unwrap();
        fs::create_dir_all(sub.join("x")).unwrap();
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        mkfifo(&fifo);
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let memo = dir.path().join("memo");
        fs::create_dir_all(&memo).unwrap();
        mkfifo(&memo.join("clang-1.json"));
        fs::write(memo.join("coex-2.json"), b"{}").unwrap();
        fs::write(memo.join("coex-3.json"), b"{not json").unwrap();
        assert_eq!(s.stats().unwrap().cas_entries, 1);
        let rep = s.verify().unwrap();
        let c = "c".repeat(64);
        let e = "e".repeat(64);
        assert_eq!(
            rep.removed,
            [
                format!("cas/cc/{c} (a FIFO (named pipe))"),
                format!("ac/dd/{} (a directory)", "d".repeat(64)),
                format!("ac/ee/{e} (a symbolic link (to {}))", outside.display()),
                "memo/clang-1.json (a FIFO (named pipe))".to_string(),
                "memo/coex-3.json".to_string(),
            ]
        );
        assert_eq!(rep.checked, 7);
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        let again = s.verify().unwrap();
        assert!(again.removed.is_empty(), "{:?}", again.removed);
        assert_eq!(again.checked, 2);
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
    fn gc_drops_memos_of_entries_that_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path());
        let key = ActionKey::from_hex(&"c".repeat(64)).unwrap();
        let r = ActionResult {
            outputs: BTreeMap::new(),
            exit_code: 0,
            stdout: Digest::of(b""),
            stderr: Digest::of(b""),
        };
        s.put_result(&key, &r).unwrap();
        let verified = dir.path().join("memo/verified/cc");
        fs::create_dir_all(&verified).unwrap();
        fs::write(verified.join(format!("{key}.json")), "{}").unwrap();
        let gone = verified.join(format!("{}.json", "d".repeat(64)));
        fs::write(&gone, "{}").unwrap();
        let images = dir.path().join("memo/images-ok");
        fs::create_dir_all(&images).unwrap();
        fs::write(images.join("e".repeat(64)), "").unwrap();
        // Wire names of remote-held blobs: kept with their result, and
        // `verify` takes their folder for a memo's.
        let remote = dir.path().join("memo/remote/cc");
        fs::create_dir_all(&remote).unwrap();
        fs::write(remote.join(format!("{key}.json")), "{}").unwrap();
        let remote_gone = remote.join(format!("{}.json", "d".repeat(64)));
        fs::write(&remote_gone, "{}").unwrap();
        assert!(s.verify().unwrap().removed.is_empty());
        s.gc(u64::MAX).unwrap();
        assert!(verified.join(format!("{key}.json")).exists());
        assert!(!gone.exists());
        assert!(!images.join("e".repeat(64)).exists());
        assert!(remote.join(format!("{key}.json")).exists());
        assert!(!remote_gone.exists());
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
