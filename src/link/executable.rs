//! Running the runtime and link actions outside a program build: the
//! bodies of `coex tool runtime` and `coex tool link`, and
//! [`build_executable`], which the back-end tests use to turn an IR program
//! into an executable. All of them plan the very actions `coex build` plans
//! ([`super::runtime`], [`super::final_link`]) and run them with the
//! executor, so every path gives the same bytes for the same inputs.

use std::path::Path;

use super::final_link::{final_link_spec, LinkInputs, EXECUTABLE};
use super::runtime::{add_runtime_actions, RUNTIME_ACTION, RUNTIME_OBJECT};
use crate::codegen::ir::Program;
use crate::codegen::{compile_program, CodegenError};
use crate::exec::graph::{ActionGraph, GraphError, InputSource};
use crate::exec::{ExecError, ExecOptions, Executor};
use crate::toolchain::{Clang, ToolchainError};

/// Id of the final link action outside a program build.
const LINK_ACTION: &str = "link:program";

/// Why building the runtime or an executable failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Cranelift rejected the IR.
    #[error("code generation failed: {0}")]
    Codegen(#[from] CodegenError),
    /// clang is missing or unusable.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// The planned graph is malformed (a bug, not a user error).
    #[error("invalid action graph: {0}")]
    Graph(#[from] GraphError),
    /// An action failed (its command and stderr are in the text).
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The result was dropped from the cache while the build ran.
    #[error("the output of action '{0}' vanished from the cache during the build; run it again")]
    Vanished(String),
}

/// Runs `graph` and returns the bytes of output `path` of action `id`.
fn run_for_output(
    graph: &ActionGraph,
    exec: &ExecOptions,
    id: &str,
    path: &str,
) -> Result<Vec<u8>, LinkError> {
    let executor = Executor::new(exec);
    let report = executor.run(graph)?;
    report
        .output(id, path)
        .and_then(|d| executor.read_blob(d))
        .ok_or_else(|| LinkError::Vanished(id.to_string()))
}

/// The combined runtime object (`coex_rt.o`): every runtime C file compiled
/// and combined, as in a program build.
pub fn build_runtime(exec: &ExecOptions, clang: &Clang) -> Result<Vec<u8>, LinkError> {
    let mut graph = ActionGraph::new();
    add_runtime_actions(&mut graph, clang)?;
    run_for_output(&graph, exec, RUNTIME_ACTION, RUNTIME_OBJECT)
}

/// Adds the final link of a program object (bytes) to `graph`, with the
/// runtime from `runtime_object` and the unit images (bytes, canonical
/// order) as blobs.
fn add_link(
    graph: &mut ActionGraph,
    clang: &Clang,
    program_object: Vec<u8>,
    runtime_object: InputSource,
    unit_images: Vec<Vec<u8>>,
) -> Result<(), GraphError> {
    let program_object = InputSource::Blob(graph.add_blob(program_object));
    let unit_images = unit_images
        .into_iter()
        .map(|image| InputSource::Blob(graph.add_blob(image)))
        .collect();
    let link = LinkInputs {
        program_object,
        runtime_object,
        unit_images,
    };
    let spec = final_link_spec(graph, LINK_ACTION.to_string(), clang, link);
    graph.add(spec)
}

/// Links an executable from files' bytes: a program object, a runtime
/// object (from [`build_runtime`]) and unit images in the canonical order.
pub fn link_executable(
    exec: &ExecOptions,
    clang: &Clang,
    program_object: Vec<u8>,
    runtime_object: Vec<u8>,
    unit_images: Vec<Vec<u8>>,
) -> Result<Vec<u8>, LinkError> {
    let mut graph = ActionGraph::new();
    let runtime = InputSource::Blob(graph.add_blob(runtime_object));
    add_link(&mut graph, clang, program_object, runtime, unit_images)?;
    run_for_output(&graph, exec, LINK_ACTION, EXECUTABLE)
}

/// An IR program and its unit images (index = `FfiRef::unit`) to an
/// executable's bytes: Cranelift in-process, then the runtime and link
/// actions of a program build, cached in `exec.cache_dir` (share one cache
/// and the runtime is compiled once). `cc` as `--cc` (else `COEX_CC`, else
/// clang on `PATH`).
pub fn build_executable(
    program: &Program,
    unit_images: &[Vec<u8>],
    exec: &ExecOptions,
    cc: Option<&Path>,
) -> Result<Vec<u8>, LinkError> {
    let clang = crate::toolchain::memo::clang(Some(&exec.cache_dir), cc)?;
    let object = compile_program(program)?;
    let mut graph = ActionGraph::new();
    add_runtime_actions(&mut graph, &clang)?;
    let runtime = InputSource::Output {
        action: RUNTIME_ACTION.to_string(),
        path: RUNTIME_OBJECT.to_string(),
    };
    add_link(&mut graph, &clang, object, runtime, unit_images.to_vec())?;
    run_for_output(&graph, exec, LINK_ACTION, EXECUTABLE)
}
