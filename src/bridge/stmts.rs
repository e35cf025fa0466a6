//! Statements. Compound assignment becomes plain assignment (`n += 1` →
//! `n = n + 1`); assigning a field or an element (`p.x = 1`, `a.b.c += 2`,
//! `xs[i] = v`, `g.cells[i][j] = v`) becomes one `Store` to a place, which
//! codegen does in place (copying only shared containers); `for` over
//! `range(a, b)` / `a..b` becomes a counted loop.

use crate::codegen::ir::{self, Stmt as S, Type};
use crate::lang::ast::{self, AssignOp, BinOp, ExprKind, SelectCaseKind, StmtKind};
use crate::lang::program::{Builtin, CallTarget, NameRef};
use crate::lang::span::index_u32;

use super::Bridge;

impl Bridge<'_> {
    /// Lowers a block's statements.
    pub(super) fn block(&mut self, stmts: &[ast::Stmt]) -> Vec<ir::Stmt> {
        let mut out = Vec::new();
        for s in stmts {
            if let Some(st) = self.stmt(s) {
                out.push(st);
            }
        }
        out
    }

    fn bound_local(&mut self, id: ast::NodeId) -> Option<ir::LocalId> {
        let b = self.prog.bindings.get(&id).copied()?;
        Some(self.local(b.local))
    }

    /// The `else` body of `if` and `within`: empty when there is none.
    fn else_block(&mut self, otherwise: Option<&ast::Block>) -> Vec<ir::Stmt> {
        otherwise.map(|b| self.block(&b.stmts)).unwrap_or_default()
    }

    fn stmt(&mut self, s: &ast::Stmt) -> Option<ir::Stmt> {
        Some(match &s.kind {
            StmtKind::Bind { value, .. } => return self.bind(s, value),
            StmtKind::Assign { target, op, value } => return self.assign(s, target, *op, value),
            StmtKind::Expr(e) => S::Expr(self.expr(e)),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => S::If {
                cond: self.expr(cond),
                then_body: self.block(&then.stmts),
                else_body: self.else_block(otherwise.as_ref()),
            },
            StmtKind::While { cond, body } => S::While {
                cond: self.expr(cond),
                body: self.block(&body.stmts),
            },
            StmtKind::For { iter, body, .. } => return self.for_loop(s, iter, body),
            StmtKind::TaskFor { iter, body, .. } => return self.task_for(s, iter, body),
            StmtKind::Yield(e) => S::Yield(self.expr(e)),
            StmtKind::Return(v) => {
                let v = v.as_ref().map(|v| self.expr(v));
                S::Return(v)
            }
            StmtKind::Break => S::Break,
            StmtKind::Continue => S::Continue,
            StmtKind::Select { cases } => return self.select(s, cases),
            StmtKind::Within {
                deadline,
                body,
                otherwise,
            } => S::Within {
                deadline: self.expr(deadline),
                body: self.block(&body.stmts),
                else_body: self.else_block(otherwise.as_ref()),
            },
        })
    }

    /// `name := value`: an assignment to the local the checker bound.
    fn bind(&mut self, s: &ast::Stmt, value: &ast::Expr) -> Option<ir::Stmt> {
        let Some(local) = self.bound_local(s.id) else {
            self.unsupported(s.span, "this binding", "");
            return None;
        };
        let mut v = self.expr(value);
        let want = self.fn_locals[local.0 as usize].ty.clone();
        self.fill_unknown(&mut v, &want);
        Some(S::Assign { local, value: v })
    }

    /// `for`: a counted loop over a range header, otherwise a loop over a list.
    fn for_loop(&mut self, s: &ast::Stmt, iter: &ast::Expr, body: &ast::Block) -> Option<ir::Stmt> {
        let Some(var) = self.prog.loop_vars.get(&s.id).copied() else {
            self.unsupported(s.span, "this loop", "");
            return None;
        };
        let var = self.local(var);
        Some(if let Some((a, b)) = self.range_bounds(iter) {
            let start = self.expr(a);
            let end = self.expr(b);
            S::ForRange {
                var,
                start,
                end,
                body: self.block(&body.stmts),
            }
        } else {
            let list = self.expr(iter);
            S::ForList {
                var,
                list,
                body: self.block(&body.stmts),
            }
        })
    }

    /// `[result =] task for`: the body runs per item as a task; `result` gets the yields.
    fn task_for(&mut self, s: &ast::Stmt, iter: &ast::Expr, body: &ast::Block) -> Option<ir::Stmt> {
        let Some(var) = self.prog.loop_vars.get(&s.id).copied() else {
            self.unsupported(s.span, "this `task for`", "");
            return None;
        };
        let var = self.local(var);
        let items = self.expr(iter);
        let result = self.bound_local(s.id);
        Some(S::TaskFor {
            var,
            items,
            body: self.block(&body.stmts),
            result,
        })
    }

    /// `range(a, b)` or `a..b` as a `for` header: its two bounds.
    fn range_bounds<'e>(&self, iter: &'e ast::Expr) -> Option<(&'e ast::Expr, &'e ast::Expr)> {
        match &iter.kind {
            ExprKind::Binary(BinOp::Range, a, b) => Some((a, b)),
            ExprKind::Call { args, .. }
                if self.prog.calls.get(&iter.id) == Some(&CallTarget::Builtin(Builtin::Range))
                    && args.len() == 2 =>
            {
                Some((&args[0].value, &args[1].value))
            }
            _ => None,
        }
    }

    /// `target op= value` where target is a name or a field path.
    fn assign(
        &mut self,
        s: &ast::Stmt,
        target: &ast::Expr,
        op: AssignOp,
        value: &ast::Expr,
    ) -> Option<ir::Stmt> {
        let mut v = self.expr(value);
        if op != AssignOp::Set {
            let cur = self.expr(target);
            let bop = match op {
                AssignOp::Add => BinOp::Add,
                AssignOp::Sub => BinOp::Sub,
                AssignOp::Mul => BinOp::Mul,
                AssignOp::Div => BinOp::Div,
                _ => BinOp::Rem,
            };
            let ty = match (&cur.ty, &v.ty) {
                (Type::Int, Type::Float) => Type::Float,
                (t, _) => t.clone(),
            };
            if ty != cur.ty {
                self.unsupported(
                    s.span,
                    "storing a float into an int variable",
                    "the variable keeps its int type; compute into a new float variable",
                );
                return None;
            }
            v = self.binary(bop, cur, v, ty, s.span);
        }
        self.store(target, v)
    }

    /// Stores `v` into the place `target` names: a local is assigned; a
    /// field or element path (`p.x`, `xs[i]`, `g.cells[i][j]`) becomes one
    /// in-place [`S::Store`] (copy-on-write when shared, see docs/runtime.md).
    fn store(&mut self, target: &ast::Expr, mut v: ir::Expr) -> Option<ir::Stmt> {
        let want = self.type_of(target);
        self.fill_unknown(&mut v, &want);
        let place = self.place(target)?;
        Some(if place.path.is_empty() {
            S::Assign {
                local: place.root,
                value: v,
            }
        } else {
            S::Store { place, value: v }
        })
    }

    /// The place an assignment target or an `append` receiver names: a
    /// local (or `self`), then fields and elements. `None` (with an error)
    /// for anything else.
    pub(super) fn place(&mut self, e: &ast::Expr) -> Option<ir::Place> {
        match &e.kind {
            ExprKind::Name(_) => match self.prog.names.get(&e.id) {
                Some(NameRef::Local(l)) => Some(self.local(*l).into()),
                _ => {
                    self.unsupported(e.span, "assigning to this name", "");
                    None
                }
            },
            ExprKind::SelfRef => match self.self_local {
                Some(local) => Some(local.into()),
                None => {
                    self.unsupported(e.span, "assigning to `self` here", "");
                    None
                }
            },
            ExprKind::Field { object, name } => {
                let field = match self.type_of(object) {
                    Type::Record(r) => self.prog.records[r.0 as usize]
                        .fields
                        .iter()
                        .position(|(f, _)| f == &name.name),
                    _ => None,
                };
                let Some(field) = field else {
                    self.unsupported(e.span, "assigning to this field", "");
                    return None;
                };
                let mut place = self.place(object)?;
                place.path.push(ir::Step::Field(index_u32(field)));
                Some(place)
            }
            ExprKind::Index { object, index } => {
                if !self.type_of(object).is_list() {
                    self.unsupported(e.span, "assigning to this element", "");
                    return None;
                }
                let mut place = self.place(object)?;
                let mut i = self.expr(index);
                // the bounds error points at the whole `xs[i]`
                i.loc = self.loc(e.span);
                place.path.push(ir::Step::Index(i));
                Some(place)
            }
            _ => {
                self.unsupported(
                    e.span,
                    "assigning to this expression",
                    "assign to a variable, a field or an element",
                );
                None
            }
        }
    }

    /// `select` with one call arm (an extern) and an optional
    /// `case ResourceExhausted:` arm.
    fn select(&mut self, s: &ast::Stmt, cases: &[ast::SelectCase]) -> Option<ir::Stmt> {
        let calls: Vec<&ast::SelectCase> = cases
            .iter()
            .filter(|c| matches!(c.kind, SelectCaseKind::Call { .. }))
            .collect();
        if calls.len() != 1 {
            self.unsupported(
                s.span,
                "`select` with more than one call arm",
                "the back end supports one `case [r =] extern_call(…):` arm plus `case ResourceExhausted:`",
            );
            return None;
        }
        let case = calls[0];
        let SelectCaseKind::Call { call, .. } = &case.kind else {
            return None;
        };
        let (ExprKind::Call { args, .. }, Some(CallTarget::Extern(x))) =
            (&call.kind, self.prog.calls.get(&call.id).copied())
        else {
            self.unsupported(
                call.span,
                "a `select` arm calling something other than an extern",
                "ResourceExhausted is the outcome of one extern call, and a Coex function cannot be left halfway; call the extern in the arm (a function that needs backpressure can use `select` itself)",
            );
            return None;
        };
        let target = self.bound_local(call.id);
        let want = self
            .externs
            .get(x.0 as usize)
            .map(|x| x.params.clone())
            .unwrap_or_default();
        let args: Vec<ir::Expr> = args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut v = self.expr(&a.value);
                if let Some(w) = want.get(i) {
                    self.fill_unknown(&mut v, w);
                }
                v
            })
            .collect();
        let body = self.block(&case.body.stmts);
        let exhausted = cases
            .iter()
            .find(|c| matches!(c.kind, SelectCaseKind::ResourceExhausted))
            .map(|c| self.block(&c.body.stmts))
            .unwrap_or_default();
        Some(S::Select {
            target,
            call: ir::ExternId(x.0),
            args,
            loc: self.loc(call.span),
            body,
            exhausted,
        })
    }
}
