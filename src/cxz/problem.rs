//! The problems a `.cxz` can have, and the error that carries them.
//!
//! Verification collects *every* problem so a library author can fix them in
//! one round; each problem names the entry or manifest key it is about.

use std::fmt;

/// One thing wrong with an archive, located by entry path or manifest key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What the problem is about, e.g. `entry '../x.c'` or `manifest.toml [ffi.regex]`.
    pub location: String,
    /// What is wrong and, where useful, how to fix it.
    pub message: String,
}

impl Problem {
    /// A problem about one archive entry (its name as stored, quoted).
    pub fn entry(name: &str, message: impl Into<String>) -> Self {
        Problem {
            location: format!("entry '{}'", name.escape_debug()),
            message: message.into(),
        }
    }

    /// A problem about the manifest, at a table such as `[library]` (or `""` for the top).
    pub fn manifest(table: &str, message: impl Into<String>) -> Self {
        let location = if table.is_empty() {
            crate::cxz::MANIFEST.to_string()
        } else {
            format!("{} {table}", crate::cxz::MANIFEST)
        };
        Problem {
            location,
            message: message.into(),
        }
    }

    /// A problem about the archive as a whole.
    pub fn archive(message: impl Into<String>) -> Self {
        Problem {
            location: "archive".to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Why an archive could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CxzError {
    /// The file could not be opened or read.
    #[error("Cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a ZIP archive at all (or is empty).
    #[error("Invalid .cxz file: {path} is not a ZIP archive{detail}")]
    NotZip { path: String, detail: String },
    /// The file is a ZIP archive but breaks one or more rules of the format.
    #[error("Invalid .cxz file: {path} ({})\n\n{}", count(.problems.len()), list(.problems))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
    },
}

impl CxzError {
    /// Every problem this error reports (one for I/O and not-a-ZIP errors).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            CxzError::Invalid { problems, .. } => problems.clone(),
            other => vec![Problem::archive(other.to_string())],
        }
    }
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_string()
    } else {
        format!("{n} problems")
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
