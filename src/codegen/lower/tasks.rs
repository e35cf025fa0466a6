//! `task for`, `yield`, and the outlined task-body functions.
//!
//! A `task for` body becomes its own function
//! `void body(int64_t* env, int64_t item, void* ctx)`. The parent stores a
//! snapshot of all its locals in `env` (lists marked shared, so a task's
//! appends copy), the runtime runs the body once per item on its thread pool
//! with a fresh FFI scope, and the body starts by loading its locals from the
//! snapshot: tasks see the parent's variables as copies and their
//! assignments never reach the parent.

use cranelift_codegen::ir::{
    types, AbiParam, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind,
};
use cranelift_module::{Linkage, Module};

use super::{cl_type, slot_offset, slots_size, FnLowerer, PendingTask, ProgramLowering, ScopeKind};
use crate::codegen::ir::{Expr, LocalId, Stmt, Type};
use crate::codegen::runtime_abi::RtFn;
use crate::codegen::CodegenError;

/// `void body(int64_t* env, int64_t item, void* ctx)`.
fn task_body_signature(cc: cranelift_codegen::isa::CallConv) -> Signature {
    let mut sig = Signature::new(cc);
    for _ in 0..3 {
        sig.params.push(AbiParam::new(types::I64));
    }
    sig
}

impl FnLowerer<'_, '_> {
    pub(crate) fn lower_task_for(
        &mut self,
        var: LocalId,
        items: &Expr,
        body: &[Stmt],
        result: Option<LocalId>,
    ) -> Result<(), CodegenError> {
        if !items.ty.is_list() {
            return Err(self.bad("task for over a non-list"));
        }
        self.var(var)?;
        let items_v = self.lower_borrowed(items)?;
        let locals = &self.func().locals;
        let env = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            slots_size(locals.len())?,
            3,
        ));
        for (i, local) in locals.iter().enumerate() {
            if cl_type(&local.ty).is_none() {
                continue;
            }
            let v = self.b.use_var(self.vars[i]);
            let v = self.share_local(v, &local.ty)?;
            let s = self.slot_of(v, &local.ty);
            self.b
                .ins()
                .stack_store(types::I64, s, env, slot_offset(i)?);
        }
        let n = *self.shared.task_count;
        *self.shared.task_count += 1;
        let id = self
            .m
            .module
            .declare_function(
                &format!("coex_task{n}"),
                Linkage::Local,
                &task_body_signature(self.m.call_conv),
            )
            .map_err(|e| CodegenError::Module(e.to_string()))?;
        self.shared.pending_tasks.push(PendingTask {
            parent: self.func_index,
            id,
            var,
            body: body.to_vec(),
            under_within: self.checks_on(),
        });
        let fref = self.m.module.declare_func_in_func(id, self.b.func);
        let body_addr = self.b.ins().func_addr(types::I64, fref);
        let env_addr = self.b.ins().stack_addr(types::I64, env, 0);
        // Without a result the yields are dropped: any 8-byte kind the
        // collector scans will do (strings: scanned, never marked).
        let kind = match result.map(|r| self.local_ty(r)).transpose()? {
            Some(Type::List(elem)) => super::places::slot_kind(self.shared.program, elem),
            _ => 2,
        };
        let kind = self.b.ins().iconst(types::I64, kind);
        let results = self.rt_val(RtFn::TaskFor, &[items_v, body_addr, env_addr, kind])?;
        // Iterations cut short by a deadline: the runtime starts unwinding.
        self.deadline_check()?;
        if let Some(r) = result {
            let rv = self.var(r)?;
            self.b.def_var(rv, results);
        }
        Ok(())
    }

    pub(crate) fn lower_yield(&mut self, e: &Expr) -> Result<(), CodegenError> {
        let ctx = self
            .task_ctx
            .ok_or_else(|| self.bad("yield outside a task for body"))?;
        let v = self.lower_value(e)?;
        let s = self.slot_of(v, &e.ty);
        self.rt(RtFn::TaskYield, &[ctx, s])?;
        Ok(())
    }
}

impl ProgramLowering<'_> {
    /// Define an outlined task-for body.
    pub(crate) fn lower_task_body(&mut self, task: &PendingTask) -> Result<(), CodegenError> {
        let sig = task_body_signature(self.m.call_conv);
        self.build_function(task.id, sig, |m, shared, b| {
            let mut l = FnLowerer::new(m, shared, b, task.parent, ScopeKind::None)?;
            let entry = l.b.create_block();
            l.b.append_block_params_for_function_params(entry);
            l.b.switch_to_block(entry);
            let params = l.b.block_params(entry).to_vec();
            let (env, item, ctx) = (params[0], params[1], params[2]);
            let locals = &l.func().locals;
            for (i, local) in locals.iter().enumerate() {
                let v = if cl_type(&local.ty).is_some() {
                    let s =
                        l.b.ins()
                            .load(types::I64, MemFlagsData::trusted(), env, slot_offset(i)?);
                    l.value_of_slot(s, &local.ty)
                } else {
                    l.zero(&Type::Void)
                };
                l.b.def_var(l.vars[i], v);
            }
            let var_ty = l.local_ty(task.var)?.clone();
            let item_v = l.value_of_slot(item, &var_ty);
            let item_v = l.share_value(item_v, &var_ty)?;
            let var = l.var(task.var)?;
            l.b.def_var(var, item_v);
            l.task_ctx = Some(ctx);
            l.entry_check(task.under_within)?;
            l.lower_block(&task.body)?;
            l.finish_body()
        })
    }
}
