//! The one error type that reaches the user.
//!
//! Library code uses typed errors (`thiserror`); at the edge every error is
//! turned into a [`Failure`]: fully worded text (starting with `error: `) and
//! an exit status. `main` prints it once and exits; nothing else prints errors.

use std::fmt;

/// A worded, user-facing failure with its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Complete text, first line `error: …`, optional body after a blank line.
    pub text: String,
    /// Process exit status (1 unless a command documents otherwise).
    pub status: u8,
}

impl Failure {
    /// A failure whose first line is `error: {headline}`.
    pub fn new(headline: impl fmt::Display) -> Self {
        Failure {
            text: format!("error: {headline}"),
            status: 1,
        }
    }

    /// A failure with a headline and an explanatory body (the fix).
    pub fn with_body(headline: impl fmt::Display, body: impl fmt::Display) -> Self {
        Failure {
            text: format!("error: {headline}\n\n{body}"),
            status: 1,
        }
    }

    /// Text that is already fully worded (it must start with `error: `).
    pub fn worded(text: impl Into<String>) -> Self {
        Failure {
            text: text.into(),
            status: 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Failure {}

/// What every subcommand returns: an exit status, or a failure to print.
pub type CmdResult = Result<std::process::ExitCode, Failure>;
