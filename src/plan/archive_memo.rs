//! Archives opened before, remembered by file metadata, so a warm build of
//! a program importing a large library neither inflates nor hashes it again.
//!
//! Opening a `.cxz` means inflating every entry, validating it (§6) and
//! hashing the content: for a library with a 9 MB C file that alone took
//! longer than the rest of a no-op build. After a full open, each file is
//! put in the local CAS (where the build's actions read it anyway) and an
//! entry `<cache>/memo/archives/<hash of path>.json` records the archive's
//! metadata (size, times in nanoseconds, inode, device), its content digest
//! and, per file, its digest and the metadata of its CAS blob. The next
//! open of an archive with the same metadata reads the files straight from
//! those blobs (whose metadata must also be unchanged: any write to a blob
//! brings back the full open) and only parses the manifest again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::cxz::{CxzArchive, CxzError, FFI_SRC};
use crate::exec::file_digests::StatKey;
use crate::exec::local::{read_cache_file, write_cache_file, LocalStore};
use crate::exec::store::Store;
use crate::exec::Digest;
use crate::ffi_build::host_paths::scan;

const FORMAT: &str = "coex-archive-memo-v2";

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    format: String,
    path: PathBuf,
    stat: StatKey,
    digest: String,
    /// Per file: its digest, its CAS blob's metadata, and whether it is
    /// held by digest only (`CxzArchive::stored`): C files and headers
    /// that name no host path, whose bytes only a running action needs.
    files: BTreeMap<String, (Digest, StatKey, bool)>,
}

/// Opens `path` through the memo of the cache at `cache_dir` (a full,
/// validating open when there is no usable entry; the entry is then made).
pub fn open(path: &Path, cache_dir: Option<&Path>) -> Result<CxzArchive, CxzError> {
    let Some(cache) = cache_dir else {
        return CxzArchive::open(path);
    };
    let store = LocalStore::new(cache);
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let entry_file = cache.join("memo").join("archives").join(format!(
        "{}.json",
        &blake3::hash(real.as_os_str().as_encoded_bytes()).to_hex()[..32]
    ));
    let before = stat(&real);
    if let Some(archive) = before
        .as_ref()
        .and_then(|s| remembered(&entry_file, &real, s, &store, path))
    {
        return Ok(archive);
    }
    let archive = CxzArchive::open(path)?;
    // Remember only an archive that did not change while it was read and
    // is not so new that a second write could keep its metadata.
    if let Some(s) = before.filter(|s| Some(s) == stat(&real).as_ref()) {
        if !s.changed_since(SystemTime::now() - Duration::from_secs(2)) {
            remember(&entry_file, &real, s, &archive, &store);
        }
    }
    Ok(archive)
}

fn stat(path: &Path) -> Option<StatKey> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| StatKey::of(&m))
}

fn remembered(
    entry_file: &Path,
    real: &Path,
    now: &StatKey,
    store: &LocalStore,
    display: &Path,
) -> Option<CxzArchive> {
    let entry: Entry = serde_json::from_slice(&read_cache_file(entry_file)?).ok()?;
    if entry.format != FORMAT || entry.path != real || &entry.stat != now {
        return None;
    }
    let mut files = BTreeMap::new();
    let mut stored = BTreeMap::new();
    for (name, (digest, blob_stat, by_digest)) in &entry.files {
        let blob = store.blob_path(digest);
        // Recorded after the blob was written whole: an equal key (size
        // included) means the same bytes.
        if StatKey::of_regular(&blob).as_ref() != Some(blob_stat) {
            return None;
        }
        if *by_digest {
            files.insert(name.clone(), Vec::new());
            stored.insert(name.clone(), digest.clone());
        } else {
            files.insert(name.clone(), std::fs::read(&blob).ok()?);
        }
    }
    CxzArchive::from_validated(files, stored, entry.digest, &display.display().to_string()).ok()
}

fn remember(
    entry_file: &Path,
    real: &Path,
    stat: StatKey,
    archive: &CxzArchive,
    store: &LocalStore,
) {
    let mut files = BTreeMap::new();
    for (name, bytes) in &archive.files {
        let digest = Digest::of(bytes);
        let blob = store.blob_path(&digest);
        // put_blob keeps a blob holding these bytes and replaces a damaged
        // one, so the metadata remembered below is that of good bytes.
        if store.put_blob(&digest, bytes).is_err() {
            return;
        }
        let Some(blob_stat) = StatKey::of_regular(&blob) else {
            return;
        };
        let by_digest = name
            .strip_prefix(FFI_SRC)
            .is_some_and(|rel| scan(rel, bytes).is_none());
        files.insert(name.clone(), (digest, blob_stat, by_digest));
    }
    let entry = Entry {
        format: FORMAT.to_string(),
        path: real.to_path_buf(),
        stat,
        digest: archive.digest.clone(),
        files,
    };
    write_cache_file(entry_file, &entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_library(dir: &Path, c: &str) -> PathBuf {
        let lib = dir.join("lib");
        std::fs::create_dir_all(lib.join("src")).unwrap();
        std::fs::create_dir_all(lib.join("ffi/src")).unwrap();
        std::fs::write(
            lib.join("manifest.toml"),
            "[library]\nname = \"m\"\nversion = \"1.0.0\"\n\n[ffi.u]\nsource = [\"a.c\"]\n",
        )
        .unwrap();
        std::fs::write(lib.join("src/m.coex"), "\n").unwrap();
        std::fs::write(lib.join("ffi/src/a.c"), c).unwrap();
        let out = dir.join("m.cxz");
        crate::cxz::pack_dir(&lib, &out).unwrap();
        // Old enough to be remembered.
        let f = std::fs::File::options().write(true).open(&out).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(60))
            .unwrap();
        out
    }

    #[test]
    fn a_remembered_archive_equals_a_fresh_open_and_changes_are_seen() {
        let t = tempfile::tempdir().unwrap();
        let cache = t.path().join("cache");
        let archive = write_library(t.path(), "int a(void) { return 1; }\n");
        std::thread::sleep(Duration::from_millis(2100));
        let first = open(&archive, Some(&cache)).unwrap();
        assert_eq!(
            std::fs::read_dir(cache.join("memo/archives"))
                .unwrap()
                .count(),
            1
        );
        let second = open(&archive, Some(&cache)).unwrap();
        assert_eq!(second.digest, first.digest);
        assert_eq!(second.manifest, first.manifest);
        // The C file is held by digest; everything else by bytes.
        let c = Digest::of(&first.files["ffi/src/a.c"]);
        assert_eq!(
            second.stored,
            BTreeMap::from([("ffi/src/a.c".to_string(), c)])
        );
        assert_eq!(second.files["ffi/src/a.c"], b"");
        for (name, bytes) in &first.files {
            if name != "ffi/src/a.c" {
                assert_eq!(&second.files[name], bytes);
            }
        }

        // Another archive at the same path: never the remembered files.
        let other = write_library(t.path(), "int a(void) { return 2; }\n");
        std::thread::sleep(Duration::from_millis(2100));
        let third = open(&other, Some(&cache)).unwrap();
        assert_ne!(third.digest, first.digest);
        assert_eq!(third.digest, CxzArchive::open(&other).unwrap().digest);

        // A damaged CAS blob (its metadata changes): the full open again.
        let c_digest = Digest::of(&third.files["ffi/src/a.c"]);
        let blob = LocalStore::new(&cache).blob_path(&c_digest);
        std::fs::write(&blob, b"int a(void) { return 9; }\n").unwrap();
        let fourth = open(&other, Some(&cache)).unwrap();
        assert!(fourth.stored.is_empty(), "a full open holds every byte");
        assert_eq!(fourth.files["ffi/src/a.c"], b"int a(void) { return 2; }\n");
    }
}
