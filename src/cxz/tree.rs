//! Which files of a library folder are packed (docs/cxz.md, "Packing").
//!
//! Never packed, whatever any ignore file says: hidden files and folders
//! (a name starting with `.`: `.git`, `.gitignore`, `.coexignore`, …),
//! version-control folders without a dot (`CVS`, `_darcs`), editor and OS
//! leftovers, and build-system files ([`BUILD_FILES`], `*.bzl`). Then the
//! `.coexignore` and `.gitignore` files *inside* the library folder apply,
//! with git's syntax and precedence (a deeper file wins; in one folder
//! `.coexignore` wins over `.gitignore`; an excluded folder is not entered,
//! so nothing below it can be re-included). Nothing outside the folder is
//! read: not the ignore files of folders above it, not `.git/info/exclude`,
//! not git's global excludes. So the archive depends on the folder alone and
//! two copies of a library pack to the same bytes on any machine.
//!
//! `coex tool pack --file` (Bazel's `cxz_archive`) gets its file list from
//! the build system: it applies the fixed rules to the archive paths, so a
//! `BUILD.bazel` in `srcs` is left out exactly as `coex cxz pack` leaves it.

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

use crate::cxz::glob::is_glob;
use crate::cxz::pack::PackError;
use crate::cxz::{Problem, COEX_SRC, FFI_SRC, MANIFEST};

/// Build-system files never packed (with every `*.bzl`), at any depth.
pub const BUILD_FILES: &[&str] = &[
    "BUILD",
    "BUILD.bazel",
    "BUCK",
    "WORKSPACE",
    "WORKSPACE.bazel",
    "WORKSPACE.bzlmod",
    "MODULE.bazel",
    "MODULE.bazel.lock",
];

/// Version-control folders whose names do not start with a dot.
const VCS_DIRS: &[&str] = &["CVS", "_darcs"];

/// The ignore files read in every folder, highest precedence first.
const IGNORE_FILES: &[&str] = &[".coexignore", ".gitignore"];

/// Why a file or folder of the tree is not packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// Its name starts with `.`.
    Hidden,
    /// A version-control folder.
    VersionControl,
    /// Editor or OS junk (`*~`, `*.swp`, `#*#`, `Thumbs.db`, …).
    Junk,
    /// A Bazel or Buck file.
    BuildFile,
    /// The archive being written.
    Output,
    /// A pattern of an ignore file matched it.
    Ignored {
        /// The ignore file, relative to the library folder.
        file: String,
        /// The pattern as written there.
        pattern: String,
    },
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::Hidden => write!(f, "its name starts with '.' (hidden files and folders are never packed)"),
            Exclusion::VersionControl => write!(f, "it is a version-control folder (never packed)"),
            Exclusion::Junk => write!(f, "it is an editor or OS leftover (never packed)"),
            Exclusion::BuildFile => write!(
                f,
                "it is a build-system file ({}, *.bzl are never packed)",
                BUILD_FILES.join(", ")
            ),
            Exclusion::Output => write!(f, "it is the archive being written"),
            Exclusion::Ignored { file, pattern } => write!(
                f,
                "it is ignored by '{pattern}' in {file}; remove that line, or re-include it with a '!' line in .coexignore"
            ),
        }
    }
}

fn is_junk(name: &str) -> bool {
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swo")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
        || name == "Thumbs.db"
}

/// Whether a build-system file is named `name`.
pub fn is_build_file(name: &str) -> bool {
    BUILD_FILES.contains(&name) || name.ends_with(".bzl")
}

/// The rule that never packs an entry called `name`, if any.
pub fn fixed_exclusion(name: &str, is_dir: bool) -> Option<Exclusion> {
    if name.starts_with('.') {
        Some(Exclusion::Hidden)
    } else if is_dir {
        VCS_DIRS
            .contains(&name)
            .then_some(Exclusion::VersionControl)
    } else if is_junk(name) {
        Some(Exclusion::Junk)
    } else if is_build_file(name) {
        Some(Exclusion::BuildFile)
    } else {
        None
    }
}

/// The fixed rule excluding archive path `path` (a file), if any; a folder
/// on the way is checked as a folder.
pub fn path_exclusion(path: &str) -> Option<Exclusion> {
    let parts: Vec<&str> = path.split('/').collect();
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .find_map(|(i, part)| fixed_exclusion(part, i < last))
}

/// A library folder as packing sees it.
#[derive(Debug, Default)]
pub struct Tree {
    /// The files packed, by archive path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// What was left out and why; a folder's path ends with `/` (nothing
    /// below it was looked at).
    pub excluded: BTreeMap<String, Exclusion>,
}

/// Reads the files of `dir` that are packed (skipping `skip`, the output
/// file, when it is in the tree).
pub fn read_tree(dir: &Path, skip: Option<&Path>) -> Result<Tree, PackError> {
    let root = dir.canonicalize().map_err(|e| read_err(dir, e))?;
    let skip = skip
        .and_then(|s| std::fs::metadata(s).ok())
        .map(|m| (m.dev(), m.ino()));
    let mut walk = Walk {
        dir,
        root,
        skip,
        layers: Vec::new(),
        tree: Tree::default(),
    };
    walk.folder("")?;
    Ok(walk.tree)
}

fn read_err(path: &Path, source: std::io::Error) -> PackError {
    PackError::Read {
        path: path.display().to_string(),
        source,
    }
}

struct Walk<'a> {
    /// The folder as given (for messages and reading).
    dir: &'a Path,
    /// The same folder, canonical (what ignore patterns are matched under).
    root: PathBuf,
    /// Device and inode of the output file.
    skip: Option<(u64, u64)>,
    /// The ignore files of each folder from the root down to the current one.
    layers: Vec<Vec<Gitignore>>,
    tree: Tree,
}

impl Walk<'_> {
    fn disk(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.dir.to_path_buf()
        } else {
            self.dir.join(rel)
        }
    }

    /// Reads folder `rel` (`""`: the root) and everything packed below it.
    fn folder(&mut self, rel: &str) -> Result<(), PackError> {
        let disk = self.disk(rel);
        let layer = self.ignore_files(rel)?;
        self.layers.push(layer);
        let entries = std::fs::read_dir(&disk).map_err(|e| read_err(&disk, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| read_err(&disk, e))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| PackError::NonUtf8 {
                    path: entry.path().display().to_string(),
                })?;
            names.push(name);
        }
        names.sort();
        for name in names {
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            self.entry(&child, &name)?;
        }
        self.layers.pop();
        Ok(())
    }

    /// Packs, enters or leaves out entry `rel` (called `name`).
    fn entry(&mut self, rel: &str, name: &str) -> Result<(), PackError> {
        let path = self.disk(rel);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| read_err(&path, e))?;
        let is_dir = meta.is_dir();
        let why = fixed_exclusion(name, is_dir)
            .or_else(|| (self.skip == Some((meta.dev(), meta.ino()))).then_some(Exclusion::Output))
            .or_else(|| self.ignored(rel, is_dir));
        if let Some(why) = why {
            let key = if is_dir {
                format!("{rel}/")
            } else {
                rel.to_string()
            };
            self.tree.excluded.insert(key, why);
            return Ok(());
        }
        let shown = path.display().to_string();
        if meta.file_type().is_symlink() {
            Err(PackError::Symlink { path: shown })
        } else if is_dir {
            self.folder(rel)
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| read_err(&path, e))?;
            self.tree.files.insert(rel.to_string(), bytes);
            Ok(())
        } else {
            Err(PackError::Special { path: shown })
        }
    }

    /// The ignore files of folder `rel` that exist, highest precedence first.
    fn ignore_files(&self, rel: &str) -> Result<Vec<Gitignore>, PackError> {
        let mut layer = Vec::new();
        let folder = self.root.join(rel);
        for name in IGNORE_FILES {
            let file = folder.join(name);
            if std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file()) {
                let shown = self.disk(rel).join(name).display().to_string();
                layer.push(parse_ignore_file(&folder, &file, &shown)?);
            }
        }
        Ok(layer)
    }

    /// The ignore pattern excluding `rel`: the deepest folder's files decide
    /// first, and a `!` pattern there re-includes.
    fn ignored(&self, rel: &str, is_dir: bool) -> Option<Exclusion> {
        let path = self.root.join(rel);
        for matcher in self.layers.iter().rev().flatten() {
            match matcher.matched(&path, is_dir) {
                Match::None => {}
                Match::Whitelist(_) => return None,
                Match::Ignore(glob) => {
                    let file = glob
                        .from()
                        .map(|f| f.strip_prefix(&self.root).unwrap_or(f))
                        .map(|f| f.display().to_string())
                        .unwrap_or_default();
                    return Some(Exclusion::Ignored {
                        file,
                        pattern: glob.original().to_string(),
                    });
                }
            }
        }
        None
    }
}

/// The patterns of ignore file `file` of `folder` (`shown` names it in
/// errors): a line that is not a valid pattern is an error, not skipped.
fn parse_ignore_file(folder: &Path, file: &Path, shown: &str) -> Result<Gitignore, PackError> {
    let bad = |message: String| PackError::IgnoreFile {
        path: shown.to_string(),
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    let mut builder = GitignoreBuilder::new(folder);
    // As git: a UTF-8 byte order mark at the start is not part of a pattern.
    for (line, pattern) in (1..).zip(text.trim_start_matches('\u{feff}').lines()) {
        builder
            .add_line(Some(file.to_path_buf()), pattern)
            .map_err(|e| bad(format!("line {line}: {e}")))?;
    }
    builder.build().map_err(|e| bad(e.to_string()))
}

/// `p` without empty and `.` components (`None` with a `..`: the manifest
/// check reports it).
fn normalise(p: &str) -> Option<String> {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    (!parts.contains(&"..")).then(|| parts.join("/"))
}

/// The archive paths `manifest` names literally: itself, its `[library]
/// source` modules and the unit sources that are neither globs nor `!`
/// exclusions.
fn listed_paths(manifest: &str) -> Vec<String> {
    let mut listed = vec![MANIFEST.to_string()];
    let Ok(table) = manifest.parse::<toml::Table>() else {
        return listed;
    };
    let strings = |t: Option<&toml::Value>| -> Vec<String> {
        t.and_then(|v| v.get("source"))
            .and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for m in strings(table.get("library")) {
        listed.extend(normalise(&m).map(|m| format!("{COEX_SRC}{m}")));
    }
    let units = table.get("ffi").and_then(toml::Value::as_table);
    for (name, unit) in units.into_iter().flatten() {
        if name == "system" {
            continue;
        }
        // A `!` entry takes files out of the selection: it names none to pack.
        let literal = |s: &&String| !is_glob(s) && !s.starts_with('!');
        for s in strings(Some(unit)).iter().filter(literal) {
            listed.extend(normalise(s).map(|s| format!("{FFI_SRC}{s}")));
        }
    }
    listed
}

/// One problem per file the manifest names that is in the tree but left
/// out (itself, or a folder above it): packing it anyway would disobey the
/// ignore rules, and leaving it out silently would give a library that
/// cannot be loaded.
pub fn listed_but_excluded(manifest: &str, excluded: &BTreeMap<String, Exclusion>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for path in listed_paths(manifest) {
        let folders = path.match_indices('/').map(|(i, _)| &path[..=i]);
        let hit = folders
            .chain(std::iter::once(path.as_str()))
            .find_map(|p| excluded.get(p).map(|why| (p, why)));
        if let Some((at, why)) = hit {
            let whose = if at == path {
                String::new()
            } else {
                format!(" (its folder '{at}')")
            };
            problems.push(Problem::entry(
                &path,
                format!("the manifest names it, but it is not packed{whose}: {why}"),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_rules_name_their_reason() {
        assert_eq!(fixed_exclusion(".git", true), Some(Exclusion::Hidden));
        assert_eq!(
            fixed_exclusion("CVS", true),
            Some(Exclusion::VersionControl)
        );
        assert_eq!(fixed_exclusion("CVS", false), None);
        assert_eq!(fixed_exclusion("a.c~", false), Some(Exclusion::Junk));
        assert_eq!(fixed_exclusion("#a.c#", false), Some(Exclusion::Junk));
        assert_eq!(fixed_exclusion("#", false), None);
        for name in ["BUILD", "BUILD.bazel", "BUCK", "MODULE.bazel", "defs.bzl"] {
            assert_eq!(fixed_exclusion(name, false), Some(Exclusion::BuildFile));
        }
        assert_eq!(fixed_exclusion("build", true), None);
        assert_eq!(fixed_exclusion("BUILD.md", false), None);
        assert_eq!(path_exclusion("ffi/src/BUILD"), Some(Exclusion::BuildFile));
        assert_eq!(path_exclusion(".x/a.c"), Some(Exclusion::Hidden));
        assert_eq!(path_exclusion("CVS/a.c"), Some(Exclusion::VersionControl));
        assert_eq!(path_exclusion("src/CVS"), None);
    }

    #[test]
    fn listed_paths_are_literal_and_normalised() {
        let m = "[library]\nname = \"x\"\nversion = \"1.0.0\"\nsource = [\"a.coex\", \"../b\"]\n\
                 [ffi.u]\nsource = [\"./d/u.c\", \"g*.c\", \"!g1.c\"]\n[ffi.system]\nsource = [\"no.c\"]\n";
        assert_eq!(
            listed_paths(m),
            ["manifest.toml", "src/a.coex", "ffi/src/d/u.c"]
        );
        assert_eq!(listed_paths("not toml ["), ["manifest.toml"]);
    }

    #[test]
    fn an_excluded_listed_file_or_folder_is_a_problem() {
        let m = "[ffi.u]\nsource = [\"gen/u.c\", \"v.c\"]\n";
        let mut excluded = BTreeMap::new();
        excluded.insert("ffi/src/gen/".to_string(), Exclusion::Hidden);
        excluded.insert("ffi/src/w.c".to_string(), Exclusion::Junk);
        let problems = listed_but_excluded(m, &excluded);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].location, "entry 'ffi/src/gen/u.c'");
        assert!(problems[0].message.contains("its folder 'ffi/src/gen/'"));
    }
}
