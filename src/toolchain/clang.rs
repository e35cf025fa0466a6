//! Finding clang and computing its identity.
//!
//! Order: `--cc PATH`, then `COEX_CC`, then `clang` on `PATH` (via `which`).
//! The identity is BLAKE3 over the compiler binary (symlinks resolved), its
//! `--version` text and its target triple: a different compiler or target
//! gives different keys, while the same compiler at another path does not.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::hints;
use super::ToolchainError;
use crate::exec::action::{fixed_env, ToolIdentity};

/// A usable clang.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// What the keys see.
    pub identity: ToolIdentity,
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
        std::env::var_os("PATH"),
    )
}

/// Finds clang with an explicit `COEX_CC` value and `PATH` (testable).
pub fn find_clang_in(
    cc_flag: Option<&Path>,
    coex_cc: Option<OsString>,
    path_var: Option<OsString>,
) -> Result<Clang, ToolchainError> {
    identify(&locate_clang_in(cc_flag, coex_cc, path_var)?)
}

/// The path [`find_clang`] would use, without running it: lets a caller
/// that remembers identities key them by this file.
pub fn locate_clang(cc_flag: Option<&Path>) -> Result<PathBuf, ToolchainError> {
    locate_clang_in(
        cc_flag,
        std::env::var_os("COEX_CC"),
        std::env::var_os("PATH"),
    )
}

fn locate_clang_in(
    cc_flag: Option<&Path>,
    coex_cc: Option<OsString>,
    path_var: Option<OsString>,
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
            which::which_in(name, path_var.clone(), &cwd).map_err(|_| not_found(shown))
        }
    };
    match (cc_flag, coex_cc.filter(|s| !s.is_empty())) {
        (Some(p), _) => lookup(p, "from --cc"),
        (None, Some(env)) => lookup(Path::new(&env), "from COEX_CC"),
        (None, None) => lookup(Path::new("clang"), ""),
    }
}

fn run_clang(path: &Path, arg: &str) -> Result<String, ToolchainError> {
    Ok(run_clang_args(path, &[arg])?.0)
}

/// Runs clang with `args` and the fixed environment; (stdout, stderr).
fn run_clang_args(path: &Path, args: &[&str]) -> Result<(String, String), ToolchainError> {
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

/// The `#include <...>` search list from `clang -E -v` output.
fn parse_include_dirs(verbose: &str) -> Vec<PathBuf> {
    verbose
        .lines()
        .skip_while(|l| !l.starts_with("#include <...> search starts here:"))
        .skip(1)
        .take_while(|l| !l.starts_with("End of search list."))
        .map(|l| {
            let dir = l.trim().trim_end_matches(" (framework directory)");
            std::fs::canonicalize(dir).unwrap_or_else(|_| PathBuf::from(dir))
        })
        .collect()
}

/// Computes the identity of the compiler at `path`.
pub fn identify(path: &Path) -> Result<Clang, ToolchainError> {
    let version_text = run_clang(path, "--version")?;
    let triple = run_clang(path, "-print-target-triple")?.trim().to_string();
    let resource = run_clang(path, "-print-resource-dir")?.trim().to_string();
    let resource_dir = std::fs::canonicalize(&resource).unwrap_or_else(|_| PathBuf::from(resource));
    let (_, verbose) = run_clang_args(
        path,
        &["-E", "-v", "-x", "c", "/dev/null", "-o", "/dev/null"],
    )?;
    let include_dirs = parse_include_dirs(&verbose);
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let bytes = std::fs::read(&real).map_err(|e| ToolchainError::ClangBroken {
        path: real.display().to_string(),
        detail: format!("cannot read it ({e})"),
    })?;
    let mut h = blake3::Hasher::new();
    h.update(b"clang\0");
    h.update(blake3::hash(&bytes).as_bytes());
    // The InstalledDir line names the directory; leave it out so the same
    // compiler installed elsewhere keeps its identity.
    for line in version_text
        .lines()
        .filter(|l| !l.starts_with("InstalledDir:"))
    {
        h.update(line.as_bytes());
        h.update(b"\n");
    }
    h.update(b"\0");
    h.update(triple.as_bytes());
    Ok(Clang {
        path: path.to_path_buf(),
        version: version_text.lines().next().unwrap_or("").to_string(),
        triple,
        resource_dir,
        include_dirs,
        identity: ToolIdentity {
            name: "clang".to_string(),
            fingerprint: h.finalize().to_hex().to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_clang_is_one_worded_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = find_clang_in(None, None, Some(dir.path().as_os_str().to_owned())).unwrap_err();
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

    #[test]
    fn include_search_list_is_parsed() {
        let text = "ignoring nonexistent directory \"/x\"\n#include \"...\" search starts here:\n#include <...> search starts here:\n /nonexistent/a\n /nonexistent/b\nEnd of search list.\n";
        assert_eq!(
            parse_include_dirs(text),
            [
                PathBuf::from("/nonexistent/a"),
                PathBuf::from("/nonexistent/b")
            ]
        );
    }
}
