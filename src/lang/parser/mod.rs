//! Hand-written recursive-descent parser (precedence climbing for binary
//! operators). Errors are collected; after an error the parser resumes at
//! the next statement or item boundary so that one run reports every error
//! of a file. Constructs of full Coex that Core does not have are recognised
//! and reported as `not supported yet: <construct>` at their position.

mod expr;
mod item;
mod layout;
mod stmt;

use super::ast::{Module, NodeId};
use super::diagnostic::Diagnostic;
use super::lexer;
use super::span::{FileId, Span};
use super::token::{Token, TokenKind};

/// Maximum nesting of blocks and parenthesised expressions. Deeper input is
/// an error instead of a stack overflow.
pub const MAX_DEPTH: usize = 256;

/// Result of parsing one file.
#[derive(Debug)]
pub struct ParseOutput {
    pub module: Module,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses `src` (file `file`); node ids start at `*next_id`, which is
/// advanced so ids stay unique across all files of a program.
pub fn parse(file: FileId, src: &str, next_id: &mut u32) -> ParseOutput {
    crate::lang::stack::with_deep_stack(|| parse_here(file, src, next_id))
}

/// Parses once; when the blocks do not match up (a `~` missing or extra),
/// parses again reading the layout (see [`layout`]), so the unclosed block
/// itself is reported and the rest of the file keeps its intended shape.
fn parse_here(file: FileId, src: &str, next_id: &mut u32) -> ParseOutput {
    let first_id = *next_id;
    let (out, mismatched) = parse_pass(file, src, next_id, false);
    if !mismatched {
        return out;
    }
    *next_id = first_id;
    parse_pass(file, src, next_id, true).0
}

/// One parse of the file; also whether its blocks look mismatched (see
/// [`layout`] for when).
fn parse_pass(file: FileId, src: &str, next_id: &mut u32, by_layout: bool) -> (ParseOutput, bool) {
    let (tokens, mut diagnostics) = lexer::lex(file, src);
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        diags: Vec::new(),
        next_id: *next_id,
        depth: 0,
        too_deep_reported: false,
        just_skipped: false,
        by_layout,
        mismatched: false,
        misaligned: false,
    };
    let module = p.module();
    *next_id = p.next_id;
    diagnostics.append(&mut p.diags);
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    let mismatched = p.mismatched || (p.misaligned && super::has_errors(&diagnostics));
    let out = ParseOutput {
        module,
        diagnostics,
    };
    (out, mismatched)
}

/// Marker: an error was already reported, the caller should recover.
#[derive(Debug)]
pub(crate) struct Reported;

pub(crate) type PResult<T> = Result<T, Reported>;

pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    next_id: u32,
    depth: usize,
    too_deep_reported: bool,
    /// An unsupported construct was reported and skipped whole: the
    /// caller must not skip further.
    just_skipped: bool,
    /// Blocks end where the layout says (second pass, see [`layout`]).
    by_layout: bool,
    /// A block was not closed or a `~` closed nothing (first pass).
    mismatched: bool,
    /// A `~` or a declaration is indented unlike its opener (first pass).
    misaligned: bool,
}

impl Parser<'_> {
    fn id(&mut self) -> NodeId {
        let id = NodeId(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    fn tok(&self) -> &Token {
        // The token list always ends with Eof and `pos` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn kind(&self) -> &TokenKind {
        &self.tok().kind
    }

    fn peek_kind(&self, ahead: usize) -> &TokenKind {
        let i = (self.pos + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].kind
    }

    fn span(&self) -> Span {
        self.tok().span
    }

    /// Where to point when the current token is unexpected: at a line
    /// break or the end of the file, the token before it (the caret stays
    /// on the offending line).
    fn error_span(&self) -> Span {
        if matches!(self.kind(), TokenKind::Newline | TokenKind::Eof) && self.pos > 0 {
            self.prev_span()
        } else {
            self.span()
        }
    }

    /// A top-level keyword at the start of a line, column 0: where an
    /// unclosed block is taken to end (for error recovery).
    fn at_item_start(&self) -> bool {
        self.kind().starts_item()
            && self.column_of(self.span().start) == 0
            && self.first_on_line(self.pos)
    }

    fn prev_span(&self) -> Span {
        if self.pos == 0 {
            self.span()
        } else {
            self.tokens[(self.pos - 1).min(self.tokens.len() - 1)].span
        }
    }

    fn at(&self, k: &TokenKind) -> bool {
        self.kind() == k
    }

    fn at_ident(&self, word: &str) -> bool {
        matches!(self.kind(), TokenKind::Ident(w) if w == word)
    }

    fn bump(&mut self) -> Token {
        let t = self.tok().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, k: &TokenKind) -> bool {
        if self.at(k) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error(&mut self, span: Span, msg: impl Into<String>) -> Reported {
        self.diags.push(Diagnostic::error(span, msg));
        Reported
    }

    fn error_help(&mut self, span: Span, msg: impl Into<String>, help: &str) -> Reported {
        self.diags
            .push(Diagnostic::error(span, msg).with_help(help));
        Reported
    }

    /// `not supported yet: <what>` at `span`.
    fn unsupported(&mut self, span: Span, what: &str) -> Reported {
        self.diags.push(
            Diagnostic::error(span, format!("not supported yet: {what}")).with_help(
                "this construct of Coex is not part of Coex Core (see docs/language.md)",
            ),
        );
        Reported
    }

    fn expect(&mut self, k: &TokenKind, context: &str) -> PResult<Token> {
        if self.at(k) {
            Ok(self.bump())
        } else {
            let found = self.kind().describe();
            let span = self.error_span();
            Err(self.error(
                span,
                format!("expected `{}` {context}, found {found}", k.text()),
            ))
        }
    }

    /// A name that is used (after `.`, a named argument): any identifier.
    fn expect_ident(&mut self, context: &str) -> PResult<super::ast::Ident> {
        match self.kind().clone() {
            TokenKind::Ident(name) => {
                let span = self.bump().span;
                Ok(super::ast::Ident { name, span })
            }
            other => Err(self.expected_name(context, &other)),
        }
    }

    /// A name being declared. A reserved word (docs/language.md) is an
    /// error but still read as the name, so the rest parses as intended;
    /// so is a keyword followed by what follows a name (`func if(`).
    fn decl_name(&mut self, context: &str) -> PResult<super::ast::Ident> {
        match self.kind().clone() {
            TokenKind::Ident(name) => {
                let span = self.bump().span;
                self.refuse_reserved(&name, span);
                Ok(super::ast::Ident { name, span })
            }
            other if TokenKind::keyword(other.text()).is_some() && self.keyword_as_name() => {
                let span = self.bump().span;
                let name = other.text().to_string();
                self.refuse_reserved(&name, span);
                Ok(super::ast::Ident { name, span })
            }
            other => Err(self.expected_name(context, &other)),
        }
    }

    fn expected_name(&mut self, context: &str, found: &TokenKind) -> Reported {
        let span = self.error_span();
        let msg = if TokenKind::keyword(found.text()).is_some() {
            format!(
                "expected a name {context}, found keyword `{}`",
                found.text()
            )
        } else {
            format!("expected a name {context}, found {}", found.describe())
        };
        self.error(span, msg)
    }

    /// Whether the keyword at the cursor is followed by what follows a
    /// declared name (`(`, `:`, `=`, `,`, `)`, `in`, `<`, a line end): it
    /// was meant as one.
    fn keyword_as_name(&self) -> bool {
        matches!(
            self.peek_kind(1),
            TokenKind::LParen
                | TokenKind::RParen
                | TokenKind::Colon
                | TokenKind::Assign
                | TokenKind::Comma
                | TokenKind::In
                | TokenKind::Lt
                | TokenKind::Newline
                | TokenKind::Eof
        )
    }

    /// Reports `` `word` is a reserved word `` at `span` when `word` is a
    /// keyword or reserved for later; whether it was.
    fn refuse_reserved(&mut self, word: &str, span: Span) -> bool {
        let Some(help) = super::token::reserved_word_help(word) else {
            return false;
        };
        self.error_help(
            span,
            format!("`{word}` is a reserved word and cannot be used as a name"),
            &help,
        );
        true
    }

    fn skip_newlines(&mut self) {
        while self.at(&TokenKind::Newline) {
            self.bump();
        }
    }

    /// Skips to just past the next statement separator (error recovery).
    fn sync_line(&mut self) {
        while !matches!(self.kind(), TokenKind::Newline | TokenKind::Eof) {
            self.bump();
        }
        self.skip_newlines();
    }

    /// Requires the end of a statement: a separator, or a block closer that
    /// the enclosing block will consume.
    fn end_of_statement(&mut self) -> PResult<()> {
        if self.by_layout && self.first_on_line(self.pos) {
            // A block read as closed by layout ended at a line start.
            return Ok(());
        }
        match self.kind() {
            TokenKind::Newline => {
                self.skip_newlines();
                Ok(())
            }
            TokenKind::Eof | TokenKind::Tilde | TokenKind::End => Ok(()),
            other => {
                let found = other.describe();
                let span = self.span();
                Err(self.error(span, format!("expected end of line, found {found}")))
            }
        }
    }

    /// Enters one nesting level; errors once when [`MAX_DEPTH`] is passed.
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            if !self.too_deep_reported {
                self.too_deep_reported = true;
                let span = self.span();
                return Err(self.error_help(
                    span,
                    format!(
                        "nesting too deep: more than {MAX_DEPTH} levels of blocks or parentheses"
                    ),
                    "split the expression or block into smaller functions",
                ));
            }
            return Err(Reported);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Column (0-based byte offset in its line) of a byte position.
    fn column_of(&self, pos: u32) -> usize {
        let pos = (pos as usize).min(self.src.len());
        let line_start = self.src[..pos].rfind('\n').map_or(0, |i| i + 1);
        pos - line_start
    }

    fn first_on_line(&self, index: usize) -> bool {
        index == 0 || self.tokens[index - 1].kind == TokenKind::Newline
    }

    /// Reports `what` as unsupported at the current token and skips the
    /// construct that started at `start` (see [`Parser::skip_construct`]).
    fn skip_unsupported(&mut self, start: Span, what: &str) {
        let span = self.span();
        self.unsupported(span, what);
        self.skip_construct(start);
        self.just_skipped = true;
    }

    /// Skips an unsupported construct that started at `start`: everything up
    /// to and including the first `~`/`end` that begins a line at the same
    /// indentation as the construct (or to the end of the file).
    fn skip_construct(&mut self, start: Span) {
        let col = self.column_of(start.start);
        let from = self.pos;
        // A one-line construct (the next line is not indented deeper) is
        // skipped to the end of its line.
        let mut nl = from;
        while nl < self.tokens.len() && self.tokens[nl].kind != TokenKind::Newline {
            nl += 1;
        }
        let next = self.tokens.get(nl + 1);
        if next.is_none_or(|t| t.kind == TokenKind::Eof || self.column_of(t.span.start) <= col)
            && !matches!(
                next.map(|t| &t.kind),
                Some(TokenKind::Tilde | TokenKind::End)
            )
        {
            self.sync_line();
            return;
        }
        let mut i = from;
        while i < self.tokens.len() {
            let t = &self.tokens[i];
            if matches!(t.kind, TokenKind::Tilde | TokenKind::End)
                && self.first_on_line(i)
                && self.column_of(t.span.start) == col
            {
                self.pos = i;
                self.bump();
                self.skip_newlines();
                return;
            }
            if t.kind == TokenKind::Eof {
                break;
            }
            i += 1;
        }
        self.pos = self.tokens.len() - 1;
    }
}

#[cfg(test)]
mod tests;
