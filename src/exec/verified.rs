//! Which cached blobs were already checked, so a warm build does not read
//! and hash every output again.
//!
//! A local hit requires every blob of the result to be present and to hash
//! to its name. Checking that by reading is what made a no-op build of a
//! program with large images slow. So after a blob is verified, its file
//! metadata (see `file_digests::StatKey`: size, times in nanoseconds, inode,
//! device) is remembered per action key in `<cache>/memo/verified/`; while
//! a blob's metadata is unchanged it is taken as verified. Any write to it —
//! a truncation, a rewrite, a rename over it — changes the metadata and
//! brings back the full check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::action::ActionKey;
use super::digest::Blake3Hash;
use super::file_digests::StatKey;

/// The per-key memo files under one cache root.
#[derive(Debug, Clone)]
pub struct VerifiedMemo {
    dir: PathBuf,
}

impl VerifiedMemo {
    /// The memo of the cache at `cache_root`.
    pub fn new(cache_root: &Path) -> VerifiedMemo {
        VerifiedMemo {
            dir: cache_root.join("memo").join("verified"),
        }
    }

    fn file(&self, key: &ActionKey) -> PathBuf {
        let hex = key.hash().hex();
        self.dir.join(&hex[..2]).join(format!("{hex}.json"))
    }

    /// Blob hash → metadata at its last verification (empty if unknown).
    pub fn load(&self, key: &ActionKey) -> BTreeMap<Blake3Hash, StatKey> {
        super::local::read_cache_file(&self.file(key))
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Remembers `blobs` for `key` (best effort: a lost memo costs a re-check).
    pub fn save(&self, key: &ActionKey, blobs: &BTreeMap<Blake3Hash, StatKey>) {
        super::local::write_cache_file(&self.file(key), blobs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_absent_memo() {
        let dir = tempfile::tempdir().unwrap();
        let memo = VerifiedMemo::new(dir.path());
        let key = ActionKey::from_hex(&"ab".repeat(32)).unwrap();
        assert!(memo.load(&key).is_empty());
        let f = dir.path().join("blob");
        std::fs::write(&f, b"x").unwrap();
        let stat = StatKey::of(&std::fs::metadata(&f).unwrap());
        let map = BTreeMap::from([(Blake3Hash::of(b"x"), stat)]);
        memo.save(&key, &map);
        assert_eq!(memo.load(&key), map);
    }
}
