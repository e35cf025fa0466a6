//! From manifest text to a validated [`Manifest`], collecting every problem.
//!
//! One module per table: [`library`] for `[library]`, [`units`] for
//! `[ffi.<unit>]` and `[ffi.system]`, [`symbols`] for
//! `[[ffi.<unit>.symbols]]`. Problems are reported in manifest order.

mod imports;
mod library;
mod sources;
mod symbols;
mod units;

use std::collections::BTreeMap;
use toml::Table;

use super::toml_walk::Walker;
use super::{Manifest, ResolvedUnit, SystemDeps};
use crate::cxz::paths::{is_c_identifier, normalize_arg_path};
use crate::cxz::{glob, Problem};
use library::read_library;
use units::{read_system, read_unit};

const TOP_KEYS: &[&str] = &["library", "ffi"];
const MAX_NAME: usize = 64;
/// FFI units one library may declare (docs/cxz.md, "Limits"): every unit
/// is a link action and a shared object loaded per instance.
pub const MAX_UNITS: usize = 256;
/// C sources one unit may list (globs expanded): one compile action each.
pub const MAX_SOURCES_PER_UNIT: usize = 4096;

/// Reads each table in manifest order, so problems come out in the order a reader meets them.
pub(super) fn parse_manifest(
    text: &str,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Manifest, Vec<Problem>> {
    let top = parse_toml(text).map_err(|p| vec![p])?;
    let mut w = Walker::default();
    w.check_keys(&top, "", TOP_KEYS);

    let library = match top.get("library") {
        None => {
            w.report("", "missing required table [library]");
            None
        }
        Some(v) => match w.table(v, "[library]") {
            Some(t) => read_library(&mut w, t, files),
            None => None,
        },
    };
    let (system, raw_units) = split_ffi_tables(&mut w, &top);
    let units = read_units(&mut w, raw_units, &system, files);

    match library {
        Some(library) if w.problems.is_empty() => Ok(Manifest {
            library,
            units,
            system,
        }),
        _ => Err(w.problems),
    }
}

/// The TOML document, or one problem giving position and message only: the
/// parser's own rendering quotes the whole source line, which may be a
/// megabyte long.
fn parse_toml(text: &str) -> Result<Table, Problem> {
    toml::from_str(text).map_err(|e| {
        let message: String = e.message().trim_end().chars().take(300).collect();
        let message = message.replace('\n', " ");
        let at = match e.span() {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                format!(" at line {line}, column {col}")
            }
            None => String::new(),
        };
        Problem::manifest("", format!("invalid TOML{at}: {message}"))
    })
}

/// Sorts the sub-tables of `[ffi]` into `[ffi.system]` (read at once, since
/// every unit merges it) and the units, whose names are checked here.
fn split_ffi_tables<'t>(w: &mut Walker, top: &'t Table) -> (SystemDeps, Vec<(String, &'t Table)>) {
    let mut system = SystemDeps::default();
    let mut raw_units: Vec<(String, &Table)> = Vec::new();
    let Some(ffi) = top.get("ffi").and_then(|v| w.table(v, "[ffi]")) else {
        return (system, raw_units);
    };
    for (name, value) in ffi {
        let at = format!("[ffi.{}]", name.escape_debug());
        let Some(t) = w.table(value, &at) else {
            continue;
        };
        if name == "system" {
            system = read_system(w, t);
        } else if valid_unit_name(name) {
            raw_units.push((name.clone(), t));
        } else {
            w.report(
                &at,
                format!(
                    "FFI unit name '{}' is invalid: use [A-Za-z_][A-Za-z0-9_]*, at most {MAX_NAME} characters",
                    name.escape_debug()
                ),
            );
        }
    }
    (system, raw_units)
}

/// Reads the units in name order, sharing one symbol namespace and one glob
/// budget; more than [`MAX_UNITS`] units are refused before any is read.
fn read_units(
    w: &mut Walker,
    raw_units: Vec<(String, &Table)>,
    system: &SystemDeps,
    files: &BTreeMap<String, Vec<u8>>,
) -> Vec<ResolvedUnit> {
    if raw_units.len() > MAX_UNITS {
        w.report(
            "[ffi]",
            format!(
                "the library declares {} FFI units; at most {MAX_UNITS} are allowed (each unit is a link and a shared object loaded per instance): put related C files into one unit",
                raw_units.len()
            ),
        );
        return Vec::new();
    }
    let mut seen_symbols: BTreeMap<String, String> = BTreeMap::new();
    let mut glob_budget = glob::GLOB_BUDGET;
    raw_units
        .into_iter()
        .map(|(name, table)| {
            let unit = read_unit(
                w,
                &name,
                table,
                system,
                files,
                &mut seen_symbols,
                &mut glob_budget,
            );
            if unit.sources.len() > MAX_SOURCES_PER_UNIT {
                w.report(
                    &format!("[ffi.{name}]"),
                    format!(
                        "source: the unit lists {} C files; at most {MAX_SOURCES_PER_UNIT} are allowed per unit: split it into several units",
                        unit.sources.len()
                    ),
                );
            }
            unit
        })
        .collect()
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Unit names become parts of C identifiers.
fn valid_unit_name(name: &str) -> bool {
    is_c_identifier(name) && name.len() <= MAX_NAME
}

/// `s` (a `key` entry) as a normalized relative path, or `None` after
/// reporting why it is not one (`KEY: path 'S' is absolute`, …).
fn relative_path(w: &mut Walker, at: &str, key: &str, s: &str) -> Option<String> {
    match normalize_arg_path(s) {
        Ok(rel) => Some(rel),
        Err(issue) => {
            w.report(
                at,
                format!("{key}: path '{}' {}", s.escape_debug(), issue.describe()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[&str]) -> BTreeMap<String, Vec<u8>> {
        paths.iter().map(|p| (p.to_string(), Vec::new())).collect()
    }

    #[test]
    fn full_manifest_resolves() {
        let text = r#"
[library]
name = "regex"
version = "1.0.0"
source = ["regex.coex"]

[ffi.rx]
source = ["wrap.c", "rx/reg*.c"]
headers = [".", "rx"]
system_libs = ["m"]

[[ffi.rx.symbols]]
name = "coex_regex_compile"
params = ["string", "int"]
returns = "int"

[ffi.system]
libs = ["m", "z"]
headers = ["zlib.h"]
"#;
        let f = files(&[
            "manifest.toml",
            "src/regex.coex",
            "ffi/src/wrap.c",
            "ffi/src/rx/regcomp.c",
            "ffi/src/rx/regexec.c",
            "ffi/src/rx/regex.h",
        ]);
        let m = Manifest::parse(text, &f).unwrap();
        let u = &m.units[0];
        assert_eq!(
            u.sources,
            [
                "ffi/src/rx/regcomp.c",
                "ffi/src/rx/regexec.c",
                "ffi/src/wrap.c"
            ]
        );
        assert_eq!(u.include_dirs, ["ffi/src", "ffi/src/rx"]);
        assert_eq!(u.system_libs, ["m", "z"]);
        assert_eq!(u.system_headers, ["zlib.h"]);
        assert_eq!(
            u.symbols[0].signature(),
            "coex_regex_compile(string, int) -> int"
        );
    }

    #[test]
    fn unknown_key_names_table_and_known_keys() {
        let text =
            "[library]\nname='x'\nversion='1.0.0'\n[ffi.regex]\nsourse=['a.c']\nsource=['a.c']\n";
        let f = files(&["ffi/src/a.c"]);
        let err = Manifest::parse(text, &f).unwrap_err();
        let text = err[0].to_string();
        assert!(text.contains("[ffi.regex]"), "{text}");
        assert!(text.contains("unknown key 'sourse'"), "{text}");
        assert!(text.contains("cflags, headers, pkg_config"), "{text}");
    }

    #[test]
    fn duplicate_symbols_across_units() {
        let text = "[library]\nname='x'\nversion='1.0.0'\n\
            [ffi.a]\nsource=['a.c']\n[[ffi.a.symbols]]\nname='f'\n\
            [ffi.b]\nsource=['a.c']\n[[ffi.b.symbols]]\nname='f'\n";
        let f = files(&["ffi/src/a.c"]);
        let err = Manifest::parse(text, &f).unwrap_err();
        assert!(err[0].to_string().contains("already declared in [ffi.a]"));
    }
}
