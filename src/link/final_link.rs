//! The final link as one action: the program object, the runtime object
//! and the FFI unit images → the executable.
//!
//! The unit images are embedded by the link itself: a generated assembler
//! file `units.s` pulls image `i` (input `units/unit<i>.so`) in with
//! `.incbin` and defines `coex_ffi_unit_<i>_image` / `_len`, the symbols the
//! program object's unit table refers to (`codegen::embed`). Units are
//! numbered in the canonical order (docs/bazel.md): libraries by import
//! name, units by name; callers pass the images in that order.
//!
//! `coex build` feeds this action from other actions' outputs, `coex tool
//! link` (Bazel) from files given as blobs: one action, the same bytes.

use std::collections::BTreeMap;

use super::argv::final_link_argv;
use super::runtime::RUNTIME_OBJECT;
use crate::codegen::embed::{image_symbol, len_symbol};
use crate::exec::action::{fixed_env, Discover, SCRATCH};
use crate::exec::graph::{ActionGraph, ActionSpec, InputSource};
use crate::toolchain::Clang;

/// The executable's file name inside the link action.
pub const EXECUTABLE: &str = "program";
/// The program object's file name inside the link action.
pub const PROGRAM_OBJECT: &str = "program.o";
/// The linker's dependency file.
const LINK_DEPFILE: &str = "program.ld.d";
/// The generated file embedding the unit images.
const UNITS_ASM: &str = "units.s";

/// Where the final link's input files come from.
#[derive(Debug, Clone)]
pub struct LinkInputs {
    /// The program's object (from codegen).
    pub program_object: InputSource,
    /// The combined runtime object (see `link::runtime`).
    pub runtime_object: InputSource,
    /// Every unit image, in the canonical order: image `i` is unit `i`.
    pub unit_images: Vec<InputSource>,
}

/// Input path of unit `i`'s image inside the link action.
fn unit_image_path(i: usize) -> String {
    format!("units/unit{i}.so")
}

/// The final link action `id` (output [`EXECUTABLE`]); adds the generated
/// `units.s` to `graph` as a blob. The caller adds the action.
pub fn final_link_spec(
    graph: &mut ActionGraph,
    id: String,
    clang: &Clang,
    link: LinkInputs,
) -> ActionSpec {
    let mut inputs = BTreeMap::new();
    inputs.insert(PROGRAM_OBJECT.to_string(), link.program_object);
    inputs.insert(RUNTIME_OBJECT.to_string(), link.runtime_object);
    let count = link.unit_images.len();
    for (i, image) in link.unit_images.into_iter().enumerate() {
        inputs.insert(unit_image_path(i), image);
    }
    let units_asm = if count == 0 {
        None
    } else {
        let blob = graph.add_blob(units_asm(count).into_bytes());
        inputs.insert(UNITS_ASM.to_string(), InputSource::Blob(blob));
        Some(UNITS_ASM)
    };
    let mut argv = final_link_argv(
        &clang.path.to_string_lossy(),
        EXECUTABLE,
        PROGRAM_OBJECT,
        RUNTIME_OBJECT,
        units_asm,
    );
    // Every file the linker reads (crt files, libc, libgc, …) is discovered
    // and its digest checked with the cached result.
    argv.push(format!("-Wl,--dependency-file={LINK_DEPFILE}"));
    let mut env = fixed_env();
    // The assembler's temporary object of units.s stays inside the scratch
    // dir, so no random path outside it reaches the dependency file.
    env.insert("TMPDIR".to_string(), SCRATCH.to_string());
    ActionSpec {
        id,
        argv,
        env,
        inputs,
        outputs: vec![EXECUTABLE.to_string()],
        tool: clang.identity.clone(),
        discover: Some(Discover {
            depfiles: vec![LINK_DEPFILE.to_string()],
            allowed_roots: None,
            search_dirs: Vec::new(),
            preprocess: None,
        }),
    }
}

/// The assembler file embedding `count` images `units/unit<i>.so`.
pub fn units_asm(count: usize) -> String {
    let mut s = String::from("\t.section .rodata\n");
    for (i, index) in (0..count).zip(0u32..) {
        let (img, len, path) = (image_symbol(index), len_symbol(index), unit_image_path(i));
        s.push_str(&format!(
            "\t.globl {img}\n\t.type {img}, @object\n\t.balign 16\n{img}:\n\t.incbin \"{path}\"\n.L{img}_end:\n\t.size {img}, .L{img}_end - {img}\n\
             \t.globl {len}\n\t.type {len}, @object\n\t.balign 8\n{len}:\n\t.quad .L{img}_end - {img}\n\t.size {len}, 8\n"
        ));
    }
    s.push_str("\t.section .note.GNU-stack,\"\",@progbits\n");
    s
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

    #[test]
    fn images_become_numbered_inputs_beside_units_s() {
        let clang = crate::toolchain::find_clang(None).unwrap();
        let mut graph = ActionGraph::new();
        let blob = |g: &mut ActionGraph, b: &[u8]| InputSource::Blob(g.add_blob(b.to_vec()));
        let link = LinkInputs {
            program_object: blob(&mut graph, b"o"),
            runtime_object: blob(&mut graph, b"r"),
            unit_images: vec![blob(&mut graph, b"a"), blob(&mut graph, b"b")],
        };
        let spec = final_link_spec(&mut graph, "link:x".into(), &clang, link);
        let paths: Vec<&str> = spec.inputs.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                RUNTIME_OBJECT,
                PROGRAM_OBJECT,
                "units.s",
                "units/unit0.so",
                "units/unit1.so"
            ]
        );
        assert_eq!(spec.outputs, [EXECUTABLE]);
        let no_units = LinkInputs {
            program_object: blob(&mut graph, b"o"),
            runtime_object: blob(&mut graph, b"r"),
            unit_images: vec![],
        };
        let spec = final_link_spec(&mut graph, "link:y".into(), &clang, no_units);
        assert_eq!(spec.inputs.len(), 2);
        assert!(!spec.argv.iter().any(|a| a == "units.s"));
    }
}
