//! What `--remote-*` flags say: where the shared cache is, how to reach it,
//! whether to write to it, and whose signatures to require.

use std::path::PathBuf;
use std::time::Duration;

use super::signing::{key_text, ResultSigner, ResultVerifier};
use super::Trust;
use crate::exec::store::{FaultKind, StoreFault};

/// Where the shared cache is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteOptions {
    /// `grpc://HOST:PORT`, `grpcs://…`, `http://…/cache` or `https://…`.
    pub url: String,
    /// False for `--remote-upload=false` (read only).
    pub upload: bool,
    /// Limit for one whole request or call (connecting is capped at 2 s).
    pub timeout: Duration,
    /// REAPI instance name (gRPC only).
    pub instance_name: String,
    /// Headers (HTTP) or metadata (gRPC) sent with every request.
    pub headers: Vec<(String, String)>,
    /// A PEM file of roots to trust instead of the public ones.
    pub ca_file: Option<PathBuf>,
    /// Secret key (64 hex digits) that signs every uploaded result.
    pub signing_key: Option<String>,
    /// Public key (64 hex digits) results must be signed with.
    pub verify_key: Option<String>,
}

impl RemoteOptions {
    /// A remote at `url` with the default 5 s request timeout and nothing else.
    pub fn new(url: impl Into<String>, upload: bool) -> Self {
        RemoteOptions {
            url: url.into(),
            upload,
            timeout: Duration::from_secs(5),
            instance_name: String::new(),
            headers: Vec::new(),
            ca_file: None,
            signing_key: None,
            verify_key: None,
        }
    }

    /// Whether results are written to the remote: `upload`, unless this
    /// is a reader that requires signatures and cannot sign. Its results
    /// would be unsigned, refused by every reader that verifies (itself
    /// included), and a write replaces the signed entry of the same action
    /// (an HTTP PUT does): one reader with a stale or wrong key would
    /// otherwise empty the shared cache for everyone who checks signatures.
    pub fn uploads(&self) -> bool {
        self.upload && (self.signing_key.is_some() || self.verify_key.is_none())
    }

    /// The signer and verifier these options name. A writer that signs and
    /// names no other verify key checks reads against its own key.
    pub fn trust(&self) -> Result<Trust, StoreFault> {
        let bad = |e: super::signing::KeyError| StoreFault::new(FaultKind::Io, e.to_string());
        let signer = match &self.signing_key {
            Some(k) => Some(ResultSigner::from_hex(k).map_err(bad)?),
            None => None,
        };
        let verifier = match &self.verify_key {
            Some(k) => Some(ResultVerifier::from_hex(&key_text(k).map_err(bad)?).map_err(bad)?),
            None => signer.as_ref().map(ResultSigner::verifier),
        };
        Ok(Trust { signer, verifier })
    }

    /// The bytes of `ca_file`, if set.
    pub fn ca_pem(&self) -> Result<Option<Vec<u8>>, StoreFault> {
        match &self.ca_file {
            None => Ok(None),
            Some(p) => std::fs::read(p).map(Some).map_err(|e| {
                StoreFault::new(
                    FaultKind::Io,
                    format!("cannot read the CA certificate file {}: {e}", p.display()),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reader_that_verifies_without_signing_is_kept_from_uploading() {
        let key = "11".repeat(32);
        let mut o = RemoteOptions::new("http://h/c", true);
        assert!(o.uploads(), "no keys: uploads");
        o.signing_key = Some(key.clone());
        assert!(o.uploads(), "signs (and checks its own key)");
        o.verify_key = Some(key.clone());
        assert!(o.uploads(), "signs and checks another key");
        o.signing_key = None;
        assert!(!o.uploads(), "checks but cannot sign");
        o.verify_key = None;
        o.upload = false;
        assert!(!o.uploads(), "--remote-upload=false");
    }
}
