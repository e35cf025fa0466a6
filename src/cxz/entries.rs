//! Reading a `.cxz`'s ZIP entries into memory under the entry rules of
//! format §6: names, types, duplicates, claimed and actual sizes, ratios.
//! Whole-archive rules and the manifest are checked afterwards, in
//! [`super::archive`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};

use zip::ZipArchive;

use crate::cxz::archive::Limits;
use crate::cxz::layout::{check_layout, LayoutError};
use crate::cxz::paths::normalize_relative;
use crate::cxz::{CxzError, Problem, MANIFEST};

/// What reading the entries produced: the files that passed, the problems
/// of the others, and whether a `manifest.toml` entry was present at all.
pub(super) struct ReadEntries {
    pub(super) files: BTreeMap<String, Vec<u8>>,
    pub(super) problems: Vec<Problem>,
    pub(super) saw_manifest: bool,
}

/// Reads every entry's bytes, checking §6 entry rules; all problems are
/// collected. Fails outright only when the bytes are not a ZIP at all or
/// list more entries than the limit.
pub(super) fn read_entries<R: Read + Seek>(
    reader: R,
    len: u64,
    display: &str,
    limits: Limits,
) -> Result<ReadEntries, CxzError> {
    let (mut zip, raw_names) = open_zip(reader, len, display, limits)?;
    let mut state = EntryReader {
        limits,
        files: BTreeMap::new(),
        originals: BTreeMap::new(),
        problems: Vec::new(),
        claimed_total: 0,
        budget: limits.max_total_size,
        total_reported: false,
    };
    if zip.has_duplicate_names() {
        state.problems = duplicate_name_problems(raw_names.as_deref());
    }
    for i in 0..zip.len() {
        state.read_entry(&mut zip, i);
    }
    Ok(ReadEntries {
        saw_manifest: state.originals.contains_key(MANIFEST),
        files: state.files,
        problems: state.problems,
    })
}

/// Entry names as the central directory lists them: raw bytes, duplicates
/// kept.
type RawNames = Vec<Vec<u8>>;

/// Opens the ZIP and refuses it before any entry is read if it is empty,
/// not a ZIP, or has more entries than the limit (counting the central
/// directory's raw names, which include duplicates the reader folds).
fn open_zip<R: Read + Seek>(
    mut reader: R,
    len: u64,
    display: &str,
    limits: Limits,
) -> Result<(ZipArchive<R>, Option<RawNames>), CxzError> {
    if len == 0 {
        return Err(CxzError::NotZip {
            path: display.to_string(),
            detail: "\n\nThe file is empty.".to_string(),
        });
    }
    check_layout(&mut reader, len).map_err(|e| match e {
        LayoutError::NotZip(detail) => CxzError::NotZip {
            path: display.to_string(),
            detail,
        },
        LayoutError::Invalid(problems) => CxzError::Invalid {
            path: display.to_string(),
            problems,
        },
    })?;
    let raw_names = central_directory_names(&mut reader, len);
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|source| CxzError::Io {
            path: display.to_string(),
            source,
        })?;
    let zip = ZipArchive::new(reader).map_err(|e| CxzError::NotZip {
        path: display.to_string(),
        detail: zip_error_detail(&e),
    })?;
    let entry_count = raw_names
        .as_ref()
        .map_or(zip.len(), |n| n.len().max(zip.len()));
    if entry_count > limits.max_entries {
        return Err(CxzError::Invalid {
            path: display.to_string(),
            problems: vec![Problem::archive(format!(
                "{entry_count} entries, more than the limit of {}",
                limits.max_entries
            ))],
        });
    }
    Ok((zip, raw_names))
}

/// The ZIP reader's complaint in words: its messages may name internal
/// Rust types (`zip::format::blocks::...`), which mean nothing to a user.
fn zip_error_detail(e: &zip::result::ZipError) -> String {
    let text = e.to_string();
    if text.contains("::") || text.contains("Block") {
        "\n\nIts ZIP structure is damaged; repack the library with `coex cxz pack`.".to_string()
    } else {
        format!("\n\nThe ZIP reader says: {text}")
    }
}

/// One problem per name listed twice in the central directory, or one for
/// the whole archive when the names cannot be listed.
fn duplicate_name_problems(raw_names: Option<&[Vec<u8>]>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut reported = BTreeSet::new();
    for raw in raw_names.into_iter().flatten() {
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
    problems
}

/// What an entry's header says, once its name passed.
struct EntryHeader {
    /// The name as written in the archive (what problems quote).
    name: String,
    /// The normalised path it is kept under.
    norm: String,
    /// Uncompressed size the header claims.
    claimed: u64,
    /// Compressed size the header claims.
    compressed: u64,
}

/// The running state of reading the entries one by one: what was kept,
/// what was refused, and how much of the total-size budget is left.
struct EntryReader {
    limits: Limits,
    files: BTreeMap<String, Vec<u8>>,
    /// Normalised path → the entry name that first claimed it.
    originals: BTreeMap<String, String>,
    problems: Vec<Problem>,
    /// Sum of the uncompressed sizes the headers claim so far.
    claimed_total: u64,
    /// Bytes still allowed to be inflated.
    budget: u64,
    /// Whether the total-size limit was reported (then nothing more is read).
    total_reported: bool,
}

impl EntryReader {
    /// Reads entry `i` into `files`, or records why it may not be kept.
    fn read_entry<R: Read + Seek>(&mut self, zip: &mut ZipArchive<R>, i: usize) {
        let Some(header) = self.entry_header(zip, i) else {
            return;
        };
        if !self.claims_ok(&header) || self.total_reported {
            return;
        }
        if let Some(data) = self.inflate(zip, i, &header) {
            self.budget -= data.len() as u64;
            self.files.insert(header.norm, data);
        }
    }

    /// Name and type checks from the entry's header: `None` for a folder
    /// (skipped) or an entry refused (its problem recorded).
    fn entry_header<R: Read + Seek>(
        &mut self,
        zip: &ZipArchive<R>,
        i: usize,
    ) -> Option<EntryHeader> {
        let Ok(entry) = zip.by_index_data(i) else {
            self.problems
                .push(Problem::archive(format!("entry #{i} cannot be read")));
            return None;
        };
        let raw = entry.name_raw().to_vec();
        let Ok(name) = String::from_utf8(raw.clone()) else {
            self.problems.push(Problem::entry(
                &String::from_utf8_lossy(&raw),
                "name is not valid UTF-8",
            ));
            return None;
        };
        let norm = match file_entry_path(&name, entry.encrypted(), entry.unix_mode()) {
            Ok(Some(norm)) => norm,
            Ok(None) => return None,
            Err(problem) => {
                self.problems.push(problem);
                return None;
            }
        };
        if let Some(first) = self.originals.get(&norm) {
            self.problems.push(Problem::entry(
                &name,
                format!("duplicates entry '{first}' (both name {norm})"),
            ));
            return None;
        }
        self.originals.insert(norm.clone(), name.clone());
        Some(EntryHeader {
            name,
            norm,
            claimed: entry.size(),
            compressed: entry.compressed_size(),
        })
    }

    /// Size checks on what the header claims (running total, ratio, the
    /// manifest's size), before anything is inflated. `false` if the entry
    /// must be skipped; a total over the limit is reported once and does
    /// not skip this entry's other checks.
    fn claims_ok(&mut self, h: &EntryHeader) -> bool {
        let limits = self.limits;
        self.claimed_total = self.claimed_total.saturating_add(h.claimed);
        if self.claimed_total > limits.max_total_size && !self.total_reported {
            self.total_reported = true;
            self.problems.push(Problem::entry(
                &h.name,
                format!(
                    "brings the uncompressed total to {} bytes, over the limit of {} bytes (zip bomb?)",
                    self.claimed_total, limits.max_total_size
                ),
            ));
        }
        let ratio = h.claimed / h.compressed.max(1);
        if h.claimed > limits.ratio_floor && ratio > limits.max_ratio {
            self.problems.push(Problem::entry(
                &h.name,
                format!(
                    "compression ratio {ratio}:1 exceeds the limit of {}:1 (zip bomb?)",
                    limits.max_ratio
                ),
            ));
            return false;
        }
        if h.norm == MANIFEST && h.claimed > limits.max_manifest_size {
            self.problems.push(Problem::entry(
                &h.name,
                format!(
                    "is {} bytes, more than the limit of {} bytes",
                    h.claimed, limits.max_manifest_size
                ),
            ));
            return false;
        }
        true
    }

    /// Inflates entry `i`, never past a cap worked out from the limits
    /// (the header is not trusted), and checks the actual size against the
    /// cap and the claim. `None` if refused (its problem recorded).
    fn inflate<R: Read + Seek>(
        &mut self,
        zip: &mut ZipArchive<R>,
        i: usize,
        h: &EntryHeader,
    ) -> Option<Vec<u8>> {
        let limits = self.limits;
        let ratio_cap = limits
            .ratio_floor
            .max(h.compressed.saturating_mul(limits.max_ratio));
        let mut cap = self.budget.min(ratio_cap);
        if h.norm == MANIFEST {
            cap = cap.min(limits.max_manifest_size);
        }
        let mut data = Vec::new();
        let read = match zip.by_index(i) {
            Ok(file) => file.take(cap.saturating_add(1)).read_to_end(&mut data),
            Err(e) => {
                self.problems
                    .push(Problem::entry(&h.name, format!("cannot be read: {e}")));
                return None;
            }
        };
        if let Err(e) = read {
            self.problems.push(Problem::entry(
                &h.name,
                format!("cannot be decompressed: {e}"),
            ));
            return None;
        }
        let actual = data.len() as u64;
        if actual > cap {
            let why = self.over_cap_reason(h, actual);
            self.problems.push(Problem::entry(&h.name, why));
            return None;
        }
        if actual != h.claimed {
            self.problems.push(Problem::entry(
                &h.name,
                format!("holds {actual} bytes but its header claims {}", h.claimed),
            ));
            return None;
        }
        Some(data)
    }

    /// Which limit an entry that inflated past its cap broke: the total
    /// (then reported once, and nothing more is read), the manifest's size,
    /// or the compression ratio.
    fn over_cap_reason(&mut self, h: &EntryHeader, actual: u64) -> String {
        let limits = self.limits;
        if actual > self.budget {
            self.total_reported = true;
            format!(
                "inflates past the uncompressed total limit of {} bytes (zip bomb?)",
                limits.max_total_size
            )
        } else if h.norm == MANIFEST && actual > limits.max_manifest_size {
            format!(
                "is more than the limit of {} bytes",
                limits.max_manifest_size
            )
        } else {
            format!(
                "inflates past a compression ratio of {}:1 (zip bomb?)",
                limits.max_ratio
            )
        }
    }
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

/// Raw entry names as listed in the central directory, duplicates included
/// (the ZIP reader's index keeps one entry per name). `None` if the central
/// directory cannot be walked (e.g. ZIP64), which only weakens error text.
pub(super) fn central_directory_names<R: Read + Seek>(r: &mut R, len: u64) -> Option<RawNames> {
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
