//! Building a program: load → plan → execute (cache first, `-j N`) → the
//! executable's bytes. Failures of FFI actions keep the worded §5 messages
//! of `crate::ffi_build`; a failed codegen or link shows the tool's stderr.

use std::path::{Path, PathBuf};

use super::graph::{plan_program, ProgramGraph, EXECUTABLE};
use super::program::{load_program, LoadedProgram, ProgramDiagnostics, ProgramError};
use super::resolver::Lookup;
use crate::exec::{BuildReport, ExecError, ExecOptions, Executor};
use crate::ffi_build::explain_failure;
use crate::toolchain::memo;

/// How to build a program.
#[derive(Debug, Clone)]
pub struct ProgramBuildOptions {
    /// Executor options (cache, remote, `-j`).
    pub exec: ExecOptions,
    /// `--cc` (else `COEX_CC`, else clang on PATH).
    pub cc: Option<PathBuf>,
    /// `-L` directories searched for libraries first.
    pub lib_dirs: Vec<PathBuf>,
    /// Where the executable will be written, if anywhere: when that file
    /// already holds the result (see `output_memo`), it is not read back.
    pub output: Option<PathBuf>,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct ProgramBuild {
    /// Per-action outcomes.
    pub report: BuildReport,
    /// The executable's digest.
    pub executable_digest: crate::exec::Digest,
    /// The executable, or `None` when [`ProgramBuildOptions::output`]
    /// already holds exactly these bytes.
    pub executable: Option<Vec<u8>>,
    /// The front end's warnings, if any (the CLI prints them).
    pub warnings: Option<ProgramDiagnostics>,
}

/// Loads `main` and plans its graph (what `coex plan FILE.coex` prints).
/// Tool identities are remembered in `cache_dir` when given ([`memo`]).
pub fn plan(
    main: &Path,
    lib_dirs: &[PathBuf],
    cc: Option<&Path>,
    cache_dir: Option<&Path>,
) -> Result<(LoadedProgram, ProgramGraph), ProgramError> {
    let loaded = load_program(main, Lookup::Search(lib_dirs.to_vec()), cache_dir)?;
    let clang = memo::clang(cache_dir, cc)?;
    let coex = memo::coex_self(cache_dir).map_err(ProgramError::CoexExecutable)?;
    let graph = plan_program(&loaded, &clang, coex)?;
    Ok((loaded, graph))
}

/// Builds the program whose main file is `main`.
pub fn build_program(
    main: &Path,
    opts: &ProgramBuildOptions,
) -> Result<ProgramBuild, ProgramError> {
    build_program_checked(main, opts, |_| Ok(()))
}

/// [`build_program`], calling `before_run` with the loaded program once its
/// files (modules, libraries) are known and before any action runs: `coex
/// build` refuses an output path that is one of them there, for free.
pub fn build_program_checked(
    main: &Path,
    opts: &ProgramBuildOptions,
    before_run: impl FnOnce(&LoadedProgram) -> Result<(), ProgramError>,
) -> Result<ProgramBuild, ProgramError> {
    let (loaded, pg) = plan(
        main,
        &opts.lib_dirs,
        opts.cc.as_deref(),
        Some(&opts.exec.cache_dir),
    )?;
    before_run(&loaded)?;
    let executor = Executor::new(&opts.exec);
    // The executable and each unit image (checked below) come into the
    // local cache; intermediates of cache hits may stay on the remote.
    let images: Vec<(String, String)> = pg
        .units
        .iter()
        .map(|u| (u.link_action.clone(), u.image.clone()))
        .collect();
    let report = executor
        .run_wanting(&pg.graph, &images)
        .map_err(|e| explain(&pg, e))?;
    reject_unloadable_images(&pg, &report, &executor)?;
    let vanished = || ProgramError::ExecutableVanished;
    let digest = report
        .output(&pg.link, EXECUTABLE)
        .ok_or_else(vanished)?
        .clone();
    let in_place = opts
        .output
        .as_deref()
        .is_some_and(|out| super::output_memo::unchanged(&opts.exec.cache_dir, out, &digest));
    let executable = if in_place {
        None
    } else {
        Some(executor.read_blob(&digest).ok_or_else(vanished)?)
    };
    Ok(ProgramBuild {
        report,
        executable_digest: digest,
        executable,
        warnings: loaded.warnings,
    })
}

/// Refuses unit images the runtime could not load once per instance
/// (`DF_STATIC_TLS`), that lack a manifest symbol or import a guarded
/// function (`ffi_build::check_image`), so the problem shows at build time,
/// not at run time.
fn reject_unloadable_images(
    pg: &ProgramGraph,
    report: &crate::exec::BuildReport,
    executor: &Executor,
) -> Result<(), ProgramError> {
    // An image that passed once passes again (the check reads only its
    // bytes and the unit's manifest symbols and allowed imports): a marker
    // per check key spares warm builds reading every image.
    let checked = executor.cache_dir().join("memo").join("images-ok");
    for u in &pg.units {
        let Some(digest) = report.output(&u.link_action, &u.image) else {
            continue;
        };
        let marker = checked.join(crate::ffi_build::image_check_key(
            u,
            digest.hash.hex().as_str(),
        ));
        if marker.is_file() {
            continue;
        }
        if let Some(bytes) = executor.read_blob(digest) {
            crate::ffi_build::check_image(u, &bytes)?;
            if std::fs::create_dir_all(&checked).is_ok() {
                let _ = std::fs::write(&marker, b"");
            }
        }
    }
    Ok(())
}

/// Words an executor failure: FFI compile/link in the §5 form, codegen and
/// link with the tool's own error text.
fn explain(pg: &ProgramGraph, e: ExecError) -> ProgramError {
    if let ExecError::ActionFailed { id, stderr, .. } = &e {
        if id == &pg.codegen {
            // The action is `coex tool codegen`: its stderr is one of
            // these errors, worded by the CLI with `error: ` in front.
            let text = stderr.trim_end();
            let message = text.strip_prefix("error: ").unwrap_or(text).to_string();
            return ProgramError::CodegenAction { message };
        }
        if id == &pg.link {
            return ProgramError::Link {
                stderr: stderr.trim_end().to_string(),
            };
        }
    }
    ProgramError::Ffi(explain_failure(&pg.units, e))
}
