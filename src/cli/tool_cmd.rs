//! `coex tool …`: the hidden, stable subcommands that build systems run as
//! actions (the Bazel rules in `rules/` do).
//!
//! Each subcommand is a pure function of its command line and the files it
//! names: it reads only its inputs, writes only its declared output (through
//! a temporary file renamed into place, so a failure leaves nothing behind)
//! and never touches the local cache in `~/.coex` — the build system caches.
//! The argv of every subcommand is a contract, documented in docs/bazel.md;
//! change it only together with the rules. `ffi-unit`, `runtime` and `link`
//! plan the same actions as `coex build` and run them with the executor on
//! a throw-away cache, so Bazel and `coex build` produce the same bytes.

use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::atomic_file::{Input, OutputTarget};
use crate::failure::{CmdResult, Failure};

mod codegen;
mod ffi_unit;
mod pack;
mod program;

/// The `coex tool` subcommands.
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Pack a library into a deterministic `.cxz` (from a directory, or from an explicit file list)
    Pack(PackArgs),
    /// Compile one FFI unit of a `.cxz` into its foreign library image
    FfiUnit(FfiUnitArgs),
    /// Compile every FFI unit of a `.cxz` (as its manifest lists them) into one folder
    FfiUnits(FfiUnitsArgs),
    /// Write a `.cxz`'s interface: the archive with its C sources emptied (the input of codegen)
    Interface(InterfaceArgs),
    /// Compile the C runtime linked into every Coex program
    Runtime(RuntimeArgs),
    /// Generate one object file for all Coex code of a program
    Codegen(CodegenArgs),
    /// Check Coex modules (a coex_library) with the front end; write a stamp
    Check(CheckArgs),
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

/// `coex tool ffi-units --cxz LIB.cxz --cc CLANG -o DIR`: `DIR/lib<unit>.so`
/// for every `[ffi.<unit>]` of the manifest (a Bazel tree artifact).
#[derive(Debug, Args)]
pub struct FfiUnitsArgs {
    /// The library archive
    #[arg(long, value_name = "FILE")]
    pub cxz: PathBuf,
    /// The C compiler
    #[arg(long, value_name = "CLANG")]
    pub cc: PathBuf,
    /// The folder to write the images to (created if absent)
    #[arg(short = 'o', value_name = "DIR")]
    pub output: PathBuf,
}

/// `coex tool interface --cxz LIB.cxz -o LIB.interface.cxz`
#[derive(Debug, Args)]
pub struct InterfaceArgs {
    /// The library archive
    #[arg(long, value_name = "FILE")]
    pub cxz: PathBuf,
    /// The interface archive to write
    #[arg(short = 'o', value_name = "OUT")]
    pub output: PathBuf,
}

/// `coex tool runtime --cc CLANG -o coex_rt.o`
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// The C compiler
    #[arg(long, value_name = "CLANG")]
    pub cc: PathBuf,
    /// The runtime object to write (`coex_rt.o`)
    #[arg(short = 'o', value_name = "OUT")]
    pub output: PathBuf,
}

/// `coex tool codegen --main MAIN.coex [--module NAME=FILE]... [--cxz NAME=FILE]... -o OUT.o`
#[derive(Debug, Args)]
pub struct CodegenArgs {
    /// The file holding `func main()`
    #[arg(long, value_name = "FILE")]
    pub main: PathBuf,
    #[command(flatten)]
    pub imports: ImportArgs,
    /// The object file to write
    #[arg(short = 'o', value_name = "OUT")]
    pub output: PathBuf,
}

/// What the Coex code of `codegen` and `check` may import: only what the
/// command line names, never a search path.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A Coex module the code imports by name (`import NAME`)
    #[arg(long = "module", value_name = "NAME=FILE")]
    pub module: Vec<String>,
    /// A `.cxz` library the code imports (`import "NAME"`)
    #[arg(long = "cxz", value_name = "NAME=FILE")]
    pub cxz: Vec<String>,
}

/// The modules and libraries of an `ImportArgs`, each by name.
type NamedImports = (BTreeMap<String, PathBuf>, BTreeMap<String, PathBuf>);

impl ImportArgs {
    /// The `--module` and `--cxz` values as name → file maps, or the error
    /// naming the first malformed, badly named or repeated one.
    fn parse(&self) -> Result<NamedImports, Failure> {
        let modules =
            parse_named_files("--module", &self.module).map_err(ToolArgError::into_failure)?;
        let libraries =
            parse_named_files("--cxz", &self.cxz).map_err(ToolArgError::into_failure)?;
        Ok((modules, libraries))
    }
}

/// `coex tool check --src FILE... [--module NAME=FILE]... [--cxz NAME=FILE]... -o STAMP`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A Coex module to check as an entry file (repeatable)
    #[arg(long = "src", value_name = "FILE", required = true)]
    pub src: Vec<PathBuf>,
    #[command(flatten)]
    pub imports: ImportArgs,
    /// The stamp file to write (lists the checked files)
    #[arg(short = 'o', value_name = "OUT")]
    pub output: PathBuf,
}

/// `coex tool link --object OBJ --runtime RT [--cxz NAME=FILE]... [--unit-image NAME:UNIT=FILE]... --cc CLANG -o EXE`
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The program's object file (from `coex tool codegen`)
    #[arg(long, value_name = "FILE")]
    pub object: PathBuf,
    /// The runtime object (from `coex tool runtime`)
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
        ToolCommand::Pack(args) => pack::run(args),
        ToolCommand::FfiUnit(args) => ffi_unit::run(args),
        ToolCommand::FfiUnits(args) => ffi_unit::run_all(&args),
        ToolCommand::Interface(args) => pack::interface(&args),
        ToolCommand::Runtime(args) => program::runtime(&args),
        ToolCommand::Codegen(args) => codegen::run(&args),
        ToolCommand::Check(args) => codegen::check(&args),
        ToolCommand::Link(args) => program::link(&args),
    }
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

/// Writes `bytes` to `output` through a temporary file in the same directory,
/// so the output either appears complete or not at all. An existing regular
/// file is replaced; anything else (FIFO, device, symlink, directory) is
/// refused and left alone.
fn write_output(output: &Path, bytes: &[u8]) -> Result<(), Failure> {
    write_with_mode(output, bytes, 0o644, &[])
}

/// [`write_output`] that also refuses to replace one of `inputs`.
fn write_output_protecting(output: &Path, bytes: &[u8], inputs: &[Input]) -> Result<(), Failure> {
    write_with_mode(output, bytes, 0o644, inputs)
}

/// Like `write_output`, for a program the build system will run.
fn write_executable(output: &Path, bytes: &[u8]) -> Result<(), Failure> {
    write_with_mode(output, bytes, 0o755, &[])
}

fn write_with_mode(
    output: &Path,
    bytes: &[u8],
    mode: u32,
    inputs: &[Input],
) -> Result<(), Failure> {
    let target = OutputTarget::new(output).with_inputs(inputs);
    crate::atomic_file::write_atomically(&target, bytes, mode, true).map_err(Failure::new)
}

/// `--module`/`--cxz` files as inputs an output must not replace.
fn import_inputs(
    modules: &BTreeMap<String, PathBuf>,
    cxz: &BTreeMap<String, PathBuf>,
) -> Vec<Input> {
    let mut inputs = Vec::new();
    for (name, path) in modules {
        inputs.push(Input::new(path, format!("--module {name}")));
    }
    for (name, path) in cxz {
        inputs.push(Input::new(path, format!("--cxz {name}")));
    }
    inputs
}

/// Reads a file named on the command line, with an error naming it.
fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    fs::read(path).map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))
}

/// A private scratch directory, deleted when dropped: the only place a tool
/// writes besides its output. Named after this process, so a later build
/// sweeps it if the tool is killed (see [`crate::exec::scratch`]).
fn scratch_dir() -> Result<tempfile::TempDir, Failure> {
    crate::exec::scratch::tempdir(crate::exec::scratch::TOOL)
        .map_err(|e| Failure::new(format!("cannot create a scratch directory: {e}")))
}

/// Executor options on a cache inside `scratch`: it lives and dies with
/// the command, so nothing outside the declared output persists (the
/// build system caches, not coex).
fn scratch_exec(scratch: &Path) -> crate::exec::ExecOptions {
    crate::exec::ExecOptions::new(scratch.join("cache"))
}

/// A tool path as an absolute path (Bazel passes execroot-relative ones,
/// and tools run in a scratch directory).
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

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn malformed_specs_are_named() {
        assert!(parse_named_files("--cxz", &strings(&["=x"])).is_err());
        assert!(parse_named_files("--cxz", &strings(&["x="])).is_err());
        let err = parse_named_files("--cxz", &strings(&["x"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --cxz value 'x': expected NAME=FILE"
        );
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
