//! Build without the bytes: large blobs of a remote hit stay on the remote
//! until something needs them.
//!
//! A result found on the remote is recorded locally at once (so the next
//! build is a local hit), but only its small blobs (at most
//! [`INLINE_LIMIT`] bytes, which ride inside the result anyway) are copied;
//! the others are *remote-held*: their wire names (SHA-256) are remembered in
//! `<cache>/memo/remote/ab/KEY.json`, beside the result, and they are fetched
//! when an action that must run needs them as inputs, or when the caller
//! reads a final output ([`CacheStack::fetch_missing`]). Every fetched blob
//! is checked against both of its names, as any remote read, before it
//! enters the local cache. A blob the remote no longer has (or holds damaged)
//! is not an error here: the caller re-runs the action that produced it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::super::action::{ActionKey, ActionResult};
use super::super::digest::{Blake3Hash, Digest};
use super::super::remote::wire::INLINE_LIMIT;
use super::super::store::{Fetch, Store};
use super::CacheStack;

/// The memo of remote-held blobs: action key → (BLAKE3 → SHA-256 hex) of
/// the blobs of its local result that were left on the remote.
#[derive(Debug, Clone)]
pub(super) struct RemoteHeld {
    dir: PathBuf,
}

impl RemoteHeld {
    /// The memo of the cache at `cache_root`.
    pub(super) fn new(cache_root: &Path) -> RemoteHeld {
        RemoteHeld {
            dir: cache_root.join("memo").join("remote"),
        }
    }

    fn file(&self, key: &ActionKey) -> PathBuf {
        let hex = key.hash().hex();
        self.dir.join(&hex[..2]).join(format!("{hex}.json"))
    }

    /// The wire names of `key`'s remote-held blobs (empty if none).
    pub(super) fn load(&self, key: &ActionKey) -> BTreeMap<Blake3Hash, String> {
        super::super::local::read_cache_file(&self.file(key))
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save(&self, key: &ActionKey, names: &BTreeMap<Blake3Hash, String>) {
        super::super::local::write_cache_file(&self.file(key), names);
    }
}

/// Whether a blob of a remote hit is copied at once: small ones (they came
/// inside the result) and any whose wire name the remote did not give.
pub(super) fn fetched_eagerly(remote: &dyn Store, d: &Digest) -> bool {
    d.size <= INLINE_LIMIT || remote.wire_name(d).is_none()
}

impl CacheStack {
    /// True when this build holds blob `d` locally (in memory or as a file
    /// of the local cache; the bytes are verified when read).
    pub fn holds(&self, d: &Digest) -> bool {
        self.memory.lock().is_ok_and(|m| m.contains_key(d)) || self.local.has_blob(d)
    }

    /// Records `result` under `key` in the local cache: the blobs this build
    /// does not hold must be known to the remote (their wire names go to the
    /// remote-held memo first), else nothing is recorded (a result whose
    /// bytes cannot be found again is no hit).
    pub(super) fn store_result_held(&self, key: &ActionKey, result: &ActionResult) {
        if !self.local_writable() {
            return;
        }
        let mut names = BTreeMap::new();
        for d in result.blobs() {
            if self.holds(d) {
                continue;
            }
            match self.remote.as_deref().and_then(|r| r.wire_name(d)) {
                Some(sha) => names.insert(d.hash, sha),
                None => return,
            };
        }
        if !names.is_empty() {
            self.remote_held.save(key, &names);
        }
        self.store_result(key, result);
    }

    /// Whether blob `d` of `key`'s local result, absent here, is held by
    /// the remote (its wire name is then told to the remote store, so a
    /// later [`Self::fetch_missing`] can ask for it). `names` is the memo,
    /// loaded on first use.
    pub(super) fn remote_holds(
        &self,
        key: &ActionKey,
        names: &mut Option<BTreeMap<Blake3Hash, String>>,
        d: &Digest,
    ) -> bool {
        let names = names.get_or_insert_with(|| self.remote_held.load(key));
        let Some(sha) = names.get(&d.hash) else {
            return false;
        };
        if let Some(remote) = self.remote.as_deref() {
            remote.learn_wire_name(d, sha);
        }
        true
    }

    /// Brings the blobs of `digests` this build does not hold from the
    /// remote (one batch), each checked against both names before it is
    /// stored. A blob the remote lacks is left missing (the caller re-runs
    /// its producer); a fault warns once and turns the remote off.
    pub fn fetch_missing(&self, digests: &[&Digest]) {
        let mut want: Vec<&Digest> = digests.iter().copied().filter(|d| !self.holds(d)).collect();
        want.sort();
        want.dedup();
        if want.is_empty() {
            return;
        }
        let Some(remote) = self.remote() else {
            return;
        };
        for (d, got) in want.iter().zip(remote.get_blobs(&want)) {
            match got {
                Fetch::Hit(bytes) => self.store_blob(d, &bytes),
                Fetch::Miss => {}
                Fetch::Fault(f) => {
                    self.remote_fault(&f);
                    return;
                }
            }
        }
    }

    /// The verified bytes of blob `d`: held here, else fetched from the remote.
    pub fn blob(&self, d: &Digest) -> Option<Vec<u8>> {
        if let Some(b) = self.local_blob(d) {
            return Some(b);
        }
        self.fetch_missing(&[d]);
        self.local_blob(d)
    }

    /// Bytes received from the remote so far (0 without one).
    pub fn remote_bytes(&self) -> u64 {
        self.remote.as_ref().map_or(0, |r| r.bytes_downloaded())
    }
}
