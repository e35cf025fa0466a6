//! Why a program's files or libraries could not be loaded, as data. The
//! loader turns a [`ResolveError`] into a diagnostic at the import and the
//! CLI turns a [`LoadError`] into its `error: …` text; the messages are
//! worded once, here, and nobody takes a string apart or patches it.
//!
//! Every message is a headline, then optionally an explanation after a
//! blank line (as [`crate::failure::Failure`] texts are), without the
//! leading `error: ` (the edge adds it).

use std::io;
use std::path::PathBuf;

use super::diagnostic::Diagnostic;
use super::span::{Span, MAX_SOURCE_BYTES};
use crate::cxz::search::LibraryNotFound;
use crate::cxz::CxzError;

/// Why a Coex source file (the entry file, or an imported module) could
/// not be read: fatal for the entry file, a diagnostic for a module.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (missing, a folder, no permission).
    #[error("cannot read {}: {}", .path.display(), io_reason(.source))]
    Unreadable {
        /// The file as named to the loader.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Past [`MAX_SOURCE_BYTES`]: refused before parsing, so a huge file
    /// cannot exhaust memory.
    #[error(
        "{} is too large: coex reads at most {} MiB of source per program",
        .path.display(),
        MAX_SOURCE_BYTES >> 20
    )]
    TooLarge {
        /// The file as named to the loader.
        path: PathBuf,
    },
    /// Not UTF-8 text (Coex source is UTF-8).
    #[error(
        "{} is not valid UTF-8 (first bad byte at offset {offset})\n\nCoex source files must be UTF-8 text.",
        .path.display()
    )]
    NotUtf8 {
        /// The file as named to the loader.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
}

/// A missing file is worded plainly; other I/O errors as the OS words them.
fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "file not found".to_string(),
        _ => e.to_string(),
    }
}

/// Why `import "…"` found no usable library. Returned by every
/// [`super::LibraryResolver`], so the front end can report it at the
/// import and `coex check` can tell "not found" (try an unpacked folder)
/// from "found but broken" (report it) without matching on text.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Not in any place the §3 search looks (the places are listed).
    #[error(transparent)]
    NotFound(#[from] LibraryNotFound),
    /// `import "dir/x.cxz"` names a file that is not there.
    #[error("Library file '{}' not found", .path.display())]
    NoSuchFile {
        /// The file the import names.
        path: PathBuf,
    },
    /// Only the libraries given may be imported (`coex tool codegen`'s
    /// `--cxz NAME=FILE`), and this is not one of them.
    #[error(
        "Library '{name}' not found\n\nNo --cxz {name}=FILE was given; libraries given: {}",
        names_or_none(.given)
    )]
    NotGiven {
        /// The import name.
        name: String,
        /// The import names that were given.
        given: Vec<String>,
    },
    /// The archive could not be read or breaks the `.cxz` rules.
    #[error("{problem}")]
    BadArchive {
        /// The archive.
        path: PathBuf,
        /// What is wrong with it (its message names the archive).
        #[source]
        problem: CxzError,
    },
    /// Two different libraries share an import name: the FFI units are
    /// numbered by import name, so it must be unique.
    #[error(
        "two different libraries are imported as '{name}': {} and {}\n\nImport names (the file name without .cxz) must be unique in a program.",
        .first.display(),
        .second.display()
    )]
    ImportNameClash {
        /// The shared import name.
        name: String,
        /// The archive opened first.
        first: PathBuf,
        /// The other archive.
        second: PathBuf,
    },
    /// One library imported under two import names (its units would be
    /// numbered twice).
    #[error(
        "library '{library}' is imported under two names: '{first_name}' ({}) and '{second_name}' ({})\n\nImport it one way everywhere (its FFI units are numbered by import name).",
        .first_path.display(),
        .second_path.display()
    )]
    TwoImportNames {
        /// `[library].name` of both archives.
        library: String,
        /// The import name seen first.
        first_name: String,
        /// Its archive.
        first_path: PathBuf,
        /// The other import name.
        second_name: String,
        /// Its archive.
        second_path: PathBuf,
    },
    /// The manifest lists a Coex module the archive does not hold as text.
    #[error("library '{library}': module {module} is missing or not UTF-8 text")]
    MissingModule {
        /// `[library].name`.
        library: String,
        /// The module's path in the archive.
        module: String,
    },
    /// A file of an unpacked library folder could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// An unpacked library's `manifest.toml` is not TOML.
    #[error("invalid manifest {}: {source}", .path.display())]
    ManifestSyntax {
        /// The manifest.
        path: PathBuf,
        /// The parser's error.
        source: toml::de::Error,
    },
    /// An unpacked library's manifest lacks what the front end reads.
    #[error("invalid manifest {}: {problem}", .path.display())]
    ManifestField {
        /// The manifest.
        path: PathBuf,
        /// What is missing or wrong.
        problem: &'static str,
    },
}

fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

impl ResolveError {
    /// Whether no library of that name was found at all (as opposed to one
    /// found but unusable): `coex check` then looks for an unpacked folder.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ResolveError::NotFound(_)
                | ResolveError::NoSuchFile { .. }
                | ResolveError::NotGiven { .. }
        )
    }

    /// The error at the import statement `span`: the headline is the
    /// diagnostic's message and the explanation (after the first blank
    /// line) its body, printed after the source snippet.
    pub fn to_diagnostic(&self, span: Span) -> Diagnostic {
        let text = self.to_string();
        match text.split_once("\n\n") {
            Some((headline, body)) => Diagnostic::error(span, headline).with_body(body),
            None => Diagnostic::error(span, text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_error_is_a_headline_with_its_explanation_as_the_body() {
        let e = ResolveError::NotGiven {
            name: "regex".into(),
            given: Vec::new(),
        };
        assert!(e.is_not_found());
        let d = e.to_diagnostic(Span::default());
        assert_eq!(d.message, "Library 'regex' not found");
        assert_eq!(
            d.body.as_deref(),
            Some("No --cxz regex=FILE was given; libraries given: none")
        );
        let e = ResolveError::MissingModule {
            library: "m".into(),
            module: "src/a.coex".into(),
        };
        assert!(!e.is_not_found());
        let d = e.to_diagnostic(Span::default());
        assert_eq!(
            d.message,
            "library 'm': module src/a.coex is missing or not UTF-8 text"
        );
        assert_eq!(d.body, None);
    }

    #[test]
    fn a_missing_source_file_is_worded_plainly() {
        let e = LoadError::Unreadable {
            path: "app.coex".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(e.to_string(), "cannot read app.coex: file not found");
    }
}
