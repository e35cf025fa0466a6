//! `coex build` and `coex run`.

use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::exec_args::ExecArgs;
use crate::atomic_file::write_atomically;
use crate::build::program::ProgramError;
use crate::build::run::{build_program, ProgramBuild, ProgramBuildOptions};
use crate::failure::{CmdResult, Failure};

/// Flags shared by `coex build` and `coex run`.
#[derive(Debug, Args)]
pub struct ProgramArgs {
    /// The program's main file
    pub file: PathBuf,
    /// Also search DIR for libraries named by `import "name"` (repeatable; before COEX_PATH)
    #[arg(short = 'L', value_name = "DIR")]
    pub lib_dirs: Vec<PathBuf>,
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// Arguments of `coex build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub program: ProgramArgs,
    /// The executable to write (default: the main file's name without .coex, in the current folder)
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
}

/// Arguments of `coex run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub program: ProgramArgs,
    /// Print the build's action lines and summary (to stderr)
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Arguments passed to the program (after `--`)
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// A program build's error as the CLI prints it (diagnostics are already
/// rendered text); shared by every command that loads a program.
pub(super) fn to_failure(e: ProgramError) -> Failure {
    match e {
        ProgramError::Diagnostics(text) => Failure::worded(text),
        ProgramError::Other(text) => Failure::new(text),
    }
}

fn build_it(p: &ProgramArgs, quiet: bool) -> Result<ProgramBuild, Failure> {
    let mut exec = p.exec.options()?;
    if quiet {
        exec.progress = false;
    }
    let opts = ProgramBuildOptions {
        exec,
        cc: p.exec.cc.clone(),
        lib_dirs: p.lib_dirs.clone(),
    };
    let build = build_program(&p.file, &opts).map_err(to_failure)?;
    if !build.warnings.is_empty() {
        eprint!("{}", build.warnings);
    }
    Ok(build)
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    write_atomically(path, bytes, 0o755, false)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
}

/// `coex build`: one line per action, `wrote OUT`, then the summary.
pub fn build(args: BuildArgs) -> CmdResult {
    let out = match args.output {
        Some(o) => o,
        None => PathBuf::from(
            args.program
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "a.out".into()),
        ),
    };
    let build = build_it(&args.program, false)?;
    write_executable(&out, &build.executable)?;
    for line in build.report.action_lines() {
        println!("{line}");
    }
    println!("wrote {}", out.display());
    println!("{}", build.report.summary());
    Ok(ExitCode::SUCCESS)
}

/// `coex run`: builds quietly (stdout belongs to the program), runs the
/// executable with the arguments after `--`, passes its exit status on.
pub fn run(args: RunArgs) -> CmdResult {
    let build = build_it(&args.program, !args.verbose)?;
    if args.verbose {
        for line in build.report.action_lines() {
            eprintln!("{line}");
        }
        eprintln!("{}", build.report.summary());
    }
    let dir = tempfile::Builder::new()
        .prefix("coex-run-")
        .tempdir()
        .map_err(|e| Failure::new(format!("cannot create a scratch directory: {e}")))?;
    let stem = args
        .program
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".into());
    let exe = dir.path().join(stem);
    write_executable(&exe, &build.executable)?;
    let status = std::process::Command::new(&exe)
        .args(&args.args)
        .status()
        .map_err(|e| Failure::new(format!("cannot run {}: {e}", exe.display())))?;
    drop(dir);
    let code = match status.code() {
        Some(c) => c,
        None => {
            use std::os::unix::process::ExitStatusExt;
            128 + status.signal().unwrap_or(0)
        }
    };
    Ok(ExitCode::from((code & 0xff) as u8))
}
