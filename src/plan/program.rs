//! A Coex program from its main file to a checked, lowered whole: the
//! front end's diagnostics, the bridge to the back end's IR, the modules
//! and libraries it uses (what the program's action graph needs), and the
//! body of `coex tool codegen`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::resolver::{CxzResolver, Lookup, ResolvedLibrary};
use crate::bridge::{lower_program, FfiLayout};
use crate::codegen::ir;
use crate::lang::loader::UnitOrigin;
use crate::lang::{self, Diagnostic};

/// Why a program could not be compiled, worded for the user.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// The source has errors: the rendered diagnostics (with the closing
    /// `error: could not compile …` line).
    #[error("{0}")]
    Diagnostics(String),
    /// Anything else (unreadable file, codegen refusal), after `error: `.
    #[error("error: {0}")]
    Other(String),
}

/// A checked and lowered program with everything its build reads.
#[derive(Debug, Clone)]
pub struct LoadedProgram {
    /// The main file as given.
    pub main: PathBuf,
    /// Modules imported by name (`import util`): name → file on disk.
    pub modules: BTreeMap<String, PathBuf>,
    /// Libraries by import name.
    pub libraries: BTreeMap<String, ResolvedLibrary>,
    /// The canonical FFI unit layout of those libraries.
    pub ffi: FfiLayout,
    /// The back end's input.
    pub ir: ir::Program,
    /// Warnings (rendered), empty if none.
    pub warnings: String,
    /// Lines of Coex source read (program and library modules).
    pub lines: usize,
}

fn render(prog: &lang::CheckedProgram, diags: &[Diagnostic], file: &Path) -> String {
    let mut text = lang::render_text(&prog.sources, diags);
    if let Some(summary) = lang::error_summary(diags, "compile", file) {
        text.push_str(&summary);
    }
    text
}

/// Checks and lowers the program whose main file is `main`, finding
/// libraries with `lookup`. Module imports are found beside the importing
/// file (then in `./lib` there), as `coex check` does.
/// `cache_dir` is the cache whose memo opens unchanged archives quickly.
pub fn load_program(
    main: &Path,
    lookup: Lookup,
    cache_dir: Option<&Path>,
) -> Result<LoadedProgram, ProgramError> {
    load_program_in(Path::new(""), main, lookup, cache_dir)
}

/// [`load_program`] for a program copied under `root`: `main` and every
/// program file named in diagnostics and in the result are relative to it.
fn load_program_in(
    root: &Path,
    main: &Path,
    lookup: Lookup,
    cache_dir: Option<&Path>,
) -> Result<LoadedProgram, ProgramError> {
    let resolver = CxzResolver::with_cache(lookup, cache_dir);
    let worded = |e: &dyn std::error::Error| ProgramError::Diagnostics(format!("error: {e}"));
    resolver.open_all_fixed().map_err(|e| worded(&e))?;
    let (prog, diags) = lang::check_file_in(root, main, &resolver).map_err(|e| worded(&e))?;
    if lang::has_errors(&diags) {
        return Err(ProgramError::Diagnostics(render(&prog, &diags, main)));
    }
    let warnings = if diags.is_empty() {
        String::new()
    } else {
        render(&prog, &diags, main)
    };
    let ffi = resolver.ffi_layout();
    let ir = lower_program(&prog, &ffi)
        .map_err(|d| ProgramError::Diagnostics(render(&prog, &d, main)))?;
    let mut modules: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (i, unit) in prog.units.iter().enumerate() {
        let UnitOrigin::Program { path } = &unit.origin else {
            continue;
        };
        if i == prog.entry.0 as usize {
            continue;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(prev) = modules.insert(name.clone(), path.clone()) {
            return Err(ProgramError::Other(format!(
                "two different modules are both imported as '{name}': {} and {}\n\n\
                 A program's module names must be unique (one build action compiles them together); rename one.",
                prev.display(),
                path.display()
            )));
        }
    }
    let lines = prog
        .sources
        .files()
        .iter()
        .map(|f| f.text.lines().count())
        .sum();
    Ok(LoadedProgram {
        main: main.to_path_buf(),
        modules,
        libraries: resolver.libraries(),
        ffi,
        ir,
        warnings,
        lines,
    })
}

/// Compiles a loaded program's IR to object bytes (Cranelift).
pub fn compile_object(program: &LoadedProgram) -> Result<Vec<u8>, ProgramError> {
    crate::codegen::compile_program(&program.ir)
        .map_err(|e| ProgramError::Other(format!("code generation failed: {e}")))
}

/// The body of `coex tool codegen`: the main file, the modules it imports
/// by name and the libraries by import name → object bytes. The sources
/// are copied into a private directory laid out flat (`NAME.coex` beside
/// the main file) so `import NAME` finds exactly the given file, and
/// loaded relative to it, so diagnostics name `main.coex` and `NAME.coex`
/// and never the directory; no path reaches the object either (runtime
/// errors name files by file name).
pub fn codegen_tool(
    main: &Path,
    modules: &BTreeMap<String, PathBuf>,
    cxz: &BTreeMap<String, PathBuf>,
) -> Result<Vec<u8>, ProgramError> {
    let io = |what: &Path, e: std::io::Error| {
        ProgramError::Other(format!("cannot read {}: {e}", what.display()))
    };
    let scratch = crate::exec::scratch::tempdir(crate::exec::scratch::CODEGEN)
        .map_err(|e| ProgramError::Other(format!("cannot create a scratch directory: {e}")))?;
    let main_name = main
        .file_name()
        .ok_or_else(|| ProgramError::Other(format!("--main {} names no file", main.display())))?;
    let copied_main = scratch.path().join(main_name);
    std::fs::copy(main, &copied_main).map_err(|e| io(main, e))?;
    for (name, file) in modules {
        let to = scratch.path().join(format!("{name}.coex"));
        if to == copied_main {
            return Err(ProgramError::Other(format!(
                "--module {name} has the main file's name"
            )));
        }
        std::fs::copy(file, &to).map_err(|e| io(file, e))?;
    }
    let cwd = std::env::current_dir()
        .map_err(|e| ProgramError::Other(format!("cannot read the current directory: {e}")))?;
    let cxz: BTreeMap<String, PathBuf> = cxz
        .iter()
        .map(|(n, p)| {
            (
                n.clone(),
                if p.is_absolute() {
                    p.clone()
                } else {
                    cwd.join(p)
                },
            )
        })
        .collect();
    let loaded = load_program_in(
        scratch.path(),
        Path::new(main_name),
        Lookup::Fixed(cxz),
        None,
    )?;
    compile_object(&loaded)
}
