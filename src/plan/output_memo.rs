//! Outputs written before, remembered by file metadata, so a no-op build
//! neither reads the executable from the cache nor writes it again.
//!
//! After `coex build -o OUT` writes OUT, `<cache>/memo/outputs/<hash of
//! OUT's absolute path>.json` records OUT's metadata (size, times in
//! nanoseconds, inode, device) and the digest written. When the next build
//! produces the same digest and OUT still has that metadata, OUT already
//! holds those bytes: any change to it (an edit, `strip`, a replacement)
//! changes its metadata and brings the write back.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exec::file_digests::StatKey;
use crate::exec::local::{read_cache_file, write_cache_file};
use crate::exec::Digest;

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    path: PathBuf,
    stat: StatKey,
    digest: Digest,
}

fn absolute(out: &Path) -> Option<PathBuf> {
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = std::fs::canonicalize(dir.unwrap_or(Path::new("."))).ok()?;
    Some(dir.join(out.file_name()?))
}

fn entry_file(cache: &Path, abs: &Path) -> PathBuf {
    cache.join("memo").join("outputs").join(format!(
        "{}.json",
        &blake3::hash(abs.as_os_str().as_encoded_bytes()).to_hex()[..32]
    ))
}

/// True when `out` holds exactly the bytes of `digest`, as written by an
/// earlier build and not changed since.
pub fn unchanged(cache: &Path, out: &Path, digest: &Digest) -> bool {
    let Some(abs) = absolute(out) else {
        return false;
    };
    let Some(entry) = read_cache_file(&entry_file(cache, &abs))
        .and_then(|b| serde_json::from_slice::<Entry>(&b).ok())
    else {
        return false;
    };
    entry.path == abs && &entry.digest == digest && StatKey::of_regular(&abs) == Some(entry.stat)
}

/// Records that `out` now holds the bytes of `digest` (best effort).
pub fn remember(cache: &Path, out: &Path, digest: &Digest) {
    let Some(abs) = absolute(out) else { return };
    let Some(stat) = StatKey::of_regular(&abs) else {
        return;
    };
    let file = entry_file(cache, &abs);
    let entry = Entry {
        path: abs,
        stat,
        digest: digest.clone(),
    };
    write_cache_file(&file, &entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_changed_or_replaced_is_not_unchanged() {
        let t = tempfile::tempdir().unwrap();
        let cache = t.path().join("cache");
        let out = t.path().join("app");
        std::fs::write(&out, b"one").unwrap();
        let d = Digest::of(b"one");
        assert!(!unchanged(&cache, &out, &d));
        remember(&cache, &out, &d);
        assert!(unchanged(&cache, &out, &d));
        assert!(!unchanged(&cache, &out, &Digest::of(b"two")));
        std::fs::write(&out, b"eno").unwrap();
        assert!(!unchanged(&cache, &out, &d), "rewritten in place");
        remember(&cache, &out, &d);
        std::fs::remove_file(&out).unwrap();
        assert!(!unchanged(&cache, &out, &d), "gone");
    }
}
