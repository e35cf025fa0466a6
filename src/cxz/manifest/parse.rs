//! From manifest text to a validated [`Manifest`], collecting every problem.

use std::collections::{BTreeMap, BTreeSet};
use toml::{Table, Value};

use super::toml_walk::Walker;
use super::{BoundaryType, LibraryInfo, Manifest, ResolvedUnit, Symbol, SystemDeps};
use crate::cxz::flags::{check_cflag, ALLOWED_SUMMARY};
use crate::cxz::paths::{is_c_identifier, is_dep_name, normalize_arg_path};
use crate::cxz::{glob, Problem, COEX_SRC, FFI_SRC};

const TOP_KEYS: &[&str] = &["library", "ffi"];
const LIBRARY_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "authors",
    "license",
    "source",
];
const UNIT_KEYS: &[&str] = &[
    "source",
    "headers",
    "cflags",
    "system_headers",
    "system_libs",
    "pkg_config",
    "symbols",
];
const SYSTEM_KEYS: &[&str] = &["headers", "libs", "pkg_config"];
const SYMBOL_KEYS: &[&str] = &["name", "params", "returns"];
const MAX_NAME: usize = 64;

pub(super) fn parse_manifest(
    text: &str,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Manifest, Vec<Problem>> {
    let top: Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            // Position and message only: the parser's own rendering quotes
            // the whole source line, which may be a megabyte long.
            let message: String = e.message().trim_end().chars().take(300).collect();
            let message = message.replace('\n', " ");
            let at = match e.span() {
                Some(span) => {
                    let (line, col) = line_col(text, span.start);
                    format!(" at line {line}, column {col}")
                }
                None => String::new(),
            };
            return Err(vec![Problem::manifest(
                "",
                format!("invalid TOML{at}: {message}"),
            )]);
        }
    };
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

    let mut system = SystemDeps::default();
    let mut raw_units: Vec<(String, &Table)> = Vec::new();
    if let Some(v) = top.get("ffi") {
        if let Some(ffi) = w.table(v, "[ffi]") {
            for (name, value) in ffi {
                let at = format!("[ffi.{}]", name.escape_debug());
                let Some(t) = w.table(value, &at) else {
                    continue;
                };
                if name == "system" {
                    system = read_system(&mut w, t);
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
        }
    }

    let mut seen_symbols: BTreeMap<String, String> = BTreeMap::new();
    let mut glob_budget = glob::GLOB_BUDGET;
    let mut units = Vec::new();
    for (name, table) in raw_units {
        if let Some(unit) = read_unit(
            &mut w,
            &name,
            table,
            &system,
            files,
            &mut seen_symbols,
            &mut glob_budget,
        ) {
            units.push(unit);
        }
    }

    match library {
        Some(library) if w.problems.is_empty() => Ok(Manifest {
            library,
            units,
            system,
        }),
        _ => Err(w.problems),
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn valid_unit_name(name: &str) -> bool {
    is_c_identifier(name) && name.len() <= MAX_NAME
}

fn valid_library_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b == b'_');
    first_ok
        && name.len() <= MAX_NAME
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Semantic version 2.0.0: `MAJOR.MINOR.PATCH[-pre][+build]`.
pub(crate) fn is_semver(v: &str) -> bool {
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| {
            ident_ok(p)
                && p.split('.')
                    .all(|id| !id.bytes().all(|b| b.is_ascii_digit()) || numeric(id))
        })
        && build.is_none_or(ident_ok)
}

fn read_library(
    w: &mut Walker,
    t: &Table,
    files: &BTreeMap<String, Vec<u8>>,
) -> Option<LibraryInfo> {
    let at = "[library]";
    w.check_keys(t, at, LIBRARY_KEYS);
    let name = w.string(t, at, "name", true);
    if let Some(n) = &name {
        if !valid_library_name(n) {
            w.report(
                at,
                format!(
                    "library name '{}' is invalid: use [a-z_][a-z0-9_]*, at most {MAX_NAME} characters",
                    n.escape_debug()
                ),
            );
        }
    }
    let version = w.string(t, at, "version", true);
    if let Some(v) = &version {
        if !is_semver(v) {
            w.report(
                at,
                format!(
                    "version '{}' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0)",
                    v.escape_debug()
                ),
            );
        }
    }
    let description = w.string(t, at, "description", false).unwrap_or_default();
    let license = w.string(t, at, "license", false).unwrap_or_default();
    let authors = w.strings(t, at, "authors");
    let modules = if t.contains_key("source") {
        let mut modules = Vec::new();
        for s in w.strings(t, at, "source") {
            let Some(rel) = relative_path(w, at, "source", &s) else {
                continue;
            };
            let path = format!("{COEX_SRC}{rel}");
            if !rel.ends_with(".coex") {
                w.report(
                    at,
                    format!(
                        "source: '{}' is not a Coex module (*.coex)",
                        s.escape_debug()
                    ),
                );
            } else if !files.contains_key(&path) {
                w.report(
                    at,
                    format!(
                        "source: module '{}' not found in the archive (expected {path})",
                        s.escape_debug()
                    ),
                );
            } else if modules.contains(&path) {
                w.report(
                    at,
                    format!("source: module '{}' is listed twice", s.escape_debug()),
                );
            } else {
                modules.push(path);
            }
        }
        modules
    } else {
        // No list: every top-level module of src/, in name order.
        files
            .keys()
            .filter(|p| {
                p.strip_prefix(COEX_SRC)
                    .is_some_and(|rest| rest.ends_with(".coex") && !rest.contains('/'))
            })
            .cloned()
            .collect()
    };
    Some(LibraryInfo {
        authors,
        description,
        license,
        modules,
        name: name?,
        version: version?,
    })
}

fn read_system(w: &mut Walker, t: &Table) -> SystemDeps {
    let at = "[ffi.system]";
    w.check_keys(t, at, SYSTEM_KEYS);
    let headers = w.strings(t, at, "headers");
    check_system_headers(w, at, "headers", &headers);
    let libs = w.strings(t, at, "libs");
    check_dep_names(w, at, "libs", &libs);
    let pkg_config = w.strings(t, at, "pkg_config");
    check_dep_names(w, at, "pkg_config", &pkg_config);
    SystemDeps {
        headers,
        libs,
        pkg_config,
    }
}

fn check_dep_names(w: &mut Walker, at: &str, key: &str, names: &[String]) {
    for n in names {
        if !is_dep_name(n) {
            w.report(
                at,
                format!(
                    "{key}: '{}' is not a valid name (use [A-Za-z0-9_.+-]+, not starting with '-')",
                    n.escape_debug()
                ),
            );
        }
    }
}

fn check_system_headers(w: &mut Walker, at: &str, key: &str, headers: &[String]) {
    for h in headers {
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
}

fn merge(first: &[String], second: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in first.iter().chain(second) {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

fn read_unit(
    w: &mut Walker,
    name: &str,
    t: &Table,
    system: &SystemDeps,
    files: &BTreeMap<String, Vec<u8>>,
    seen_symbols: &mut BTreeMap<String, String>,
    glob_budget: &mut u64,
) -> Option<ResolvedUnit> {
    let at = format!("[ffi.{name}]");
    let at = at.as_str();
    w.check_keys(t, at, UNIT_KEYS);

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

    let cflags = w.strings(t, at, "cflags");
    for f in &cflags {
        if let Err(why) = check_cflag(f) {
            w.report(
                at,
                format!(
                    "cflags: flag '{}' is not allowed: {why} ({ALLOWED_SUMMARY})",
                    f.escape_debug()
                ),
            );
        }
    }
    let system_headers = w.strings(t, at, "system_headers");
    check_system_headers(w, at, "system_headers", &system_headers);
    let system_libs = w.strings(t, at, "system_libs");
    check_dep_names(w, at, "system_libs", &system_libs);
    let pkg_config = w.strings(t, at, "pkg_config");
    check_dep_names(w, at, "pkg_config", &pkg_config);

    let symbols = read_symbols(w, name, t, seen_symbols);

    Some(ResolvedUnit {
        cflags,
        include_dirs,
        name: name.to_string(),
        pkg_config: merge(&pkg_config, &system.pkg_config),
        sources,
        symbols,
        system_headers: merge(&system_headers, &system.headers),
        system_libs: merge(&system_libs, &system.libs),
    })
}

/// Expands `source` entries (paths or globs relative to `ffi/src/`) against
/// the archive's files: sorted, without duplicates, only `.c` files.
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

fn resolve_sources(
    w: &mut Walker,
    at: &str,
    entries: &[String],
    files: &BTreeMap<String, Vec<u8>>,
    budget: &mut u64,
) -> Vec<String> {
    let mut out = BTreeSet::new();
    for s in entries {
        let Some(rel) = relative_path(w, at, "source", s) else {
            continue;
        };
        let pattern = format!("{FFI_SRC}{rel}");
        if glob::is_glob(&rel) {
            let mut hits: Vec<&String> = Vec::new();
            for p in files.keys().filter(|p| p.starts_with(FFI_SRC)) {
                match glob::matches_within(&pattern, p, budget) {
                    Some(true) => hits.push(p),
                    Some(false) => {}
                    None => {
                        w.report(
                            at,
                            format!(
                                "source: glob '{}' is too expensive to expand (over {} matching steps for the manifest); use simpler globs",
                                s.escape_debug(),
                                glob::GLOB_BUDGET
                            ),
                        );
                        return out.into_iter().collect();
                    }
                }
            }
            if hits.is_empty() {
                w.report(
                    at,
                    format!(
                        "source: glob '{}' matches no file under {FFI_SRC}",
                        s.escape_debug()
                    ),
                );
            }
            for h in hits {
                if h.ends_with(".c") {
                    out.insert(h.clone());
                } else {
                    w.report(
                        at,
                        format!(
                            "source: glob '{}' matches '{h}', which is not a C file (*.c); narrow the glob",
                            s.escape_debug()
                        ),
                    );
                }
            }
        } else if !files.contains_key(&pattern) {
            w.report(
                at,
                format!(
                    "source: file '{}' not found in the archive (expected {pattern})",
                    s.escape_debug()
                ),
            );
        } else if !pattern.ends_with(".c") {
            w.report(
                at,
                format!("source: '{}' is not a C file (*.c)", s.escape_debug()),
            );
        } else {
            out.insert(pattern);
        }
    }
    out.into_iter().collect()
}

fn read_symbols(
    w: &mut Walker,
    unit: &str,
    t: &Table,
    seen: &mut BTreeMap<String, String>,
) -> Vec<Symbol> {
    let base = format!("[[ffi.{unit}.symbols]]");
    let items = match t.get("symbols") {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            w.report(
                &format!("[ffi.{unit}]"),
                "key 'symbols' must be an array of tables ([[ffi.<unit>.symbols]])",
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{base} #{}", i + 1);
        let Some(st) = w.table(item, &at) else {
            continue;
        };
        w.check_keys(st, &at, SYMBOL_KEYS);
        let Some(name) = w.string(st, &at, "name", true) else {
            continue;
        };
        let at = format!("{base} '{}'", name.escape_debug());
        let mut ok = true;
        if !is_c_identifier(&name) || name.len() > 255 {
            w.report(
                &at,
                "symbol name must be a C identifier ([A-Za-z_][A-Za-z0-9_]*)",
            );
            ok = false;
        } else if let Some(other) = seen.get(&name) {
            w.report(
                &at,
                format!("symbol '{name}' is already declared in [ffi.{other}]; symbol names must be unique across the library"),
            );
            ok = false;
        } else {
            seen.insert(name.clone(), unit.to_string());
        }
        let mut params = Vec::new();
        for p in w.strings(st, &at, "params") {
            match BoundaryType::parse(&p, false) {
                Some(ty) => params.push(ty),
                None => {
                    w.report(
                        &at,
                        format!(
                            "params: '{}' is not a boundary type (int, float, bool, string)",
                            p.escape_debug()
                        ),
                    );
                    ok = false;
                }
            }
        }
        let returns = match w.string(st, &at, "returns", false) {
            None => BoundaryType::Void,
            Some(r) => match BoundaryType::parse(&r, true) {
                Some(ty) => ty,
                None => {
                    w.report(
                        &at,
                        format!(
                            "returns: '{}' is not a boundary type (int, float, bool, string, void)",
                            r.escape_debug()
                        ),
                    );
                    ok = false;
                    BoundaryType::Void
                }
            },
        };
        if ok {
            out.push(Symbol {
                name,
                params,
                returns,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[&str]) -> BTreeMap<String, Vec<u8>> {
        paths.iter().map(|p| (p.to_string(), Vec::new())).collect()
    }

    #[test]
    fn semver() {
        for ok in [
            "1.0.0",
            "0.1.0",
            "1.2.3-alpha.1",
            "1.0.0+build.5",
            "10.20.30",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["1.0", "01.0.0", "1.0.0-", "v1.0.0", "1.0.0-01", ""] {
            assert!(!is_semver(bad), "{bad}");
        }
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
