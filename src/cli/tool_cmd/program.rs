//! `coex tool runtime` and `coex tool link`: the actions that turn a
//! program's object (from `coex tool codegen`), the C runtime and its
//! libraries' FFI unit images into an executable. Both plan the runtime
//! and final link actions of `coex build` (`crate::link`) and run them with
//! the executor on a throw-away cache, so Bazel and `coex build` link the
//! same bytes.
//!
//! Unit order contract: the FFI units of a program are numbered in one
//! canonical order, libraries by import name, then units by name (the
//! program's `FfiLayout`): `link` embeds image `i` as unit `i`, and
//! `codegen` numbers `Program::ffi_units` the same way, listing every unit
//! of every `--cxz` library, used or not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{
    absolute, parse_named_files, parse_unit_image, read_input, scratch_dir, scratch_exec,
    write_executable, write_output, LinkArgs, RuntimeArgs, ToolArgError,
};
use crate::cxz::CxzArchive;
use crate::failure::{CmdResult, Failure};
use crate::link::{build_runtime, link_executable};
use crate::plan::resolver::{layout_of, ResolvedLibrary};
use crate::toolchain::memo;
use crate::toolchain::Clang;

/// Runs `coex tool runtime`: the runtime actions of a program build (every
/// runtime C file compiled, then combined into one relocatable object), so
/// the action has one output.
pub fn runtime(args: &RuntimeArgs) -> CmdResult {
    let clang = clang(&args.cc)?;
    let scratch = scratch_dir()?;
    let bytes = build_runtime(&scratch_exec(scratch.path()), &clang)
        .map_err(|e| Failure::new(format!("cannot build the Coex runtime: {e}")))?;
    write_output(&args.output, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `coex tool link`.
pub fn link(args: &LinkArgs) -> CmdResult {
    let libraries = parse_named_files("--cxz", &args.cxz).map_err(ToolArgError::into_failure)?;
    let mut images = BTreeMap::new();
    for value in &args.unit_image {
        let spec = parse_unit_image(value).map_err(ToolArgError::into_failure)?;
        let key = (spec.library, spec.unit);
        if images.insert(key.clone(), spec.image).is_some() {
            return Err(ToolArgError::Duplicate {
                flag: "--unit-image",
                name: format!("{}:{}", key.0, key.1),
            }
            .into_failure());
        }
    }
    let order = unit_order(&open_libraries(&libraries)?);
    let ordered = match_images(&order, images)?;
    let clang = clang(&args.cc)?;
    let mut unit_images = Vec::new();
    for image in &ordered {
        unit_images.push(read_input(image)?);
    }
    let program_object = read_input(&args.object)?;
    let runtime_object = read_input(&args.runtime)?;
    let scratch = scratch_dir()?;
    let exec = scratch_exec(scratch.path());
    let bytes = link_executable(&exec, &clang, program_object, runtime_object, unit_images)
        .map_err(|e| Failure::new(format!("link failed: {e}")))?;
    write_executable(&args.output, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// The `--cc` compiler and its identity (relative paths are taken from the
/// current directory, Bazel's execroot).
fn clang(cc: &Path) -> Result<Clang, Failure> {
    let cc = absolute(cc)?;
    memo::clang(None, Some(&cc)).map_err(Failure::new)
}

/// Every FFI unit of every library, in the canonical order (see the module doc).
fn unit_order(libraries: &BTreeMap<String, ResolvedLibrary>) -> Vec<(String, String)> {
    let layout = layout_of(libraries);
    layout
        .units()
        .into_iter()
        .map(|(_, library, unit)| (library.import_name.clone(), unit.unit.clone()))
        .collect()
}

/// Opens every `--cxz` archive, by import name.
fn open_libraries(
    libraries: &BTreeMap<String, PathBuf>,
) -> Result<BTreeMap<String, ResolvedLibrary>, Failure> {
    let mut archives = BTreeMap::new();
    for (name, path) in libraries {
        let archive = CxzArchive::open(path).map_err(Failure::new)?;
        let path = path.clone();
        archives.insert(name.clone(), ResolvedLibrary { path, archive });
    }
    Ok(archives)
}

/// The image of each unit of `order`; every unit needs one, every image
/// must belong to a unit.
fn match_images(
    order: &[(String, String)],
    mut images: BTreeMap<(String, String), PathBuf>,
) -> Result<Vec<PathBuf>, Failure> {
    let mut ordered = Vec::new();
    for (library, unit) in order {
        match images.remove(&(library.clone(), unit.clone())) {
            Some(image) => ordered.push(image),
            None => {
                return Err(Failure::with_body(
                    format!("no image for FFI unit '{unit}' of library '{library}'"),
                    format!(
                        "Every unit of a library must be compiled and linked.\n\
                         With Bazel: add \"{unit}\" to units of the cxz_library imported as '{library}'.\n\
                         Otherwise: pass --unit-image {library}:{unit}=FILE (from coex tool ffi-unit)."
                    ),
                ))
            }
        }
    }
    if let Some(((library, unit), _)) = images.into_iter().next() {
        return Err(Failure::with_body(
            format!("--unit-image {library}:{unit} names no FFI unit of the --cxz libraries"),
            "Check the unit names against the libraries' manifests ([ffi.<unit>] tables).",
        ));
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(l: &str, u: &str) -> (String, String) {
        (l.to_string(), u.to_string())
    }

    #[test]
    fn images_follow_the_canonical_order() {
        let order = vec![key("a", "x"), key("a", "y"), key("b", "x")];
        let images = BTreeMap::from([
            (key("b", "x"), PathBuf::from("bx.so")),
            (key("a", "y"), PathBuf::from("ay.so")),
            (key("a", "x"), PathBuf::from("ax.so")),
        ]);
        let ordered = match_images(&order, images).unwrap();
        assert_eq!(
            ordered,
            [PathBuf::from("ax.so"), "ay.so".into(), "bx.so".into()]
        );
    }

    #[test]
    fn a_missing_or_unknown_image_is_named() {
        let order = vec![key("greet", "greet")];
        let err = match_images(&order, BTreeMap::new()).unwrap_err();
        assert!(err
            .text
            .starts_with("error: no image for FFI unit 'greet' of library 'greet'"));
        let images = BTreeMap::from([
            (key("greet", "greet"), PathBuf::from("g.so")),
            (key("greet", "extra"), PathBuf::from("e.so")),
        ]);
        let err = match_images(&order, images).unwrap_err();
        assert!(err.text.starts_with(
            "error: --unit-image greet:extra names no FFI unit of the --cxz libraries"
        ));
    }
}
