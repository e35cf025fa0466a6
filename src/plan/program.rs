//! A Coex program from its main file to a checked, lowered whole: the
//! front end's diagnostics, the bridge to the back end's IR, the modules
//! and libraries it uses (what the program's action graph needs), and the
//! body of `coex tool codegen`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::resolver::{CxzResolver, Lookup, ResolvedLibrary};
use crate::bridge::{lower_program, FfiLayout};
use crate::codegen::ir;
use crate::lang;
use crate::lang::loader::UnitOrigin;

pub use super::program_error::{ProgramDiagnostics, ProgramError};

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
    /// The front end's warnings, if any (the CLI prints them).
    pub warnings: Option<ProgramDiagnostics>,
    /// Lines of Coex source read (program and library modules).
    pub lines: usize,
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
    resolver.open_all_fixed()?;
    let (prog, diags) = lang::check_file_in(root, main, &resolver)?;
    if lang::has_errors(&diags) {
        return Err(ProgramError::diagnostics(prog.sources, diags, main));
    }
    let warnings = (!diags.is_empty()).then(|| ProgramDiagnostics {
        sources: prog.sources.clone(),
        diagnostics: diags,
        main: main.to_path_buf(),
    });
    let ffi = resolver.ffi_layout();
    let ir = match lower_program(&prog, &ffi) {
        Ok(ir) => ir,
        Err(d) => return Err(ProgramError::diagnostics(prog.sources, d, main)),
    };
    let modules = program_modules(&prog)?;
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

/// The program's modules imported by name (`import util`): name → file.
/// Names must be unique: the codegen action is given them by name.
fn program_modules(prog: &lang::CheckedProgram) -> Result<BTreeMap<String, PathBuf>, ProgramError> {
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
        if let Some(first) = modules.insert(name.clone(), path.clone()) {
            return Err(ProgramError::ModuleNameClash {
                name,
                first,
                second: path.clone(),
            });
        }
    }
    Ok(modules)
}

/// Compiles a loaded program's IR to object bytes (Cranelift).
pub fn compile_object(program: &LoadedProgram) -> Result<Vec<u8>, ProgramError> {
    crate::codegen::compile_program(&program.ir).map_err(ProgramError::Codegen)
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
    let io = |what: &Path, source| ProgramError::Unreadable {
        path: what.to_path_buf(),
        source,
    };
    let scratch = crate::exec::scratch::tempdir(crate::exec::scratch::CODEGEN)
        .map_err(ProgramError::Scratch)?;
    let main_name = main
        .file_name()
        .ok_or_else(|| ProgramError::MainNamesNoFile {
            main: main.to_path_buf(),
        })?;
    let copied_main = scratch.path().join(main_name);
    std::fs::copy(main, &copied_main).map_err(|e| io(main, e))?;
    for (name, file) in modules {
        let to = scratch.path().join(format!("{name}.coex"));
        if to == copied_main {
            return Err(ProgramError::ModuleNamedLikeMain { name: name.clone() });
        }
        std::fs::copy(file, &to).map_err(|e| io(file, e))?;
    }
    let cwd = std::env::current_dir().map_err(ProgramError::CurrentDir)?;
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
