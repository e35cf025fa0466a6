//! `.cxz` library archives: reading them safely, validating their manifest,
//! hashing their content, packing them deterministically and finding them.
//!
//! A `.cxz` is untrusted input (see `docs/cxz.md` and the format contract):
//! everything here works on an in-memory copy of the archive's files and never
//! writes an entry to disk. Other parts of the build (the executor, the
//! language front end, the driver) only see the validated [`CxzArchive`].

pub mod archive;
pub mod digest;
mod entries;
pub mod externs;
pub mod flags;
pub mod glob;
pub mod inspect;
mod layout;
pub mod manifest;
pub mod pack;
pub mod paths;
pub mod problem;
pub mod search;
pub mod tree;

pub use archive::{CxzArchive, Limits};
pub use digest::{content_digest, prefix_digest};
pub use externs::{verify_externs, ExternDecl};
pub use manifest::{BoundaryType, LibraryInfo, Manifest, ResolvedUnit, Symbol, SystemDeps};
pub use pack::{pack_dir, pack_dir_checked, PackError};
pub use problem::{CxzError, Problem};
pub use search::{find_library, ImportTarget, LibraryNotFound, LibrarySearch};

/// Name of the manifest at the archive root.
pub const MANIFEST: &str = "manifest.toml";
/// Folder of the library's Coex modules inside an archive.
pub const COEX_SRC: &str = "src/";
/// Folder of the C sources and headers of every FFI unit inside an archive.
pub const FFI_SRC: &str = "ffi/src/";
