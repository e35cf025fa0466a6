//! Content digests: the names every blob and action goes by.
//!
//! Locally everything is named by BLAKE3 (fast, and what the keys use); the
//! Bazel HTTP cache protocol names CAS blobs by SHA-256, so a helper for that
//! lives here too.

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::fmt;

/// A blob's identity, REAPI style: lowercase BLAKE3 hex plus its length.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Digest {
    /// 64 lowercase hex digits of the BLAKE3 hash.
    pub hash: String,
    /// Length of the blob in bytes.
    pub size: u64,
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hash: blake3::hash(bytes).to_hex().to_string(),
            size: bytes.len() as u64,
        }
    }

    /// True when `bytes` really are the blob this digest names.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.size && blake3::hash(bytes).to_hex().as_str() == self.hash
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.hash, self.size)
    }
}

/// Lowercase SHA-256 hex of `bytes` (the remote CAS name of a blob).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let out = sha2::Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in out.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// True for a string that can be a file name of a cache entry (64 lowercase hex).
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_its_bytes_only() {
        let d = Digest::of(b"hello");
        assert_eq!(d.size, 5);
        assert!(d.matches(b"hello"));
        assert!(!d.matches(b"hellO"));
        assert!(is_hex64(&d.hash));
    }

    #[test]
    fn sha256_of_empty_is_the_known_value() {
        // Public constant: SHA-256 of the empty string.
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
