//! Expressions: literals, names, operators, fields, indexing, and calls
//! (functions, externs, constructors, static/instance methods, built-ins).

use super::stmts::FnCx;
use super::{CallEdge, Checker, Global};
use crate::lang::ast::{Arg, BinOp, Expr, ExprKind, FuncKind, UnOp};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::program::{Builtin, CallTarget, NameRef};
use crate::lang::span::Span;
use crate::lang::types::{FuncId, RecordId, Ty};

const BUILTIN_FUNCS: [&str; 6] = ["print", "range", "len", "get", "append", "to_string"];

/// `time.<unit>` in nanoseconds.
fn time_unit(name: &str) -> Option<i64> {
    Some(match name {
        "nanosecond" => 1,
        "microsecond" => 1_000,
        "millisecond" => 1_000_000,
        "second" => 1_000_000_000,
        _ => return None,
    })
}

impl Checker {
    /// Checks an expression and records its type.
    pub(crate) fn expr(&mut self, cx: &mut FnCx, e: &Expr) -> Ty {
        let ty = self.expr_inner(cx, e);
        self.prog.types.insert(e.id, ty.clone());
        ty
    }

    fn expr_inner(&mut self, cx: &mut FnCx, e: &Expr) -> Ty {
        match &e.kind {
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Float(_) => Ty::Float,
            ExprKind::Str(_) => Ty::String,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Name(n) => self.name(cx, e, n),
            ExprKind::SelfRef => match cx.owner {
                Some(r) if !cx.const_mode => Ty::Record(r),
                _ => {
                    self.error(
                        Diagnostic::error(e.span, "`self` can only be used inside a method")
                            .with_help("methods are the functions declared inside a `type`"),
                    );
                    Ty::Unknown
                }
            },
            ExprKind::List(items) => {
                let mut elem = Ty::Unknown;
                for item in items {
                    let t = self.expr(cx, item);
                    if self.expect_fits(&t, &elem, item.span, "a list element") {
                        elem = elem.join(&t);
                    }
                }
                Ty::List(Box::new(elem))
            }
            ExprKind::Unary(op, inner) => {
                let t = self.expr(cx, inner);
                match (op, &t) {
                    (_, Ty::Unknown) => Ty::Unknown,
                    (UnOp::Neg, Ty::Int | Ty::Float) => t,
                    (UnOp::Not, Ty::Bool) => Ty::Bool,
                    (UnOp::Neg, _) => {
                        let s = self.show(&t);
                        self.error(Diagnostic::error(
                            e.span,
                            format!("cannot negate a value of type {s}"),
                        ));
                        Ty::Unknown
                    }
                    (UnOp::Not, _) => {
                        let s = self.show(&t);
                        self.error(
                            Diagnostic::error(e.span, format!("`not` needs a bool, found {s}"))
                                .with_help("compare explicitly, e.g. `n == 0`"),
                        );
                        Ty::Unknown
                    }
                }
            }
            ExprKind::Binary(op, a, b) => {
                let ta = self.expr(cx, a);
                let tb = self.expr(cx, b);
                self.binary_type(*op, &ta, &tb, e.span)
            }
            ExprKind::Ternary(c, a, b) => {
                let tc = self.expr(cx, c);
                if !tc.fits(&Ty::Bool) {
                    let s = self.show(&tc);
                    self.error(Diagnostic::error(
                        c.span,
                        format!("the condition of `? :` must be a bool, found {s}"),
                    ));
                }
                let ta = self.expr(cx, a);
                let tb = self.expr(cx, b);
                if ta.fits(&tb) {
                    ta.join(&tb)
                } else {
                    let (x, y) = (self.show(&ta), self.show(&tb));
                    self.error(Diagnostic::error(
                        e.span,
                        format!("the branches of `? :` have different types: {x} and {y}"),
                    ));
                    Ty::Unknown
                }
            }
            ExprKind::Field { object, name } => self.field(cx, e, object, name),
            ExprKind::Index { object, index } => {
                let to = self.expr(cx, object);
                let ti = self.expr(cx, index);
                if !ti.fits(&Ty::Int) {
                    let s = self.show(&ti);
                    self.error(Diagnostic::error(
                        index.span,
                        format!("a list index must be an int, found {s}"),
                    ));
                }
                match to {
                    Ty::List(el) => *el,
                    Ty::Unknown => Ty::Unknown,
                    other => {
                        let s = self.show(&other);
                        self.error(
                            Diagnostic::error(
                                object.span,
                                format!("cannot index a value of type {s}"),
                            )
                            .with_help("only lists can be indexed: `xs[i]`"),
                        );
                        Ty::Unknown
                    }
                }
            }
            ExprKind::Call { callee, args } => {
                if cx.const_mode {
                    self.error(
                        Diagnostic::error(e.span, "a const must be a constant expression")
                            .with_help("use literals, operators and other consts; compute other values in a function"),
                    );
                    return Ty::Unknown;
                }
                self.call(cx, e, callee, args)
            }
        }
    }

    fn name(&mut self, cx: &mut FnCx, e: &Expr, n: &str) -> Ty {
        if let Some((local, _)) = cx.lookup(n) {
            self.note_name(e.id, NameRef::Local(local));
            return self.prog.locals[local.0 as usize].ty.clone();
        }
        match self.lookup_global(cx.unit, n) {
            Some(Global::Const(c)) => {
                self.note_name(e.id, NameRef::Const(c));
                self.const_type(c)
            }
            Some(Global::Func(_)) | Some(Global::Extern(_)) => {
                self.error(
                    Diagnostic::error(e.span, format!("`{n}` is a function, not a value"))
                        .with_help(format!("call it: `{n}(…)`")),
                );
                Ty::Unknown
            }
            Some(Global::Record(_)) => {
                self.error(
                    Diagnostic::error(e.span, format!("`{n}` is a type, not a value"))
                        .with_help(format!("construct a value with `{n}(…)`")),
                );
                Ty::Unknown
            }
            None => {
                if n == "time" {
                    self.error(
                        Diagnostic::error(e.span, "`time` is only used as `time.nanosecond`, `time.microsecond`, `time.millisecond` or `time.second`"),
                    );
                    return Ty::Unknown;
                }
                let mut cands = cx.visible();
                if let Some(scope) = self.scopes.get(cx.unit.0 as usize) {
                    cands.extend(
                        scope
                            .iter()
                            .filter(|&(_k, g)| matches!(g, Global::Const(_)))
                            .map(|(k, _g)| k.clone()),
                    );
                }
                let mut d = Diagnostic::error(e.span, format!("undeclared identifier `{n}`"));
                if let Some(h) = super::did_you_mean(n, cands.iter().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{h}`?"));
                }
                self.error(d);
                Ty::Unknown
            }
        }
    }

    /// The result type of a binary operator, reporting misuse.
    pub(crate) fn binary_type(&mut self, op: BinOp, a: &Ty, b: &Ty, span: Span) -> Ty {
        use BinOp::*;
        if *a == Ty::Unknown || *b == Ty::Unknown {
            return match op {
                Eq | Ne | Lt | Gt | Le | Ge | And | Or => Ty::Bool,
                Range => Ty::List(Box::new(Ty::Int)),
                _ => Ty::Unknown,
            };
        }
        let numeric = |t: &Ty| matches!(t, Ty::Int | Ty::Float);
        let result = match op {
            And | Or => (*a == Ty::Bool && *b == Ty::Bool).then_some(Ty::Bool),
            Eq | Ne => {
                let ok =
                    (numeric(a) && numeric(b)) || (a == b && matches!(a, Ty::Bool | Ty::String));
                ok.then_some(Ty::Bool)
            }
            Lt | Gt | Le | Ge => {
                let ok = (numeric(a) && numeric(b)) || (*a == Ty::String && *b == Ty::String);
                ok.then_some(Ty::Bool)
            }
            Range => (*a == Ty::Int && *b == Ty::Int).then(|| Ty::List(Box::new(Ty::Int))),
            Add if *a == Ty::String && *b == Ty::String => Some(Ty::String),
            Add | Sub | Mul | Div | Rem => {
                if *a == Ty::Int && *b == Ty::Int {
                    Some(Ty::Int)
                } else if numeric(a) && numeric(b) {
                    Some(Ty::Float)
                } else {
                    None
                }
            }
        };
        match result {
            Some(t) => t,
            None => {
                let (x, y) = (self.show(a), self.show(b));
                let mut d = Diagnostic::error(
                    span,
                    format!("cannot apply `{}` to {x} and {y}", op.symbol()),
                );
                if op == Add && (*a == Ty::String || *b == Ty::String) {
                    d = d.with_help("convert the other operand with `.to_string()`");
                } else if matches!(op, And | Or) {
                    d = d.with_help("`and` / `or` combine bools");
                }
                self.error(d);
                match op {
                    Eq | Ne | Lt | Gt | Le | Ge | And | Or => Ty::Bool,
                    _ => Ty::Unknown,
                }
            }
        }
    }

    /// Whether a name expression is a type name not hidden by a local.
    fn as_type_name(&self, cx: &FnCx, e: &Expr) -> Option<RecordId> {
        if let ExprKind::Name(n) = &e.kind {
            if cx.lookup(n).is_none() {
                if let Some(Global::Record(r)) = self.lookup_global(cx.unit, n) {
                    return Some(r);
                }
            }
        }
        None
    }

    fn is_time(&self, cx: &FnCx, e: &Expr) -> bool {
        matches!(&e.kind, ExprKind::Name(n) if n == "time" && cx.lookup(n).is_none() && self.lookup_global(cx.unit, n).is_none())
    }

    fn field(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        object: &Expr,
        name: &crate::lang::ast::Ident,
    ) -> Ty {
        if self.is_time(cx, object) {
            return match time_unit(&name.name) {
                Some(ns) => {
                    self.prog.time_units.insert(e.id, ns);
                    Ty::Int
                }
                None => {
                    self.error(
                        Diagnostic::error(name.span, format!("unknown duration `time.{}`", name.name))
                            .with_help("durations are time.nanosecond, time.microsecond, time.millisecond and time.second"),
                    );
                    Ty::Unknown
                }
            };
        }
        if let Some(r) = self.as_type_name(cx, object) {
            let rec = self.record(r).name.clone();
            self.error(
                Diagnostic::error(
                    e.span,
                    format!("type `{rec}` has no value field `{}`", name.name),
                )
                .with_help(format!(
                    "fields belong to values; static methods are called as `{rec}.{}(…)`",
                    name.name
                )),
            );
            return Ty::Unknown;
        }
        let ot = self.expr(cx, object);
        match &ot {
            Ty::Unknown => Ty::Unknown,
            Ty::Record(r) => {
                let rec = self.record(*r).clone();
                if let Some((_, t)) = rec.fields.iter().find(|(f, _)| *f == name.name) {
                    return t.clone();
                }
                let mut d = Diagnostic::error(
                    name.span,
                    format!("type `{}` has no field `{}`", rec.name, name.name),
                );
                if rec.methods.contains_key(&name.name) {
                    d = d.with_help(format!(
                        "`{}` is a method; call it: `.{}(…)`",
                        name.name, name.name
                    ));
                } else if let Some(h) =
                    super::did_you_mean(&name.name, rec.fields.iter().map(|(f, _)| f.as_str()))
                {
                    d = d.with_help(format!("did you mean `{h}`?"));
                }
                self.error(d);
                Ty::Unknown
            }
            other => {
                let s = self.show(other);
                let mut d = Diagnostic::error(
                    name.span,
                    format!("a value of type {s} has no field `{}`", name.name),
                );
                if matches!(name.name.as_str(), "len" | "to_string" | "get" | "append") {
                    d = d.with_help(format!(
                        "`{}` is a method; call it: `.{}(…)`",
                        name.name, name.name
                    ));
                }
                self.error(d);
                Ty::Unknown
            }
        }
    }

    fn call(&mut self, cx: &mut FnCx, e: &Expr, callee: &Expr, args: &[Arg]) -> Ty {
        match &callee.kind {
            ExprKind::Name(n) => {
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
                    Some(Global::Extern(x)) => {
                        self.prog.calls.insert(e.id, CallTarget::Extern(x));
                        let info = self.ext(x).clone();
                        self.formula_calls_extern(cx, callee.span, &info.name);
                        let names: Vec<String> = (0..info.param_types.len())
                            .map(|i| format!("#{i}"))
                            .collect();
                        self.check_args(cx, e, &info.name, &names, &info.param_types, args);
                        info.ret
                    }
                    Some(Global::Record(r)) => {
                        self.prog.calls.insert(e.id, CallTarget::Constructor(r));
                        let rec = self.record(r).clone();
                        let names: Vec<String> =
                            rec.fields.iter().map(|(f, _)| f.clone()).collect();
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
                    None => {
                        if BUILTIN_FUNCS.contains(&n.as_str()) {
                            return self.builtin_free(cx, e, n, args);
                        }
                        let mut cands: Vec<String> =
                            BUILTIN_FUNCS.iter().map(|s| s.to_string()).collect();
                        if let Some(scope) = self.scopes.get(cx.unit.0 as usize) {
                            cands.extend(
                                scope
                                    .iter()
                                    .filter(|&(_k, g)| !matches!(g, Global::Const(_)))
                                    .map(|(k, _g)| k.clone()),
                            );
                        }
                        let mut d =
                            Diagnostic::error(callee.span, format!("undeclared function `{n}`"));
                        if let Some(h) = super::did_you_mean(n, cands.iter().map(String::as_str)) {
                            d = d.with_help(format!("did you mean `{h}`?"));
                        }
                        self.error(d);
                        self.args_only(cx, args);
                        Ty::Unknown
                    }
                }
            }
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

    fn args_only(&mut self, cx: &mut FnCx, args: &[Arg]) {
        for a in args {
            self.expr(cx, &a.value);
        }
    }

    fn call_function(&mut self, cx: &mut FnCx, e: &Expr, f: FuncId, args: &[Arg]) -> Ty {
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

    fn static_call(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        r: RecordId,
        name: &crate::lang::ast::Ident,
        args: &[Arg],
    ) -> Ty {
        let rec = self.record(r).clone();
        let Some(&m) = rec.methods.get(&name.name) else {
            let mut d = Diagnostic::error(
                name.span,
                format!("type `{}` has no method `{}`", rec.name, name.name),
            );
            if let Some(h) = super::did_you_mean(&name.name, rec.methods.keys().map(String::as_str))
            {
                d = d.with_help(format!("did you mean `{h}`?"));
            }
            self.error(d);
            self.args_only(cx, args);
            return Ty::Unknown;
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

    fn method_call(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        object: &Expr,
        ot: &Ty,
        name: &crate::lang::ast::Ident,
        args: &[Arg],
    ) -> Ty {
        let m = name.name.as_str();
        match ot {
            Ty::Unknown => {
                self.args_only(cx, args);
                Ty::Unknown
            }
            Ty::Record(r) => {
                let rec = self.record(*r).clone();
                if let Some(&f) = rec.methods.get(m) {
                    self.prog.calls.insert(e.id, CallTarget::InstanceMethod(f));
                    return self.call_function(cx, e, f, args);
                }
                let mut d = Diagnostic::error(
                    name.span,
                    format!("type `{}` has no method `{m}`", rec.name),
                );
                if rec.fields.iter().any(|(f, _)| f == m) {
                    d = d.with_help(format!(
                        "`{m}` is a field; read it without parentheses: `.{m}`"
                    ));
                } else if let Some(h) =
                    super::did_you_mean(m, rec.methods.keys().map(String::as_str))
                {
                    d = d.with_help(format!("did you mean `{h}`?"));
                }
                self.error(d);
                self.args_only(cx, args);
                Ty::Unknown
            }
            _ => {
                let builtin = match m {
                    "len" => Some(Builtin::Len),
                    "get" => Some(Builtin::Get),
                    "append" => Some(Builtin::Append),
                    "to_string" => Some(Builtin::ToString),
                    _ => None,
                };
                let Some(b) = builtin else {
                    let s = self.show(ot);
                    let mut d = Diagnostic::error(
                        name.span,
                        format!("a value of type {s} has no method `{m}`"),
                    );
                    if let Some(h) = super::did_you_mean(m, ["len", "get", "append", "to_string"]) {
                        d = d.with_help(format!("did you mean `{h}`?"));
                    }
                    self.error(d);
                    self.args_only(cx, args);
                    return Ty::Unknown;
                };
                self.prog.calls.insert(e.id, CallTarget::Builtin(b));
                let mut tys = vec![ot.clone()];
                for a in args {
                    if let Some(n) = &a.name {
                        self.error(Diagnostic::error(
                            n.span,
                            format!("`{m}` does not take named arguments"),
                        ));
                    }
                    tys.push(self.expr(cx, &a.value));
                }
                let spans: Vec<Span> = std::iter::once(object.span)
                    .chain(args.iter().map(|a| a.value.span))
                    .collect();
                if b == Builtin::Append {
                    if let ExprKind::Name(n) = &object.kind {
                        if let Some((_, true)) = cx.lookup(n) {
                            self.error(
                                Diagnostic::error(e.span, format!("a `task for` body cannot change `{n}` of the enclosing function"))
                                    .with_help("each iteration is an isolated task; `yield` the value and bind the `task for` result instead"),
                            );
                        }
                    }
                }
                let ty = self.builtin_type(b, m, &tys, &spans, e.span, true);
                // `xs.append(v)` on a local refines `[?]` to `[T]`.
                if b == Builtin::Append {
                    if let (ExprKind::Name(n), Ty::List(_)) = (&object.kind, &ty) {
                        if let Some((l, false)) = cx.lookup(n) {
                            let lt = self.prog.locals[l.0 as usize].ty.clone();
                            self.prog.locals[l.0 as usize].ty = lt.join(&ty);
                        }
                    }
                }
                ty
            }
        }
    }

    /// Checks arguments (positional, then named) against parameters and
    /// records the order of named ones.
    fn check_args(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        callee: &str,
        names: &[String],
        tys: &[Ty],
        args: &[Arg],
    ) {
        let mut order = Vec::new();
        let mut filled = vec![false; tys.len()];
        let mut any_named = false;
        let mut ok = true;
        for (i, a) in args.iter().enumerate() {
            let at = self.expr(cx, &a.value);
            let slot = match &a.name {
                None => {
                    if any_named {
                        self.error(Diagnostic::error(
                            a.value.span,
                            "positional arguments must come before named ones",
                        ));
                        ok = false;
                        continue;
                    }
                    if i >= tys.len() {
                        continue;
                    }
                    i
                }
                Some(n) => {
                    any_named = true;
                    match names.iter().position(|p| *p == n.name) {
                        Some(p) => p,
                        None => {
                            let mut d = Diagnostic::error(
                                n.span,
                                format!("`{callee}` has no parameter or field `{}`", n.name),
                            );
                            if let Some(h) =
                                super::did_you_mean(&n.name, names.iter().map(String::as_str))
                            {
                                d = d.with_help(format!("did you mean `{h}`?"));
                            }
                            self.error(d);
                            ok = false;
                            continue;
                        }
                    }
                }
            };
            if filled[slot] {
                self.error(Diagnostic::error(
                    a.value.span,
                    format!("`{}` is given twice", names[slot]),
                ));
                ok = false;
                continue;
            }
            filled[slot] = true;
            order.push(slot);
            let what = if names[slot].starts_with('#') {
                format!("argument {} of `{callee}`", slot + 1)
            } else {
                format!("`{}` of `{callee}`", names[slot])
            };
            self.expect_fits(&at, &tys[slot], a.value.span, &what);
        }
        if ok && args.len() != tys.len() {
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
        if any_named {
            self.prog.arg_order.insert(e.id, order);
        }
    }

    /// Kind of the function being checked (for the formula rules).
    pub(crate) fn current_kind(cx: &FnCx) -> Option<FuncKind> {
        (!cx.const_mode).then_some(cx.kind)
    }
}
