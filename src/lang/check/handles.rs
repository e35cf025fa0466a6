//! The task rule on parent FFI handles: which locals hold a handle, and
//! where a task could reach one.
//!
//! **Holds an FFI handle** (the task rule's definition). Inside a function
//! body, a local holds an FFI handle when it is bound or assigned from an
//! expression that contains
//! - a call to a *library* extern returning `int` (an extern of a `.cxz`
//!   library; bare libc externs like `abs` have no FFI instance),
//! - a read of a local that holds an FFI handle (values derived from one:
//!   `h2 = h + 1`, `r = Handle(h)`, a loop over a list of handles), or
//! - a call to a function or method that returns such a value (a function
//!   *returns a handle* when one of its `return` values holds one; this is
//!   computed to a fixed point across all functions, libraries included).
//!
//! Parameters never hold handles (their values belong to the caller). A
//! `task for` body may not read a local of the enclosing function that
//! holds a handle; a func may not pass one to a `task` function.
use crate::lang::span::index_u32;
use std::collections::BTreeSet;

use super::Checker;
use crate::lang::ast::{Block, Expr, ExprKind, FuncKind, SelectCaseKind, Stmt, StmtKind};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::program::{CallTarget, NameRef};
use crate::lang::span::Span;
use crate::lang::types::{FuncId, LocalId, Ty};

fn handle_body(var: &str) -> String {
    format!(
        "The variable '{var}' holds an FFI handle created in the parent func.
Tasks have isolated FFI instances and cannot use handles from parent scopes.

To use FFI in a task, call the extern function directly within the task:

    task for doc in docs
        r = regex_compile(pattern)  # Creates task-local instance
        result = regex_find_all(r, doc)
        regex_free(r)
        yield result
    ~

This creates an isolated FFI instance per task, enabling safe parallel
execution of thread-unsafe foreign code."
    )
}

/// Visits every expression of a block (not descending into nested blocks'
/// statements' own handling: the callback sees statements too).
fn walk_block(b: &Block, f: &mut dyn FnMut(&Stmt)) {
    for s in &b.stmts {
        f(s);
        match &s.kind {
            StmtKind::If {
                then, otherwise, ..
            } => {
                walk_block(then, f);
                if let Some(o) = otherwise {
                    walk_block(o, f);
                }
            }
            StmtKind::While { body, .. }
            | StmtKind::For { body, .. }
            | StmtKind::TaskFor { body, .. } => walk_block(body, f),
            StmtKind::Select { cases } => {
                for c in cases {
                    walk_block(&c.body, f);
                }
            }
            StmtKind::Within {
                body, otherwise, ..
            } => {
                walk_block(body, f);
                if let Some(o) = otherwise {
                    walk_block(o, f);
                }
            }
            _ => {}
        }
    }
}

/// The expressions directly owned by a statement.
fn stmt_exprs(s: &Stmt) -> Vec<&Expr> {
    match &s.kind {
        StmtKind::Bind { value, .. } => vec![value],
        StmtKind::Assign { target, value, .. } => vec![target, value],
        StmtKind::Expr(e) | StmtKind::Yield(e) => vec![e],
        StmtKind::Return(e) => e.iter().collect(),
        StmtKind::If { cond, .. } | StmtKind::While { cond, .. } => vec![cond],
        StmtKind::For { iter, .. } | StmtKind::TaskFor { iter, .. } => vec![iter],
        StmtKind::Select { cases } => cases
            .iter()
            .filter_map(|c| match &c.kind {
                SelectCaseKind::Call { call, .. } => Some(call),
                SelectCaseKind::ResourceExhausted => None,
            })
            .collect(),
        StmtKind::Within { deadline, .. } => vec![deadline],
        StmtKind::Break | StmtKind::Continue => vec![],
    }
}

fn walk_expr<'e>(e: &'e Expr, f: &mut dyn FnMut(&'e Expr)) {
    f(e);
    match &e.kind {
        ExprKind::List(items) => items.iter().for_each(|i| walk_expr(i, f)),
        ExprKind::Unary(_, a) => walk_expr(a, f),
        ExprKind::Binary(_, a, b) => {
            walk_expr(a, f);
            walk_expr(b, f);
        }
        ExprKind::Ternary(a, b, c) => {
            walk_expr(a, f);
            walk_expr(b, f);
            walk_expr(c, f);
        }
        ExprKind::Call { callee, args } => {
            walk_expr(callee, f);
            args.iter().for_each(|a| walk_expr(&a.value, f));
        }
        ExprKind::Field { object, .. } => walk_expr(object, f),
        ExprKind::Index { object, index } => {
            walk_expr(object, f);
            walk_expr(index, f);
        }
        _ => {}
    }
}

impl Checker {
    /// Whether `e` holds an FFI handle (see the module doc for the definition).
    fn expr_holds_handle(&self, e: &Expr, tainted: &BTreeSet<LocalId>) -> bool {
        let mut found = false;
        walk_expr(e, &mut |x| match &x.kind {
            ExprKind::Name(_) => {
                if let Some(NameRef::Local(l)) = self.prog.names.get(&x.id) {
                    found |= tainted.contains(l);
                }
            }
            ExprKind::Call { .. } => match self.prog.calls.get(&x.id) {
                Some(CallTarget::Extern(id)) => {
                    let ext = self.ext(*id);
                    found |= ext.library.is_some() && ext.ret == Ty::Int;
                }
                Some(
                    CallTarget::Function(f)
                    | CallTarget::StaticMethod(f)
                    | CallTarget::InstanceMethod(f),
                ) => {
                    found |= self.func(*f).returns_handle;
                }
                _ => {}
            },
            _ => {}
        });
        found
    }

    /// Propagates handle-holding through one function; returns whether
    /// anything changed.
    fn taint_function(&mut self, id: FuncId, tainted: &mut BTreeSet<LocalId>) -> bool {
        let ast = std::sync::Arc::clone(&self.ast);
        let Some(decl) =
            crate::lang::program::func_decl_in(&ast, &self.prog.functions[id.0 as usize])
        else {
            return false;
        };
        let mut changed = false;
        let mut returns = false;
        loop {
            let mut round = false;
            walk_block(&decl.body, &mut |s| {
                let mut add = |l: LocalId, t: &mut BTreeSet<LocalId>| {
                    if t.insert(l) {
                        round = true;
                    }
                };
                match &s.kind {
                    StmtKind::Bind { value, .. } if self.expr_holds_handle(value, tainted) => {
                        if let Some(b) = self.prog.bindings.get(&s.id) {
                            add(b.local, tainted);
                        }
                    }
                    StmtKind::Assign { target, value, .. }
                        if self.expr_holds_handle(value, tainted) =>
                    {
                        let mut root = target;
                        while let ExprKind::Field { object, .. } | ExprKind::Index { object, .. } =
                            &root.kind
                        {
                            root = object;
                        }
                        if let Some(NameRef::Local(l)) = self.prog.names.get(&root.id) {
                            add(*l, tainted);
                        }
                    }
                    StmtKind::For { iter, .. } if self.expr_holds_handle(iter, tainted) => {
                        if let Some(l) = self.prog.loop_vars.get(&s.id) {
                            add(*l, tainted);
                        }
                    }
                    StmtKind::Select { cases } => {
                        for c in cases {
                            if let SelectCaseKind::Call { call, .. } = &c.kind {
                                if self.expr_holds_handle(call, tainted) {
                                    if let Some(b) = self.prog.bindings.get(&call.id) {
                                        add(b.local, tainted);
                                    }
                                }
                            }
                        }
                    }
                    StmtKind::Return(Some(v)) => {
                        returns |= self.expr_holds_handle(v, tainted);
                    }
                    _ => {}
                }
            });
            changed |= round;
            if !round {
                break;
            }
        }
        if returns && !self.prog.functions[id.0 as usize].returns_handle {
            self.prog.functions[id.0 as usize].returns_handle = true;
            changed = true;
        }
        changed
    }

    /// The task rule: no handle of the parent func inside a `task for`
    /// body, none passed to a task function.
    pub(crate) fn check_task_handles(&mut self) {
        let ids: Vec<FuncId> = (0..index_u32(self.prog.functions.len()))
            .map(FuncId)
            .collect();
        let tainted = self.handle_locals(&ids);
        if tainted.is_empty() {
            return;
        }
        for &id in &ids {
            let kind = self.func(id).kind;
            if kind == FuncKind::Formula {
                continue;
            }
            let ast = std::sync::Arc::clone(&self.ast);
            let Some(decl) =
                crate::lang::program::func_decl_in(&ast, &self.prog.functions[id.0 as usize])
            else {
                continue;
            };
            let mut errors: Vec<(Span, String)> = Vec::new();
            walk_block(&decl.body, &mut |s| {
                if let StmtKind::TaskFor { body, .. } = &s.kind {
                    self.handles_read_in_task_for(s, body, &tainted, &mut errors);
                }
                if kind == FuncKind::Func {
                    self.handles_passed_to_tasks(s, &tainted, &mut errors);
                }
            });
            for (span, var) in errors {
                self.error(
                    Diagnostic::error(span, "Task cannot access parent func's FFI handle")
                        .with_body(handle_body(&var)),
                );
            }
        }
    }

    /// Every local that holds an FFI handle, to a fixed point across functions.
    fn handle_locals(&mut self, ids: &[FuncId]) -> BTreeSet<LocalId> {
        let mut tainted = BTreeSet::new();
        loop {
            let mut changed = false;
            for &id in ids {
                if self.func(id).kind != FuncKind::Formula {
                    changed |= self.taint_function(id, &mut tainted);
                }
            }
            if !changed {
                return tainted;
            }
        }
    }

    /// The locals a `task for` owns: its loop variable and everything bound
    /// inside its body.
    fn task_for_locals(&self, s: &Stmt, body: &Block) -> BTreeSet<LocalId> {
        let mut inner: BTreeSet<LocalId> = BTreeSet::new();
        if let Some(l) = self.prog.loop_vars.get(&s.id) {
            inner.insert(*l);
        }
        walk_block(body, &mut |t| {
            if let Some(b) = self.prog.bindings.get(&t.id) {
                inner.insert(b.local);
            }
            if let Some(l) = self.prog.loop_vars.get(&t.id) {
                inner.insert(*l);
            }
            if let StmtKind::Select { cases } = &t.kind {
                for c in cases {
                    if let SelectCaseKind::Call { call, .. } = &c.kind {
                        if let Some(b) = self.prog.bindings.get(&call.id) {
                            inner.insert(b.local);
                        }
                    }
                }
            }
        });
        inner
    }

    /// First reads, inside a `task for` body, of each handle-holding local
    /// of the enclosing function.
    fn handles_read_in_task_for(
        &self,
        s: &Stmt,
        body: &Block,
        tainted: &BTreeSet<LocalId>,
        errors: &mut Vec<(Span, String)>,
    ) {
        let inner = self.task_for_locals(s, body);
        let mut named: BTreeSet<LocalId> = BTreeSet::new();
        walk_block(body, &mut |t| {
            for e in stmt_exprs(t) {
                walk_expr(e, &mut |x| {
                    if let Some(NameRef::Local(l)) = self.prog.names.get(&x.id) {
                        if tainted.contains(l) && !inner.contains(l) && named.insert(*l) {
                            errors.push((x.span, self.prog.locals[l.0 as usize].name.clone()));
                        }
                    }
                });
            }
        });
    }

    /// Handle-holding locals among the arguments (or receiver) of calls to
    /// `task` functions in statement `s`.
    fn handles_passed_to_tasks(
        &self,
        s: &Stmt,
        tainted: &BTreeSet<LocalId>,
        errors: &mut Vec<(Span, String)>,
    ) {
        for e in stmt_exprs(s) {
            walk_expr(e, &mut |x| {
                let ExprKind::Call { callee, args } = &x.kind else {
                    return;
                };
                let target = match self.prog.calls.get(&x.id) {
                    Some(
                        CallTarget::Function(f)
                        | CallTarget::StaticMethod(f)
                        | CallTarget::InstanceMethod(f),
                    ) => *f,
                    _ => return,
                };
                if self.func(target).kind != FuncKind::Task {
                    return;
                }
                let mut operands: Vec<&Expr> = args.iter().map(|a| &a.value).collect();
                if let ExprKind::Field { object, .. } = &callee.kind {
                    operands.push(object);
                }
                for op in operands {
                    walk_expr(op, &mut |y| {
                        if let Some(NameRef::Local(l)) = self.prog.names.get(&y.id) {
                            if tainted.contains(l) {
                                errors.push((y.span, self.prog.locals[l.0 as usize].name.clone()));
                            }
                        }
                    });
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::lang::{
        check_source, LibraryModules, LibraryResolver, ManifestSymbol, ResolveError,
    };

    /// One library `ffi` with `open(string) -> int` and `count(int) -> int`.
    struct OneLibrary;

    impl LibraryResolver for OneLibrary {
        fn resolve(&self, _spec: &str, _from: &Path) -> Result<LibraryModules, ResolveError> {
            let sym = |name: &str, p: &str| ManifestSymbol {
                name: name.into(),
                params: vec![p.into()],
                returns: "int".into(),
            };
            Ok(LibraryModules {
                name: "ffi".into(),
                modules: vec![(
                    "src/ffi.coex".into(),
                    "extern open(p: string) -> int\n~\nextern count(h: int) -> int\n~\n".into(),
                )],
                symbols: vec![sym("open", "string"), sym("count", "int")],
            })
        }
    }

    fn handle_errors(body: &str) -> Vec<String> {
        let src = format!("import \"ffi\"\nextern abs(x: int) -> int\n~\nfunc f(param: int)\n    xs = [1, 2]\n{body}~\n");
        let (prog, diags) = check_source("t.coex", &src, &OneLibrary);
        diags
            .iter()
            .filter(|d| d.message == "Task cannot access parent func's FFI handle")
            .map(|d| {
                let (_, line, col) = prog.sources.location(d.span.file, d.span.start as usize);
                format!("{line}:{col}")
            })
            .collect()
    }

    #[test]
    fn library_extern_results_and_values_derived_from_them_are_handles() {
        let body = "    h = open(\"x\")\n    rec = [h, 1]\n    r = task for x in xs\n        yield rec.len() + x\n    ~\n";
        assert_eq!(handle_errors(body), vec!["9:15"]);
    }

    #[test]
    fn libc_externs_and_parameters_are_not_handles() {
        let body =
            "    n = abs(-3)\n    r = task for x in xs\n        yield n + param + x\n    ~\n";
        assert!(handle_errors(body).is_empty());
    }

    #[test]
    fn a_handle_created_inside_the_task_is_fine() {
        let body = "    r = task for x in xs\n        h = open(\"x\")\n        yield count(h) + x\n    ~\n";
        assert!(handle_errors(body).is_empty());
    }
}
