//! The small files the cache keeps beside `cas/` and `ac/` (`memo/…`):
//! written best effort (a lost memo only costs time), read without ever
//! following something that is not a regular file.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use super::{read_regular, ReadOutcome, CACHE_TEMP};
use crate::atomic_file::replace_via_temp;

/// Writes a memo file of the cache (`memo/…`) as JSON, through a temporary
/// file renamed into place. Best effort: a memo that cannot be written only
/// costs time, so failures are ignored.
pub fn write_cache_file<T: serde::Serialize>(path: &Path, value: &T) {
    let (Ok(bytes), Some(dir)) = (serde_json::to_vec(value), path.parent()) else {
        return;
    };
    if fs::create_dir_all(dir).is_err() {
        return;
    }
    let _ = replace_via_temp(dir, path, &bytes, &CACHE_TEMP, |_| (), || Ok(()));
}

/// Reads a small file kept in the cache outside `cas/` and `ac/` (the
/// remembered tool identities under `memo/`): `None` if it is missing or
/// unreadable. Anything but a regular file there is removed with one
/// warning on stderr instead of being followed or blocking the build.
pub fn read_cache_file(path: &Path) -> Option<Vec<u8>> {
    match read_regular(path) {
        ReadOutcome::Bytes(bytes, _) => Some(bytes),
        ReadOutcome::Special(what) => {
            // `memo/NAME (…) in CACHE`, as the warnings of cas/ and ac/ read.
            let name = |p: Option<&Path>| {
                p.and_then(Path::file_name)
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            let folder = path.parent();
            let _ = writeln!(
                std::io::stderr(),
                "warning: dropped corrupt cache entry {}/{} ({what}) in {}; it will be rebuilt",
                name(folder),
                name(Some(path)),
                folder
                    .and_then(Path::parent)
                    .unwrap_or(Path::new("."))
                    .display()
            );
            None
        }
        ReadOutcome::Missing | ReadOutcome::Failed(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::mkfifo;
    use super::*;

    #[test]
    fn a_fifo_in_place_of_a_memo_file_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        mkfifo(&p);
        assert_eq!(read_cache_file(&p), None);
        assert!(fs::symlink_metadata(&p).is_err());
        fs::write(&p, b"{}").unwrap();
        assert_eq!(read_cache_file(&p), Some(b"{}".to_vec()));
    }
}
