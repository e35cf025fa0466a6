//! `coex tool …`: the hidden, stable subcommands that build systems run as
//! actions (the Bazel rules in `rules/` do).
//!
//! Each subcommand is a pure function of its command line and the files it
//! names: it reads only its inputs, writes only its declared output (through
//! a temporary file renamed into place, so a failure leaves nothing behind)
//! and never touches the local cache in `~/.coex` — the build system caches.
//! The argv of every subcommand is a contract, documented in docs/bazel.md;
//! change it only together with the rules.

use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::failure::{CmdResult, Failure};

/// The `coex tool` subcommands.
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Pack a library into a deterministic `.cxz` (from a directory, or from an explicit file list)
    Pack(PackArgs),
    /// Compile one FFI unit of a `.cxz` into its foreign library image
    FfiUnit(FfiUnitArgs),
    /// Compile the C runtime linked into every Coex program
    Runtime(RuntimeArgs),
    /// Generate one object file for all Coex code of a program
    Codegen(CodegenArgs),
    /// Link a program's object, the runtime and its FFI unit images into an executable
    Link(LinkArgs),
}

/// `coex tool pack (--root DIR | --manifest FILE [--file ARCHIVE_PATH=FILE]...) -o OUT`
#[derive(Debug, Args)]
pub struct PackArgs {
    /// A directory laid out like the archive (`manifest.toml`, `src/`, `ffi/src/`)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["manifest", "file"])]
    pub root: Option<PathBuf>,
    /// The manifest; stored as `manifest.toml` at the archive root
    #[arg(long, value_name = "FILE", required_unless_present = "root")]
    pub manifest: Option<PathBuf>,
    /// One more file of the archive: its path inside the archive, `=`, its path on disk
    #[arg(long = "file", value_name = "ARCHIVE_PATH=FILE")]
    pub file: Vec<String>,
    /// The archive to write
    #[arg(short = 'o', value_name = "OUT")]
    pub output: PathBuf,
}

/// `coex tool ffi-unit --cxz LIB.cxz --unit UNIT --cc CLANG -o libUNIT.so`
#[derive(Debug, Args)]
pub struct FfiUnitArgs {
    /// The library archive
    #[arg(long, value_name = "FILE")]
    pub cxz: PathBuf,
    /// The FFI unit to compile (a `[ffi.UNIT]` table of the manifest)
    #[arg(long, value_name = "UNIT")]
    pub unit: String,
    /// The C compiler
    #[arg(long, value_name = "CLANG")]
    pub cc: PathBuf,
    /// The foreign library image to write
    #[arg(short = 'o', value_name = "OUT")]
    pub output: PathBuf,
}

/// `coex tool runtime --cc CLANG -o libcoex_rt.a`
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// The C compiler
    #[arg(long, value_name = "CLANG")]
    pub cc: PathBuf,
    /// The static library to write
    #[arg(short = 'o', value_name = "OUT")]
    pub output: PathBuf,
}

/// `coex tool codegen --main MAIN.coex [--module NAME=FILE]... [--cxz NAME=FILE]... -o OUT.o`
#[derive(Debug, Args)]
pub struct CodegenArgs {
    /// The file holding `func main()`
    #[arg(long, value_name = "FILE")]
    pub main: PathBuf,
    /// A Coex module the program imports by name (`import NAME`)
    #[arg(long = "module", value_name = "NAME=FILE")]
    pub module: Vec<String>,
    /// A `.cxz` library the program imports (`import "NAME"`)
    #[arg(long = "cxz", value_name = "NAME=FILE")]
    pub cxz: Vec<String>,
    /// The object file to write
    #[arg(short = 'o', value_name = "OUT")]
    pub output: PathBuf,
}

/// `coex tool link --object OBJ --runtime RT [--cxz NAME=FILE]... [--unit-image NAME:UNIT=FILE]... --cc CLANG -o EXE`
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The program's object file (from `coex tool codegen`)
    #[arg(long, value_name = "FILE")]
    pub object: PathBuf,
    /// The runtime library (from `coex tool runtime`)
    #[arg(long, value_name = "FILE")]
    pub runtime: PathBuf,
    /// A `.cxz` library of the program (its manifest names system libraries to link)
    #[arg(long = "cxz", value_name = "NAME=FILE")]
    pub cxz: Vec<String>,
    /// The compiled image of one FFI unit (from `coex tool ffi-unit`)
    #[arg(long = "unit-image", value_name = "NAME:UNIT=FILE")]
    pub unit_image: Vec<String>,
    /// The C compiler (used as the linker driver)
    #[arg(long, value_name = "CLANG")]
    pub cc: PathBuf,
    /// The executable to write
    #[arg(short = 'o', value_name = "OUT")]
    pub output: PathBuf,
}

/// Runs one `coex tool` subcommand.
pub fn run(cmd: ToolCommand) -> CmdResult {
    match cmd {
        ToolCommand::Pack(args) => pack(args),
        ToolCommand::FfiUnit(args) => ffi_unit::run(args),
        ToolCommand::Runtime(_) => Err(unavailable("runtime", "the C runtime (runtime/)")),
        ToolCommand::Codegen(args) => {
            check_specs(&args.module, &args.cxz)?;
            Err(unavailable(
                "codegen",
                "the front end (src/lang) and the Cranelift back end (src/codegen)",
            ))
        }
        ToolCommand::Link(args) => {
            check_specs(&[], &args.cxz)?;
            for spec in &args.unit_image {
                parse_unit_image(spec).map_err(ToolArgError::into_failure)?;
            }
            Err(unavailable(
                "link",
                "the Cranelift back end (src/codegen) and the C runtime (runtime/)",
            ))
        }
    }
}

/// The one error of a subcommand whose library code is not in this build:
/// it fails loudly instead of writing a fake output.
fn unavailable(subcommand: &str, needs: &str) -> Failure {
    Failure::with_body(
        format!("`coex tool {subcommand}` is not available in this build"),
        format!(
            "It needs {needs}, which this build of coex does not contain yet.\n\
             Rebuild coex from a checkout that has it (cargo build) and point the\n\
             Bazel toolchain (COEX_BIN) at the new binary."
        ),
    )
}

/// A bad command-line value of a `coex tool` subcommand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolArgError {
    /// A `NAME=PATH` value without `=` or with an empty side.
    #[error("invalid {flag} value '{value}': expected {expected}")]
    Malformed {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },
    /// An archive path that would not stay inside the archive.
    #[error("invalid archive path '{path}' in --file: {why}")]
    BadArchivePath { path: String, why: &'static str },
    /// The same archive path, module or library given twice.
    #[error("{flag} names '{name}' twice")]
    Duplicate { flag: &'static str, name: String },
    /// A library or unit name that is not an identifier.
    #[error(
        "invalid name '{name}' in {flag}: expected [A-Za-z_][A-Za-z0-9_]*, at most 64 characters"
    )]
    BadName { flag: &'static str, name: String },
}

impl ToolArgError {
    fn into_failure(self) -> Failure {
        Failure::with_body(
            self,
            "See docs/bazel.md (\"coex tool\") for the argv of every subcommand.",
        )
    }
}

/// Splits `LEFT=RIGHT`; both sides must be non-empty.
fn split_spec<'a>(
    flag: &'static str,
    value: &'a str,
    expected: &'static str,
) -> Result<(&'a str, &'a str), ToolArgError> {
    match value.split_once('=') {
        Some((left, right)) if !left.is_empty() && !right.is_empty() => Ok((left, right)),
        _ => Err(ToolArgError::Malformed {
            flag,
            value: value.to_string(),
            expected,
        }),
    }
}

/// Whether `name` is an identifier as libraries, modules and units use them.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
    first_ok && name.len() <= 64 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses repeated `NAME=FILE` values into a sorted map; names are identifiers, unique.
fn parse_named_files(
    flag: &'static str,
    values: &[String],
) -> Result<BTreeMap<String, PathBuf>, ToolArgError> {
    let mut out = BTreeMap::new();
    for value in values {
        let (name, path) = split_spec(flag, value, "NAME=FILE")?;
        if !is_identifier(name) {
            return Err(ToolArgError::BadName {
                flag,
                name: name.to_string(),
            });
        }
        if out.insert(name.to_string(), PathBuf::from(path)).is_some() {
            return Err(ToolArgError::Duplicate {
                flag,
                name: name.to_string(),
            });
        }
    }
    Ok(out)
}

/// Validates `--module` and `--cxz` values before anything runs.
fn check_specs(modules: &[String], cxz: &[String]) -> Result<(), Failure> {
    parse_named_files("--module", modules).map_err(ToolArgError::into_failure)?;
    parse_named_files("--cxz", cxz).map_err(ToolArgError::into_failure)?;
    Ok(())
}

/// One `--unit-image NAME:UNIT=FILE` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitImageSpec {
    /// The library's import name.
    pub library: String,
    /// The FFI unit.
    pub unit: String,
    /// The compiled image.
    pub image: PathBuf,
}

fn parse_unit_image(value: &str) -> Result<UnitImageSpec, ToolArgError> {
    const EXPECTED: &str = "NAME:UNIT=FILE";
    let (key, path) = split_spec("--unit-image", value, EXPECTED)?;
    let Some((library, unit)) = key.split_once(':') else {
        return Err(ToolArgError::Malformed {
            flag: "--unit-image",
            value: value.to_string(),
            expected: EXPECTED,
        });
    };
    for name in [library, unit] {
        if !is_identifier(name) {
            return Err(ToolArgError::BadName {
                flag: "--unit-image",
                name: name.to_string(),
            });
        }
    }
    Ok(UnitImageSpec {
        library: library.to_string(),
        unit: unit.to_string(),
        image: PathBuf::from(path),
    })
}

/// Checks that an archive path is relative, normalised and stays inside the archive.
fn check_archive_path(path: &str) -> Result<(), ToolArgError> {
    let bad = |why| {
        Err(ToolArgError::BadArchivePath {
            path: path.to_string(),
            why,
        })
    };
    if path.starts_with('/') {
        return bad("it is absolute");
    }
    if path.contains('\\') || path.contains('\0') {
        return bad("it contains a backslash or NUL");
    }
    for component in path.split('/') {
        match component {
            "" => return bad("it has an empty component"),
            "." | ".." => return bad("it has a '.' or '..' component"),
            _ => {}
        }
    }
    Ok(())
}

/// The archive's files as `pack --manifest … --file …` names them: archive path → file on disk.
pub fn pack_file_list(
    manifest: &Path,
    files: &[String],
) -> Result<BTreeMap<String, PathBuf>, ToolArgError> {
    let mut out = BTreeMap::new();
    out.insert(MANIFEST_NAME.to_string(), manifest.to_path_buf());
    for value in files {
        let (archive_path, disk_path) = split_spec("--file", value, "ARCHIVE_PATH=FILE")?;
        check_archive_path(archive_path)?;
        if out
            .insert(archive_path.to_string(), PathBuf::from(disk_path))
            .is_some()
        {
            return Err(ToolArgError::Duplicate {
                flag: "--file",
                name: archive_path.to_string(),
            });
        }
    }
    Ok(out)
}

const MANIFEST_NAME: &str = "manifest.toml";

fn pack(args: PackArgs) -> CmdResult {
    let PackArgs {
        root,
        manifest,
        file,
        output,
    } = args;
    let bytes = match (root, manifest) {
        (Some(root), _) => pack_backend::pack_root(&root, &output)?,
        (None, Some(manifest)) => {
            let list = pack_file_list(&manifest, &file).map_err(ToolArgError::into_failure)?;
            pack_backend::pack_list(&list, &manifest)?
        }
        (None, None) => {
            return Err(ToolArgError::Malformed {
                flag: "pack",
                value: String::new(),
                expected: "--root DIR, or --manifest FILE with --file ARCHIVE_PATH=FILE",
            }
            .into_failure())
        }
    };
    write_output(&output, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `output` through a temporary file in the same directory,
/// so the output either appears complete or not at all.
fn write_output(output: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let fail = |e: std::io::Error| Failure::new(format!("cannot write {}: {e}", output.display()));
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(output).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Reads a file named on the command line, with an error naming it.
fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    fs::read(path).map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))
}

/// The packing itself, done by the `.cxz` library code exactly as
/// `coex cxz pack` does it: validate everything, then write the
/// deterministic ZIP bytes.
mod pack_backend {
    use super::*;
    use crate::cxz::pack::{collect_tree, write_zip, PackError};
    use crate::cxz::{CxzArchive, CxzError, Limits};

    /// Packs a directory laid out like the archive (the output file, if it
    /// is inside, is skipped).
    pub fn pack_root(root: &Path, output: &Path) -> Result<Vec<u8>, Failure> {
        let files = collect_tree(root, Some(output)).map_err(Failure::new)?;
        pack_files(files, &root.display().to_string())
    }

    /// Packs an explicit list of files (archive path → file on disk).
    pub fn pack_list(
        list: &BTreeMap<String, PathBuf>,
        manifest: &Path,
    ) -> Result<Vec<u8>, Failure> {
        let mut files = BTreeMap::new();
        for (archive_path, disk_path) in list {
            files.insert(archive_path.clone(), read_input(disk_path)?);
        }
        pack_files(files, &manifest.display().to_string())
    }

    /// Validates the library and returns its deterministic archive bytes;
    /// `display` names the library in errors.
    fn pack_files(files: BTreeMap<String, Vec<u8>>, display: &str) -> Result<Vec<u8>, Failure> {
        let archive = CxzArchive::from_files(files, display, Limits::STANDARD).map_err(|e| {
            Failure::new(PackError::Invalid {
                dir: display.to_string(),
                problems: match e {
                    CxzError::Invalid { problems, .. } => problems,
                    other => other.problems(),
                },
            })
        })?;
        write_zip(&archive.files)
            .map_err(|message| Failure::new(format!("cannot pack {display}: {message}")))
    }
}

/// `coex tool ffi-unit`: one FFI unit of an archive → its image, through
/// the same planned clang actions as `coex build`, with a throw-away cache.
mod ffi_unit {
    use super::*;
    use crate::cxz::{CxzArchive, ResolvedUnit, FFI_SRC};
    use crate::exec::ExecOptions;
    use crate::ffi_build::{build_units, FfiBuildOptions, FfiUnitInput};

    pub fn run(args: FfiUnitArgs) -> CmdResult {
        if !is_identifier(&args.unit) {
            return Err(ToolArgError::BadName {
                flag: "--unit",
                name: args.unit,
            }
            .into_failure());
        }
        let archive = CxzArchive::open(&args.cxz).map_err(Failure::new)?;
        let input = unit_input(&archive, &args.unit, &args.cxz)?;
        let cc = absolute(&args.cc)?;
        // The executor needs a cache; this one lives and dies with the
        // command, so nothing outside the declared output persists.
        let scratch = tempfile::Builder::new()
            .prefix("coex-tool-")
            .tempdir()
            .map_err(|e| Failure::new(format!("cannot create a scratch directory: {e}")))?;
        let mut exec = ExecOptions::new(scratch.path().join("cache"));
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

    /// The build description of one unit: its manifest entry with every
    /// path made relative to `ffi/src/`, and every file under `ffi/src/`.
    pub fn unit_input(
        archive: &CxzArchive,
        unit: &str,
        path: &Path,
    ) -> Result<FfiUnitInput, Failure> {
        let Some(resolved) = archive.manifest.unit(unit) else {
            let known: Vec<&str> = archive
                .manifest
                .units
                .iter()
                .map(|u| u.name.as_str())
                .collect();
            return Err(Failure::with_body(
                format!(
                    "FFI unit '{unit}' is not declared in the manifest of library '{}' ({})",
                    archive.name(),
                    path.display()
                ),
                format!(
                    "Its units are: {}.\nList exactly the manifest's [ffi.<unit>] tables in cxz_library(units = [...]).",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
            ));
        };
        Ok(to_input(archive, resolved))
    }

    fn under_ffi_src(path: &str) -> String {
        match path.strip_prefix(FFI_SRC) {
            Some("") => ".".to_string(),
            Some(rest) => rest.to_string(),
            None if path == FFI_SRC.trim_end_matches('/') => ".".to_string(),
            None => path.to_string(),
        }
    }

    fn to_input(archive: &CxzArchive, u: &ResolvedUnit) -> FfiUnitInput {
        FfiUnitInput {
            library: archive.name().to_string(),
            unit: u.name.clone(),
            files: archive
                .files
                .iter()
                .filter_map(|(p, b)| Some((p.strip_prefix(FFI_SRC)?.to_string(), b.clone())))
                .collect(),
            sources: u.sources.iter().map(|s| under_ffi_src(s)).collect(),
            include_dirs: u.include_dirs.iter().map(|s| under_ffi_src(s)).collect(),
            cflags: u.cflags.clone(),
            system_headers: u.system_headers.clone(),
            system_libs: u.system_libs.clone(),
            pkg_config: u.pkg_config.clone(),
        }
    }

    /// `--cc` as an absolute path (Bazel passes execroot-relative ones).
    fn absolute(path: &Path) -> Result<PathBuf, Failure> {
        if path.is_absolute() {
            return Ok(path.to_path_buf());
        }
        let cwd = std::env::current_dir()
            .map_err(|e| Failure::new(format!("cannot read the current directory: {e}")))?;
        Ok(cwd.join(path))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn archive_paths_become_ffi_src_relative() {
            assert_eq!(under_ffi_src("ffi/src/a/b.c"), "a/b.c");
            assert_eq!(under_ffi_src("ffi/src"), ".");
            assert_eq!(under_ffi_src("ffi/src/"), ".");
            assert_eq!(under_ffi_src("ffi/src/rxspencer"), "rxspencer");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn file_list_maps_manifest_and_files_in_sorted_order() {
        let list = pack_file_list(
            Path::new("pkg/m.toml"),
            &strings(&["src/b.coex=pkg/src/b.coex", "ffi/src/a.c=x/a.c"]),
        )
        .unwrap();
        let keys: Vec<&str> = list.keys().map(String::as_str).collect();
        assert_eq!(keys, ["ffi/src/a.c", "manifest.toml", "src/b.coex"]);
        assert_eq!(list["manifest.toml"], PathBuf::from("pkg/m.toml"));
        assert_eq!(list["ffi/src/a.c"], PathBuf::from("x/a.c"));
    }

    #[test]
    fn file_list_rejects_paths_escaping_the_archive() {
        for bad in ["/etc/passwd", "../x", "src/../../x", "a//b", "a\\b", "./a"] {
            let err = pack_file_list(Path::new("m"), &strings(&[&format!("{bad}=f")])).unwrap_err();
            assert!(
                matches!(err, ToolArgError::BadArchivePath { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn file_list_rejects_duplicates_and_a_second_manifest() {
        let err = pack_file_list(Path::new("m"), &strings(&["a=1", "a=2"])).unwrap_err();
        assert_eq!(err.to_string(), "--file names 'a' twice");
        let err = pack_file_list(Path::new("m"), &strings(&["manifest.toml=x"])).unwrap_err();
        assert_eq!(err.to_string(), "--file names 'manifest.toml' twice");
    }

    #[test]
    fn malformed_specs_are_named() {
        let err = pack_file_list(Path::new("m"), &strings(&["noequals"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --file value 'noequals': expected ARCHIVE_PATH=FILE"
        );
        assert!(parse_named_files("--cxz", &strings(&["=x"])).is_err());
        assert!(parse_named_files("--cxz", &strings(&["x="])).is_err());
    }

    #[test]
    fn named_files_are_identifiers_and_unique() {
        let map = parse_named_files("--cxz", &strings(&["zeta=z.cxz", "alpha=a.cxz"])).unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["alpha", "zeta"]);
        let err = parse_named_files("--module", &strings(&["9lives=x"])).unwrap_err();
        assert!(matches!(err, ToolArgError::BadName { .. }));
        let err = parse_named_files("--module", &strings(&["m=a", "m=b"])).unwrap_err();
        assert_eq!(err.to_string(), "--module names 'm' twice");
    }

    #[test]
    fn unit_image_specs_parse() {
        let spec = parse_unit_image("greet:ffi_1=out/libffi_1.so").unwrap();
        assert_eq!(spec.library, "greet");
        assert_eq!(spec.unit, "ffi_1");
        assert_eq!(spec.image, PathBuf::from("out/libffi_1.so"));
        assert!(parse_unit_image("greet=x.so").is_err());
        assert!(parse_unit_image("greet:bad-unit=x.so").is_err());
    }

    #[test]
    fn output_is_written_whole_and_replaces_an_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.cxz");
        fs::write(&out, b"old").unwrap();
        write_output(&out, b"new bytes").unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"new bytes");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }
}
