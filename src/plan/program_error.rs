//! Why a program could not be loaded, planned or built, as data. Front-end
//! diagnostics stay diagnostics (with the sources they point into) until
//! the CLI renders them; every other cause is one variant worded by its
//! `Display` (without the leading `error: `, which the CLI adds).

use std::path::{Path, PathBuf};

use super::graph::PlanError;
use crate::atomic_file::OutputError;
use crate::codegen::CodegenError;
use crate::ffi_build::FfiBuildError;
use crate::lang::{self, Diagnostic, LoadError, ResolveError, SourceMap};
use crate::toolchain::ToolchainError;

/// A program's front-end diagnostics and the sources they point into,
/// kept as data so the edge decides how to show them (and tests can
/// inspect them) instead of receiving a pre-rendered string.
#[derive(Debug, Clone)]
pub struct ProgramDiagnostics {
    /// Every source file of the program, by the names messages use.
    pub sources: SourceMap,
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// The main file as the user knows it (named by the closing line).
    pub main: PathBuf,
}

impl ProgramDiagnostics {
    /// The diagnostics as `coex build` prints them: each with its snippet,
    /// then ``error: could not compile `MAIN` due to N error(s)`` when any
    /// is an error.
    pub fn render(&self) -> String {
        let mut text = lang::render_text(&self.sources, &self.diagnostics);
        if let Some(summary) = lang::error_summary(&self.diagnostics, "compile", &self.main) {
            text.push_str(&summary);
        }
        text
    }

    /// How many of the diagnostics are errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// Why a program could not be compiled or built: one variant per cause,
/// so callers tell them apart without reading text. `Display` gives the
/// message after `error: ` (for [`ProgramError::Diagnostics`] only the
/// closing line; the CLI renders the diagnostics themselves).
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// The source has errors.
    #[error("could not compile `{}` due to {}", .0.main.display(), errors(.0.error_count()))]
    Diagnostics(Box<ProgramDiagnostics>),
    /// The main file could not be read as Coex source.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A library given up front (`--cxz NAME=FILE`) could not be opened.
    #[error(transparent)]
    Library(#[from] ResolveError),
    /// Two program modules have the same name (one codegen action compiles
    /// them together, by name).
    #[error(
        "two different modules are both imported as '{name}': {} and {}\n\n\
         A program's module names must be unique (one build action compiles them together); rename one.",
        .first.display(),
        .second.display()
    )]
    ModuleNameClash {
        /// The shared module name.
        name: String,
        /// The module found first.
        first: PathBuf,
        /// The other one.
        second: PathBuf,
    },
    /// Cranelift refused the program's IR.
    #[error("code generation failed: {0}")]
    Codegen(#[source] CodegenError),
    /// The codegen action failed; its own message (stderr) is shown.
    #[error("code generation failed: {message}")]
    CodegenAction {
        /// The action's stderr without its `error: `.
        message: String,
    },
    /// The final link failed; the usual cause is a missing libgc.
    #[error(
        "linking the program failed:\n{stderr}\n\nThe runtime needs libgc (Debian: apt install libgc-dev)."
    )]
    Link {
        /// The linker's stderr.
        stderr: String,
    },
    /// An input of `coex tool codegen` could not be read (copied).
    #[error("cannot read {}: {source}", .path.display())]
    Unreadable {
        /// The file as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `coex tool codegen` copies its sources into a private folder first.
    #[error("cannot create a scratch directory: {0}")]
    Scratch(#[source] std::io::Error),
    /// Relative `--cxz` files are resolved against the current directory.
    #[error("cannot read the current directory: {0}")]
    CurrentDir(#[source] std::io::Error),
    /// `--main` must name a file (its name is the program's).
    #[error("--main {} names no file", .main.display())]
    MainNamesNoFile {
        /// The `--main` value.
        main: PathBuf,
    },
    /// A `--module NAME` would be copied over the main file.
    #[error("--module {name} has the main file's name")]
    ModuleNamedLikeMain {
        /// The module name.
        name: String,
    },
    /// No clang (or not a usable one).
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// The codegen action runs this binary, so its identity is hashed.
    #[error("cannot read the coex executable: {0}")]
    CoexExecutable(#[source] std::io::Error),
    /// Planning the action graph failed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// An FFI unit failed to compile or link, or its image is unloadable.
    #[error(transparent)]
    Ffi(#[from] FfiBuildError),
    /// The output path cannot be written (or is one of the build's inputs).
    #[error(transparent)]
    Output(#[from] OutputError),
    /// `--locked`: an imported library is not the one `coex.lock` records.
    #[error(transparent)]
    Locked(#[from] crate::pkg::PkgError),
    /// The executable was evicted between the build and reading it back.
    #[error("the executable vanished from the cache during the build; run the build again")]
    ExecutableVanished,
}

fn errors(n: usize) -> String {
    if n == 1 {
        "1 error".to_string()
    } else {
        format!("{n} errors")
    }
}

impl ProgramError {
    /// Diagnostics as an error (boxed: they hold every source file).
    pub(super) fn diagnostics(
        sources: SourceMap,
        diagnostics: Vec<Diagnostic>,
        main: &Path,
    ) -> Self {
        ProgramError::Diagnostics(Box::new(ProgramDiagnostics {
            sources,
            diagnostics,
            main: main.to_path_buf(),
        }))
    }
}
