//! Top-level `const` values, computed at compile time: the IR holds each
//! constant as a literal, so the value must be known here.
//!
//! Semantics follow the runtime's: wrapping integer `+ - *`, truncating `/`,
//! `%` with the dividend's sign; a division by zero in a constant is a
//! compile error (the program could never run past it).

use crate::codegen::ir::Literal;
use crate::lang::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::lang::program::NameRef;

use super::Bridge;

/// Why a constant could not be computed: the message and its help.
type ConstErr = (crate::lang::span::Span, String, String);

impl Bridge<'_> {
    /// Every const's value (`None` where an error was recorded).
    pub(super) fn lower_consts(&mut self) -> Vec<crate::codegen::ir::Const> {
        self.consts = vec![None; self.prog.consts.len()];
        let mut out = Vec::new();
        for i in 0..self.prog.consts.len() {
            let value = match self.const_value(i, 0) {
                Ok(v) => v,
                Err((span, msg, help)) => {
                    self.unsupported(span, &msg, &help);
                    Literal::Int(0)
                }
            };
            out.push(crate::codegen::ir::Const {
                name: self.prog.consts[i].name.clone(),
                value,
            });
        }
        out
    }

    fn const_value(&mut self, i: usize, depth: u32) -> Result<Literal, ConstErr> {
        if let Some(Some(v)) = self.consts.get(i) {
            return Ok(v.clone());
        }
        let span = self.prog.consts[i].span;
        let Some(e) = self.const_expr(i) else {
            return Err((span, "this constant".into(), String::new()));
        };
        if depth > 64 {
            return Err((
                span,
                "constants defined through more than 64 other constants".into(),
                String::new(),
            ));
        }
        let v = self.eval(e, depth + 1)?;
        self.consts[i] = Some(v.clone());
        Ok(v)
    }

    fn eval(&mut self, e: &Expr, depth: u32) -> Result<Literal, ConstErr> {
        let other = |e: &Expr| {
            Err((
                e.span,
                "this constant expression".to_string(),
                "a const is computed at compile time from literals, other consts, operators and `time.*`".to_string(),
            ))
        };
        Ok(match &e.kind {
            ExprKind::Int(v) => Literal::Int(*v),
            ExprKind::Float(v) => Literal::Float(*v),
            ExprKind::Str(s) => Literal::Str(s.clone()),
            ExprKind::Bool(b) => Literal::Bool(*b),
            ExprKind::Name(_) => match self.prog.names.get(&e.id) {
                Some(NameRef::Const(c)) => self.const_value(c.0 as usize, depth)?,
                _ => return other(e),
            },
            ExprKind::Field { .. } => match self.prog.time_units.get(&e.id) {
                Some(ns) => Literal::Int(*ns),
                None => return other(e),
            },
            ExprKind::Unary(op, a) => match (op, self.eval(a, depth)?) {
                (UnOp::Neg, Literal::Int(v)) => Literal::Int(v.wrapping_neg()),
                (UnOp::Neg, Literal::Float(v)) => Literal::Float(-v),
                (UnOp::Not, Literal::Bool(b)) => Literal::Bool(!b),
                _ => return other(e),
            },
            ExprKind::Ternary(c, a, b) => match self.eval(c, depth)? {
                Literal::Bool(true) => self.eval(a, depth)?,
                Literal::Bool(false) => self.eval(b, depth)?,
                _ => return other(e),
            },
            ExprKind::Binary(op, a, b) => {
                let x = self.eval(a, depth)?;
                let y = self.eval(b, depth)?;
                match binary(*op, &x, &y) {
                    Ok(Some(v)) => v,
                    Ok(None) => return other(e),
                    Err(msg) => {
                        return Err((
                            e.span,
                            msg.to_string(),
                            "the constant's value would stop every run of the program".into(),
                        ))
                    }
                }
            }
            _ => return other(e),
        })
    }
}

/// Integer `/` and `%` as the runtime computes them.
fn int_div(op: BinOp, a: i64, b: i64) -> Result<i64, &'static str> {
    if b == 0 {
        return Err(if op == BinOp::Div {
            "a division by zero in a constant"
        } else {
            "a modulo by zero in a constant"
        });
    }
    Ok(if op == BinOp::Div {
        a.wrapping_div(b)
    } else {
        a.wrapping_rem(b)
    })
}

/// A binary operation on two literals; `Ok(None)` when it is not one of
/// the foldable forms.
fn binary(op: BinOp, x: &Literal, y: &Literal) -> Result<Option<Literal>, &'static str> {
    use BinOp::*;
    use Literal as L;
    let f = |v: &L| match v {
        L::Int(i) => Some(*i as f64),
        L::Float(f) => Some(*f),
        _ => None,
    };
    Ok(Some(match (op, x, y) {
        (Add, L::Int(a), L::Int(b)) => L::Int(a.wrapping_add(*b)),
        (Sub, L::Int(a), L::Int(b)) => L::Int(a.wrapping_sub(*b)),
        (Mul, L::Int(a), L::Int(b)) => L::Int(a.wrapping_mul(*b)),
        (Div | Rem, L::Int(a), L::Int(b)) => L::Int(int_div(op, *a, *b)?),
        (Add, L::Str(a), L::Str(b)) => L::Str(format!("{a}{b}")),
        (Eq, L::Str(a), L::Str(b)) => L::Bool(a == b),
        (Ne, L::Str(a), L::Str(b)) => L::Bool(a != b),
        (Lt, L::Str(a), L::Str(b)) => L::Bool(a < b),
        (Le, L::Str(a), L::Str(b)) => L::Bool(a <= b),
        (Gt, L::Str(a), L::Str(b)) => L::Bool(a > b),
        (Ge, L::Str(a), L::Str(b)) => L::Bool(a >= b),
        (And, L::Bool(a), L::Bool(b)) => L::Bool(*a && *b),
        (Or, L::Bool(a), L::Bool(b)) => L::Bool(*a || *b),
        (Eq, L::Bool(a), L::Bool(b)) => L::Bool(a == b),
        (Ne, L::Bool(a), L::Bool(b)) => L::Bool(a != b),
        (Eq | Ne | Lt | Le | Gt | Ge, L::Int(a), L::Int(b)) => L::Bool(match op {
            Eq => a == b,
            Ne => a != b,
            Lt => a < b,
            Le => a <= b,
            Gt => a > b,
            _ => a >= b,
        }),
        _ => {
            let (Some(a), Some(b)) = (f(x), f(y)) else {
                return Ok(None);
            };
            match op {
                Add => L::Float(a + b),
                Sub => L::Float(a - b),
                Mul => L::Float(a * b),
                Div => L::Float(a / b),
                Rem => L::Float(a % b),
                Eq => L::Bool(a == b),
                Ne => L::Bool(a != b),
                Lt => L::Bool(a < b),
                Le => L::Bool(a <= b),
                Gt => L::Bool(a > b),
                Ge => L::Bool(a >= b),
                _ => return Ok(None),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_follows_runtime_semantics() {
        assert_eq!(binary(BinOp::Div, &L(-7), &L(2)), Ok(Some(L(-3))));
        assert_eq!(binary(BinOp::Rem, &L(-7), &L(2)), Ok(Some(L(-1))));
        assert_eq!(binary(BinOp::Rem, &L(i64::MIN), &L(-1)), Ok(Some(L(0))));
        assert!(binary(BinOp::Div, &L(1), &L(0)).is_err());
        assert_eq!(
            binary(BinOp::Add, &L(1), &Literal::Float(0.5)),
            Ok(Some(Literal::Float(1.5)))
        );
    }

    #[allow(non_snake_case)]
    fn L(v: i64) -> Literal {
        Literal::Int(v)
    }
}
