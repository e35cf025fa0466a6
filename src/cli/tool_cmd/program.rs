//! `coex tool runtime` and `coex tool link`: the actions that turn a
//! program's object (from `coex tool codegen`), the C runtime and its
//! libraries' FFI unit images into an executable.
//!
//! Unit order contract: the FFI units of a program are numbered in one
//! canonical order, libraries by import name, then units by name (the
//! manifest's sorted order): `link` embeds image `i` as unit `i`, and
//! `codegen` must number `Program::ffi_units` the same way, listing every
//! unit of every `--cxz` library, used or not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{
    absolute, parse_named_files, parse_unit_image, read_input, scratch_dir, write_executable,
    write_output, LinkArgs, RuntimeArgs, ToolArgError,
};
use crate::codegen::embed::embed_unit_image;
use crate::cxz::CxzArchive;
use crate::failure::{CmdResult, Failure};
use crate::link::{compile_runtime, run_tool, LinkPlan};

/// File name of the runtime object inside a scratch directory.
const RUNTIME_OBJECT: &str = "coex_rt.o";

/// Runs `coex tool runtime`: every runtime C file compiled, then combined
/// into one relocatable object (`cc -r`), so the action has one output.
pub fn runtime(args: RuntimeArgs) -> CmdResult {
    let cc = cc_string(&args.cc)?;
    let scratch = scratch_dir()?;
    let objects = compile_runtime(&cc, scratch.path())
        .map_err(|e| Failure::new(format!("cannot compile the Coex runtime: {e}")))?;
    let mut argv = vec![
        cc,
        "-r".to_string(),
        "-nostdlib".to_string(),
        "-o".to_string(),
        RUNTIME_OBJECT.to_string(),
    ];
    argv.extend(objects);
    run_tool(&argv, scratch.path())
        .map_err(|e| Failure::new(format!("cannot combine the Coex runtime objects: {e}")))?;
    let bytes = read_input(&scratch.path().join(RUNTIME_OBJECT))?;
    write_output(&args.output, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `coex tool link`.
pub fn link(args: LinkArgs) -> CmdResult {
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

    let cc = cc_string(&args.cc)?;
    let scratch = scratch_dir()?;
    let dir = scratch.path();
    copy_into(dir, "program.o", &args.object)?;
    copy_into(dir, RUNTIME_OBJECT, &args.runtime)?;
    let mut unit_objects = Vec::new();
    for (index, image) in ordered.iter().enumerate() {
        let name = format!("unit{index}.o");
        let index =
            u32::try_from(index).map_err(|_| Failure::new("too many FFI units in one program"))?;
        let object = embed_unit_image(index, &read_input(image)?)
            .map_err(|e| Failure::new(format!("cannot embed {}: {e}", image.display())))?;
        write_output(&dir.join(&name), &object)?;
        unit_objects.push(name);
    }
    let plan = LinkPlan {
        cc,
        program_object: "program.o".to_string(),
        runtime_objects: vec![RUNTIME_OBJECT.to_string()],
        unit_objects,
        // Unit images carry their own system libraries (DT_NEEDED).
        system_libs: Vec::new(),
        output: "program".to_string(),
    };
    run_tool(&plan.argv(), dir).map_err(|e| Failure::new(format!("link failed: {e}")))?;
    let bytes = read_input(&dir.join("program"))?;
    write_executable(&args.output, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// Every FFI unit of every library, in the canonical order (see the module doc).
pub(super) fn unit_order(libraries: &BTreeMap<String, CxzArchive>) -> Vec<(String, String)> {
    let mut order = Vec::new();
    for (name, archive) in libraries {
        let mut units: Vec<&str> = archive
            .manifest
            .units
            .iter()
            .map(|u| u.name.as_str())
            .collect();
        units.sort_unstable();
        order.extend(units.into_iter().map(|u| (name.clone(), u.to_string())));
    }
    order
}

/// Opens every `--cxz` archive, by import name.
pub(super) fn open_libraries(
    libraries: &BTreeMap<String, PathBuf>,
) -> Result<BTreeMap<String, CxzArchive>, Failure> {
    let mut archives = BTreeMap::new();
    for (name, path) in libraries {
        archives.insert(name.clone(), CxzArchive::open(path).map_err(Failure::new)?);
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

/// `--cc` as an absolute path in a string (argv builders take strings).
fn cc_string(cc: &Path) -> Result<String, Failure> {
    let cc = absolute(cc)?;
    cc.to_str().map(str::to_string).ok_or_else(|| {
        Failure::new(format!(
            "the C compiler path {} is not valid UTF-8",
            cc.display()
        ))
    })
}

/// Copies an input file into the scratch directory under a fixed name, so
/// no input path reaches the link's argv or output.
fn copy_into(dir: &Path, name: &str, from: &Path) -> Result<(), Failure> {
    write_output(&dir.join(name), &read_input(from)?)
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
