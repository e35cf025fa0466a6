//! The shared remote cache, over gRPC (REAPI v2) or HTTP (Bazel's protocol).
//!
//! The wires differ only in how bytes move ([`transport::Transport`]); what
//! may be trusted is decided here, once for both: every blob is checked
//! against both of its names (local BLAKE3 and wire SHA-256) before it is
//! returned, a result must decode as coex's REAPI `ActionResult`, and with a
//! verify key only results signed for exactly this action are used. Nothing
//! unchecked is returned, so nothing unchecked reaches the local cache.
//!
//! The connection is opened on first use, so a build that never asks the
//! remote does no network I/O, and a server that cannot be reached is one
//! fault (one warning) rather than an error before the build starts.

pub mod grpc;
pub mod http;
pub mod options;
pub mod signing;
pub mod transport;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use self::options::RemoteOptions;
use self::signing::{ResultSigner, ResultVerifier};
use self::transport::{Transport, WireDigest};
use self::wire::{action_digest, from_wire, to_wire, wire_digest, WireProblem};
use super::action::{ActionKey, ActionResult};
use super::digest::{sha256_hex, Blake3Hash, Digest};
use super::store::{FaultKind, Fetch, Put, Store, StoreFault};

/// Who signs what this store writes and whose signature its reads need.
#[derive(Default)]
pub struct Trust {
    /// Signs every uploaded result.
    pub signer: Option<ResultSigner>,
    /// When set, a result is used only if this key verifies it.
    pub verifier: Option<ResultVerifier>,
}

type Connector = Box<dyn Fn() -> Result<Box<dyn Transport>, StoreFault> + Send + Sync>;

/// A remote cache behind the [`Store`] interface.
pub struct RemoteStore {
    shown: String,
    connect: Connector,
    transport: OnceLock<Result<Box<dyn Transport>, StoreFault>>,
    /// BLAKE3 name → SHA-256 hex of blobs seen in results or uploaded.
    names: Mutex<HashMap<Blake3Hash, String>>,
    /// Small blobs (≤ `wire::INLINE_LIMIT`) uploaded in this build, to go
    /// inside their result, or read inside a result (already checked), to
    /// answer reads without a round trip.
    small: Mutex<HashMap<Blake3Hash, Vec<u8>>>,
    trust: Trust,
    /// Bytes of blobs and results received (before their checks).
    received: AtomicU64,
}

impl RemoteStore {
    /// A store that connects through `connect` on first use; `shown` names
    /// the server in messages (no credentials).
    pub fn lazy(shown: String, connect: Connector, trust: Trust) -> Self {
        RemoteStore {
            shown,
            connect,
            transport: OnceLock::new(),
            names: Mutex::new(HashMap::new()),
            small: Mutex::new(HashMap::new()),
            trust,
            received: AtomicU64::new(0),
        }
    }

    /// A store whose every operation reports `fault` (options that could
    /// not be used: the build goes on locally after one warning).
    pub fn failed(fault: StoreFault) -> Self {
        let shown = "the remote cache".to_string();
        Self::lazy(
            shown,
            Box::new(move || Err(fault.clone())),
            Trust::default(),
        )
    }

    /// The store for `--remote-cache` and its companion options.
    pub fn open(opts: &RemoteOptions) -> Result<Self, StoreFault> {
        let trust = opts.trust()?;
        let ca_pem = opts.ca_pem()?;
        let url = opts.url.clone();
        if url.starts_with("grpc://") || url.starts_with("grpcs://") {
            let ep = grpc::GrpcEndpoint {
                url,
                instance_name: opts.instance_name.clone(),
                headers: opts.headers.clone(),
                ca_pem,
                timeout: opts.timeout,
            };
            let shown = match ep.instance_name.as_str() {
                "" => http::redact(&ep.url),
                i => format!("{}/{i}", http::redact(&ep.url)),
            };
            let connect: Connector =
                Box::new(move || grpc::connect(&ep).map(|t| Box::new(t) as Box<dyn Transport>));
            return Ok(Self::lazy(shown, connect, trust));
        }
        let ep = http::HttpEndpoint {
            url,
            headers: opts.headers.clone(),
            ca_pem,
            timeout: opts.timeout,
        };
        let t = http::HttpTransport::new(&ep)?;
        let shown = t.location();
        let t = std::sync::Arc::new(t);
        let connect: Connector =
            Box::new(move || Ok(Box::new(SharedHttp(t.clone())) as Box<dyn Transport>));
        Ok(Self::lazy(shown, connect, trust))
    }

    fn transport(&self) -> Result<&dyn Transport, StoreFault> {
        match self.transport.get_or_init(|| (self.connect)()) {
            Ok(t) => Ok(t.as_ref()),
            Err(f) => Err(f.clone()),
        }
    }

    fn remember(&self, blake3: Blake3Hash, sha: &str) {
        if let Ok(mut m) = self.names.lock() {
            m.insert(blake3, sha.to_string());
        }
    }

    fn keep_small(&self, d: &Digest, bytes: &[u8]) {
        if d.size <= wire::INLINE_LIMIT {
            if let Ok(mut m) = self.small.lock() {
                m.insert(d.hash, bytes.to_vec());
            }
        }
    }

    fn small_blob(&self, d: &Digest) -> Option<Vec<u8>> {
        self.small.lock().ok()?.get(&d.hash).cloned()
    }

    fn known_wire_name(&self, d: &Digest) -> Option<String> {
        self.names.lock().ok()?.get(&d.hash).cloned()
    }

    fn check_blob(&self, d: &Digest, sha: &str, got: Fetch<Vec<u8>>) -> Fetch<Vec<u8>> {
        match got {
            Fetch::Hit(bytes) if d.matches(&bytes) && sha256_hex(&bytes) == sha => {
                Fetch::Hit(bytes)
            }
            Fetch::Hit(_) => Fetch::Fault(StoreFault::new(
                FaultKind::Corrupt,
                format!(
                    "{}/cas/{sha}: content does not match its digest",
                    self.shown
                ),
            )),
            other => other,
        }
    }
}

/// The HTTP transport is built eagerly (it only validates the URL); this
/// lets the lazy slot hold it like any other transport.
struct SharedHttp(std::sync::Arc<http::HttpTransport>);

impl Transport for SharedHttp {
    fn get_action_result(&self, a: &WireDigest) -> Fetch<transport::WireResult> {
        self.0.get_action_result(a)
    }
    fn update_action_result(
        &self,
        a: &WireDigest,
        r: &transport::WireResult,
    ) -> Result<Put, StoreFault> {
        self.0.update_action_result(a, r)
    }
    fn find_missing_blobs(&self, b: &[WireDigest]) -> Result<Vec<WireDigest>, StoreFault> {
        self.0.find_missing_blobs(b)
    }
    fn read_blobs(&self, b: &[WireDigest]) -> Vec<Fetch<Vec<u8>>> {
        self.0.read_blobs(b)
    }
    fn write_blobs(&self, b: &[(WireDigest, &[u8])]) -> Result<Put, StoreFault> {
        self.0.write_blobs(b)
    }
    fn location(&self) -> String {
        self.0.location()
    }
    fn requests(&self) -> u64 {
        self.0.requests()
    }
}

/// The bytes a remote action digest is computed from.
fn key_bytes(key: &ActionKey) -> Vec<u8> {
    key.hash().as_bytes().to_vec()
}

impl Store for RemoteStore {
    fn get_blob(&self, digest: &Digest) -> Fetch<Vec<u8>> {
        self.get_blobs(&[digest]).pop().unwrap_or(Fetch::Miss)
    }

    fn get_blobs(&self, digests: &[&Digest]) -> Vec<Fetch<Vec<u8>>> {
        // Blobs that came inside a result are answered here (checked then).
        let known: Vec<Option<Vec<u8>>> = digests.iter().map(|d| self.small_blob(d)).collect();
        let named: Vec<Option<String>> = digests
            .iter()
            .zip(&known)
            .map(|(d, k)| {
                if k.is_some() {
                    None
                } else {
                    self.known_wire_name(d)
                }
            })
            .collect();
        let ask: Vec<WireDigest> = digests
            .iter()
            .zip(&named)
            .filter_map(|(d, s)| s.as_ref().map(|s| wire_digest(s, d.size)))
            .collect();
        let mut answers = match self.transport() {
            _ if ask.is_empty() => Vec::new().into_iter(),
            Ok(t) => {
                let got = t.read_blobs(&ask);
                let bytes: u64 = got
                    .iter()
                    .map(|f| match f {
                        Fetch::Hit(b) => b.len() as u64,
                        _ => 0,
                    })
                    .sum();
                self.received.fetch_add(bytes, Ordering::Relaxed);
                got.into_iter()
            }
            Err(f) => vec![Fetch::Fault(f); ask.len()].into_iter(),
        };
        digests
            .iter()
            .zip(named.iter().zip(known))
            .map(|(d, (s, k))| match (k, s) {
                (Some(bytes), _) => Fetch::Hit(bytes),
                (None, None) => Fetch::Miss,
                (None, Some(sha)) => self.check_blob(d, sha, answers.next().unwrap_or(Fetch::Miss)),
            })
            .collect()
    }

    fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<Put, StoreFault> {
        self.put_blobs(&[(digest, bytes)])
    }

    fn put_blobs(&self, blobs: &[(&Digest, &[u8])]) -> Result<Put, StoreFault> {
        let t = self.transport()?;
        let wired: Vec<(WireDigest, &[u8])> = blobs
            .iter()
            .map(|(d, b)| {
                let sha = sha256_hex(b);
                self.remember(d.hash, &sha);
                self.keep_small(d, b);
                (wire_digest(&sha, d.size), *b)
            })
            .collect();
        let all: Vec<WireDigest> = wired.iter().map(|(w, _)| w.clone()).collect();
        let missing = t.find_missing_blobs(&all)?;
        let send: Vec<(WireDigest, &[u8])> = wired
            .into_iter()
            .filter(|(w, _)| missing.contains(w))
            .collect();
        if send.is_empty() {
            return Ok(Put::Stored);
        }
        t.write_blobs(&send)
    }

    fn get_result(&self, key: &ActionKey) -> Fetch<ActionResult> {
        let t = match self.transport() {
            Ok(t) => t,
            Err(f) => return Fetch::Fault(f),
        };
        let kb = key_bytes(key);
        let wire = match t.get_action_result(&action_digest(&kb)) {
            Fetch::Hit(w) => {
                let size = prost::Message::encoded_len(&w) as u64;
                self.received.fetch_add(size, Ordering::Relaxed);
                w
            }
            Fetch::Miss => return Fetch::Miss,
            Fetch::Fault(f) => return Fetch::Fault(f),
        };
        match from_wire(&kb, &wire, self.trust.verifier.as_ref()) {
            Ok(decoded) => {
                for (b, s) in &decoded.wire_names {
                    self.remember(*b, s);
                }
                for (d, bytes) in &decoded.inline {
                    self.keep_small(d, bytes);
                }
                Fetch::Hit(decoded.result)
            }
            Err(p) => {
                let kind = match p {
                    WireProblem::Malformed(_) => FaultKind::Corrupt,
                    WireProblem::Unsigned | WireProblem::BadSignature => FaultKind::Untrusted,
                };
                Fetch::Fault(StoreFault::new(
                    kind,
                    format!("{}/ac/{key}: {p}", self.shown),
                ))
            }
        }
    }

    fn put_result(&self, key: &ActionKey, result: &ActionResult) -> Result<Put, StoreFault> {
        let t = self.transport()?;
        let names = self.names.lock().map(|m| m.clone()).unwrap_or_default();
        if let Some(d) = result
            .blobs()
            .into_iter()
            .find(|d| !names.contains_key(&d.hash))
        {
            return Err(StoreFault::new(
                FaultKind::Io,
                format!("blob {} was not uploaded before its result", d.hash),
            ));
        }
        let sha = |d: &Digest| names.get(&d.hash).cloned().unwrap_or_default();
        let kb = key_bytes(key);
        let small = |d: &Digest| self.small_blob(d);
        let wire = to_wire(&kb, result, &sha, &small, self.trust.signer.as_ref());
        t.update_action_result(&action_digest(&kb), &wire)
    }

    fn location(&self) -> String {
        self.shown.clone()
    }

    fn requests(&self) -> u64 {
        match self.transport.get() {
            Some(Ok(t)) => t.requests(),
            _ => 0,
        }
    }

    fn bytes_downloaded(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn wire_name(&self, digest: &Digest) -> Option<String> {
        self.known_wire_name(digest)
    }

    fn learn_wire_name(&self, digest: &Digest, name: &str) {
        self.remember(digest.hash, name);
    }
}
