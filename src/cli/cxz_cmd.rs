//! `coex cxz …`: pack, inspect, verify, find and build `.cxz` library archives.

use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::exec_args::ExecArgs;
use super::status::Status;
use crate::atomic_file::Input;
use crate::cxz::search::{parse_import, ImportTarget, LibrarySearch};
use crate::cxz::{inspect, pack_dir_checked, CxzArchive};
use crate::failure::{CmdResult, Failure};
use crate::ffi_build::{build_units, check_image_paths, FfiBuildOptions};
use crate::plan::library_check::{extern_problems, verify};
use crate::plan::{default_out_dir, select_units, unit_inputs};

#[derive(Debug, Subcommand)]
pub enum CxzCommand {
    /// Pack a library source tree into a deterministic archive (e.g. `coex cxz pack examples/libs/counter -o counter.cxz`)
    Pack {
        /// The library's folder (with manifest.toml, src/, ffi/src/)
        dir: PathBuf,
        /// The archive to write (default: <name>.cxz in the current folder)
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Describe an archive: library, modules, FFI units, symbols, digest (e.g. `coex cxz inspect lib.cxz --json`)
    Inspect {
        /// The archive
        file: PathBuf,
        /// Print stable JSON (schema in docs/cxz.md)
        #[arg(long)]
        json: bool,
    },
    /// Check an archive against every rule of the format (e.g. `coex cxz verify lib.cxz`)
    Verify {
        /// The archive
        file: PathBuf,
    },
    /// Print where a library would be found (e.g. `coex cxz find regex -L libs`)
    Find {
        /// Library name (`regex` or `regex.cxz`), or a path containing '/'
        name: String,
        /// Extra folders searched first, in order (then COEX_PATH)
        #[arg(short = 'L', value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Compile a library's FFI units into lib<unit>.so images, cached (e.g. `coex cxz build zlib.cxz -o out`)
    Build(Box<CxzBuildArgs>),
}

/// Arguments of `coex cxz build`.
#[derive(Debug, clap::Args)]
pub struct CxzBuildArgs {
    /// The archive
    pub file: PathBuf,
    /// Build only this FFI unit (default: every unit)
    #[arg(long, value_name = "U")]
    pub unit: Option<String>,
    /// Folder for the lib<unit>.so images (default: ./target-coex/<library>/)
    #[arg(short = 'o', long = "out-dir", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// Runs one `coex cxz` subcommand.
pub fn run(cmd: CxzCommand, status: &Status) -> CmdResult {
    match cmd {
        CxzCommand::Pack { dir, output } => pack(&dir, output),
        CxzCommand::Inspect { file, json } => {
            let archive = CxzArchive::open(&file).map_err(Failure::new)?;
            if json {
                out!("{}", inspect::to_json(&archive));
            } else {
                out!("{}", inspect::to_text(&archive));
            }
            Ok(ExitCode::SUCCESS)
        }
        CxzCommand::Verify { file } => {
            let archive = CxzArchive::open(&file).map_err(Failure::new)?;
            let archive = verify(archive, &file.display().to_string()).map_err(Failure::new)?;
            outln!("{}", inspect::summary(&archive));
            Ok(ExitCode::SUCCESS)
        }
        CxzCommand::Find { name, dirs } => find(&name, &dirs),
        CxzCommand::Build(args) => build(*args, status),
    }
}

/// `coex cxz build`: on stderr, one line per action that ran (every
/// action with `-v`, and each image written), then `Finished LIBRARY in
/// …s (the summary)`; stdout stays empty.
fn build(args: CxzBuildArgs, status: &Status) -> CmdResult {
    let mut exec = args.exec.options()?;
    if status.verbosity == super::status::Verbosity::Quiet {
        exec.progress = false;
    }
    // Through the cache's archive memo, as a program build opens libraries:
    // an unchanged archive is neither inflated nor hashed again.
    let archive =
        crate::plan::archive_memo::open(&args.file, Some(&exec.cache_dir)).map_err(Failure::new)?;
    let library = archive.manifest.library.name.clone();
    let inputs = select_units(&library, unit_inputs(&archive), args.unit.as_deref())
        .map_err(Failure::new)?;
    if inputs.is_empty() {
        status.line(
            "Finished",
            &format!("library '{library}' has no FFI units: nothing to build"),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let out_dir = args.out_dir.unwrap_or_else(|| default_out_dir(&library));
    // Before anything is built: no image may replace the archive itself or
    // anything that is not a regular file.
    let images: Vec<String> = inputs.iter().map(|u| format!("lib{}.so", u.unit)).collect();
    let archive_input = [Input::new(&args.file, "the library archive")];
    check_image_paths(&out_dir, images.iter().map(String::as_str), &archive_input)
        .map_err(Failure::new)?;
    let opts = FfiBuildOptions {
        exec,
        cc: args.exec.cc.clone(),
    };
    let outcome = build_units(&inputs, &opts, &out_dir).map_err(Failure::new)?;
    for image in outcome.images.values() {
        status.detail("Wrote", &image.display().to_string());
    }
    status.report(&outcome.report, &library);
    Ok(ExitCode::SUCCESS)
}

fn pack(dir: &Path, output: Option<PathBuf>) -> CmdResult {
    let out = match output {
        Some(o) => o,
        None => {
            // Name the archive after the library (validating it once more
            // costs little and keeps the error text the same as with -o).
            let name = crate::cxz::pack::validate_tree(dir, None)
                .map_err(Failure::new)?
                .manifest
                .library
                .name;
            PathBuf::from(format!("{name}.cxz"))
        }
    };
    let archive = pack_dir_checked(dir, &out, extern_problems).map_err(Failure::new)?;
    outln!(
        "packed {} {} -> {} ({} files), digest {}",
        archive.manifest.library.name,
        archive.manifest.library.version,
        out.display(),
        archive.files.len(),
        archive.digest
    );
    Ok(ExitCode::SUCCESS)
}

fn find(name: &str, dirs: &[PathBuf]) -> CmdResult {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::new(format!("Cannot read the current folder: {e}")))?;
    match parse_import(name, &cwd) {
        ImportTarget::Path(p) => {
            if p.is_file() {
                outln!("{}", p.display());
                Ok(ExitCode::SUCCESS)
            } else {
                Err(Failure::new(format!(
                    "Library file '{}' not found",
                    p.display()
                )))
            }
        }
        ImportTarget::Library(lib) => {
            let hit = LibrarySearch::from_env(dirs)
                .find(&lib, &cwd)
                .map_err(Failure::new)?;
            outln!("{}", hit.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
