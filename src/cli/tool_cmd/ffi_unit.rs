//! `coex tool ffi-unit`: one FFI unit of an archive → its foreign library
//! image, through the same planned clang actions as `coex build`, with a
//! throw-away cache (the build system caches, not coex).

use std::path::Path;
use std::process::ExitCode;

use super::{
    absolute, is_identifier, read_input, scratch_dir, write_output, FfiUnitArgs, ToolArgError,
};
use crate::cxz::{CxzArchive, ResolvedUnit, FFI_SRC};
use crate::exec::ExecOptions;
use crate::failure::{CmdResult, Failure};
use crate::ffi_build::{build_units, FfiBuildOptions, FfiUnitInput};

/// Runs `coex tool ffi-unit`.
pub fn run(args: FfiUnitArgs) -> CmdResult {
    if !is_identifier(&args.unit) {
        return Err(ToolArgError::BadName {
            flag: "--unit",
            name: args.unit,
        }
        .into_failure());
    }
    let archive = CxzArchive::open(&args.cxz).map_err(Failure::new)?;
    let input = unit_input(&archive, &args.unit, &args.cxz)?;
    let cc = absolute(&args.cc)?;
    // The executor needs a cache; this one lives and dies with the
    // command, so nothing outside the declared output persists.
    let scratch = scratch_dir()?;
    let mut exec = ExecOptions::new(scratch.path().join("cache"));
    exec.jobs = 1;
    let opts = FfiBuildOptions { exec, cc: Some(cc) };
    let out_dir = scratch.path().join("out");
    let outcome = build_units(&[input], &opts, &out_dir).map_err(Failure::new)?;
    let image = outcome
        .images
        .values()
        .next()
        .ok_or_else(|| Failure::new("the FFI build produced no image"))?;
    write_output(&args.output, &read_input(image)?)?;
    Ok(ExitCode::SUCCESS)
}

/// The build description of one unit: its manifest entry with every
/// path made relative to `ffi/src/`, and every file under `ffi/src/`.
pub fn unit_input(archive: &CxzArchive, unit: &str, path: &Path) -> Result<FfiUnitInput, Failure> {
    let Some(resolved) = archive.manifest.unit(unit) else {
        let known: Vec<&str> = archive
            .manifest
            .units
            .iter()
            .map(|u| u.name.as_str())
            .collect();
        return Err(Failure::with_body(
            format!(
                "FFI unit '{unit}' is not declared in the manifest of library '{}' ({})",
                archive.name(),
                path.display()
            ),
            format!(
                "Its units are: {}.\nList exactly the manifest's [ffi.<unit>] tables in cxz_library(units = [...]).",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
        ));
    };
    Ok(to_input(archive, resolved))
}

fn under_ffi_src(path: &str) -> String {
    match path.strip_prefix(FFI_SRC) {
        Some("") => ".".to_string(),
        Some(rest) => rest.to_string(),
        None if path == FFI_SRC.trim_end_matches('/') => ".".to_string(),
        None => path.to_string(),
    }
}

fn to_input(archive: &CxzArchive, u: &ResolvedUnit) -> FfiUnitInput {
    FfiUnitInput {
        library: archive.name().to_string(),
        unit: u.name.clone(),
        files: archive
            .files
            .iter()
            .filter_map(|(p, b)| Some((p.strip_prefix(FFI_SRC)?.to_string(), b.clone())))
            .collect(),
        sources: u.sources.iter().map(|s| under_ffi_src(s)).collect(),
        include_dirs: u.include_dirs.iter().map(|s| under_ffi_src(s)).collect(),
        cflags: u.cflags.clone(),
        system_headers: u.system_headers.clone(),
        system_libs: u.system_libs.clone(),
        pkg_config: u.pkg_config.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_become_ffi_src_relative() {
        assert_eq!(under_ffi_src("ffi/src/a/b.c"), "a/b.c");
        assert_eq!(under_ffi_src("ffi/src"), ".");
        assert_eq!(under_ffi_src("ffi/src/"), ".");
        assert_eq!(under_ffi_src("ffi/src/rxspencer"), "rxspencer");
    }
}
