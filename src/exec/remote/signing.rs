//! Signed action results: who may write what a reader will trust.
//!
//! A remote cache answers "the result of action K is R"; without a check, any
//! server (or anyone who can write to it) can answer with another program's
//! valid blobs. A writer holding an ed25519 secret key signs the *meaning* of
//! each result — the action key, every output's path and both of its names
//! (BLAKE3 and SHA-256) and size, stdout, stderr, the exit code — so a
//! signature can neither be moved to another action nor survive a changed
//! output. Readers given the public key use only results it verifies.
//!
//! Keys are 32 bytes written as 64 hex digits: the secret is the ed25519 seed.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::fmt::Write as _;
use std::path::Path;

use crate::exec::action::ActionResult;
use crate::exec::digest::Digest;

/// Domain tag: a signature made for anything else never verifies here.
const DOMAIN: &str = "coex-signed-action-result-v1";

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text is not 64 hex digits.
    #[error("{what} must be 64 hexadecimal digits (32 bytes), as printed by `coex cache keygen`")]
    NotHex {
        /// Which key ("the signing key", "the verify key").
        what: &'static str,
    },
    /// 32 bytes that are not a valid ed25519 public key.
    #[error("{what} is not a valid ed25519 public key")]
    BadPoint {
        /// Which key.
        what: &'static str,
    },
    /// A key file could not be read.
    #[error("cannot read the key file {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn parse_32(text: &str, what: &'static str) -> Result<[u8; 32], KeyError> {
    let t = text.trim();
    let mut out = [0u8; 32];
    if t.len() != 64 || !t.is_ascii() {
        return Err(KeyError::NotHex { what });
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte =
            u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|_| KeyError::NotHex { what })?;
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Reads a key given either as 64 hex digits or as the path of a file that
/// holds them (a reader's `--remote-verify-key` may be either).
pub fn key_text(arg: &str) -> Result<String, KeyError> {
    let t = arg.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(t.to_string());
    }
    std::fs::read_to_string(Path::new(arg)).map_err(|source| KeyError::Unreadable {
        path: arg.to_string(),
        source,
    })
}

/// A writer's secret key.
pub struct ResultSigner(SigningKey);

impl ResultSigner {
    /// From 64 hex digits (the seed).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        Ok(ResultSigner(SigningKey::from_bytes(&parse_32(
            text,
            "the signing key",
        )?)))
    }

    /// A fresh random key from the operating system.
    pub fn generate() -> Result<Self, std::io::Error> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(ResultSigner(SigningKey::from_bytes(&seed)))
    }

    /// The secret as 64 hex digits (what a key file holds).
    pub fn secret_hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    /// The matching public key, for readers.
    pub fn verifier(&self) -> ResultVerifier {
        ResultVerifier(self.0.verifying_key())
    }

    /// The signature of `result` as the result of the action `key`.
    pub fn sign(
        &self,
        key: &[u8],
        result: &ActionResult,
        sha: &dyn Fn(&Digest) -> String,
    ) -> Vec<u8> {
        self.0
            .sign(&signed_bytes(key, result, sha))
            .to_bytes()
            .to_vec()
    }
}

/// A reader's public key.
#[derive(Clone)]
pub struct ResultVerifier(VerifyingKey);

impl ResultVerifier {
    /// From 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes = parse_32(text, "the verify key")?;
        VerifyingKey::from_bytes(&bytes)
            .map(ResultVerifier)
            .map_err(|_| KeyError::BadPoint {
                what: "the verify key",
            })
    }

    /// The public key as 64 hex digits.
    pub fn public_hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    /// True when `signature` is this key's signature of `result` for `key`.
    pub fn verify(
        &self,
        key: &[u8],
        result: &ActionResult,
        sha: &dyn Fn(&Digest) -> String,
        signature: &[u8],
    ) -> bool {
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify(&signed_bytes(key, result, sha), &sig).is_ok()
    }
}

/// The bytes a signature covers: one line per fact, in a fixed order, so
/// that a re-encoded protobuf (servers may re-serialize) still verifies.
fn signed_bytes(key: &[u8], result: &ActionResult, sha: &dyn Fn(&Digest) -> String) -> Vec<u8> {
    let mut s = format!(
        "{DOMAIN}\naction\t{}\nexit\t{}\n",
        hex(key),
        result.exit_code
    );
    let mut line = |tag: &str, name: &str, d: &Digest| {
        let _ = writeln!(s, "{tag}\t{name}\t{}\t{}\t{}", d.hash, sha(d), d.size);
    };
    for (path, d) in &result.outputs {
        line("output", path, d);
    }
    line("stdout", "", &result.stdout);
    line("stderr", "", &result.stderr);
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn result(out: &[u8]) -> ActionResult {
        let mut outputs = BTreeMap::new();
        outputs.insert("obj/a.o".to_string(), Digest::of(out));
        ActionResult {
            outputs,
            exit_code: 0,
            stdout: Digest::of(b""),
            stderr: Digest::of(b""),
        }
    }

    fn sha(d: &Digest) -> String {
        format!("sha-of-{}", d.hash)
    }

    #[test]
    fn a_signature_holds_for_its_action_and_result_only() {
        let signer = ResultSigner::generate().expect("random");
        let v = signer.verifier();
        let sig = signer.sign(b"key-1", &result(b"A"), &sha);
        assert!(v.verify(b"key-1", &result(b"A"), &sha, &sig));
        assert!(
            !v.verify(b"key-2", &result(b"A"), &sha, &sig),
            "moved to another action"
        );
        assert!(
            !v.verify(b"key-1", &result(b"B"), &sha, &sig),
            "another output"
        );
        let other_sha = |d: &Digest| format!("other-{}", d.hash);
        assert!(
            !v.verify(b"key-1", &result(b"A"), &other_sha, &sig),
            "another wire name"
        );
        let stranger = ResultSigner::generate().expect("random").verifier();
        assert!(
            !stranger.verify(b"key-1", &result(b"A"), &sha, &sig),
            "another key"
        );
        assert!(!v.verify(b"key-1", &result(b"A"), &sha, b"short"));
    }

    #[test]
    fn keys_round_trip_through_hex_and_bad_text_is_refused() {
        let s = ResultSigner::generate().expect("random");
        let again = ResultSigner::from_hex(&s.secret_hex()).expect("parse");
        assert_eq!(again.verifier().public_hex(), s.verifier().public_hex());
        let v = ResultVerifier::from_hex(&format!(" {}\n", s.verifier().public_hex()));
        assert!(v.is_ok());
        assert!(matches!(
            ResultSigner::from_hex("abc"),
            Err(KeyError::NotHex { .. })
        ));
        assert!(ResultVerifier::from_hex(&"zz".repeat(32)).is_err());
        assert!(ResultVerifier::from_hex(&"é".repeat(32)).is_err());
    }
}
