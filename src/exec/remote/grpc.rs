//! The remote cache over gRPC: REAPI v2 as Bazel, BuildGrid, bazel-remote,
//! Buildbarn and the hosted caches speak it.
//!
//! Action results go through the ActionCache service; blobs through
//! ContentAddressableStorage (FindMissingBlobs, BatchReadBlobs,
//! BatchUpdateBlobs) while a batch fits the server's limit, and through
//! ByteStream (Read/Write) for the larger ones. GetCapabilities is asked once,
//! at [`connect`]: a server that cannot name blobs by SHA-256 is refused, one
//! that does not let clients update its action cache is remembered as
//! read-only (writes then return [`Put::Skipped`]).
//!
//! The rest of coex is synchronous, so the async world stays in here: a
//! [`GrpcTransport`] owns a small multi-threaded tokio runtime (two workers
//! that drive the HTTP/2 connection) and each trait method blocks the calling
//! thread on one call with its deadline. `Runtime::block_on` takes `&self`, so
//! any number of executor threads call at once; their calls share one HTTP/2
//! connection (tonic's `Channel` multiplexes and reconnects).
//!
//! Nothing from the server is trusted here either: the layer above checks
//! every byte against its digest. Header values (they may carry API keys) are
//! never printed: [`Transport::location`] and every fault name the server by
//! `grpc://HOST:PORT[/instance]` only.

mod bytestream;
mod cas;
mod setup;

use std::future::Future;
use std::time::Duration;

use bazel_remote_apis::build::bazel::remote::execution::v2 as reapi;
use reapi::action_cache_client::ActionCacheClient;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::transport::{Transport, WireDigest, WireResult};
use crate::exec::store::{FaultKind, Fetch, Put, StoreFault};

/// Where a gRPC cache is and how to talk to it (from the user's settings).
#[derive(Clone)]
pub struct GrpcEndpoint {
    /// `grpc://HOST:PORT` (plain HTTP/2) or `grpcs://HOST:PORT` (TLS).
    pub url: String,
    /// The REAPI instance name (often empty).
    pub instance_name: String,
    /// Metadata sent with every call (`x-api-key`, `authorization`, …).
    /// Their values are secrets: never printed.
    pub headers: Vec<(String, String)>,
    /// An extra trusted root certificate (PEM) for `grpcs://`, besides the
    /// public web roots: for a company CA or a test server.
    pub ca_pem: Option<Vec<u8>>,
    /// Deadline of one call (connecting is capped at 2 s), so a dead or
    /// slow server costs a warning, not a hang. ByteStream transfers get one
    /// more second per 4 MiB they move.
    pub timeout: Duration,
}

impl std::fmt::Debug for GrpcEndpoint {
    /// Header names only: their values may be credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("GrpcEndpoint")
            .field("url", &self.url)
            .field("instance_name", &self.instance_name)
            .field("headers", &names)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "…"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A connected REAPI cache: implements [`Transport`] with blocking calls.
///
/// Shared by reference between threads; dropping it from any thread (even
/// one inside another tokio runtime) is fine.
pub struct GrpcTransport {
    /// `Some` until dropped (taken by `Drop` to shut it down in the background).
    runtime: Option<tokio::runtime::Runtime>,
    channel: Channel,
    instance: String,
    metadata: Vec<(AsciiMetadataKey, AsciiMetadataValue)>,
    timeout: Duration,
    location: String,
    /// Largest batch payload (blob bytes plus per-blob framing) sent or asked for.
    batch_budget: u64,
    /// Largest message accepted from the server.
    max_message: usize,
    /// False when the server said clients may not update its action cache.
    updates_enabled: bool,
    /// Calls made, GetCapabilities included (a ByteStream transfer is one).
    calls: std::sync::atomic::AtomicU64,
}

/// Connects to the cache at `endpoint`, asks its capabilities and checks
/// them; every problem (a bad URL or header, an unreachable or unsuitable
/// server) is a [`StoreFault`] saying which.
pub fn connect(endpoint: &GrpcEndpoint) -> Result<GrpcTransport, StoreFault> {
    setup::connect(endpoint)
}

impl GrpcTransport {
    /// False when the server keeps its action cache read-only for clients:
    /// then nothing is uploaded (writes return [`Put::Skipped`]).
    pub fn updates_enabled(&self) -> bool {
        self.updates_enabled
    }

    /// Runs `call` on the runtime, blocking this thread at most `deadline`.
    fn run<T>(
        &self,
        what: &str,
        deadline: Duration,
        call: impl Future<Output = Result<T, StoreFault>>,
    ) -> Result<T, StoreFault> {
        let Some(runtime) = &self.runtime else {
            return Err(self.unreachable(what, "the client was shut down"));
        };
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if tokio::runtime::Handle::try_current().is_ok() {
            // block_on would panic: this API is for synchronous threads.
            return Err(StoreFault::new(
                FaultKind::Io,
                format!(
                    "{}: {what}: called from inside an async runtime",
                    self.location
                ),
            ));
        }
        runtime.block_on(async {
            match tokio::time::timeout(deadline, call).await {
                Ok(result) => result,
                Err(_) => Err(self.unreachable(
                    what,
                    &format!("no answer within the deadline of {deadline:?}"),
                )),
            }
        })
    }

    /// A request carrying the endpoint's metadata and the deadline (sent as
    /// `grpc-timeout`, so the server can give up too).
    fn request<T>(&self, message: T, deadline: Duration) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        for (name, value) in &self.metadata {
            request.metadata_mut().insert(name.clone(), value.clone());
        }
        request.set_timeout(deadline);
        request
    }

    /// A fault for an unreachable server.
    fn unreachable(&self, what: &str, cause: &str) -> StoreFault {
        StoreFault::new(
            FaultKind::Unreachable,
            format!("{}: {what}: unreachable: {cause}", self.location),
        )
    }

    /// The fault for a failed call: transport trouble (connection refused,
    /// DNS, TLS, deadline) is `Unreachable`, a status the server sent is
    /// `RpcStatus(code)`.
    fn status_fault(&self, what: &str, status: &Status) -> StoreFault {
        status_fault(&self.location, what, status)
    }

    fn action_cache(&self) -> ActionCacheClient<Channel> {
        ActionCacheClient::new(self.channel.clone())
            .max_decoding_message_size(self.max_message)
            .max_encoding_message_size(self.max_message)
    }
}

/// See [`GrpcTransport::status_fault`]; also used before the transport exists.
fn status_fault(location: &str, what: &str, status: &Status) -> StoreFault {
    if is_transport_failure(status) {
        return StoreFault::new(
            FaultKind::Unreachable,
            format!("{location}: {what}: unreachable: {}", cause_chain(status)),
        );
    }
    StoreFault::new(
        FaultKind::RpcStatus(status.code() as i32),
        format!(
            "{location}: {}: {} (in {what})",
            code_name(status.code()),
            status.message()
        ),
    )
}

/// True when the status was made on this side from a connection, HTTP/2,
/// TLS or timeout error (tonic keeps that error as the status's source; a
/// status the server sent has none), or says the deadline passed.
fn is_transport_failure(status: &Status) -> bool {
    match status.code() {
        Code::DeadlineExceeded => true,
        Code::Unavailable | Code::Unknown | Code::Cancelled => {
            std::error::Error::source(status).is_some()
        }
        _ => false,
    }
}

/// The status message and its causes, `a: b: c`, without repeats.
fn cause_chain(status: &Status) -> String {
    let mut parts = vec![status.message().to_string()];
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = err.source();
    }
    parts.retain(|p| !p.is_empty());
    parts.join(": ")
}

/// The canonical name of a gRPC status code (as in the gRPC docs).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The name of a google.rpc code number (per-blob statuses of batches).
fn rpc_code_name(code: i32) -> &'static str {
    code_name(Code::from_i32(code))
}

impl Transport for GrpcTransport {
    fn get_action_result(&self, action: &WireDigest) -> Fetch<WireResult> {
        let what = "GetActionResult";
        let message = reapi::GetActionResultRequest {
            instance_name: self.instance.clone(),
            action_digest: Some(action.clone()),
            ..Default::default()
        };
        let answer = self.run(what, self.timeout, async {
            let request = self.request(message, self.timeout);
            match self.action_cache().get_action_result(request).await {
                Ok(response) => Ok(Some(response.into_inner())),
                Err(status) if status.code() == Code::NotFound => Ok(None),
                Err(status) => Err(self.status_fault(what, &status)),
            }
        });
        match answer {
            Ok(Some(result)) => Fetch::Hit(result),
            Ok(None) => Fetch::Miss,
            Err(fault) => Fetch::Fault(fault),
        }
    }

    /// Skipped (not an error) when the server keeps its action cache
    /// read-only for clients: it said so once, at connect.
    fn update_action_result(
        &self,
        action: &WireDigest,
        result: &WireResult,
    ) -> Result<Put, StoreFault> {
        if !self.updates_enabled {
            return Ok(Put::Skipped);
        }
        let what = "UpdateActionResult";
        let message = reapi::UpdateActionResultRequest {
            instance_name: self.instance.clone(),
            action_digest: Some(action.clone()),
            action_result: Some(result.clone()),
            ..Default::default()
        };
        self.run(what, self.timeout, async {
            let request = self.request(message, self.timeout);
            match self.action_cache().update_action_result(request).await {
                Ok(_) => Ok(Put::Stored),
                Err(status) => Err(self.status_fault(what, &status)),
            }
        })
    }

    fn find_missing_blobs(&self, blobs: &[WireDigest]) -> Result<Vec<WireDigest>, StoreFault> {
        cas::find_missing(self, blobs)
    }

    fn read_blobs(&self, blobs: &[WireDigest]) -> Vec<Fetch<Vec<u8>>> {
        cas::read(self, blobs)
    }

    /// Skipped when the server's action cache is read-only for clients: no
    /// result could ever name the blobs, so uploading them would be waste.
    fn write_blobs(&self, blobs: &[(WireDigest, &[u8])]) -> Result<Put, StoreFault> {
        if !self.updates_enabled {
            return Ok(Put::Skipped);
        }
        cas::write(self, blobs).map(|()| Put::Stored)
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn requests(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for GrpcTransport {
    /// Shuts the runtime down without waiting for its threads: allowed from
    /// any thread, even inside another async context (a plain drop of a
    /// runtime there panics), and never stuck behind a slow DNS lookup.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
