//! `coex pkg`: installing `.cxz` libraries into the project's lib folder,
//! recording them in `coex.lock`, and holding builds to that lock
//! (`--locked`).
//!
//! - [`project`]: where the project's lib folder and `coex.lock` are.
//! - [`lock`]: the lock file, written in one stable form.
//! - [`fetch`]: downloading an archive over `http(s)://`.
//! - [`install`]: `coex pkg install`; [`manage`]: `list` and `remove`.
//! - [`locked`]: the `--locked` check of `build`, `run` and `check`.

pub mod fetch;
pub mod install;
pub mod lock;
pub mod locked;
pub mod manage;
pub mod project;

use std::fmt;

/// Why a `coex pkg` command (or a `--locked` check) failed: a headline and,
/// after a blank line, what to do about it. Displays without `error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkgError {
    /// The first line (after `error: `).
    pub headline: String,
    /// The body: details and the fix.
    pub fix: Option<String>,
}

impl PkgError {
    /// An error with only a headline.
    pub fn new(headline: impl Into<String>) -> Self {
        PkgError {
            headline: headline.into(),
            fix: None,
        }
    }

    /// An error with a headline and a body.
    pub fn with_fix(headline: impl Into<String>, fix: impl Into<String>) -> Self {
        PkgError {
            headline: headline.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for PkgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n\n{fix}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PkgError {}
