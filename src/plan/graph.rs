//! A program's action graph, exactly the architecture's flow:
//!
//! ```text
//! codegen:<prog>  (coex tool codegen: all Coex code → program.o)
//! compile:<lib>/<unit>/<file.c> → link:<lib>/<unit>   (every FFI unit, ffi_build)
//! runtime:<rt_x.c> → runtime:coex_rt.o   (clang per runtime file, clang -r)
//! link:<prog>  (clang: program.o + coex_rt.o + unit images → program)
//! ```
//!
//! The codegen action reads the program's Coex files and, per library, an
//! *interface archive*: the library's `.cxz` with every `ffi/src/` file
//! emptied (manifest and Coex modules unchanged). So editing C code never
//! re-runs Cranelift, and editing Coex code never re-runs clang.
//!
//! The runtime and final link actions come from `crate::link` and the unit
//! actions from `crate::ffi_build`: the same actions the `coex tool`
//! subcommands of the Bazel rules run, so both give the same executable.
//! Units are numbered in the canonical order (docs/bazel.md, the program's
//! [`crate::bridge::FfiLayout`]): libraries by import name, units by
//! name.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::cxz_units::{unit_input_of, UndeclaredUnit};
use super::program::LoadedProgram;
use crate::cxz::pack::write_zip;
use crate::cxz::FFI_SRC;
use crate::exec::action::{fixed_env, ToolIdentity};
use crate::exec::graph::{ActionGraph, ActionSpec, GraphError, InputSource};
use crate::ffi_build::{add_units_to_graph, FfiBuildError, FfiUnitInput, PlannedUnit};
use crate::link::{
    add_runtime_actions, final_link_spec, LinkInputs, PROGRAM_OBJECT, RUNTIME_ACTION,
    RUNTIME_OBJECT,
};
use crate::toolchain::Clang;

pub use crate::link::EXECUTABLE;

/// The planned graph and where its parts are.
#[derive(Debug, Clone)]
pub struct ProgramGraph {
    /// Every action.
    pub graph: ActionGraph,
    /// The FFI units (for worded compile/link failures).
    pub units: Vec<PlannedUnit>,
    /// Id of the codegen action.
    pub codegen: String,
    /// Id of the final link action (output [`EXECUTABLE`]).
    pub link: String,
}

/// Why planning failed, one variant per cause so callers (and tests) can
/// tell a user's mistake from a planner bug without reading the text.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An FFI unit could not be planned (toolchain, headers, pkg-config).
    #[error(transparent)]
    Ffi(#[from] FfiBuildError),
    /// The graph refused an action (duplicate id, bad path): a planner bug,
    /// reported rather than hidden.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The FFI layout names a library the resolver never opened: the layout
    /// and the loaded libraries disagree (a bug).
    #[error("library '{import_name}' is in the FFI layout but was not loaded")]
    LibraryNotLoaded {
        /// The library's import name.
        import_name: String,
    },
    /// A unit of the layout is not declared by its archive.
    #[error(transparent)]
    UndeclaredUnit(#[from] UndeclaredUnit),
    /// A program file changed or vanished between loading and planning.
    #[error("cannot read {}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A library's interface archive could not be written.
    #[error(transparent)]
    InterfaceArchive(#[from] InterfaceArchiveError),
}

/// The ZIP writer refused a library's interface archive; its own error is
/// text (`crate::cxz::pack::write_zip`), kept as the problem.
#[derive(Debug, thiserror::Error)]
#[error("cannot write an interface archive: {problem}")]
pub struct InterfaceArchiveError {
    /// What the ZIP writer said.
    pub problem: String,
}

/// The interface archive of a library: `ffi/src/` files emptied (what
/// codegen reads; `coex tool interface` writes the same bytes).
pub fn interface_archive(
    archive: &crate::cxz::CxzArchive,
) -> Result<Vec<u8>, InterfaceArchiveError> {
    let files: BTreeMap<String, Vec<u8>> = archive
        .files
        .iter()
        .map(|(p, b)| {
            let bytes = if p.starts_with(FFI_SRC) {
                Vec::new()
            } else {
                b.clone()
            };
            (p.clone(), bytes)
        })
        .collect();
    write_zip(&files).map_err(|problem| InterfaceArchiveError { problem })
}

/// A short name for the program in action ids (`codegen:app`).
fn program_name(p: &LoadedProgram) -> String {
    p.main
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".into())
}

/// Plans the whole build of `p`. `coex` is argv[0] and identity of the
/// codegen action (this very binary).
pub fn plan_program(
    p: &LoadedProgram,
    clang: &Clang,
    coex: (String, ToolIdentity),
) -> Result<ProgramGraph, PlanError> {
    let mut graph = ActionGraph::new();
    let name = program_name(p);
    let units = add_units_to_graph(&mut graph, &unit_inputs_in_order(p)?, clang)?;
    let codegen = add_codegen(&mut graph, p, &name, coex)?;
    add_runtime_actions(&mut graph, clang)?;
    let link = format!("link:{name}");
    let inputs = LinkInputs {
        program_object: output_of(&codegen, PROGRAM_OBJECT),
        runtime_object: output_of(RUNTIME_ACTION, RUNTIME_OBJECT),
        unit_images: units
            .iter()
            .map(|u| output_of(&u.link_action, &u.image))
            .collect(),
    };
    let spec = final_link_spec(&mut graph, link.clone(), clang, inputs);
    add(&mut graph, spec)?;
    Ok(ProgramGraph {
        graph,
        units,
        codegen,
        link,
    })
}

/// Output `path` of action `action` as an input.
fn output_of(action: &str, path: &str) -> InputSource {
    InputSource::Output {
        action: action.to_string(),
        path: path.to_string(),
    }
}

/// Every FFI unit of every library in the canonical order of the program's
/// layout (the order codegen numbers them in).
fn unit_inputs_in_order(p: &LoadedProgram) -> Result<Vec<FfiUnitInput>, PlanError> {
    let mut inputs = Vec::new();
    for (_, library, unit) in p.ffi.units() {
        let lib =
            p.libraries
                .get(&library.import_name)
                .ok_or_else(|| PlanError::LibraryNotLoaded {
                    import_name: library.import_name.clone(),
                })?;
        let display = lib.path.display().to_string();
        let input = unit_input_of(&lib.archive, &unit.unit, &display)?;
        inputs.push(input);
    }
    Ok(inputs)
}

/// The codegen action: the program's Coex files and every library's
/// interface archive → [`PROGRAM_OBJECT`]. Returns its id.
fn add_codegen(
    graph: &mut ActionGraph,
    p: &LoadedProgram,
    name: &str,
    coex: (String, ToolIdentity),
) -> Result<String, PlanError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| PlanError::Unreadable {
            path: path.to_path_buf(),
            source,
        })
    };
    let main_file = p
        .main
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "main.coex".into());
    let mut cg_inputs = BTreeMap::new();
    let mut argv = vec![coex.0, "tool".into(), "codegen".into(), "--main".into()];
    argv.push(format!("coex/{main_file}"));
    let d = graph.add_blob(read(&p.main)?);
    cg_inputs.insert(format!("coex/{main_file}"), InputSource::Blob(d));
    for (m, path) in &p.modules {
        let rel = format!("coex/modules/{m}.coex");
        let d = graph.add_blob(read(path)?);
        cg_inputs.insert(rel.clone(), InputSource::Blob(d));
        argv.extend(["--module".to_string(), format!("{m}={rel}")]);
    }
    for (import, lib) in &p.libraries {
        let rel = format!("cxz/{import}.cxz");
        let d = graph.add_blob(interface_archive(&lib.archive)?);
        cg_inputs.insert(rel.clone(), InputSource::Blob(d));
        argv.extend(["--cxz".to_string(), format!("{import}={rel}")]);
    }
    argv.extend(["-o".to_string(), PROGRAM_OBJECT.to_string()]);
    let codegen = format!("codegen:{name}");
    add(
        graph,
        ActionSpec {
            id: codegen.clone(),
            argv,
            env: fixed_env(),
            inputs: cg_inputs,
            outputs: vec![PROGRAM_OBJECT.into()],
            tool: coex.1,
            discover: None,
        },
    )?;
    Ok(codegen)
}

fn add(graph: &mut ActionGraph, spec: ActionSpec) -> Result<(), PlanError> {
    Ok(graph.add(spec)?)
}
