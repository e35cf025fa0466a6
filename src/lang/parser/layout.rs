//! Recovery by layout, for a file whose blocks do not match up.
//!
//! Blocks end with `~`, not by indentation, and a clean file is parsed with
//! no regard to layout. But when the first pass finds a block left open or
//! a `~` that closes nothing, the closers alone cannot say *which* block
//! lacks its `~`: a missing `~` inside a function is only noticed at the
//! next `func`, and every block in between is misread (a `return` lands in
//! the wrong block and the function "misses" a return). So the file is
//! parsed again reading the layout the way a person does:
//!
//! - a block opened on a line indented `col` ends at the first line indented
//!   `col` or less; a `~` there at `col` (or deeper) closes it, anything
//!   else means the block was never closed: reported at its opening line;
//! - a `~` deeper than `col` is the block's own (sloppily indented) closer
//!   unless the block goes on after it (the next line is deeper, or is the
//!   `~` at `col`): then it is an extra `~`, reported and skipped.
//!
//! Each mistake is reported once, where it is, and the rest of the file
//! keeps the shape its indentation shows.
//!
//! The second pass runs when the first found a block still open at the
//! next declaration or the end of the file, a `~` outside any block, a
//! statement at the top level or a stray line in a `select` or a `type`;
//! or found a
//! `~` (or a declaration) indented unlike its opener *and* some parse
//! error. A clean file is never read by layout: sloppy indentation alone
//! is not an error.

use super::Parser;
use crate::lang::diagnostic::Diagnostic;
use crate::lang::span::Span;
use crate::lang::token::TokenKind;

/// Where the cursor stands relative to a block, by layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// Inside the block (a deeper line, or the middle of a line).
    Inside,
    /// At the `~` that closes the block.
    Closer,
    /// At a line indented like the block's opener or less (or the end of
    /// the file), without its `~`.
    Dedent,
}

impl Parser<'_> {
    /// Indentation of the line holding `span`: its first token's column.
    pub(super) fn line_indent(&self, span: Span) -> usize {
        let pos = (span.start as usize).min(self.src.len());
        let line_start = self.src[..pos].rfind('\n').map_or(0, |i| i + 1);
        let rest = &self.src[line_start..];
        rest.len() - rest.trim_start_matches([' ', '\t']).len()
    }

    /// First pass: notes a `~` at the cursor, closing the construct
    /// opened at `open`, that is not indented like the opener's line.
    pub(super) fn note_alignment(&mut self, open: Span) {
        if self.first_on_line(self.pos)
            && self.column_of(self.span().start) != self.line_indent(open)
        {
            self.misaligned = true;
        }
    }

    /// Whether token `i` is a block closer (`~`/`end`, not `end = …`).
    pub(super) fn closer_at(&self, i: usize) -> bool {
        let i = i.min(self.tokens.len() - 1);
        matches!(self.tokens[i].kind, TokenKind::Tilde | TokenKind::End)
            && super::stmt::assign_op(&self.tokens[(i + 1).min(self.tokens.len() - 1)].kind)
                .is_none()
    }

    /// The cursor relative to a block opened on a line indented `col`;
    /// extra `~`s met on the way are reported and skipped.
    pub(super) fn layout_at(&mut self, col: usize) -> Layout {
        loop {
            if self.at(&TokenKind::Eof) {
                return Layout::Dedent;
            }
            if !self.first_on_line(self.pos) {
                return Layout::Inside;
            }
            let c = self.column_of(self.span().start);
            if self.closer_at(self.pos) {
                if c > col && self.block_goes_on(col) {
                    self.extra_closer();
                    continue;
                }
                return if c >= col {
                    Layout::Closer
                } else {
                    Layout::Dedent
                };
            }
            return if c <= col {
                Layout::Dedent
            } else {
                Layout::Inside
            };
        }
    }

    /// After the `~` at the cursor, whether the block indented `col` goes
    /// on: the next line is deeper, or is that block's `~` at `col`.
    fn block_goes_on(&self, col: usize) -> bool {
        let mut j = self.pos + 1;
        while j < self.tokens.len() && self.tokens[j].kind != TokenKind::Newline {
            if self.tokens[j].kind == TokenKind::Eof {
                return false;
            }
            j += 1;
        }
        while j < self.tokens.len() && self.tokens[j].kind == TokenKind::Newline {
            j += 1;
        }
        let Some(next) = self.tokens.get(j) else {
            return false;
        };
        if next.kind == TokenKind::Eof {
            return false;
        }
        let c = self.column_of(next.span.start);
        c > col || (c == col && self.closer_at(j))
    }

    /// Reports and skips a `~` that closes no block.
    pub(super) fn extra_closer(&mut self) {
        let span = self.bump().span;
        self.error_help(
            span,
            "unexpected `~`: there is no open block here",
            "remove this `~`, or check the block above for an extra closer",
        );
        self.skip_newlines();
    }

    /// Closes the construct opened at `open` by layout: consumes its `~`,
    /// or reports the block as never closed (and reads it as closed here).
    pub(super) fn close_by_layout(&mut self, open: Span, what: &str) -> Span {
        let col = self.line_indent(open);
        if self.closer_at(self.pos)
            && (!self.first_on_line(self.pos) || self.column_of(self.span().start) >= col)
        {
            return self.bump().span;
        }
        self.report_unclosed(open, what);
        self.prev_span()
    }

    /// `missing `~` to close the …` at the opening line of `open`.
    pub(super) fn report_unclosed(&mut self, open: Span, what: &str) {
        let start = open.start as usize;
        let line_end = self.src[start..]
            .find('\n')
            .map_or(self.src.len(), |i| start + i);
        let head = Span::new(
            open.file,
            start,
            start + self.src[start..line_end].trim_end().len(),
        );
        let before = if self.at(&TokenKind::Eof) {
            "at the end of the file".to_string()
        } else {
            let line = self.src[..self.span().start as usize].matches('\n').count() + 1;
            format!("before line {line}")
        };
        self.diags.push(
            Diagnostic::error(head, format!("missing `~` to close the {what}"))
                .with_label(head, "this block is never closed")
                .with_help(format!("add `~` {before}, indented like this line")),
        );
    }
}
