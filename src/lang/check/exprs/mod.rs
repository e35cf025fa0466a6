//! Expressions: literals, names, fields and the dispatch over expression
//! kinds; operators, calls and methods live in the submodules.

mod calls;
mod methods;
mod operators;

use super::stmts::FnCx;
use super::{Checker, Global};
use crate::lang::ast::{Expr, ExprKind, FuncKind, Ident};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::program::NameRef;
use crate::lang::types::{RecordId, Ty};

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

    /// Dispatches on the expression kind; each kind has its own check.
    fn expr_inner(&mut self, cx: &mut FnCx, e: &Expr) -> Ty {
        match &e.kind {
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Float(_) => Ty::Float,
            ExprKind::Str(_) => Ty::String,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Name(n) => self.name(cx, e, n),
            ExprKind::SelfRef => self.self_ref(cx, e),
            ExprKind::List(items) => self.list_literal(cx, items),
            ExprKind::Unary(op, inner) => self.unary(cx, e, *op, inner),
            ExprKind::Binary(op, a, b) => {
                let ta = self.expr(cx, a);
                let tb = self.expr(cx, b);
                self.binary_type(*op, &ta, &tb, e.span)
            }
            ExprKind::Ternary(c, a, b) => self.ternary(cx, e, c, a, b),
            ExprKind::Field { object, name } => self.field(cx, e, object, name),
            ExprKind::Index { object, index } => self.index(cx, object, index),
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

    /// `self` is the owning record inside a method, an error elsewhere.
    fn self_ref(&mut self, cx: &FnCx, e: &Expr) -> Ty {
        match cx.owner {
            Some(r) if !cx.const_mode => Ty::Record(r),
            _ => {
                self.error(
                    Diagnostic::error(e.span, "`self` can only be used inside a method")
                        .with_help("methods are the functions declared inside a `type`"),
                );
                Ty::Unknown
            }
        }
    }

    /// A list literal's element type is the join of its elements' types.
    fn list_literal(&mut self, cx: &mut FnCx, items: &[Expr]) -> Ty {
        let mut elem = Ty::Unknown;
        for item in items {
            let t = self.expr(cx, item);
            if self.expect_fits(&t, &elem, item.span, "a list element") {
                elem = elem.join(&t);
            }
        }
        Ty::List(Box::new(elem))
    }

    /// A name used as a value: a local or a const.
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

    /// Whether `e` is the `time` namespace (not shadowed by a local or global).
    fn is_time(&self, cx: &FnCx, e: &Expr) -> bool {
        matches!(&e.kind, ExprKind::Name(n) if n == "time" && cx.lookup(n).is_none() && self.lookup_global(cx.unit, n).is_none())
    }

    /// `object.name`: a record field or a `time` unit.
    fn field(&mut self, cx: &mut FnCx, e: &Expr, object: &Expr, name: &Ident) -> Ty {
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
    /// Kind of the function being checked (for the formula rules).
    pub(crate) fn current_kind(cx: &FnCx) -> Option<FuncKind> {
        (!cx.const_mode).then_some(cx.kind)
    }
}
