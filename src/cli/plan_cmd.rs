//! `coex plan`: the action graph of a build as JSON, without running it.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::build::unit_inputs;
use crate::cxz::CxzArchive;
use crate::failure::{CmdResult, Failure};
use crate::ffi_build::plan_json;

/// Arguments of `coex plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A `.cxz` library or a program's main `.coex` file
    pub file: PathBuf,
    /// Print JSON (the only format for now, also printed without the flag)
    #[arg(long)]
    pub json: bool,
    /// C compiler whose identity goes into the keys (default: $COEX_CC, else clang on PATH)
    #[arg(long = "cc", value_name = "PATH")]
    pub cc: Option<PathBuf>,
}

/// Prints the plan of a library's FFI units (schema `coex-plan-v1`,
/// docs/cache.md). Object keys are sorted, so equal inputs print equal bytes.
pub fn run(args: PlanArgs) -> CmdResult {
    if args.file.extension().is_some_and(|e| e == "coex") {
        return Err(Failure::with_body(
            format!(
                "cannot plan {}: program plans come with `coex build`",
                args.file.display()
            ),
            "`coex plan` handles .cxz libraries for now, e.g. `coex plan zlib.cxz --json`.",
        ));
    }
    let archive = CxzArchive::open(&args.file).map_err(Failure::new)?;
    let plan = plan_json(&unit_inputs(&archive), args.cc.as_deref()).map_err(Failure::new)?;
    let text = serde_json::to_string_pretty(&plan)
        .map_err(|e| Failure::new(format!("cannot render the plan as JSON: {e}")))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
