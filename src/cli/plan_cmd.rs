//! `coex plan`: the action graph of a build as JSON, without running it.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cxz::CxzArchive;
use crate::failure::{CmdResult, Failure};
use crate::ffi_build::plan_json_with_memo;
use crate::plan::unit_inputs;

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
    /// For a program: also search DIR for libraries (repeatable; before COEX_PATH)
    #[arg(short = 'L', value_name = "DIR")]
    pub lib_dirs: Vec<PathBuf>,
}

/// Prints the whole graph of a program build: codegen, FFI units, runtime
/// and link actions (nothing runs).
fn program(args: &PlanArgs) -> CmdResult {
    // Planning writes nothing, not even the tool identity memo.
    let (_, graph) = crate::plan::run::plan(&args.file, &args.lib_dirs, args.cc.as_deref(), None)
        .map_err(super::build_cmd::to_failure)?;
    print_json(&graph.graph.plan_json())
}

fn print_json(plan: &serde_json::Value) -> CmdResult {
    let text = serde_json::to_string_pretty(plan)
        .map_err(|e| Failure::new(format!("cannot render the plan as JSON: {e}")))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Prints the plan of a library's FFI units (schema `coex-plan-v1`,
/// docs/cache.md). Object keys are sorted, so equal inputs print equal bytes.
pub fn run(args: &PlanArgs) -> CmdResult {
    if args.file.extension().is_some_and(|e| e == "coex") {
        return program(args);
    }
    let archive = CxzArchive::open(&args.file).map_err(Failure::new)?;
    // The compiler's identity as the last build remembered it (read only).
    let cache = crate::exec::local::default_cache_dir().ok();
    let plan = plan_json_with_memo(&unit_inputs(&archive), args.cc.as_deref(), cache.as_deref())
        .map_err(Failure::new)?;
    print_json(&plan)
}
