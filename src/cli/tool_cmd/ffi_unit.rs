//! `coex tool ffi-unit`: one FFI unit of an archive → its foreign library
//! image; `coex tool ffi-units`: every unit of the manifest → one folder.
//! The units' inputs come from `crate::plan::cxz_units` and their actions
//! from `crate::ffi_build`, exactly as in `coex cxz build` and `coex build`,
//! run with a throw-away cache (the build system caches, not coex).

use std::process::ExitCode;

use super::{
    absolute, is_identifier, read_input, scratch_dir, scratch_exec, write_output, FfiUnitArgs,
    FfiUnitsArgs, ToolArgError,
};
use crate::cxz::CxzArchive;
use crate::failure::{CmdResult, Failure};
use crate::ffi_build::{build_units, FfiBuildOptions};
use crate::plan::cxz_units::{unit_input_of, unit_inputs};

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
    let input = unit_input_of(&archive, &args.unit, &args.cxz.display().to_string())
        .map_err(|e| Failure::with_body(&e, e.hint()))?;
    let cc = absolute(&args.cc)?;
    let scratch = scratch_dir()?;
    let mut exec = scratch_exec(scratch.path());
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

/// Runs `coex tool ffi-units`: the images go straight to the output
/// folder, each written whole (`lib<unit>.so`); a library without FFI units
/// leaves the folder empty.
pub fn run_all(args: &FfiUnitsArgs) -> CmdResult {
    let archive = CxzArchive::open(&args.cxz).map_err(Failure::new)?;
    let inputs = unit_inputs(&archive);
    let cc = absolute(&args.cc)?;
    let scratch = scratch_dir()?;
    let opts = FfiBuildOptions {
        exec: scratch_exec(scratch.path()),
        cc: Some(cc),
    };
    if inputs.is_empty() {
        std::fs::create_dir_all(&args.output)
            .map_err(|e| Failure::new(format!("cannot create {}: {e}", args.output.display())))?;
        return Ok(ExitCode::SUCCESS);
    }
    build_units(&inputs, &opts, &args.output).map_err(Failure::new)?;
    Ok(ExitCode::SUCCESS)
}
