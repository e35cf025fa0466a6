//! Operators: unary, binary, the `? :` ternary, and list indexing.

use super::super::stmts::FnCx;
use super::super::Checker;
use crate::lang::ast::{BinOp, Expr, UnOp};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::span::Span;
use crate::lang::types::Ty;

impl Checker {
    /// `-x` needs a number and `not x` a bool.
    pub(super) fn unary(&mut self, cx: &mut FnCx, e: &Expr, op: UnOp, inner: &Expr) -> Ty {
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

    /// `c ? a : b` needs a bool condition and branches of one type.
    pub(super) fn ternary(&mut self, cx: &mut FnCx, e: &Expr, c: &Expr, a: &Expr, b: &Expr) -> Ty {
        let tc = self.expr(cx, c);
        self.require_type(&tc, &Ty::Bool, |s| {
            Diagnostic::error(
                c.span,
                format!("the condition of `? :` must be a bool, found {s}"),
            )
        });
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

    /// `xs[i]` needs a list and an int index.
    pub(super) fn index(&mut self, cx: &mut FnCx, object: &Expr, index: &Expr) -> Ty {
        let to = self.expr(cx, object);
        let ti = self.expr(cx, index);
        self.require_index(&ti, index.span);
        match to {
            Ty::List(el) => *el,
            Ty::Unknown => Ty::Unknown,
            other => {
                let s = self.show(&other);
                self.error(
                    Diagnostic::error(object.span, format!("cannot index a value of type {s}"))
                        .with_help("only lists can be indexed: `xs[i]`"),
                );
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
}
