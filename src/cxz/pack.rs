//! `coex cxz pack`: a library source tree to a deterministic `.cxz` (§7).
//!
//! The tree is read into memory, validated exactly as a loaded archive would
//! be (a broken library is never packed), then written with sorted entries,
//! no directory entries, fixed timestamps and permissions and no extra
//! fields, through a temporary file renamed into place: the same tree always
//! gives the same bytes, and a failed pack leaves nothing behind.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::atomic_file::{check_output, write_atomically, Input, OutputError, OutputTarget};
use crate::cxz::archive::{CxzArchive, Limits};
use crate::cxz::tree::{listed_but_excluded, read_tree, Exclusion};
use crate::cxz::{CxzError, MANIFEST};

/// Why packing failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The source directory (or a file in it) could not be read.
    #[error("Cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The tree contains a symbolic link.
    #[error("Cannot pack {path}: it is a symbolic link\n\nA .cxz holds plain files only; replace the link with a copy of the file.")]
    Symlink { path: String },
    /// The tree contains a file that is neither a file nor a folder.
    #[error("Cannot pack {path}: it is not a regular file")]
    Special { path: String },
    /// A `.gitignore` or `.coexignore` of the tree cannot be read or has a
    /// pattern that is not valid.
    #[error("Cannot pack: {path}: {message}\n\nFix or remove the pattern: packing never guesses what an ignore file meant.")]
    IgnoreFile { path: String, message: String },
    /// A file name is not UTF-8.
    #[error("Cannot pack {path}: the file name is not valid UTF-8")]
    NonUtf8 { path: String },
    /// The library breaks a rule of the format.
    #[error("Cannot pack {dir}: the library is invalid\n\n{}", list(.problems))]
    Invalid {
        dir: String,
        problems: Vec<crate::cxz::Problem>,
    },
    /// Writing the archive failed.
    #[error("Cannot write {path}: {message}")]
    Write { path: String, message: String },
    /// The output path is refused (not a regular file, a file of the
    /// library, a missing folder) or could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
}

fn list(problems: &[crate::cxz::Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `path` with its existing part resolved (links, `..`) and the missing
/// rest appended: where an output folder `-o` creates would end up.
fn canonical_even_if_missing(path: &Path) -> Option<std::path::PathBuf> {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(c) = existing.canonicalize() {
            return Some(missing.iter().rev().fold(c, |p, part| p.join(part)));
        }
        missing.push(existing.file_name()?);
        existing = match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
    }
}

/// Refuses an output path inside the folder being packed, except a `.cxz`
/// outside the library's `src/` and `ffi/` that is new or an archive (an
/// earlier pack's output): every other file there is, or would become, one
/// of the library's files. The output itself is never packed (see
/// [`crate::cxz::tree::read_tree`]), so `coex cxz pack .` can write `./NAME.cxz` and a
/// re-pack gives the same bytes.
pub fn check_output_outside_tree(dir: &Path, out: &Path, flag: &str) -> Result<(), OutputError> {
    let (Ok(root), Some(name)) = (dir.canonicalize(), out.file_name()) else {
        return Ok(());
    };
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Some(folder) = canonical_even_if_missing(folder) else {
        return Ok(());
    };
    let Ok(rel) = folder.join(name).strip_prefix(&root).map(Path::to_path_buf) else {
        return Ok(());
    };
    let top = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let is_cxz_name = name.to_string_lossy().ends_with(".cxz");
    let in_library_dirs =
        rel.components().count() > 1 && matches!(top.as_deref(), Some("src") | Some("ffi"));
    let what = match std::fs::symlink_metadata(out) {
        // Not a regular file: check_output says what it is.
        Ok(m) if !m.is_file() => return Ok(()),
        Ok(_) if !(is_cxz_name && !in_library_dirs && is_zip(out)) => format!(
            "it is a file of the library being packed ({})",
            dir.display()
        ),
        Err(_) if !is_cxz_name || in_library_dirs => format!(
            "it is inside the library folder {} and would become one of its files",
            dir.display()
        ),
        _ => return Ok(()),
    };
    Err(OutputError::Refused {
        path: out.to_path_buf(),
        what,
        fix: format!(
            "Write the archive outside {} (or as NAME.cxz there, outside src/ and ffi/): choose another output path with {flag}.",
            dir.display()
        ),
    })
}

/// Whether `path` starts like a ZIP archive (a local header or an empty
/// archive's end record).
fn is_zip(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && (head == *b"PK\x03\x04" || head == *b"PK\x05\x06")
}

/// The deterministic ZIP bytes of `files` (sorted, 1980-01-01, 0o644, deflate).
pub fn write_zip(files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, String> {
    let time = DateTime::from_date_and_time(1980, 1, 1, 0, 0, 0).map_err(|e| e.to_string())?;
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(time)
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, bytes) in files {
        zip.start_file(path.as_str(), options)
            .map_err(|e| e.to_string())?;
        zip.write_all(bytes).map_err(|e| e.to_string())?;
    }
    let cursor = zip.finish().map_err(|e| e.to_string())?;
    Ok(cursor.into_inner())
}

/// Reads and validates the library in `dir` (skipping `skip`, e.g. the
/// output file) without writing anything.
pub fn validate_tree(dir: &Path, skip: Option<&Path>) -> Result<CxzArchive, PackError> {
    let tree = read_tree(dir, skip)?;
    // The manifest itself may be left out: name what it lists all the same.
    let manifest = match tree.files.get(MANIFEST) {
        Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        None => std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default(),
    };
    validate_files(
        tree.files,
        &tree.excluded,
        &manifest,
        &dir.display().to_string(),
    )
}

/// Validates the files packing chose (`excluded`: what it left out, and
/// why; `manifest`: the manifest's text, to name the files it lists that
/// were left out). `display` names the library in errors. Both `coex cxz
/// pack` and `coex tool pack` go through here.
pub fn validate_files(
    files: BTreeMap<String, Vec<u8>>,
    excluded: &BTreeMap<String, Exclusion>,
    manifest: &str,
    display: &str,
) -> Result<CxzArchive, PackError> {
    let mut problems = listed_but_excluded(manifest, excluded);
    match CxzArchive::from_files(files, display, Limits::STANDARD) {
        Ok(archive) if problems.is_empty() => return Ok(archive),
        Ok(_) => {}
        Err(CxzError::Invalid { problems: more, .. }) => problems.extend(more),
        Err(other) => problems.extend(other.problems()),
    }
    Err(PackError::Invalid {
        dir: display.to_string(),
        problems,
    })
}

/// Packs the library in `dir` into `out`; returns the validated archive.
///
/// Checks the archive rules and the manifest. Use [`pack_dir_checked`] to
/// add checks that need other parts of the compiler (the Coex front end's
/// extern agreement, through [`crate::cxz::verify_externs`]).
pub fn pack_dir(dir: &Path, out: &Path) -> Result<CxzArchive, PackError> {
    pack_dir_checked(dir, out, |_| Vec::new())
}

/// [`pack_dir`] with an extra check run on the validated library before
/// anything is written: any problem it returns refuses the pack.
pub fn pack_dir_checked(
    dir: &Path,
    out: &Path,
    extra_check: impl FnOnce(&CxzArchive) -> Vec<crate::cxz::Problem>,
) -> Result<CxzArchive, PackError> {
    check_output(&OutputTarget::new(out))?;
    check_output_outside_tree(dir, out, "-o")?;
    let archive = validate_tree(dir, Some(out))?;
    let dir_display = dir.display().to_string();
    let problems = extra_check(&archive);
    if !problems.is_empty() {
        return Err(PackError::Invalid {
            dir: dir_display,
            problems,
        });
    }
    let bytes = write_zip(&archive.files).map_err(|message| PackError::Write {
        path: out.display().to_string(),
        message,
    })?;
    let inputs: Vec<Input> = archive
        .files
        .keys()
        .map(|rel| Input::new(dir.join(rel), format!("the library's file {rel}")))
        .collect();
    write_atomically(
        &OutputTarget::new(out).with_inputs(&inputs),
        &bytes,
        0o644,
        true,
    )?;
    Ok(archive)
}
