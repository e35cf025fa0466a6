//! Lowering the IR to Cranelift: one `FnLowerer` per function body, with one
//! method per construct spread over files by concern (`exprs`, `stmts`,
//! `calls`, `tasks`, `ffi`). This file holds the program driver (declaring
//! every function, the `coex_main` entry, the FFI unit table) and the shared
//! lowering state.

mod calls;
mod deadlines;
mod exprs;
mod ffi;
mod functable;
mod places;
mod scopes;
mod stmts;
mod tasks;
mod unit_table;

use cranelift_codegen::ir::{
    self, types, AbiParam, Block, InstBuilder, MemFlagsData, Signature, Value,
};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_module::{FuncId, Linkage, Module};

use super::embed;
use super::ir::{FuncKind, Function, Program, Stmt, Type};
use super::object::{emit, new_object_module, ModuleCtx};
use super::runtime_abi::RtFn;
use super::CodegenError;

/// Compile a whole program to one object file (deterministic bytes).
///
/// The object defines `coex_main` (called by the runtime's `main`),
/// `coex_ffi_unit_table` and `coex_ffi_unit_count`, and imports the runtime
/// functions of [`RtFn`], bare externs by their C names, and one
/// `coex_ffi_unit_<i>_image`/`_len` pair per FFI unit (see [`embed`]).
///
/// The last reads of list and record locals become moves first
/// ([`super::moves`]).
pub fn compile_program(program: &Program) -> Result<Vec<u8>, CodegenError> {
    let program = &super::moves::with_moves(program);
    let module = new_object_module("coex_program")?;
    let mut pl = ProgramLowering::new(program, ModuleCtx::new(module))?;
    pl.lower_all()?;
    pl.define_trampolines()?;
    pl.define_entry()?;
    pl.define_unit_table()?;
    pl.define_func_table()?;
    emit(pl.m.module)
}

/// A task-for body waiting to be lowered as its own function.
pub(crate) struct PendingTask {
    /// Function the body belongs to (its locals are the body's locals).
    pub parent: usize,
    /// The outlined function's id.
    pub id: FuncId,
    /// Loop variable.
    pub var: super::ir::LocalId,
    /// Body.
    pub body: Vec<Stmt>,
    /// The body may run under a `within` deadline (check points).
    pub under_within: bool,
}

/// Program-wide lowering state.
pub(crate) struct ProgramLowering<'p> {
    pub program: &'p Program,
    pub m: ModuleCtx,
    /// Cranelift ids of the program's functions, by [`super::ir::FuncId`].
    pub funcs: Vec<FuncId>,
    /// Whether each function must open an FFI scope (a func that may reach an
    /// FFI extern without passing through a task).
    pub needs_scope: Vec<bool>,
    /// Whether each function may run under a `within` deadline.
    pub under_within: Vec<bool>,
    /// Bare externs declared so far, by extern index.
    pub bare_externs: Vec<Option<FuncId>>,
    /// FFI trampolines declared so far, by extern index.
    pub trampolines: Vec<Option<FuncId>>,
    pub pending_tasks: Vec<PendingTask>,
    pub task_count: u32,
    /// Every function defined so far, in definition (= address) order.
    pub defined: Vec<FuncId>,
    /// What crash messages call a defined function ("func 'f'"); glue
    /// (trampolines, `coex_main`) has none.
    pub func_names: std::collections::BTreeMap<FuncId, String>,
    ctx: Context,
    fctx: FunctionBuilderContext,
}

/// The Cranelift type holding a Coex value (`None` for void).
pub(crate) fn cl_type(ty: &Type) -> Option<ir::Type> {
    match ty {
        Type::Int | Type::Str | Type::List(_) | Type::Record(_) => Some(types::I64),
        Type::Float => Some(types::F64),
        Type::Bool => Some(types::I8),
        Type::Void => None,
    }
}

/// Byte offset of 8-byte slot `i` (a record field, a frame or argument
/// slot) as a Cranelift immediate: checked, so a record or frame too large
/// for a 32-bit offset is an error instead of a wrapped offset.
pub(crate) fn slot_offset(i: usize) -> Result<i32, CodegenError> {
    i.checked_mul(8)
        .and_then(|o| i32::try_from(o).ok())
        .ok_or_else(|| too_many("8-byte slots in one record or frame", i))
}

/// Byte size of `n` 8-byte slots (at least one) as a Cranelift stack-slot
/// size: checked like [`slot_offset`].
pub(crate) fn slots_size(n: usize) -> Result<u32, CodegenError> {
    n.max(1)
        .checked_mul(8)
        .and_then(|s| u32::try_from(s).ok())
        .ok_or_else(|| too_many("8-byte slots in one frame", n))
}

/// `n` as a `u32` (a table offset or a symbol number), checked.
pub(crate) fn to_u32(n: usize, what: &str) -> Result<u32, CodegenError> {
    u32::try_from(n).map_err(|_| too_many(what, n))
}

fn too_many(what: &str, n: usize) -> CodegenError {
    CodegenError::Unsupported(format!("{n} {what}: more than a 32-bit offset can address"))
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl<'p> ProgramLowering<'p> {
    fn new(program: &'p Program, mut m: ModuleCtx) -> Result<Self, CodegenError> {
        let mut funcs = Vec::with_capacity(program.functions.len());
        for (i, f) in program.functions.iter().enumerate() {
            let sig = function_signature(m.call_conv, f);
            let name = format!("coex_f{i}_{}", sanitize(&f.name));
            let id = m
                .module
                .declare_function(&name, Linkage::Local, &sig)
                .map_err(|e| CodegenError::Module(e.to_string()))?;
            funcs.push(id);
        }
        Ok(ProgramLowering {
            program,
            m,
            needs_scope: scopes::scope_analysis(program),
            under_within: deadlines::under_within_analysis(program),
            bare_externs: vec![None; program.externs.len()],
            trampolines: vec![None; program.externs.len()],
            pending_tasks: Vec::new(),
            task_count: 0,
            defined: Vec::new(),
            func_names: functable::program_names(program, &funcs),
            funcs,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
        })
    }

    fn lower_all(&mut self) -> Result<(), CodegenError> {
        for i in 0..self.program.functions.len() {
            self.lower_function(i)?;
            while !self.pending_tasks.is_empty() {
                let task = self.pending_tasks.remove(0);
                self.name_task_body(&task);
                self.lower_task_body(&task)?;
            }
        }
        Ok(())
    }

    /// Build one Cranelift function with `build`, then define it as `id`.
    pub(crate) fn build_function(
        &mut self,
        id: FuncId,
        sig: Signature,
        build: impl FnOnce(
            &mut ModuleCtx,
            &mut ProgramShared,
            FunctionBuilder,
        ) -> Result<(), CodegenError>,
    ) -> Result<(), CodegenError> {
        self.ctx.clear();
        self.ctx.func.signature = sig;
        let mut shared = ProgramShared {
            program: self.program,
            funcs: &self.funcs,
            needs_scope: &self.needs_scope,
            under_within: &self.under_within,
            bare_externs: &mut self.bare_externs,
            trampolines: &mut self.trampolines,
            pending_tasks: &mut self.pending_tasks,
            task_count: &mut self.task_count,
        };
        let b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
        build(&mut self.m, &mut shared, b)?;
        self.m
            .module
            .define_function(id, &mut self.ctx)
            .map_err(|e| CodegenError::Module(format!("{e:?}")))?;
        self.defined.push(id);
        Ok(())
    }

    fn lower_function(&mut self, index: usize) -> Result<(), CodegenError> {
        let program = self.program;
        let func = &program.functions[index];
        let id = self.funcs[index];
        let sig = function_signature(self.m.call_conv, func);
        self.build_function(id, sig, |m, shared, b| {
            let scope = match func.kind {
                FuncKind::Task => ScopeKind::Task,
                _ if shared.needs_scope[index] => ScopeKind::Func,
                _ => ScopeKind::None,
            };
            let mut l = FnLowerer::new(m, shared, b, index, scope)?;
            let entry = l.b.create_block();
            l.b.append_block_params_for_function_params(entry);
            l.b.switch_to_block(entry);
            l.zero_all_locals();
            let params: Vec<Value> = l.b.block_params(entry).to_vec();
            for (k, v) in params.into_iter().enumerate() {
                l.b.def_var(l.vars[k], v);
            }
            l.open_scope()?;
            l.entry_check(l.shared.under_within[index])?;
            l.lower_block(&func.body)?;
            l.finish_body()
        })
    }

    fn define_entry(&mut self) -> Result<(), CodegenError> {
        let mut sig = Signature::new(self.m.call_conv);
        sig.returns.push(AbiParam::new(types::I64));
        let id = self
            .m
            .module
            .declare_function("coex_main", Linkage::Export, &sig)
            .map_err(|e| CodegenError::Module(e.to_string()))?;
        let program = self.program;
        let entry = program.entry.ok_or_else(|| CodegenError::BadIr {
            func: "<program>".into(),
            msg: "no entry function (main)".into(),
        })?;
        let main = program
            .functions
            .get(entry.0 as usize)
            .ok_or_else(|| CodegenError::BadIr {
                func: "<program>".into(),
                msg: format!("entry function index {} out of range", entry.0),
            })?;
        if main.params != 0 || !matches!(main.ret, Type::Int | Type::Void) {
            return Err(CodegenError::BadIr {
                func: main.name.clone(),
                msg: "main must take no parameters and return int or nothing".into(),
            });
        }
        let target = self.funcs[entry.0 as usize];
        self.build_function(id, sig, |m, _shared, mut b| {
            let block = b.create_block();
            b.switch_to_block(block);
            let fref = m.module.declare_func_in_func(target, b.func);
            let call = b.ins().call(fref, &[]);
            let status = match main.ret {
                Type::Int => b.inst_results(call)[0],
                _ => b.ins().iconst(types::I64, 0),
            };
            b.ins().return_(&[status]);
            b.seal_all_blocks();
            b.finalize(m.module.target_config());
            Ok(())
        })
    }
}

/// Borrowed program-wide tables a function lowering needs.
pub(crate) struct ProgramShared<'a> {
    pub program: &'a Program,
    pub funcs: &'a [FuncId],
    pub needs_scope: &'a [bool],
    pub under_within: &'a [bool],
    pub bare_externs: &'a mut Vec<Option<FuncId>>,
    pub trampolines: &'a mut Vec<Option<FuncId>>,
    pub pending_tasks: &'a mut Vec<PendingTask>,
    pub task_count: &'a mut u32,
}

/// The Cranelift signature of a Coex function.
pub(crate) fn function_signature(cc: cranelift_codegen::isa::CallConv, f: &Function) -> Signature {
    let mut sig = Signature::new(cc);
    for local in f.locals.iter().take(f.params as usize) {
        if let Some(t) = cl_type(&local.ty) {
            sig.params.push(AbiParam::new(t));
        }
    }
    if let Some(t) = cl_type(&f.ret) {
        sig.returns.push(AbiParam::new(t));
    }
    sig
}

/// Which FFI scope a lowered body opens at entry and closes at exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    /// None (no extern reachable, or a task-for body: the runtime opens it).
    None,
    /// `coex_ffi_scope_enter/exit` (funcs).
    Func,
    /// `coex_task_scope_enter/exit` (directly called task functions).
    Task,
}

/// A loop being lowered: where `continue` and `break` go.
pub(crate) struct LoopTargets {
    pub continue_block: Block,
    pub break_block: Block,
    /// Number of open `within` blocks when the loop started.
    pub within_depth: usize,
}

/// Lowering state of one function body (or one outlined task body).
pub(crate) struct FnLowerer<'a, 'b> {
    pub m: &'a mut ModuleCtx,
    pub shared: &'a mut ProgramShared<'b>,
    pub b: FunctionBuilder<'a>,
    /// Index of the IR function whose locals this body uses.
    pub func_index: usize,
    /// One Cranelift variable per IR local (void locals get an unused I64).
    pub vars: Vec<Variable>,
    pub loops: Vec<LoopTargets>,
    /// The enclosing `within`s (innermost last) and the deadline checks.
    pub withins: deadlines::Withins,
    /// `Some(ctx)` inside a task-for body: the yield collector.
    pub task_ctx: Option<Value>,
    pub scope: ScopeKind,
    /// Block every `return` jumps to (closes the scope, returns).
    pub exit_block: Block,
    /// The thread's `coex_ffi_thread*` (from the scope enter at entry):
    /// FFI calls take the inline fast path when it is known.
    pub ffi_thread: Option<Value>,
}

impl<'a, 'b> FnLowerer<'a, 'b> {
    pub(crate) fn new(
        m: &'a mut ModuleCtx,
        shared: &'a mut ProgramShared<'b>,
        mut b: FunctionBuilder<'a>,
        func_index: usize,
        scope: ScopeKind,
    ) -> Result<Self, CodegenError> {
        let func = &shared.program.functions[func_index];
        let vars = func
            .locals
            .iter()
            .map(|l| b.declare_var(cl_type(&l.ty).unwrap_or(types::I64)))
            .collect();
        let exit_block = b.create_block();
        Ok(FnLowerer {
            m,
            shared,
            b,
            func_index,
            vars,
            loops: Vec::new(),
            withins: deadlines::Withins::default(),
            task_ctx: None,
            scope,
            exit_block,
            ffi_thread: None,
        })
    }

    /// The IR function being lowered.
    pub(crate) fn func(&self) -> &'b Function {
        &self.shared.program.functions[self.func_index]
    }

    /// An internal-error value naming this function.
    pub(crate) fn bad(&self, msg: impl Into<String>) -> CodegenError {
        CodegenError::BadIr {
            func: self.func().name.clone(),
            msg: msg.into(),
        }
    }

    /// The Cranelift variable of a local.
    pub(crate) fn var(&self, local: super::ir::LocalId) -> Result<Variable, CodegenError> {
        self.vars
            .get(local.0 as usize)
            .copied()
            .ok_or_else(|| self.bad(format!("local {} out of range", local.0)))
    }

    /// Type of a local.
    pub(crate) fn local_ty(&self, local: super::ir::LocalId) -> Result<&'b Type, CodegenError> {
        self.func()
            .locals
            .get(local.0 as usize)
            .map(|l| &l.ty)
            .ok_or_else(|| self.bad(format!("local {} out of range", local.0)))
    }

    /// Give every local a defined zero value (params are redefined after).
    pub(crate) fn zero_all_locals(&mut self) {
        let func = self.func();
        for (i, local) in func.locals.iter().enumerate() {
            let v = self.zero(&local.ty);
            self.b.def_var(self.vars[i], v);
        }
    }

    /// The zero value of a type (I64 0 for void, never read).
    pub(crate) fn zero(&mut self, ty: &Type) -> Value {
        match cl_type(ty) {
            Some(types::F64) => self.b.ins().f64const(0.0),
            Some(t) => self.b.ins().iconst(t, 0),
            None => self.b.ins().iconst(types::I64, 0),
        }
    }

    /// Call a runtime function; its single result, if any.
    pub(crate) fn rt(&mut self, f: RtFn, args: &[Value]) -> Result<Option<Value>, CodegenError> {
        let id = self.m.runtime_fn(f)?;
        let fref = self.m.module.declare_func_in_func(id, self.b.func);
        let call = self.b.ins().call(fref, args);
        Ok(self.b.inst_results(call).first().copied())
    }

    /// Call a runtime function that returns a value.
    pub(crate) fn rt_val(&mut self, f: RtFn, args: &[Value]) -> Result<Value, CodegenError> {
        self.rt(f, args)?
            .ok_or_else(|| self.bad(format!("{} returns nothing", f.symbol())))
    }

    /// Address of the location data for runtime errors at `loc`.
    pub(crate) fn loc_addr(&mut self, loc: &super::ir::SrcLoc) -> Result<Value, CodegenError> {
        let id = self.m.location(loc)?;
        Ok(self.m.data_addr(&mut self.b, id))
    }

    /// A value as an 8-byte slot (lists, records, task env, FFI args).
    pub(crate) fn slot_of(&mut self, v: Value, ty: &Type) -> Value {
        match ty {
            Type::Float => self.b.ins().bitcast(types::I64, MemFlagsData::new(), v),
            Type::Bool => self.b.ins().uextend(types::I64, v),
            _ => v,
        }
    }

    /// An 8-byte slot back to a value of `ty`.
    pub(crate) fn value_of_slot(&mut self, v: Value, ty: &Type) -> Value {
        match ty {
            Type::Float => self.b.ins().bitcast(types::F64, MemFlagsData::new(), v),
            Type::Bool => self.b.ins().ireduce(types::I8, v),
            _ => v,
        }
    }

    /// Bool (I8) to the runtime's int32_t.
    pub(crate) fn bool_to_i32(&mut self, v: Value) -> Value {
        self.b.ins().uextend(types::I32, v)
    }

    /// int32_t from the runtime to bool (I8: 0/1).
    pub(crate) fn i32_to_bool(&mut self, v: Value) -> Value {
        self.b
            .ins()
            .icmp_imm_s(ir::condcodes::IntCC::NotEqual, v, 0)
    }

    /// Open this body's FFI scope (at entry).
    pub(crate) fn open_scope(&mut self) -> Result<(), CodegenError> {
        match self.scope {
            ScopeKind::None => {}
            ScopeKind::Func => {
                self.ffi_thread = self.rt(RtFn::FfiScopeEnter, &[])?;
            }
            ScopeKind::Task => {
                self.ffi_thread = self.rt(RtFn::TaskScopeEnter, &[])?;
            }
        }
        Ok(())
    }

    /// After the body: fall through to the exit block, which closes the scope
    /// and returns; then seal and finalize.
    pub(crate) fn finish_body(mut self) -> Result<(), CodegenError> {
        let ret_ty = if self.task_ctx.is_some() {
            Type::Void
        } else {
            self.func().ret.clone()
        };
        if !self.is_filled() {
            // Falling off the end: return the zero value (checked front ends
            // make non-void functions return explicitly).
            match cl_type(&ret_ty) {
                Some(_) => {
                    let z = self.zero(&ret_ty);
                    self.b.ins().jump(self.exit_block, &[z.into()]);
                }
                None => {
                    self.b.ins().jump(self.exit_block, &[]);
                }
            }
        }
        self.finish_return_unwind(&ret_ty);
        let exit = self.exit_block;
        if let Some(t) = cl_type(&ret_ty) {
            self.b.append_block_param(exit, t);
        }
        self.b.switch_to_block(exit);
        match self.scope {
            ScopeKind::None => {}
            ScopeKind::Func => {
                self.rt(RtFn::FfiScopeExit, &[])?;
            }
            ScopeKind::Task => {
                self.rt(RtFn::TaskScopeExit, &[])?;
            }
        }
        let rets: Vec<Value> = self.b.block_params(exit).to_vec();
        self.b.ins().return_(&rets);
        self.b.seal_all_blocks();
        let cfg = self.m.module.target_config();
        self.b.finalize(cfg);
        Ok(())
    }

    /// True when the current block already ends in a terminator (after
    /// `return`, `break`, `continue`): nothing more may be added to it.
    pub(crate) fn is_filled(&self) -> bool {
        let Some(block) = self.b.current_block() else {
            return true;
        };
        match self.b.func.layout.last_inst(block) {
            Some(inst) => self.b.func.dfg.insts[inst].opcode().is_terminator(),
            None => false,
        }
    }

    /// Continue lowering in a fresh block (after a terminator).
    pub(crate) fn start_dead_block(&mut self) {
        let blk = self.b.create_block();
        self.b.switch_to_block(blk);
    }
}
