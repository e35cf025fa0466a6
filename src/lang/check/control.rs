//! Statements that steer control: loops, `task for`, `return`,
//! `break`/`continue`, `select` and `within`, one method per kind (the
//! dispatch is `Checker::stmt` in `stmts.rs`).

use std::collections::BTreeMap;

use super::stmts::{FnCx, Scope, TaskFrame};
use super::Checker;
use crate::lang::ast::{Block, Expr, Ident, SelectCase, SelectCaseKind, Stmt, StmtKind, TypeExpr};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::program::Binding;
use crate::lang::types::Ty;

impl Checker {
    /// `while cond: body` — not allowed in a formula; the body is a loop
    /// for `break`/`continue`.
    pub(super) fn while_stmt(&mut self, cx: &mut FnCx, s: &Stmt, cond: &Expr, body: &Block) {
        self.formula_forbids(cx, s.span.with_end(cond.span), "'while'");
        self.condition(cx, cond, "`while`");
        cx.loops += 1;
        self.block_in(cx, body, false);
        cx.loops -= 1;
    }

    /// `for var in iter: body` — the loop variable lives in its own scope
    /// around the body.
    pub(super) fn for_stmt(
        &mut self,
        cx: &mut FnCx,
        s: &Stmt,
        var: &Ident,
        iter: &Expr,
        body: &Block,
    ) {
        let ety = self.iterable(cx, iter);
        cx.loops += 1;
        cx.scopes.push(Scope::default());
        let l = self.declare(cx, var, ety);
        self.prog.loop_vars.insert(s.id, l);
        self.block_in(cx, body, false);
        cx.scopes.pop();
        cx.loops -= 1;
    }

    /// `[target =] task for var in iter: body` — the body is a task
    /// boundary; its yields make the list bound to `target`.
    pub(super) fn task_for_stmt(
        &mut self,
        cx: &mut FnCx,
        s: &Stmt,
        target: Option<&(Ident, Option<TypeExpr>)>,
        var: &Ident,
        iter: &Expr,
        body: &Block,
    ) {
        self.formula_forbids(cx, s.span.with_end(iter.span), "'task for'");
        let ety = self.iterable(cx, iter);
        cx.tasks.push(TaskFrame {
            yield_ty: None,
            loops_at_entry: cx.loops,
        });
        cx.scopes.push(Scope {
            vars: BTreeMap::new(),
            task_boundary: true,
        });
        let l = self.declare(cx, var, ety);
        self.prog.loop_vars.insert(s.id, l);
        self.block_in(cx, body, false);
        cx.scopes.pop();
        let frame = cx.tasks.pop();
        let yielded = frame.and_then(|f| f.yield_ty);
        let list = match &yielded {
            Some(t) => Ty::List(Box::new(t.clone())),
            // Reported below when bound; `Unknown` avoids a second error.
            None => Ty::Unknown,
        };
        self.prog.types.insert(s.id, list.clone());
        if let Some((name, stated)) = target {
            if yielded.is_none() {
                self.error(
                    Diagnostic::error(s.span, format!("`task for` assigned to `{}` never yields a value", name.name))
                        .with_help("add `yield value` in the body; the result is the list of yields in input order"),
                );
            }
            self.bind(cx, s.id, name, stated, list, s.span);
        }
    }

    /// `return [value]` — not inside a `task for` body; the value must
    /// match the declared return type.
    pub(super) fn return_stmt(&mut self, cx: &mut FnCx, s: &Stmt, value: Option<&Expr>) {
        if !cx.tasks.is_empty() {
            self.error(
                Diagnostic::error(s.span, "`return` cannot be used inside a `task for` body")
                    .with_help("use `yield value` to give the iteration's result"),
            );
        }
        let ret = cx.ret.clone();
        match value {
            Some(v) => {
                let ty = self.expr(cx, v);
                if ret == Ty::Void {
                    self.error(
                        Diagnostic::error(v.span, format!("`{}` does not return a value", cx.name))
                            .with_help(format!(
                                "remove the value, or declare a return type: `{} {}(…) -> T`",
                                cx.kind.keyword(),
                                cx.name
                            )),
                    );
                } else {
                    self.expect_fits(&ty, &ret, v.span, "the return value");
                }
            }
            None => {
                if ret != Ty::Void && ret != Ty::Unknown {
                    let r = self.show(&ret);
                    self.error(Diagnostic::error(
                        s.span,
                        format!("`return` needs a value of type {r}"),
                    ));
                }
            }
        }
    }

    /// `break` / `continue` — only inside a loop, and never out of a
    /// `task for` body.
    pub(super) fn break_continue(&mut self, cx: &mut FnCx, s: &Stmt) {
        let word = if s.kind == StmtKind::Break {
            "break"
        } else {
            "continue"
        };
        let inside_task_loop = cx.tasks.last().is_none_or(|t| cx.loops > t.loops_at_entry);
        if cx.loops == 0 || !inside_task_loop {
            let msg = if !cx.tasks.is_empty() {
                format!("`{word}` cannot leave a `task for` body")
            } else {
                format!("`{word}` outside of a loop")
            };
            self.error(
                Diagnostic::error(s.span, msg)
                    .with_help("`break` and `continue` work inside `for` and `while` loops"),
            );
        }
    }

    /// `select` — the arms' shape, then each arm in its own scope, with the
    /// result of a call arm bound when named.
    pub(super) fn select_stmt(&mut self, cx: &mut FnCx, s: &Stmt, cases: &[SelectCase]) {
        self.select_shape(s.span, cases);
        for case in cases {
            cx.scopes.push(Scope::default());
            if let SelectCaseKind::Call { bind, call } = &case.kind {
                let ty = self.expr(cx, call);
                if let Some(b) = bind {
                    if ty == Ty::Void {
                        self.error(
                            Diagnostic::error(
                                call.span,
                                "this call returns nothing, so there is no result to bind",
                            )
                            .with_help("write `case f(x):` without `r =`"),
                        );
                    }
                    let l = self.declare(cx, b, if ty == Ty::Void { Ty::Unknown } else { ty });
                    self.prog.bindings.insert(
                        call.id,
                        Binding {
                            local: l,
                            declares: true,
                        },
                    );
                }
            }
            self.block_in(cx, &case.body, false);
            cx.scopes.pop();
        }
    }

    /// `within deadline: body [else: otherwise]` — the deadline is an int
    /// of nanoseconds.
    pub(super) fn within_stmt(
        &mut self,
        cx: &mut FnCx,
        deadline: &Expr,
        body: &Block,
        otherwise: Option<&Block>,
    ) {
        let ty = self.expr(cx, deadline);
        self.require_type(&ty, &Ty::Int, |t| {
            Diagnostic::error(
                deadline.span,
                format!("a `within` deadline is an int of nanoseconds, found {t}"),
            )
            .with_help("write e.g. `within 100 * time.millisecond`")
        });
        self.block_in(cx, body, false);
        if let Some(o) = otherwise {
            self.block_in(cx, o, false);
        }
    }
}
