//! Local action results as REAPI `ActionResult` messages, and back.
//!
//! Locally every blob is named by BLAKE3; on the wire REAPI names blobs by
//! SHA-256. A stored result is a plain REAPI `ActionResult` (so bazel-remote,
//! BuildGrid and any other server accept it without special flags) whose
//! outputs, stdout and stderr carry SHA-256 digests. One
//! `execution_metadata.auxiliary_metadata` entry (type
//! [`NAMES_TYPE_URL`]) adds the BLAKE3 name of each blob and, when the writer
//! holds a key, the signature (see `signing.rs`). Servers keep it as opaque
//! bytes.
//!
//! Small blobs (at most [`INLINE_LIMIT`] bytes: the list of discovered
//! inputs, most stdout and stderr) also travel inside the result
//! (`OutputFile.contents`, `stdout_raw`, `stderr_raw`), so a reader needs no
//! second round trip for them. They are checked against both names like any
//! blob, and are in the CAS as well (servers check a result's blobs exist).
//!
//! The action cache key of action `K` (32 BLAKE3 bytes) is the REAPI digest of
//! those 32 bytes: SHA-256 hex of `K`, size 32.

use bazel_remote_apis::build::bazel::remote::execution::v2 as reapi;
use bazel_remote_apis::google::protobuf::Any;
use prost::Message;
use std::collections::BTreeMap;

use super::signing::{ResultSigner, ResultVerifier};
use super::transport::{WireDigest, WireResult};
use crate::exec::action::ActionResult;
use crate::exec::digest::{sha256_hex, Blake3Hash, Digest, Sha256Hash};

/// Largest blob carried inside a result.
pub const INLINE_LIMIT: u64 = 16 * 1024;

/// Type URL of coex's metadata inside a stored `ActionResult`.
pub const NAMES_TYPE_URL: &str = "type.googleapis.com/coex.v1.ResultNames";

/// The BLAKE3 names (and signature) coex keeps beside a REAPI result.
#[derive(Clone, PartialEq, prost::Message)]
struct ResultNames {
    /// One entry per blob the result names.
    #[prost(message, repeated, tag = "1")]
    blobs: Vec<BlobName>,
    /// ed25519 signature of the result (empty: unsigned).
    #[prost(bytes = "vec", tag = "2")]
    signature: Vec<u8>,
}

/// A blob's two names.
#[derive(Clone, PartialEq, prost::Message)]
struct BlobName {
    #[prost(string, tag = "1")]
    sha256: String,
    #[prost(string, tag = "2")]
    blake3: String,
}

/// Why a stored result cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireProblem {
    /// Not a result coex wrote (or damaged on the way).
    #[error("not a coex action result: {0}")]
    Malformed(String),
    /// The reader requires signatures and this result has none.
    #[error("the result is not signed")]
    Unsigned,
    /// A signature that the reader's key does not verify.
    #[error("the result's signature does not verify with the configured key")]
    BadSignature,
}

/// The REAPI action digest standing for local action key bytes.
pub fn action_digest(key: &[u8]) -> WireDigest {
    WireDigest {
        hash: sha256_hex(key),
        size_bytes: 32,
    }
}

/// The wire digest of a blob with SHA-256 hex `sha` and size `size`.
pub fn wire_digest(sha: &str, size: u64) -> WireDigest {
    WireDigest {
        hash: sha.to_string(),
        size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
    }
}

/// Encodes `result` of action `key` for the wire. `sha` gives the SHA-256
/// name of each blob (all were uploaded first, so all are known).
pub fn to_wire(
    key: &[u8],
    result: &ActionResult,
    sha: &dyn Fn(&Digest) -> String,
    small: &dyn Fn(&Digest) -> Option<Vec<u8>>,
    signer: Option<&ResultSigner>,
) -> WireResult {
    let wd = |d: &Digest| wire_digest(&sha(d), d.size);
    let inline = |d: &Digest| {
        (d.size <= INLINE_LIMIT)
            .then(|| small(d))
            .flatten()
            .unwrap_or_default()
    };
    let output_files = result
        .outputs
        .iter()
        .map(|(path, d)| reapi::OutputFile {
            path: path.clone(),
            digest: Some(wd(d)),
            contents: inline(d),
            ..Default::default()
        })
        .collect();
    let names = ResultNames {
        blobs: result
            .blobs()
            .into_iter()
            .map(|d| BlobName {
                sha256: sha(d),
                blake3: d.hash.to_hex(),
            })
            .collect(),
        signature: signer.map(|s| s.sign(key, result, sha)).unwrap_or_default(),
    };
    WireResult {
        output_files,
        exit_code: result.exit_code,
        stdout_digest: Some(wd(&result.stdout)),
        stderr_digest: Some(wd(&result.stderr)),
        stdout_raw: inline(&result.stdout),
        stderr_raw: inline(&result.stderr),
        execution_metadata: Some(reapi::ExecutedActionMetadata {
            worker: "coex".to_string(),
            auxiliary_metadata: vec![Any {
                type_url: NAMES_TYPE_URL.to_string(),
                value: names.encode_to_vec(),
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A decoded result plus the SHA-256 wire name of each of its blobs.
pub struct Decoded {
    /// The result, in local (BLAKE3) names.
    pub result: ActionResult,
    /// BLAKE3 name → SHA-256 hex of every blob the result names.
    pub wire_names: BTreeMap<Blake3Hash, String>,
    /// Blobs that came inside the result, checked against both names.
    pub inline: Vec<(Digest, Vec<u8>)>,
}

/// The bytes of `d` carried inline (`raw`), if they are really its bytes:
/// an empty blob needs none; wrong inline bytes are ignored (the blob is
/// then read from the CAS and checked there).
fn inline_blob(d: &Digest, sha: &str, raw: &[u8]) -> Option<(Digest, Vec<u8>)> {
    if raw.is_empty() && d.size != 0 {
        return None;
    }
    (d.matches(raw) && sha256_hex(raw) == sha).then(|| (d.clone(), raw.to_vec()))
}

/// Decodes a stored result of action `key`; with a verifier, only a result
/// it verifies is accepted.
pub fn from_wire(
    key: &[u8],
    wire: &WireResult,
    verifier: Option<&ResultVerifier>,
) -> Result<Decoded, WireProblem> {
    let bad = |why: &str| WireProblem::Malformed(why.to_string());
    let names = coex_names(wire)?;
    if !wire.output_directories.is_empty() || !wire.output_symlinks.is_empty() {
        return Err(bad("it has directories or symlinks among its outputs"));
    }
    let by_sha: BTreeMap<&str, &str> = names
        .blobs
        .iter()
        .map(|b| (b.sha256.as_str(), b.blake3.as_str()))
        .collect();
    let local = |d: Option<&WireDigest>, what: &str| -> Result<(Digest, String), WireProblem> {
        let d = d.ok_or_else(|| bad(&format!("{what} has no digest")))?;
        let size = u64::try_from(d.size_bytes).map_err(|_| bad("a negative blob size"))?;
        let blake3 = by_sha
            .get(d.hash.as_str())
            .filter(|_| Sha256Hash::from_hex(&d.hash).is_some())
            .and_then(|b| Blake3Hash::from_hex(b))
            .ok_or_else(|| bad(&format!("{what} has no valid BLAKE3 name")))?;
        Ok((Digest { hash: blake3, size }, d.hash.clone()))
    };
    let mut wire_names = BTreeMap::new();
    let mut outputs = BTreeMap::new();
    let mut inline = Vec::new();
    for f in &wire.output_files {
        let (d, sha) = local(f.digest.as_ref(), &format!("output '{}'", f.path))?;
        inline.extend(inline_blob(&d, &sha, &f.contents));
        wire_names.insert(d.hash, sha);
        if outputs.insert(f.path.clone(), d).is_some() {
            return Err(bad(&format!("output '{}' is listed twice", f.path)));
        }
    }
    let (stdout, s1) = local(wire.stdout_digest.as_ref(), "stdout")?;
    let (stderr, s2) = local(wire.stderr_digest.as_ref(), "stderr")?;
    inline.extend(inline_blob(&stdout, &s1, &wire.stdout_raw));
    inline.extend(inline_blob(&stderr, &s2, &wire.stderr_raw));
    wire_names.insert(stdout.hash, s1);
    wire_names.insert(stderr.hash, s2);
    let result = ActionResult {
        outputs,
        exit_code: wire.exit_code,
        stdout,
        stderr,
    };
    if let Some(v) = verifier {
        check_signature(key, &result, &wire_names, &names.signature, v)?;
    }
    Ok(Decoded {
        result,
        wire_names,
        inline,
    })
}

fn coex_names(wire: &WireResult) -> Result<ResultNames, WireProblem> {
    let any = wire
        .execution_metadata
        .as_ref()
        .and_then(|m| {
            m.auxiliary_metadata
                .iter()
                .find(|a| a.type_url == NAMES_TYPE_URL)
        })
        .ok_or_else(|| WireProblem::Malformed("it carries no coex blob names".into()))?;
    ResultNames::decode(any.value.as_slice())
        .map_err(|e| WireProblem::Malformed(format!("its coex blob names do not decode: {e}")))
}

fn check_signature(
    key: &[u8],
    result: &ActionResult,
    wire_names: &BTreeMap<Blake3Hash, String>,
    signature: &[u8],
    verifier: &ResultVerifier,
) -> Result<(), WireProblem> {
    if signature.is_empty() {
        return Err(WireProblem::Unsigned);
    }
    let sha = |d: &Digest| wire_names.get(&d.hash).cloned().unwrap_or_default();
    if verifier.verify(key, result, &sha, signature) {
        Ok(())
    } else {
        Err(WireProblem::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ActionResult {
        let mut outputs = BTreeMap::new();
        outputs.insert("obj/a.o".to_string(), Digest::of(b"object"));
        outputs.insert("obj/b.o".to_string(), Digest::of(b"other"));
        ActionResult {
            outputs,
            exit_code: 0,
            stdout: Digest::of(b""),
            stderr: Digest::of(b"warning: x"),
        }
    }

    fn names(r: &ActionResult) -> BTreeMap<Blake3Hash, String> {
        // The real SHA-256 of each blob is not needed here, only a stable name.
        r.blobs()
            .into_iter()
            .map(|d| (d.hash, sha256_hex(d.hash.as_bytes())))
            .collect()
    }

    fn encode(r: &ActionResult, signer: Option<&ResultSigner>) -> WireResult {
        let n = names(r);
        to_wire(
            b"k1",
            r,
            &|d: &Digest| n[&d.hash].clone(),
            &|_| None,
            signer,
        )
    }

    #[test]
    fn a_result_survives_the_wire_and_a_protobuf_reencoding() {
        let r = sample();
        let w = encode(&r, None);
        let bytes = w.encode_to_vec();
        let back = WireResult::decode(bytes.as_slice()).expect("decodes");
        let d = from_wire(b"k1", &back, None).expect("valid");
        assert_eq!(d.result, r);
        assert_eq!(d.wire_names, names(&r));
        assert_eq!(w.output_files.len(), 2);
        assert_eq!(
            w.output_files[0].digest.as_ref().map(|x| x.hash.len()),
            Some(64)
        );
    }

    #[test]
    fn signatures_are_required_checked_and_bound_to_the_action() {
        let signer = ResultSigner::generate().expect("random");
        let v = signer.verifier();
        let r = sample();
        assert_eq!(
            from_wire(b"k1", &encode(&r, None), Some(&v)).err(),
            Some(WireProblem::Unsigned)
        );
        let signed = encode(&r, Some(&signer));
        assert!(from_wire(b"k1", &signed, Some(&v)).is_ok());
        assert_eq!(
            from_wire(b"k2", &signed, Some(&v)).err(),
            Some(WireProblem::BadSignature)
        );
        let mut forged = signed.clone();
        // The attack a signature must stop: a well-formed result whose output
        // names another valid blob.
        forged.output_files[0].digest = forged.output_files[1].digest.clone();
        assert!(
            from_wire(b"k1", &forged, None).is_ok(),
            "unsigned readers cannot tell"
        );
        assert_eq!(
            from_wire(b"k1", &forged, Some(&v)).err(),
            Some(WireProblem::BadSignature)
        );
    }

    #[test]
    fn foreign_or_damaged_results_are_malformed() {
        let r = sample();
        let mut w = encode(&r, None);
        w.execution_metadata = None;
        assert!(matches!(
            from_wire(b"k1", &w, None),
            Err(WireProblem::Malformed(_))
        ));
        let mut w = encode(&r, None);
        w.stdout_digest = None;
        assert!(matches!(
            from_wire(b"k1", &w, None),
            Err(WireProblem::Malformed(_))
        ));
        let mut w = encode(&r, None);
        w.output_files[0].digest.as_mut().expect("digest").hash = "00".repeat(32);
        assert!(matches!(
            from_wire(b"k1", &w, None),
            Err(WireProblem::Malformed(_))
        ));
        let mut w = encode(&r, None);
        w.output_files[1].path = "obj/a.o".into();
        assert!(matches!(
            from_wire(b"k1", &w, None),
            Err(WireProblem::Malformed(_))
        ));
    }

    #[test]
    fn small_blobs_ride_inside_the_result_and_wrong_inline_bytes_are_ignored() {
        let mut outputs = BTreeMap::new();
        outputs.insert("list.json".to_string(), Digest::of(b"[]"));
        let r = ActionResult {
            outputs,
            exit_code: 0,
            stdout: Digest::of(b""),
            stderr: Digest::of(b"warn"),
        };
        let bytes = |d: &Digest| {
            [&b"[]"[..], b"", b"warn"]
                .into_iter()
                .find(|b| d.matches(b))
                .map(<[u8]>::to_vec)
        };
        let sha = |d: &Digest| sha256_hex(&bytes(d).expect("known"));
        let w = to_wire(b"k", &r, &sha, &bytes, None);
        assert_eq!(w.output_files[0].contents, b"[]");
        assert_eq!(w.stderr_raw, b"warn");
        let d = from_wire(b"k", &w, None).expect("valid");
        let mut got: Vec<Vec<u8>> = d.inline.iter().map(|(_, b)| b.clone()).collect();
        got.sort();
        assert_eq!(got, vec![b"".to_vec(), b"[]".to_vec(), b"warn".to_vec()]);
        let mut bad = w.clone();
        bad.output_files[0].contents = b"{}".to_vec();
        let d = from_wire(b"k", &bad, None).expect("still a valid result");
        assert!(
            d.inline.iter().all(|(_, b)| b != b"{}"),
            "wrong bytes are not used"
        );
        assert_eq!(d.inline.len(), 2);
    }
}
