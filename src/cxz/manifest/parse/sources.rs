//! The `source` list of an `[ffi.<unit>]`: paths and globs relative to
//! `ffi/src/`, expanded against the archive's own files, and `!` entries
//! that take files back out of what the entries before them selected
//! (gitignore's order: a later entry wins).

use std::collections::BTreeMap;

use super::relative_path;
use crate::cxz::manifest::toml_walk::Walker;
use crate::cxz::{glob, FFI_SRC};

/// One unit's `source` being resolved: the files selected so far, each with
/// the entry that first selected it (named when it is not a C file).
struct Resolver<'a, 'w> {
    w: &'w mut Walker,
    at: &'a str,
    files: &'a BTreeMap<String, Vec<u8>>,
    budget: &'a mut u64,
    selected: BTreeMap<String, String>,
}

/// Expands `source` entries (paths or globs relative to `ffi/src/`, and
/// `!` exclusions) against the archive's files: sorted, without
/// duplicates, only `.c` files. `budget` is shared by the whole manifest.
pub(super) fn resolve_sources(
    w: &mut Walker,
    at: &str,
    entries: &[String],
    files: &BTreeMap<String, Vec<u8>>,
    budget: &mut u64,
) -> Vec<String> {
    if !entries.is_empty() && entries.iter().all(|e| e.starts_with('!')) {
        w.report(
            at,
            "source: every entry is an exclusion ('!…'); list the files to build first, \
             e.g. [\"*.c\", \"!main.c\"]",
        );
        return Vec::new();
    }
    let mut r = Resolver {
        w,
        at,
        files,
        budget,
        selected: BTreeMap::new(),
    };
    for s in entries {
        let spent = match s.strip_prefix('!') {
            Some(pattern) => r.exclude(s, pattern),
            None => r.select(s),
        };
        if spent.is_none() {
            return Vec::new();
        }
    }
    r.keep_only_c()
}

impl Resolver<'_, '_> {
    /// Adds what entry `s` names; `None` once the glob budget is spent
    /// (reported).
    fn select(&mut self, s: &str) -> Option<()> {
        let Some(rel) = relative_path(self.w, self.at, "source", s) else {
            return Some(());
        };
        let pattern = format!("{FFI_SRC}{rel}");
        if glob::is_glob(&rel) {
            let candidates = self.files.keys().filter(|p| p.starts_with(FFI_SRC));
            let hits = self.matching(s, &pattern, candidates)?;
            if hits.is_empty() {
                let m = format!(
                    "source: glob '{}' matches no file under {FFI_SRC}",
                    s.escape_debug()
                );
                self.w.report(self.at, m);
            }
            for h in hits {
                self.selected.entry(h).or_insert_with(|| s.to_string());
            }
        } else if !self.files.contains_key(&pattern) {
            let m = format!(
                "source: file '{}' not found in the archive (expected {pattern})",
                s.escape_debug()
            );
            self.w.report(self.at, m);
        } else if !pattern.ends_with(".c") {
            let m = format!("source: '{}' is not a C file (*.c)", s.escape_debug());
            self.w.report(self.at, m);
        } else {
            self.selected
                .entry(pattern)
                .or_insert_with(|| s.to_string());
        }
        Some(())
    }

    /// Takes out of the selection what exclusion `s` (`!pattern`) names;
    /// one that takes nothing out is reported (likely a typo). `None` once
    /// the glob budget is spent (reported).
    fn exclude(&mut self, s: &str, pattern: &str) -> Option<()> {
        if pattern.is_empty() {
            let m = "source: '!' needs a path or glob after it, e.g. \"!main.c\"";
            self.w.report(self.at, m);
            return Some(());
        }
        let Some(rel) = relative_path(self.w, self.at, "source", pattern) else {
            return Some(());
        };
        let full = format!("{FFI_SRC}{rel}");
        let hits = if glob::is_glob(&rel) {
            let selected: Vec<String> = self.selected.keys().cloned().collect();
            self.matching(s, &full, selected.iter())?
        } else if self.selected.contains_key(&full) {
            vec![full.clone()]
        } else {
            Vec::new()
        };
        if hits.is_empty() {
            let why = if glob::is_glob(&rel) || self.files.contains_key(&full) {
                "it matches none of the files the entries before it select (an exclusion \
                 applies only to the entries before it)"
                    .to_string()
            } else {
                format!("there is no file {full} in the archive")
            };
            let m = format!(
                "source: exclusion '{}' excludes nothing: {why}; remove it or fix the typo",
                s.escape_debug()
            );
            self.w.report(self.at, m);
        }
        for h in hits {
            self.selected.remove(&h);
        }
        Some(())
    }

    /// The paths of `candidates` that glob `pattern` (entry `s`) matches;
    /// `None` when the manifest's budget runs out (reported).
    fn matching<'p>(
        &mut self,
        s: &str,
        pattern: &str,
        candidates: impl Iterator<Item = &'p String>,
    ) -> Option<Vec<String>> {
        let mut hits = Vec::new();
        for p in candidates {
            match glob::matches_within(pattern, p, self.budget) {
                Some(true) => hits.push(p.clone()),
                Some(false) => {}
                None => {
                    let m = format!(
                        "source: glob '{}' is too expensive to expand (over {} matching steps for the manifest); use simpler globs",
                        s.escape_debug(),
                        glob::GLOB_BUDGET
                    );
                    self.w.report(self.at, m);
                    return None;
                }
            }
        }
        Some(hits)
    }

    /// The selection, sorted; a file a glob selected that is not C and that
    /// no exclusion took out is reported.
    fn keep_only_c(self) -> Vec<String> {
        let mut out = Vec::new();
        for (path, entry) in self.selected {
            if path.ends_with(".c") {
                out.push(path);
            } else {
                let m = format!(
                    "source: glob '{}' matches '{path}', which is not a C file (*.c); narrow the glob or exclude the file with '!'",
                    entry.escape_debug()
                );
                self.w.report(self.at, m);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[&str]) -> BTreeMap<String, Vec<u8>> {
        paths
            .iter()
            .map(|p| (format!("{FFI_SRC}{p}"), Vec::new()))
            .collect()
    }

    /// The resolved sources (relative to `ffi/src/`) or the problems.
    fn resolve(entries: &[&str], tree: &[&str]) -> Result<Vec<String>, Vec<String>> {
        let mut w = Walker::default();
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        let mut budget = glob::GLOB_BUDGET;
        let out = resolve_sources(&mut w, "[ffi.u]", &entries, &files(tree), &mut budget);
        if w.problems.is_empty() {
            Ok(out.iter().map(|p| p[FFI_SRC.len()..].to_string()).collect())
        } else {
            Err(w.problems.iter().map(|p| p.message.clone()).collect())
        }
    }

    const LUA: &[&str] = &["lapi.c", "lua.c", "luac.c", "lvm.c", "lua.h", "x/y.c"];

    #[test]
    fn exclusions_take_files_out_of_what_came_before() {
        assert_eq!(
            resolve(&["*.c", "!lua.c", "!luac.c"], LUA),
            Ok(vec!["lapi.c".into(), "lvm.c".into()])
        );
        assert_eq!(
            resolve(&["*.c", "!lua*.c"], LUA),
            Ok(vec!["lapi.c".into(), "lvm.c".into()])
        );
        // A later entry wins: lua.c comes back.
        assert_eq!(
            resolve(&["*.c", "!lua*.c", "lua.c"], LUA),
            Ok(vec!["lapi.c".into(), "lua.c".into(), "lvm.c".into()])
        );
        // A non-C file a glob selects may be excluded instead of narrowed.
        assert_eq!(
            resolve(&["l*", "!*.h", "!luac.c"], LUA),
            Ok(vec!["lapi.c".into(), "lua.c".into(), "lvm.c".into()])
        );
        assert_eq!(
            resolve(&["*/*.c", "!./x/y.c", "lvm.c"], LUA),
            Ok(vec!["lvm.c".into()])
        );
    }

    #[test]
    fn bad_exclusions_are_named() {
        let one = |entries: &[&str]| resolve(entries, LUA).expect_err("an error").join("\n");
        let e = one(&["*.c", "!lua.x"]);
        assert!(e.contains("exclusion '!lua.x' excludes nothing"), "{e}");
        assert!(
            e.contains("there is no file ffi/src/lua.x in the archive"),
            "{e}"
        );
        let e = one(&["lvm.c", "!lua.c"]);
        assert!(
            e.contains("none of the files the entries before it select"),
            "{e}"
        );
        let e = one(&["!lua.c", "*.c"]);
        assert!(e.contains("exclusion '!lua.c' excludes nothing"), "{e}");
        let e = one(&["*.c", "!q*.c"]);
        assert!(e.contains("exclusion '!q*.c' excludes nothing"), "{e}");
        let e = one(&["!lua.c", "!luac.c"]);
        assert!(e.contains("every entry is an exclusion"), "{e}");
        let e = one(&["*.c", "!"]);
        assert!(e.contains("'!' needs a path or glob after it"), "{e}");
        let e = one(&["*.c", "!../lua.c"]);
        assert!(e.contains("source: path '../lua.c'"), "{e}");
        let e = one(&["l*"]);
        assert!(
            e.contains("matches 'ffi/src/lua.h', which is not a C file"),
            "{e}"
        );
    }

    #[test]
    fn exclusions_spend_the_same_budget() {
        let tree: Vec<String> = (0..50)
            .map(|i| format!("{}{i}.c", "a".repeat(60)))
            .collect();
        let tree: Vec<&str> = tree.iter().map(String::as_str).collect();
        let mut w = Walker::default();
        let entries = ["*.c".to_string(), format!("!*{}b*.c", "a".repeat(30))];
        let mut budget = 20_000;
        let out = resolve_sources(&mut w, "[ffi.u]", &entries, &files(&tree), &mut budget);
        assert!(out.is_empty());
        assert_eq!(budget, 0);
        assert!(
            w.problems[0].message.contains("glob '!*aaa"),
            "{:?}",
            w.problems
        );
        assert!(w.problems[0].message.contains("too expensive"));
    }
}
