//! Statements. Compound assignment becomes plain assignment (`n += 1` →
//! `n = n + 1`); assigning a field (`p.x = 1`, `a.b.c += 2`) rebuilds the
//! records along the path, which is exactly value semantics for immutable
//! records; `xs[i] = v` rebuilds the list with one element replaced (the IR
//! has no element store); `for` over `range(a, b)` / `a..b` becomes a
//! counted loop.

use crate::codegen::ir::{self, ExprKind as K, Stmt as S, Type};
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

    /// Stores `v` into the place `target` names.
    fn store(&mut self, target: &ast::Expr, mut v: ir::Expr) -> Option<ir::Stmt> {
        match &target.kind {
            ExprKind::Name(_) => match self.prog.names.get(&target.id) {
                Some(NameRef::Local(l)) => {
                    let local = self.local(*l);
                    let want = self.fn_locals[local.0 as usize].ty.clone();
                    self.fill_unknown(&mut v, &want);
                    Some(S::Assign { local, value: v })
                }
                _ => {
                    self.unsupported(target.span, "assigning to this name", "");
                    None
                }
            },
            ExprKind::SelfRef => match self.self_local {
                Some(local) => Some(S::Assign { local, value: v }),
                None => {
                    self.unsupported(target.span, "assigning to `self` here", "");
                    None
                }
            },
            ExprKind::Field { object, name } => {
                // object.name = v  ==>  object = Rec(object.f0, …, v, …)
                let obj = self.expr(object);
                let Type::Record(r) = obj.ty.clone() else {
                    self.unsupported(target.span, "assigning to this field", "");
                    return None;
                };
                let fields = self.prog.records[r.0 as usize].fields.clone();
                let mut parts = Vec::new();
                for (i, (fname, fty)) in fields.iter().enumerate() {
                    if fname == &name.name {
                        let mut v = v.clone();
                        let want = self.ty(fty);
                        self.fill_unknown(&mut v, &want);
                        parts.push(v);
                    } else {
                        parts.push(ir::Expr {
                            kind: K::Field(Box::new(obj.clone()), index_u32(i)),
                            ty: self.ty(fty),
                            loc: obj.loc.clone(),
                        });
                    }
                }
                let rebuilt = ir::Expr {
                    kind: K::Record(r, parts),
                    ty: Type::Record(r),
                    loc: self.loc(target.span),
                };
                self.store(object, rebuilt)
            }
            ExprKind::Index { object, index } => self.store_index(target, object, index, v),
            _ => {
                self.unsupported(target.span, "assigning to this expression", "");
                None
            }
        }
    }

    /// A fresh IR local the bridge needs (not a source variable).
    fn temp(&mut self, name: &str, ty: Type) -> ir::LocalId {
        self.fn_locals.push(ir::Local {
            name: format!("<{name}>"),
            ty,
        });
        ir::LocalId(index_u32(self.fn_locals.len() - 1))
    }

    fn local_expr(&self, l: ir::LocalId, loc: &ir::SrcLoc) -> ir::Expr {
        ir::Expr {
            kind: K::Local(l),
            ty: self.fn_locals[l.0 as usize].ty.clone(),
            loc: loc.clone(),
        }
    }

    /// `object[index] = v`: lists are values, so the list is rebuilt with
    /// the one element replaced (O(length)), after the same bounds check as
    /// reading `object[index]`, then stored back into `object` (a local, a
    /// field path or another element). The statements are grouped in an
    /// `if true` block.
    fn store_index(
        &mut self,
        target: &ast::Expr,
        object: &ast::Expr,
        index: &ast::Expr,
        v: ir::Expr,
    ) -> Option<ir::Stmt> {
        let list = self.expr(object);
        let Type::List(elem) = list.ty.clone() else {
            self.unsupported(target.span, "assigning to this element", "");
            return None;
        };
        let loc = self.loc(target.span);
        let mk = |kind: K, ty: Type| ir::Expr {
            kind,
            ty,
            loc: loc.clone(),
        };
        let t = ElementStore {
            index: self.temp("index", Type::Int),
            value: self.temp("value", (*elem).clone()),
            out: self.temp("list", list.ty.clone()),
            k: self.temp("k", Type::Int),
        };
        let idx = self.expr(index);
        let mut v = v;
        self.fill_unknown(&mut v, &elem);
        let mut stmts = vec![
            S::Assign {
                local: t.index,
                value: idx,
            },
            S::Assign {
                local: t.value,
                value: v,
            },
            // Bounds check: reading the element fails exactly as `xs[i]` does.
            S::Expr(mk(
                K::Index(
                    Box::new(list.clone()),
                    Box::new(self.local_expr(t.index, &loc)),
                ),
                (*elem).clone(),
            )),
            S::Assign {
                local: t.out,
                value: mk(K::List(Vec::new()), list.ty.clone()),
            },
        ];
        stmts.push(self.copy_replacing(&list, &elem, &t, &loc));
        stmts.push(self.store(object, self.local_expr(t.out, &loc))?);
        Some(S::If {
            cond: mk(K::Lit(ir::Literal::Bool(true)), Type::Bool),
            then_body: stmts,
            else_body: Vec::new(),
        })
    }

    /// The loop of an element store: appends each element of `list` to
    /// `t.out`, taking `t.value` instead at position `t.index`.
    fn copy_replacing(
        &self,
        list: &ir::Expr,
        elem: &Type,
        t: &ElementStore,
        loc: &ir::SrcLoc,
    ) -> ir::Stmt {
        let mk = |kind: K, ty: Type| ir::Expr {
            kind,
            ty,
            loc: loc.clone(),
        };
        let lk = self.local_expr(t.k, loc);
        let pick = mk(
            K::Ternary(
                Box::new(mk(
                    K::Binary(
                        ir::BinOp::Eq,
                        Box::new(lk.clone()),
                        Box::new(self.local_expr(t.index, loc)),
                    ),
                    Type::Bool,
                )),
                Box::new(self.local_expr(t.value, loc)),
                Box::new(mk(
                    K::Index(Box::new(list.clone()), Box::new(lk)),
                    elem.clone(),
                )),
            ),
            elem.clone(),
        );
        S::ForRange {
            var: t.k,
            start: mk(K::Lit(ir::Literal::Int(0)), Type::Int),
            end: mk(
                K::Builtin(ir::Builtin::Len(Box::new(list.clone()))),
                Type::Int,
            ),
            body: vec![S::Expr(mk(
                K::Builtin(ir::Builtin::Append(t.out, Box::new(pick))),
                list.ty.clone(),
            ))],
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
                "a `select` arm waits for an FFI instance; call an extern of a library there",
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

/// The temporaries of `xs[i] = v`: the index and value (each evaluated
/// once), the rebuilt list and the copy loop's counter.
struct ElementStore {
    index: ir::LocalId,
    value: ir::LocalId,
    out: ir::LocalId,
    k: ir::LocalId,
}
