//! Turning FFI units into cached clang actions and unit images.
//!
//! One compile action per C source (inputs: every file of the unit's
//! `ffi/src` tree except the unit's other listed sources, so a header edit
//! re-runs every compile and a source edit only its own), one link action
//! per unit producing `lib<unit>.so`. This module knows nothing about `.cxz`
//! archives: whoever reads the archive fills in [`FfiUnitInput`].

mod elf;
pub mod host_paths;
mod plan;

pub use elf::has_static_tls;
pub use plan::{add_units_to_graph, plan_units, FfiPlan, PlannedUnit, SHIM_HEADER, SHIM_SOURCE};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::atomic_file::{check_output, write_atomically, Input, OutputError, OutputTarget};
use crate::exec::{BuildReport, ExecError, ExecOptions, Executor};
use crate::toolchain::{find_clang, ToolchainError};

/// One FFI unit of one library, as read from its archive and manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FfiUnitInput {
    /// The library's name: with `unit`, what identifies the unit (two
    /// libraries may each have a unit `u`; action ids are
    /// `compile:<library>/<unit>/…`, `link:<library>/<unit>`).
    pub library: String,
    /// The unit's name; the image is `lib<unit>.so`.
    pub unit: String,
    /// ALL files under `ffi/src`, by path relative to it (except those in
    /// `stored`).
    pub files: BTreeMap<String, Vec<u8>>,
    /// Files under `ffi/src` known by digest only: their bytes are a blob of
    /// the local cache, read only if an action must run. They were already
    /// scanned for host paths (see `plan::archive_memo`).
    pub stored: BTreeMap<String, crate::exec::Digest>,
    /// C sources to compile (glob-expanded, relative to `ffi/src`).
    pub sources: Vec<String>,
    /// Include directories relative to `ffi/src` (`.` is `ffi/src` itself).
    pub include_dirs: Vec<String>,
    /// Extra compiler flags (already allow-listed by the manifest reader).
    pub cflags: Vec<String>,
    /// Headers the build machine must provide.
    pub system_headers: Vec<String>,
    /// `-l` names to link.
    pub system_libs: Vec<String>,
    /// pkg-config packages.
    pub pkg_config: Vec<String>,
}

/// Options of an FFI build.
#[derive(Debug, Clone)]
pub struct FfiBuildOptions {
    /// Executor options (cache dir, remote, -j).
    pub exec: ExecOptions,
    /// `--cc PATH` (else `COEX_CC`, else `clang` on PATH).
    pub cc: Option<PathBuf>,
}

/// The hint line closing a compile failure (contract text, cxz-format §5).
pub const COMPILE_HINT: &str =
    "Check that all header files are included in the library's src/ directory.";

/// The hint line closing a link failure.
pub const LINK_HINT: &str =
    "Check system_libs and pkg_config in the library's manifest, and that every symbol is defined.";

/// An FFI build failure, worded for the user (the text after `error: `).
#[derive(Debug, thiserror::Error)]
pub enum FfiBuildError {
    /// clang, a header or a pkg-config package is missing.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// A C file did not compile.
    #[error("FFI compilation failed for '{library}'\n\nCommand: {command}\nError: {error_line}\n\n{COMPILE_HINT}")]
    CompileFailed {
        /// The library.
        library: String,
        /// The command as a user could read it.
        command: String,
        /// First line of clang's stderr mentioning `error`.
        error_line: String,
    },
    /// A compile read a file that is neither in the archive nor a system
    /// header, so its changes could go unnoticed by the cache.
    #[error(transparent)]
    OutsideRead(Box<OutsideRead>),
    /// Library C names a host file where no dependency file would show it.
    #[error(transparent)]
    HostPath(Box<HostPath>),
    /// A unit did not link.
    #[error("FFI link failed for '{library}' (unit '{unit}')\n\nCommand: {command}\nError: {error_line}\n\n{LINK_HINT}")]
    LinkFailed {
        /// The library.
        library: String,
        /// The unit.
        unit: String,
        /// The command as a user could read it.
        command: String,
        /// First line of the linker's stderr mentioning `error`.
        error_line: String,
    },
    /// The unit description itself is unusable.
    #[error("FFI unit '{unit}' of library '{library}': {detail}")]
    BadUnit {
        /// The library.
        library: String,
        /// The unit.
        unit: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// The linked image uses initial-exec TLS (`DF_STATIC_TLS`).
    #[error("FFI unit '{unit}' of library '{library}' uses initial-exec thread-local storage (DF_STATIC_TLS)\n\nEvery FFI instance loads the unit again, and glibc's static TLS space runs out after a few loads.\nUse the default TLS model: remove tls_model(\"initial-exec\") attributes (-fPIC code uses -ftls-model=global-dynamic by default).")]
    StaticTls {
        /// The library.
        library: String,
        /// The unit.
        unit: String,
    },
    /// Any other executor failure.
    #[error(transparent)]
    Exec(ExecError),
    /// Writing an image to the output directory failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An image's path is refused (something other than a regular file is
    /// there, or an input) or could not be written.
    #[error(transparent)]
    OutputPath(#[from] OutputError),
}

/// A compile read a file that is neither in the archive nor a system
/// header, so its changes could go unnoticed by the cache.
#[derive(Debug, thiserror::Error)]
#[error("FFI compilation of '{library}' reads a file outside the library\n\nC file: ffi/src/{source_file} (unit '{unit}')\nReads:  {path}\n\nA compile may read only its unit's ffi/src files, the compiler's own headers, the system include dirs ({system_dirs}) and the include dirs of its pkg_config packages: a change to any other file would not be seen by the build cache.\nCopy the file into the library's ffi/src/ directory, or declare the package it comes from under system_headers or pkg_config.")]
pub struct OutsideRead {
    /// The library.
    pub library: String,
    /// The unit.
    pub unit: String,
    /// The compiled source, relative to `ffi/src`.
    pub source_file: String,
    /// The file it read.
    pub path: String,
    /// The system include dirs, for the message.
    pub system_dirs: String,
}

/// Library C names a host file where no dependency file would show it.
#[derive(Debug, thiserror::Error)]
#[error("FFI unit '{unit}' of library '{library}' names a file outside the library\n\nffi/src/{file}:{line}: {construct} {}\n\nA compile may read only its unit's ffi/src files and system headers; a file elsewhere could change without the build cache noticing.\nCopy the file into the library's ffi/src/ directory and name it by a relative path.", if path.is_empty() { "(a path built from macros, which cannot be checked)".to_string() } else { format!("\"{path}\"") })]
pub struct HostPath {
    /// The library.
    pub library: String,
    /// The unit.
    pub unit: String,
    /// The file, relative to `ffi/src`.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// `.incbin`, `#embed`, `__has_include`, …
    pub construct: String,
    /// The path as written.
    pub path: String,
}

/// The first stderr line that mentions an error (what §5 shows after
/// `Error:`). The linker says `cannot find -lx` / `undefined reference`
/// before clang's generic "linker command failed" error, so those count too.
pub fn first_error_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| {
            l.contains("error") || l.contains("cannot find") || l.contains("undefined reference")
        })
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("(no diagnostic output)")
        .trim_end()
        .to_string()
}

/// Why library C may not expand `__DATE__`, `__TIME__` or `__TIMESTAMP__`
/// (clang 14 ignores SOURCE_DATE_EPOCH, so they would differ per build).
pub const DATE_TIME_REASON: &str = "Library C may not use __DATE__, __TIME__ or __TIMESTAMP__: they make two builds of the same sources differ, and coex builds are reproducible. Use a fixed string (for example the library's version) instead.";

/// The first error line of a compile, and the reason for a date/time error.
fn compile_error_line(stderr: &str) -> String {
    let line = first_error_line(stderr);
    if line.contains("-Wdate-time") {
        format!("{line}\n{DATE_TIME_REASON}")
    } else {
        line
    }
}

/// Result of [`build_units`].
#[derive(Debug, Clone)]
pub struct FfiBuildOutcome {
    /// Per-action outcomes and warnings.
    pub report: BuildReport,
    /// `(library, unit)` → path of the image written to the output dir.
    pub images: BTreeMap<(String, String), PathBuf>,
}

impl FfiPlan {
    /// Maps an executor error to the §5 wording when it is a compile or link
    /// failure of one of this plan's actions.
    pub fn explain(&self, e: ExecError) -> FfiBuildError {
        explain_failure(&self.units, e)
    }
}

/// Maps an executor error to the §5 wording when it is a compile or link
/// failure of an action of `units` (any graph holding them: `coex cxz
/// build`'s or a program's), else wraps it.
pub fn explain_failure(units: &[PlannedUnit], e: ExecError) -> FfiBuildError {
    if let ExecError::OutsideRead { id, path, allowed } = &e {
        if let Some(u) = units.iter().find(|u| u.compile_actions.contains(id)) {
            let prefix = format!("compile:{}/{}/", u.library, u.unit);
            return FfiBuildError::OutsideRead(Box::new(OutsideRead {
                library: u.library.clone(),
                unit: u.unit.clone(),
                source_file: id.strip_prefix(&prefix).unwrap_or(id).to_string(),
                path: path.display().to_string(),
                system_dirs: allowed
                    .iter()
                    .skip(1)
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }));
        }
    }
    if let ExecError::ActionFailed {
        id,
        command,
        stderr,
        ..
    } = &e
    {
        if let Some(u) = units.iter().find(|u| &u.link_action == id) {
            return FfiBuildError::LinkFailed {
                library: u.library.clone(),
                unit: u.unit.clone(),
                command: command.clone(),
                error_line: first_error_line(stderr),
            };
        }
        if let Some(u) = units.iter().find(|u| u.compile_actions.contains(id)) {
            return FfiBuildError::CompileFailed {
                library: u.library.clone(),
                command: command.clone(),
                error_line: compile_error_line(stderr),
            };
        }
    }
    FfiBuildError::Exec(e)
}

/// The plan JSON of these units (see docs/cache.md); checks the toolchain,
/// headers and pkg-config packages but runs nothing.
pub fn plan_json(
    inputs: &[FfiUnitInput],
    cc: Option<&Path>,
) -> Result<serde_json::Value, FfiBuildError> {
    let clang = find_clang(cc)?;
    Ok(plan_units(inputs, &clang)?.graph.plan_json())
}

/// [`plan_json`] with the compiler's identity as a build remembered it in
/// `cache_dir` (read, never written; computed afresh when absent or stale).
pub fn plan_json_with_memo(
    inputs: &[FfiUnitInput],
    cc: Option<&Path>,
    cache_dir: Option<&Path>,
) -> Result<serde_json::Value, FfiBuildError> {
    let clang = crate::toolchain::memo::clang_read_only(cache_dir, cc)?;
    Ok(plan_units(inputs, &clang)?.graph.plan_json())
}

/// Checks a linked unit image before it is used (today: no `DF_STATIC_TLS`).
/// The program build calls this on every image it embeds.
pub fn check_image(library: &str, unit: &str, image: &[u8]) -> Result<(), FfiBuildError> {
    if has_static_tls(image) == Some(true) {
        return Err(FfiBuildError::StaticTls {
            library: library.to_string(),
            unit: unit.to_string(),
        });
    }
    Ok(())
}

/// Checks the output folder and the image paths `out_dir/<image>` before a
/// build: the folder is missing (it will be created) or a folder (a link to
/// one is fine), and each image path is absent or a regular file that is
/// not one of `inputs`. Writing checks each image again.
pub fn check_image_paths<'a>(
    out_dir: &Path,
    images: impl IntoIterator<Item = &'a str>,
    inputs: &[Input],
) -> Result<(), OutputError> {
    match std::fs::metadata(out_dir) {
        Ok(m) if m.is_dir() => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Ok(m) => {
            let what = crate::atomic_file::describe_non_regular(out_dir, &m)
                .unwrap_or_else(|| "a regular file".to_string());
            return Err(OutputError::Refused {
                path: out_dir.to_path_buf(),
                what: format!("it is {what}, not a folder for the unit images"),
                fix: "Choose another output folder with -o.".to_string(),
            });
        }
        Err(e) => {
            return Err(OutputError::Io {
                path: out_dir.to_path_buf(),
                source: e,
            })
        }
    }
    for image in images {
        check_output(&OutputTarget::new(&out_dir.join(image)).with_inputs(inputs))?;
    }
    Ok(())
}

/// Refuses units of different libraries that would write the same
/// `out_dir/lib<unit>.so` (units are scoped by library; one output folder
/// holds the images of one library, as `coex cxz build` writes them).
fn check_one_unit_per_image(units: &[PlannedUnit], out_dir: &Path) -> Result<(), FfiBuildError> {
    let mut by_image: BTreeMap<&str, &PlannedUnit> = BTreeMap::new();
    for u in units {
        if let Some(first) = by_image.insert(&u.image, u) {
            return Err(FfiBuildError::BadUnit {
                library: u.library.clone(),
                unit: u.unit.clone(),
                detail: format!(
                    "its image {} would replace the one of unit '{}' of library '{}'; write each library's images to a folder of its own",
                    out_dir.join(&u.image).display(),
                    first.unit,
                    first.library
                ),
            });
        }
    }
    Ok(())
}

/// Builds every unit (cache first, `-j N`) and writes each image to
/// `out_dir/lib<unit>.so` (as a regular file, through a temporary file
/// renamed into place; anything else at that path is refused, before the
/// build and again when writing).
pub fn build_units(
    inputs: &[FfiUnitInput],
    opts: &FfiBuildOptions,
    out_dir: &Path,
) -> Result<FfiBuildOutcome, FfiBuildError> {
    // The compiler's identity, remembered in the cache like a program build's.
    let clang = crate::toolchain::memo::clang(Some(&opts.exec.cache_dir), opts.cc.as_deref())?;
    let plan = plan_units(inputs, &clang)?;
    check_one_unit_per_image(&plan.units, out_dir)?;
    check_image_paths(out_dir, plan.units.iter().map(|u| u.image.as_str()), &[])?;
    let executor = Executor::new(&opts.exec);
    let report = executor.run(&plan.graph).map_err(|e| plan.explain(e))?;
    let out_err = |path: &Path, e| FfiBuildError::Output {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(out_dir).map_err(|e| out_err(out_dir, e))?;
    let mut images = BTreeMap::new();
    for u in &plan.units {
        let target = out_dir.join(&u.image);
        let bytes = report
            .output(&u.link_action, &u.image)
            .and_then(|d| executor.read_blob(d))
            .ok_or_else(|| {
                FfiBuildError::Exec(ExecError::Cache(format!(
                    "the image of unit '{}' vanished from the cache; run the build again",
                    u.unit
                )))
            })?;
        check_image(&u.library, &u.unit, &bytes)?;
        write_atomically(&OutputTarget::new(&target), &bytes, 0o644, false)?;
        images.insert((u.library.clone(), u.unit.clone()), target);
    }
    Ok(FfiBuildOutcome { report, images })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_line_prefers_error_lines() {
        let s = "src/a.c:1:1: warning: x\nsrc/a.c:2:3: error: expected ';'\n1 error generated.\n";
        assert_eq!(first_error_line(s), "src/a.c:2:3: error: expected ';'");
        assert_eq!(first_error_line(""), "(no diagnostic output)");
        let ld = "/usr/bin/ld: cannot find -lnope: No such file or directory\nclang: error: linker command failed with exit code 1\n";
        assert_eq!(
            first_error_line(ld),
            "/usr/bin/ld: cannot find -lnope: No such file or directory"
        );
    }
}
