//! Stacking stores: the local cache in front of an optional remote, and a
//! read-only wrapper for `--remote-upload=false`.
//!
//! The stack is where the "remote is an accelerator, never a single point of
//! failure" rule lives: the first remote fault disables the remote for the
//! rest of the build and produces exactly one warning; nothing fetched from
//! the remote reaches the local cache before it has been verified.
//!
//! The local cache is not a point of failure either: when it cannot be
//! written (read-only, full, not ours), the first failure prints one warning
//! and the build goes on without storing, as ccache does. Blobs are then
//! kept in memory for the rest of the build, so later actions still find
//! their inputs and the command its outputs; lookups still read the cache.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::action::{ActionKey, ActionResult};
use super::digest::Digest;
use super::file_digests::StatKey;
use super::local::LocalStore;
use super::store::{FaultKind, Fetch, Put, Store, StoreFault};
use super::verified::VerifiedMemo;

mod kinds;
mod lazy;

pub use kinds::{CacheWarning, ReadOnly, Satisfied};

/// Local cache + optional remote, with the warning policy of a build.
pub struct CacheStack {
    local: LocalStore,
    verified: VerifiedMemo,
    /// Wire names of the blobs of local results left on the remote.
    remote_held: lazy::RemoteHeld,
    /// `COEX_REMOTE_DOWNLOAD=all`: every blob of a remote hit is fetched at
    /// once (as before build without the bytes; for benchmarks, or a
    /// machine about to go offline).
    download_all: bool,
    remote: Option<Box<dyn Store>>,
    remote_off: AtomicBool,
    /// Set by the first unsigned or forged remote result (one warning).
    untrusted_seen: AtomicBool,
    /// Set by the first local write failure: nothing more is written.
    local_writes_off: AtomicBool,
    /// Blobs that could not be stored locally, by digest.
    memory: Mutex<HashMap<Digest, Vec<u8>>>,
    warnings: Mutex<Vec<CacheWarning>>,
    echo: bool,
}

impl CacheStack {
    /// A stack; `echo` prints each warning to stderr as it happens.
    pub fn new(local: LocalStore, remote: Option<Box<dyn Store>>, echo: bool) -> Self {
        CacheStack {
            verified: VerifiedMemo::new(local.root()),
            remote_held: lazy::RemoteHeld::new(local.root()),
            download_all: std::env::var_os("COEX_REMOTE_DOWNLOAD").is_some_and(|v| v == "all"),
            local,
            remote,
            remote_off: AtomicBool::new(false),
            untrusted_seen: AtomicBool::new(false),
            local_writes_off: AtomicBool::new(false),
            memory: Mutex::new(HashMap::new()),
            warnings: Mutex::new(Vec::new()),
            echo,
        }
    }

    /// The local store.
    pub fn local(&self) -> &LocalStore {
        &self.local
    }

    /// Round trips to the remote so far (0 without one).
    pub fn remote_requests(&self) -> u64 {
        self.remote.as_ref().map_or(0, |r| r.requests())
    }

    /// Warnings emitted so far.
    pub fn warnings(&self) -> Vec<CacheWarning> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    fn warn(&self, text: CacheWarning) {
        if self.echo {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
        if let Ok(mut w) = self.warnings.lock() {
            w.push(text);
        }
    }

    /// Reports a local fault: corrupt entries get their own warning.
    pub fn local_fault(&self, f: &StoreFault) {
        match f.kind {
            FaultKind::Corrupt => self.warn(CacheWarning::CorruptEntry {
                entry: f.detail.clone(),
            }),
            _ => self.warn(CacheWarning::Local {
                detail: f.detail.clone(),
            }),
        }
    }

    fn remote(&self) -> Option<&dyn Store> {
        if self.remote_off.load(Ordering::SeqCst) {
            return None;
        }
        self.remote.as_deref()
    }

    /// What the local cache missed, asked of the remote (if still on): a hit
    /// is copied into the local cache by `keep`, a fault warns once (and
    /// turns the remote off) and counts as a miss. Blobs and results alike.
    fn fetch_remote<T>(
        &self,
        fetch: impl FnOnce(&dyn Store) -> Fetch<T>,
        keep: impl FnOnce(&T),
    ) -> Fetch<T> {
        let Some(remote) = self.remote() else {
            return Fetch::Miss;
        };
        match fetch(remote) {
            Fetch::Hit(v) => {
                keep(&v);
                Fetch::Hit(v)
            }
            Fetch::Miss => Fetch::Miss,
            Fetch::Fault(f) => {
                self.remote_fault(&f);
                Fetch::Miss
            }
        }
    }

    /// A remote fault: an untrusted result is a miss (warned once, the
    /// remote stays on); anything else warns once and turns the remote off.
    fn remote_fault(&self, f: &StoreFault) {
        let loc = || {
            self.remote
                .as_ref()
                .map(|r| r.location())
                .unwrap_or_default()
        };
        if f.kind == FaultKind::Untrusted {
            if !self.untrusted_seen.swap(true, Ordering::SeqCst) {
                self.warn(CacheWarning::RemoteUntrusted {
                    remote: loc(),
                    detail: f.detail.clone(),
                });
            }
            return;
        }
        if !self.remote_off.swap(true, Ordering::SeqCst) {
            self.warn(CacheWarning::RemoteDisabled {
                remote: loc(),
                detail: f.detail.clone(),
            });
        }
    }

    /// The first local write failure: one warning, and no more writes.
    fn local_write_failed(&self, f: &StoreFault) {
        if !self.local_writes_off.swap(true, Ordering::SeqCst) {
            self.warn(CacheWarning::LocalUnwritable {
                cache: self.local.location(),
                detail: f.detail.clone(),
            });
        }
    }

    /// Whether the local cache still takes writes in this build.
    pub fn local_writable(&self) -> bool {
        !self.local_writes_off.load(Ordering::SeqCst)
    }

    /// Stores a blob locally; when the local cache cannot be written, keeps
    /// it in memory instead (the first failure warns once).
    pub fn store_blob(&self, d: &Digest, bytes: &[u8]) {
        if self.local_writable() {
            match self.local.put_blob(d, bytes) {
                Ok(_) => return,
                Err(f) => self.local_write_failed(&f),
            }
        }
        if let Ok(mut m) = self.memory.lock() {
            m.entry(d.clone()).or_insert_with(|| bytes.to_vec());
        }
    }

    /// Records a result locally unless the local cache is not writable.
    fn store_result(&self, key: &ActionKey, result: &ActionResult) {
        if self.local_writable() {
            if let Err(f) = self.local.put_result(key, result) {
                self.local_write_failed(&f);
            }
        }
    }

    /// A verified blob of this build: kept in memory (local cache not
    /// writable), else from the local cache, if present.
    pub fn local_blob(&self, d: &Digest) -> Option<Vec<u8>> {
        if let Some(b) = self.memory.lock().ok().and_then(|m| m.get(d).cloned()) {
            return Some(b);
        }
        match self.local.get_blob(d) {
            Fetch::Hit(b) => Some(b),
            Fetch::Miss => None,
            Fetch::Fault(f) => {
                self.local_fault(&f);
                None
            }
        }
    }

    /// Every blob of `r` is in the local cache and hashes to its name (read
    /// and hashed unless its metadata is what it was when last verified, see
    /// `verified.rs`), or is remote-held (see `lazy.rs`): fetched when needed.
    fn local_has_all(&self, key: &ActionKey, r: &ActionResult) -> bool {
        let known = self.verified.load(key);
        let mut held = None;
        let mut now = BTreeMap::new();
        let mut learned = false;
        for d in r.blobs() {
            let path = self.local.blob_path(d);
            // The remembered key was taken after a full check, so an equal
            // key (size included) means the same verified bytes.
            let stat = StatKey::of_regular(&path);
            if let Some(stat) = stat.filter(|s| known.get(&d.hash) == Some(s)) {
                now.insert(d.hash, stat);
                continue;
            }
            // Absent, odd, or changed since: the full check (which also
            // drops a bad entry with its warning).
            if self.local_blob(d).is_none() {
                if self.remote_holds(key, &mut held, d) {
                    continue;
                }
                return false;
            }
            if let Ok(m) = std::fs::metadata(&path) {
                now.insert(d.hash, StatKey::of(&m));
                learned = true;
            }
        }
        if learned {
            self.verified.save(key, &now);
        }
        true
    }

    /// Finds a usable result: local first (with every blob present and
    /// verified, or remote-held), then remote: its small blobs are fetched,
    /// verified and copied into the local cache, the others stay remote
    /// (see `lazy.rs`), then the result is recorded locally.
    /// A result must name exactly the declared outputs (the key covers
    /// them, so anything else is a damaged or foreign entry) and be a success.
    pub fn lookup(&self, key: &ActionKey, outputs: &[String]) -> Option<(Satisfied, ActionResult)> {
        let fits = |r: &ActionResult| {
            r.exit_code == 0
                && r.outputs.len() == outputs.len()
                && outputs.iter().all(|o| r.outputs.contains_key(o))
        };
        match self.local.get_result(key) {
            Fetch::Hit(r) if fits(&r) && self.local_has_all(key, &r) => {
                return Some((Satisfied::Cached, r))
            }
            Fetch::Hit(_) | Fetch::Miss => {}
            Fetch::Fault(f) => self.local_fault(&f),
        }
        let remote = self.remote()?;
        let r = match remote.get_result(key) {
            Fetch::Hit(r) if fits(&r) => r,
            Fetch::Hit(_) => {
                self.remote_fault(&StoreFault::new(
                    FaultKind::Corrupt,
                    format!("ac/{key}: result does not match the action's declared outputs"),
                ));
                return None;
            }
            Fetch::Miss => return None,
            Fetch::Fault(f) => {
                self.remote_fault(&f);
                return None;
            }
        };
        // Every missing small blob in one request (one round trip over
        // gRPC; those inside the result cost none).
        let blobs = r.blobs();
        let missing: Vec<&Digest> = blobs
            .into_iter()
            .filter(|d| {
                self.local_blob(d).is_none()
                    && (self.download_all || lazy::fetched_eagerly(remote, d))
            })
            .collect();
        for (d, got) in missing.iter().zip(remote.get_blobs(&missing)) {
            match got {
                Fetch::Hit(bytes) => self.store_blob(d, &bytes),
                Fetch::Miss => return None,
                Fetch::Fault(f) => {
                    self.remote_fault(&f);
                    return None;
                }
            }
        }
        self.store_result_held(key, &r);
        Some((Satisfied::Remote, r))
    }

    /// Stores blobs without a result (outputs later actions need, of an
    /// action whose result must not be cached); like [`Self::record`], a
    /// local write failure keeps them in memory.
    pub fn record_blobs(&self, blobs: &BTreeMap<Digest, Vec<u8>>) -> Result<(), StoreFault> {
        for (d, b) in blobs {
            self.store_blob(d, b);
        }
        Ok(())
    }

    /// Records a fresh result and its blobs locally and, best effort,
    /// remotely. A local write failure is not an error: it warns once and
    /// the blobs stay in memory for the later actions of this build (so
    /// this returns `Ok` today; the `Result` keeps callers ready for a
    /// store that must not be skipped).
    pub fn record(
        &self,
        key: &ActionKey,
        result: &ActionResult,
        blobs: &BTreeMap<Digest, Vec<u8>>,
    ) -> Result<(), StoreFault> {
        for (d, b) in blobs {
            self.store_blob(d, b);
        }
        self.store_result_held(key, result);
        if let Some(remote) = self.remote() {
            // One existence check and batched uploads, then the result.
            let all: Vec<(&Digest, &[u8])> = blobs.iter().map(|(d, b)| (d, b.as_slice())).collect();
            if let Err(f) = remote.put_blobs(&all) {
                self.remote_fault(&f);
                return Ok(());
            }
            if let Err(f) = remote.put_result(key, result) {
                self.remote_fault(&f);
            }
        }
        Ok(())
    }
}

/// The stack is itself a [`Store`] (as sccache's multi-level cache is), so
/// it can stand wherever one store is expected: reads try the local cache
/// (and this build's in-memory blobs), then the remote, copying a verified
/// remote blob or result into the local cache; writes go to both, with the
/// stack's warning policy (a failing remote or unwritable local cache warns
/// once and is then left out). [`CacheStack::lookup`] stays the executor's
/// entry point: it also checks a result against the action's outputs and
/// fetches every blob the result names.
impl Store for CacheStack {
    fn get_blob(&self, digest: &Digest) -> Fetch<Vec<u8>> {
        if let Some(bytes) = self.local_blob(digest) {
            return Fetch::Hit(bytes);
        }
        self.fetch_remote(
            |remote| remote.get_blob(digest),
            |bytes| self.store_blob(digest, bytes),
        )
    }

    fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<Put, StoreFault> {
        self.store_blob(digest, bytes);
        if let Some(remote) = self.remote() {
            if let Err(f) = remote.put_blob(digest, bytes) {
                self.remote_fault(&f);
            }
        }
        Ok(Put::Stored)
    }

    fn get_result(&self, key: &ActionKey) -> Fetch<ActionResult> {
        match self.local.get_result(key) {
            Fetch::Hit(r) => return Fetch::Hit(r),
            Fetch::Miss => {}
            Fetch::Fault(f) => self.local_fault(&f),
        }
        self.fetch_remote(
            |remote| remote.get_result(key),
            |r| self.store_result(key, r),
        )
    }

    fn put_result(&self, key: &ActionKey, result: &ActionResult) -> Result<Put, StoreFault> {
        self.record(key, result, &BTreeMap::new())?;
        Ok(Put::Stored)
    }

    fn location(&self) -> String {
        match &self.remote {
            Some(r) => format!("{} + {}", self.local.location(), r.location()),
            None => self.local.location(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_is_a_store_that_fills_the_local_cache_from_the_remote() {
        let dir = tempfile::tempdir().unwrap();
        let remote = LocalStore::new(dir.path().join("remote"));
        let d = Digest::of(b"shared");
        remote.put_blob(&d, b"shared").unwrap();
        let key = ActionKey::from_hex(&"9".repeat(64)).unwrap();
        let r = ActionResult {
            outputs: BTreeMap::from([("o".to_string(), d.clone())]),
            exit_code: 0,
            stdout: Digest::of(b""),
            stderr: Digest::of(b""),
        };
        remote.put_result(&key, &r).unwrap();
        let stack = CacheStack::new(
            LocalStore::new(dir.path().join("local")),
            Some(Box::new(remote)),
            false,
        );
        let store: &dyn Store = &stack;
        assert_eq!(store.get_blob(&d), Fetch::Hit(b"shared".to_vec()));
        assert_eq!(store.get_result(&key), Fetch::Hit(r.clone()));
        // Both are now local.
        assert_eq!(stack.local().get_blob(&d), Fetch::Hit(b"shared".to_vec()));
        assert_eq!(stack.local().get_result(&key), Fetch::Hit(r));
        let other = Digest::of(b"new");
        store.put_blob(&other, b"new").unwrap();
        assert_eq!(stack.local().get_blob(&other), Fetch::Hit(b"new".to_vec()));
        assert!(store.location().contains(" + "));
        assert!(stack.warnings().is_empty());
    }

    #[test]
    fn an_unwritable_local_cache_warns_once_and_keeps_blobs_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        // The cache's parent is a file: every write fails (ENOTDIR).
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let stack = CacheStack::new(LocalStore::new(file.join("cache")), None, false);
        for n in 0..3u8 {
            let bytes = vec![n; 10];
            let d = Digest::of(&bytes);
            let result = ActionResult {
                outputs: BTreeMap::from([("o".to_string(), d.clone())]),
                exit_code: 0,
                stdout: Digest::of(b""),
                stderr: Digest::of(b""),
            };
            let blobs = BTreeMap::from([(d.clone(), bytes.clone()), (Digest::of(b""), vec![])]);
            let key = ActionKey::from_hex(&format!("{n:064}")).unwrap();
            stack.record(&key, &result, &blobs).unwrap();
            assert_eq!(stack.local_blob(&d), Some(bytes));
            assert_eq!(stack.lookup(&key, &["o".to_string()]), None);
        }
        let warnings = stack.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            matches!(&warnings[0], CacheWarning::LocalUnwritable { cache, .. }
                if *cache == file.join("cache").display().to_string()),
            "{warnings:?}"
        );
        let text = warnings[0].to_string();
        assert!(
            text.starts_with(&format!(
                "warning: cannot write to the local cache {} (",
                file.join("cache").display()
            )) && text.ends_with("); building without storing results"),
            "{text}"
        );
        assert!(!stack.local_writable());
    }
}
