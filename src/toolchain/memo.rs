//! Remembered tool identities, so a warm rebuild does not re-run clang
//! five times and re-hash a few hundred megabytes (compiler, libraries,
//! resource dir, linker) every time.
//!
//! An entry is a small JSON file under `<cache>/memo/`, named after the
//! tool's path. It holds the computed value and every file and directory
//! that value was computed from, each with its metadata (size, mtime and
//! ctime with nanoseconds, inode, device) taken *before* the file was read.
//! Loading re-`stat`s each of them (a few hundred calls, well under a
//! millisecond): any difference, including a file that appeared or
//! vanished, means computing again and replacing the entry, so a stale
//! identity is never used. A value computed while one of its files had
//! changed less than [`RACY_WINDOW`] earlier is not stored: in the same
//! timestamp tick a second write could leave the metadata unchanged.
//! A missing, unreadable or foreign entry just means computing again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::exec::action::ToolIdentity;
use crate::toolchain::fingerprint::{Component, StatKey, Watched};
use crate::toolchain::{identify_watched, locate_clang, Clang, ToolchainError};

/// How recently a component may have changed for its metadata to be
/// trusted: files newer than this are not memoized.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What is stored: a value, what it was computed from, and a tag naming
/// the kind of value, its format and what it is for (checked on load so
/// that a file name collision or an old format is never believed).
///
/// Each component is one string, `"<stat>\t<path>"` with `<stat>` as
/// [`encode_stat`] writes it: a list of strings reads several times faster
/// than a list of objects, and loading must stay well under a millisecond.
#[derive(Serialize, Deserialize)]
struct Entry<T> {
    tag: String,
    value: T,
    components: Vec<String>,
}

/// `size:mtime.ns:ctime.ns:inode:device`, or `-` for "did not exist".
fn encode_stat(stat: Option<&StatKey>) -> String {
    match stat {
        Some(s) => format!(
            "{}:{}.{}:{}.{}:{}:{}",
            s.size, s.mtime, s.mtime_ns, s.ctime, s.ctime_ns, s.ino, s.dev
        ),
        None => "-".to_string(),
    }
}

/// A component as stored; `None` for a path that is not UTF-8 (such a
/// value is then not remembered).
fn encode(c: &Component) -> Option<String> {
    Some(format!(
        "{}\t{}",
        encode_stat(c.stat.as_ref()),
        c.path.to_str()?
    ))
}

/// True if the stored component still has the metadata it had.
fn unchanged(encoded: &str) -> bool {
    match encoded.split_once('\t') {
        Some((stat, path)) => encode_stat(StatKey::of(Path::new(path)).as_ref()) == stat,
        None => false,
    }
}

fn entry_path(dir: &Path, kind: &str, tag: &str) -> PathBuf {
    dir.join("memo").join(format!(
        "{kind}-{}.json",
        &blake3::hash(tag.as_bytes()).to_hex()[..32]
    ))
}

/// A remembered value; a FIFO, link or directory in its place is dropped
/// with a warning (never followed, never waited on).
fn load<T: DeserializeOwned>(path: &Path) -> Option<Entry<T>> {
    serde_json::from_slice(&crate::exec::local::read_cache_file(path)?).ok()
}

fn store<T: Serialize>(path: &Path, value: &T) {
    crate::exec::local::write_cache_file(path, value);
}

/// The value remembered in `file` under `tag`, if none of its components
/// changed since.
fn recall<T: DeserializeOwned>(file: &Path, tag: &str) -> Option<T> {
    let e = load::<T>(file)?;
    (e.tag == tag && e.components.iter().all(|c| unchanged(c))).then_some(e.value)
}

/// The value remembered in `file` under `tag` while none of its components
/// changed, else `compute()`'s, stored unless a component is racy (changed
/// within `window`). Without a file, just `compute()`.
fn remember<T, E>(
    file: Option<&Path>,
    tag: &str,
    window: Duration,
    compute: impl FnOnce() -> Result<(T, Vec<Component>), E>,
) -> Result<T, E>
where
    T: Serialize + DeserializeOwned,
{
    if let Some(v) = file.and_then(|f| recall(f, tag)) {
        return Ok(v);
    }
    let (value, components) = compute()?;
    if let Some(f) = file {
        let now = SystemTime::now();
        let racy = components
            .iter()
            .any(|c| c.stat.is_some_and(|s| s.is_racy(now, window)));
        let encoded: Option<Vec<String>> = components.iter().map(encode).collect();
        if let (false, Some(components)) = (racy, encoded) {
            let entry = Entry {
                tag: tag.to_string(),
                value,
                components,
            };
            store(f, &entry);
            return Ok(entry.value);
        }
    }
    Ok(value)
}

/// [`crate::toolchain::find_clang`], remembered in `cache_dir` (when given)
/// with every file its identity was computed from (see the module docs):
/// computed once per toolchain, re-validated by metadata on every build.
pub fn clang(cache_dir: Option<&Path>, cc: Option<&Path>) -> Result<Clang, ToolchainError> {
    clang_with(cache_dir, cc, RACY_WINDOW)
}

/// Like [`clang`], but never writes: the identity remembered in
/// `cache_dir` by a build when it still holds, else computed afresh and not
/// stored (what `coex plan`, which writes no cache, uses).
pub fn clang_read_only(
    cache_dir: Option<&Path>,
    cc: Option<&Path>,
) -> Result<Clang, ToolchainError> {
    let path = locate_clang(cc)?;
    let tag = format!("clang-v2\0{}", path.display());
    if let Some(c) = cache_dir.and_then(|dir| recall(&entry_path(dir, "clang", &tag), &tag)) {
        return Ok(c);
    }
    identify_watched(&path).map(|(c, _)| c)
}

fn clang_with(
    cache_dir: Option<&Path>,
    cc: Option<&Path>,
    window: Duration,
) -> Result<Clang, ToolchainError> {
    let path = locate_clang(cc)?;
    let tag = format!("clang-v2\0{}", path.display());
    let file = cache_dir.map(|dir| entry_path(dir, "clang", &tag));
    remember(file.as_deref(), &tag, window, || identify_watched(&path))
}

/// argv[0] and identity of this `coex` binary (see
/// [`crate::exec::action::coex_self_tool`]), remembered in `cache_dir`
/// while the executable's metadata stays the same.
pub fn coex_self(cache_dir: Option<&Path>) -> std::io::Result<(String, ToolIdentity)> {
    let exe = std::env::current_exe()?;
    let argv0 = exe.to_string_lossy().into_owned();
    let tag = format!("coex-v2\0{}\0{argv0}", env!("CARGO_PKG_VERSION"));
    let file = cache_dir.map(|dir| entry_path(dir, "coex", &tag));
    let id = remember(file.as_deref(), &tag, RACY_WINDOW, || {
        let mut watched = Watched::default();
        watched.add(&exe);
        if let Ok(real) = std::fs::canonicalize(&exe) {
            watched.add(&real);
        }
        Ok::<_, std::io::Error>((ToolIdentity::coex_self()?, watched.into_components()))
    })?;
    Ok((argv0, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolchain::find_clang;
    use std::cell::Cell;

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
    fn the_clang_entry_lists_driver_libraries_resource_dir_and_linker() {
        let dir = tempfile::tempdir().unwrap();
        let c = clang_with(Some(dir.path()), None, Duration::ZERO).unwrap();
        let memo = std::fs::read_dir(dir.path().join("memo"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let entry: Entry<Clang> = load(&memo).unwrap();
        assert_eq!(entry.value, c);
        assert!(entry.components.iter().all(|c| unchanged(c)));
        let paths: Vec<&Path> = entry
            .components
            .iter()
            .filter_map(|c| c.split_once('\t'))
            .map(|(_, p)| Path::new(p))
            .collect();
        let has = |p: &Path| paths.contains(&p);
        assert!(has(&c.path));
        assert!(has(&std::fs::canonicalize(&c.path).unwrap()));
        assert!(has(&c.resource_dir.join("include/stddef.h")), "{paths:?}");
        assert!(has(c.linker.as_deref().unwrap()), "{paths:?}");
        assert!(
            paths
                .iter()
                .any(|p| p.to_string_lossy().contains("libc.so")),
            "{paths:?}"
        );
        assert!(entry.components.len() > 100, "{}", entry.components.len());
    }

    /// A fake tool made of `files`, remembered in `cache`; counts computes.
    fn fake(cache: &Path, files: &[PathBuf], window: Duration, computed: &Cell<u32>) -> String {
        let file = entry_path(cache, "fake", "fake");
        remember(Some(&file), "fake", window, || {
            computed.set(computed.get() + 1);
            let mut w = Watched::default();
            let mut all = Vec::new();
            for f in files {
                w.add(f);
                all.extend(std::fs::read(f).unwrap_or_default());
            }
            Ok::<_, ()>((blake3::hash(&all).to_hex().to_string(), w.into_components()))
        })
        .unwrap()
    }

    #[test]
    fn a_changed_component_invalidates_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let files = [dir.path().join("tool"), dir.path().join("lib.so")];
        std::fs::write(&files[0], "tool").unwrap();
        std::fs::write(&files[1], "lib").unwrap();
        let n = Cell::new(0);
        let first = fake(&cache, &files, Duration::ZERO, &n);
        assert_eq!(fake(&cache, &files, Duration::ZERO, &n), first);
        assert_eq!(n.get(), 1, "the second call is remembered");

        // Touching a component (same bytes, new times) recomputes.
        let earlier = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&files[1])
            .unwrap()
            .set_modified(earlier)
            .unwrap();
        assert_eq!(fake(&cache, &files, Duration::ZERO, &n), first);
        assert_eq!(n.get(), 2);
        assert_eq!(fake(&cache, &files, Duration::ZERO, &n), first);
        assert_eq!(n.get(), 2);

        // Same size, same mtime, other bytes: the ctime/inode still tell.
        let m = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
        let tmp = dir.path().join("tool.new");
        std::fs::write(&tmp, "TOOL").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(m)
            .unwrap();
        std::fs::rename(&tmp, &files[0]).unwrap();
        let changed = fake(&cache, &files, Duration::ZERO, &n);
        assert_ne!(changed, first);
        assert_eq!(n.get(), 3);

        // A component that vanishes (or appears) counts as a change.
        std::fs::remove_file(&files[1]).unwrap();
        fake(&cache, &files, Duration::ZERO, &n);
        assert_eq!(n.get(), 4);
        std::fs::write(&files[1], "lib").unwrap();
        fake(&cache, &files, Duration::ZERO, &n);
        assert_eq!(n.get(), 5);
    }

    #[test]
    fn recently_changed_components_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let files = [dir.path().join("tool")];
        std::fs::write(&files[0], "tool").unwrap();
        let n = Cell::new(0);
        fake(&cache, &files, RACY_WINDOW, &n);
        fake(&cache, &files, RACY_WINDOW, &n);
        assert_eq!(n.get(), 2, "a just-written file is never trusted");
        assert!(!cache.join("memo").exists());
    }

    #[test]
    fn a_foreign_or_corrupt_entry_is_recomputed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let files = [dir.path().join("tool")];
        std::fs::write(&files[0], "tool").unwrap();
        let n = Cell::new(0);
        let first = fake(&cache, &files, Duration::ZERO, &n);
        let file = entry_path(&cache, "fake", "fake");
        std::fs::write(&file, b"{not json").unwrap();
        assert_eq!(fake(&cache, &files, Duration::ZERO, &n), first);
        assert_eq!(n.get(), 2);
        let other = Entry {
            tag: "other".to_string(),
            value: "forged".to_string(),
            components: Vec::new(),
        };
        store(&file, &other);
        assert_eq!(fake(&cache, &files, Duration::ZERO, &n), first);
        assert_eq!(n.get(), 3);
    }
}
