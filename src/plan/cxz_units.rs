//! A `.cxz` library's FFI units as executor input.
//!
//! The archive reader speaks in archive paths (`ffi/src/x.c`, `ffi/src` for
//! the root include dir); the FFI build speaks in paths relative to
//! `ffi/src/`, because that tree is what each action's scratch directory
//! holds. This file is the only place that translates between the two.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::cxz::{CxzArchive, Manifest, ResolvedUnit, FFI_SRC};
use crate::ffi_build::FfiUnitInput;

/// `--unit U` named no unit of the library.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown FFI unit '{unit}' in library '{library}'\n\nUnits of '{library}': {}\nPass one of them to --unit, or leave --unit out to build them all.", known.join(", "))]
pub struct UnknownUnit {
    /// The library.
    pub library: String,
    /// What was asked for.
    pub unit: String,
    /// The units it has, sorted.
    pub known: Vec<String>,
}

/// `coex tool ffi-unit --unit U` named a unit the archive's manifest does
/// not declare (Bazel: a wrong `units` entry of a `cxz_library`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("FFI unit '{unit}' is not declared in the manifest of library '{library}' ({archive})")]
pub struct UndeclaredUnit {
    /// What was asked for.
    pub unit: String,
    /// The library.
    pub library: String,
    /// The archive as the user named it.
    pub archive: String,
    /// The units it declares, in manifest order.
    pub known: Vec<String>,
}

impl UndeclaredUnit {
    /// The fix, shown after the headline.
    pub fn hint(&self) -> String {
        let known = if self.known.is_empty() {
            "none".to_string()
        } else {
            self.known.join(", ")
        };
        format!(
            "Its units are: {known}.\nList exactly the manifest's [ffi.<unit>] tables in cxz_library(units = [...])."
        )
    }
}

/// An archive path (`ffi/src/a/b.c`, `ffi/src`) relative to `ffi/src/`
/// (`a/b.c`, `.`). Paths outside `ffi/src/` are returned unchanged; the
/// FFI planner rejects them, so nothing here can widen what a unit reads.
fn under_ffi_src(path: &str) -> String {
    let root = FFI_SRC.trim_end_matches('/');
    if path == root {
        return ".".to_string();
    }
    match path.strip_prefix(FFI_SRC) {
        Some("") => ".".to_string(),
        Some(rest) => rest.to_string(),
        None => path.to_string(),
    }
}

fn unit_input(archive: &CxzArchive, manifest: &Manifest, unit: &ResolvedUnit) -> FfiUnitInput {
    // A unit sees the ffi/src tree (headers may be shared between units)
    // except the sources other units list: those are never #included (the
    // planner's rule for listed sources), so editing one unit's C file must
    // not re-run another unit's compiles.
    let foreign: BTreeSet<&str> = manifest
        .units
        .iter()
        .filter(|other| other.name != unit.name)
        .flat_map(|other| other.sources.iter().map(String::as_str))
        .filter(|s| !unit.sources.iter().any(|own| own == s))
        .collect();
    let mine = |p: &&String| !foreign.contains(p.as_str());
    let rel = |p: &String| {
        p.strip_prefix(FFI_SRC)
            .filter(|rel| !rel.is_empty())
            .map(str::to_string)
    };
    let files = archive
        .files
        .iter()
        .filter(|(p, _)| mine(p) && !archive.stored.contains_key(*p))
        .filter_map(|(p, bytes)| Some((rel(p)?, bytes.clone())))
        .collect();
    let stored = archive
        .stored
        .iter()
        .filter(|(p, _)| mine(p))
        .filter_map(|(p, d)| Some((rel(p)?, d.clone())))
        .collect();
    FfiUnitInput {
        library: manifest.library.name.clone(),
        unit: unit.name.clone(),
        files,
        stored,
        sources: unit.sources.iter().map(|s| under_ffi_src(s)).collect(),
        include_dirs: unit.include_dirs.iter().map(|d| under_ffi_src(d)).collect(),
        cflags: unit.cflags.clone(),
        system_headers: unit.system_headers.clone(),
        system_libs: unit.system_libs.clone(),
        pkg_config: unit.pkg_config.clone(),
        symbols: unit.symbols.clone(),
        allow_imports: unit.allow_imports.clone(),
    }
}

/// Every FFI unit of a validated archive, in manifest (name) order, ready
/// for [`crate::ffi_build::build_units`] or [`crate::ffi_build::plan_json`].
/// Each unit's `files` are the `ffi/src/` tree minus the sources that only
/// other units list.
pub fn unit_inputs(archive: &CxzArchive) -> Vec<FfiUnitInput> {
    let manifest = &archive.manifest;
    manifest
        .units
        .iter()
        .map(|u| unit_input(archive, manifest, u))
        .collect()
}

/// The one unit `unit` of a validated archive, exactly as [`unit_inputs`]
/// gives it (what `coex tool ffi-unit` builds, so Bazel and `coex cxz
/// build` compile a unit from the same inputs). `archive_display` names
/// the archive in the error.
pub fn unit_input_of(
    archive: &CxzArchive,
    unit: &str,
    archive_display: &str,
) -> Result<FfiUnitInput, UndeclaredUnit> {
    let manifest = &archive.manifest;
    match manifest.unit(unit) {
        Some(resolved) => Ok(unit_input(archive, manifest, resolved)),
        None => Err(UndeclaredUnit {
            unit: unit.to_string(),
            library: manifest.library.name.clone(),
            archive: archive_display.to_string(),
            known: manifest.units.iter().map(|u| u.name.clone()).collect(),
        }),
    }
}

/// Keeps only unit `only` when given (`--unit U`); an unknown name is an
/// error listing the units the library has.
pub fn select_units(
    library: &str,
    inputs: Vec<FfiUnitInput>,
    only: Option<&str>,
) -> Result<Vec<FfiUnitInput>, UnknownUnit> {
    let Some(name) = only else {
        return Ok(inputs);
    };
    let known: Vec<String> = inputs.iter().map(|u| u.unit.clone()).collect();
    let picked: Vec<FfiUnitInput> = inputs.into_iter().filter(|u| u.unit == name).collect();
    if picked.is_empty() {
        let mut known = known;
        known.sort();
        return Err(UnknownUnit {
            library: library.to_string(),
            unit: name.to_string(),
            known,
        });
    }
    Ok(picked)
}

/// Where `coex cxz build` writes unit images when `-o` is not given:
/// `target-coex/<library>/` under the current directory, so libraries
/// never overwrite each other's `lib<unit>.so`.
pub fn default_out_dir(library: &str) -> PathBuf {
    PathBuf::from("target-coex").join(library)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn archive_of(files: &[(&str, &str)]) -> (tempfile::TempDir, CxzArchive) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.cxz");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, body) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        let archive = CxzArchive::open(&path).unwrap();
        (dir, archive)
    }

    const MANIFEST: &str = r#"
[library]
name = "multi"
version = "1.0.0"

[ffi.beta]
source = ["b/*.c"]
headers = [".", "b"]
cflags = ["-DX=1"]
system_libs = ["m"]

[ffi.alpha]
source = ["a.c"]
"#;

    fn multi() -> (tempfile::TempDir, CxzArchive) {
        archive_of(&[
            ("manifest.toml", MANIFEST),
            ("src/multi.coex", "\n"),
            ("ffi/src/a.c", "int a(void) { return 1; }\n"),
            ("ffi/src/shared.h", "#define S 1\n"),
            ("ffi/src/b/one.c", "int one(void) { return 1; }\n"),
            ("ffi/src/b/two.c", "int two(void) { return 2; }\n"),
        ])
    }

    #[test]
    fn paths_become_relative_to_ffi_src() {
        assert_eq!(under_ffi_src("ffi/src"), ".");
        assert_eq!(under_ffi_src("ffi/src/"), ".");
        assert_eq!(under_ffi_src("ffi/src/x/y.c"), "x/y.c");
        assert_eq!(under_ffi_src("src/m.coex"), "src/m.coex");
    }

    #[test]
    fn units_carry_the_whole_tree_and_relative_paths() {
        let (_d, archive) = multi();
        let units = unit_inputs(&archive);
        let names: Vec<&str> = units.iter().map(|u| u.unit.as_str()).collect();
        assert_eq!(names, ["alpha", "beta"]);
        let beta = &units[1];
        assert_eq!(beta.library, "multi");
        assert_eq!(beta.sources, ["b/one.c", "b/two.c"]);
        assert_eq!(beta.include_dirs, [".", "b"]);
        assert_eq!(beta.cflags, ["-DX=1"]);
        assert_eq!(beta.system_libs, ["m"]);
        // Each unit sees shared files and its own sources, not the other's.
        let files: Vec<&str> = beta.files.keys().map(String::as_str).collect();
        assert_eq!(files, ["b/one.c", "b/two.c", "shared.h"]);
        let files: Vec<&str> = units[0].files.keys().map(String::as_str).collect();
        assert_eq!(files, ["a.c", "shared.h"]);
        assert!(units[0].include_dirs.is_empty());
    }

    #[test]
    fn a_source_two_units_list_stays_in_both() {
        let (_d, archive) = archive_of(&[
            (
                "manifest.toml",
                "[library]\nname = \"two\"\nversion = \"1.0.0\"\n\
                 [ffi.x]\nsource = [\"common.c\", \"x.c\"]\n\
                 [ffi.y]\nsource = [\"common.c\"]\n",
            ),
            ("src/two.coex", "\n"),
            ("ffi/src/common.c", "int c(void) { return 0; }\n"),
            ("ffi/src/x.c", "int x(void) { return 0; }\n"),
        ]);
        let units = unit_inputs(&archive);
        let keys = |i: usize| units[i].files.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(0), ["common.c", "x.c"]);
        assert_eq!(keys(1), ["common.c"]);
    }

    #[test]
    fn unknown_unit_lists_the_known_ones() {
        let (_d, archive) = multi();
        let all = unit_inputs(&archive);
        let one = select_units("multi", all.clone(), Some("beta")).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(select_units("multi", all.clone(), None).unwrap(), all);
        let e = select_units("multi", all, Some("gamma")).unwrap_err();
        assert_eq!(e.known, ["alpha", "beta"]);
        let text = e.to_string();
        assert!(text.starts_with("Unknown FFI unit 'gamma' in library 'multi'"));
        assert!(text.contains("Units of 'multi': alpha, beta"), "{text}");
    }

    #[test]
    fn one_unit_is_the_unit_of_the_whole_list() {
        let (_d, archive) = multi();
        let all = unit_inputs(&archive);
        assert_eq!(unit_input_of(&archive, "beta", "m.cxz").unwrap(), all[1]);
        let e = unit_input_of(&archive, "gamma", "m.cxz").unwrap_err();
        assert_eq!(
            e.to_string(),
            "FFI unit 'gamma' is not declared in the manifest of library 'multi' (m.cxz)"
        );
        assert!(
            e.hint().starts_with("Its units are: alpha, beta.\n"),
            "{}",
            e.hint()
        );
    }

    #[test]
    fn default_output_is_per_library() {
        assert_eq!(
            default_out_dir("zlib"),
            PathBuf::from("target-coex").join("zlib")
        );
    }
}
