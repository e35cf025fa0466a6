//! Top-level `const` values: the checker computes them
//! (`lang::check::consts`, where a division by zero in a constant is a
//! check error); the IR holds each as a literal.

use crate::codegen::ir::{Const, Literal};
use crate::lang::program::ConstValue;

use super::Bridge;

impl Bridge<'_> {
    /// Every const's value as an IR literal.
    pub(super) fn lower_consts(&mut self) -> Vec<Const> {
        let mut out = Vec::new();
        for c in &self.prog.consts {
            let value = match &c.value {
                Some(ConstValue::Int(v)) => Literal::Int(*v),
                Some(ConstValue::Float(v)) => Literal::Float(*v),
                Some(ConstValue::Bool(v)) => Literal::Bool(*v),
                Some(ConstValue::Str(v)) => Literal::Str(v.clone()),
                None => {
                    // Not reached after a clean check; never miscompiled.
                    self.errors.push(crate::lang::Diagnostic::error(
                        c.span,
                        format!("not supported yet: the value of const `{}`", c.name),
                    ));
                    Literal::Int(0)
                }
            };
            out.push(Const {
                name: c.name.clone(),
                value,
            });
        }
        out
    }
}
