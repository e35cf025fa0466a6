//! The values of `const`s, computed at check time: the back end holds each
//! constant as a literal, so a value that cannot be computed (a division by
//! zero) is an error `coex check` reports at its position, not one that
//! only `coex build` finds. The bridge takes the values from
//! [`ConstInfo::value`](crate::lang::program::ConstInfo).
//!
//! Semantics follow the runtime's: wrapping integer `+ - *`, truncating `/`,
//! `%` with the dividend's sign; float `%` as C's `fmod`.

use super::Checker;
use crate::lang::ast::{BinOp, Expr, ExprKind, Item, UnOp};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::program::{ConstValue, NameRef};

/// Folding state of one const.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    Pending,
    InProgress,
    Done,
}

/// Why a value is missing: `Some` is an error to report; `None` means an
/// error was already reported for this expression (its check failed, or
/// it belongs to a cycle of consts).
type NoValue = Option<Diagnostic>;

impl Checker {
    /// Computes every const's value; reports those that cannot be computed.
    pub(crate) fn fold_consts(&mut self) {
        let mut state = vec![Fold::Pending; self.prog.consts.len()];
        for i in 0..self.prog.consts.len() {
            self.fold_const(i, &mut state);
        }
    }

    fn fold_const(&mut self, i: usize, state: &mut [Fold]) -> Option<ConstValue> {
        match state[i] {
            Fold::Done => return self.prog.consts[i].value.clone(),
            Fold::InProgress => return None, // a cycle, reported by the check
            Fold::Pending => {}
        }
        state[i] = Fold::InProgress;
        let ast = std::sync::Arc::clone(&self.ast);
        let info = &self.prog.consts[i];
        let value = match ast
            .get(info.module)
            .and_then(|m| m.ast.items.get(info.item))
        {
            Some(Item::Const(decl)) => match self.eval(&decl.value, state) {
                Ok(v) => Some(v),
                Err(e) => {
                    if let Some(d) = e {
                        self.error(d);
                    }
                    None
                }
            },
            _ => None,
        };
        state[i] = Fold::Done;
        self.prog.consts[i].value = value.clone();
        value
    }

    fn eval(&mut self, e: &Expr, state: &mut [Fold]) -> Result<ConstValue, NoValue> {
        use ConstValue as V;
        Ok(match &e.kind {
            ExprKind::Int(v) => V::Int(*v),
            ExprKind::Float(v) => V::Float(*v),
            ExprKind::Str(s) => V::Str(s.clone()),
            ExprKind::Bool(b) => V::Bool(*b),
            ExprKind::Name(_) => match self.prog.names.get(&e.id) {
                Some(NameRef::Const(c)) => self.fold_const(c.0 as usize, state).ok_or(None)?,
                _ => return Err(None),
            },
            ExprKind::Field { .. } => V::Int(*self.prog.time_units.get(&e.id).ok_or(None)?),
            ExprKind::Unary(op, a) => match (op, self.eval(a, state)?) {
                (UnOp::Neg, V::Int(v)) => V::Int(v.wrapping_neg()),
                (UnOp::Neg, V::Float(v)) => V::Float(-v),
                (UnOp::Not, V::Bool(b)) => V::Bool(!b),
                _ => return Err(None),
            },
            ExprKind::Ternary(c, a, b) => match self.eval(c, state)? {
                V::Bool(true) => self.eval(a, state)?,
                V::Bool(false) => self.eval(b, state)?,
                _ => return Err(None),
            },
            ExprKind::Binary(op, a, b) => {
                let x = self.eval(a, state)?;
                let y = self.eval(b, state)?;
                match binary(*op, &x, &y) {
                    Ok(v) => v.ok_or(None)?,
                    Err(msg) => {
                        return Err(Some(Diagnostic::error(e.span, msg).with_help(
                            "the constant's value would stop every run of the program",
                        )))
                    }
                }
            }
            // Anything else is refused by the const check already.
            _ => return Err(None),
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

/// A binary operation on two values; `Ok(None)` when it is not one of the
/// foldable forms (the check refused it already).
fn binary(op: BinOp, x: &ConstValue, y: &ConstValue) -> Result<Option<ConstValue>, &'static str> {
    use BinOp::*;
    use ConstValue as V;
    let f = |v: &V| match v {
        V::Int(i) => Some(*i as f64),
        V::Float(f) => Some(*f),
        _ => None,
    };
    let cmp = |o: std::cmp::Ordering| match op {
        Eq => Some(o.is_eq()),
        Ne => Some(o.is_ne()),
        Lt => Some(o.is_lt()),
        Le => Some(o.is_le()),
        Gt => Some(o.is_gt()),
        Ge => Some(o.is_ge()),
        _ => None,
    };
    Ok(Some(match (op, x, y) {
        (Add, V::Int(a), V::Int(b)) => V::Int(a.wrapping_add(*b)),
        (Sub, V::Int(a), V::Int(b)) => V::Int(a.wrapping_sub(*b)),
        (Mul, V::Int(a), V::Int(b)) => V::Int(a.wrapping_mul(*b)),
        (Div | Rem, V::Int(a), V::Int(b)) => V::Int(int_div(op, *a, *b)?),
        (Add, V::Str(a), V::Str(b)) => V::Str(format!("{a}{b}")),
        (And, V::Bool(a), V::Bool(b)) => V::Bool(*a && *b),
        (Or, V::Bool(a), V::Bool(b)) => V::Bool(*a || *b),
        (Eq | Ne, V::Bool(a), V::Bool(b)) => V::Bool((a == b) == (op == Eq)),
        (_, V::Str(a), V::Str(b)) => match cmp(a.as_bytes().cmp(b.as_bytes())) {
            Some(r) => V::Bool(r),
            None => return Ok(None),
        },
        (_, V::Int(a), V::Int(b)) => match cmp(a.cmp(b)) {
            Some(r) => V::Bool(r),
            None => return Ok(None),
        },
        _ => {
            let (Some(a), Some(b)) = (f(x), f(y)) else {
                return Ok(None);
            };
            match op {
                Add => V::Float(a + b),
                Sub => V::Float(a - b),
                Mul => V::Float(a * b),
                Div => V::Float(a / b),
                Rem => V::Float(a % b),
                Eq => V::Bool(a == b),
                Ne => V::Bool(a != b),
                Lt => V::Bool(a < b),
                Le => V::Bool(a <= b),
                Gt => V::Bool(a > b),
                Ge => V::Bool(a >= b),
                _ => return Ok(None),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConstValue as V;

    #[test]
    fn folding_follows_runtime_semantics() {
        assert_eq!(
            binary(BinOp::Div, &V::Int(-7), &V::Int(2)),
            Ok(Some(V::Int(-3)))
        );
        assert_eq!(
            binary(BinOp::Rem, &V::Int(-7), &V::Int(2)),
            Ok(Some(V::Int(-1)))
        );
        assert_eq!(
            binary(BinOp::Rem, &V::Int(i64::MIN), &V::Int(-1)),
            Ok(Some(V::Int(0)))
        );
        assert!(binary(BinOp::Div, &V::Int(1), &V::Int(0)).is_err());
        assert_eq!(
            binary(BinOp::Add, &V::Int(1), &V::Float(0.5)),
            Ok(Some(V::Float(1.5)))
        );
        assert_eq!(
            binary(BinOp::Lt, &V::Str("é".into()), &V::Str("日".into())),
            Ok(Some(V::Bool(true)))
        );
    }

    #[test]
    fn a_constant_that_divides_by_zero_is_a_check_error() {
        let msgs = super::super::messages(
            "const A = 4\nconst B = A / (A - 4)\nconst C = B + 1\nconst D = 7 % 0\nfunc main()\n    print(C)\n~\n",
        );
        assert_eq!(
            msgs,
            [
                "a division by zero in a constant",
                "a modulo by zero in a constant"
            ]
        );
    }
}
