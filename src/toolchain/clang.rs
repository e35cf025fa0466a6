//! Finding clang and computing its identity.
//!
//! Order: `--cc PATH`, then `COEX_CC`, then `clang` on `PATH` (via `which`).
//! The identity is BLAKE3 over everything that decides what the compiler
//! produces: the driver binary (symlinks resolved) and its shared
//! libraries, its resource dir, the linker it runs, its system include
//! search list, its `--version` text and target triple (see
//! [`super::identify_watched`], in `clang_identity.rs`). A different compiler, resource dir, linker or
//! target gives different keys, while an identical copy at another path
//! does not: contents are hashed, not paths.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::clang_identity::identify;
use super::hints;
use super::ToolchainError;
use crate::exec::action::{fixed_env, ToolIdentity};

/// A usable clang. Serializable so that `toolchain::memo` can remember it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Clang {
    /// Absolute path used as argv[0].
    pub path: PathBuf,
    /// First line of `clang --version`.
    pub version: String,
    /// `clang -print-target-triple`.
    pub triple: String,
    /// `clang -print-resource-dir`: the compiler's own headers live here.
    pub resource_dir: PathBuf,
    /// The `#include <...>` search list clang reports for the target
    /// (`clang -E -v`), in search order: the system include dirs.
    pub include_dirs: Vec<PathBuf>,
    /// The linker clang runs (`-print-prog-name=ld`, resolved and
    /// canonicalised), `None` when there is none; part of the identity
    /// because it decides what a link produces.
    pub linker: Option<PathBuf>,
    /// What the keys see.
    pub identity: ToolIdentity,
}

impl Clang {
    /// Where `#include <…>` looks, in order: `extra` dirs (a unit's
    /// pkg-config `-I` dirs) before clang's system list.
    pub fn search_dirs(&self, extra: &[PathBuf]) -> Vec<PathBuf> {
        extra.iter().chain(&self.include_dirs).cloned().collect()
    }

    /// Where a compile may read besides its scratch dir: the resource dir
    /// (first: messages skip it), the system include dirs, then `extra`.
    /// Anything else could change without a key noticing.
    pub fn readable_roots(&self, extra: &[PathBuf]) -> Vec<PathBuf> {
        std::iter::once(&self.resource_dir)
            .chain(&self.include_dirs)
            .chain(extra)
            .cloned()
            .collect()
    }
}

fn not_found(what: String) -> ToolchainError {
    ToolchainError::ClangNotFound {
        what,
        hint: hints::render(&hints::CLANG)
            .replace("Install the clang development package:", "Install it:"),
    }
}

/// Finds clang using the process environment (`COEX_CC`, `PATH`).
pub fn find_clang(cc_flag: Option<&Path>) -> Result<Clang, ToolchainError> {
    find_clang_in(
        cc_flag,
        std::env::var_os("COEX_CC"),
        std::env::var_os("PATH").as_deref(),
    )
}

/// Finds clang with an explicit `COEX_CC` value and `PATH` (testable).
pub fn find_clang_in(
    cc_flag: Option<&Path>,
    coex_cc: Option<OsString>,
    path_var: Option<&OsStr>,
) -> Result<Clang, ToolchainError> {
    identify(&locate_clang_in(cc_flag, coex_cc, path_var)?)
}

/// The path [`find_clang`] would use, without running it: lets a caller
/// that remembers identities key them by this file.
pub fn locate_clang(cc_flag: Option<&Path>) -> Result<PathBuf, ToolchainError> {
    locate_clang_in(
        cc_flag,
        std::env::var_os("COEX_CC"),
        std::env::var_os("PATH").as_deref(),
    )
}

fn locate_clang_in(
    cc_flag: Option<&Path>,
    coex_cc: Option<OsString>,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, ToolchainError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let lookup = |name: &Path, origin: &str| -> Result<PathBuf, ToolchainError> {
        let shown = if origin.is_empty() {
            format!("{} is not on PATH", name.display())
        } else {
            format!("{} ({origin})", name.display())
        };
        if name.components().count() > 1 || name.is_absolute() {
            let p = if name.is_absolute() {
                name.to_path_buf()
            } else {
                cwd.join(name)
            };
            if p.is_file() {
                Ok(p)
            } else {
                Err(not_found(shown))
            }
        } else {
            which::which_in(name, path_var, &cwd).map_err(|_| not_found(shown))
        }
    };
    match (cc_flag, coex_cc.filter(|s| !s.is_empty())) {
        (Some(p), _) => lookup(p, "from --cc"),
        (None, Some(env)) => lookup(Path::new(&env), "from COEX_CC"),
        (None, None) => lookup(Path::new("clang"), ""),
    }
}

/// Runs clang with `args` and the fixed environment; (stdout, stderr).
pub(super) fn run_clang_args(
    path: &Path,
    args: &[&str],
) -> Result<(String, String), ToolchainError> {
    let broken = |detail: String| ToolchainError::ClangBroken {
        path: path.display().to_string(),
        detail,
    };
    let arg = args.join(" ");
    let out = Command::new(path)
        .args(args)
        .env_clear()
        .envs(fixed_env())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| broken(format!("cannot run it ({e})")))?;
    if !out.status.success() {
        return Err(broken(format!("`{arg}` exited with {}", out.status)));
    }
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_clang_is_one_worded_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = find_clang_in(None, None, Some(dir.path().as_os_str())).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("C compiler not found: clang is not on PATH"),
            "{text}"
        );
        assert!(text.contains("sudo apt install clang"), "{text}");
        let e = find_clang_in(None, Some("/nowhere/clang".into()), None).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("C compiler not found: /nowhere/clang (from COEX_CC)"));
    }

    #[test]
    fn real_clang_has_a_stable_identity() {
        let a = find_clang(None).unwrap();
        let b = identify(&a.path).unwrap();
        assert_eq!(a.identity, b.identity);
        assert!(!a.triple.is_empty());
        assert!(a.path.is_absolute());
        assert!(
            a.resource_dir.join("include").is_dir(),
            "{:?}",
            a.resource_dir
        );
        assert!(
            a.include_dirs.iter().any(|d| d.ends_with("include")),
            "{:?}",
            a.include_dirs
        );
    }
}
