//! `coex pkg list` and `coex pkg remove`.

use std::path::Path;

use super::install::Place;
use super::lock::{valid_name, Lock, LockEntry};
use super::project::shown;
use super::PkgError;
use crate::cxz::CxzArchive;

/// What `coex pkg list` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// One line per library of the lock, then one per archive in the lib
    /// folder the lock does not record.
    pub lines: Vec<String>,
    /// Libraries whose file is missing, invalid or not the one recorded.
    pub problems: usize,
}

/// Lists the libraries of `place`'s lock and whether each file is there
/// and holds the recorded content.
pub fn list(place: &Place) -> Result<Listing, PkgError> {
    if !place.lock_path.is_file() {
        return Ok(Listing {
            lines: vec![format!(
                "no libraries installed: there is no {}",
                shown(&place.lock_path)
            )],
            problems: 0,
        });
    }
    let lock = Lock::read(&place.lock_path)?;
    let mut lines = Vec::new();
    let mut problems = 0;
    for e in lock.libraries.values() {
        let path = Lock::archive_path(&place.lock_path, e);
        let (state, ok) = file_state(&path, e);
        problems += usize::from(!ok);
        lines.push(format!(
            "{} {}: {} {state}, from {}",
            e.name,
            e.version,
            shown(&path),
            e.source
        ));
    }
    if lock.libraries.is_empty() {
        lines.push(format!("no libraries in {}", shown(&place.lock_path)));
    }
    lines.extend(untracked(place, &lock));
    Ok(Listing { lines, problems })
}

/// `ok, digest D` or what is wrong, and whether it is ok.
fn file_state(path: &Path, e: &LockEntry) -> (String, bool) {
    match std::fs::symlink_metadata(path) {
        Err(_) => (
            format!("missing (coex.lock records digest {})", e.digest),
            false,
        ),
        Ok(_) => match CxzArchive::open(path) {
            Ok(a) if a.digest == e.digest => (format!("ok, digest {}", a.digest), true),
            Ok(a) => (
                format!(
                    "differs: the file holds {} {} with digest {}, coex.lock records digest {}",
                    a.manifest.library.name, a.manifest.library.version, a.digest, e.digest
                ),
                false,
            ),
            Err(err) => {
                let first = err.to_string();
                let first = first.lines().next().unwrap_or_default().to_string();
                (format!("is not a valid archive ({first})"), false)
            }
        },
    }
}

/// Archives in the lib folder that the lock does not record.
fn untracked(place: &Place, lock: &Lock) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(&place.lib_dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".cxz")?;
            let recorded = lock
                .libraries
                .get(stem)
                .is_some_and(|l| Lock::archive_path(&place.lock_path, l) == e.path());
            (!recorded).then(|| format!("{}: not in coex.lock", shown(&e.path())))
        })
        .collect();
    out.sort();
    out
}

/// Removes library `name` (its archive and its lock entry); returns the
/// line to print.
pub fn remove(name: &str, place: &Place) -> Result<String, PkgError> {
    let name = name.strip_suffix(".cxz").unwrap_or(name);
    if !valid_name(name) {
        return Err(PkgError::new(format!(
            "'{}' is not a library name ([a-z_][a-z0-9_]*)",
            name.escape_debug()
        )));
    }
    let mut lock = Lock::read(&place.lock_path)?;
    let Some(entry) = lock.libraries.remove(name) else {
        let installed: Vec<&str> = lock.libraries.keys().map(String::as_str).collect();
        let listed = if installed.is_empty() {
            "none".to_string()
        } else {
            installed.join(", ")
        };
        return Err(PkgError::with_fix(
            format!(
                "library '{name}' is not in {} (installed: {listed})",
                shown(&place.lock_path)
            ),
            "coex pkg remove removes only what coex pkg install recorded; \
             delete any other file yourself.",
        ));
    };
    let path = Lock::archive_path(&place.lock_path, &entry);
    let gone = match std::fs::symlink_metadata(&path) {
        Err(_) => " (the file was already gone)",
        Ok(m) if m.is_dir() => {
            return Err(PkgError::new(format!(
                "cannot remove {}: it is a directory, not an installed archive",
                shown(&path)
            )))
        }
        Ok(_) => {
            std::fs::remove_file(&path)
                .map_err(|e| PkgError::new(format!("cannot remove {}: {e}", shown(&path))))?;
            ""
        }
    };
    lock.write(&place.lock_path)?;
    Ok(format!(
        "removed {} {} ({}{gone}) and its entry in {}",
        entry.name,
        entry.version,
        shown(&path),
        shown(&place.lock_path)
    ))
}
