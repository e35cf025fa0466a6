//! The typed, validated model of a library's `manifest.toml`.
//!
//! Parsing and validation happen together (see [`parse`]): a [`Manifest`]
//! only exists for a manifest that follows every rule of the format, with
//! globs expanded against the archive's files and `[ffi.system]` merged into
//! each unit. The executor, the front end and `inspect` all read this model.

mod parse;
mod toml_walk;

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

use crate::cxz::Problem;

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `[library]`.
    pub library: LibraryInfo,
    /// The FFI units, sorted by name. `[ffi.system]` is already merged in.
    pub units: Vec<ResolvedUnit>,
    /// `[ffi.system]` as written (empty if absent), kept for display.
    pub system: SystemDeps,
}

/// `[library]`: identity and Coex modules of the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LibraryInfo {
    pub authors: Vec<String>,
    pub description: String,
    pub license: String,
    /// Archive paths of the Coex modules (`src/...`), in compilation order.
    pub modules: Vec<String>,
    pub name: String,
    pub version: String,
}

/// One FFI unit, ready for the build: every path is an archive path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedUnit {
    /// `allow_imports`: guarded imports the unit may use anyway
    /// (`ffi_build::boundary`), in manifest order, without duplicates.
    pub allow_imports: Vec<String>,
    /// cflags from the manifest, all on the allow-list, in manifest order.
    pub cflags: Vec<String>,
    /// Include directories as archive paths (`ffi/src`, `ffi/src/rxspencer`).
    pub include_dirs: Vec<String>,
    pub name: String,
    /// pkg-config packages: the unit's, then `[ffi.system]`'s (no duplicates).
    pub pkg_config: Vec<String>,
    /// C sources as archive paths (`ffi/src/...`), globs expanded, sorted.
    pub sources: Vec<String>,
    /// Symbols the unit exports to Coex, in manifest order.
    pub symbols: Vec<Symbol>,
    /// Headers the build machine must have: the unit's, then `[ffi.system]`'s.
    pub system_headers: Vec<String>,
    /// Libraries to link (`-l` names): the unit's, then `[ffi.system]`'s.
    pub system_libs: Vec<String>,
}

/// `[ffi.system]`: system dependencies shared by every unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SystemDeps {
    pub headers: Vec<String>,
    pub libs: Vec<String>,
    pub pkg_config: Vec<String>,
}

/// A foreign function exported by an FFI unit, with its boundary signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbol {
    pub name: String,
    pub params: Vec<BoundaryType>,
    pub returns: BoundaryType,
}

impl Symbol {
    /// The signature in Coex-like notation: `name(int, string) -> int`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self.params.iter().map(|t| t.to_string()).collect();
        format!("{}({}) -> {}", self.name, params.join(", "), self.returns)
    }
}

/// The types that may cross the FFI boundary (format §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BoundaryType {
    Int,
    Float,
    Bool,
    String,
    /// Only as a return type.
    Void,
}

impl BoundaryType {
    /// Parses a manifest type name; `void` only when `allow_void`.
    pub fn parse(name: &str, allow_void: bool) -> Option<BoundaryType> {
        match name {
            "int" => Some(BoundaryType::Int),
            "float" => Some(BoundaryType::Float),
            "bool" => Some(BoundaryType::Bool),
            "string" => Some(BoundaryType::String),
            "void" if allow_void => Some(BoundaryType::Void),
            _ => None,
        }
    }
}

impl fmt::Display for BoundaryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BoundaryType::Int => "int",
            BoundaryType::Float => "float",
            BoundaryType::Bool => "bool",
            BoundaryType::String => "string",
            BoundaryType::Void => "void",
        })
    }
}

impl Manifest {
    /// Parses and validates `text` against the archive's `files` (paths
    /// normalised, directory entries dropped). Returns every problem found.
    pub fn parse(text: &str, files: &BTreeMap<String, Vec<u8>>) -> Result<Manifest, Vec<Problem>> {
        parse::parse_manifest(text, files)
    }

    /// Number of symbols across all units.
    pub fn symbol_count(&self) -> usize {
        self.units.iter().map(|u| u.symbols.len()).sum()
    }

    /// The unit declaring `symbol`, and its declaration.
    pub fn find_symbol(&self, symbol: &str) -> Option<(&ResolvedUnit, &Symbol)> {
        self.units
            .iter()
            .find_map(|u| u.symbols.iter().find(|s| s.name == symbol).map(|s| (u, s)))
    }

    /// The unit called `name`.
    pub fn unit(&self, name: &str) -> Option<&ResolvedUnit> {
        self.units.iter().find(|u| u.name == name)
    }
}
