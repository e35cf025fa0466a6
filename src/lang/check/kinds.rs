//! Function-kind rules: a `formula` calls only formulas, never externs,
//! funcs, tasks or `print`, has no `while` and no recursion (direct, mutual
//! or indirect; a call-graph cycle is reported as the cycle).

use std::collections::{BTreeMap, BTreeSet};

use super::stmts::FnCx;
use super::Checker;
use crate::lang::ast::FuncKind;
use crate::lang::diagnostic::Diagnostic;
use crate::lang::span::Span;
use crate::lang::types::FuncId;

const EXTERN_BODY: &str = "Extern functions operate outside Coex's safety guarantees and can only\nbe called from 'func' or 'task' functions.";

impl Checker {
    fn in_formula(cx: &FnCx) -> bool {
        Checker::current_kind(cx) == Some(FuncKind::Formula)
    }

    /// The contract error for an extern called from a formula.
    pub(crate) fn formula_calls_extern(&mut self, cx: &FnCx, span: Span, ext: &str) {
        if Self::in_formula(cx) {
            self.error(
                Diagnostic::error(
                    span,
                    format!(
                        "Cannot call extern function '{ext}' from formula function '{}'",
                        cx.name
                    ),
                )
                .with_body(EXTERN_BODY),
            );
        }
    }

    /// A formula calling a func or task.
    pub(crate) fn formula_calls(&mut self, cx: &FnCx, span: Span, callee: &str, kind: FuncKind) {
        if Self::in_formula(cx) && kind != FuncKind::Formula {
            self.error(
                Diagnostic::error(
                    span,
                    format!("Cannot call {} function '{callee}' from formula function '{}'", kind.keyword(), cx.name),
                )
                .with_body("Formulas are pure: they can only call other formulas.\nDeclare the caller as 'func' (or 'task'), or the callee as 'formula'."),
            );
        }
    }

    /// `print`, `arg_count`, `arg`, `while` and `task for` inside a formula.
    pub(crate) fn formula_forbids(&mut self, cx: &FnCx, span: Span, what: &str) {
        if Self::in_formula(cx) {
            let reads_args = what == "'arg_count'" || what == "'arg'";
            let verb = if reads_args || what == "'print'" {
                "call"
            } else {
                "use"
            };
            let body = if reads_args {
                "Formulas are pure: their result depends only on their parameters, not on\nthe program's arguments. Pass the value in, or declare the function as 'func'."
            } else {
                "Formulas are pure and always terminate: no output, no 'while' loops,\nno tasks. Declare the function as 'func' to do this."
            };
            self.error(
                Diagnostic::error(
                    span,
                    format!("Cannot {verb} {what} in formula function '{}'", cx.name),
                )
                .with_body(body),
            );
        }
    }

    /// Reports every cycle of formula calls once, as the cycle.
    pub(crate) fn check_formula_cycles(&mut self) {
        let mut graph: BTreeMap<FuncId, Vec<(FuncId, Span)>> = BTreeMap::new();
        for e in &self.edges {
            if self.func(e.caller).kind == FuncKind::Formula
                && self.func(e.callee).kind == FuncKind::Formula
            {
                graph.entry(e.caller).or_default().push((e.callee, e.span));
            }
        }
        let mut reported: BTreeSet<FuncId> = BTreeSet::new();
        let starts: Vec<FuncId> = graph.keys().copied().collect();
        for start in starts {
            if reported.contains(&start) {
                continue;
            }
            if let Some(path) = find_cycle(&graph, start) {
                let names: Vec<String> = std::iter::once(start)
                    .chain(path.iter().map(|(f, _)| *f))
                    .map(|f| self.func(f).name.clone())
                    .collect();
                for (f, _) in &path {
                    reported.insert(*f);
                }
                reported.insert(start);
                let span = path.first().map_or(self.func(start).span, |(_, s)| *s);
                let name = self.func(start).name.clone();
                self.error(
                    Diagnostic::error(span, format!("Formula '{name}' is recursive: {}", names.join(" → ")))
                        .with_body("Formulas may not call themselves, directly or through other formulas.\nDeclare one of them as 'func', or compute the result with a 'for' loop."),
                );
            }
        }
    }
}

/// A shortest path of calls from `start` back to `start`, if any
/// (breadth-first, deterministic order).
fn find_cycle(
    graph: &BTreeMap<FuncId, Vec<(FuncId, Span)>>,
    start: FuncId,
) -> Option<Vec<(FuncId, Span)>> {
    let mut prev: BTreeMap<FuncId, (FuncId, Span)> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::new();
    queue.push_back(start);
    let mut seen = BTreeSet::new();
    while let Some(f) = queue.pop_front() {
        for &(g, span) in graph.get(&f).map(Vec::as_slice).unwrap_or(&[]) {
            if g == start {
                let mut path = vec![(start, span)];
                let mut cur = f;
                while cur != start {
                    let (p, s) = prev[&cur];
                    path.push((cur, s));
                    cur = p;
                }
                path.reverse();
                // Each entry: (callee, span of the call that reaches it).
                return Some(path);
            }
            if seen.insert(g) {
                prev.insert(g, (f, span));
                queue.push_back(g);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::lang::check::messages;

    #[test]
    fn a_formula_cycle_is_reported_once_as_the_cycle() {
        // `a` and `b` are in one cycle (and `b` also calls itself): one
        // report, at the first formula, naming the shortest cycle.
        let src = "formula a(n: int) -> int\n    return b(n)\n~\nformula b(n: int) -> int\n    return a(n) + b(n)\n~\n";
        assert_eq!(messages(src), vec!["Formula 'a' is recursive: a → b → a"]);
    }

    #[test]
    fn formulas_may_call_formulas_and_funcs_may_recurse() {
        let src = "formula sq(x: int) -> int\n    return x * x\n~\nformula quad(x: int) -> int\n    return sq(sq(x))\n~\n\
                   func fib(n: int) -> int\n    return n < 2 ? n : fib(n - 1) + fib(n - 2)\n~\n";
        assert!(messages(src).is_empty());
    }
}
