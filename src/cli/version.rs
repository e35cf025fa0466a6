//! `coex --version` (with the host target and the clang found),
//! `coex completions SHELL` and `coex man`.

use clap::CommandFactory;
use std::process::ExitCode;

use crate::failure::{CmdResult, Failure};

/// `coex 0.1.0 (x86_64-unknown-linux-gnu; clang 14.0.6 at /usr/bin/clang)`;
/// never fails: a missing or broken clang is said so.
pub fn long() -> String {
    let clang = match crate::toolchain::clang::locate_clang(None) {
        Ok(path) => match clang_version(&path) {
            Some(v) => format!("clang {v} at {}", path.display()),
            None => format!("clang at {} (its version unknown)", path.display()),
        },
        Err(_) => "no clang found: set COEX_CC or put clang on PATH".to_string(),
    };
    format!(
        "coex {} ({}; {clang})",
        env!("CARGO_PKG_VERSION"),
        target_lexicon::HOST
    )
}

/// The version number from the first line of `clang --version`.
fn clang_version(path: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next()?;
    let words: Vec<&str> = first.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "version")?;
    words.get(at + 1).map(|v| (*v).to_string())
}

/// Prints the long version (called for `coex --version` / `coex -V`).
pub fn print_long() {
    outln!("{}", long());
}

/// `coex completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> CmdResult {
    let mut cmd = super::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "coex", &mut buf);
    out!("{}", String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}

/// `coex man`: the manual page in roff on stdout.
pub fn man() -> CmdResult {
    let mut buf = Vec::new();
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut buf)
        .map_err(|e| Failure::new(format!("cannot render the manual page: {e}")))?;
    out!("{}", String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}
