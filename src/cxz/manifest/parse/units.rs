//! `[ffi.<unit>]` and `[ffi.system]`: C sources, include directories, flags
//! and system dependencies of each FFI unit.

use std::collections::BTreeMap;
use toml::Table;

use super::imports::read_allow_imports;
use super::relative_path;
use super::sources::resolve_sources;
use super::symbols::read_symbols;
use crate::cxz::flags::{check_cflag, ALLOWED_SUMMARY};
use crate::cxz::manifest::toml_walk::Walker;
use crate::cxz::manifest::{ResolvedUnit, SystemDeps};
use crate::cxz::paths::{is_dep_name, normalize_arg_path};
use crate::cxz::FFI_SRC;

const UNIT_KEYS: &[&str] = &[
    "allow_imports",
    "source",
    "headers",
    "cflags",
    "system_headers",
    "system_libs",
    "pkg_config",
    "symbols",
];
const SYSTEM_KEYS: &[&str] = &["headers", "libs", "pkg_config"];

/// Reads `[ffi.system]`, the dependencies every unit shares.
pub(super) fn read_system(w: &mut Walker, t: &Table) -> SystemDeps {
    let at = "[ffi.system]";
    w.check_keys(t, at, SYSTEM_KEYS);
    SystemDeps {
        headers: read_system_headers(w, t, at, "headers"),
        libs: read_dep_names(w, t, at, "libs"),
        pkg_config: read_dep_names(w, t, at, "pkg_config"),
    }
}

/// Reads `[ffi.<name>]` with `[ffi.system]` merged in; `seen_symbols` and
/// `glob_budget` are shared by all units of the manifest.
pub(super) fn read_unit(
    w: &mut Walker,
    name: &str,
    t: &Table,
    system: &SystemDeps,
    files: &BTreeMap<String, Vec<u8>>,
    seen_symbols: &mut BTreeMap<String, String>,
    glob_budget: &mut u64,
) -> ResolvedUnit {
    let at = format!("[ffi.{name}]");
    let at = at.as_str();
    w.check_keys(t, at, UNIT_KEYS);

    let sources = read_unit_sources(w, at, t, files, glob_budget);
    let include_dirs = read_include_dirs(w, at, t, files);
    let cflags = w.strings(t, at, "cflags");
    check_cflags(w, at, &cflags);
    let system_headers = read_system_headers(w, t, at, "system_headers");
    let system_libs = read_dep_names(w, t, at, "system_libs");
    let pkg_config = read_dep_names(w, t, at, "pkg_config");

    let symbols = read_symbols(w, name, t, seen_symbols);
    let allow_imports = read_allow_imports(w, t, at);

    ResolvedUnit {
        allow_imports,
        cflags,
        include_dirs,
        name: name.to_string(),
        pkg_config: merge(&pkg_config, &system.pkg_config),
        sources,
        symbols,
        system_headers: merge(&system_headers, &system.headers),
        system_libs: merge(&system_libs, &system.libs),
    }
}

/// The required `source` key, expanded; an empty result is reported unless
/// its entries already were.
fn read_unit_sources(
    w: &mut Walker,
    at: &str,
    t: &Table,
    files: &BTreeMap<String, Vec<u8>>,
    glob_budget: &mut u64,
) -> Vec<String> {
    if !t.contains_key("source") {
        w.report(
            at,
            "missing required key 'source' (the unit's C files under ffi/src/)",
        );
    }
    let before = w.problems.len();
    let entries = w.strings(t, at, "source");
    let sources = resolve_sources(w, at, &entries, files, glob_budget);
    if t.contains_key("source") && sources.is_empty() && w.problems.len() == before {
        w.report(at, "source: the unit has no C sources");
    }
    sources
}

/// `headers` as archive include directories, each required to hold files.
fn read_include_dirs(
    w: &mut Walker,
    at: &str,
    t: &Table,
    files: &BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let mut include_dirs = Vec::new();
    for h in w.strings(t, at, "headers") {
        let Some(rel) = relative_path(w, at, "headers", &h) else {
            continue;
        };
        let dir = if rel == "." {
            FFI_SRC.trim_end_matches('/').to_string()
        } else {
            format!("{FFI_SRC}{rel}")
        };
        let prefix = format!("{dir}/");
        if !files.keys().any(|p| p.starts_with(&prefix)) {
            w.report(
                at,
                format!(
                    "headers: include directory '{}' has no files in the archive (expected {prefix})",
                    h.escape_debug()
                ),
            );
        } else if !include_dirs.contains(&dir) {
            include_dirs.push(dir);
        }
    }
    include_dirs
}

/// Reports each cflag that is not on the allow-list.
fn check_cflags(w: &mut Walker, at: &str, cflags: &[String]) {
    w.report_each(at, cflags, |f| {
        check_cflag(f).err().map(|why| {
            format!(
                "cflags: flag '{}' is not allowed: {why} ({ALLOWED_SUMMARY})",
                f.escape_debug()
            )
        })
    });
}

/// The library or pkg-config names under `key`, each that could pass for a
/// flag reported (unit and `[ffi.system]` lists read alike).
fn read_dep_names(w: &mut Walker, t: &Table, at: &str, key: &str) -> Vec<String> {
    let names = w.strings(t, at, key);
    w.report_each(at, &names, |n| {
        (!is_dep_name(n)).then(|| {
            format!(
                "{key}: '{}' is not a valid name (use [A-Za-z0-9_.+-]+, not starting with '-')",
                n.escape_debug()
            )
        })
    });
    names
}

/// The system headers under `key`, each that is not a plain relative path
/// reported.
fn read_system_headers(w: &mut Walker, t: &Table, at: &str, key: &str) -> Vec<String> {
    let headers = w.strings(t, at, key);
    for h in &headers {
        let chars_ok = h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-' | b'/'));
        match normalize_arg_path(h) {
            Err(issue) => w.report(
                at,
                format!("{key}: header '{}' {}", h.escape_debug(), issue.describe()),
            ),
            Ok(_) if !chars_ok => w.report(
                at,
                format!(
                    "{key}: header '{}' has characters outside [A-Za-z0-9_.+-/]",
                    h.escape_debug()
                ),
            ),
            Ok(_) => {}
        }
    }
    headers
}

/// `first` then `second`, in order, without duplicates.
fn merge(first: &[String], second: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in first.iter().chain(second) {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}
