//! `--locked`: `coex build`, `run` and `check` refuse a program whose
//! imported libraries are not exactly those of `coex.lock`.
//!
//! The lock is the one governing the program's folder (see
//! [`super::project`]). Every imported library, wherever the search found
//! it (`-L`, `COEX_PATH`, the project's lib folder, …), must be recorded
//! under its import name with the content digest of the archive found.

use std::collections::BTreeMap;
use std::path::Path;

use super::lock::Lock;
use super::project::{find_lock, shown};
use super::PkgError;
use crate::plan::resolver::ResolvedLibrary;

/// Checks `libraries` (import name → archive) of the program whose main
/// file is `main` against its `coex.lock`.
pub fn check(main: &Path, libraries: &BTreeMap<String, ResolvedLibrary>) -> Result<(), PkgError> {
    if libraries.is_empty() {
        return Ok(());
    }
    let dir = main
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(lock_path) = find_lock(dir) else {
        return Err(PkgError::with_fix(
            format!(
                "--locked: no coex.lock in {} or the folders above it, and the program imports {}",
                shown(dir),
                names(libraries)
            ),
            "Install the libraries with `coex pkg install` (it writes coex.lock), \
             or build without --locked.",
        ));
    };
    let lock = Lock::read(&lock_path)?;
    let mut problems = Vec::new();
    for (name, lib) in libraries {
        let digest = &lib.archive.digest;
        let at = shown(&lib.path);
        match lock.libraries.get(name) {
            None => problems.push(format!(
                "library '{name}' ({at}, digest {digest}) is not in coex.lock"
            )),
            Some(e) if &e.digest != digest => problems.push(format!(
                "library '{name}' ({at}) has digest {digest}, coex.lock records digest {} \
                 ({} {} from {})",
                e.digest, e.name, e.version, e.source
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let n = problems.len();
    Err(PkgError::with_fix(
        format!(
            "--locked: {n} imported librar{} not match {}",
            if n == 1 { "y does" } else { "ies do" },
            shown(&lock_path)
        ),
        format!(
            "{}\n\nInstall the intended archive with `coex pkg install SOURCE` (it records its \
             digest in coex.lock), or build without --locked.",
            problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    ))
}

fn names(libraries: &BTreeMap<String, ResolvedLibrary>) -> String {
    libraries
        .keys()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}
