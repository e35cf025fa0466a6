//! What the stack tells its callers: how an action was satisfied, the
//! warnings of a build, and the read-only wrapper of `--remote-upload=false`.

use super::super::action::{ActionKey, ActionResult};
use super::super::digest::Digest;
use super::super::store::{Fetch, Put, Store, StoreFault};

/// A store that answers reads from `inner` and ignores writes.
pub struct ReadOnly<S: Store>(pub S);

impl<S: Store> Store for ReadOnly<S> {
    fn get_blob(&self, digest: &Digest) -> Fetch<Vec<u8>> {
        self.0.get_blob(digest)
    }
    fn get_blobs(&self, digests: &[&Digest]) -> Vec<Fetch<Vec<u8>>> {
        self.0.get_blobs(digests)
    }
    fn put_blob(&self, _digest: &Digest, _bytes: &[u8]) -> Result<Put, StoreFault> {
        Ok(Put::Skipped)
    }
    fn put_blobs(&self, _blobs: &[(&Digest, &[u8])]) -> Result<Put, StoreFault> {
        Ok(Put::Skipped)
    }
    fn get_result(&self, key: &ActionKey) -> Fetch<ActionResult> {
        self.0.get_result(key)
    }
    fn put_result(&self, _key: &ActionKey, _result: &ActionResult) -> Result<Put, StoreFault> {
        Ok(Put::Skipped)
    }
    fn location(&self) -> String {
        format!("{} (read-only)", self.0.location())
    }
    fn requests(&self) -> u64 {
        self.0.requests()
    }
    fn bytes_downloaded(&self) -> u64 {
        self.0.bytes_downloaded()
    }
    fn wire_name(&self, digest: &Digest) -> Option<String> {
        self.0.wire_name(digest)
    }
    fn learn_wire_name(&self, digest: &Digest, name: &str) {
        self.0.learn_wire_name(digest, name)
    }
}

/// How an action's result was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Satisfied {
    /// From the local cache.
    Cached,
    /// From the local cache, found by the preprocessed text of a C compile
    /// whose direct key missed (see `exec::preprocessed`).
    Preprocessed,
    /// From the remote cache (now also in the local one).
    Remote,
    /// The command was run.
    Ran,
}

impl Satisfied {
    /// The word used in reports.
    pub fn word(self) -> &'static str {
        match self {
            Satisfied::Cached => "cached",
            Satisfied::Preprocessed => "cached (preprocessed)",
            Satisfied::Remote => "remote",
            Satisfied::Ran => "ran",
        }
    }
}

/// Something a build got past but the user should hear about, once: kept
/// as data (tests and callers match on the kind), worded by `Display`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CacheWarning {
    /// A local entry was bad (wrong bytes, not a regular file) and dropped;
    /// its action re-runs. `entry` names it and the cache.
    CorruptEntry {
        /// `cas/ab/… in DIR` (and what was there).
        entry: String,
    },
    /// Another local cache problem (an entry that could not be read).
    Local {
        /// What happened.
        detail: String,
    },
    /// The remote failed; it is not used for the rest of the build.
    RemoteDisabled {
        /// The remote's location (credentials never included).
        remote: String,
        /// What failed.
        detail: String,
    },
    /// The remote sent a result not signed by the required key; it was
    /// treated as a miss (said once per build; the remote stays in use).
    RemoteUntrusted {
        /// The remote's location.
        remote: String,
        /// Which entry and why.
        detail: String,
    },
    /// The local cache cannot be written; results are not stored.
    LocalUnwritable {
        /// The cache root.
        cache: String,
        /// The write error.
        detail: String,
    },
}

impl std::fmt::Display for CacheWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheWarning::CorruptEntry { entry } => write!(
                f,
                "warning: dropped corrupt cache entry {entry}; it will be rebuilt"
            ),
            CacheWarning::Local { detail } => write!(f, "warning: local cache: {detail}"),
            CacheWarning::RemoteDisabled { remote, detail } => write!(
                f,
                "warning: remote cache {remote} failed ({detail}); building locally without it"
            ),
            CacheWarning::RemoteUntrusted { remote, detail } => write!(
                f,
                "warning: remote cache {remote}: {detail}; not used (rebuilt locally). \
                 Results are used only when signed by --remote-verify-key"
            ),
            CacheWarning::LocalUnwritable { cache, detail } => write!(
                f,
                "warning: cannot write to the local cache {cache} ({detail}); building without storing results"
            ),
        }
    }
}
