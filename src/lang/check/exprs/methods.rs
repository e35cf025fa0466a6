//! Instance method calls: a record's own methods and the built-in methods
//! of lists, strings and numbers.

use super::super::stmts::FnCx;
use super::super::{did_you_mean, Checker};
use crate::lang::ast::{Arg, Expr, ExprKind, Ident};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::program::{Builtin, CallTarget};
use crate::lang::span::Span;
use crate::lang::types::{RecordId, Ty};

/// The built-in method called `m`, if any.
fn builtin_method(m: &str) -> Option<Builtin> {
    match m {
        "len" => Some(Builtin::Len),
        "get" => Some(Builtin::Get),
        "append" => Some(Builtin::Append),
        "to_string" => Some(Builtin::ToString),
        _ => None,
    }
}

impl Checker {
    /// `object.name(…)` where `object` has type `ot`.
    pub(super) fn method_call(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        object: &Expr,
        ot: &Ty,
        name: &Ident,
        args: &[Arg],
    ) -> Ty {
        match ot {
            Ty::Unknown => {
                self.args_only(cx, args);
                Ty::Unknown
            }
            Ty::Record(r) => self.record_method_call(cx, e, *r, name, args),
            _ => self.builtin_method_call(cx, e, object, ot, name, args),
        }
    }

    /// A method declared in the record's `type`; a miss suggests a close name.
    fn record_method_call(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        r: RecordId,
        name: &Ident,
        args: &[Arg],
    ) -> Ty {
        if let Some(&f) = self.record(r).methods.get(&name.name) {
            self.prog.calls.insert(e.id, CallTarget::InstanceMethod(f));
            return self.call_function(cx, e, f, args);
        }
        self.unknown_method(cx, r, name, args, true)
    }

    /// Reports that record `r` has no method `name` (suggesting a close method
    /// name, or with `field_hint` a field of that name), then checks the
    /// arguments alone: instance and static calls miss the same way.
    pub(super) fn unknown_method(
        &mut self,
        cx: &mut FnCx,
        r: RecordId,
        name: &Ident,
        args: &[Arg],
        field_hint: bool,
    ) -> Ty {
        let m = name.name.as_str();
        let rec = self.record(r);
        let mut d = Diagnostic::error(
            name.span,
            format!("type `{}` has no method `{m}`", rec.name),
        );
        if field_hint && rec.fields.iter().any(|(f, _)| f == m) {
            d = d.with_help(format!(
                "`{m}` is a field; read it without parentheses: `.{m}`"
            ));
        } else if let Some(h) = did_you_mean(m, rec.methods.keys().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{h}`?"));
        }
        self.error(d);
        self.args_only(cx, args);
        Ty::Unknown
    }

    /// `len`, `get`, `append` or `to_string` on a non-record value.
    fn builtin_method_call(
        &mut self,
        cx: &mut FnCx,
        e: &Expr,
        object: &Expr,
        ot: &Ty,
        name: &Ident,
        args: &[Arg],
    ) -> Ty {
        let m = name.name.as_str();
        let Some(b) = builtin_method(m) else {
            let s = self.show(ot);
            let mut d = Diagnostic::error(
                name.span,
                format!("a value of type {s} has no method `{m}`"),
            );
            if let Some(h) = did_you_mean(m, ["len", "get", "append", "to_string"]) {
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
            self.append_in_task_body(cx, e, object);
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

    /// A `task for` body may not append to a list of the enclosing function.
    fn append_in_task_body(&mut self, cx: &FnCx, e: &Expr, object: &Expr) {
        if let ExprKind::Name(n) = &object.kind {
            if let Some((_, true)) = cx.lookup(n) {
                self.error(
                    Diagnostic::error(e.span, format!("a `task for` body cannot change `{n}` of the enclosing function"))
                        .with_help("each iteration is an isolated task; `yield` the value and bind the `task for` result instead"),
                );
            }
        }
    }
}
