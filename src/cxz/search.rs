//! Finding a library named by an `import` (format §3).
//!
//! The search order and the not-found text are part of the contract. The
//! environment (`COEX_PATH`, `HOME`) is read once into a [`LibrarySearch`]
//! so tests can run the search against directories they control.

use std::fmt;
use std::path::{Path, PathBuf};

/// What an import string names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportTarget {
    /// A bare library name (`"regex"` or `"regex.cxz"` both give `regex`).
    Library(String),
    /// A path (the string contains `/`), resolved against the importing file's folder.
    Path(PathBuf),
}

/// Classifies an import string written in a file that lives in `import_dir`.
pub fn parse_import(spec: &str, import_dir: &Path) -> ImportTarget {
    if spec.contains('/') {
        let p = Path::new(spec);
        if p.is_absolute() {
            ImportTarget::Path(p.to_path_buf())
        } else {
            ImportTarget::Path(import_dir.join(p))
        }
    } else {
        ImportTarget::Library(spec.strip_suffix(".cxz").unwrap_or(spec).to_string())
    }
}

/// Where libraries are looked for, after the caller's own directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibrarySearch {
    /// `-L` directories, then `COEX_PATH` entries, in order.
    pub extra_dirs: Vec<PathBuf>,
    /// The user's home (for `~/.coex/lib`); `None` skips that place.
    pub home: Option<PathBuf>,
    /// The system-wide folder (`/usr/local/lib/coex`).
    pub system_dir: PathBuf,
}

/// The system-wide library folder of §3.
pub const SYSTEM_LIB_DIR: &str = "/usr/local/lib/coex";

impl LibrarySearch {
    /// `-L` dirs, then `COEX_PATH` (colon-separated, empty parts ignored), with
    /// the process's `HOME`.
    pub fn from_env(l_dirs: &[PathBuf]) -> LibrarySearch {
        LibrarySearch::with_env(
            l_dirs,
            std::env::var_os("COEX_PATH").as_deref(),
            std::env::var_os("HOME").map(PathBuf::from),
        )
    }

    /// Like [`LibrarySearch::from_env`] with the environment given explicitly.
    pub fn with_env(
        l_dirs: &[PathBuf],
        coex_path: Option<&std::ffi::OsStr>,
        home: Option<PathBuf>,
    ) -> LibrarySearch {
        let mut extra_dirs = l_dirs.to_vec();
        if let Some(cp) = coex_path {
            extra_dirs.extend(std::env::split_paths(cp).filter(|p| !p.as_os_str().is_empty()));
        }
        LibrarySearch {
            extra_dirs,
            home: home.filter(|h| !h.as_os_str().is_empty()),
            system_dir: PathBuf::from(SYSTEM_LIB_DIR),
        }
    }

    /// Finds library `name` (with or without `.cxz`) for a file in `import_dir`.
    pub fn find(&self, name: &str, import_dir: &Path) -> Result<PathBuf, LibraryNotFound> {
        let name = name.strip_suffix(".cxz").unwrap_or(name);
        let file = format!("{name}.cxz");
        let mut searched = Vec::new();
        let mut candidates: Vec<PathBuf> = Vec::new();
        for d in &self.extra_dirs {
            candidates.push(d.join(&file));
            searched.push(d.join(&file).display().to_string());
        }
        // The project's lib folder: beside the governing coex.lock, else
        // beside the importing file (`crate::pkg::project`).
        let lib_dir = crate::pkg::project::lib_dir_for(import_dir);
        candidates.push(lib_dir.join(&file));
        searched.push(crate::pkg::project::shown(&lib_dir.join(&file)));
        if let Some(home) = &self.home {
            candidates.push(home.join(".coex").join("lib").join(&file));
        }
        searched.push(format!("~/.coex/lib/{file}"));
        candidates.push(self.system_dir.join(&file));
        searched.push(self.system_dir.join(&file).display().to_string());
        // A bare name never contains '/', so it cannot walk out of these folders.
        if !name.contains('/') && !name.is_empty() {
            if let Some(hit) = candidates.into_iter().find(|c| c.is_file()) {
                return Ok(hit);
            }
        }
        Err(LibraryNotFound {
            name: name.to_string(),
            searched,
            lib_dir: Some(lib_dir),
        })
    }
}

/// Finds library `name` imported from a file in `import_dir`, searching
/// `search_dirs` (the `-L` options) first, then `COEX_PATH`, then the
/// standard places (§3). `HOME` and `COEX_PATH` come from the process.
pub fn find_library(
    name: &str,
    import_dir: &Path,
    search_dirs: &[PathBuf],
) -> Result<PathBuf, LibraryNotFound> {
    LibrarySearch::from_env(search_dirs).find(name, import_dir)
}

/// How many searched places a not-found message lists at most: the first
/// ones (`-L`, `COEX_PATH`), a count of the rest, and the last
/// [`SHOWN_LAST`] (the project's lib folder, `~/.coex/lib`, the system
/// folder), so 20,000 `-L` folders do not print 20,000 lines.
pub const SHOWN_PLACES: usize = 12;
/// The places always shown at the end of a capped list.
const SHOWN_LAST: usize = 3;

/// The searched places as listed: all of them up to [`SHOWN_PLACES`], else
/// the first ones, `… and N more`, and the last [`SHOWN_LAST`].
fn shown_places(searched: &[String]) -> Vec<String> {
    if searched.len() <= SHOWN_PLACES {
        return searched.to_vec();
    }
    let head = SHOWN_PLACES - SHOWN_LAST - 1;
    let tail = searched.len() - SHOWN_LAST;
    let mut out: Vec<String> = searched[..head].to_vec();
    out.push(format!("… and {} more", tail - head));
    out.extend(searched[tail..].iter().cloned());
    out
}

/// A library was not found; displays as the §3 message (without `error: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LibraryNotFound {
    /// The library name searched for.
    pub name: String,
    /// Every place looked at, in order, as shown to the user.
    pub searched: Vec<String>,
    /// The project's lib folder, where `coex pkg install` would put it.
    pub lib_dir: Option<PathBuf>,
}

impl fmt::Display for LibraryNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Library '{}' not found", self.name)?;
        writeln!(f)?;
        writeln!(f, "Searched in:")?;
        for s in shown_places(&self.searched) {
            writeln!(f, "  - {s}")?;
        }
        writeln!(f)?;
        let name = &self.name;
        // `coex pkg install` run in the current folder installs into its
        // project's lib folder: `--lib` only when that is another one.
        let (into, flag) = match &self.lib_dir {
            Some(dir) => {
                let flag = crate::pkg::project::lib_flag_for(dir)
                    .map(|d| format!("--lib {} ", crate::pkg::project::shell_word(&d)))
                    .unwrap_or_default();
                (crate::pkg::project::shown(dir), flag)
            }
            None => ("./lib".to_string(), String::new()),
        };
        writeln!(
            f,
            "To install it into the project's lib folder ({into}), give its archive's path or URL:"
        )?;
        writeln!(f, "  coex pkg install {flag}path/to/{name}.cxz")?;
        write!(f, "  coex pkg install {flag}https://…/{name}.cxz")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_text_matches_the_contract() {
        let s = LibrarySearch::with_env(&[], None, Some(PathBuf::from("/nonexistent-home")));
        let err = s.find("regex", Path::new("/nonexistent-dir")).unwrap_err();
        assert_eq!(
            format!("error: {err}"),
            "error: Library 'regex' not found\n\n\
             Searched in:\n  - /nonexistent-dir/lib/regex.cxz\n  - ~/.coex/lib/regex.cxz\n  - /usr/local/lib/coex/regex.cxz\n\n\
             To install it into the project's lib folder (/nonexistent-dir/lib), give its archive's path or URL:\n  \
             coex pkg install --lib /nonexistent-dir/lib path/to/regex.cxz\n  \
             coex pkg install --lib /nonexistent-dir/lib https://…/regex.cxz"
        );
    }

    #[test]
    fn a_long_search_list_is_capped_with_a_count() {
        let dirs: Vec<PathBuf> = (0..20_000)
            .map(|i| PathBuf::from(format!("/d{i}")))
            .collect();
        let s = LibrarySearch::with_env(&dirs, None, Some(PathBuf::from("/nonexistent-home")));
        let err = s.find("x", Path::new("/nonexistent-dir")).unwrap_err();
        assert_eq!(err.searched.len(), 20_003);
        let text = err.to_string();
        let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("  - ")).collect();
        assert_eq!(listed.len(), SHOWN_PLACES, "{text}");
        assert_eq!(listed[0], "  - /d0/x.cxz");
        assert_eq!(listed[7], "  - /d7/x.cxz");
        assert_eq!(listed[8], "  - … and 19992 more");
        assert_eq!(listed[9], "  - /nonexistent-dir/lib/x.cxz");
        assert_eq!(listed[11], "  - /usr/local/lib/coex/x.cxz");
        // a short list is shown whole
        let few: Vec<PathBuf> = (0..9).map(|i| PathBuf::from(format!("/d{i}"))).collect();
        let s = LibrarySearch::with_env(&few, None, Some(PathBuf::from("/nonexistent-home")));
        let text = s.find("x", Path::new("/n")).unwrap_err().to_string();
        assert_eq!(text.lines().filter(|l| l.starts_with("  - ")).count(), 12);
        assert!(!text.contains("more"), "{text}");
    }

    #[test]
    fn import_strings() {
        let d = Path::new("/proj");
        assert_eq!(
            parse_import("regex.cxz", d),
            ImportTarget::Library("regex".into())
        );
        assert_eq!(
            parse_import("regex", d),
            ImportTarget::Library("regex".into())
        );
        assert_eq!(
            parse_import("lib/minimal.cxz", d),
            ImportTarget::Path(PathBuf::from("/proj/lib/minimal.cxz"))
        );
    }

    #[test]
    fn extra_dirs_come_first_in_order() {
        let s = LibrarySearch::with_env(
            &[PathBuf::from("/a")],
            Some(std::ffi::OsStr::new("/b::/c")),
            None,
        );
        let err = s.find("x", Path::new("/nowhere")).unwrap_err();
        assert_eq!(&err.searched[..3], ["/a/x.cxz", "/b/x.cxz", "/c/x.cxz"]);
    }
}
