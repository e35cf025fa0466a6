//! The pieces of a toolchain fingerprint: which files a tool depends on
//! (its shared libraries, a directory tree such as clang's resource dir),
//! their content hashes, and the file metadata that lets a remembered
//! fingerprint be re-validated with a few hundred `stat` calls instead of
//! re-hashing a few hundred megabytes.
//!
//! Everything here hashes *contents*; paths only enter a fingerprint as
//! names that do not depend on where a toolchain is installed (a library's
//! soname, a path relative to the resource dir).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use crate::exec::action::fixed_env;

/// The metadata of one file that says "this is still the file that was
/// hashed": any write changes the size, mtime or ctime (with nanoseconds),
/// and a replaced or retargeted file has another inode or device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatKey {
    /// Length in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_ns: i64,
    /// Status change time, seconds since the epoch.
    pub ctime: i64,
    /// Nanoseconds part of the status change time.
    pub ctime_ns: i64,
    /// Inode number.
    pub ino: u64,
    /// Device number.
    pub dev: u64,
}

impl StatKey {
    /// The metadata of `path` (symlinks followed), `None` when it does not
    /// exist or cannot be examined.
    pub fn of(path: &Path) -> Option<StatKey> {
        let m = std::fs::metadata(path).ok()?;
        Some(StatKey {
            size: m.len(),
            mtime: m.mtime(),
            mtime_ns: m.mtime_nsec(),
            ctime: m.ctime(),
            ctime_ns: m.ctime_nsec(),
            ino: m.ino(),
            dev: m.dev(),
        })
    }

    /// True when the file changed less than `window` before `now` (or
    /// claims a time after `now`): a write in the same timestamp tick as
    /// our `stat` would leave the metadata unchanged, so such a file's
    /// metadata cannot vouch for its content yet ("racy" in git's words).
    pub fn is_racy(&self, now: SystemTime, window: Duration) -> bool {
        let Ok(now) = now.duration_since(UNIX_EPOCH) else {
            return true;
        };
        let newest = (self.mtime, self.mtime_ns).max((self.ctime, self.ctime_ns));
        let Ok(secs) = u64::try_from(newest.0) else {
            return false;
        };
        let nanos = u32::try_from(newest.1).unwrap_or(0);
        Duration::new(secs, nanos) + window > now
    }
}

/// One file or directory a fingerprint depends on, with its metadata when
/// the fingerprint was computed (`None`: it did not exist, and its
/// appearing must invalidate the fingerprint too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The path as it was looked at (not canonicalised).
    pub path: PathBuf,
    /// Its metadata then.
    pub stat: Option<StatKey>,
}

impl Component {
    /// True if the file still has the metadata it had.
    pub fn unchanged(&self) -> bool {
        StatKey::of(&self.path) == self.stat
    }
}

/// The components of one fingerprint, each recorded once, before its
/// content is read (so a change while hashing shows up on the next check).
#[derive(Debug, Default)]
pub struct Watched {
    seen: BTreeSet<PathBuf>,
    list: Vec<Component>,
}

impl Watched {
    /// Records `path` (file or directory, present or not) with its metadata now.
    pub fn add(&mut self, path: &Path) {
        if self.seen.insert(path.to_path_buf()) {
            self.list.push(Component {
                path: path.to_path_buf(),
                stat: StatKey::of(path),
            });
        }
    }

    /// Everything recorded, in recording order.
    pub fn into_components(self) -> Vec<Component> {
        self.list
    }
}

/// Why a shared library list could not be had.
#[derive(Debug, PartialEq, Eq)]
pub enum LddError {
    /// `ldd` could not be started.
    NotRunnable(String),
    /// `ldd` failed for another reason than "not a dynamic executable".
    Failed(String),
    /// The binary needs a library the loader cannot find.
    Missing(String),
}

/// The shared libraries `binary` loads, as (name it asks for, resolved
/// path), in load order, from `ldd` run with the actions' fixed environment
/// (so no `LD_LIBRARY_PATH` of the user's decides). A static binary or a
/// script has none.
pub fn shared_libs(binary: &Path) -> Result<Vec<(String, PathBuf)>, LddError> {
    let out = Command::new("ldd")
        .arg(binary)
        .env_clear()
        .envs(fixed_env())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LddError::NotRunnable(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stdout.contains("not a dynamic executable")
            || stderr.contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        let said = stderr.trim();
        return Err(LddError::Failed(if said.is_empty() {
            format!("ldd exited with {}", out.status)
        } else {
            said.to_string()
        }));
    }
    parse_ldd(&stdout)
}

/// Parses `ldd` output (see [`shared_libs`]).
pub fn parse_ldd(text: &str) -> Result<Vec<(String, PathBuf)>, LddError> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == "statically linked" {
            continue;
        }
        // Drop the load address: "… (0x00007f…)".
        let line = match line.rfind(" (0x") {
            Some(at) if line.ends_with(')') => &line[..at],
            _ => line,
        };
        match line.split_once(" => ") {
            Some((name, "not found")) => return Err(LddError::Missing(name.trim().to_string())),
            Some((name, path)) if path.starts_with('/') => {
                libs.push((name.trim().to_string(), PathBuf::from(path)));
            }
            // "linux-vdso.so.1 =>" with no file: lives in the kernel.
            Some(_) => {}
            None if line.starts_with('/') => libs.push((line.to_string(), PathBuf::from(line))),
            None => {}
        }
    }
    Ok(libs)
}

/// One entry of a directory tree, by its path relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeEntry {
    /// A directory.
    Dir,
    /// A file (a symlink to a file counts as that file), by absolute path.
    File(PathBuf),
    /// A symlink that points nowhere.
    Dangling,
}

/// Every entry under `root` (symlinks followed, cycles cut), keyed by the
/// relative path's bytes, each recorded in `watched` (directories too: an
/// added or removed file changes its directory's metadata).
pub fn walk_tree(
    root: &Path,
    watched: &mut Watched,
) -> std::io::Result<BTreeMap<Vec<u8>, TreeEntry>> {
    let mut entries = BTreeMap::new();
    watched.add(root);
    let root_meta = std::fs::metadata(root)?;
    // (dir, its relative path, the (dev, inode) of it and its ancestors)
    let mut stack = vec![(
        root.to_path_buf(),
        PathBuf::new(),
        vec![(root_meta.dev(), root_meta.ino())],
    )];
    while let Some((dir, rel, ancestors)) = stack.pop() {
        let mut names = Vec::new();
        for e in std::fs::read_dir(&dir)? {
            names.push(e?.file_name());
        }
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            let key = rel.as_os_str().as_bytes().to_vec();
            watched.add(&path);
            match std::fs::metadata(&path) {
                Err(_) if std::fs::symlink_metadata(&path).is_ok() => {
                    entries.insert(key, TreeEntry::Dangling);
                }
                Err(e) => return Err(e),
                Ok(m) if m.is_dir() => {
                    let id = (m.dev(), m.ino());
                    // A symlink back up the tree: listed, not descended.
                    entries.insert(key, TreeEntry::Dir);
                    if !ancestors.contains(&id) {
                        let mut next = ancestors.clone();
                        next.push(id);
                        stack.push((path, rel, next));
                    }
                }
                Ok(m) if m.is_file() => {
                    entries.insert(key, TreeEntry::File(path));
                }
                // Sockets, fifos, devices: nothing a compiler reads.
                Ok(_) => {}
            }
        }
    }
    Ok(entries)
}

/// The BLAKE3 hash of each file's content (duplicates read once), hashed
/// in parallel; big files are also split across threads. The first file
/// that cannot be read is the error.
pub fn hash_files(
    files: &[PathBuf],
) -> Result<BTreeMap<PathBuf, blake3::Hash>, (PathBuf, std::io::Error)> {
    let unique: BTreeSet<&PathBuf> = files.iter().collect();
    let mut sized: Vec<(u64, &PathBuf)> = unique
        .into_iter()
        .map(|p| (std::fs::metadata(p).map(|m| m.len()).unwrap_or(0), p))
        .collect();
    // Largest first, so the big libraries do not end up last on one thread.
    sized.sort_by_key(|s| std::cmp::Reverse(s.0));
    sized
        .par_iter()
        .map(|(size, path)| {
            let mut h = blake3::Hasher::new();
            let done = if *size >= 1 << 20 {
                h.update_mmap_rayon(path)
            } else {
                h.update_mmap(path)
            };
            match done {
                Ok(_) => Ok(((*path).clone(), h.finalize())),
                Err(e) => Err(((*path).clone(), e)),
            }
        })
        .collect()
}

/// Writes `bytes` length-prefixed, so that consecutive fields can never run
/// into each other.
pub fn put(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_is_parsed() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f33)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f3387430000)\n\tlibsp ace.so => /opt/a b/libsp ace.so (0x1)\n";
        assert_eq!(
            parse_ldd(text).unwrap(),
            [
                (
                    "libz.so.1".to_string(),
                    PathBuf::from("/lib/x86_64-linux-gnu/libz.so.1")
                ),
                (
                    "/lib64/ld-linux-x86-64.so.2".to_string(),
                    PathBuf::from("/lib64/ld-linux-x86-64.so.2")
                ),
                (
                    "libsp ace.so".to_string(),
                    PathBuf::from("/opt/a b/libsp ace.so")
                ),
            ]
        );
        assert_eq!(parse_ldd("\tstatically linked\n").unwrap(), []);
        assert_eq!(
            parse_ldd("\tlibgone.so.3 => not found\n"),
            Err(LddError::Missing("libgone.so.3".to_string()))
        );
    }

    #[test]
    fn scripts_have_no_libraries_and_binaries_have_libc() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("ld");
        std::fs::write(&script, "#!/bin/sh\nexec /usr/bin/ld \"$@\"\n").unwrap();
        assert_eq!(shared_libs(&script).unwrap(), []);
        let libs = shared_libs(Path::new("/bin/sh")).unwrap();
        assert!(
            libs.iter().any(|(n, _)| n.starts_with("libc.so")),
            "{libs:?}"
        );
    }

    #[test]
    fn trees_list_files_dirs_and_dangling_links_and_cut_cycles() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("r");
        std::fs::create_dir_all(root.join("include/sub")).unwrap();
        std::fs::write(root.join("include/a.h"), "a").unwrap();
        std::fs::write(root.join("include/sub/b.h"), "b").unwrap();
        std::os::unix::fs::symlink("a.h", root.join("include/c.h")).unwrap();
        std::os::unix::fs::symlink("nowhere", root.join("include/d.h")).unwrap();
        std::os::unix::fs::symlink("..", root.join("include/up")).unwrap();
        let mut w = Watched::default();
        let t = walk_tree(&root, &mut w).unwrap();
        let names: Vec<String> = t
            .keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "include",
                "include/a.h",
                "include/c.h",
                "include/d.h",
                "include/sub",
                "include/sub/b.h",
                "include/up"
            ]
        );
        assert_eq!(t[&b"include/d.h".to_vec()], TreeEntry::Dangling);
        assert_eq!(t[&b"include/up".to_vec()], TreeEntry::Dir);
        assert_eq!(w.into_components().len(), 8);
        let files: Vec<PathBuf> = t
            .values()
            .filter_map(|e| match e {
                TreeEntry::File(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        let hashes = hash_files(&files).unwrap();
        assert_eq!(
            hashes[&root.join("include/c.h")],
            hashes[&root.join("include/a.h")]
        );
        assert_eq!(hashes[&root.join("include/a.h")], blake3::hash(b"a"));
    }

    #[test]
    fn racy_means_changed_within_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let s = StatKey::of(&f).unwrap();
        let now = SystemTime::now();
        assert!(s.is_racy(now, Duration::from_secs(2)));
        assert!(!s.is_racy(now + Duration::from_secs(3), Duration::from_secs(2)));
        assert!(StatKey::of(&dir.path().join("none")).is_none());
    }
}
