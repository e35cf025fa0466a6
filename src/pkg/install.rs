//! `coex pkg install SOURCE…`: each source (a `.cxz` path or an
//! `http(s)://` URL) is read, verified as `coex cxz verify` does, copied
//! atomically to `LIB/NAME.cxz` (NAME from its manifest) and recorded in
//! `coex.lock` beside `LIB`. Every source is read and checked before
//! anything is written, so a bad one changes nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::fetch::{self, Url};
use super::lock::{Lock, LockEntry};
use super::project::{self, shown, LOCK_FILE};
use super::PkgError;
use crate::atomic_file::{check_output, write_atomically, OutputTarget};
use crate::cxz::CxzArchive;

/// Where `coex pkg` works: a lib folder and the lock beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The lib folder (absolute).
    pub lib_dir: PathBuf,
    /// `coex.lock` (absolute), in the lib folder's parent.
    pub lock_path: PathBuf,
    /// The lib folder's name, as the lock's `path` entries start.
    pub lib_name: String,
}

impl Place {
    /// `--lib DIR` (the lock is `DIR/../coex.lock`), or the project's lib
    /// folder of the current folder (see [`project`]).
    pub fn new(lib: Option<&Path>) -> Result<Place, PkgError> {
        let lib_dir = match lib {
            Some(dir) => project::absolute(dir),
            None => {
                let cwd = std::env::current_dir()
                    .map_err(|e| PkgError::new(format!("cannot read the current folder: {e}")))?;
                project::absolute(&project::lib_dir_for(&cwd))
            }
        };
        let (Some(parent), Some(name)) = (lib_dir.parent(), lib_dir.file_name()) else {
            return Err(PkgError::new(format!(
                "--lib {}: the lib folder needs a parent folder to hold {LOCK_FILE}",
                lib_dir.display()
            )));
        };
        Ok(Place {
            lock_path: parent.join(LOCK_FILE),
            lib_name: name.to_string_lossy().into_owned(),
            lib_dir,
        })
    }

    /// The archive of library `name` in the lib folder.
    pub fn archive(&self, name: &str) -> PathBuf {
        self.lib_dir.join(format!("{name}.cxz"))
    }
}

/// How `coex pkg install` runs.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// Accept a URL's archive whose digest differs from the lock's.
    pub update: bool,
    /// PEM certificates trusted for `https://` instead of the web roots.
    pub ca_pem: Option<Vec<u8>>,
}

/// A source read and verified, not yet installed.
struct Fetched {
    bytes: Vec<u8>,
    archive: CxzArchive,
    /// What the lock records as `source`.
    source: String,
    /// How messages name it.
    shown: String,
    url: bool,
}

/// Installs every source into `place`; returns the lines to print.
pub fn install(
    sources: &[String],
    place: &Place,
    opts: &InstallOptions,
) -> Result<Vec<String>, PkgError> {
    let mut lock = Lock::read(&place.lock_path)?;
    let mut fetched: Vec<Fetched> = Vec::new();
    for s in sources {
        let f = fetch_source(s, place, opts)?;
        if let Some(other) = fetched
            .iter()
            .find(|o| o.archive.name() == f.archive.name())
        {
            return Err(PkgError::new(format!(
                "{} and {} are both library '{}': install one of them",
                other.shown,
                f.shown,
                f.archive.name()
            )));
        }
        fetched.push(f);
    }
    for f in &fetched {
        check_against_lock(f, &lock, opts)?;
    }
    if place.lib_dir.is_dir() {
        for f in &fetched {
            check_output(&target(&place.archive(f.archive.name())))
                .map_err(|e| PkgError::new(e.to_string()))?;
        }
    }
    std::fs::create_dir_all(&place.lib_dir)
        .map_err(|e| PkgError::new(format!("cannot create {}: {e}", place.lib_dir.display())))?;
    let mut lines = Vec::new();
    for f in fetched {
        lines.push(put(f, place, &mut lock)?);
    }
    lock.write(&place.lock_path)?;
    lines.push(format!("recorded in {}", shown(&place.lock_path)));
    Ok(lines)
}

fn target(path: &Path) -> OutputTarget<'_> {
    OutputTarget {
        path,
        flag: "--lib",
        inputs: &[],
    }
}

/// A URL install whose library the lock pins to another digest is refused
/// without `--update`: the archive behind the URL changed.
fn check_against_lock(f: &Fetched, lock: &Lock, opts: &InstallOptions) -> Result<(), PkgError> {
    let lib = &f.archive.manifest.library;
    match lock.libraries.get(&lib.name) {
        Some(prev) if f.url && prev.digest != f.archive.digest && !opts.update => {
            Err(PkgError::with_fix(
                format!(
                    "{} does not match coex.lock: it holds {} {} with digest {}, \
                     coex.lock records {} {} with digest {} (from {})",
                    f.shown,
                    lib.name,
                    lib.version,
                    f.archive.digest,
                    prev.name,
                    prev.version,
                    prev.digest,
                    prev.source
                ),
                "The archive behind the URL is not the one installed before; nothing was \
                 changed. If you trust the new archive, install it again with --update.",
            ))
        }
        _ => Ok(()),
    }
}

/// Writes one archive (unless the file already holds these bytes) and
/// its lock entry; says what happened.
fn put(f: Fetched, place: &Place, lock: &mut Lock) -> Result<String, PkgError> {
    let lib = f.archive.manifest.library.clone();
    let path = place.archive(&lib.name);
    let on_disk = std::fs::read(&path).ok();
    if on_disk.as_deref() != Some(f.bytes.as_slice()) {
        write_atomically(&target(&path), &f.bytes, 0o644, true)
            .map_err(|e| PkgError::new(e.to_string()))?;
    }
    let entry = LockEntry {
        name: lib.name.clone(),
        version: lib.version.clone(),
        digest: f.archive.digest.clone(),
        source: f.source,
        path: format!("{}/{}.cxz", place.lib_name, lib.name),
    };
    let at = shown(&path);
    let line = match lock.libraries.insert(lib.name.clone(), entry) {
        None if on_disk.is_some() => format!(
            "installed {} {} -> {at}, digest {} (replacing a file coex.lock did not record)",
            lib.name, lib.version, f.archive.digest
        ),
        None => format!(
            "installed {} {} -> {at}, digest {}",
            lib.name, lib.version, f.archive.digest
        ),
        Some(prev) if prev.digest == f.archive.digest => format!(
            "{} {} is installed -> {at}, digest {} (unchanged)",
            lib.name, lib.version, f.archive.digest
        ),
        Some(prev) => format!(
            "replaced {} {} (digest {}) with {} {} -> {at}, digest {}",
            prev.name, prev.version, prev.digest, lib.name, lib.version, f.archive.digest
        ),
    };
    Ok(line)
}

fn fetch_source(s: &str, place: &Place, opts: &InstallOptions) -> Result<Fetched, PkgError> {
    if let Some(scheme) = fetch::scheme_of(s) {
        if !fetch::is_url(s) && !Path::new(s).exists() {
            return Err(PkgError::new(format!(
                "cannot install from '{scheme}://…': only http://, https:// and .cxz paths are supported"
            )));
        }
    }
    let (bytes, source, shown_as, url) = if fetch::is_url(s) {
        let url = Url::parse(s).ok_or_else(|| {
            // Whatever precedes an '@' may be a password: never shown.
            let safe = match s.rsplit_once('@') {
                Some((_, rest)) => format!("…@{rest}"),
                None => s.to_string(),
            };
            PkgError::new(format!("'{safe}' is not a valid http(s) URL"))
        })?;
        let bytes = fetch::download(&url, opts.ca_pem.as_deref())?;
        (bytes, url.shown(), url.shown(), true)
    } else {
        let path = Path::new(s);
        let bytes = read_local(path)?;
        (bytes, recorded_path(path, place), s.to_string(), false)
    };
    let archive = CxzArchive::from_bytes(&bytes, &shown_as)
        .and_then(|a| crate::plan::library_check::verify(a, &shown_as))
        .map_err(|e| PkgError::new(e.to_string()))?;
    Ok(Fetched {
        bytes,
        archive,
        source,
        shown: shown_as,
        url,
    })
}

/// A local archive's bytes: a regular file, at most [`fetch::MAX_DOWNLOAD`].
fn read_local(path: &Path) -> Result<Vec<u8>, PkgError> {
    let cannot = |why: String| PkgError::new(format!("cannot read {}: {why}", path.display()));
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found(path)),
        Err(e) => return Err(cannot(e.to_string())),
    };
    let meta = file.metadata().map_err(|e| cannot(e.to_string()))?;
    if !meta.is_file() {
        return Err(cannot("it is not a regular file".into()));
    }
    let mut bytes = Vec::new();
    file.take(fetch::MAX_DOWNLOAD + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(e.to_string()))?;
    if bytes.len() as u64 > fetch::MAX_DOWNLOAD {
        return Err(cannot(format!(
            "it is larger than {} MiB, more than a .cxz may hold",
            fetch::MAX_DOWNLOAD >> 20
        )));
    }
    Ok(bytes)
}

/// A source that is no file: a bare name gets the reason (there is no
/// registry to look names up in).
fn not_found(path: &Path) -> PkgError {
    let s = path.display().to_string();
    if !s.contains('/') && !s.ends_with(".cxz") {
        return PkgError::with_fix(
            format!("'{s}' is neither a .cxz file nor an http(s):// URL"),
            format!(
                "coex has no package registry: give the archive's path or URL, e.g.\n  \
                 coex pkg install path/to/{s}.cxz\n  coex pkg install https://…/{s}.cxz"
            ),
        );
    }
    PkgError::new(format!("cannot read {s}: no such file"))
}

/// What the lock records for a local source: relative to the lock's folder
/// when inside it (so the lock moves with the project), else absolute.
fn recorded_path(path: &Path, place: &Place) -> String {
    let abs = project::absolute(path);
    let project = place.lock_path.parent().unwrap_or(Path::new("/"));
    match abs.strip_prefix(project) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => abs.display().to_string(),
    }
}
