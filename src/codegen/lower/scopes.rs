//! Which functions open an FFI scope (cxz-format.md §8): the outermost
//! active func invocation owns the instances, so every func that can reach
//! an FFI extern call (directly or through the funcs it calls, but not
//! through a task, which has its own scope) brackets its body with
//! `coex_ffi_scope_enter/exit`.

use crate::codegen::ir::{ExprKind, FuncKind, Program, Stmt};

/// Which functions open an FFI scope: funcs (and formulas, which never call
/// externs) that can reach an FFI extern call without entering a task.
pub(crate) fn scope_analysis(program: &Program) -> Vec<bool> {
    let n = program.functions.len();
    let mut direct = vec![false; n];
    let mut calls: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, f) in program.functions.iter().enumerate() {
        let mut v = ScopeVisitor {
            program,
            ffi: false,
            calls: Vec::new(),
        };
        v.stmts(&f.body);
        direct[i] = v.ffi;
        calls[i] = v.calls;
    }
    let mut needs = direct.clone();
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..n {
            if needs[i] || program.functions[i].kind == FuncKind::Task {
                continue;
            }
            if calls[i]
                .iter()
                .any(|&c| c < n && needs[c] && program.functions[c].kind != FuncKind::Task)
            {
                needs[i] = true;
                changed = true;
            }
        }
    }
    for (i, f) in program.functions.iter().enumerate() {
        if f.kind == FuncKind::Task {
            needs[i] = false;
        }
    }
    needs
}

struct ScopeVisitor<'p> {
    program: &'p Program,
    ffi: bool,
    calls: Vec<usize>,
}

impl ScopeVisitor<'_> {
    fn stmts(&mut self, body: &[Stmt]) {
        for s in body {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Assign { value, .. } => self.expr(value),
            Stmt::Store { place, value } => {
                self.expr(value);
                self.place(place);
            }
            Stmt::If {
                cond,
                then_body,
                else_body,
            } => {
                self.expr(cond);
                self.stmts(then_body);
                self.stmts(else_body);
            }
            Stmt::While { cond, body } => {
                self.expr(cond);
                self.stmts(body);
            }
            Stmt::ForRange {
                start, end, body, ..
            } => {
                self.expr(start);
                self.expr(end);
                self.stmts(body);
            }
            Stmt::ForList { list, body, .. } => {
                self.expr(list);
                self.stmts(body);
            }
            Stmt::Break | Stmt::Continue | Stmt::Return(None) => {}
            Stmt::Return(Some(e)) | Stmt::Expr(e) | Stmt::Yield(e) => self.expr(e),
            // the body runs in tasks with their own scopes
            Stmt::TaskFor { items, .. } => self.expr(items),
            Stmt::Select {
                call,
                args,
                body,
                exhausted,
                ..
            } => {
                self.extern_call(call.0 as usize);
                for a in args {
                    self.expr(a);
                }
                self.stmts(body);
                self.stmts(exhausted);
            }
            Stmt::Within {
                deadline,
                body,
                else_body,
            } => {
                self.expr(deadline);
                self.stmts(body);
                self.stmts(else_body);
            }
        }
    }

    fn extern_call(&mut self, index: usize) {
        if let Some(ext) = self.program.externs.get(index) {
            if ext.ffi.is_some() {
                self.ffi = true;
            }
        }
    }

    fn place(&mut self, place: &crate::codegen::ir::Place) {
        for step in &place.path {
            if let crate::codegen::ir::Step::Index(i) = step {
                self.expr(i);
            }
        }
    }

    fn expr(&mut self, e: &crate::codegen::ir::Expr) {
        use crate::codegen::ir::Builtin as B;
        match &e.kind {
            ExprKind::Lit(_) | ExprKind::Const(_) | ExprKind::Local(_) | ExprKind::Move(_) => {}
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Unary(_, a) | ExprKind::Field(a, _) => self.expr(a),
            ExprKind::Ternary(c, a, b) => {
                self.expr(c);
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Call(f, args) => {
                self.calls.push(f.0 as usize);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::CallExtern(x, args) => {
                self.extern_call(x.0 as usize);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::Record(_, args) | ExprKind::List(args) => {
                args.iter().for_each(|a| self.expr(a))
            }
            ExprKind::Builtin(b) => match b {
                B::Len(a) | B::ToString(a) | B::Print(a) | B::Arg(a) => self.expr(a),
                B::Append(place, a) => {
                    self.expr(a);
                    self.place(place);
                }
                B::ArgCount => {}
                B::Get(a, c) | B::Range(a, c) | B::Appended(a, c) => {
                    self.expr(a);
                    self.expr(c);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::ir::*;

    fn func(name: &str, kind: FuncKind, body: Vec<Stmt>) -> Function {
        Function {
            name: name.into(),
            kind,
            params: 0,
            locals: vec![],
            ret: Type::Void,
            body,
        }
    }

    fn call_stmt(kind: ExprKind) -> Stmt {
        Stmt::Expr(Expr {
            kind,
            ty: Type::Void,
            loc: SrcLoc::default(),
        })
    }

    /// main → helper → ffi extern: both funcs open a scope; a task calling
    /// the helper does not (it has its own), nor does its caller, nor a func
    /// that only calls a bare libc extern.
    #[test]
    fn scopes_follow_calls_but_stop_at_tasks() {
        let ext = |ffi| Extern {
            name: "x".into(),
            params: vec![],
            ret: Type::Void,
            ffi,
        };
        let program = Program {
            functions: vec![
                func(
                    "helper",
                    FuncKind::Func,
                    vec![call_stmt(ExprKind::CallExtern(ExternId(0), vec![]))],
                ),
                func(
                    "main",
                    FuncKind::Func,
                    vec![call_stmt(ExprKind::Call(FuncId(0), vec![]))],
                ),
                func(
                    "t",
                    FuncKind::Task,
                    vec![call_stmt(ExprKind::Call(FuncId(0), vec![]))],
                ),
                func(
                    "calls_task",
                    FuncKind::Func,
                    vec![call_stmt(ExprKind::Call(FuncId(2), vec![]))],
                ),
                func(
                    "libc_only",
                    FuncKind::Func,
                    vec![call_stmt(ExprKind::CallExtern(ExternId(1), vec![]))],
                ),
            ],
            externs: vec![ext(Some(FfiRef { unit: 0, symbol: 0 })), ext(None)],
            ..Program::default()
        };
        assert_eq!(
            scope_analysis(&program),
            vec![true, true, false, false, false]
        );
    }
}
