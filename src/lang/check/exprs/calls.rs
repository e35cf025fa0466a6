//! Calls: functions, externs, constructors and static methods by name, and
//! the matching of arguments to parameters.

use super::super::stmts::FnCx;
use super::super::{did_you_mean, CallEdge, Checker, Global};
use crate::lang::ast::{Arg, Expr, ExprKind, Ident};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::program::CallTarget;
use crate::lang::types::{ExternId, FuncId, RecordId, Ty};

const BUILTIN_FUNCS: [&str; 8] = [
    "print",
    "range",
    "len",
    "get",
    "append",
    "to_string",
    "arg_count",
    "arg",
];

/// What the arguments of one call have filled so far.
struct ArgFill {
    /// Parameter slots in argument order (recorded when any is named).
    order: Vec<usize>,
    filled: Vec<bool>,
    any_named: bool,
    /// No argument was misplaced, so the count check is meaningful.
    ok: bool,
}

impl Checker {
    /// A call `f(…)` or `x.m(…)`; any other callee is an error.
    pub(super) fn call(&mut self, cx: &mut FnCx, e: &Expr, callee: &Expr, args: &[Arg]) -> Ty {
        match &callee.kind {
            ExprKind::Name(n) => self.call_by_name(cx, e, callee, n, args),
            ExprKind::Field { object, name } => {
                if let Some(r) = self.as_type_name(cx, object) {
                    return self.static_call(cx, e, r, name, args);
                }
                if self.is_time(cx, object) {
                    self.error(Diagnostic::error(
                        callee.span,
                        format!("`time.{}` is a duration, not a function", name.name),
                    ));
                    self.args_only(cx, args);
                    return Ty::Unknown;
                }
                let ot = self.expr(cx, object);
                self.method_call(cx, e, object, &ot, name, args)
            }
            _ => {
                self.expr(cx, callee);
                self.error(
                    Diagnostic::error(callee.span, "this expression cannot be called")
                        .with_help("call a function by name: `f(x)`, or a method: `v.m(x)`"),
                );
                self.args_only(cx, args);
                Ty::Unknown
            }
        }
    }

    /// `n(…)`: resolves `n` among locals, then the unit's globals, then built-ins.
    fn call_by_name(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        callee: &Expr,
        n: &str,
        args: &[Arg],
    ) -> Ty {
        if let Some((local, _)) = cx.lookup(n) {
            let t = self.prog.locals[local.0 as usize].ty.clone();
            let s = self.show(&t);
            self.error(Diagnostic::error(
                callee.span,
                format!("`{n}` is a variable of type {s}, not a function"),
            ));
            self.args_only(cx, args);
            return Ty::Unknown;
        }
        match self.lookup_global(cx.unit, n) {
            Some(Global::Func(f)) => {
                self.prog.calls.insert(e.id, CallTarget::Function(f));
                self.call_function(cx, e, f, args)
            }
            Some(Global::Extern(x)) => self.call_extern(cx, e, callee, x, args),
            Some(Global::Record(r)) => {
                self.prog.calls.insert(e.id, CallTarget::Constructor(r));
                let rec = self.record(r).clone();
                let names: Vec<String> = rec.fields.iter().map(|(f, _)| f.clone()).collect();
                let tys: Vec<Ty> = rec.fields.iter().map(|(_, t)| t.clone()).collect();
                self.check_args(cx, e, &rec.name, &names, &tys, args);
                Ty::Record(r)
            }
            Some(Global::Const(_)) => {
                self.error(Diagnostic::error(
                    callee.span,
                    format!("`{n}` is a const, not a function"),
                ));
                self.args_only(cx, args);
                Ty::Unknown
            }
            None if BUILTIN_FUNCS.contains(&n) => self.builtin_free(cx, e, n, args),
            None => self.call_undeclared(cx, callee, n, args),
        }
    }

    /// A call of an extern: its parameters are positional (`#0`, `#1`, …).
    fn call_extern(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        callee: &Expr,
        x: ExternId,
        args: &[Arg],
    ) -> Ty {
        self.prog.calls.insert(e.id, CallTarget::Extern(x));
        let info = self.ext(x).clone();
        self.formula_calls_extern(cx, callee.span, &info.name);
        let names: Vec<String> = (0..info.param_types.len())
            .map(|i| format!("#{i}"))
            .collect();
        self.check_args(cx, e, &info.name, &names, &info.param_types, args);
        info.ret
    }

    /// Reports a call of an unknown name, suggesting a close callable one.
    fn call_undeclared(&mut self, cx: &mut FnCx, callee: &Expr, n: &str, args: &[Arg]) -> Ty {
        let mut cands: Vec<String> = BUILTIN_FUNCS.iter().map(|s| s.to_string()).collect();
        if let Some(scope) = self.scopes.get(cx.unit.0 as usize) {
            cands.extend(
                scope
                    .iter()
                    .filter(|&(_k, g)| !matches!(g, Global::Const(_)))
                    .map(|(k, _g)| k.clone()),
            );
        }
        let mut d = Diagnostic::error(callee.span, format!("undeclared function `{n}`"));
        if let Some(h) = did_you_mean(n, cands.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{h}`?"));
        }
        self.error(d);
        self.args_only(cx, args);
        Ty::Unknown
    }

    /// Checks the arguments of a call that failed, so their errors still show.
    pub(super) fn args_only(&mut self, cx: &mut FnCx, args: &[Arg]) {
        for a in args {
            self.expr(cx, &a.value);
        }
    }

    /// A call of a declared function or method: records the call edge and
    /// checks the formula rule and the arguments.
    pub(super) fn call_function(&mut self, cx: &mut FnCx, e: &Expr, f: FuncId, args: &[Arg]) -> Ty {
        let info = self.func(f).clone();
        if let Some(caller) = cx.func {
            self.edges.push(CallEdge {
                caller,
                callee: f,
                span: e.span,
            });
        }
        self.formula_calls(cx, e.span, &info.name, info.kind);
        let names: Vec<String> = info
            .params
            .iter()
            .map(|l| self.prog.locals[l.0 as usize].name.clone())
            .collect();
        self.check_args(cx, e, &info.name, &names, &info.param_types, args);
        info.ret
    }

    /// `Type.m(…)`: a method that does not use `self`.
    fn static_call(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        r: RecordId,
        name: &Ident,
        args: &[Arg],
    ) -> Ty {
        let rec = self.record(r).clone();
        let Some(&m) = rec.methods.get(&name.name) else {
            return self.unknown_method(cx, r, name, args, false);
        };
        self.prog.calls.insert(e.id, CallTarget::StaticMethod(m));
        if self.func(m).uses_self {
            let lower = rec.name.to_lowercase();
            self.error(
                Diagnostic::error(
                    e.span,
                    format!(
                        "method `{}.{}` uses `self` and cannot be called statically",
                        rec.name, name.name
                    ),
                )
                .with_help(format!(
                    "call it on a value: `{lower}.{}(…)` where `{lower}` is a {}",
                    name.name, rec.name
                )),
            );
        }
        self.call_function(cx, e, m, args)
    }
    /// Checks arguments (positional, then named) against parameters and
    /// records the order of named ones.
    pub(super) fn check_args(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        callee: &str,
        names: &[String],
        tys: &[Ty],
        args: &[Arg],
    ) {
        let mut fill = ArgFill {
            order: Vec::new(),
            filled: vec![false; tys.len()],
            any_named: false,
            ok: true,
        };
        for (i, a) in args.iter().enumerate() {
            let at = self.expr(cx, &a.value);
            let Some(slot) = self.arg_slot(&mut fill, callee, names, i, a) else {
                continue;
            };
            if fill.filled[slot] {
                self.error(Diagnostic::error(
                    a.value.span,
                    format!("`{}` is given twice", names[slot]),
                ));
                fill.ok = false;
                continue;
            }
            fill.filled[slot] = true;
            fill.order.push(slot);
            let what = if names[slot].starts_with('#') {
                format!("argument {} of `{callee}`", slot + 1)
            } else {
                format!("`{}` of `{callee}`", names[slot])
            };
            self.expect_fits(&at, &tys[slot], a.value.span, &what);
        }
        if fill.ok && args.len() != tys.len() {
            let plural = if tys.len() == 1 { "" } else { "s" };
            self.error(Diagnostic::error(
                e.span,
                format!(
                    "`{callee}` takes {} argument{plural}, found {}",
                    tys.len(),
                    args.len()
                ),
            ));
        }
        if fill.any_named {
            self.prog.arg_order.insert(e.id, fill.order);
        }
    }

    /// The parameter slot argument `i` fills, or `None` when it fills none
    /// (a misplaced or unknown argument is reported; a surplus positional
    /// one is left for the count check).
    fn arg_slot(
        &mut self,
        fill: &mut ArgFill,
        callee: &str,
        names: &[String],
        i: usize,
        a: &Arg,
    ) -> Option<usize> {
        let Some(n) = &a.name else {
            if fill.any_named {
                self.error(Diagnostic::error(
                    a.value.span,
                    "positional arguments must come before named ones",
                ));
                fill.ok = false;
                return None;
            }
            return (i < fill.filled.len()).then_some(i);
        };
        fill.any_named = true;
        if let Some(p) = names.iter().position(|p| *p == n.name) {
            return Some(p);
        }
        let mut d = Diagnostic::error(
            n.span,
            format!("`{callee}` has no parameter or field `{}`", n.name),
        );
        if let Some(h) = did_you_mean(&n.name, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{h}`?"));
        }
        self.error(d);
        fill.ok = false;
        None
    }
}
