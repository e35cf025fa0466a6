//! Discovered inputs: files an action read that it did not declare (system
//! headers, the compiler's own headers, system libraries), found in the
//! dependency file the command writes.
//!
//! Their contents decide the output as much as the declared inputs do, but
//! they are only known after the command ran, and they differ between
//! machines. So a result is stored under a **two-level key**, the way
//! ccache's direct mode keeps a manifest:
//!
//! ```text
//! action key K          → the list of discovered paths   (stage 1)
//! K + their digests     → the action result              (stage 2)
//! ```
//!
//! A lookup reads the list under K, digests those files as they are on
//! this machine now (remembered by metadata, see `file_digests`), and asks
//! for the result under the second key. A changed header, or a machine whose
//! headers differ, gives another second key: a miss, never a stale hit.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::action::ActionKey;
use super::digest::Digest;
use super::file_digests::FileDigests;

/// The one output of a stage-1 entry: the JSON list of discovered paths.
pub const LIST_OUTPUT: &str = "coex-discovered-inputs.json";

const LIST_FORMAT: &str = "coex-discovered-v1";

/// The body of a stage-1 entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredList {
    /// Always `coex-discovered-v1`.
    pub format: String,
    /// Absolute paths, sorted.
    pub paths: Vec<String>,
    /// Paths that did not exist and must not, for the result to apply
    /// (earlier include dirs' candidates for a header found later).
    #[serde(default)]
    pub absent: Vec<String>,
}

impl DiscoveredList {
    /// The list of `paths`, with the shadowing candidates of each in the
    /// `search_dirs` before the one it was found in that do not exist now.
    pub fn new(paths: &BTreeSet<PathBuf>, search_dirs: &[PathBuf]) -> DiscoveredList {
        let dirs: Vec<PathBuf> = search_dirs.iter().map(|d| normalize(d)).collect();
        let mut absent = BTreeSet::new();
        for p in paths {
            let Some(found) = dirs.iter().position(|d| p.starts_with(d)) else {
                continue;
            };
            let Ok(rel) = p.strip_prefix(&dirs[found]) else {
                continue;
            };
            for earlier in &dirs[..found] {
                let candidate = earlier.join(rel);
                if std::fs::symlink_metadata(&candidate).is_err() {
                    absent.insert(candidate.to_string_lossy().into_owned());
                }
            }
        }
        DiscoveredList {
            format: LIST_FORMAT.to_string(),
            paths: paths
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
            absent: absent.into_iter().collect(),
        }
    }

    /// The bytes stored in the CAS.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a stored list; `None` for anything else (treated as a miss).
    pub fn from_bytes(bytes: &[u8]) -> Option<DiscoveredList> {
        let list: DiscoveredList = serde_json::from_slice(bytes).ok()?;
        let sane = list.format == LIST_FORMAT
            && list
                .paths
                .iter()
                .chain(&list.absent)
                .all(|p| Path::new(p).is_absolute());
        sane.then_some(list)
    }

    /// Each path with the digest of the file there now; `None` if one of
    /// them is gone or unreadable (then the stored result cannot apply).
    pub fn digests(&self, files: &FileDigests) -> Option<Vec<(String, Digest)>> {
        if self.absent.iter().any(|p| files.exists(Path::new(p))) {
            return None;
        }
        self.paths
            .iter()
            .map(|p| Some((p.clone(), files.digest(Path::new(p))?.1)))
            .collect()
    }
}

/// The stage-2 key: the action key plus every discovered file's digest.
pub fn second_key(key: &ActionKey, files: &[(String, Digest)]) -> ActionKey {
    let mut h = blake3::Hasher::new();
    let mut put = |s: &[u8]| {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s);
    };
    put(LIST_FORMAT.as_bytes());
    // Hashes as hex digits, as before they were typed (same keys).
    put(key.hash().hex().as_bytes());
    put(&(files.len() as u64).to_le_bytes());
    for (path, d) in files {
        put(path.as_bytes());
        put(d.hash.hex().as_bytes());
        put(&d.size.to_le_bytes());
    }
    ActionKey::from_hash(h.finalize().into())
}

/// `path` with `.` and `..` resolved by name (no file system access).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The files named in a dependency file that lie outside the scratch
/// directory `scratch`, as absolute normalised paths. Relative names are
/// relative to `scratch` (the command's working directory); one that climbs
/// out of it with `..` is outside too.
pub fn outside_reads(prerequisites: &[String], scratch: &Path) -> BTreeSet<PathBuf> {
    let roots = [scratch.to_path_buf(), canonical(scratch)];
    prerequisites
        .iter()
        .map(|p| normalize(&scratch.join(p)))
        .filter(|p| !roots.iter().any(|r| p.starts_with(r)))
        .collect()
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The first of `reads` that lies under none of `allowed` (both compared
/// with symlinks resolved, so `/usr/include/x86_64-linux-gnu/../zlib.h`
/// and a symlinked include dir are judged by where the file really is).
pub fn first_disallowed(reads: &BTreeSet<PathBuf>, allowed: &[PathBuf]) -> Option<PathBuf> {
    let roots: Vec<PathBuf> = allowed
        .iter()
        .flat_map(|r| [normalize(r), canonical(r)])
        .collect();
    reads
        .iter()
        .find(|p| {
            let real = canonical(p);
            !roots
                .iter()
                .any(|r| p.starts_with(r) || real.starts_with(r))
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_and_outside_reads_are_told_apart() {
        let scratch = Path::new("/tmp/coex-scratch-1");
        let prereqs: Vec<String> = [
            "src/a.c",
            "src/x/../b.h",
            "/tmp/coex-scratch-1/src/c.h",
            "src/../../host.h",
            "/usr/include/stdio.h",
            "/usr/bin/../lib/gcc/libgcc.a",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out: Vec<PathBuf> = outside_reads(&prereqs, scratch).into_iter().collect();
        assert_eq!(
            out,
            [
                PathBuf::from("/tmp/host.h"),
                PathBuf::from("/usr/include/stdio.h"),
                PathBuf::from("/usr/lib/gcc/libgcc.a"),
            ]
        );
    }

    #[test]
    fn disallowed_reads_are_found() {
        let reads: BTreeSet<PathBuf> = [
            PathBuf::from("/usr/include/stdio.h"),
            PathBuf::from("/etc/hostname"),
        ]
        .into();
        let allowed = [PathBuf::from("/usr/include")];
        assert_eq!(
            first_disallowed(&reads, &allowed),
            Some(PathBuf::from("/etc/hostname"))
        );
        let allowed = [PathBuf::from("/usr/include"), PathBuf::from("/etc")];
        assert_eq!(first_disallowed(&reads, &allowed), None);
    }

    #[test]
    fn a_header_found_in_a_later_dir_records_its_absent_shadows() {
        let t = tempfile::tempdir().unwrap();
        let (early, late, other) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
        for d in [&early, &late, &other] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(late.join("x.h"), "").unwrap();
        std::fs::write(late.join("y.h"), "").unwrap();
        // y.h also exists early (an #include_next): not a shadow to watch.
        std::fs::write(early.join("y.h"), "").unwrap();
        let paths: BTreeSet<PathBuf> = [late.join("x.h"), late.join("y.h")].into();
        let list = DiscoveredList::new(&paths, &[early.clone(), late.clone(), other]);
        assert_eq!(
            list.absent,
            [early.join("x.h").to_string_lossy().into_owned()]
        );
        let files = FileDigests::in_memory();
        assert!(list.digests(&files).is_some());
        std::fs::write(early.join("x.h"), "").unwrap();
        let files = FileDigests::in_memory();
        assert!(
            list.digests(&files).is_none(),
            "a new shadowing header is a miss"
        );
    }

    #[test]
    fn second_key_depends_on_every_digest_and_path() {
        let k = ActionKey::from_hex(&"a".repeat(64)).unwrap();
        let one = vec![("/h.h".to_string(), Digest::of(b"1"))];
        let two = vec![("/h.h".to_string(), Digest::of(b"2"))];
        let moved = vec![("/g.h".to_string(), Digest::of(b"1"))];
        assert_ne!(second_key(&k, &one), second_key(&k, &two));
        assert_ne!(second_key(&k, &one), second_key(&k, &moved));
        assert_ne!(second_key(&k, &one), second_key(&k, &[]));
        assert_eq!(second_key(&k, &one), second_key(&k, &one));
        assert_ne!(second_key(&k, &[]), k);
    }

    #[test]
    fn lists_round_trip_and_reject_relative_paths() {
        let paths: BTreeSet<PathBuf> = [PathBuf::from("/usr/include/a.h")].into();
        let list = DiscoveredList::new(&paths, &[]);
        assert_eq!(DiscoveredList::from_bytes(&list.to_bytes()), Some(list));
        let bad = br#"{"format":"coex-discovered-v1","paths":["rel.h"]}"#;
        assert_eq!(DiscoveredList::from_bytes(bad), None);
        assert_eq!(DiscoveredList::from_bytes(b"junk"), None);
    }
}
