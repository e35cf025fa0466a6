//! `[library]`: the library's name, version, metadata and Coex modules.

use std::collections::BTreeMap;
use toml::Table;

use super::{relative_path, MAX_NAME};
use crate::cxz::manifest::toml_walk::Walker;
use crate::cxz::manifest::LibraryInfo;
use crate::cxz::COEX_SRC;

const LIBRARY_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "authors",
    "license",
    "source",
];

/// Reads `[library]`; `None` when the required name or version is missing.
pub(super) fn read_library(
    w: &mut Walker,
    t: &Table,
    files: &BTreeMap<String, Vec<u8>>,
) -> Option<LibraryInfo> {
    let at = "[library]";
    w.check_keys(t, at, LIBRARY_KEYS);
    let name = read_name(w, t, at);
    let version = read_version(w, t, at);
    let description = w.string(t, at, "description", false).unwrap_or_default();
    let license = w.string(t, at, "license", false).unwrap_or_default();
    let authors = w.strings(t, at, "authors");
    let modules = if t.contains_key("source") {
        listed_modules(w, t, at, files)
    } else {
        default_modules(files)
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

/// The required `name`, reported (but still returned) when it breaks the naming rule.
fn read_name(w: &mut Walker, t: &Table, at: &str) -> Option<String> {
    required_checked(w, t, at, "name", |n| {
        (!valid_library_name(n)).then(|| {
            format!(
                "library name '{}' is invalid: use [a-z_][a-z0-9_]*, at most {MAX_NAME} characters",
                n.escape_debug()
            )
        })
    })
}

/// The required `version`, reported (but still returned) when it is not semver.
fn read_version(w: &mut Walker, t: &Table, at: &str) -> Option<String> {
    required_checked(w, t, at, "version", |v| {
        (!is_semver(v)).then(|| {
            format!(
                "version '{}' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0)",
                v.escape_debug()
            )
        })
    })
}

/// The required string `key`, returned even when `problem` finds it wrong
/// (then its message is reported), so later checks still see the value.
fn required_checked(
    w: &mut Walker,
    t: &Table,
    at: &str,
    key: &str,
    problem: impl FnOnce(&str) -> Option<String>,
) -> Option<String> {
    let value = w.string(t, at, key, true);
    if let Some(message) = value.as_deref().and_then(problem) {
        w.report(at, message);
    }
    value
}

/// The modules named by `source`, each checked to be a `.coex` file present once.
fn listed_modules(
    w: &mut Walker,
    t: &Table,
    at: &str,
    files: &BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
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
}

/// Without a `source` list: every top-level module of `src/`, in name order.
fn default_modules(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    files
        .keys()
        .filter(|p| {
            p.strip_prefix(COEX_SRC)
                .is_some_and(|rest| rest.ends_with(".coex") && !rest.contains('/'))
        })
        .cloned()
        .collect()
}

/// Library names become C and Coex identifiers, so lowercase ones only.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
