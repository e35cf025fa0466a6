//! Return paths: a function with a return type must return on every path.

use super::Checker;
use crate::lang::ast::{Block, ExprKind, FuncDecl, StmtKind};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::types::Ty;

/// Whether control can never fall off the end of `block`.
pub(crate) fn always_returns(block: &Block) -> bool {
    block.stmts.iter().any(|s| match &s.kind {
        StmtKind::Return(_) => true,
        StmtKind::If {
            then,
            otherwise: Some(o),
            ..
        } => always_returns(then) && always_returns(o),
        StmtKind::Within {
            body,
            otherwise: Some(o),
            ..
        } => always_returns(body) && always_returns(o),
        StmtKind::Select { cases } => {
            !cases.is_empty() && cases.iter().all(|c| always_returns(&c.body))
        }
        // `while true` without `break` never falls through.
        StmtKind::While { cond, body } => {
            matches!(cond.kind, ExprKind::Bool(true)) && !breaks(body)
        }
        _ => false,
    })
}

/// Whether a loop body contains a `break` that leaves this loop.
fn breaks(block: &Block) -> bool {
    block.stmts.iter().any(|s| match &s.kind {
        StmtKind::Break => true,
        StmtKind::If {
            then, otherwise, ..
        } => breaks(then) || otherwise.as_ref().is_some_and(breaks),
        StmtKind::Within {
            body, otherwise, ..
        } => breaks(body) || otherwise.as_ref().is_some_and(breaks),
        StmtKind::Select { cases } => cases.iter().any(|c| breaks(&c.body)),
        _ => false,
    })
}

impl Checker {
    /// Reports a missing return in a function declared to return a value.
    pub(crate) fn check_returns(&mut self, decl: &FuncDecl, ret: &Ty) {
        if *ret == Ty::Void || *ret == Ty::Unknown || always_returns(&decl.body) {
            return;
        }
        let r = self.show(ret);
        let name = &decl.name.name;
        self.error(
            Diagnostic::error(
                decl.name.span,
                format!("missing return: `{name}` must return {r} on every path"),
            )
            .with_help(format!(
                "add `return …` at the end of `{name}`, or cover the missing `else`"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::lang::check::messages;

    #[test]
    fn every_path_must_return() {
        let ok = "func f(n: int) -> int\n    within 5\n        return 1\n    else\n        return 2\n    ~\n~\n\
                  func g() -> int\n    while true\n        print(1)\n    ~\n~\n";
        assert!(messages(ok).is_empty(), "{:?}", messages(ok));
        let bad = "func f(n: int) -> int\n    within 5\n        return 1\n    ~\n~\n";
        assert_eq!(
            messages(bad),
            vec!["missing return: `f` must return int on every path"]
        );
    }
}
