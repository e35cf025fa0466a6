//! Safe, in-memory reading of a `.cxz` (format §6).
//!
//! An archive is untrusted: its entries are checked (names, types, sizes,
//! ratios) before and while they are read, every read is capped with
//! `take()` whatever the headers claim, nothing is written to disk and links
//! are never followed. The result is a [`CxzArchive`]: the files by
//! normalised path, the validated manifest and the content digest.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use zip::ZipArchive;

use crate::cxz::digest::{content_digest, prefix_digest};
use crate::cxz::manifest::Manifest;
use crate::cxz::paths::normalize_relative;
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
    /// `build::archive_memo`; empty for every archive read from its zip).
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
    /// `build::archive_memo`): only the manifest is parsed again.
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

/// Reads every entry's bytes, checking §6 entry rules; all problems are collected.
/// What reading the entries produced: the files that passed, the problems
/// of the others, and whether a `manifest.toml` entry was present at all.
struct ReadEntries {
    files: BTreeMap<String, Vec<u8>>,
    problems: Vec<Problem>,
    saw_manifest: bool,
}

/// What an entry's header says it is: `Ok(Some(path))` (normalized) for a
/// regular file, `Ok(None)` for a folder (skipped), `Err` for anything a
/// `.cxz` may not hold (bad path, encrypted, link, device, empty name).
fn file_entry_path(
    name: &str,
    encrypted: bool,
    unix_mode: Option<u32>,
) -> Result<Option<String>, Problem> {
    let norm = normalize_relative(name)
        .map_err(|issue| Problem::entry(name, format!("path {}", issue.describe())))?;
    if encrypted {
        return Err(Problem::entry(
            name,
            "is encrypted; .cxz entries must be plain",
        ));
    }
    let mode = unix_mode.unwrap_or(0) & 0o170000;
    if mode == 0o120000 {
        return Err(Problem::entry(
            name,
            "is a symbolic link; links are not allowed in a .cxz",
        ));
    }
    if !matches!(mode, 0 | 0o100000 | 0o040000) {
        return Err(Problem::entry(
            name,
            format!("is not a regular file (unix mode {mode:o})"),
        ));
    }
    if name.ends_with('/') || mode == 0o040000 {
        return Ok(None);
    }
    if norm == "." {
        return Err(Problem::entry(name, "is a file with an empty name"));
    }
    Ok(Some(norm))
}

fn read_entries<R: Read + Seek>(
    mut reader: R,
    len: u64,
    display: &str,
    limits: Limits,
) -> Result<ReadEntries, CxzError> {
    if len == 0 {
        return Err(CxzError::NotZip {
            path: display.to_string(),
            detail: "\n\nThe file is empty.".to_string(),
        });
    }
    let raw_names = central_directory_names(&mut reader, len);
    let io_err = |source| CxzError::Io {
        path: display.to_string(),
        source,
    };
    reader.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut zip = ZipArchive::new(reader).map_err(|e| CxzError::NotZip {
        path: display.to_string(),
        detail: format!("\n\nThe ZIP reader says: {e}"),
    })?;
    let invalid = |problems: Vec<Problem>| CxzError::Invalid {
        path: display.to_string(),
        problems,
    };
    let entry_count = raw_names
        .as_ref()
        .map_or(zip.len(), |n| n.len().max(zip.len()));
    if entry_count > limits.max_entries {
        return Err(invalid(vec![Problem::archive(format!(
            "{entry_count} entries, more than the limit of {}",
            limits.max_entries
        ))]));
    }

    let mut problems = Vec::new();
    if zip.has_duplicate_names() {
        let mut seen = BTreeSet::new();
        let mut reported = BTreeSet::new();
        for raw in raw_names.iter().flatten() {
            if !seen.insert(raw.clone()) && reported.insert(raw.clone()) {
                let name = String::from_utf8_lossy(raw);
                problems.push(Problem::entry(
                    &name,
                    "appears more than once in the archive",
                ));
            }
        }
        if reported.is_empty() {
            problems.push(Problem::archive("two or more entries have the same name"));
        }
    }

    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut originals: BTreeMap<String, String> = BTreeMap::new();
    let mut claimed_total: u64 = 0;
    let mut budget = limits.max_total_size;
    let mut total_reported = false;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_data(i) else {
            problems.push(Problem::archive(format!("entry #{i} cannot be read")));
            continue;
        };
        let raw = entry.name_raw().to_vec();
        let Ok(name) = String::from_utf8(raw.clone()) else {
            problems.push(Problem::entry(
                &String::from_utf8_lossy(&raw),
                "name is not valid UTF-8",
            ));
            continue;
        };
        let norm = match file_entry_path(&name, entry.encrypted(), entry.unix_mode()) {
            Ok(Some(norm)) => norm,
            Ok(None) => continue,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        if let Some(first) = originals.get(&norm) {
            problems.push(Problem::entry(
                &name,
                format!("duplicates entry '{first}' (both name {norm})"),
            ));
            continue;
        }
        originals.insert(norm.clone(), name.clone());

        let claimed = entry.size();
        let compressed = entry.compressed_size();
        claimed_total = claimed_total.saturating_add(claimed);
        if claimed_total > limits.max_total_size && !total_reported {
            total_reported = true;
            problems.push(Problem::entry(
                &name,
                format!(
                    "brings the uncompressed total to {claimed_total} bytes, over the limit of {} bytes (zip bomb?)",
                    limits.max_total_size
                ),
            ));
        }
        if claimed > limits.ratio_floor && claimed / compressed.max(1) > limits.max_ratio {
            problems.push(Problem::entry(
                &name,
                format!(
                    "compression ratio {}:1 exceeds the limit of {}:1 (zip bomb?)",
                    claimed / compressed.max(1),
                    limits.max_ratio
                ),
            ));
            continue;
        }
        if norm == MANIFEST && claimed > limits.max_manifest_size {
            problems.push(Problem::entry(
                &name,
                format!(
                    "is {claimed} bytes, more than the limit of {} bytes",
                    limits.max_manifest_size
                ),
            ));
            continue;
        }
        if total_reported {
            continue;
        }

        // Never trust the header: cap what is actually inflated.
        let ratio_cap = limits
            .ratio_floor
            .max(compressed.saturating_mul(limits.max_ratio));
        let mut cap = budget.min(ratio_cap);
        if norm == MANIFEST {
            cap = cap.min(limits.max_manifest_size);
        }
        let mut data = Vec::new();
        let read = match zip.by_index(i) {
            Ok(file) => file.take(cap.saturating_add(1)).read_to_end(&mut data),
            Err(e) => {
                problems.push(Problem::entry(&name, format!("cannot be read: {e}")));
                continue;
            }
        };
        if let Err(e) = read {
            problems.push(Problem::entry(
                &name,
                format!("cannot be decompressed: {e}"),
            ));
            continue;
        }
        let actual = data.len() as u64;
        if actual > cap {
            let why = if actual > budget {
                total_reported = true;
                format!(
                    "inflates past the uncompressed total limit of {} bytes (zip bomb?)",
                    limits.max_total_size
                )
            } else if norm == MANIFEST && actual > limits.max_manifest_size {
                format!(
                    "is more than the limit of {} bytes",
                    limits.max_manifest_size
                )
            } else {
                format!(
                    "inflates past a compression ratio of {}:1 (zip bomb?)",
                    limits.max_ratio
                )
            };
            problems.push(Problem::entry(&name, why));
            continue;
        }
        if actual != claimed {
            problems.push(Problem::entry(
                &name,
                format!("holds {actual} bytes but its header claims {claimed}"),
            ));
            continue;
        }
        budget -= actual;
        files.insert(norm, data);
    }
    Ok(ReadEntries {
        files,
        problems,
        saw_manifest: originals.contains_key(MANIFEST),
    })
}

/// Raw entry names as listed in the central directory, duplicates included
/// (the ZIP reader's index keeps one entry per name). `None` if the central
/// directory cannot be walked (e.g. ZIP64), which only weakens error text.
fn central_directory_names<R: Read + Seek>(r: &mut R, len: u64) -> Option<Vec<Vec<u8>>> {
    let tail_len = len.min(22 + 65_535);
    r.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = Vec::new();
    r.by_ref().take(tail_len).read_to_end(&mut tail).ok()?;
    let u16_at = |b: &[u8], p: usize| -> Option<usize> {
        Some(u16::from_le_bytes(b.get(p..p + 2)?.try_into().ok()?) as usize)
    };
    let u32_at = |b: &[u8], p: usize| -> Option<usize> {
        Some(u32::from_le_bytes(b.get(p..p + 4)?.try_into().ok()?) as usize)
    };
    let last = tail.len().checked_sub(22)?;
    let eocd = (0..=last)
        .rev()
        .find(|&p| tail.get(p..p + 4) == Some(b"PK\x05\x06"))?;
    let cd_size = u32_at(&tail, eocd + 12)?;
    let count = u16_at(&tail, eocd + 10)?;
    if cd_size == 0xFFFF_FFFF || count == 0xFFFF || cd_size > 64 * 1024 * 1024 {
        return None;
    }
    let eocd_abs = (len - tail_len).checked_add(eocd as u64)?;
    let cd_start = eocd_abs.checked_sub(cd_size as u64)?;
    r.seek(SeekFrom::Start(cd_start)).ok()?;
    let mut cd = Vec::new();
    r.by_ref().take(cd_size as u64).read_to_end(&mut cd).ok()?;
    let mut pos = 0usize;
    let mut names = Vec::new();
    while cd.get(pos..pos + 4) == Some(b"PK\x01\x02") {
        let name_len = u16_at(&cd, pos + 28)?;
        let extra_len = u16_at(&cd, pos + 30)?;
        let comment_len = u16_at(&cd, pos + 32)?;
        names.push(cd.get(pos + 46..pos + 46 + name_len)?.to_vec());
        pos += 46 + name_len + extra_len + comment_len;
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;
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
