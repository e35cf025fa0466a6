//! `coex plan`: the action graph of a build, as a table or as JSON
//! (`--json`), without running it.

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
    /// Print the whole graph as JSON (schema `coex-plan-v1`, docs/cache.md) instead of a table
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
    print_plan(&graph.graph.plan_json(), args.json)
}

fn print_plan(plan: &serde_json::Value, json: bool) -> CmdResult {
    let text = if json {
        serde_json::to_string_pretty(plan)
            .map_err(|e| Failure::new(format!("cannot render the plan as JSON: {e}")))?
    } else {
        table(plan)
    };
    outln!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// One row per action: id, kind, and how many inputs, outputs and
/// dependencies it has; then the number of actions.
fn table(plan: &serde_json::Value) -> String {
    let empty = Vec::new();
    let actions = plan["actions"].as_array().unwrap_or(&empty);
    let count = |a: &serde_json::Value, field: &str| match &a[field] {
        serde_json::Value::Array(v) => v.len(),
        serde_json::Value::Object(m) => m.len(),
        _ => 0,
    };
    let rows: Vec<[String; 5]> = actions
        .iter()
        .map(|a| {
            let id = a["id"].as_str().unwrap_or("?").to_string();
            let kind = id.split(':').next().unwrap_or("").to_string();
            let n = |f| count(a, f).to_string();
            [id, kind, n("inputs"), n("outputs"), n("dependencies")]
        })
        .collect();
    let head = ["ID", "KIND", "INPUTS", "OUTPUTS", "DEPS"].map(String::from);
    let width = rows
        .iter()
        .chain(std::iter::once(&head))
        .fold(0, |w, r| w.max(r[0].len()));
    let mut out = String::new();
    for r in std::iter::once(&head).chain(&rows) {
        let line = format!(
            "{:<width$}  {:<8} {:>6} {:>7} {:>4}",
            r[0], r[1], r[2], r[3], r[4]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} actions (--json for the whole graph)",
        rows.len()
    ));
    out
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
    print_plan(&plan, args.json)
}
