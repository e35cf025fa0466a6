//! Function bodies: scopes, bindings, statements, loops, `task for`,
//! `select`, `within`, `return`. Expressions are in `exprs/`.

use crate::lang::span::index_u32;
use std::collections::BTreeMap;

use super::{Checker, ConstState, Global};
use crate::lang::ast::{
    AssignOp, Block, Expr, ExprKind, FuncKind, Ident, Item, Stmt, StmtKind, TypeExpr,
};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::loader::UnitId;
use crate::lang::program::{Binding, NameRef};
use crate::lang::span::Span;
use crate::lang::types::{ConstId, FuncId, LocalId, RecordId, Ty};

/// One lexical block's locals.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    pub vars: BTreeMap<String, LocalId>,
    /// This scope is the body of a `task for`: locals outside it belong to
    /// the parent and are read-only copies inside.
    pub task_boundary: bool,
}

/// State of one enclosing `task for`.
#[derive(Debug)]
pub(crate) struct TaskFrame {
    pub yield_ty: Option<Ty>,
    pub loops_at_entry: usize,
}

/// Everything the checker knows about the body being checked.
pub(crate) struct FnCx {
    pub func: Option<FuncId>,
    pub unit: UnitId,
    pub kind: FuncKind,
    pub name: String,
    pub owner: Option<RecordId>,
    /// Whether `self` may be used (methods).
    pub ret: Ty,
    pub scopes: Vec<Scope>,
    pub loops: usize,
    pub tasks: Vec<TaskFrame>,
    /// Checking a const initializer: no locals, no calls.
    pub const_mode: bool,
}

impl FnCx {
    /// Finds a visible local; also says whether it lies outside the
    /// innermost `task for` body.
    pub fn lookup(&self, name: &str) -> Option<(LocalId, bool)> {
        let mut crossed = false;
        for scope in self.scopes.iter().rev() {
            if let Some(&id) = scope.vars.get(name) {
                return Some((id, crossed));
            }
            if scope.task_boundary {
                crossed = true;
            }
        }
        None
    }

    /// All visible local names (for suggestions).
    pub fn visible(&self) -> Vec<String> {
        self.scopes
            .iter()
            .flat_map(|s| s.vars.keys().cloned())
            .collect()
    }
}

impl Checker {
    /// Types every const (on demand, so order does not matter).
    pub(crate) fn check_consts(&mut self) {
        for c in 0..self.prog.consts.len() {
            self.const_type(ConstId(index_u32(c)));
        }
    }

    /// The type of a const, checking its initializer if needed.
    pub(crate) fn const_type(&mut self, id: ConstId) -> Ty {
        let c = id.0 as usize;
        match self.const_state[c] {
            ConstState::Done => return self.prog.consts[c].ty.clone(),
            ConstState::InProgress => {
                let info = self.konst(id).clone();
                self.error(
                    Diagnostic::error(
                        info.span,
                        format!("const `{}` is defined in terms of itself", info.name),
                    )
                    .with_help("a const's value may use other consts, but not in a cycle"),
                );
                self.const_state[c] = ConstState::Done;
                return Ty::Unknown;
            }
            ConstState::Pending => {}
        }
        self.const_state[c] = ConstState::InProgress;
        let info = self.konst(id).clone();
        let ast = std::sync::Arc::clone(&self.ast);
        let unit = ast[info.module].unit;
        let Item::Const(decl) = &ast[info.module].ast.items[info.item] else {
            return Ty::Unknown;
        };
        let mut cx = FnCx {
            func: None,
            unit,
            kind: FuncKind::Formula,
            name: info.name.clone(),
            owner: None,
            ret: Ty::Void,
            scopes: vec![Scope::default()],
            loops: 0,
            tasks: Vec::new(),
            const_mode: true,
        };
        let vty = self.expr(&mut cx, &decl.value);
        let ty = match &decl.ty {
            Some(t) => {
                let want = self.resolve_type(unit, t);
                self.expect_fits(&vty, &want, decl.value.span, "the const's stated type");
                want
            }
            None => vty,
        };
        if self.const_state[c] == ConstState::InProgress {
            self.prog.consts[c].ty = ty.clone();
            self.const_state[c] = ConstState::Done;
        }
        self.prog.consts[c].ty.clone()
    }

    /// Reports a type mismatch unless `got` fits `want`.
    pub(crate) fn expect_fits(
        &mut self,
        got: &Ty,
        want: &Ty,
        span: crate::lang::span::Span,
        what: &str,
    ) -> bool {
        if got.fits(want) {
            return true;
        }
        let (g, w) = (self.show(got), self.show(want));
        let mut d = Diagnostic::error(
            span,
            format!("type mismatch: expected {w} for {what}, found {g}"),
        );
        if *want == Ty::String && matches!(got, Ty::Int | Ty::Float | Ty::Bool) {
            d = d.with_help("convert it with `.to_string()`");
        }
        if *want == Ty::Float && *got == Ty::Int {
            d = d.with_help("write a float literal such as `1.0`");
        }
        self.error(d);
        false
    }

    /// Checks every function and method body.
    pub(crate) fn check_bodies(&mut self) {
        let ast = std::sync::Arc::clone(&self.ast);
        for (id, decl) in self.declared_functions(&ast) {
            let info = self.func(id).clone();
            let mut scope = Scope::default();
            for (p, local) in decl.params.iter().zip(&info.params) {
                scope.vars.insert(p.name.name.clone(), *local);
            }
            let mut cx = FnCx {
                func: Some(id),
                unit: info.unit,
                kind: info.kind,
                name: info.name.clone(),
                owner: info.owner,
                ret: info.ret.clone(),
                scopes: vec![scope],
                loops: 0,
                tasks: Vec::new(),
                const_mode: false,
            };
            let first_local = self.prog.locals.len();
            self.block_in(&mut cx, &decl.body, false);
            self.check_returns(decl, &info.ret);
            // Locals whose type never became known (`xs = []` never used).
            for l in first_local..self.prog.locals.len() {
                let local = self.prog.locals[l].clone();
                if matches!(local.ty, Ty::List(_)) && local.ty.has_unknown() {
                    self.error(
                        Diagnostic::error(
                            local.span,
                            format!("cannot infer the type of `{}`", local.name),
                        )
                        .with_help(format!(
                            "state it, for example `{}: [int] = []`",
                            local.name
                        )),
                    );
                }
            }
        }
    }

    pub(super) fn block_in(&mut self, cx: &mut FnCx, block: &Block, task_boundary: bool) {
        cx.scopes.push(Scope {
            vars: BTreeMap::new(),
            task_boundary,
        });
        for s in &block.stmts {
            self.stmt(cx, s);
        }
        cx.scopes.pop();
    }

    pub(super) fn declare(&mut self, cx: &mut FnCx, name: &Ident, ty: Ty) -> LocalId {
        let id = self.new_local(&name.name, ty, cx.func, false, name.span);
        if let Some(scope) = cx.scopes.last_mut() {
            scope.vars.insert(name.name.clone(), id);
        }
        id
    }

    /// Binds `name` to a value of type `vty` (declaring or rebinding).
    pub(super) fn bind(
        &mut self,
        cx: &mut FnCx,
        stmt_id: crate::lang::ast::NodeId,
        name: &Ident,
        stated: &Option<TypeExpr>,
        vty: Ty,
        vspan: crate::lang::span::Span,
    ) {
        if matches!(
            self.lookup_global(cx.unit, &name.name),
            Some(Global::Const(_))
        ) && cx.lookup(&name.name).is_none()
        {
            self.error(
                Diagnostic::error(name.span, format!("cannot assign to const `{}`", name.name))
                    .with_help("consts never change; bind a local with another name"),
            );
            return;
        }
        if vty == Ty::Void {
            self.error(
                Diagnostic::error(vspan, "this expression produces no value")
                    .with_help("only values can be bound to a name"),
            );
        }
        let stated_ty = stated.as_ref().map(|t| self.resolve_type(cx.unit, t));
        if let Some((local, crossed)) = cx.lookup(&name.name) {
            if crossed {
                self.error(
                    Diagnostic::error(name.span, format!("a `task for` body cannot assign to `{}` of the enclosing function", name.name))
                        .with_help("each iteration is an isolated task; `yield` the value and bind the `task for` result instead"),
                );
                return;
            }
            self.rebind(stmt_id, name, local, stated_ty.as_ref(), &vty, vspan);
            return;
        }
        let ty = match stated_ty {
            Some(st) => {
                self.expect_fits(&vty, &st, vspan, &format!("`{}`", name.name));
                st.join(&vty)
            }
            None => {
                if vty == Ty::Void {
                    Ty::Unknown
                } else {
                    vty
                }
            }
        };
        let local = self.declare(cx, name, ty);
        self.prog.bindings.insert(
            stmt_id,
            Binding {
                local,
                declares: true,
            },
        );
    }

    /// Binding to a name that is already a visible local of this task:
    /// refused when restated with another type; otherwise the local's type
    /// widens to take the value.
    fn rebind(
        &mut self,
        stmt_id: crate::lang::ast::NodeId,
        name: &Ident,
        local: LocalId,
        stated_ty: Option<&Ty>,
        vty: &Ty,
        vspan: crate::lang::span::Span,
    ) {
        let lty = self.prog.locals[local.0 as usize].ty.clone();
        if let Some(st) = stated_ty {
            if !st.fits(&lty) {
                let (a, b) = (self.show(st), self.show(&lty));
                self.error(Diagnostic::error(
                    name.span,
                    format!(
                        "`{}` already has type {b}; it cannot be restated as {a}",
                        name.name
                    ),
                ));
                return;
            }
        }
        if self.expect_fits(vty, &lty, vspan, &format!("`{}`", name.name)) {
            self.prog.locals[local.0 as usize].ty = lty.join(vty);
        }
        self.prog.bindings.insert(
            stmt_id,
            Binding {
                local,
                declares: false,
            },
        );
    }

    /// Checks one statement; each kind that steers control has its own
    /// method in `control.rs`.
    pub(super) fn stmt(&mut self, cx: &mut FnCx, s: &Stmt) {
        match &s.kind {
            StmtKind::Bind { name, ty, value } => {
                let vty = self.expr(cx, value);
                self.bind(cx, s.id, name, ty, vty, value.span);
            }
            StmtKind::Assign { target, op, value } => self.assign(cx, target, *op, value),
            StmtKind::Expr(e) => {
                self.expr(cx, e);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.condition(cx, cond, "`if`");
                self.block_in(cx, then, false);
                if let Some(o) = otherwise {
                    self.block_in(cx, o, false);
                }
            }
            StmtKind::While { cond, body } => self.while_stmt(cx, s, cond, body),
            StmtKind::For { var, iter, body } => self.for_stmt(cx, s, var, iter, body),
            StmtKind::TaskFor {
                target,
                var,
                iter,
                body,
            } => self.task_for_stmt(cx, s, target.as_ref(), var, iter, body),
            StmtKind::Yield(e) => {
                let ty = self.expr(cx, e);
                self.yield_stmt(cx, s.span, ty, e.span);
            }
            StmtKind::Return(value) => self.return_stmt(cx, s, value.as_ref()),
            StmtKind::Break | StmtKind::Continue => self.break_continue(cx, s),
            StmtKind::Select { cases } => self.select_stmt(cx, s, cases),
            StmtKind::Within {
                deadline,
                body,
                otherwise,
            } => self.within_stmt(cx, deadline, body, otherwise.as_ref()),
        }
    }

    pub(super) fn condition(&mut self, cx: &mut FnCx, cond: &Expr, what: &str) {
        let ty = self.expr(cx, cond);
        self.require_type(&ty, &Ty::Bool, |t| {
            Diagnostic::error(
                cond.span,
                format!("the condition of {what} must be a bool, found {t}"),
            )
            .with_help("compare explicitly, e.g. `n != 0`")
        });
    }

    /// Reports `diag(the type shown)` unless `ty` fits `want`: conditions,
    /// indexes, deadlines and `range` bounds check their operand this way.
    pub(super) fn require_type(
        &mut self,
        ty: &Ty,
        want: &Ty,
        diag: impl FnOnce(String) -> Diagnostic,
    ) {
        if !ty.fits(want) {
            let t = self.show(ty);
            self.error(diag(t));
        }
    }

    /// Reports a list index that is not an int (`xs[i]` and `get(xs, i)`).
    pub(super) fn require_index(&mut self, ty: &Ty, at: Span) {
        self.require_type(ty, &Ty::Int, |s| {
            Diagnostic::error(at, format!("a list index must be an int, found {s}"))
        });
    }

    /// The element type of what a `for` iterates over.
    pub(super) fn iterable(&mut self, cx: &mut FnCx, iter: &Expr) -> Ty {
        let ty = self.expr(cx, iter);
        match ty {
            Ty::List(e) => *e,
            Ty::Unknown => Ty::Unknown,
            other => {
                let t = self.show(&other);
                self.error(
                    Diagnostic::error(
                        iter.span,
                        format!("cannot iterate over a value of type {t}"),
                    )
                    .with_help("iterate over a list, `range(a, b)` or `a..b`"),
                );
                Ty::Unknown
            }
        }
    }

    fn assign(&mut self, cx: &mut FnCx, target: &Expr, op: AssignOp, value: &Expr) {
        // The root variable of `x`, `x.f`, `x[i].f`, …
        let mut root = target;
        while let ExprKind::Field { object, .. } | ExprKind::Index { object, .. } = &root.kind {
            root = object;
        }
        if let ExprKind::Name(n) = &root.kind {
            if let Some((_, true)) = cx.lookup(n) {
                self.error(
                    Diagnostic::error(target.span, format!("a `task for` body cannot assign to `{n}` of the enclosing function"))
                        .with_help("each iteration is an isolated task; `yield` the value and bind the `task for` result instead"),
                );
            }
            if cx.lookup(n).is_none()
                && matches!(self.lookup_global(cx.unit, n), Some(Global::Const(_)))
            {
                self.error(Diagnostic::error(
                    root.span,
                    format!("cannot assign to const `{n}`"),
                ));
                return;
            }
        }
        let tty = self.expr(cx, target);
        let vty = self.expr(cx, value);
        if op == AssignOp::Set {
            self.expect_fits(&vty, &tty, value.span, "the assignment");
            return;
        }
        let bin = match op {
            AssignOp::Add => crate::lang::ast::BinOp::Add,
            AssignOp::Sub => crate::lang::ast::BinOp::Sub,
            AssignOp::Mul => crate::lang::ast::BinOp::Mul,
            AssignOp::Div => crate::lang::ast::BinOp::Div,
            AssignOp::Rem => crate::lang::ast::BinOp::Rem,
            AssignOp::Set => return,
        };
        let span = target.span.to(value.span);
        let result = self.binary_type(bin, &tty, &vty, span);
        self.expect_fits(&result, &tty, span, "the compound assignment");
    }

    /// Records a name expression's resolution.
    pub(crate) fn note_name(&mut self, id: crate::lang::ast::NodeId, r: NameRef) {
        self.prog.names.insert(id, r);
    }
}
