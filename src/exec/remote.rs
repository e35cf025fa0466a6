//! The shared HTTP cache, spoken in Bazel's HTTP cache protocol.
//!
//! `GET/PUT URL/ac/<action key>` holds action results and
//! `GET/PUT URL/cas/<sha256 hex>` holds blobs. Blobs are named by SHA-256 on
//! the wire (what bazel-remote checks), while everything local is BLAKE3; an
//! AC entry therefore carries the BLAKE3 → SHA-256 map of the blobs it names
//! (JSON, see docs/cache.md). A plain nginx WebDAV server stores anything;
//! bazel-remote needs `--disable_http_ac_validation` for these JSON entries.
//! Only `http://` is supported (ureq is built without TLS).
//!
//! Every byte fetched is checked against both names before it is returned.

pub mod grpc;
pub mod transport;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::action::{ActionKey, ActionResult};
use super::digest::{sha256_hex, Digest};
use super::store::{FaultKind, Fetch, Put, Store, StoreFault};

/// Format tag of a remote AC entry.
pub const REMOTE_AC_FORMAT: &str = "coex-ac-v1";

/// Largest AC entry accepted from a server.
const MAX_AC_BYTES: u64 = 1 << 20;

/// A remote AC entry: the result plus the wire names of its blobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RemoteEntry {
    format: String,
    result: ActionResult,
    /// BLAKE3 hex → SHA-256 hex of every blob the result names.
    cas_sha256: BTreeMap<String, String>,
}

/// A Bazel-protocol HTTP cache at a base URL.
pub struct RemoteStore {
    base: String,
    agent: ureq::Agent,
    /// BLAKE3 → SHA-256 names learned from results read or blobs written.
    names: Mutex<BTreeMap<String, String>>,
}

impl RemoteStore {
    /// A client for `base_url` (e.g. `http://127.0.0.1:8080/cache`), with short
    /// timeouts (connect 2 s, whole request 5 s) so a dead server costs little.
    pub fn new(base_url: &str) -> Self {
        Self::with_timeout(base_url, Duration::from_secs(5))
    }

    /// Like [`Self::new`] with another limit for a whole request.
    pub fn with_timeout(base_url: &str, total: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(2).min(total)))
            .timeout_global(Some(total))
            .build();
        RemoteStore {
            base: base_url.trim_end_matches('/').to_string(),
            agent: ureq::Agent::new_with_config(config),
            names: Mutex::new(BTreeMap::new()),
        }
    }

    fn remember(&self, blake3: &str, sha: &str) {
        if let Ok(mut m) = self.names.lock() {
            m.insert(blake3.to_string(), sha.to_string());
        }
    }

    fn wire_name(&self, blake3: &str) -> Option<String> {
        self.names.lock().ok()?.get(blake3).cloned()
    }

    fn fault(&self, e: &ureq::Error, url: &str) -> StoreFault {
        match e {
            ureq::Error::StatusCode(c) => {
                StoreFault::new(FaultKind::BadStatus(*c), format!("{url}: {e}"))
            }
            // More bytes than the digest's size: wrong content, not a network problem.
            ureq::Error::BodyExceedsLimit(_) => StoreFault::new(
                FaultKind::Corrupt,
                format!("{url}: content does not match its digest (too long)"),
            ),
            _ => StoreFault::new(FaultKind::Unreachable, format!("{url}: {e}")),
        }
    }

    fn get(&self, url: &str, limit: u64) -> Fetch<Vec<u8>> {
        match self.agent.get(url).call() {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                if status == 404 {
                    return Fetch::Miss;
                }
                if status != 200 {
                    return Fetch::Fault(StoreFault::new(
                        FaultKind::BadStatus(status),
                        format!("{url}: HTTP status {status}"),
                    ));
                }
                match resp.body_mut().with_config().limit(limit).read_to_vec() {
                    Ok(b) => Fetch::Hit(b),
                    Err(e) => Fetch::Fault(self.fault(&e, url)),
                }
            }
            Err(e) => Fetch::Fault(self.fault(&e, url)),
        }
    }

    fn put(&self, url: &str, bytes: &[u8]) -> Result<Put, StoreFault> {
        match self.agent.put(url).send(bytes) {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if (200..300).contains(&status) {
                    Ok(Put::Stored)
                } else {
                    Err(StoreFault::new(
                        FaultKind::BadStatus(status),
                        format!("PUT {url}: HTTP status {status}"),
                    ))
                }
            }
            Err(e) => Err(self.fault(&e, url)),
        }
    }
}

impl Store for RemoteStore {
    fn get_blob(&self, digest: &Digest) -> Fetch<Vec<u8>> {
        let Some(sha) = self.wire_name(&digest.hash) else {
            return Fetch::Miss;
        };
        let url = format!("{}/cas/{sha}", self.base);
        match self.get(&url, digest.size.saturating_add(1)) {
            Fetch::Hit(bytes) => {
                if digest.matches(&bytes) && sha256_hex(&bytes) == sha {
                    Fetch::Hit(bytes)
                } else {
                    Fetch::Fault(StoreFault::new(
                        FaultKind::Corrupt,
                        format!("{url}: content does not match its digest"),
                    ))
                }
            }
            other => other,
        }
    }

    fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<Put, StoreFault> {
        let sha = sha256_hex(bytes);
        self.remember(&digest.hash, &sha);
        self.put(&format!("{}/cas/{sha}", self.base), bytes)
    }

    fn get_result(&self, key: &ActionKey) -> Fetch<ActionResult> {
        let url = format!("{}/ac/{}", self.base, key.0);
        match self.get(&url, MAX_AC_BYTES) {
            Fetch::Hit(bytes) => match serde_json::from_slice::<RemoteEntry>(&bytes) {
                Ok(entry)
                    if entry.format == REMOTE_AC_FORMAT
                        && entry
                            .result
                            .blobs()
                            .iter()
                            .all(|d| entry.cas_sha256.contains_key(&d.hash)) =>
                {
                    for (b, s) in &entry.cas_sha256 {
                        self.remember(b, s);
                    }
                    Fetch::Hit(entry.result)
                }
                _ => Fetch::Fault(StoreFault::new(
                    FaultKind::Corrupt,
                    format!("{url}: not a coex action result"),
                )),
            },
            Fetch::Miss => Fetch::Miss,
            Fetch::Fault(f) => Fetch::Fault(f),
        }
    }

    fn put_result(&self, key: &ActionKey, result: &ActionResult) -> Result<Put, StoreFault> {
        let mut cas_sha256 = BTreeMap::new();
        for d in result.blobs() {
            match self.wire_name(&d.hash) {
                Some(s) => {
                    cas_sha256.insert(d.hash.clone(), s);
                }
                None => {
                    return Err(StoreFault::new(
                        FaultKind::Io,
                        format!("blob {} was not uploaded before its result", d.hash),
                    ))
                }
            }
        }
        let entry = RemoteEntry {
            format: REMOTE_AC_FORMAT.to_string(),
            result: result.clone(),
            cas_sha256,
        };
        let body = serde_json::to_vec(&entry).map_err(|e| {
            StoreFault::new(FaultKind::Io, format!("cannot encode action result: {e}"))
        })?;
        self.put(&format!("{}/ac/{}", self.base, key.0), &body)
    }

    fn location(&self) -> String {
        self.base.clone()
    }
}
