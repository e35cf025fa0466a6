//! `coex.lock`: the libraries `coex pkg install` put in a lib folder, each
//! with the content digest of its archive.
//!
//! The file is written only by `coex pkg`, always the same way for the same
//! libraries (a header comment, `version = 1`, then one `[[library]]` table
//! per library sorted by name, keys in a fixed order), so it diffs well and
//! reinstalling changes no byte. It is read as untrusted input: every name
//! must be a library name and every path a plain relative path ending in
//! `NAME.cxz`, so `coex pkg remove` can never be steered outside the project.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::PkgError;

/// The format version written and accepted.
pub const LOCK_VERSION: i64 = 1;

const HEADER: &str = "\
# coex.lock: written by `coex pkg` (install, remove); do not edit by hand.
# The .cxz libraries installed for this project, with the content digest of
# each archive; `coex build --locked` refuses any other.
";

/// One installed library.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The library's name (its manifest's `[library] name`).
    pub name: String,
    /// Its version.
    pub version: String,
    /// The archive's content digest (BLAKE3 hex, as `coex cxz verify` prints).
    pub digest: String,
    /// Where it was installed from: a path, or a URL without credentials.
    pub source: String,
    /// The archive, relative to the lock's folder (`lib/NAME.cxz`).
    pub path: String,
}

/// A whole `coex.lock`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    /// Entries by library name.
    pub libraries: BTreeMap<String, LockEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockFile {
    version: i64,
    #[serde(default)]
    library: Vec<LockEntry>,
}

/// `[a-z_][a-z0-9_]*`, at most 64 bytes: the manifest's rule for names.
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        && name.len() <= 64
}

fn valid_digest(d: &str) -> bool {
    d.len() == 64 && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A lock's `path`: relative, plain components only, naming `NAME.cxz`.
fn valid_path(path: &str, name: &str) -> bool {
    let p = Path::new(path);
    !path.contains('\\')
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && p.file_name().is_some_and(|f| *f == *format!("{name}.cxz"))
}

impl Lock {
    /// Parses a lock's text; `shown` names the file in errors.
    pub fn parse(text: &str, shown: &str) -> Result<Lock, PkgError> {
        let bad = |what: String| {
            PkgError::with_fix(
                format!("{shown} is not a valid coex.lock: {what}"),
                "It is written by `coex pkg`; restore it from version control, \
                 or delete it and install the libraries again.",
            )
        };
        let file: LockFile = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        if file.version != LOCK_VERSION {
            return Err(bad(format!(
                "version {} is not {LOCK_VERSION}, the only version this coex knows",
                file.version
            )));
        }
        let mut libraries = BTreeMap::new();
        for e in file.library {
            if !valid_name(&e.name) {
                return Err(bad(format!(
                    "'{}' is not a library name",
                    e.name.escape_debug()
                )));
            }
            if !valid_digest(&e.digest) {
                return Err(bad(format!(
                    "library '{}': digest is not 64 hex digits",
                    e.name
                )));
            }
            if !valid_path(&e.path, &e.name) {
                return Err(bad(format!(
                    "library '{}': path '{}' is not a relative path to {}.cxz",
                    e.name,
                    e.path.escape_debug(),
                    e.name
                )));
            }
            let name = e.name.clone();
            if libraries.insert(name.clone(), e).is_some() {
                return Err(bad(format!("library '{name}' is listed twice")));
            }
        }
        Ok(Lock { libraries })
    }

    /// Reads `path`; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Lock, PkgError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Lock::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(e) => Err(PkgError::new(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// The lock's text: always the same bytes for the same entries.
    pub fn to_toml(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut out = format!("{HEADER}version = {LOCK_VERSION}\n");
        for e in self.libraries.values() {
            out.push_str(&format!(
                "\n[[library]]\nname = {}\nversion = {}\ndigest = {}\nsource = {}\npath = {}\n",
                q(&e.name),
                q(&e.version),
                q(&e.digest),
                q(&e.source),
                q(&e.path)
            ));
        }
        out
    }

    /// Writes the lock to `path` atomically (temporary file, rename).
    pub fn write(&self, path: &Path) -> Result<(), PkgError> {
        let target = crate::atomic_file::OutputTarget {
            path,
            flag: "--lib",
            inputs: &[],
        };
        crate::atomic_file::write_atomically(&target, self.to_toml().as_bytes(), 0o644, true)
            .map_err(|e| PkgError::new(e.to_string()))
    }

    /// Where entry `e`'s archive is, for a lock at `lock_path`.
    pub fn archive_path(lock_path: &Path, e: &LockEntry) -> PathBuf {
        lock_path.parent().unwrap_or(Path::new(".")).join(&e.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, source: &str) -> LockEntry {
        LockEntry {
            name: name.into(),
            version: "1.0.0".into(),
            digest: "ab".repeat(32),
            source: source.into(),
            path: format!("lib/{name}.cxz"),
        }
    }

    #[test]
    fn round_trip_is_sorted_and_stable() {
        let mut lock = Lock::default();
        for (n, s) in [("zeta", "/x/z.cxz"), ("alpha", "https://h/a \"q\".cxz")] {
            lock.libraries.insert(n.into(), entry(n, s));
        }
        let text = lock.to_toml();
        assert!(text.find("\"alpha\"").unwrap() < text.find("\"zeta\"").unwrap());
        let back = Lock::parse(&text, "coex.lock").unwrap();
        assert_eq!(back, lock);
        assert_eq!(back.to_toml(), text);
    }

    #[test]
    fn hostile_locks_are_refused() {
        let ok = Lock {
            libraries: [("a".to_string(), entry("a", "s"))].into(),
        }
        .to_toml();
        for (from, to) in [
            ("path = \"lib/a.cxz\"", "path = \"../../etc/a.cxz\""),
            ("path = \"lib/a.cxz\"", "path = \"/etc/a.cxz\""),
            ("path = \"lib/a.cxz\"", "path = \"lib/b.cxz\""),
            ("name = \"a\"", "name = \"../a\""),
            ("version = 1", "version = 2"),
            ("digest = \"abab", "digest = \"ABAB"),
            ("source = \"s\"", "source = \"s\"\nextra = 1"),
        ] {
            let text = ok.replacen(from, to, 1);
            assert_ne!(text, ok);
            assert!(Lock::parse(&text, "coex.lock").is_err(), "{text}");
        }
    }
}
