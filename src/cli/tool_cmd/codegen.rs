//! `coex tool codegen` (all Coex code of a program → one object file) and
//! `coex tool check` (Coex modules checked on their own → a stamp).
//!
//! Imports resolve only to what the command line names, never to a search
//! path: `import NAME` to a `--module NAME=FILE`, `import "NAME"` (or
//! `"NAME.cxz"`, `"dir/NAME.cxz"`) to a `--cxz NAME=FILE`. The sources are
//! staged in a scratch directory at their relative paths (modules beside the
//! main file, where the front end looks for them), so diagnostics and
//! runtime error locations name `app/main.coex`, never a scratch path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use super::{
    parse_named_files, read_input, scratch_dir, unavailable, write_output, CheckArgs, CodegenArgs,
    ToolArgError,
};
use crate::codegen::ir::Program;
use crate::cxz::CxzArchive;
use crate::failure::{CmdResult, Failure};
use crate::lang::{self, LibraryModules, LibraryResolver, ManifestSymbol};

/// Runs `coex tool codegen`.
pub fn run(args: CodegenArgs) -> CmdResult {
    let staged = StagedSources::new(std::slice::from_ref(&args.main), &args.module, &args.cxz)?;
    let _names = manifest_names(&staged.archives)?;
    let _program = staged.check(&staged.entries[0])?;
    // Next, once the lowering from the checked program to the back end's IR
    // is in the build: lower, `canonical_units(&mut ir,
    // &program::unit_order(&staged.archives), &names)`, `compile_program`,
    // `write_output` to `args.output` made absolute before staging.
    Err(unavailable(
        "codegen",
        "the lowering of the checked program to the back end's IR",
    ))
}

/// Runs `coex tool check`: every `--src` checked as an entry file; the
/// stamp lists them (an action needs an output for Bazel to cache it).
pub fn check(args: CheckArgs) -> CmdResult {
    let output = super::absolute(&args.output)?;
    let staged = StagedSources::new(&args.src, &args.module, &args.cxz)?;
    let mut stamp = String::new();
    for entry in &staged.entries {
        staged.check(entry)?;
        stamp.push_str(&format!("checked {}\n", entry.display()));
    }
    write_output(&output, stamp.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// A program's sources staged in a scratch directory that is the current
/// directory, and the libraries its imports may name.
struct StagedSources {
    /// The entry files, relative to the scratch directory.
    entries: Vec<PathBuf>,
    /// The `--cxz` archives by import name.
    archives: BTreeMap<String, CxzArchive>,
    resolver: ExplicitLibraries,
    /// Kept alive (and the current directory) until the command ends.
    _scratch: tempfile::TempDir,
}

impl StagedSources {
    /// Stages every entry at its relative path and every `--module` beside
    /// each entry, then enters the scratch directory so that every name in
    /// diagnostics and runtime locations is relative. Input paths are read
    /// before the directory change; outputs must be made absolute first.
    fn new(entries: &[PathBuf], modules: &[String], cxz: &[String]) -> Result<Self, Failure> {
        let modules = parse_named_files("--module", modules).map_err(ToolArgError::into_failure)?;
        let libraries = parse_named_files("--cxz", cxz).map_err(ToolArgError::into_failure)?;
        let archives = super::program::open_libraries(&libraries)?;
        let resolver = ExplicitLibraries::new(&archives);
        let scratch = scratch_dir()?;
        let root = scratch.path();
        let mut staged = Vec::new();
        for entry in entries {
            let rel = staged_path(entry);
            stage(root, &rel, &read_input(entry)?)?;
            staged.push(rel);
        }
        let dirs: BTreeSet<PathBuf> = staged
            .iter()
            .map(|e| e.parent().unwrap_or(Path::new("")).to_path_buf())
            .collect();
        for (name, path) in &modules {
            let bytes = read_input(path)?;
            for dir in &dirs {
                let rel = dir.join(format!("{name}.coex"));
                if staged.contains(&rel) {
                    return Err(Failure::new(format!(
                        "--module {name} has the name of an entry file, {}",
                        rel.display()
                    )));
                }
                stage(root, &rel, &bytes)?;
            }
        }
        std::env::set_current_dir(root)
            .map_err(|e| Failure::new(format!("cannot enter the scratch directory: {e}")))?;
        Ok(StagedSources {
            entries: staged,
            archives,
            resolver,
            _scratch: scratch,
        })
    }

    /// Loads and checks the program starting at `entry`; errors are rendered
    /// as `coex check` renders them, warnings go to stderr.
    fn check(&self, entry: &Path) -> Result<lang::CheckedProgram, Failure> {
        let (program, diags) = lang::check_file(entry, &self.resolver).map_err(Failure::worded)?;
        let rendered = lang::render_text(&program.sources, &diags);
        let errors = diags.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            let plural = if errors == 1 { "" } else { "s" };
            return Err(Failure::worded(format!(
                "{rendered}error: could not compile `{}` due to {errors} error{plural}",
                entry.display()
            )));
        }
        if !rendered.is_empty() {
            eprint!("{rendered}");
        }
        Ok(program)
    }
}

/// Where the main file goes inside the scratch directory: its relative path
/// as given (Bazel: execroot-relative), else its file name.
fn staged_path(main: &Path) -> PathBuf {
    let plain = main.components().all(|c| matches!(c, Component::Normal(_)));
    if plain && main.file_name().is_some() {
        return main.to_path_buf();
    }
    PathBuf::from(
        main.file_name()
            .unwrap_or(std::ffi::OsStr::new("main.coex")),
    )
}

fn stage(root: &Path, rel: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::new(format!("cannot stage {}: {e}", rel.display())))?;
    }
    std::fs::write(&path, bytes)
        .map_err(|e| Failure::new(format!("cannot stage {}: {e}", rel.display())))
}

/// Libraries named on the command line, by import name.
struct ExplicitLibraries {
    libraries: BTreeMap<String, LibraryModules>,
}

impl ExplicitLibraries {
    fn new(archives: &BTreeMap<String, CxzArchive>) -> Self {
        let libraries = archives
            .iter()
            .map(|(name, archive)| (name.clone(), library_modules(archive)))
            .collect();
        ExplicitLibraries { libraries }
    }
}

impl LibraryResolver for ExplicitLibraries {
    fn resolve(&self, spec: &str, _importing_file: &Path) -> Result<LibraryModules, String> {
        let stem = spec.strip_suffix(".cxz").unwrap_or(spec);
        let name = stem.rsplit('/').next().unwrap_or(stem);
        if let Some(found) = self.libraries.get(name) {
            return Ok(found.clone());
        }
        let given: Vec<&str> = self.libraries.keys().map(String::as_str).collect();
        Err(format!(
            "error: Library '{name}' not found\n\nSearched in:\n  - the --cxz libraries of this action: {}\n\n\
             With Bazel: add the library's cxz_library target to deps (its import_name must be '{name}').",
            if given.is_empty() { "none".to_string() } else { given.join(", ") }
        ))
    }
}

/// What the front end needs of an archive: its modules in manifest order
/// and the symbols its manifest declares.
fn library_modules(archive: &CxzArchive) -> LibraryModules {
    let modules = archive
        .manifest
        .library
        .modules
        .iter()
        .map(|path| {
            let text = archive.module_text(path).unwrap_or_default().to_string();
            (path.clone(), text)
        })
        .collect();
    let symbols = archive
        .manifest
        .units
        .iter()
        .flat_map(|u| u.symbols.iter())
        .map(|s| ManifestSymbol {
            name: s.name.clone(),
            params: s.params.iter().map(|t| t.to_string()).collect(),
            returns: s.returns.to_string(),
        })
        .collect();
    LibraryModules {
        name: archive.name().to_string(),
        modules,
        symbols,
    }
}

/// Manifest library name → import name; two imports of one library are an error.
pub fn manifest_names(
    archives: &BTreeMap<String, CxzArchive>,
) -> Result<BTreeMap<String, String>, Failure> {
    let mut names = BTreeMap::new();
    for (import, archive) in archives {
        if let Some(other) = names.insert(archive.name().to_string(), import.clone()) {
            return Err(Failure::new(format!(
                "--cxz {other} and --cxz {import} are the same library '{}'",
                archive.name()
            )));
        }
    }
    Ok(names)
}

/// Renumbers a lowered program's FFI units into the canonical order that
/// `coex tool link` embeds images in (see `program.rs`): every unit of every
/// library, libraries by import name, units by name. `manifest_to_import`
/// maps a library's manifest name to its import name.
#[allow(dead_code)] // called once the lowering to IR is part of the build
pub fn canonical_units(
    program: &mut Program,
    order: &[(String, String)],
    manifest_to_import: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    use crate::codegen::ir::FfiUnit;
    let position: BTreeMap<&(String, String), usize> =
        order.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let mut units: Vec<FfiUnit> = order
        .iter()
        .map(|(library, unit)| FfiUnit {
            library: library.clone(),
            unit: unit.clone(),
            symbols: Vec::new(),
        })
        .collect();
    let mut new_index = Vec::new();
    for u in &program.ffi_units {
        let import = manifest_to_import
            .get(&u.library)
            .cloned()
            .unwrap_or_else(|| u.library.clone());
        let key = (import, u.unit.clone());
        let Some(&i) = position.get(&key) else {
            return Err(Failure::new(format!(
                "the program uses FFI unit '{}' of library '{}', which no --cxz library has",
                u.unit, u.library
            )));
        };
        units[i].library = u.library.clone();
        units[i].symbols = u.symbols.clone();
        new_index.push(i as u32);
    }
    for ext in &mut program.externs {
        if let Some(ffi) = &mut ext.ffi {
            ffi.unit = *new_index.get(ffi.unit as usize).ok_or_else(|| {
                Failure::new(format!("extern '{}' names an unknown FFI unit", ext.name))
            })?;
        }
    }
    program.ffi_units = units;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::ir::{Extern, FfiRef, FfiUnit, Type};

    #[test]
    fn staged_paths_stay_relative() {
        assert_eq!(
            staged_path(Path::new("app/main.coex")),
            PathBuf::from("app/main.coex")
        );
        assert_eq!(
            staged_path(Path::new("/abs/x/main.coex")),
            PathBuf::from("main.coex")
        );
        assert_eq!(
            staged_path(Path::new("../up/main.coex")),
            PathBuf::from("main.coex")
        );
    }

    #[test]
    fn units_are_renumbered_into_the_canonical_order() {
        let mut p = Program {
            ffi_units: vec![FfiUnit {
                library: "counter".into(),
                unit: "counter".into(),
                symbols: vec!["coex_counter_next".into()],
            }],
            externs: vec![Extern {
                name: "coex_counter_next".into(),
                params: vec![],
                ret: Type::Int,
                ffi: Some(FfiRef { unit: 0, symbol: 0 }),
            }],
            ..Program::default()
        };
        let order = vec![
            ("counter".to_string(), "counter".to_string()),
            ("greet".to_string(), "greet".to_string()),
        ];
        let names = BTreeMap::from([("counter".to_string(), "counter".to_string())]);
        let mut reversed = order.clone();
        reversed.reverse();
        canonical_units(&mut p, &reversed, &names).unwrap();
        assert_eq!(p.ffi_units.len(), 2, "unused units are listed too");
        assert_eq!(p.ffi_units[1].unit, "counter");
        assert_eq!(p.ffi_units[1].symbols, ["coex_counter_next"]);
        assert!(p.ffi_units[0].symbols.is_empty());
        assert_eq!(p.externs[0].ffi.unwrap().unit, 1);
    }
}
