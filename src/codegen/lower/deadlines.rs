//! `within` deadlines in generated code (docs/runtime.md, "Deadlines").
//!
//! Code that may run under a deadline — a `within` body, and every function
//! or task body reachable from one ([`under_within_analysis`]) — has check
//! points: at function entry, at every loop header and after every call that
//! may unwind (Coex calls, FFI calls, `task for`). A check is one atomic load
//! of the runtime's `coex_within_pending` word and a branch; only when it is
//! nonzero does `coex_within_poll` run, and when it names a level to unwind
//! to, the code jumps to the else branch of the enclosing `within` at that
//! level, or returns early (a zero value, through the exit block so FFI
//! scopes close) when this frame holds no such `within`; the caller's check
//! after the call carries on. Code that can never run under a deadline has
//! no check points at all.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, Block, FuncRef, GlobalValue, InstBuilder, MemFlagsData, Signature, StackSlot,
    StackSlotData, StackSlotKind, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::Variable;
use cranelift_module::{Linkage, Module};

use super::{cl_type, FnLowerer};
use crate::codegen::ir::{Builtin, Expr, ExprKind, Place, Program, Step, Stmt, Type};
use crate::codegen::runtime_abi::RtFn;
use crate::codegen::CodegenError;

/// The runtime word generated code reads at every check point.
const PENDING_SYMBOL: &str = "coex_within_pending";
/// `coex_within_poll` behind a stub that preserves every register (x86-64).
const CHECK_SYMBOL: &str = "coex_within_check";

/// An open `within` of the function being lowered.
struct WithinFrame {
    /// Its level (the runtime's `within` depth when it was entered).
    level: Variable,
    /// Where a check inside it goes with the level to unwind to (created
    /// on first use, filled when the `within` ends).
    unwind: Option<Block>,
}

/// The open `within`s of the function being lowered, innermost last, and
/// its deadline check state.
#[derive(Default)]
pub(crate) struct Withins {
    frames: Vec<WithinFrame>,
    /// The function (or task body) may run under a deadline.
    checked: bool,
    /// Where a check outside every `within` of this function goes: return early.
    return_unwind: Option<Block>,
    /// `coex_within_pending` in this function.
    pending: Option<GlobalValue>,
    /// `coex_within_check` and its result slot in this function.
    check_fn: Option<(FuncRef, StackSlot)>,
}

impl Withins {
    /// No `within` is open here.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Number of open `within`s.
    pub fn len(&self) -> usize {
        self.frames.len()
    }
}

/// Which functions may run while a `within` deadline is active on their
/// thread: those called from a `within` body (directly or inside a
/// `task for` body there, whose helper threads inherit the deadline), and,
/// transitively, everything they call.
pub(crate) fn under_within_analysis(program: &Program) -> Vec<bool> {
    let n = program.functions.len();
    let mut under = vec![false; n];
    let mut calls: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, f) in program.functions.iter().enumerate() {
        let mut v = CallVisitor { calls: Vec::new() };
        v.stmts(&f.body, false);
        for (callee, in_within) in v.calls {
            if callee < n {
                under[callee] |= in_within;
                calls[i].push(callee);
            }
        }
    }
    let mut work: Vec<usize> = (0..n).filter(|&i| under[i]).collect();
    while let Some(f) = work.pop() {
        for &c in &calls[f] {
            if !under[c] {
                under[c] = true;
                work.push(c);
            }
        }
    }
    under
}

/// Collects (callee, lexically inside a `within` body) for each Coex call.
struct CallVisitor {
    calls: Vec<(usize, bool)>,
}

impl CallVisitor {
    fn stmts(&mut self, body: &[Stmt], inw: bool) {
        for s in body {
            self.stmt(s, inw);
        }
    }

    fn stmt(&mut self, s: &Stmt, inw: bool) {
        match s {
            Stmt::Assign { value: e, .. }
            | Stmt::Return(Some(e))
            | Stmt::Expr(e)
            | Stmt::Yield(e) => self.expr(e, inw),
            Stmt::If {
                cond,
                then_body,
                else_body,
            } => {
                self.expr(cond, inw);
                self.stmts(then_body, inw);
                self.stmts(else_body, inw);
            }
            Stmt::While { cond: e, body }
            | Stmt::ForList { list: e, body, .. }
            | Stmt::TaskFor { items: e, body, .. } => {
                self.expr(e, inw);
                self.stmts(body, inw);
            }
            Stmt::ForRange {
                start, end, body, ..
            } => {
                self.expr(start, inw);
                self.expr(end, inw);
                self.stmts(body, inw);
            }
            Stmt::Store { place, value } => {
                self.expr(value, inw);
                self.place(place, inw);
            }
            Stmt::Break | Stmt::Continue | Stmt::Return(None) => {}
            Stmt::Select {
                args,
                body,
                exhausted,
                ..
            } => {
                self.exprs(args, inw);
                self.stmts(body, inw);
                self.stmts(exhausted, inw);
            }
            Stmt::Within {
                deadline,
                body,
                else_body,
            } => {
                self.expr(deadline, inw);
                self.stmts(body, true);
                self.stmts(else_body, inw);
            }
        }
    }

    fn exprs(&mut self, es: &[Expr], inw: bool) {
        es.iter().for_each(|e| self.expr(e, inw));
    }

    fn expr(&mut self, e: &Expr, inw: bool) {
        match &e.kind {
            ExprKind::Lit(_) | ExprKind::Const(_) | ExprKind::Local(_) | ExprKind::Move(_) => {}
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => self.exprs2(a, b, inw),
            ExprKind::Unary(_, a) | ExprKind::Field(a, _) => self.expr(a, inw),
            ExprKind::Ternary(c, a, b) => {
                self.expr(c, inw);
                self.exprs2(a, b, inw);
            }
            ExprKind::Call(f, args) => {
                self.calls.push((f.0 as usize, inw));
                self.exprs(args, inw);
            }
            ExprKind::CallExtern(_, args) | ExprKind::Record(_, args) | ExprKind::List(args) => {
                self.exprs(args, inw)
            }
            ExprKind::Builtin(b) => match b {
                Builtin::Len(a) | Builtin::ToString(a) | Builtin::Print(a) | Builtin::Arg(a) => {
                    self.expr(a, inw)
                }
                Builtin::Append(place, a) => {
                    self.expr(a, inw);
                    self.place(place, inw);
                }
                Builtin::ArgCount => {}
                Builtin::Get(a, c) | Builtin::Range(a, c) | Builtin::Appended(a, c) => {
                    self.exprs2(a, c, inw)
                }
            },
        }
    }

    /// The index expressions of a place (they may call functions).
    fn place(&mut self, place: &Place, inw: bool) {
        for step in &place.path {
            if let Step::Index(i) = step {
                self.expr(i, inw);
            }
        }
    }

    fn exprs2(&mut self, a: &Expr, b: &Expr, inw: bool) {
        self.expr(a, inw);
        self.expr(b, inw);
    }
}

impl FnLowerer<'_, '_> {
    /// At the entry of a function or task body (`checked`: it may run under
    /// a deadline): the first check point.
    pub(crate) fn entry_check(&mut self, checked: bool) -> Result<(), CodegenError> {
        self.withins.checked = checked;
        self.deadline_check()
    }

    /// Whether code lowered here may run under a deadline.
    pub(crate) fn checks_on(&self) -> bool {
        self.withins.checked || !self.withins.is_empty()
    }

    /// A check point (nothing where no deadline can be active): when the
    /// runtime's pending word is set, ask `coex_within_poll` and leave for
    /// the else branch or the caller when it names a level.
    pub(crate) fn deadline_check(&mut self) -> Result<(), CodegenError> {
        if !self.checks_on() {
            return Ok(());
        }
        let cont = self.b.create_block();
        self.check_then_jump(cont)?;
        self.b.switch_to_block(cont);
        Ok(())
    }

    /// A check point, then on to `next` (a loop header): the slow path
    /// goes there directly, so no block joins the hot path.
    pub(crate) fn deadline_check_then_jump(&mut self, next: Block) -> Result<(), CodegenError> {
        if self.checks_on() {
            self.check_then_jump(next)
        } else {
            self.b.ins().jump(next, &[]);
            Ok(())
        }
    }

    fn check_then_jump(&mut self, cont: Block) -> Result<(), CodegenError> {
        let gv = self.pending_word()?;
        let addr = self.b.ins().symbol_value(types::I64, gv);
        // Atomic: a plain load could be merged with an earlier one.
        let flag = self
            .b
            .ins()
            .atomic_load(types::I32, MemFlagsData::trusted(), addr);
        let slow = self.b.create_block();
        self.b.ins().brif(flag, slow, &[], cont, &[]);
        self.b.set_cold_block(slow);
        self.b.switch_to_block(slow);
        let level = self.poll()?;
        let go_on = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, level, 0);
        let unwind = self.unwind_target();
        self.b.ins().brif(go_on, cont, &[], unwind, &[level.into()]);
        Ok(())
    }

    /// `coex_within_poll()`; on x86-64 through `coex_within_check`, which
    /// clobbers no register, so values live across a check point (a loop's
    /// variables) stay where they are.
    fn poll(&mut self) -> Result<Value, CodegenError> {
        if self.m.module.isa().name() != "x64" {
            return self.rt_val(RtFn::WithinPoll, &[]);
        }
        let (fref, slot) = match self.withins.check_fn {
            Some(c) => c,
            None => {
                let mut sig = Signature::new(CallConv::PreserveAll);
                sig.params.push(AbiParam::new(types::I64));
                let id = self
                    .m
                    .module
                    .declare_function(CHECK_SYMBOL, Linkage::Import, &sig)
                    .map_err(|e| CodegenError::Module(e.to_string()))?;
                let fref = self.m.module.declare_func_in_func(id, self.b.func);
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    8,
                    3,
                ));
                self.withins.check_fn = Some((fref, slot));
                (fref, slot)
            }
        };
        let out = self.b.ins().stack_addr(types::I64, slot, 0);
        self.b.ins().call(fref, &[out]);
        Ok(self.b.ins().stack_load(types::I64, types::I64, slot, 0))
    }

    fn pending_word(&mut self) -> Result<GlobalValue, CodegenError> {
        if let Some(gv) = self.withins.pending {
            return Ok(gv);
        }
        let id = self
            .m
            .module
            .declare_data(PENDING_SYMBOL, Linkage::Import, true, false)
            .map_err(|e| CodegenError::Module(e.to_string()))?;
        let gv = self.m.module.declare_data_in_func(id, self.b.func);
        self.withins.pending = Some(gv);
        Ok(gv)
    }

    /// The block (one I64 parameter: the level to unwind to) that a check
    /// at the current position jumps to.
    fn unwind_target(&mut self) -> Block {
        let existing = match self.withins.frames.last() {
            Some(w) => w.unwind,
            None => self.withins.return_unwind,
        };
        if let Some(b) = existing {
            return b;
        }
        let b = self.b.create_block();
        self.b.append_block_param(b, types::I64);
        self.b.set_cold_block(b);
        match self.withins.frames.last_mut() {
            Some(w) => w.unwind = Some(b),
            None => self.withins.return_unwind = Some(b),
        }
        b
    }

    /// `within d body else e`: `coex_within_enter` pushes the deadline and
    /// gives its level; the body's check points leave for `else` (or an
    /// outer one); both ends call `coex_within_leave(level)`.
    pub(crate) fn lower_within(
        &mut self,
        deadline: &Expr,
        body: &[Stmt],
        else_body: &[Stmt],
    ) -> Result<(), CodegenError> {
        let d = self.lower_value(deadline)?;
        let level_v = self.rt_val(RtFn::WithinEnter, &[d])?;
        let level = self.b.declare_var(types::I64);
        self.b.def_var(level, level_v);
        let else_b = self.b.create_block();
        let merge = self.b.create_block();
        self.withins.frames.push(WithinFrame {
            level,
            unwind: None,
        });
        let r = self.lower_block(body);
        let frame = self.withins.frames.pop();
        r?;
        let frame = frame.ok_or_else(|| self.bad("within stack underflow"))?;
        if !self.is_filled() {
            self.leave(level)?;
            self.b.ins().jump(merge, &[]);
        }
        if let Some(u) = frame.unwind {
            // This within when the level is its own (or deeper), else outward.
            self.b.switch_to_block(u);
            let target = self.b.block_params(u)[0];
            let mine = self.b.use_var(level);
            let here = self
                .b
                .ins()
                .icmp(IntCC::SignedGreaterThanOrEqual, target, mine);
            let outer = self.unwind_target();
            self.b
                .ins()
                .brif(here, else_b, &[], outer, &[target.into()]);
        }
        self.b.switch_to_block(else_b);
        self.leave(level)?;
        self.lower_block_then_jump(else_body, merge)?;
        self.b.switch_to_block(merge);
        Ok(())
    }

    fn leave(&mut self, level: Variable) -> Result<(), CodegenError> {
        let l = self.b.use_var(level);
        self.rt(RtFn::WithinLeave, &[l])?;
        Ok(())
    }

    /// End the runtime deadlines of the `within`s a jump leaves (all those
    /// opened after the first `depth`).
    pub(crate) fn close_withins_to(&mut self, depth: usize) -> Result<(), CodegenError> {
        match self.withins.frames.get(depth) {
            Some(w) => self.leave(w.level),
            None => Ok(()),
        }
    }

    /// After the body (its last block filled): the early return of checks
    /// outside every `within` of the function, with the zero value.
    pub(crate) fn finish_return_unwind(&mut self, ret_ty: &Type) {
        let Some(u) = self.withins.return_unwind.take() else {
            return;
        };
        self.b.switch_to_block(u);
        let exit = self.exit_block;
        if cl_type(ret_ty).is_some() {
            let z = self.zero(ret_ty);
            self.b.ins().jump(exit, &[z.into()]);
        } else {
            self.b.ins().jump(exit, &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::ir::*;

    fn func(name: &str, body: Vec<Stmt>) -> Function {
        Function {
            name: name.into(),
            kind: FuncKind::Func,
            params: 0,
            locals: vec![],
            ret: Type::Void,
            body,
        }
    }

    fn call(f: u32) -> Stmt {
        Stmt::Expr(Expr {
            kind: ExprKind::Call(FuncId(f), vec![]),
            ty: Type::Void,
            loc: SrcLoc::default(),
        })
    }

    fn within(body: Vec<Stmt>, else_body: Vec<Stmt>) -> Stmt {
        Stmt::Within {
            deadline: Expr {
                kind: ExprKind::Lit(Literal::Int(1)),
                ty: Type::Int,
                loc: SrcLoc::default(),
            },
            body,
            else_body,
        }
    }

    /// main calls a (outside within), b (inside), c (in the else branch);
    /// b calls d; a task-for body inside a within calls e.
    #[test]
    fn functions_called_under_a_within_and_their_callees_are_checked() {
        let task_for = Stmt::TaskFor {
            var: LocalId(0),
            items: Expr {
                kind: ExprKind::List(vec![]),
                ty: Type::List(Box::new(Type::Int)),
                loc: SrcLoc::default(),
            },
            body: vec![call(5)],
            result: None,
        };
        let program = Program {
            functions: vec![
                func(
                    "main",
                    vec![call(1), within(vec![call(2), task_for], vec![call(3)])],
                ),
                func("a", vec![]),
                func("b", vec![call(4)]),
                func("c", vec![]),
                func("d", vec![]),
                func("e", vec![]),
            ],
            ..Program::default()
        };
        assert_eq!(
            under_within_analysis(&program),
            vec![false, false, true, false, true, true]
        );
    }
}
