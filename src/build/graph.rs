//! A program's action graph, exactly the architecture's flow:
//!
//! ```text
//! codegen:<prog>  (coex tool codegen: all Coex code → program.o)
//! compile:<lib>/<unit>/<file.c> → link:<lib>/<unit>   (every FFI unit, ffi_build)
//! runtime:<rt_x.c>  (clang, one per runtime file)
//! link:<prog>  (clang: program.o + rt_*.o + unit images → program)
//! ```
//!
//! The codegen action reads the program's Coex files and, per library, an
//! *interface archive*: the library's `.cxz` with every `ffi/src/` file
//! emptied (manifest and Coex modules unchanged). So editing C code never
//! re-runs Cranelift, and editing Coex code never re-runs clang.
//!
//! Unit embedding happens inside the final link action: a generated
//! assembler file `units.s` pulls each image in with `.incbin` and defines
//! the same `coex_ffi_unit_<i>_image` / `_len` symbols as
//! `codegen::embed`. This keeps the whole build one graph (so `coex plan`
//! shows every step and key) and the embed is cached with the link, which
//! re-runs whenever an image changes anyway. Units are numbered in the
//! canonical order (docs/bazel.md): libraries by import name, units by name.

use std::collections::BTreeMap;

use super::cxz_units::unit_inputs;
use super::program::LoadedProgram;
use crate::codegen::embed::{image_symbol, len_symbol};
use crate::cxz::pack::write_zip;
use crate::cxz::FFI_SRC;
use crate::exec::action::{fixed_env, ToolIdentity};
use crate::exec::graph::{ActionGraph, ActionSpec, InputSource};
use crate::ffi_build::{add_units_to_graph, FfiBuildError, FfiUnitInput, PlannedUnit};
use crate::link::{runtime_compile_argv, LinkPlan, RUNTIME_HEADERS, RUNTIME_SOURCES};
use crate::toolchain::Clang;

/// The executable's file name inside the link action.
pub const EXECUTABLE: &str = "program";
/// The codegen action's object.
pub const PROGRAM_OBJECT: &str = "program.o";

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

/// Why planning failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An FFI unit could not be planned (toolchain, headers, pkg-config).
    #[error(transparent)]
    Ffi(#[from] FfiBuildError),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// The interface archive of a library: `ffi/src/` files emptied.
fn interface_archive(archive: &crate::cxz::CxzArchive) -> Result<Vec<u8>, PlanError> {
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
    write_zip(&files)
        .map_err(|e| PlanError::Other(format!("cannot write an interface archive: {e}")))
}

/// The assembler file embedding `count` images `units/unit<i>.so`.
pub fn units_asm(count: usize) -> String {
    let mut s = String::from("\t.section .rodata\n");
    for i in 0..count {
        let (img, len) = (image_symbol(i as u32), len_symbol(i as u32));
        s.push_str(&format!(
            "\t.globl {img}\n\t.type {img}, @object\n\t.balign 16\n{img}:\n\t.incbin \"units/unit{i}.so\"\n.L{img}_end:\n\t.size {img}, .L{img}_end - {img}\n\
             \t.globl {len}\n\t.type {len}, @object\n\t.balign 8\n{len}:\n\t.quad .L{img}_end - {img}\n\t.size {len}, 8\n"
        ));
    }
    s.push_str("\t.section .note.GNU-stack,\"\",@progbits\n");
    s
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
    let cc = clang.path.to_string_lossy().into_owned();

    // FFI units of every library, in canonical order.
    let mut inputs: Vec<FfiUnitInput> = Vec::new();
    for lib in p.libraries.values() {
        let mut units = unit_inputs(&lib.archive);
        units.sort_by(|a, b| a.unit.cmp(&b.unit));
        inputs.extend(units);
    }
    let units = add_units_to_graph(&mut graph, &inputs, clang)?;

    let codegen = add_codegen(&mut graph, p, &name, coex)?;
    let rt_objects = add_runtime(&mut graph, clang, &cc)?;
    let link = add_link(&mut graph, clang, cc, &name, &codegen, &rt_objects, &units)?;
    Ok(ProgramGraph {
        graph,
        units,
        codegen,
        link,
    })
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
        std::fs::read(path)
            .map_err(|e| PlanError::Other(format!("cannot read {}: {e}", path.display())))
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

/// One clang compile per runtime C file; returns (action id, object).
fn add_runtime(
    graph: &mut ActionGraph,
    clang: &Clang,
    cc: &str,
) -> Result<Vec<(String, String)>, PlanError> {
    let mut headers = BTreeMap::new();
    for (name, text) in RUNTIME_HEADERS {
        let blob = graph.add_blob(text.as_bytes().to_vec());
        headers.insert(name.to_string(), InputSource::Blob(blob));
    }
    let mut rt_objects = Vec::new();
    for (file, text) in RUNTIME_SOURCES {
        let obj = file.replace(".c", ".o");
        let d = graph.add_blob(text.as_bytes().to_vec());
        let id = format!("runtime:{file}");
        add(
            graph,
            ActionSpec {
                id: id.clone(),
                argv: runtime_compile_argv(cc, file, &obj, "."),
                env: fixed_env(),
                inputs: {
                    let mut inputs = headers.clone();
                    inputs.insert(file.to_string(), InputSource::Blob(d));
                    inputs
                },
                outputs: vec![obj.clone()],
                tool: clang.identity.clone(),
                discover: None,
            },
        )?;
        rt_objects.push((id, obj));
    }
    Ok(rt_objects)
}

/// The final link: program object, runtime objects and the unit images
/// (embedded by a generated `units.s`) → [`EXECUTABLE`]. Returns its id.
fn add_link(
    graph: &mut ActionGraph,
    clang: &Clang,
    cc: String,
    name: &str,
    codegen: &str,
    rt_objects: &[(String, String)],
    units: &[PlannedUnit],
) -> Result<String, PlanError> {
    let mut link_inputs = BTreeMap::new();
    link_inputs.insert(
        PROGRAM_OBJECT.to_string(),
        InputSource::Output {
            action: codegen.to_string(),
            path: PROGRAM_OBJECT.into(),
        },
    );
    for (id, obj) in rt_objects {
        link_inputs.insert(
            format!("rt/{obj}"),
            InputSource::Output {
                action: id.clone(),
                path: obj.clone(),
            },
        );
    }
    let mut unit_objects = Vec::new();
    if !units.is_empty() {
        for (i, u) in units.iter().enumerate() {
            link_inputs.insert(
                format!("units/unit{i}.so"),
                InputSource::Output {
                    action: u.link_action.clone(),
                    path: u.image.clone(),
                },
            );
        }
        let d = graph.add_blob(units_asm(units.len()).into_bytes());
        link_inputs.insert("units.s".to_string(), InputSource::Blob(d));
        unit_objects.push("units.s".to_string());
    }
    let plan = LinkPlan {
        cc,
        program_object: PROGRAM_OBJECT.into(),
        runtime_objects: rt_objects.iter().map(|(_, o)| format!("rt/{o}")).collect(),
        unit_objects,
        // Unit images carry their own system libraries (DT_NEEDED).
        system_libs: Vec::new(),
        output: EXECUTABLE.into(),
    };
    let link = format!("link:{name}");
    add(
        graph,
        ActionSpec {
            id: link.clone(),
            argv: plan.argv(),
            env: fixed_env(),
            inputs: link_inputs,
            outputs: vec![EXECUTABLE.into()],
            tool: clang.identity.clone(),
            discover: None,
        },
    )?;
    Ok(link)
}

fn add(graph: &mut ActionGraph, spec: ActionSpec) -> Result<(), PlanError> {
    graph.add(spec).map_err(|e| PlanError::Other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_asm_defines_the_embed_symbols() {
        let s = units_asm(2);
        for i in 0..2u32 {
            assert!(s.contains(&format!("{}:\n", image_symbol(i))));
            assert!(s.contains(&format!("{}:\n", len_symbol(i))));
            assert!(s.contains(&format!(".incbin \"units/unit{i}.so\"")));
        }
        assert_eq!(units_asm(0).lines().count(), 2);
    }
}
