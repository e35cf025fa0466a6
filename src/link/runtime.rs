//! The C runtime as actions: one clang compile per runtime C file, then one
//! combine (`clang -r`) into [`RUNTIME_OBJECT`]. `coex build` adds these to
//! its program graph, `coex tool runtime` (Bazel) runs them on their own:
//! the same actions, so every program links the same runtime bytes.

use std::collections::BTreeMap;

use super::argv::{runtime_combine_argv, runtime_compile_argv, RUNTIME_HEADERS, RUNTIME_SOURCES};
use crate::exec::action::{fixed_env, Discover};
use crate::exec::graph::{ActionGraph, ActionSpec, GraphError, InputSource};
use crate::toolchain::Clang;

/// The combined runtime object, output of [`RUNTIME_ACTION`].
pub const RUNTIME_OBJECT: &str = "coex_rt.o";
/// Id of the action combining the runtime objects.
pub const RUNTIME_ACTION: &str = "runtime:coex_rt.o";

/// Adds the runtime's compile actions and its combine action to `graph`.
/// The runtime is then output [`RUNTIME_OBJECT`] of [`RUNTIME_ACTION`].
pub fn add_runtime_actions(graph: &mut ActionGraph, clang: &Clang) -> Result<(), GraphError> {
    let mut headers = BTreeMap::new();
    for (name, text) in RUNTIME_HEADERS {
        let blob = graph.add_blob(text.as_bytes().to_vec());
        headers.insert(name.to_string(), InputSource::Blob(blob));
    }
    let mut objects = Vec::new();
    for (file, text) in RUNTIME_SOURCES {
        let source = InputSource::Blob(graph.add_blob(text.as_bytes().to_vec()));
        let spec = runtime_compile_spec(clang, file, source, &headers);
        objects.push((spec.id.clone(), spec.outputs.clone()));
        graph.add(spec)?;
    }
    graph.add(runtime_combine_spec(clang, &objects))
}

/// The compile of one runtime C file `file` (bytes from `source`), with
/// every runtime header beside it; output `<file stem>.o`.
fn runtime_compile_spec(
    clang: &Clang,
    file: &str,
    source: InputSource,
    headers: &BTreeMap<String, InputSource>,
) -> ActionSpec {
    let object = file.replace(".c", ".o");
    let cc = clang.path.to_string_lossy();
    let mut inputs = headers.clone();
    inputs.insert(file.to_string(), source);
    // The system headers it reads (gc.h, pthread.h, …) are discovered.
    let depfile = format!("{object}.d");
    let mut argv = runtime_compile_argv(&cc, file, &object, ".");
    argv.extend(["-MD".to_string(), "-MF".to_string(), depfile.clone()]);
    ActionSpec {
        id: format!("runtime:{file}"),
        argv,
        env: fixed_env(),
        inputs,
        outputs: vec![object],
        tool: clang.identity.clone(),
        discover: Some(Discover {
            depfiles: vec![depfile],
            allowed_roots: Some(clang.readable_roots(&[])),
            search_dirs: clang.search_dirs(&[]),
            preprocess: None,
        }),
    }
}

/// The combine: every compile's object (under `rt/`, in source order) →
/// [`RUNTIME_OBJECT`].
fn runtime_combine_spec(clang: &Clang, compiles: &[(String, Vec<String>)]) -> ActionSpec {
    let mut inputs = BTreeMap::new();
    let mut objects = Vec::new();
    for (action, outputs) in compiles {
        for output in outputs {
            let rel = format!("rt/{output}");
            inputs.insert(
                rel.clone(),
                InputSource::Output {
                    action: action.clone(),
                    path: output.clone(),
                },
            );
            objects.push(rel);
        }
    }
    ActionSpec {
        id: RUNTIME_ACTION.to_string(),
        argv: runtime_combine_argv(&clang.path.to_string_lossy(), RUNTIME_OBJECT, &objects),
        env: fixed_env(),
        inputs,
        outputs: vec![RUNTIME_OBJECT.to_string()],
        tool: clang.identity.clone(),
        discover: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn one_compile_per_file_and_one_combine_of_them_all() {
        let mut graph = ActionGraph::new();
        let clang = crate::toolchain::find_clang(None).unwrap();
        add_runtime_actions(&mut graph, &clang).unwrap();
        graph.validate().unwrap();
        assert_eq!(graph.actions().len(), RUNTIME_SOURCES.len() + 1);
        let combine = graph.get(RUNTIME_ACTION).unwrap();
        assert_eq!(combine.outputs, [RUNTIME_OBJECT]);
        assert_eq!(combine.dependencies().len(), RUNTIME_SOURCES.len());
        assert_eq!(
            &combine.argv[1..5],
            ["-r", "-nostdlib", "-o", RUNTIME_OBJECT]
        );
        assert_eq!(combine.argv[5], "rt/rt_alloc.o");
    }
}
