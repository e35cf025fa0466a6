//! The move pass: a read of a list or record local that is the local's last
//! use becomes [`ExprKind::Move`], so its value passes on without being
//! marked shared and stays writable in place where it goes.
//!
//! Why: containers have value semantics by a shared flag (docs/runtime.md,
//! "Lists and records"). `xs = sort(xs, 0, n)` or `ys = xs` followed by no
//! further use of `xs` would otherwise mark the list shared and make the
//! next write copy it: O(n) per call of a recursive in-place sort. After a
//! move, the old binding still points at the value but is never read again
//! before it is assigned anew, so no one can observe later writes.
//!
//! The analysis is classic backward liveness over the structured IR, with a
//! fixed point per loop. Conservative choices: a `task for` reads every
//! local (its snapshot); inside a `within` body every local the `else`
//! branch may read stays live throughout (an FFI call may leave for it).
//! Rewrites are redone on every pass over a loop body, so the last pass,
//! made with the fixed point, decides.

use super::ir::{Builtin, Expr, ExprKind, Function, LocalId, Place, Program, Step, Stmt};

/// A program whose last reads of container locals are moves.
pub fn with_moves(program: &Program) -> Program {
    let mut p = program.clone();
    for f in &mut p.functions {
        mark_function(f);
    }
    p
}

/// Marks the moves of one function in place.
pub fn mark_function(f: &mut Function) {
    let n = f.locals.len();
    let mut cx = Liveness {
        owned: f.locals.iter().map(|l| l.ty.is_container()).collect(),
        loops: Vec::new(),
        extra: Live::empty(n),
        n,
    };
    cx.block(&mut f.body, Live::empty(n));
}

/// A set of locals.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Live(Vec<u64>);

impl Live {
    fn empty(n: usize) -> Live {
        Live(vec![0; n.div_ceil(64)])
    }
    fn all(n: usize) -> Live {
        let mut l = Live::empty(n);
        for i in 0..n {
            l.insert(i);
        }
        l
    }
    fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
    fn remove(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }
    fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn union(&mut self, other: &Live) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

struct Liveness {
    /// Locals whose reads may become moves (lists and records).
    owned: Vec<bool>,
    /// Innermost last: (live after the loop, live at its `continue`).
    loops: Vec<(Live, Live)>,
    /// Locals live anywhere in the current `within` bodies.
    extra: Live,
    n: usize,
}

fn idx(l: LocalId) -> usize {
    l.0 as usize
}

impl Liveness {
    fn block(&mut self, stmts: &mut [Stmt], after: Live) -> Live {
        let mut live = after;
        for s in stmts.iter_mut().rev() {
            live = self.stmt(s, live);
            live.union(&self.extra);
        }
        live
    }

    fn stmt(&mut self, s: &mut Stmt, mut after: Live) -> Live {
        match s {
            Stmt::Assign { local, value } => {
                after.remove(idx(*local));
                self.expr(value, after)
            }
            Stmt::Store { place, value } => {
                let live = self.place(place, after);
                self.expr(value, live)
            }
            Stmt::If {
                cond,
                then_body,
                else_body,
            } => {
                let mut live = self.block(then_body, after.clone());
                live.union(&self.block(else_body, after));
                self.expr(cond, live)
            }
            Stmt::While { cond, body } => self.while_loop(cond, body, &after),
            Stmt::ForRange {
                var,
                start,
                end,
                body,
            } => {
                let head = self.counted_loop(*var, body, &after);
                let live = self.expr(end, head);
                self.expr(start, live)
            }
            Stmt::ForList { var, list, body } => {
                let head = self.counted_loop(*var, body, &after);
                self.expr(list, head)
            }
            Stmt::Break => self.loop_target(true),
            Stmt::Continue => self.loop_target(false),
            Stmt::Return(value) => {
                let none = Live::empty(self.n);
                match value {
                    Some(e) => self.expr(e, none),
                    None => none,
                }
            }
            Stmt::Expr(e) | Stmt::Yield(e) => self.expr(e, after),
            Stmt::TaskFor { items, body, .. } => {
                self.task_body(body);
                // the snapshot reads every local after `items`
                self.expr(items, Live::all(self.n))
            }
            Stmt::Select {
                target,
                args,
                body,
                exhausted,
                ..
            } => {
                let mut live = self.block(body, after.clone());
                if let Some(t) = target {
                    live.remove(idx(*t));
                }
                live.union(&self.block(exhausted, after));
                args.iter_mut()
                    .rev()
                    .fold(live, |live, a| self.expr(a, live))
            }
            Stmt::Within {
                deadline,
                body,
                else_body,
            } => {
                let otherwise = self.block(else_body, after.clone());
                let saved = self.extra.clone();
                self.extra.union(&otherwise);
                let mut live = self.block(body, after);
                self.extra = saved;
                live.union(&otherwise);
                self.expr(deadline, live)
            }
        }
    }

    /// `while`: iterate to the fixed point of the live set at the header.
    fn while_loop(&mut self, cond: &mut Expr, body: &mut [Stmt], after: &Live) -> Live {
        let mut head = Live::empty(self.n);
        loop {
            self.loops.push((after.clone(), head.clone()));
            let mut at_cond = self.block(body, head.clone());
            self.loops.pop();
            at_cond.union(after);
            let new_head = self.expr(cond, at_cond);
            if new_head == head {
                return head;
            }
            head = new_head;
        }
    }

    /// Both `for` forms: the live set at the header (where `var` is about
    /// to be bound), at its fixed point.
    fn counted_loop(&mut self, var: LocalId, body: &mut [Stmt], after: &Live) -> Live {
        let mut head = after.clone();
        loop {
            self.loops.push((after.clone(), head.clone()));
            let mut new_head = self.block(body, head.clone());
            self.loops.pop();
            new_head.remove(idx(var));
            new_head.union(after);
            if new_head == head {
                return head;
            }
            head = new_head;
        }
    }

    fn loop_target(&self, is_break: bool) -> Live {
        match self.loops.last() {
            Some((brk, cont)) => {
                if is_break {
                    brk.clone()
                } else {
                    cont.clone()
                }
            }
            None => Live::empty(self.n),
        }
    }

    /// A `task for` body runs as a function of its own: nothing of the
    /// parent's loops or `within`s applies, nothing is live after it.
    fn task_body(&mut self, body: &mut [Stmt]) {
        let loops = std::mem::take(&mut self.loops);
        let extra = std::mem::replace(&mut self.extra, Live::empty(self.n));
        self.block(body, Live::empty(self.n));
        self.loops = loops;
        self.extra = extra;
    }

    /// A place written or appended to: its indices (evaluated in order,
    /// after the value) and its root, which stays live.
    fn place(&mut self, place: &mut Place, mut after: Live) -> Live {
        after.insert(idx(place.root));
        place
            .path
            .iter_mut()
            .rev()
            .fold(after, |live, step| match step {
                Step::Index(e) => self.expr(e, live),
                Step::Field(_) => live,
            })
    }

    /// Reads of `e` in evaluation order, backwards.
    fn expr(&mut self, e: &mut Expr, mut after: Live) -> Live {
        match &mut e.kind {
            ExprKind::Lit(_) | ExprKind::Const(_) | ExprKind::Builtin(Builtin::ArgCount) => after,
            ExprKind::Local(l) | ExprKind::Move(l) => {
                let l = *l;
                let i = idx(l);
                let dead = self.owned.get(i).copied().unwrap_or(false)
                    && !after.contains(i)
                    && !self.extra.contains(i);
                e.kind = if dead {
                    ExprKind::Move(l)
                } else {
                    ExprKind::Local(l)
                };
                after.insert(i);
                after
            }
            ExprKind::Binary(_, a, b)
            | ExprKind::Index(a, b)
            | ExprKind::Builtin(
                Builtin::Get(a, b) | Builtin::Range(a, b) | Builtin::Appended(a, b),
            ) => {
                // `and`/`or` may skip b: b's reads are only added, which a
                // plain sequence does as well.
                let live = self.expr(b, after);
                self.expr(a, live)
            }
            ExprKind::Unary(_, a)
            | ExprKind::Field(a, _)
            | ExprKind::Builtin(
                Builtin::Len(a) | Builtin::ToString(a) | Builtin::Print(a) | Builtin::Arg(a),
            ) => self.expr(a, after),
            ExprKind::Ternary(c, a, b) => {
                let mut live = self.expr(a, after.clone());
                live.union(&self.expr(b, after));
                self.expr(c, live)
            }
            ExprKind::Call(_, args)
            | ExprKind::CallExtern(_, args)
            | ExprKind::Record(_, args)
            | ExprKind::List(args) => args
                .iter_mut()
                .rev()
                .fold(after, |live, a| self.expr(a, live)),
            ExprKind::Builtin(Builtin::Append(place, v)) => {
                let live = self.place(place, after);
                self.expr(v, live)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::ir::{FuncKind, Local, SrcLoc, Type};

    fn ex(kind: ExprKind, ty: Type) -> Expr {
        Expr {
            kind,
            ty,
            loc: SrcLoc::default(),
        }
    }
    fn list() -> Type {
        Type::List(Box::new(Type::Int))
    }
    fn read(l: u32) -> Expr {
        ex(ExprKind::Local(LocalId(l)), list())
    }
    fn set(l: u32, value: Expr) -> Stmt {
        Stmt::Assign {
            local: LocalId(l),
            value,
        }
    }
    fn len(e: Expr) -> Expr {
        ex(ExprKind::Builtin(Builtin::Len(Box::new(e))), Type::Int)
    }
    /// Locals 0..3 are lists, local 3 is an int.
    fn marked(body: Vec<Stmt>) -> Vec<Stmt> {
        let mut locals: Vec<Local> = (0..3)
            .map(|i| Local {
                name: format!("l{i}"),
                ty: list(),
            })
            .collect();
        locals.push(Local {
            name: "n".into(),
            ty: Type::Int,
        });
        let mut f = Function {
            name: "f".into(),
            kind: FuncKind::Func,
            params: 0,
            locals,
            ret: Type::Void,
            body,
        };
        mark_function(&mut f);
        f.body
    }
    fn is_move(s: &Stmt) -> bool {
        matches!(s, Stmt::Assign { value, .. } if matches!(value.kind, ExprKind::Move(_)))
    }

    #[test]
    fn a_last_read_moves_and_an_earlier_one_does_not() {
        let body = marked(vec![
            set(1, read(0)),
            Stmt::Expr(len(read(0))),
            set(2, read(0)),
            Stmt::Return(None),
        ]);
        assert!(!is_move(&body[0]), "{body:?}");
        assert!(is_move(&body[2]), "{body:?}");
    }

    #[test]
    fn a_read_inside_a_loop_that_the_next_round_repeats_does_not_move() {
        let int = |v| {
            ex(
                ExprKind::Lit(crate::codegen::ir::Literal::Int(v)),
                Type::Int,
            )
        };
        let body = marked(vec![Stmt::ForRange {
            var: LocalId(3),
            start: int(0),
            end: int(3),
            body: vec![set(1, read(0))],
        }]);
        let Stmt::ForRange { body, .. } = &body[0] else {
            panic!()
        };
        assert!(!is_move(&body[0]), "{body:?}");
        // assigned again before the next round reads it: both reads move
        let body = marked(vec![Stmt::While {
            cond: ex(
                ExprKind::Lit(crate::codegen::ir::Literal::Bool(true)),
                Type::Bool,
            ),
            body: vec![set(1, read(0)), set(0, read(1))],
        }]);
        let Stmt::While { body, .. } = &body[0] else {
            panic!()
        };
        assert!(is_move(&body[0]) && is_move(&body[1]), "{body:?}");
    }

    #[test]
    fn within_else_and_task_for_keep_locals_live() {
        let int = |v| {
            ex(
                ExprKind::Lit(crate::codegen::ir::Literal::Int(v)),
                Type::Int,
            )
        };
        let body = marked(vec![Stmt::Within {
            deadline: int(1),
            body: vec![set(1, read(0))],
            else_body: vec![Stmt::Expr(len(read(0)))],
        }]);
        let Stmt::Within { body, .. } = &body[0] else {
            panic!()
        };
        assert!(!is_move(&body[0]), "{body:?}");
        let body = marked(vec![
            set(1, read(0)),
            Stmt::TaskFor {
                var: LocalId(3),
                items: read(2),
                body: vec![set(2, read(1)), Stmt::Yield(len(read(2)))],
                result: None,
            },
        ]);
        assert!(!is_move(&body[0]), "{body:?}");
        let Stmt::TaskFor { body, .. } = &body[1] else {
            panic!()
        };
        // inside the body, a local read for the last time moves
        assert!(is_move(&body[0]), "{body:?}");
    }
}
