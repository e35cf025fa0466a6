//! One interface for every cache: the local disk store and the HTTP remote.
//!
//! Each outcome is a type, not a log line: a lookup is a [`Fetch::Hit`], a
//! [`Fetch::Miss`] or a [`Fetch::Fault`] saying what went wrong, so the
//! caller decides how loudly to complain and whether to fall back. Stacking
//! ("local then remote") and read-only access are wrappers
//! (see `layered.rs`), not flags threaded through every backend.

use std::fmt;

use super::action::{ActionKey, ActionResult};
use super::digest::Digest;

/// Why a store could not answer (the build goes on without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Connection refused, DNS, timeout.
    Unreachable,
    /// The server answered with an unexpected HTTP status.
    BadStatus(u16),
    /// A gRPC server answered with an error status (its code, e.g. 14 for
    /// UNAVAILABLE, 13 for INTERNAL).
    RpcStatus(i32),
    /// Bytes did not match the name they were stored under.
    Corrupt,
    /// A result that is not signed by the key readers require: a miss, not
    /// a broken server.
    Untrusted,
    /// A local I/O error.
    Io,
}

/// A failed store operation, with a one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFault {
    /// What kind of failure this is.
    pub kind: FaultKind,
    /// Human detail: the entry and the cause.
    pub detail: String,
}

impl StoreFault {
    /// A fault of `kind` with a detail line.
    pub fn new(kind: FaultKind, detail: impl Into<String>) -> Self {
        StoreFault {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for StoreFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch<T> {
    /// Found and verified.
    Hit(T),
    /// Not there (a normal outcome).
    Miss,
    /// The store failed or held bad bytes (bad local entries are already
    /// deleted when this is returned).
    Fault(StoreFault),
}

/// The answer to a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// Written (or already present).
    Stored,
    /// Deliberately not written (a read-only store).
    Skipped,
}

/// A content-addressed store (CAS) plus an action cache (AC).
///
/// Contract: `get_blob` only ever returns bytes that match the digest asked
/// for; `get_result` only returns a well-formed result. Implementations must
/// be safe to share between threads and between processes.
pub trait Store: Send + Sync {
    /// Fetches a blob by digest, verified.
    fn get_blob(&self, digest: &Digest) -> Fetch<Vec<u8>>;
    /// Stores a blob (its digest is computed by the caller and trusted).
    fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<Put, StoreFault>;
    /// Fetches several blobs, one answer per digest in order. A remote
    /// overrides this to ask in one round trip.
    fn get_blobs(&self, digests: &[&Digest]) -> Vec<Fetch<Vec<u8>>> {
        digests.iter().map(|d| self.get_blob(d)).collect()
    }
    /// Stores several blobs; a remote overrides this to skip the ones the
    /// server has and send the rest in batches.
    fn put_blobs(&self, blobs: &[(&Digest, &[u8])]) -> Result<Put, StoreFault> {
        let mut out = Put::Skipped;
        for (d, b) in blobs {
            out = self.put_blob(d, b)?;
        }
        Ok(out)
    }
    /// Looks up the result of an action.
    fn get_result(&self, key: &ActionKey) -> Fetch<ActionResult>;
    /// Records the result of a successful action.
    fn put_result(&self, key: &ActionKey, result: &ActionResult) -> Result<Put, StoreFault>;
    /// Where this store lives (a directory or URL), for messages.
    fn location(&self) -> String;
    /// Network round trips made so far (0 for a local store).
    fn requests(&self) -> u64 {
        0
    }
    /// Bytes received so far: blobs and action results as sent by the
    /// server (0 for a local store).
    fn bytes_downloaded(&self) -> u64 {
        0
    }
    /// The name this store gives blob `digest` on its wire (a remote's
    /// SHA-256 hex), when known from a result it returned or a blob it took.
    fn wire_name(&self, _digest: &Digest) -> Option<String> {
        None
    }
    /// Tells the store blob `digest`'s wire name, remembered from a result
    /// it returned in an earlier build, so [`Store::get_blobs`] can ask for it.
    fn learn_wire_name(&self, _digest: &Digest, _name: &str) {}
}
