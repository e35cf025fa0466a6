//! Content digests: the names every blob and action goes by.
//!
//! Locally everything is named by BLAKE3 (fast, and what the keys use); the
//! Bazel HTTP cache protocol names CAS blobs by SHA-256, so that hash lives
//! here too. Both are held as their 32 bytes ([`Blake3Hash`],
//! [`Sha256Hash`]) and compared as bytes; they become 64 lowercase hex
//! digits only at the edges: file names in the cache, JSON on disk, URLs,
//! what the CLI prints.

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::fmt;

/// 64 lowercase hex digits held on the stack: cache file names and key
/// encodings need the hex form of a hash on every lookup, and none of those
/// should cost an allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex64([u8; 64]);

impl Hex64 {
    fn of(bytes: &[u8; 32]) -> Hex64 {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in bytes.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
        }
        Hex64(out)
    }

    /// The digits as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into the buffer.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::ops::Deref for Hex64 {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Hex64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Hex64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of one lowercase hex digit.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// The 32 bytes spelt by exactly 64 lowercase hex digits, else `None`.
fn parse_hex64(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Defines a 32-byte hash type whose text form is 64 lowercase hex digits
/// (`Display`, `Debug` and serde alike, so JSON on disk stays a hex string).
macro_rules! hash32 {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 32]);

        impl $name {
            /// The hash with these raw bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                $name(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// The hex form on the stack (for file names and encodings).
            pub fn hex(&self) -> Hex64 {
                Hex64::of(&self.0)
            }

            /// The hex form as an owned string.
            pub fn to_hex(&self) -> String {
                self.hex().as_str().to_owned()
            }

            /// Parses exactly 64 lowercase hex digits (the only spelling
            /// coex writes); anything else is not a name of ours.
            pub fn from_hex(s: &str) -> Option<Self> {
                parse_hex64(s).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.hex().as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.hex().as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.hex().as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct HexVisitor;
                impl serde::de::Visitor<'_> for HexVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a {} as 64 lowercase hex digits", $what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_hex(v)
                            .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
                    }
                }
                d.deserialize_str(HexVisitor)
            }
        }
    };
}

hash32!(
    /// A BLAKE3 hash: what every local cache entry and every action key is
    /// named by. Ordered like its hex form, so sorted lists and JSON maps
    /// come out as they did when hashes were strings.
    Blake3Hash,
    "BLAKE3 hash"
);

hash32!(
    /// A SHA-256 hash: the name of a blob in the Bazel HTTP cache protocol
    /// (what bazel-remote checks), used only on the wire.
    Sha256Hash,
    "SHA-256 hash"
);

impl Blake3Hash {
    /// The BLAKE3 hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Blake3Hash {
        Blake3Hash(*blake3::hash(bytes).as_bytes())
    }
}

impl From<blake3::Hash> for Blake3Hash {
    fn from(h: blake3::Hash) -> Blake3Hash {
        Blake3Hash(*h.as_bytes())
    }
}

impl Sha256Hash {
    /// The SHA-256 hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256Hash {
        Sha256Hash(sha2::Sha256::digest(bytes).into())
    }
}

/// A blob's identity, REAPI style: its BLAKE3 hash plus its length.
/// Cloning one copies 40 bytes, no allocation. (Not `Copy`: that would
/// turn the `.clone()` calls all over the planner into lint errors.)
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Digest {
    /// The BLAKE3 hash (64 lowercase hex digits in JSON).
    pub hash: Blake3Hash,
    /// Length of the blob in bytes.
    pub size: u64,
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hash: Blake3Hash::of(bytes),
            size: bytes.len() as u64,
        }
    }

    /// True when `bytes` really are the blob this digest names.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.size && Blake3Hash::of(bytes) == self.hash
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.hash, self.size)
    }
}

/// Lowercase SHA-256 hex of `bytes` (the remote CAS name of a blob).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256Hash::of(bytes).to_hex()
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
        assert_eq!(d.hash.to_hex(), blake3::hash(b"hello").to_hex().as_str());
    }

    #[test]
    fn sha256_of_empty_is_the_known_value() {
        // Public constant: SHA-256 of the empty string.
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_other_spellings() {
        let h = Blake3Hash::of(b"x");
        assert_eq!(Blake3Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(format!("{h}"), h.to_hex());
        assert_eq!(format!("{h:?}"), h.to_hex());
        let upper = h.to_hex().to_uppercase();
        for bad in [
            "",
            "ab",
            &"g".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
            &upper,
        ] {
            assert_eq!(Blake3Hash::from_hex(bad), None, "{bad}");
        }
        assert_eq!(
            Blake3Hash::from_hex(&"0123456789abcdef".repeat(4)).map(|h| h.as_bytes()[..2].to_vec()),
            Some(vec![0x01, 0x23])
        );
    }

    #[test]
    fn json_is_the_hex_string_and_order_is_the_hex_order() {
        let d = Digest::of(b"abc");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("{{\"hash\":\"{}\",\"size\":3}}", d.hash));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        let bad = json.replace(&d.hash.to_hex()[..2], "ZZ");
        assert!(serde_json::from_str::<Digest>(&bad).is_err());
        // As a map key too (the verified-blob memo, the remote name map).
        let m = std::collections::BTreeMap::from([(d.hash, 1)]);
        let text = serde_json::to_string(&m).unwrap();
        let back: std::collections::BTreeMap<Blake3Hash, i32> =
            serde_json::from_str(&text).unwrap();
        assert_eq!(back, m);
        let (a, b) = (Blake3Hash::of(b"1"), Blake3Hash::of(b"2"));
        assert_eq!(a.cmp(&b), a.to_hex().cmp(&b.to_hex()));
    }
}
