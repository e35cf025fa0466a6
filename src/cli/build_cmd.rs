//! `coex build` and `coex run`.

use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::exec_args::ExecArgs;
use super::status::Status;
use crate::atomic_file::{check_output, write_atomically, Input, OutputTarget};
use crate::failure::{CmdResult, Failure};
use crate::plan::program::{LoadedProgram, ProgramError};
use crate::plan::run::{build_program_checked, ProgramBuild, ProgramBuildOptions};

/// Flags shared by `coex build` and `coex run`.
#[derive(Debug, Args)]
pub struct ProgramArgs {
    /// The program's main file
    pub file: PathBuf,
    /// Also search DIR for libraries named by `import "name"` (repeatable; before COEX_PATH)
    #[arg(short = 'L', value_name = "DIR")]
    pub lib_dirs: Vec<PathBuf>,
    /// Refuse imported libraries that coex.lock does not record with the same digest
    #[arg(long)]
    pub locked: bool,
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
    /// Arguments passed to the program (after `--`), byte for byte
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<std::ffi::OsString>,
}

/// A program build's error as the CLI prints it: diagnostics rendered
/// with their snippets and closing line, anything else as `error: …`;
/// shared by every command that loads a program.
pub(super) fn to_failure(e: ProgramError) -> Failure {
    match e {
        ProgramError::Diagnostics(d) => Failure::worded(d.render()),
        other => Failure::new(other),
    }
}

fn build_it(
    p: &ProgramArgs,
    status: &Status,
    output: Option<&Path>,
    before_run: impl FnOnce(&LoadedProgram) -> Result<(), ProgramError>,
) -> Result<ProgramBuild, Failure> {
    let mut exec = p.exec.options()?;
    if status.verbosity == super::status::Verbosity::Quiet {
        exec.progress = false;
    }
    let opts = ProgramBuildOptions {
        exec,
        cc: p.exec.cc.clone(),
        lib_dirs: p.lib_dirs.clone(),
        output: output.map(Path::to_path_buf),
    };
    let build = build_program_checked(&p.file, &opts, |loaded| {
        if p.locked {
            crate::pkg::locked::check(&p.file, &loaded.libraries)?;
        }
        before_run(loaded)
    })
    .map_err(to_failure)?;
    if let Some(warnings) = &build.warnings {
        status.message(&warnings.render());
    }
    Ok(build)
}

/// Every file a loaded program's build reads, for refusing an output that
/// would replace one: the main file, its modules and its libraries.
fn program_inputs(main: &Path, loaded: &LoadedProgram) -> Vec<Input> {
    let mut inputs = vec![Input::new(main, "the program's source")];
    for (name, path) in &loaded.modules {
        inputs.push(Input::new(path, format!("module '{name}'")));
    }
    for (name, lib) in &loaded.libraries {
        inputs.push(Input::new(&lib.path, format!("library '{name}'")));
    }
    inputs
}

fn write_executable(target: &OutputTarget, bytes: &[u8]) -> Result<(), Failure> {
    write_atomically(target, bytes, 0o755, false).map_err(Failure::new)
}

/// `coex build`: on stderr, one line per action that ran (every action
/// with `-v`), then `Finished OUT in …s (the summary)`; stdout stays empty. The
/// output path is checked before anything is built (its folder exists,
/// nothing but a regular file that is not one of the build's inputs is
/// there), once more when the program's files are known, and at write time.
pub fn build(args: BuildArgs, status: &Status) -> CmdResult {
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
    let main = args.program.file.clone();
    let mut inputs = vec![Input::new(&main, "the program's source")];
    check_output(&OutputTarget::new(&out).with_inputs(&inputs)).map_err(Failure::new)?;
    let build = build_it(&args.program, status, Some(&out), |loaded| {
        inputs = program_inputs(&main, loaded);
        Ok(check_output(&OutputTarget::new(&out).with_inputs(&inputs))?)
    })?;
    // `None`: OUT already holds these bytes (written by an earlier build).
    if let Some(bytes) = &build.executable {
        write_executable(&OutputTarget::new(&out).with_inputs(&inputs), bytes)?;
        let cache = args.program.exec.options()?.cache_dir;
        crate::plan::output_memo::remember(&cache, &out, &build.executable_digest);
    }
    status.report(&build.report, &out.display().to_string());
    Ok(ExitCode::SUCCESS)
}

/// `coex run`: builds quietly unless `-v` (status on stderr; stdout belongs
/// to the program), runs the
/// executable with the arguments after `--`, passes its exit status on.
pub fn run(args: &RunArgs, status: &Status) -> CmdResult {
    let status = status.quiet_unless_verbose();
    let build = build_it(&args.program, &status, None, |_| Ok(()))?;
    status.report(&build.report, &args.program.file.display().to_string());
    // A private folder (swept by a later build if this process is killed):
    // `coex run` writes no path the user named.
    let dir = crate::exec::scratch::tempdir(crate::exec::scratch::RUN)
        .map_err(|e| Failure::new(format!("cannot create a scratch directory: {e}")))?;
    let stem = args
        .program
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".into());
    let exe = dir.path().join(stem);
    let bytes = build
        .executable
        .as_deref()
        .ok_or_else(|| Failure::new("the executable was not read from the cache"))?;
    write_executable(&OutputTarget::new(&exe), bytes)?;
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
