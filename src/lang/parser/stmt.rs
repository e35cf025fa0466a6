//! Statements and blocks. A block runs until `~`/`end` (consumed by the
//! construct that opened it), or `else`/`case` where those continue it.

use super::{PResult, Parser};
use crate::lang::ast::{
    AssignOp, Block, Expr, ExprKind, Ident, SelectCase, SelectCaseKind, Stmt, StmtKind, TypeExpr,
};
use crate::lang::span::Span;
use crate::lang::token::TokenKind;

pub(super) fn assign_op(k: &TokenKind) -> Option<AssignOp> {
    Some(match k {
        TokenKind::Assign => AssignOp::Set,
        TokenKind::PlusAssign => AssignOp::Add,
        TokenKind::MinusAssign => AssignOp::Sub,
        TokenKind::StarAssign => AssignOp::Mul,
        TokenKind::SlashAssign => AssignOp::Div,
        TokenKind::PercentAssign => AssignOp::Rem,
        _ => return None,
    })
}

impl Parser<'_> {
    fn at_block_end(&self) -> bool {
        if matches!(
            self.kind(),
            TokenKind::End | TokenKind::Else | TokenKind::Case
        ) && assign_op(self.peek_kind(1)).is_some()
        {
            // `else = 1`: a keyword used as a local's name (reported by `stmt`).
            return false;
        }
        matches!(
            self.kind(),
            TokenKind::Tilde | TokenKind::End | TokenKind::Else | TokenKind::Case | TokenKind::Eof
        ) || self.at_item_start()
    }

    /// Whether the block opened on a line indented `col` ends here.
    fn block_ends(&mut self, col: usize) -> bool {
        if !self.by_layout {
            return self.at_block_end();
        }
        match self.layout_at(col) {
            super::layout::Layout::Inside => self.at_block_end(),
            _ => true,
        }
    }

    /// Statements up to (not including) a block closer; `open` is the
    /// construct's first token.
    pub(crate) fn block(&mut self, open: Span) -> PResult<Block> {
        self.enter()?;
        let col = self.line_indent(open);
        let start = self.span();
        let mut stmts = Vec::new();
        self.skip_newlines();
        while !self.block_ends(col) {
            let start_pos = self.pos;
            match self.stmt() {
                Ok(s) => stmts.push(s),
                Err(_) if self.header_failed(start_pos) => {
                    // The header of a block statement is broken: skip the
                    // whole construct (to its `~`) so its body does not
                    // spill into the enclosing block.
                    let start = self.tokens[start_pos].span;
                    self.skip_construct(start);
                }
                Err(_) => {
                    if self.too_deep_reported {
                        self.leave();
                        return Err(super::Reported);
                    }
                    if !std::mem::take(&mut self.just_skipped) && !self.at_item_start() {
                        self.sync_line();
                    }
                }
            }
        }
        self.leave();
        let end = self.prev_span();
        Ok(Block {
            stmts,
            span: Span::new(
                start.file,
                start.start as usize,
                end.end.max(start.start) as usize,
            ),
        })
    }

    /// Whether the statement starting at token `start_pos` opens a block
    /// and failed on its first line.
    fn header_failed(&self, start_pos: usize) -> bool {
        if self.too_deep_reported || self.just_skipped {
            return false;
        }
        let opens_block = match &self.tokens[start_pos].kind {
            TokenKind::If
            | TokenKind::While
            | TokenKind::For
            | TokenKind::Select
            | TokenKind::Within
            | TokenKind::Task => true,
            TokenKind::Ident(_) => {
                matches!(
                    self.tokens.get(start_pos + 2).map(|t| &t.kind),
                    Some(TokenKind::Task)
                )
            }
            _ => false,
        };
        opens_block
            && self.tokens[start_pos..self.pos.min(self.tokens.len())]
                .iter()
                .all(|t| t.kind != TokenKind::Newline)
    }

    /// Whether an `else` (or `~`) at the cursor belongs to the construct
    /// opened at `open` (by layout: not on a line indented less than its
    /// opener).
    fn else_continues(&self, open: Span) -> bool {
        !self.by_layout
            || !self.first_on_line(self.pos)
            || self.column_of(self.span().start) >= self.line_indent(open)
    }

    /// The end of a block header: an optional `:` then a line break.
    fn header_end(&mut self, what: &str) -> PResult<()> {
        // `header: stmt; stmt; ~` puts the block on the same line.
        if self.eat(&TokenKind::Colon) && !self.at(&TokenKind::Newline) {
            return Ok(());
        }
        if self.at(&TokenKind::Newline) {
            self.skip_newlines();
            Ok(())
        } else {
            let found = self.kind().describe();
            let span = self.error_span();
            Err(self.error(
                span,
                format!("expected a line break after the {what} header, found {found}"),
            ))
        }
    }

    /// Consumes the `~` (or `end`) that closes a construct opened at `open`.
    /// Without one, the first pass only notes that the blocks do not match
    /// up: the file is then parsed again by layout, which says which block
    /// is unclosed (see [`super::layout`]).
    pub(crate) fn close(&mut self, open: Span, what: &str) -> PResult<Span> {
        if self.by_layout {
            return Ok(self.close_by_layout(open, what));
        }
        if matches!(self.kind(), TokenKind::Tilde | TokenKind::End) {
            self.note_alignment(open);
            Ok(self.bump().span)
        } else {
            self.mismatched = true;
            Err(super::Reported)
        }
    }

    fn stmt_node(&mut self, kind: StmtKind, span: Span) -> Stmt {
        let id = self.id();
        Stmt { id, kind, span }
    }

    /// One statement, dispatched on its first token, up to the end of its line.
    pub(crate) fn stmt(&mut self) -> PResult<Stmt> {
        self.just_skipped = false;
        let start = self.span();
        let k = self.kind();
        if *k != TokenKind::SelfKw
            && TokenKind::keyword(k.text()).is_some()
            && assign_op(self.peek_kind(1)).is_some()
        {
            // `if = 1`: a keyword where a local's name was meant.
            let word = k.text();
            self.refuse_reserved(word, start);
            return Err(super::Reported);
        }
        let s = match self.kind().clone() {
            TokenKind::If => self.if_stmt()?,
            TokenKind::While => self.while_stmt(start)?,
            TokenKind::For => {
                self.bump();
                let (var, iter, body, end) = self.for_rest(start, "for loop")?;
                self.stmt_node(StmtKind::For { var, iter, body }, start.to(end))
            }
            TokenKind::Task if *self.peek_kind(1) == TokenKind::For => {
                self.task_for(start, None)?
            }
            TokenKind::Select => self.select_stmt()?,
            TokenKind::Within => self.within_stmt(start)?,
            TokenKind::Return => self.return_stmt(start)?,
            TokenKind::Yield => {
                self.bump();
                let value = self.expr()?;
                let span = start.to(value.span);
                self.stmt_node(StmtKind::Yield(value), span)
            }
            TokenKind::Break => {
                self.bump();
                self.stmt_node(StmtKind::Break, start)
            }
            TokenKind::Continue => {
                self.bump();
                self.stmt_node(StmtKind::Continue, start)
            }
            TokenKind::At => {
                let span = self.span();
                return Err(self.unsupported(span, "directives"));
            }
            TokenKind::Ident(w)
                if matches!(self.peek_kind(1), TokenKind::Assign | TokenKind::Colon) =>
            {
                self.bind_stmt(w)?
            }
            TokenKind::Ident(w) if w == "match" => {
                let span = self.span();
                self.skip_unsupported(span, "match");
                return Err(super::Reported);
            }
            TokenKind::Ident(w) if w == "replace" => {
                let span = self.span();
                return Err(self.unsupported(span, "replace"));
            }
            k if k.starts_item() => return Err(self.nested_item()),
            _ => self.expr_or_assign_stmt(start)?,
        };
        self.end_of_statement()?;
        Ok(s)
    }

    /// `while cond` … `~`.
    fn while_stmt(&mut self, start: Span) -> PResult<Stmt> {
        self.bump();
        let cond = self.expr()?;
        self.header_end("while")?;
        let body = self.block(start)?;
        let end = self.close(start, "while loop")?;
        Ok(self.stmt_node(StmtKind::While { cond, body }, start.to(end)))
    }

    /// `within deadline` … [`else` …] `~`.
    fn within_stmt(&mut self, start: Span) -> PResult<Stmt> {
        self.bump();
        let deadline = self.expr()?;
        self.header_end("within")?;
        let body = self.block(start)?;
        let otherwise = if self.else_continues(start) && self.eat(&TokenKind::Else) {
            self.header_end("else")?;
            Some(self.block(start)?)
        } else {
            None
        };
        let end = self.close(start, "within block")?;
        Ok(self.stmt_node(
            StmtKind::Within {
                deadline,
                body,
                otherwise,
            },
            start.to(end),
        ))
    }

    /// `return` with an optional value (none when the line or block ends).
    fn return_stmt(&mut self, start: Span) -> PResult<Stmt> {
        self.bump();
        let value = if matches!(
            self.kind(),
            TokenKind::Newline | TokenKind::Eof | TokenKind::Tilde | TokenKind::End
        ) {
            None
        } else {
            Some(self.expr()?)
        };
        let span = value.as_ref().map_or(start, |v| start.to(v.span));
        Ok(self.stmt_node(StmtKind::Return(value), span))
    }

    /// Reports a declaration inside a block and skips it, body and all.
    fn nested_item(&mut self) -> super::Reported {
        let span = self.span();
        let what = self.kind().text();
        let opens_block = matches!(
            self.kind(),
            TokenKind::Func | TokenKind::Formula | TokenKind::Task | TokenKind::Type
        );
        self.error_help(
            span,
            format!("`{what}` declarations are only allowed at the top level"),
            "move this declaration out of the enclosing block",
        );
        if opens_block {
            // Skip the nested declaration with its body and `~`.
            self.skip_construct(span);
            self.just_skipped = true;
        }
        super::Reported
    }

    /// An expression statement, or an assignment when an assignment operator follows.
    fn expr_or_assign_stmt(&mut self, start: Span) -> PResult<Stmt> {
        let target = self.expr()?;
        let Some(op) = assign_op(self.kind()) else {
            let span = target.span;
            return Ok(self.stmt_node(StmtKind::Expr(target), span));
        };
        self.bump();
        let value = self.expr()?;
        if !matches!(
            target.kind,
            ExprKind::Name(_) | ExprKind::Field { .. } | ExprKind::Index { .. }
        ) {
            return Err(self.error_help(
                target.span,
                "cannot assign to this expression",
                "assign to a variable, a field (`p.x = …`) or a list element (`xs[i] = …`)",
            ));
        }
        let span = start.to(value.span);
        Ok(self.stmt_node(StmtKind::Assign { target, op, value }, span))
    }

    fn bind_stmt(&mut self, name: String) -> PResult<Stmt> {
        let start = self.bump().span;
        self.refuse_reserved(&name, start);
        let ident = Ident { name, span: start };
        let ty: Option<TypeExpr> = if self.eat(&TokenKind::Colon) {
            Some(self.type_expr()?)
        } else {
            None
        };
        self.expect(&TokenKind::Assign, "in the binding")?;
        if self.at(&TokenKind::Task) && *self.peek_kind(1) == TokenKind::For {
            return self.task_for(start, Some((ident, ty)));
        }
        let value = self.expr()?;
        let span = start.to(value.span);
        Ok(self.stmt_node(
            StmtKind::Bind {
                name: ident,
                ty,
                value,
            },
            span,
        ))
    }

    fn for_rest(&mut self, start: Span, what: &str) -> PResult<(Ident, Expr, Block, Span)> {
        if self.at(&TokenKind::LParen) {
            let span = self.span();
            return Err(self.unsupported(span, "tuples"));
        }
        let var = self.binding_name("for the loop variable")?;
        if self.at(&TokenKind::Comma) {
            let span = self.span();
            return Err(self.unsupported(span, "tuples"));
        }
        self.expect(&TokenKind::In, "after the loop variable")?;
        let iter = self.expr()?;
        self.header_end(what)?;
        let body = self.block(start)?;
        let end = self.close(start, what)?;
        Ok((var, iter, body, end))
    }

    fn task_for(
        &mut self,
        start: Span,
        target: Option<(Ident, Option<TypeExpr>)>,
    ) -> PResult<Stmt> {
        let open = self.bump().span; // task
        self.bump(); // for
        let (var, iter, body, end) = self.for_rest(open, "task for")?;
        Ok(self.stmt_node(
            StmtKind::TaskFor {
                target,
                var,
                iter,
                body,
            },
            start.to(end),
        ))
    }

    fn if_stmt(&mut self) -> PResult<Stmt> {
        let start = self.bump().span; // if
        let cond = self.expr()?;
        self.header_end("if")?;
        let then = self.block(start)?;
        let mut closed_early = None;
        // Lenient form: `~` before `else` (`if …~ else … ~`).
        if matches!(self.kind(), TokenKind::Tilde | TokenKind::End) && self.else_continues(start) {
            let mut ahead = 1;
            // By layout, further `~`s before the `else` are extra ones.
            while *self.peek_kind(ahead) == TokenKind::Newline
                || (self.by_layout && self.closer_at(self.pos + ahead))
            {
                ahead += 1;
            }
            if *self.peek_kind(ahead) == TokenKind::Else {
                self.bump();
                self.skip_newlines();
                while self.closer_at(self.pos) {
                    self.extra_closer();
                }
            } else {
                closed_early = Some(self.bump().span);
            }
        }
        if let Some(end) = closed_early {
            return Ok(self.stmt_node(
                StmtKind::If {
                    cond,
                    then,
                    otherwise: None,
                },
                start.to(end),
            ));
        }
        if self.else_continues(start) && self.eat(&TokenKind::Else) {
            if self.at(&TokenKind::If) {
                let nested = self.if_stmt()?;
                let span = start.to(nested.span);
                let block = Block {
                    span: nested.span,
                    stmts: vec![nested],
                };
                return Ok(self.stmt_node(
                    StmtKind::If {
                        cond,
                        then,
                        otherwise: Some(block),
                    },
                    span,
                ));
            }
            self.header_end("else")?;
            let otherwise = self.block(start)?;
            let end = self.close(start, "if")?;
            return Ok(self.stmt_node(
                StmtKind::If {
                    cond,
                    then,
                    otherwise: Some(otherwise),
                },
                start.to(end),
            ));
        }
        let end = self.close(start, "if")?;
        Ok(self.stmt_node(
            StmtKind::If {
                cond,
                then,
                otherwise: None,
            },
            start.to(end),
        ))
    }

    fn select_stmt(&mut self) -> PResult<Stmt> {
        let start = self.bump().span; // select
        self.header_end("select")?;
        let mut cases = Vec::new();
        let col = self.line_indent(start);
        loop {
            self.skip_newlines();
            if self.by_layout && self.layout_at(col) == super::layout::Layout::Dedent {
                break; // `close` reports the select as unclosed
            }
            match self.kind() {
                TokenKind::Case => match self.select_case() {
                    Ok(c) => cases.push(c),
                    Err(_) => self.sync_line(),
                },
                TokenKind::Tilde | TokenKind::End | TokenKind::Eof => break,
                other => {
                    let found = other.describe();
                    // Often a case whose `~` is missing or doubled.
                    self.mismatched = true;
                    let span = self.span();
                    self.error_help(
                        span,
                        format!("expected `case` or `~` in select, found {found}"),
                        "a select holds `case r = f(x):` … `~` and `case ResourceExhausted:` … `~`",
                    );
                    self.sync_line();
                }
            }
        }
        let end = self.close(start, "select")?;
        Ok(self.stmt_node(StmtKind::Select { cases }, start.to(end)))
    }

    fn select_case(&mut self) -> PResult<SelectCase> {
        let start = self.bump().span; // case
        let kind = if self.at_ident("ResourceExhausted") && *self.peek_kind(1) != TokenKind::LParen
        {
            self.bump();
            SelectCaseKind::ResourceExhausted
        } else if matches!(self.kind(), TokenKind::Ident(_))
            && *self.peek_kind(1) == TokenKind::Assign
        {
            let bind = self.binding_name("")?;
            self.bump();
            let call = self.expr()?;
            SelectCaseKind::Call {
                bind: Some(bind),
                call,
            }
        } else {
            let call = self.expr()?;
            SelectCaseKind::Call { bind: None, call }
        };
        self.expect(&TokenKind::Colon, "after the select case")?;
        self.header_end("case")?;
        let body = self.block(start)?;
        let end = if self.at(&TokenKind::Case) {
            self.prev_span()
        } else {
            self.close(start, "case")?
        };
        Ok(SelectCase {
            kind,
            body,
            span: start.to(end),
        })
    }
}
