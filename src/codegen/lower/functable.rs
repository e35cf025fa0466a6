//! `coex_func_table` / `coex_func_count`: where each generated function
//! starts and which Coex function it is, so the runtime's crash handler can
//! say which func a stack overflow or a crash happened in
//! (runtime/rt_crash.c). Entries follow definition order, which is address
//! order (cranelift-object appends each function to one `.text`); the last
//! entry is an empty marker function defined after everything else, whose
//! start is the end of the generated code.

use std::collections::BTreeMap;

use cranelift_codegen::ir::{InstBuilder, Signature};
use cranelift_module::{DataDescription, FuncId, Linkage, Module};

use super::{to_u32, PendingTask, ProgramLowering};
use crate::codegen::ir::{FuncKind, Function, Program};
use crate::codegen::CodegenError;

/// How a crash message names function `f`: "func 'f'", "task 'f'", ….
pub(crate) fn describe(f: &Function) -> String {
    let kind = match f.kind {
        FuncKind::Func => "func",
        FuncKind::Formula => "formula",
        FuncKind::Task => "task",
    };
    format!("{kind} '{}'", f.name)
}

/// The names of the program's functions, by their Cranelift ids.
pub(crate) fn program_names(program: &Program, ids: &[FuncId]) -> BTreeMap<FuncId, String> {
    ids.iter()
        .zip(&program.functions)
        .map(|(id, f)| (*id, describe(f)))
        .collect()
}

fn module_err(e: impl std::fmt::Display) -> CodegenError {
    CodegenError::Module(e.to_string())
}

impl ProgramLowering<'_> {
    /// Names an outlined `task for` body after the function it is in.
    pub(crate) fn name_task_body(&mut self, task: &PendingTask) {
        let parent = describe(&self.program.functions[task.parent]);
        self.func_names
            .insert(task.id, format!("the task for body in {parent}"));
    }

    /// Defines the end marker, then the table of every defined function:
    /// 16 bytes per entry, {start address, name or NULL}.
    pub(crate) fn define_func_table(&mut self) -> Result<(), CodegenError> {
        let sig = Signature::new(self.m.call_conv);
        let end = self
            .m
            .module
            .declare_function("coex_text_end", Linkage::Local, &sig)
            .map_err(module_err)?;
        self.build_function(end, sig, |m, _shared, mut b| {
            let block = b.create_block();
            b.switch_to_block(block);
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize(m.module.target_config());
            Ok(())
        })?;

        let table = self
            .m
            .module
            .declare_data("coex_func_table", Linkage::Export, false, false)
            .map_err(module_err)?;
        let mut desc = DataDescription::new();
        desc.define(vec![0u8; 16 * self.defined.len()].into_boxed_slice());
        desc.set_align(8);
        for (i, id) in self.defined.clone().into_iter().enumerate() {
            let base = to_u32(i * 16, "bytes of the function table")?;
            let fref = self.m.module.declare_func_in_data(id, &mut desc);
            desc.write_function_addr(base, fref);
            if let Some(name) = self.func_names.get(&id).cloned() {
                let text = self.m.c_bytes(name.as_bytes())?;
                let gv = self.m.module.declare_data_in_data(text, &mut desc);
                desc.write_data_addr(base + 8, gv, 0);
            }
        }
        self.m
            .module
            .define_data(table, &desc)
            .map_err(module_err)?;

        let count = self
            .m
            .module
            .declare_data("coex_func_count", Linkage::Export, false, false)
            .map_err(module_err)?;
        let mut desc = DataDescription::new();
        let n = self.defined.len() as i64;
        desc.define(n.to_le_bytes().to_vec().into_boxed_slice());
        desc.set_align(8);
        self.m
            .module
            .define_data(count, &desc)
            .map_err(module_err)?;
        Ok(())
    }
}
