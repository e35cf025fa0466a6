//! Content digests of a library: what its files say, not how they were zipped.
//!
//! The digest covers the sorted (path, bytes) pairs with an unambiguous
//! length-prefixed encoding, so re-zipping the same files (another tool,
//! another compression level, other timestamps, with or without directory
//! entries) gives the same digest, and any change to a path or a byte does not.

use std::collections::BTreeMap;

const CONTENT_DOMAIN: &[u8] = b"coex-cxz-content-v1\0";
const PREFIX_DOMAIN: &[u8] = b"coex-cxz-subtree-v1\0";

fn put(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// BLAKE3 (hex) over every file of an archive, in path order.
pub fn content_digest(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut h = blake3::Hasher::new();
    h.update(CONTENT_DOMAIN);
    h.update(&(files.len() as u64).to_le_bytes());
    for (path, bytes) in files {
        put(&mut h, path.as_bytes());
        put(&mut h, bytes);
    }
    h.finalize().to_hex().to_string()
}

/// BLAKE3 (hex) over the files whose path starts with `prefix` (e.g.
/// `ffi/src/`), hashed with paths relative to it: the key of FFI builds,
/// unchanged when only Coex modules or the README change.
pub fn prefix_digest(files: &BTreeMap<String, Vec<u8>>, prefix: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(PREFIX_DOMAIN);
    put(&mut h, prefix.as_bytes());
    for (path, bytes) in files.range(prefix.to_string()..) {
        let Some(rel) = path.strip_prefix(prefix) else {
            break;
        };
        put(&mut h, rel.as_bytes());
        put(&mut h, bytes);
    }
    h.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(items: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        items
            .iter()
            .map(|(p, b)| (p.to_string(), b.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn boundary_between_path_and_bytes_matters() {
        let a = map(&[("ab", "c")]);
        let b = map(&[("a", "bc")]);
        assert_ne!(content_digest(&a), content_digest(&b));
    }

    #[test]
    fn prefix_digest_ignores_other_files() {
        let a = map(&[("ffi/src/a.c", "x"), ("src/m.coex", "1")]);
        let b = map(&[("ffi/src/a.c", "x"), ("src/m.coex", "2"), ("README", "r")]);
        assert_eq!(prefix_digest(&a, "ffi/src/"), prefix_digest(&b, "ffi/src/"));
        let c = map(&[("ffi/src/a.c", "y")]);
        assert_ne!(prefix_digest(&a, "ffi/src/"), prefix_digest(&c, "ffi/src/"));
        assert_ne!(content_digest(&a), content_digest(&b));
    }
}
