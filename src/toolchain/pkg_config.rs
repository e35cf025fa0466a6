//! Resolving `pkg_config` names to compiler and linker flags at plan time.
//! The flags become part of the action argv, hence of the keys.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::hints;
use super::ToolchainError;

/// Flags contributed by pkg-config packages, in package order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkgConfigFlags {
    /// From `pkg-config --cflags`.
    pub cflags: Vec<String>,
    /// From `pkg-config --libs`.
    pub libs: Vec<String>,
}

/// The absolute include dirs named by compiler flags (`-I`, `-isystem`,
/// `-idirafter`, `-iquote`, joined or separate), in order: where a unit's
/// compiles may read and search besides clang's own dirs.
pub fn include_dirs(cflags: &[String]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut flags = cflags.iter();
    while let Some(f) = flags.next() {
        let Some(opt) = ["-I", "-isystem", "-idirafter", "-iquote"]
            .into_iter()
            .find(|o| f.starts_with(o))
        else {
            continue;
        };
        let rest = &f[opt.len()..];
        let dir = if rest.is_empty() {
            flags.next().map(String::as_str).unwrap_or_default()
        } else {
            rest
        };
        if Path::new(dir).is_absolute() {
            dirs.push(PathBuf::from(dir));
        }
    }
    dirs
}

/// A name safe to pass to pkg-config: `[A-Za-z0-9_.+-]+`, no leading `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
}

fn missing(library: &str, package: &str) -> ToolchainError {
    let hint = match hints::for_pkg_config(package) {
        Some(h) => hints::render(&h),
        None => hints::render_generic_pkg(package),
    };
    ToolchainError::MissingPkgConfig {
        library: library.to_string(),
        package: package.to_string(),
        hint,
    }
}

fn query(package: &str, what: &str) -> Result<Option<Vec<String>>, std::io::Error> {
    let out = Command::new("pkg-config")
        .arg(what)
        .arg(package)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    ))
}

/// Resolves every package of `library`; a missing package (or a missing
/// pkg-config tool) is a worded error with an install hint.
pub fn resolve_pkg_config(
    library: &str,
    packages: &[String],
) -> Result<PkgConfigFlags, ToolchainError> {
    let mut flags = PkgConfigFlags::default();
    for p in packages {
        if !valid_name(p) {
            return Err(ToolchainError::BadName {
                library: library.to_string(),
                what: "pkg-config package",
                name: p.clone(),
                rule: "names must match [A-Za-z0-9_.+-]+ and not start with '-'",
            });
        }
        let tool_missing = |_| ToolchainError::MissingPkgConfig {
            library: library.to_string(),
            package: p.clone(),
            hint: format!(
                "The pkg-config tool itself is not installed.\n{}",
                hints::render(&hints::PKG_CONFIG)
            ),
        };
        let cflags = query(p, "--cflags").map_err(tool_missing)?;
        let libs = query(p, "--libs").map_err(tool_missing)?;
        match (cflags, libs) {
            (Some(c), Some(l)) => {
                flags.cflags.extend(c);
                flags.libs.extend(l);
            }
            _ => return Err(missing(library, p)),
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_dirs_are_read_from_joined_and_separate_flags() {
        let flags: Vec<String> = ["-I/a", "-DX", "-isystem", "/b", "-Irel", "-iquote/c", "-I"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            include_dirs(&flags),
            [
                PathBuf::from("/a"),
                PathBuf::from("/b"),
                PathBuf::from("/c")
            ]
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("libxml-2.0"));
        assert!(valid_name("gtk+-3.0"));
        assert!(!valid_name("--define-variable=x"));
        assert!(!valid_name("a b"));
    }

    #[test]
    fn missing_package_is_worded() {
        let e = resolve_pkg_config("tls", &["coex-no-such-package".to_string()]).unwrap_err();
        let t = e.to_string();
        assert!(t.starts_with("Missing system dependency for library 'tls'\n\nRequired pkg-config package not found: coex-no-such-package\n\n"), "{t}");
    }
}
