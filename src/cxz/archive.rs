//! Safe, in-memory reading of a `.cxz` (format §6).
//!
//! An archive is untrusted: its entries are checked (names, types, sizes,
//! ratios) before and while they are read, every read is capped with
//! `take()` whatever the headers claim, nothing is written to disk and links
//! are never followed. The result is a [`CxzArchive`]: the files by
//! normalised path, the validated manifest and the content digest.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use crate::cxz::digest::{content_digest, prefix_digest};
use crate::cxz::entries::read_entries;
use crate::cxz::manifest::Manifest;
use crate::cxz::{CxzError, Problem, FFI_SRC, MANIFEST};

/// Longest file path inside an archive (bytes): files are materialised in
/// scratch folders by the build, where longer paths fail.
pub const MAX_PATH_LEN: usize = 1024;
/// Longest path component (the usual file-system limit).
pub const MAX_COMPONENT_LEN: usize = 255;

/// The limits of §6 (a type so tests and tools can see them by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries an archive may have (directories included).
    pub max_entries: usize,
    /// Most bytes all files may hold once uncompressed.
    pub max_total_size: u64,
    /// Highest uncompressed:compressed ratio of one entry…
    pub max_ratio: u64,
    /// …checked for entries bigger than this (tiny files of repeated bytes
    /// legitimately compress better than 200:1 and cannot hurt anyone).
    pub ratio_floor: u64,
    /// Largest `manifest.toml`.
    pub max_manifest_size: u64,
}

impl Limits {
    /// The limits every `.cxz` must respect.
    pub const STANDARD: Limits = Limits {
        max_entries: 10_000,
        max_total_size: 256 * 1024 * 1024,
        max_ratio: 200,
        ratio_floor: 64 * 1024,
        max_manifest_size: 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::STANDARD
    }
}

/// A loaded, fully validated library archive, held in memory.
#[derive(Debug, Clone)]
pub struct CxzArchive {
    /// Every file by normalised path (`src/x.coex`, `ffi/src/a.c`); no directories.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The validated manifest.
    pub manifest: Manifest,
    /// BLAKE3 content digest of `files` (hex), see [`content_digest`].
    pub digest: String,
    /// Files held by digest only: their entry in `files` is empty and their
    /// bytes are a blob of the local build cache (an archive reopened from
    /// `plan::archive_memo`; empty for every archive read from its zip).
    pub stored: BTreeMap<String, crate::exec::Digest>,
}

impl CxzArchive {
    /// Opens and validates the archive at `path`. Only what the entries hold
    /// (capped by [`Limits`]) is read into memory.
    pub fn open(path: &Path) -> Result<CxzArchive, CxzError> {
        let display = path.display().to_string();
        let io_err = |source| CxzError::Io {
            path: display.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io_err)?;
        if !meta.is_file() {
            return Err(CxzError::NotZip {
                path: display,
                detail: "\n\nIt is not a regular file.".to_string(),
            });
        }
        let file = std::fs::File::open(path).map_err(io_err)?;
        let read = read_entries(
            std::io::BufReader::new(file),
            meta.len(),
            &display,
            Limits::STANDARD,
        )?;
        validate(
            read.files,
            read.problems,
            read.saw_manifest,
            &display,
            Limits::STANDARD,
        )
    }

    /// Validates an archive held in memory; `display` names it in errors.
    pub fn from_bytes(bytes: &[u8], display: &str) -> Result<CxzArchive, CxzError> {
        CxzArchive::from_bytes_with(bytes, display, Limits::STANDARD)
    }

    /// [`CxzArchive::from_bytes`] with explicit limits.
    pub fn from_bytes_with(
        bytes: &[u8],
        display: &str,
        limits: Limits,
    ) -> Result<CxzArchive, CxzError> {
        let read = read_entries(Cursor::new(bytes), bytes.len() as u64, display, limits)?;
        validate(
            read.files,
            read.problems,
            read.saw_manifest,
            display,
            limits,
        )
    }

    /// Validates files that are already in memory (as `pack` collects them).
    pub fn from_files(
        files: BTreeMap<String, Vec<u8>>,
        display: &str,
        limits: Limits,
    ) -> Result<CxzArchive, CxzError> {
        let saw_manifest = files.contains_key(MANIFEST);
        validate(files, Vec::new(), saw_manifest, display, limits)
    }

    /// An archive whose files were read and validated before (the caller
    /// vouches for them and their content digest, see
    /// `plan::archive_memo`): only the manifest is parsed again.
    pub fn from_validated(
        files: BTreeMap<String, Vec<u8>>,
        stored: BTreeMap<String, crate::exec::Digest>,
        digest: String,
        display: &str,
    ) -> Result<CxzArchive, CxzError> {
        let invalid = |problems| CxzError::Invalid {
            path: display.to_string(),
            problems,
        };
        let text = files
            .get(MANIFEST)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| invalid(vec![Problem::manifest("", "is missing or not UTF-8")]))?;
        let manifest = Manifest::parse(text, &files).map_err(invalid)?;
        Ok(CxzArchive {
            files,
            manifest,
            digest,
            stored,
        })
    }

    /// Library name from the manifest.
    pub fn name(&self) -> &str {
        &self.manifest.library.name
    }

    /// Digest of the files under `ffi/src/` only: what FFI builds depend on.
    pub fn ffi_src_digest(&self) -> String {
        prefix_digest(&self.files, FFI_SRC)
    }

    /// The text of a Coex module (`src/...`), if it is valid UTF-8.
    pub fn module_text(&self, path: &str) -> Option<&str> {
        self.files
            .get(path)
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// Whole-archive checks plus the manifest, after the entries were read.
fn validate(
    files: BTreeMap<String, Vec<u8>>,
    mut problems: Vec<Problem>,
    saw_manifest: bool,
    display: &str,
    limits: Limits,
) -> Result<CxzArchive, CxzError> {
    problems.extend(check_file_set(&files, saw_manifest, limits));
    let manifest = match files.get(MANIFEST) {
        Some(bytes) if (bytes.len() as u64) <= limits.max_manifest_size => {
            match std::str::from_utf8(bytes) {
                Err(_) => {
                    problems.push(Problem::manifest("", "is not valid UTF-8 text"));
                    None
                }
                Ok(text) => match Manifest::parse(text, &files) {
                    Ok(m) => Some(m),
                    Err(ps) => {
                        problems.extend(ps);
                        None
                    }
                },
            }
        }
        _ => None,
    };
    match manifest {
        Some(manifest) if problems.is_empty() => {
            let digest = content_digest(&files);
            Ok(CxzArchive {
                files,
                manifest,
                digest,
                stored: BTreeMap::new(),
            })
        }
        _ => Err(CxzError::Invalid {
            path: display.to_string(),
            problems,
        }),
    }
}

/// Rules about the set of files as a whole (also applied when packing).
fn check_file_set(
    files: &BTreeMap<String, Vec<u8>>,
    saw_manifest: bool,
    limits: Limits,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    if files.len() > limits.max_entries {
        problems.push(Problem::archive(format!(
            "{} files, more than the limit of {}",
            files.len(),
            limits.max_entries
        )));
    }
    let total: u64 = files.values().map(|b| b.len() as u64).sum();
    if total > limits.max_total_size {
        problems.push(Problem::archive(format!(
            "files total {total} bytes, more than the limit of {} bytes",
            limits.max_total_size
        )));
    }
    for path in files.keys() {
        if path.len() > MAX_PATH_LEN || path.split('/').any(|c| c.len() > MAX_COMPONENT_LEN) {
            problems.push(Problem::entry(
                path,
                format!(
                    "path is too long (at most {MAX_PATH_LEN} bytes, {MAX_COMPONENT_LEN} per component)"
                ),
            ));
        }
        let mut prefix = path.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if files.contains_key(parent) {
                problems.push(Problem::entry(
                    parent,
                    format!("is a file but '{path}' uses it as a folder"),
                ));
            }
            prefix = parent;
        }
    }
    match files.get(MANIFEST) {
        None if saw_manifest => {}
        None => problems.push(Problem::archive(format!(
            "missing {MANIFEST} at the archive root"
        ))),
        Some(m) if m.len() as u64 > limits.max_manifest_size => problems.push(Problem::entry(
            MANIFEST,
            format!(
                "is {} bytes, more than the limit of {} bytes",
                m.len(),
                limits.max_manifest_size
            ),
        )),
        Some(_) => {}
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cxz::entries::central_directory_names;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    const MANIFEST_TEXT: &str = "[library]\nname = \"t\"\nversion = \"0.1.0\"\n";

    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn loads_files_drops_directories_and_hashes_content() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.add_directory("src/", SimpleFileOptions::default())
            .unwrap();
        w.start_file("manifest.toml", SimpleFileOptions::default())
            .unwrap();
        w.write_all(MANIFEST_TEXT.as_bytes()).unwrap();
        w.start_file("./src/x.coex", SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"formula f() -> int\n    return 1\n~\n")
            .unwrap();
        let bytes = w.finish().unwrap().into_inner();
        let a = CxzArchive::from_bytes(&bytes, "t.cxz").unwrap();
        let paths: Vec<&str> = a.files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["manifest.toml", "src/x.coex"]);
        assert_eq!(a.digest, content_digest(&a.files));
        assert_eq!(a.manifest.library.modules, ["src/x.coex"]);
    }

    #[test]
    fn custom_limits_apply() {
        let bytes = zip(&[
            ("manifest.toml", MANIFEST_TEXT.as_bytes()),
            ("a", b"1"),
            ("b", b"2"),
        ]);
        let tight = Limits {
            max_entries: 2,
            ..Limits::STANDARD
        };
        let err = CxzArchive::from_bytes_with(&bytes, "t.cxz", tight).unwrap_err();
        assert!(err
            .to_string()
            .contains("3 entries, more than the limit of 2"));
        let small_total = Limits {
            max_total_size: 10,
            ..Limits::STANDARD
        };
        let err = CxzArchive::from_bytes_with(&bytes, "t.cxz", small_total).unwrap_err();
        assert!(
            err.to_string().contains("over the limit of 10 bytes"),
            "{err}"
        );
    }

    #[test]
    fn central_directory_lists_duplicates() {
        let mut bytes = zip(&[
            ("manifest.toml", MANIFEST_TEXT.as_bytes()),
            ("x1", b"a"),
            ("x2", b"b"),
        ]);
        let len = bytes.len() as u64;
        let mut patched = 0;
        for i in 0..bytes.len() - 1 {
            if &bytes[i..i + 2] == b"x2" {
                bytes[i + 1] = b'1';
                patched += 1;
            }
        }
        assert_eq!(patched, 2);
        let names = central_directory_names(&mut Cursor::new(&bytes), len).unwrap();
        assert_eq!(names.len(), 3);
        assert_eq!(names[1], names[2]);
        let err = CxzArchive::from_bytes(&bytes, "t.cxz").unwrap_err();
        assert!(
            err.to_string()
                .contains("entry 'x1': appears more than once"),
            "{err}"
        );
    }
}
