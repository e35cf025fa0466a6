//! What a remote cache server must do, in REAPI terms, whatever the wire.
//!
//! A transport only moves bytes and protobuf messages: the gRPC one speaks
//! REAPI v2 (ActionCache, ContentAddressableStorage, ByteStream), the HTTP one
//! Bazel's HTTP cache protocol (`/ac/<sha256>`, `/cas/<sha256>`). Everything
//! about trust (checking every byte against its names, signatures, the map
//! from local BLAKE3 names to SHA-256 wire names) lives above, in one place,
//! so both wires get the same guarantees.
//!
//! Blobs and action digests on the wire are REAPI `Digest`s: lowercase
//! SHA-256 hex plus size.

use bazel_remote_apis::build::bazel::remote::execution::v2 as reapi;

use crate::exec::store::{Fetch, Put, StoreFault};

/// A REAPI digest (SHA-256 hex, size in bytes).
pub type WireDigest = reapi::Digest;

/// A REAPI action result (what `/ac/` holds on both wires).
pub type WireResult = reapi::ActionResult;

/// Moves action results and blobs to and from one server.
///
/// Every method is called from the executor's worker threads concurrently.
/// Nothing returned here is trusted: the caller verifies every byte.
/// Implementations keep each call bounded in time (connect and request
/// deadlines) so a dead or slow server costs a warning, not a hang.
pub trait Transport: Send + Sync {
    /// The action cache entry stored under `action` (`Miss` when absent).
    fn get_action_result(&self, action: &WireDigest) -> Fetch<WireResult>;
    /// Stores `result` under `action`.
    fn update_action_result(
        &self,
        action: &WireDigest,
        result: &WireResult,
    ) -> Result<Put, StoreFault>;
    /// The subset of `blobs` the server does not have (a transport that
    /// cannot ask returns all of them).
    fn find_missing_blobs(&self, blobs: &[WireDigest]) -> Result<Vec<WireDigest>, StoreFault>;
    /// Reads blobs, one answer per digest in the same order; `Miss` for a
    /// blob the server lacks. Batched where the wire allows it.
    fn read_blobs(&self, blobs: &[WireDigest]) -> Vec<Fetch<Vec<u8>>>;
    /// Writes blobs (each digest computed by the caller from its bytes).
    fn write_blobs(&self, blobs: &[(WireDigest, &[u8])]) -> Result<Put, StoreFault>;
    /// Where the server is, for messages: credentials never included.
    fn location(&self) -> String;
    /// Round trips made so far (HTTP requests, gRPC calls), for reports and
    /// benchmarks of how well reads and writes are batched.
    fn requests(&self) -> u64 {
        0
    }
}
