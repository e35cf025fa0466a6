//! The C toolchain as the build sees it: which clang, what it is (its
//! identity goes into every key), which system headers and pkg-config
//! packages exist. Every "not there" ends in an install hint.

pub mod clang;
pub mod clang_identity;
pub mod fingerprint;
pub mod hints;
pub mod memo;
pub mod pkg_config;
pub mod system_headers;

pub use clang::{find_clang, find_clang_in, locate_clang, Clang};
pub use clang_identity::{identify, identify_watched};
pub use pkg_config::{resolve_pkg_config, PkgConfigFlags};
pub use system_headers::check_system_headers;

/// A toolchain problem, worded for the user (the text after `error: `).
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    /// No usable clang.
    #[error("C compiler not found: {what}\n\nCoex compiles the C sources of FFI units with clang.\n{hint}\nOr set COEX_CC (or pass --cc) to the path of a clang binary.")]
    ClangNotFound {
        /// What was looked for (`clang on PATH`, `/x (from COEX_CC)`).
        what: String,
        /// Rendered install hint.
        hint: String,
    },
    /// clang exists but does not answer `--version`.
    #[error("C compiler {path} does not work: {detail}\n\nCheck the installation, or set COEX_CC to a working clang.")]
    ClangBroken {
        /// Its path.
        path: String,
        /// What happened.
        detail: String,
    },
    /// A file that decides what clang produces (a shared library, a
    /// resource dir file, the linker) cannot be read or resolved, so no
    /// identity — and no cache key — can be computed for it.
    #[error("Cannot fingerprint the C compiler {path}: {detail}\n\nCoex hashes the compiler with its shared libraries, resource dir and linker, so that results of different compilers never share a cache entry.\n{fix}")]
    ClangIdentity {
        /// The compiler.
        path: String,
        /// What could not be done, naming the file.
        detail: String,
        /// What to do about it.
        fix: String,
    },
    /// A header from `system_headers` is missing.
    #[error("Missing system dependency for library '{library}'\n\nRequired header not found: {header}\n\n{hint}")]
    MissingHeader {
        /// The library.
        library: String,
        /// The header.
        header: String,
        /// Rendered install hint.
        hint: String,
    },
    /// A `pkg_config` package is missing.
    #[error("Missing system dependency for library '{library}'\n\nRequired pkg-config package not found: {package}\n\n{hint}")]
    MissingPkgConfig {
        /// The library.
        library: String,
        /// The package.
        package: String,
        /// Rendered install hint.
        hint: String,
    },
    /// A name that must not reach a command line.
    #[error("Invalid {what} '{name}' in library '{library}': {rule}")]
    BadName {
        /// The library.
        library: String,
        /// `system header`, `pkg-config package`, …
        what: &'static str,
        /// The name.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
}
