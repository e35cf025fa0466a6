//! Statements: bindings, control flow, loops, return (`within`: deadlines.rs).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, InstBuilder};

use super::{FnLowerer, LoopTargets};
use crate::codegen::ir::{Builtin, Expr, ExprKind, LocalId, Stmt};
use crate::codegen::CodegenError;

impl FnLowerer<'_, '_> {
    /// Lower statements in order; code after a terminator goes to a dead block.
    pub(crate) fn lower_block(&mut self, body: &[Stmt]) -> Result<(), CodegenError> {
        for s in body {
            if self.is_filled() {
                self.start_dead_block();
            }
            self.lower_stmt(s)?;
        }
        Ok(())
    }

    /// Lowers `body` and, unless it already ended (return, break), jumps to
    /// `merge`: every arm of `if`, `within` and `select` ends this way.
    pub(crate) fn lower_block_then_jump(
        &mut self,
        body: &[Stmt],
        merge: Block,
    ) -> Result<(), CodegenError> {
        self.lower_block(body)?;
        if !self.is_filled() {
            self.b.ins().jump(merge, &[]);
        }
        Ok(())
    }

    fn lower_stmt(&mut self, s: &Stmt) -> Result<(), CodegenError> {
        match s {
            Stmt::Assign { local, value } => self.lower_assign(*local, value),
            Stmt::Store { place, value } => self.lower_store(place, value),
            Stmt::If {
                cond,
                then_body,
                else_body,
            } => self.lower_if(cond, then_body, else_body),
            Stmt::While { cond, body } => self.lower_while(cond, body),
            Stmt::ForRange {
                var,
                start,
                end,
                body,
            } => self.lower_for_range(*var, start, end, body),
            Stmt::ForList { var, list, body } => self.lower_for_list(*var, list, body),
            Stmt::Break => self.lower_loop_exit(true),
            Stmt::Continue => self.lower_loop_exit(false),
            Stmt::Return(value) => self.lower_return(value.as_ref()),
            Stmt::Expr(e) => self.lower_expr_stmt(e),
            Stmt::TaskFor {
                var,
                items,
                body,
                result,
            } => self.lower_task_for(*var, items, body, *result),
            Stmt::Yield(e) => self.lower_yield(e),
            Stmt::Select {
                target,
                call,
                args,
                loc,
                body,
                exhausted,
            } => self.lower_select(*target, *call, args, loc, body, exhausted),
            Stmt::Within {
                deadline,
                body,
                else_body,
            } => self.lower_within(deadline, body, else_body),
        }
    }

    fn lower_assign(&mut self, local: LocalId, value: &Expr) -> Result<(), CodegenError> {
        let var = self.var(local)?;
        if let Some(v) = self.lower_expr(value)? {
            self.b.def_var(var, v);
        }
        Ok(())
    }

    fn lower_expr_stmt(&mut self, e: &Expr) -> Result<(), CodegenError> {
        if let ExprKind::Builtin(b @ Builtin::Append(..)) = &e.kind {
            self.lower_builtin(b, e, false)?;
        } else {
            self.lower_expr(e)?;
        }
        Ok(())
    }

    fn lower_if(
        &mut self,
        cond: &Expr,
        then_body: &[Stmt],
        else_body: &[Stmt],
    ) -> Result<(), CodegenError> {
        let c = self.lower_value(cond)?;
        let then_b = self.b.create_block();
        let else_b = self.b.create_block();
        let merge = self.b.create_block();
        self.b.ins().brif(c, then_b, &[], else_b, &[]);
        self.b.switch_to_block(then_b);
        self.lower_block_then_jump(then_body, merge)?;
        self.b.switch_to_block(else_b);
        self.lower_block_then_jump(else_body, merge)?;
        self.b.switch_to_block(merge);
        Ok(())
    }

    fn lower_while(&mut self, cond: &Expr, body: &[Stmt]) -> Result<(), CodegenError> {
        let header = self.b.create_block();
        let body_b = self.b.create_block();
        let latch = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let c = self.lower_value(cond)?;
        // Exit edge first, as in `counted_loop`.
        let stop = self.b.ins().icmp_imm_s(IntCC::Equal, c, 0);
        self.b.ins().brif(stop, exit, &[], body_b, &[]);
        self.b.switch_to_block(body_b);
        self.with_loop(latch, exit, body)?;
        // Every round ends here (`continue` too): the deadline check point.
        self.b.switch_to_block(latch);
        self.deadline_check_then_jump(header)?;
        self.b.switch_to_block(exit);
        Ok(())
    }

    /// Lower a loop body with `continue` → `next`, `break` → `exit`, then
    /// jump back to `next`.
    fn with_loop(
        &mut self,
        next: cranelift_codegen::ir::Block,
        exit: cranelift_codegen::ir::Block,
        body: &[Stmt],
    ) -> Result<(), CodegenError> {
        self.loops.push(LoopTargets {
            continue_block: next,
            break_block: exit,
            within_depth: self.withins.len(),
        });
        let r = self.lower_block(body);
        self.loops.pop();
        r?;
        if !self.is_filled() {
            self.b.ins().jump(next, &[]);
        }
        Ok(())
    }

    fn lower_for_range(
        &mut self,
        var: LocalId,
        start: &Expr,
        end: &Expr,
        body: &[Stmt],
    ) -> Result<(), CodegenError> {
        let user = self.var(var)?;
        let s = self.lower_value(start)?;
        let e = self.lower_value(end)?;
        let limit = self.b.declare_var(types::I64);
        self.b.def_var(limit, e);
        self.counted_loop(
            s,
            body,
            |this| Ok(this.b.use_var(limit)),
            |this, i| {
                this.b.def_var(user, i);
                Ok(())
            },
        )
    }

    fn lower_for_list(
        &mut self,
        var: LocalId,
        list: &Expr,
        body: &[Stmt],
    ) -> Result<(), CodegenError> {
        let elem_ty = match &list.ty {
            crate::codegen::ir::Type::List(t) => (**t).clone(),
            t => return Err(self.bad(format!("for over a non-list {t:?}"))),
        };
        let user = self.var(var)?;
        // The loop keeps its own reference: shared, so appends in the body
        // to the same variable copy instead of changing what we iterate.
        let l = self.lower_value(list)?;
        let l = self.share_value(l, &list.ty)?;
        let list_v = self.b.declare_var(types::I64);
        self.b.def_var(list_v, l);
        let zero = self.b.ins().iconst(types::I64, 0);
        // The loop's list is shared, so nothing changes it in place: the
        // header's `i < len` is the bounds check.
        self.counted_loop(
            zero,
            body,
            |this| {
                let l = this.b.use_var(list_v);
                Ok(this.list_len(l))
            },
            |this, i| {
                let l = this.b.use_var(list_v);
                let addr = this.slot_addr_unchecked(l, i, &elem_ty);
                let v = this.load_at(addr, &elem_ty);
                let v = this.share_value(v, &elem_ty)?;
                this.b.def_var(user, v);
                Ok(())
            },
        )
    }

    /// The loop both `for` forms share: a counter from `start` while it is
    /// below `limit` (lowered in the loop header, so once per round),
    /// `bind` defining the loop variable from the counter at the top of
    /// each round, then `body`; `continue` steps the counter.
    fn counted_loop(
        &mut self,
        start: cranelift_codegen::ir::Value,
        body: &[Stmt],
        limit: impl FnOnce(&mut Self) -> Result<cranelift_codegen::ir::Value, CodegenError>,
        bind: impl FnOnce(&mut Self, cranelift_codegen::ir::Value) -> Result<(), CodegenError>,
    ) -> Result<(), CodegenError> {
        let counter = self.b.declare_var(types::I64);
        self.b.def_var(counter, start);
        let header = self.b.create_block();
        let body_b = self.b.create_block();
        let step = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let i = self.b.use_var(counter);
        let n = limit(self)?;
        // Exit edge first: Cranelift lays out the second successor first,
        // so the body follows the header and the exit comes after it. The
        // register allocator splits live ranges in that order: with the
        // exit (and the calls after the loop) first, a float accumulator
        // printed after the loop was kept on the stack inside it.
        let done = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, i, n);
        self.b.ins().brif(done, exit, &[], body_b, &[]);
        self.b.switch_to_block(body_b);
        bind(self, i)?;
        self.with_loop(step, exit, body)?;
        self.b.switch_to_block(step);
        let i = self.b.use_var(counter);
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.def_var(counter, next);
        self.deadline_check_then_jump(header)?;
        self.b.switch_to_block(exit);
        Ok(())
    }

    fn lower_loop_exit(&mut self, is_break: bool) -> Result<(), CodegenError> {
        let (target, depth) = match self.loops.last() {
            Some(l) => (
                if is_break {
                    l.break_block
                } else {
                    l.continue_block
                },
                l.within_depth,
            ),
            None => return Err(self.bad("break/continue outside a loop")),
        };
        self.close_withins_to(depth)?;
        self.b.ins().jump(target, &[]);
        Ok(())
    }

    fn lower_return(&mut self, value: Option<&Expr>) -> Result<(), CodegenError> {
        let v = match value {
            Some(e) => self.lower_expr(e)?,
            None => None,
        };
        self.close_withins_to(0)?;
        let exit = self.exit_block;
        if self.task_ctx.is_some() {
            // `return` in a task-for body ends that iteration.
            self.b.ins().jump(exit, &[]);
            return Ok(());
        }
        match v {
            Some(v) if super::cl_type(&self.func().ret).is_some() => {
                self.b.ins().jump(exit, &[v.into()]);
            }
            _ => {
                if let Some(t) = super::cl_type(&self.func().ret) {
                    let z = self.zero(&self.func().ret.clone());
                    let _ = t;
                    self.b.ins().jump(exit, &[z.into()]);
                } else {
                    self.b.ins().jump(exit, &[]);
                }
            }
        }
        Ok(())
    }
}
