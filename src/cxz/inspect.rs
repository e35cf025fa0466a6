//! What `coex cxz inspect` and `coex cxz verify` print about an archive.
//!
//! The JSON form is a contract for other tools: structs with fields in
//! alphabetical order (so keys come out sorted), lists in a fixed order,
//! and the content digest at the top level. Schema in `docs/cxz.md`.

use serde::Serialize;

use crate::cxz::archive::CxzArchive;
use crate::cxz::manifest::{LibraryInfo, ResolvedUnit, SystemDeps};

/// Version of the JSON schema below; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON document of `coex cxz inspect --json`.
#[derive(Debug, Serialize)]
pub struct InspectReport<'a> {
    /// Content digest (BLAKE3 hex) of the archive's files.
    pub digest: &'a str,
    /// Digest of the files under `ffi/src/` (the key of FFI builds).
    pub ffi_src_digest: String,
    /// `[ffi.system]` as written.
    pub ffi_system: &'a SystemDeps,
    /// Every file with its size, by path.
    pub files: Vec<FileInfo<'a>>,
    /// `[library]`.
    pub library: &'a LibraryInfo,
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// FFI units with globs expanded and `[ffi.system]` merged.
    pub units: &'a [ResolvedUnit],
}

/// One file of the archive.
#[derive(Debug, Serialize)]
pub struct FileInfo<'a> {
    pub path: &'a str,
    pub size: u64,
}

/// Builds the JSON report of an archive.
pub fn report(archive: &CxzArchive) -> InspectReport<'_> {
    InspectReport {
        digest: &archive.digest,
        ffi_src_digest: archive.ffi_src_digest(),
        ffi_system: &archive.manifest.system,
        files: archive
            .files
            .iter()
            .map(|(path, bytes)| FileInfo {
                path,
                size: bytes.len() as u64,
            })
            .collect(),
        library: &archive.manifest.library,
        schema: SCHEMA_VERSION,
        units: &archive.manifest.units,
    }
}

/// Pretty JSON of [`report`], newline-terminated.
pub fn to_json(archive: &CxzArchive) -> String {
    match serde_json::to_string_pretty(&report(archive)) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        // Serialising plain strings and numbers cannot fail; keep a valid document anyway.
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
    }
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

/// Human-readable description of an archive.
pub fn to_text(archive: &CxzArchive) -> String {
    let lib = &archive.manifest.library;
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("{} {}", lib.name, lib.version));
    if !lib.description.is_empty() {
        line(format!("  description: {}", lib.description));
    }
    line(format!(
        "  license:     {}",
        if lib.license.is_empty() {
            "(none)"
        } else {
            &lib.license
        }
    ));
    line(format!("  authors:     {}", join_or_none(&lib.authors)));
    line(format!("  digest:      {}", archive.digest));
    line(format!("Coex modules ({}):", lib.modules.len()));
    for m in &lib.modules {
        line(format!("  {m}"));
    }
    line(format!("FFI units ({}):", archive.manifest.units.len()));
    for u in &archive.manifest.units {
        line(format!("  {}", u.name));
        line(format!("    sources:        {}", join_or_none(&u.sources)));
        line(format!(
            "    include dirs:   {}",
            join_or_none(&u.include_dirs)
        ));
        line(format!("    cflags:         {}", join_or_none(&u.cflags)));
        line(format!(
            "    system headers: {}",
            join_or_none(&u.system_headers)
        ));
        line(format!(
            "    system libs:    {}",
            join_or_none(&u.system_libs)
        ));
        line(format!(
            "    pkg-config:     {}",
            join_or_none(&u.pkg_config)
        ));
        line(format!(
            "    allow imports:  {}",
            join_or_none(&u.allow_imports)
        ));
        line(format!("    symbols ({}):", u.symbols.len()));
        for s in &u.symbols {
            line(format!("      {}", s.signature()));
        }
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The one-line summary of a valid archive printed by `verify`.
pub fn summary(archive: &CxzArchive) -> String {
    let m = &archive.manifest;
    format!(
        "ok: {} {} ({}, {}, {}), digest {}",
        m.library.name,
        m.library.version,
        plural(m.library.modules.len(), "module", "modules"),
        plural(m.units.len(), "FFI unit", "FFI units"),
        plural(m.symbol_count(), "symbol", "symbols"),
        archive.digest
    )
}
