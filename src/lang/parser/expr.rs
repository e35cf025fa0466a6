//! Expressions: ternary, `or`, `and`, `not`, comparisons, `..`, `+ -`,
//! `* / %`, unary `-`, postfix call/field/index, primaries; and written types.

use super::{PResult, Parser};
use crate::lang::ast::{Arg, BinOp, Expr, ExprKind, Ident, TypeExpr, TypeExprKind, UnOp};
use crate::lang::span::Span;
use crate::lang::token::TokenKind;

/// Words of full Coex that only make sense as a non-Core construct when
/// they appear in expression position, with the construct they start.
fn reserved_expr_word(word: &str) -> Option<&'static str> {
    Some(match word {
        "await" => "await",
        "cell" => "cell",
        "llvm_ir" => "llvm_ir",
        "lambda" => "lambdas",
        "match" => "match",
        _ => return None,
    })
}

/// Generic type constructors of full Coex (`Map<…>` etc.) and what they are.
pub(super) fn generic_construct(word: &str) -> &'static str {
    match word {
        "Map" | "map" | "HashMap" | "Dict" | "dict" => "maps",
        "Set" | "set" | "HashSet" => "sets",
        "Channel" | "channel" | "chan" => "channels",
        "Atomic" | "atomic" | "AtomicInt" | "AtomicRef" => "atomics",
        "Matrix" | "matrix" => "matrices",
        "Tuple" | "tuple" => "tuples",
        _ => "generics beyond List<T>",
    }
}

fn binop(k: &TokenKind) -> Option<(BinOp, u8)> {
    use TokenKind::*;
    Some(match k {
        EqEq => (BinOp::Eq, 4),
        NotEq => (BinOp::Ne, 4),
        Lt => (BinOp::Lt, 4),
        Gt => (BinOp::Gt, 4),
        Le => (BinOp::Le, 4),
        Ge => (BinOp::Ge, 4),
        DotDot => (BinOp::Range, 5),
        Plus => (BinOp::Add, 6),
        Minus => (BinOp::Sub, 6),
        Star => (BinOp::Mul, 7),
        Slash => (BinOp::Div, 7),
        Percent => (BinOp::Rem, 7),
        _ => return None,
    })
}

impl Parser<'_> {
    fn mk(&mut self, kind: ExprKind, span: Span) -> Expr {
        let id = self.id();
        Expr { id, kind, span }
    }

    /// A full expression (lowest precedence: the ternary `c ? a : b`).
    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.ternary();
        self.leave();
        r
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let cond = self.or_expr()?;
        if self.eat(&TokenKind::Question) {
            let then = self.expr()?;
            self.expect(&TokenKind::Colon, "in `c ? a : b`")?;
            let other = self.expr()?;
            let span = cond.span.to(other.span);
            return Ok(self.mk(
                ExprKind::Ternary(Box::new(cond), Box::new(then), Box::new(other)),
                span,
            ));
        }
        if self.at(&TokenKind::FatArrow) {
            let span = self.span();
            return Err(self.unsupported(span, "lambdas"));
        }
        Ok(cond)
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        self.left_chain(&TokenKind::Or, BinOp::Or, Self::and_expr)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        self.left_chain(&TokenKind::And, BinOp::And, Self::not_expr)
    }

    /// `operand (tok operand)*` folded to the left: `or` and `and` share one shape.
    fn left_chain(
        &mut self,
        tok: &TokenKind,
        op: BinOp,
        operand: fn(&mut Self) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut lhs = operand(self)?;
        while self.eat(tok) {
            let rhs = operand(self)?;
            let span = lhs.span.to(rhs.span);
            lhs = self.mk(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span);
        }
        Ok(lhs)
    }

    /// After a prefix operator: parses its operand under the nesting limit
    /// and returns it with the span from the operator on.
    fn prefix_operand(&mut self, operand: fn(&mut Self) -> PResult<Expr>) -> PResult<(Span, Expr)> {
        let start = self.bump().span;
        self.enter()?;
        let inner = operand(self);
        self.leave();
        let inner = inner?;
        Ok((start.to(inner.span), inner))
    }

    fn not_expr(&mut self) -> PResult<Expr> {
        if self.at(&TokenKind::Not) {
            let (span, inner) = self.prefix_operand(Self::not_expr)?;
            return Ok(self.mk(ExprKind::Unary(UnOp::Not, Box::new(inner)), span));
        }
        self.binary(4)
    }

    /// Precedence climbing over comparison, range, additive, multiplicative.
    fn binary(&mut self, min_prec: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = binop(self.kind()) {
            if prec < min_prec {
                break;
            }
            self.bump();
            let rhs = self.binary(prec + 1)?;
            let span = lhs.span.to(rhs.span);
            lhs = self.mk(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.at(&TokenKind::Minus) {
            let (span, inner) = self.prefix_operand(Self::unary)?;
            // Fold `-literal` so `-9223372036854775808`-style edge cases and
            // constant folding in the back end stay simple.
            return Ok(match inner.kind {
                ExprKind::Int(v) if !matches!(v, i64::MIN) => self.mk(ExprKind::Int(-v), span),
                ExprKind::Float(v) => self.mk(ExprKind::Float(-v), span),
                _ => self.mk(ExprKind::Unary(UnOp::Neg, Box::new(inner)), span),
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            match self.kind() {
                TokenKind::LParen => {
                    self.bump();
                    let args = self.args()?;
                    let end = self.expect(&TokenKind::RParen, "to close the argument list")?;
                    let span = e.span.to(end.span);
                    e = self.mk(
                        ExprKind::Call {
                            callee: Box::new(e),
                            args,
                        },
                        span,
                    );
                }
                TokenKind::Dot => {
                    self.bump();
                    let name = self.expect_ident("after `.`")?;
                    let span = e.span.to(name.span);
                    e = self.mk(
                        ExprKind::Field {
                            object: Box::new(e),
                            name,
                        },
                        span,
                    );
                }
                TokenKind::LBracket => {
                    let open = self.bump().span;
                    if self.at(&TokenKind::Colon) {
                        return Err(self.unsupported(open.to(self.span()), "slices"));
                    }
                    let index = self.expr()?;
                    if self.at(&TokenKind::Colon) {
                        let span = open.to(self.span());
                        return Err(self.unsupported(span, "slices"));
                    }
                    if let ExprKind::Binary(BinOp::Range, _, _) = index.kind {
                        return Err(self.unsupported(index.span, "slices"));
                    }
                    let end = self.expect(&TokenKind::RBracket, "to close the index")?;
                    let span = e.span.to(end.span);
                    e = self.mk(
                        ExprKind::Index {
                            object: Box::new(e),
                            index: Box::new(index),
                        },
                        span,
                    );
                }
                _ => return Ok(e),
            }
        }
    }

    fn args(&mut self) -> PResult<Vec<Arg>> {
        let mut args = Vec::new();
        while !self.at(&TokenKind::RParen) {
            let name = if matches!(self.kind(), TokenKind::Ident(_))
                && *self.peek_kind(1) == TokenKind::Colon
            {
                let n = self.expect_ident("")?;
                self.bump();
                Some(n)
            } else {
                None
            };
            let value = self.expr()?;
            args.push(Arg { name, value });
            if !self.eat(&TokenKind::Comma) {
                break;
            }
        }
        Ok(args)
    }

    /// A literal, a name, `self`, `( … )` or `[ … ]`; other openers are
    /// reported as unsupported constructs.
    fn primary(&mut self) -> PResult<Expr> {
        let t = self.tok().clone();
        let span = t.span;
        match t.kind {
            TokenKind::Int(v) => {
                self.bump();
                Ok(self.mk(ExprKind::Int(v), span))
            }
            TokenKind::Float(v) => {
                self.bump();
                Ok(self.mk(ExprKind::Float(v), span))
            }
            TokenKind::Str(s) => {
                self.bump();
                Ok(self.mk(ExprKind::Str(s), span))
            }
            TokenKind::True | TokenKind::False => {
                self.bump();
                Ok(self.mk(ExprKind::Bool(t.kind == TokenKind::True), span))
            }
            TokenKind::SelfKw => {
                self.bump();
                Ok(self.mk(ExprKind::SelfRef, span))
            }
            TokenKind::Ident(name) => {
                if let Some(what) = reserved_expr_word(&name) {
                    return Err(self.unsupported(span, what));
                }
                if matches!(
                    generic_construct(&name),
                    "maps" | "sets" | "channels" | "atomics" | "matrices" | "tuples"
                ) && self.generic_args_follow()
                {
                    let what = generic_construct(&name);
                    return Err(self.unsupported(span, what));
                }
                self.bump();
                Ok(self.mk(ExprKind::Name(name), span))
            }
            TokenKind::LParen => self.parenthesized(span),
            TokenKind::LBracket => self.list_literal(span),
            TokenKind::LBrace => Err(self.unsupported(span, "maps and sets")),
            TokenKind::Func | TokenKind::Formula | TokenKind::Task => {
                Err(self.unsupported(span, "lambdas"))
            }
            TokenKind::Pipe => Err(self.unsupported(span, "lambdas")),
            TokenKind::At => Err(self.unsupported(span, "directives")),
            other => {
                let msg = format!("expected an expression, found {}", other.describe());
                let span = self.error_span();
                Err(self.error(span, msg))
            }
        }
    }

    /// `( expr )`; an empty or comma-separated group would be a tuple.
    fn parenthesized(&mut self, span: Span) -> PResult<Expr> {
        self.bump();
        self.skip_newlines();
        if self.at(&TokenKind::RParen) {
            let span = span.to(self.span());
            return Err(self.unsupported(span, "tuples"));
        }
        let inner = self.expr()?;
        if self.at(&TokenKind::Comma) {
            let span = span.to(self.span());
            return Err(self.unsupported(span, "tuples"));
        }
        let end = self.expect(&TokenKind::RParen, "to close `(`")?;
        Ok(Expr {
            span: span.to(end.span),
            ..inner
        })
    }

    /// `[a, b, …]`, a trailing comma allowed.
    fn list_literal(&mut self, span: Span) -> PResult<Expr> {
        self.bump();
        let mut items = Vec::new();
        while !self.at(&TokenKind::RBracket) {
            items.push(self.expr()?);
            if !self.eat(&TokenKind::Comma) {
                break;
            }
        }
        let end = self.expect(&TokenKind::RBracket, "to close the list")?;
        Ok(self.mk(ExprKind::List(items), span.to(end.span)))
    }

    /// A written type: `int`, `Name`, `[T]`, `List<T>`.
    pub(crate) fn type_expr(&mut self) -> PResult<TypeExpr> {
        self.enter()?;
        let r = self.type_expr_inner();
        self.leave();
        r
    }

    fn type_expr_inner(&mut self) -> PResult<TypeExpr> {
        let start = self.span();
        match self.kind().clone() {
            TokenKind::LBracket => {
                self.bump();
                let inner = self.type_expr()?;
                let end = self.expect(&TokenKind::RBracket, "to close the list type `[T]`")?;
                Ok(TypeExpr {
                    kind: TypeExprKind::List(Box::new(inner)),
                    span: start.to(end.span),
                })
            }
            TokenKind::LParen => {
                self.unsupported(start, "tuples");
                Ok(self.skip_balanced(start, &TokenKind::LParen, &TokenKind::RParen))
            }
            TokenKind::LBrace => {
                self.unsupported(start, "maps and sets");
                Ok(self.skip_balanced(start, &TokenKind::LBrace, &TokenKind::RBrace))
            }
            TokenKind::Func | TokenKind::Formula | TokenKind::Task => {
                Err(self.unsupported(start, "function types (lambdas)"))
            }
            TokenKind::Ident(name) => {
                self.bump();
                if self.at(&TokenKind::Lt) {
                    if name == "List" {
                        self.bump();
                        let inner = self.type_expr()?;
                        let end = self.expect(&TokenKind::Gt, "to close `List<T>`")?;
                        return Ok(TypeExpr {
                            kind: TypeExprKind::List(Box::new(inner)),
                            span: start.to(end.span),
                        });
                    }
                    let what = generic_construct(&name);
                    self.unsupported(start, what);
                    return Ok(self.skip_balanced(start, &TokenKind::Lt, &TokenKind::Gt));
                }
                // `json` is a type name of full Coex (like `int`); the
                // others are reserved words. `Matrix`, `Json` … are
                // ordinary names: a program may declare such a type.
                let what = match name.as_str() {
                    "json" => Some("JSON"),
                    "matrix" => Some("matrices"),
                    "cell" => Some("cell"),
                    _ => None,
                };
                if let Some(what) = what {
                    self.unsupported(start, what);
                    return Ok(TypeExpr {
                        kind: TypeExprKind::Unsupported,
                        span: start,
                    });
                }
                Ok(TypeExpr {
                    kind: TypeExprKind::Named(name),
                    span: start,
                })
            }
            other => {
                let msg = format!("expected a type, found {}", other.describe());
                let span = self.error_span();
                Err(self.error(span, msg))
            }
        }
    }

    /// Whether `<` then type-shaped tokens then `>` follow the name at the
    /// cursor on this line (`Map<string, int>`), not a comparison
    /// (`set < 5`, where `set` is a local).
    fn generic_args_follow(&self) -> bool {
        if *self.peek_kind(1) != TokenKind::Lt {
            return false;
        }
        let mut depth = 0usize;
        let mut ahead = 1;
        loop {
            match self.peek_kind(ahead) {
                TokenKind::Lt => depth += 1,
                TokenKind::Gt => {
                    depth -= 1;
                    if depth == 0 {
                        return ahead > 2;
                    }
                }
                TokenKind::Ident(_)
                | TokenKind::Comma
                | TokenKind::LBracket
                | TokenKind::RBracket
                | TokenKind::LParen
                | TokenKind::RParen => {}
                _ => return false,
            }
            ahead += 1;
        }
    }

    /// Skips a bracketed unsupported type (`<…>`, `(…)`, `{…}`) from its
    /// opening token, nesting included, on one line.
    fn skip_balanced(&mut self, start: Span, open: &TokenKind, close: &TokenKind) -> TypeExpr {
        let mut depth = 0usize;
        loop {
            let k = self.kind().clone();
            if k == TokenKind::Newline || k == TokenKind::Eof {
                break;
            }
            self.bump();
            if k == *open {
                depth += 1;
            } else if k == *close {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
        }
        TypeExpr {
            kind: TypeExprKind::Unsupported,
            span: start.to(self.prev_span()),
        }
    }

    /// A name for a binding, or an error naming the context.
    pub(crate) fn binding_name(&mut self, context: &str) -> PResult<Ident> {
        self.decl_name(context)
    }
}
