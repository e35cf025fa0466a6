//! `coex debug …`: hidden developer commands that drive library code
//! directly on a plain directory, without packing a `.cxz` first (used by
//! tests and scripts/bench-exec.sh; `coex cxz build` is the archive path).

use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::exec_args::ExecArgs;
use crate::failure::{CmdResult, Failure};
use crate::ffi_build::{build_units, plan_json, FfiBuildOptions, FfiUnitInput};

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Build one FFI unit from a directory laid out like a library's ffi/src
    BuildUnit(Box<BuildUnitArgs>),
    /// Check, lower and compile a program to an object as `coex build`
    /// does, stopping before any C compile or link: the back end's verdict
    Codegen(CodegenArgs),
}

/// Arguments of `coex debug codegen`.
#[derive(Debug, Args)]
pub struct CodegenArgs {
    /// The program's main file
    pub file: PathBuf,
    /// Also search DIR for libraries (repeatable), as `coex build -L`
    #[arg(short = 'L', value_name = "DIR")]
    pub lib_dirs: Vec<PathBuf>,
    /// Write the object here (default: nothing is written)
    #[arg(short = 'o', value_name = "OBJ")]
    pub output: Option<PathBuf>,
}

/// Arguments of `coex debug build-unit`.
#[derive(Debug, Args)]
pub struct BuildUnitArgs {
    /// The unit's ffi/src directory (every file under it is an input)
    pub dir: PathBuf,
    /// Library name (for messages)
    #[arg(long, default_value = "lib")]
    pub library: String,
    /// Unit name (the image is lib<unit>.so)
    #[arg(long, default_value = "unit")]
    pub unit: String,
    /// C source relative to DIR (repeatable; default: every *.c file)
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// Include dir relative to DIR (repeatable; default: .)
    #[arg(long = "include")]
    pub include_dirs: Vec<String>,
    /// Extra compiler flag (repeatable)
    #[arg(long = "cflag", allow_hyphen_values = true)]
    pub cflags: Vec<String>,
    /// Required system header (repeatable)
    #[arg(long = "system-header")]
    pub system_headers: Vec<String>,
    /// System library to link (repeatable)
    #[arg(long = "system-lib")]
    pub system_libs: Vec<String>,
    /// pkg-config package (repeatable)
    #[arg(long = "pkg-config")]
    pub pkg_config: Vec<String>,
    /// Output directory for lib<unit>.so
    #[arg(short = 'o', long = "out", default_value = ".")]
    pub out: PathBuf,
    /// Print the plan JSON instead of building
    #[arg(long)]
    pub plan: bool,
    /// List how each action was satisfied (ran / cached / remote)
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

fn read_tree(root: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), Failure> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| Failure::new(format!("cannot read directory {}: {e}", dir.display())))?;
    let mut names: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ft = e
            .file_type()
            .map_err(|err| Failure::new(format!("cannot stat {}: {err}", e.path().display())))?;
        if ft.is_dir() {
            read_tree(root, &r, out)?;
        } else if ft.is_file() {
            let bytes = std::fs::read(e.path()).map_err(|err| {
                Failure::new(format!("cannot read {}: {err}", e.path().display()))
            })?;
            out.insert(r, bytes);
        }
    }
    Ok(())
}

pub fn run(cmd: DebugCommand) -> CmdResult {
    match cmd {
        DebugCommand::BuildUnit(a) => build_unit(*a),
        DebugCommand::Codegen(a) => codegen(&a),
    }
}

/// `coex debug codegen`: the front end, the bridge and Cranelift, with the
/// diagnostics `coex build` prints; libraries are read, not built.
fn codegen(a: &CodegenArgs) -> CmdResult {
    use crate::plan::program::{compile_object, load_program};
    let lookup = crate::plan::resolver::Lookup::Search(a.lib_dirs.clone());
    let loaded = load_program(&a.file, lookup, None).map_err(super::build_cmd::to_failure)?;
    if let Some(warnings) = &loaded.warnings {
        errout!("{}", warnings.render());
    }
    let object = compile_object(&loaded).map_err(super::build_cmd::to_failure)?;
    if let Some(out) = &a.output {
        std::fs::write(out, object)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", out.display())))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn build_unit(a: BuildUnitArgs) -> CmdResult {
    let mut files = BTreeMap::new();
    read_tree(&a.dir, "", &mut files)?;
    let sources = if a.sources.is_empty() {
        files
            .keys()
            .filter(|f| f.ends_with(".c"))
            .cloned()
            .collect()
    } else {
        a.sources
    };
    let include_dirs = if a.include_dirs.is_empty() {
        vec![".".to_string()]
    } else {
        a.include_dirs
    };
    let unit = FfiUnitInput {
        stored: Default::default(),
        library: a.library,
        unit: a.unit,
        files,
        sources,
        include_dirs,
        cflags: a.cflags,
        system_headers: a.system_headers,
        system_libs: a.system_libs,
        pkg_config: a.pkg_config,
        symbols: Vec::new(),
        allow_imports: Vec::new(),
    };
    let inputs = [unit];
    if a.plan {
        let v = plan_json(&inputs, a.exec.cc.as_deref()).map_err(Failure::new)?;
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    let opts = FfiBuildOptions {
        exec: a.exec.options()?,
        cc: a.exec.cc.clone(),
    };
    let verbose = a.verbose;
    let outcome = build_units(&inputs, &opts, &a.out).map_err(Failure::new)?;
    if verbose {
        for line in outcome.report.action_lines() {
            outln!("{line}");
        }
    }
    outln!("{}", outcome.report.summary());
    Ok(ExitCode::SUCCESS)
}
