//! The Coex Core front end: lexer, parser, module loader, checker and
//! diagnostics. It never sees Cranelift; the back end never re-parses.
//!
//! # Pipeline
//! [`loader::load_program`] reads the entry file and everything it imports
//! (modules beside the file or in `./lib`, libraries through a
//! [`LibraryResolver`]), parsing each file once with [`parser::parse`].
//! [`check::check_program`] then checks everything and returns a
//! [`CheckedProgram`] with every diagnostic found (all of them, not only
//! the first). [`check_file`] does both.
//!
//! # `CheckedProgram`, for the lowering pass
//! It is returned even when there are errors (tools may inspect it), but a
//! back end must only lower a program whose diagnostics hold no error:
//! erroneous expressions have type `Ty::Unknown` and may lack a call target.
//!
//! - `modules[i].ast` holds each parsed file (program modules and the Coex
//!   modules of every imported library); `units` says which namespace each
//!   belongs to and where it came from (program path or library name).
//! - Declarations, indexed by typed ids: `functions[FuncId]` (name, kind
//!   func/formula/task, owner record for methods, parameter locals and
//!   types, return type, `uses_self`, `returns_handle`, and where the
//!   declaration is: `func_decl(id)`), `externs[ExternId]` (boundary types;
//!   `library: Some(name)` when the symbol belongs to a `.cxz` library, so
//!   calls go through FFI instances; `None` for a bare extern bound to
//!   libc), `records[RecordId]` (fields in declaration order = constructor
//!   order, methods by name), `consts[ConstId]` (type; the value is the
//!   AST expression), `locals[LocalId]` (name, type, function).
//! - Side tables keyed by [`ast::NodeId`]: `types` (every expression's
//!   type; a `task for` statement's list type), `names` (a `Name` → local
//!   or const), `calls` (every `Call` → [`program::CallTarget`]: user
//!   function, static or instance method — the receiver is the callee's
//!   `Field` object —, extern, record constructor, built-in),
//!   `arg_order` (named arguments → parameter/field index), `time_units`
//!   (`time.millisecond` → nanoseconds), `bindings` (each `Bind`, bound
//!   `task for` and `case r = call:` → the local, and whether it declares
//!   it or rebinds it), `loop_vars` (`for`/`task for` → loop local).
//! - `main`: the entry file's `func main`, if any (`coex check` does not
//!   require one: a library module can be checked on its own).
//! - Scoping: locals are block-scoped; `x = e` declares `x` in the current
//!   block unless a visible local `x` exists, in which case it rebinds it.
//! - Integer/float mixing: `int op float` is a float (the int converts).
//!   `a..b` and `range(a, b)` are `[int]`.

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod lexer;
pub mod load_error;
pub mod loader;
pub mod parser;
pub mod program;
pub mod span;
pub mod stack;
pub mod token;
pub mod types;

use std::path::Path;

pub use check::{check_externs_against_manifest, check_program};
pub use diagnostic::{render_json, render_text, Diagnostic, Severity};
pub use load_error::{LoadError, ResolveError};
pub use loader::{DirLibraryResolver, LibraryModules, LibraryResolver, ManifestSymbol, SourceMap};
pub use program::CheckedProgram;

/// Loads and checks the program whose entry file is `path`. `Err` only when
/// the entry file cannot be read.
pub fn check_file(
    path: &Path,
    resolver: &dyn LibraryResolver,
) -> Result<(CheckedProgram, Vec<Diagnostic>), LoadError> {
    check_file_in(Path::new(""), path, resolver)
}

/// [`check_file`] for a program copied under `root`: file names in the
/// result and its diagnostics are relative to `root` (see
/// [`loader::load_program_in`]).
pub fn check_file_in(
    root: &Path,
    path: &Path,
    resolver: &dyn LibraryResolver,
) -> Result<(CheckedProgram, Vec<Diagnostic>), LoadError> {
    let loaded = loader::load_program_in(root, path, resolver)?;
    Ok(check_program(loaded))
}

/// Checks a program given as text (tests, fuzzing, benchmarks); imports of
/// modules resolve relative to `name`.
pub fn check_source(
    name: &str,
    text: &str,
    resolver: &dyn LibraryResolver,
) -> (CheckedProgram, Vec<Diagnostic>) {
    check_program(loader::load_source(name, text, resolver))
}

/// Whether any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// The closing line after rendered diagnostics when any is an error:
/// ``error: could not {verb} `FILE` due to N error(s)`` (no newline).
pub fn error_summary(diags: &[Diagnostic], verb: &str, file: &Path) -> Option<String> {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    (errors > 0).then(|| {
        let plural = if errors == 1 { "" } else { "s" };
        format!(
            "error: could not {verb} `{}` due to {errors} error{plural}",
            file.display()
        )
    })
}
