//! Remembered tool identities, so a warm rebuild does not re-run
//! `clang --version` / `-print-target-triple` and re-hash two large binaries
//! every time (together most of a no-op build's time).
//!
//! An entry is keyed by the tool's resolved path and its file metadata
//! (size, modification time, inode, device): replacing or touching the
//! binary gives another key, so a stale identity is never used. Entries are
//! small JSON files under `<cache>/memo/`; a missing or unreadable entry just
//! means computing the identity again (and trying to store it).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::exec::action::ToolIdentity;
use crate::toolchain::{identify, locate_clang, Clang, ToolchainError};

#[derive(serde::Serialize, serde::Deserialize)]
struct ClangEntry {
    path: PathBuf,
    version: String,
    triple: String,
    resource_dir: PathBuf,
    include_dirs: Vec<PathBuf>,
    identity: ToolIdentity,
}

/// The metadata part of a memo key, `None` if the file cannot be read.
fn stat_key(path: &Path) -> Option<String> {
    let real = std::fs::canonicalize(path).ok()?;
    let m = std::fs::metadata(&real).ok()?;
    Some(format!(
        "{}\0{}\0{}\0{}.{}\0{}\0{}",
        path.display(),
        real.display(),
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ino(),
        m.dev()
    ))
}

fn entry_path(dir: &Path, kind: &str, key: &str) -> PathBuf {
    dir.join("memo").join(format!(
        "{kind}-{}.json",
        &blake3::hash(key.as_bytes()).to_hex()[..32]
    ))
}

/// A remembered value; a FIFO, link or directory in its place is dropped
/// with a warning (never followed, never waited on).
fn load<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&crate::exec::local::read_cache_file(path)?).ok()
}

fn store<T: serde::Serialize>(path: &Path, value: &T) {
    let Some(parent) = path.parent() else { return };
    if std::fs::create_dir_all(parent).is_err() {
        return;
    }
    let Ok(bytes) = serde_json::to_vec(value) else {
        return;
    };
    if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(parent) {
        use std::io::Write;
        if tmp.write_all(&bytes).is_ok() {
            let _ = tmp.persist(path);
        }
    }
}

/// [`find_clang`], remembered in `cache_dir` (when given) by the compiler's
/// path and file metadata.
pub fn clang(cache_dir: Option<&Path>, cc: Option<&Path>) -> Result<Clang, ToolchainError> {
    let path = locate_clang(cc)?;
    let file = cache_dir.and_then(|dir| Some(entry_path(dir, "clang", &stat_key(&path)?)));
    if let Some(f) = &file {
        if let Some(e) = load::<ClangEntry>(f) {
            if e.path == path {
                return Ok(Clang {
                    path: e.path,
                    version: e.version,
                    triple: e.triple,
                    resource_dir: e.resource_dir,
                    include_dirs: e.include_dirs,
                    identity: e.identity,
                });
            }
        }
    }
    let found = identify(&path)?;
    if let Some(f) = &file {
        store(
            f,
            &ClangEntry {
                path: found.path.clone(),
                version: found.version.clone(),
                triple: found.triple.clone(),
                resource_dir: found.resource_dir.clone(),
                include_dirs: found.include_dirs.clone(),
                identity: found.identity.clone(),
            },
        );
    }
    Ok(found)
}

/// argv[0] and identity of this `coex` binary (see
/// [`crate::exec::action::coex_self_tool`]), remembered in `cache_dir`.
pub fn coex_self(cache_dir: Option<&Path>) -> std::io::Result<(String, ToolIdentity)> {
    let exe = std::env::current_exe()?;
    let argv0 = exe.to_string_lossy().into_owned();
    let file = cache_dir.and_then(|dir| {
        let key = format!("{}\0{}", env!("CARGO_PKG_VERSION"), stat_key(&exe)?);
        Some(entry_path(dir, "coex", &key))
    });
    if let Some(f) = &file {
        if let Some(id) = load::<ToolIdentity>(f) {
            return Ok((argv0, id));
        }
    }
    let id = ToolIdentity::coex_self()?;
    if let Some(f) = &file {
        store(f, &id);
    }
    Ok((argv0, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolchain::find_clang;

    #[test]
    fn remembered_identities_equal_computed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let computed = find_clang(None).unwrap();
        let first = clang(Some(dir.path()), None).unwrap();
        let second = clang(Some(dir.path()), None).unwrap();
        assert_eq!(first, computed);
        assert_eq!(second, computed);
        assert_eq!(
            std::fs::read_dir(dir.path().join("memo")).unwrap().count(),
            1
        );
        let (_, a) = coex_self(Some(dir.path())).unwrap();
        let (_, b) = coex_self(Some(dir.path())).unwrap();
        assert_eq!(a, ToolIdentity::coex_self().unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn another_file_is_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tool");
        std::fs::write(&f, b"one").unwrap();
        let k1 = stat_key(&f).unwrap();
        std::fs::write(&f, b"three").unwrap();
        assert_ne!(k1, stat_key(&f).unwrap());
    }
}
