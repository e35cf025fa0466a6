//! Bazel's HTTP cache protocol: `GET/PUT BASE/ac/<sha256>` holds REAPI
//! `ActionResult` messages (protobuf), `GET/PUT BASE/cas/<sha256>` blobs.
//!
//! `http://` and `https://` (rustls; `--remote-ca` adds a private root).
//! Credentials written in the URL (`https://user:token@host/…`) become an
//! `Authorization: Basic` header and are dropped from every message; headers
//! from `--remote-header` go with every request. Redirects are not followed:
//! a cache that moved must be named by its new URL, and a redirect must not
//! carry credentials or results to another server.

use base64::Engine as _;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;

use super::transport::{Transport, WireDigest, WireResult};
use crate::exec::store::{FaultKind, Fetch, Put, StoreFault};

/// Largest action-cache entry accepted from a server.
const MAX_AC_BYTES: u64 = 4 << 20;

/// Where and how to reach an HTTP cache.
#[derive(Debug, Clone)]
pub struct HttpEndpoint {
    /// `http://…` or `https://…`, possibly with `user:password@`.
    pub url: String,
    /// Extra request headers (name, value), e.g. an API key.
    pub headers: Vec<(String, String)>,
    /// PEM certificates to trust instead of the public web roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Limit for one whole request (connecting is capped at 2 s as well).
    pub timeout: Duration,
}

/// An HTTP cache client.
pub struct HttpTransport {
    /// Base URL without credentials.
    base: String,
    agent: ureq::Agent,
    headers: Vec<(String, String)>,
    /// Requests sent (each GET or PUT is one round trip).
    sent: std::sync::atomic::AtomicU64,
}

/// A URL split into its credentials and the rest.
struct SplitUrl {
    /// `scheme://host[:port]/path` without `user:password@`.
    bare: String,
    /// `user:password` if the URL had them.
    userinfo: Option<String>,
}

fn split_url(url: &str) -> Option<SplitUrl> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, authority),
    };
    if host.is_empty() {
        return None;
    }
    Some(SplitUrl {
        bare: format!("{scheme}://{host}{}", path.trim_end_matches('/')),
        userinfo,
    })
}

/// `url` with any `user:password@` removed: what messages may show.
pub fn redact(url: &str) -> String {
    split_url(url).map_or_else(|| "<remote cache>".to_string(), |s| s.bare)
}

/// Why a CA file cannot be used (worded by each caller for its flag).
#[derive(Debug)]
pub enum CaProblem {
    /// Not PEM: the parser's reason.
    NotPem(String),
    /// Valid PEM without a certificate.
    NoCertificate,
}

/// A TLS configuration trusting exactly the certificates in `ca_pem`, or
/// the public web roots when there is none: shared by the remote cache and
/// `coex pkg install`.
pub fn tls_with_roots(ca_pem: Option<&[u8]>) -> Result<ureq::tls::TlsConfig, CaProblem> {
    let mut b = ureq::tls::TlsConfig::builder();
    if let Some(pem) = ca_pem {
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(CaProblem::NotPem(e.to_string())),
            }
        }
        if certs.is_empty() {
            return Err(CaProblem::NoCertificate);
        }
        b = b.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
    }
    Ok(b.build())
}

fn tls_config(ca_pem: Option<&[u8]>) -> Result<ureq::tls::TlsConfig, StoreFault> {
    tls_with_roots(ca_pem).map_err(|p| {
        let detail = match p {
            CaProblem::NotPem(e) => format!("the CA certificate file is not valid PEM: {e}"),
            CaProblem::NoCertificate => "the CA certificate file holds no certificate".to_string(),
        };
        StoreFault::new(FaultKind::Io, detail)
    })
}

/// Checks that `pem` holds at least one certificate and nothing that is not
/// PEM (what `--remote-ca` must name).
pub fn check_ca_pem(pem: &[u8]) -> Result<(), StoreFault> {
    tls_config(Some(pem)).map(|_| ())
}

impl HttpTransport {
    /// A client for `endpoint`; refuses a URL it cannot use.
    pub fn new(endpoint: &HttpEndpoint) -> Result<Self, StoreFault> {
        let split = split_url(&endpoint.url)
            .filter(|s| s.bare.starts_with("http://") || s.bare.starts_with("https://"))
            .ok_or_else(|| StoreFault::new(FaultKind::Io, "not an http:// or https:// URL"))?;
        let mut headers = endpoint.headers.clone();
        if let Some(u) = &split.userinfo {
            let token = base64::engine::general_purpose::STANDARD.encode(u.as_bytes());
            headers.push(("Authorization".to_string(), format!("Basic {token}")));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(2).min(endpoint.timeout)))
            .timeout_global(Some(endpoint.timeout))
            .tls_config(tls_config(endpoint.ca_pem.as_deref())?)
            .build();
        Ok(HttpTransport {
            base: split.bare,
            agent: ureq::Agent::new_with_config(config),
            headers,
            sent: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn fault(&self, e: &ureq::Error, what: &str) -> StoreFault {
        let here = format!("{}/{what}", self.base);
        match e {
            ureq::Error::StatusCode(c) => {
                StoreFault::new(FaultKind::BadStatus(*c), format!("{here}: {e}"))
            }
            // More bytes than the digest's size: wrong content, not a network problem.
            ureq::Error::BodyExceedsLimit(_) => StoreFault::new(
                FaultKind::Corrupt,
                format!("{here}: content does not match its digest (too long)"),
            ),
            _ => StoreFault::new(FaultKind::Unreachable, format!("{here}: {e}")),
        }
    }

    fn status_fault(&self, status: u16, location: Option<&str>, what: &str) -> StoreFault {
        let here = format!("{}/{what}", self.base);
        let detail = match location {
            Some(to) if (300..400).contains(&status) => format!(
                "{here}: HTTP status {status}, a redirect to {}; coex does not follow \
                 redirects (credentials and results would go elsewhere): use the final URL in \
                 --remote-cache",
                redact(to)
            ),
            _ => format!("{here}: HTTP status {status}"),
        };
        StoreFault::new(FaultKind::BadStatus(status), detail)
    }

    fn get(&self, what: &str, limit: u64) -> Fetch<Vec<u8>> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut req = self.agent.get(format!("{}/{what}", self.base));
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.call() {
            Ok(mut resp) => match resp.status().as_u16() {
                404 => Fetch::Miss,
                200 => match resp.body_mut().with_config().limit(limit).read_to_vec() {
                    Ok(b) => Fetch::Hit(b),
                    Err(e) => Fetch::Fault(self.fault(&e, what)),
                },
                s => {
                    let to = resp.headers().get("location").and_then(|v| v.to_str().ok());
                    Fetch::Fault(self.status_fault(s, to, what))
                }
            },
            Err(e) => Fetch::Fault(self.fault(&e, what)),
        }
    }

    fn put(&self, what: &str, bytes: &[u8]) -> Result<Put, StoreFault> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut req = self.agent.put(format!("{}/{what}", self.base));
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.send(bytes) {
            Ok(resp) => match resp.status().as_u16() {
                200..=299 => Ok(Put::Stored),
                s => {
                    let to = resp.headers().get("location").and_then(|v| v.to_str().ok());
                    Err(self.status_fault(s, to, what))
                }
            },
            Err(e) => Err(self.fault(&e, what)),
        }
    }
}

impl Transport for HttpTransport {
    fn get_action_result(&self, action: &WireDigest) -> Fetch<WireResult> {
        let what = format!("ac/{}", action.hash);
        match self.get(&what, MAX_AC_BYTES) {
            Fetch::Hit(bytes) => match WireResult::decode(bytes.as_slice()) {
                Ok(r) => Fetch::Hit(r),
                Err(_) => Fetch::Fault(StoreFault::new(
                    FaultKind::Corrupt,
                    format!("{}/{what}: not a REAPI ActionResult", self.base),
                )),
            },
            Fetch::Miss => Fetch::Miss,
            Fetch::Fault(f) => Fetch::Fault(f),
        }
    }

    fn update_action_result(
        &self,
        action: &WireDigest,
        result: &WireResult,
    ) -> Result<Put, StoreFault> {
        self.put(&format!("ac/{}", action.hash), &result.encode_to_vec())
    }

    /// The HTTP protocol cannot ask; every blob is written (PUT is idempotent).
    fn find_missing_blobs(&self, blobs: &[WireDigest]) -> Result<Vec<WireDigest>, StoreFault> {
        Ok(blobs.to_vec())
    }

    fn read_blobs(&self, blobs: &[WireDigest]) -> Vec<Fetch<Vec<u8>>> {
        blobs
            .iter()
            .map(|d| {
                let limit = u64::try_from(d.size_bytes).unwrap_or(0).saturating_add(1);
                self.get(&format!("cas/{}", d.hash), limit)
            })
            .collect()
    }

    fn write_blobs(&self, blobs: &[(WireDigest, &[u8])]) -> Result<Put, StoreFault> {
        for (d, bytes) in blobs {
            self.put(&format!("cas/{}", d.hash), bytes)?;
        }
        Ok(Put::Stored)
    }

    fn location(&self) -> String {
        self.base.clone()
    }

    fn requests(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_a_message() {
        assert_eq!(
            redact("https://bob:s3cret@cache.example:9090/c/"),
            "https://cache.example:9090/c"
        );
        assert_eq!(redact("http://h/cache"), "http://h/cache");
        assert_eq!(redact("nonsense"), "<remote cache>");
        let t = HttpTransport::new(&HttpEndpoint {
            url: "http://bob:s3cret@127.0.0.1:9/cache".into(),
            headers: vec![],
            ca_pem: None,
            timeout: Duration::from_secs(1),
        })
        .expect("valid");
        assert!(!t.location().contains("s3cret"));
        assert!(t.headers.iter().any(|(k, _)| k == "Authorization"));
        if let Fetch::Fault(f) = t.get("ac/x", 10) {
            assert!(!f.detail.contains("s3cret"), "{}", f.detail);
        }
    }

    #[test]
    fn a_bad_ca_file_is_refused() {
        assert!(tls_config(Some(b"not pem")).is_err());
    }
}
