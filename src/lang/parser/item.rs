//! Top-level items: imports, consts, externs, types (fields then methods)
//! and functions of the three kinds.

use super::{PResult, Parser, Reported};
use crate::lang::ast::{
    ConstDecl, ExternDecl, Field, FuncDecl, FuncKind, Ident, Import, ImportTarget, Item, Module,
    Param, TypeDecl, TypeExpr,
};
use crate::lang::span::Span;
use crate::lang::token::TokenKind;

impl Parser<'_> {
    pub(crate) fn module(&mut self) -> Module {
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            if self.at(&TokenKind::Eof) {
                break;
            }
            let start = self.span();
            match self.item() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => {}
                Err(Reported) => {
                    if self.too_deep_reported {
                        // Nothing sensible can follow a pathological nest.
                        break;
                    }
                    if !std::mem::take(&mut self.just_skipped) {
                        // Recover at the next line that starts an item.
                        if self.span() == start {
                            self.bump();
                        }
                        self.sync_to_item();
                    }
                }
            }
        }
        Module { items }
    }

    /// Skips lines until one starts with a top-level keyword.
    fn sync_to_item(&mut self) {
        loop {
            self.sync_line();
            match self.kind() {
                TokenKind::Eof
                | TokenKind::Func
                | TokenKind::Formula
                | TokenKind::Task
                | TokenKind::Extern
                | TokenKind::Type
                | TokenKind::Import
                | TokenKind::Const => return,
                _ => {
                    if self.column_of(self.span().start) == 0
                        && !matches!(self.kind(), TokenKind::Tilde | TokenKind::End)
                    {
                        return;
                    }
                }
            }
        }
    }

    fn skip_unsupported_item(&mut self, what: &str) -> PResult<Option<Item>> {
        let span = self.span();
        self.unsupported(span, what);
        self.skip_construct(span);
        Ok(None)
    }

    /// One top-level declaration, dispatched on its keyword (`None`: skipped).
    fn item(&mut self) -> PResult<Option<Item>> {
        self.just_skipped = false;
        let start = self.span();
        if self.column_of(start.start) > 0 {
            // An indented declaration: perhaps a block above closed early.
            self.misaligned = true;
        }
        match self.kind().clone() {
            TokenKind::Import => self.import_item(start),
            TokenKind::Const => self.const_item(start),
            TokenKind::Extern => self.extern_item(start),
            TokenKind::Func | TokenKind::Formula | TokenKind::Task => match self.func(false)? {
                Some(f) => Ok(Some(Item::Func(f))),
                None => Ok(None),
            },
            TokenKind::Type => self.type_decl(),
            TokenKind::Ident(w) if w == "trait" || w == "interface" => {
                self.skip_unsupported_item("traits")
            }
            TokenKind::Ident(w) if w == "enum" => self.skip_unsupported_item("sum types"),
            TokenKind::Ident(w) if w == "matrix" => self.skip_unsupported_item("matrices"),
            TokenKind::Ident(w) if w == "llvm_ir" => self.skip_unsupported_item("llvm_ir"),
            TokenKind::At => {
                let span = self.span();
                self.unsupported(span, "directives");
                self.sync_line();
                Ok(None)
            }
            TokenKind::Tilde | TokenKind::End => {
                self.mismatched = true;
                let span = self.bump().span;
                Err(self.error_help(
                    span,
                    "unexpected `~`: there is no open block here",
                    "remove this `~`, or check the block above for an extra closer",
                ))
            }
            other => {
                // Often a statement left over after a block closed early.
                self.mismatched = true;
                let found = other.describe();
                Err(self.error_help(
                    start,
                    format!("expected a declaration, found {found}"),
                    "top-level code goes inside `func main()`; declarations start with func, formula, task, extern, type, const or import",
                ))
            }
        }
    }

    /// `import name` (a module file) or `import "lib.cxz"` (a library).
    fn import_item(&mut self, start: Span) -> PResult<Option<Item>> {
        self.bump();
        let target = match self.kind().clone() {
            TokenKind::Str(s) => {
                self.bump();
                ImportTarget::Library(s)
            }
            TokenKind::Ident(n) if crate::lang::token::is_reserved_word(&n) => {
                // Refused as a name: not looked for as a module either.
                let span = self.bump().span;
                self.refuse_reserved(&n, span);
                self.end_of_statement()?;
                return Ok(None);
            }
            TokenKind::Ident(n) => {
                self.bump();
                if self.at(&TokenKind::Dot) {
                    let span = self.span();
                    return Err(self.error_help(
                        span,
                        "dotted module paths are not supported",
                        "import a module by its file name: `import math` loads math.coex",
                    ));
                }
                ImportTarget::Module(n)
            }
            other => {
                let span = self.span();
                let found = other.describe();
                return Err(self.error_help(
                    span,
                    format!(
                        "expected a module name or a library string after `import`, found {found}"
                    ),
                    "write `import math` for math.coex or `import \"regex.cxz\"` for a library",
                ));
            }
        };
        let span = start.to(self.prev_span());
        self.end_of_statement()?;
        Ok(Some(Item::Import(Import { target, span })))
    }

    /// `const name [: type] = value`.
    fn const_item(&mut self, start: Span) -> PResult<Option<Item>> {
        self.bump();
        let name = self.decl_name("for the constant")?;
        let ty = if self.eat(&TokenKind::Colon) {
            Some(self.type_expr()?)
        } else {
            None
        };
        self.expect(&TokenKind::Assign, "in the const declaration")?;
        let value = self.expr()?;
        let span = start.to(value.span);
        self.end_of_statement()?;
        Ok(Some(Item::Const(ConstDecl {
            name,
            ty,
            value,
            span,
        })))
    }

    /// `extern name(params) [-> ret]`, with an optional closing `~`.
    fn extern_item(&mut self, start: Span) -> PResult<Option<Item>> {
        self.bump();
        let name = self.decl_name("for the extern function")?;
        let (params, _, ret) = self.signature("after the extern name", false)?;
        let span = start.to(self.prev_span());
        // The closing `~` is written on the same or the next line;
        // it may be omitted.
        self.eat(&TokenKind::Colon);
        let mut ahead = 0;
        while *self.peek_kind(ahead) == TokenKind::Newline {
            ahead += 1;
        }
        if matches!(self.peek_kind(ahead), TokenKind::Tilde | TokenKind::End) {
            self.skip_newlines();
            self.bump();
        }
        self.end_of_statement()?;
        Ok(Some(Item::Extern(ExternDecl {
            name,
            params,
            ret,
            span,
        })))
    }

    /// Parameters up to (not including) `)`. In methods a leading untyped
    /// `self` is allowed; the flag says whether it was written.
    fn params(&mut self, in_method: bool) -> PResult<(Vec<Param>, bool)> {
        let mut params = Vec::new();
        let mut explicit_self = false;
        let mut first = true;
        while !self.at(&TokenKind::RParen) {
            if self.at(&TokenKind::SelfKw) {
                let span = self.bump().span;
                if !(in_method && first) {
                    return Err(self.error_help(
                        span,
                        "`self` can only be the first parameter of a method",
                        "methods are declared inside a `type`; other parameters need a name and a type",
                    ));
                }
                explicit_self = true;
            } else {
                let name = self.decl_name("for the parameter")?;
                if !self.at(&TokenKind::Colon) {
                    let span = name.span;
                    return Err(self.error_help(
                        span,
                        format!("parameter `{}` needs a type", name.name),
                        &format!("write `{}: int` (or the parameter's type)", name.name),
                    ));
                }
                self.bump();
                let ty = self.type_expr()?;
                params.push(Param { name, ty });
            }
            first = false;
            if !self.eat(&TokenKind::Comma) {
                break;
            }
        }
        Ok((params, explicit_self))
    }

    /// `(params) -> ret` after a function or extern name (`after_name`
    /// says where the `(` was expected): the parameters, whether `self`
    /// was written, and the return type if any.
    fn signature(
        &mut self,
        after_name: &str,
        in_method: bool,
    ) -> PResult<(Vec<Param>, bool, Option<TypeExpr>)> {
        self.expect(&TokenKind::LParen, after_name)?;
        let (params, explicit_self) = self.params(in_method)?;
        self.expect(&TokenKind::RParen, "to close the parameter list")?;
        let ret = if self.eat(&TokenKind::Arrow) {
            Some(self.type_expr()?)
        } else {
            None
        };
        Ok((params, explicit_self, ret))
    }

    /// A function or method; `None` when an unsupported form was skipped.
    fn func(&mut self, in_method: bool) -> PResult<Option<FuncDecl>> {
        let start = self.span();
        let kind = match self.bump().kind {
            TokenKind::Formula => FuncKind::Formula,
            TokenKind::Task => FuncKind::Task,
            _ => FuncKind::Func,
        };
        let name = self.decl_name(&format!("for the {}", kind.keyword()))?;
        if self.at(&TokenKind::Lt) {
            self.skip_unsupported(start, "generic functions");
            return Ok(None);
        }
        let (params, explicit_self, ret) = self.signature("after the function name", in_method)?;
        let head_end = self.prev_span();
        self.colon_line_break("the function header")?;
        let body = self.block(start)?;
        let what = kind.keyword();
        let _ = self.close(start, what);
        Ok(Some(FuncDecl {
            kind,
            name,
            params,
            explicit_self,
            ret,
            body,
            span: start.to(head_end),
        }))
    }

    /// `type Name:` … `~`; generics, aliases and sum types are reported as unsupported.
    fn type_decl(&mut self) -> PResult<Option<Item>> {
        let start = self.bump().span; // type
        let name = self.decl_name("for the type")?;
        if self.at(&TokenKind::Lt) {
            self.skip_unsupported(start, "generics beyond List<T>");
            return Ok(None);
        }
        if self.at(&TokenKind::Assign) {
            let span = self.span();
            self.unsupported(span, "type aliases and sum types");
            self.sync_line();
            self.just_skipped = true;
            return Ok(None);
        }
        self.colon_line_break(&format!("`type {}:`", name.name))?;
        self.type_body(start, name)
    }

    /// An optional `:` then a required line break after a declaration's head
    /// (`after` names the head in the error).
    fn colon_line_break(&mut self, after: &str) -> PResult<()> {
        self.eat(&TokenKind::Colon);
        if self.at(&TokenKind::Newline) {
            return Ok(());
        }
        let found = self.kind().describe();
        let span = self.span();
        Err(self.error(
            span,
            format!("expected a line break after {after}, found {found}"),
        ))
    }

    /// Fields and methods up to the closing `~`; a line that fails to parse
    /// is skipped so the rest of the type is still read.
    fn type_body(&mut self, start: Span, name: Ident) -> PResult<Option<Item>> {
        let mut fields = Vec::new();
        let mut methods = Vec::new();
        let col = self.line_indent(start);
        loop {
            self.skip_newlines();
            if self.by_layout && self.layout_at(col) == super::layout::Layout::Dedent {
                self.report_unclosed(start, "type");
                return Ok(Some(Item::Type(TypeDecl {
                    name,
                    fields,
                    methods,
                    span: start,
                })));
            }
            match self.kind().clone() {
                TokenKind::Tilde | TokenKind::End => {
                    self.note_alignment(start);
                    let end = self.bump().span;
                    self.end_of_statement()?;
                    return Ok(Some(Item::Type(TypeDecl {
                        name,
                        fields,
                        methods,
                        span: start.to(end),
                    })));
                }
                TokenKind::Eof => {
                    // Reported by the second pass, by layout.
                    self.mismatched = true;
                    return Ok(Some(Item::Type(TypeDecl {
                        name,
                        fields,
                        methods,
                        span: start,
                    })));
                }
                TokenKind::Case => {
                    self.skip_unsupported(start, "sum types");
                    return Ok(None);
                }
                TokenKind::Func | TokenKind::Formula | TokenKind::Task => {
                    self.type_method(&mut methods)?
                }
                ref k
                    if (matches!(k, TokenKind::Ident(_))
                        || TokenKind::keyword(k.text()).is_some())
                        && *self.peek_kind(1) == TokenKind::Colon =>
                {
                    self.type_field(&mut fields)?
                }
                other => {
                    let found = other.describe();
                    // Often the type's `~` is missing.
                    self.mismatched = true;
                    let span = self.span();
                    self.error_help(
                        span,
                        format!(
                            "expected a field, a method or `~` in type `{}`, found {found}",
                            name.name
                        ),
                        "a type lists fields `name: T`, then methods `func name(…) … ~`, then `~`",
                    );
                    self.sync_line();
                }
            }
        }
    }

    /// A method inside a type; a failed one is skipped to the next line
    /// unless the nesting was too deep to go on.
    fn type_method(&mut self, methods: &mut Vec<FuncDecl>) -> PResult<()> {
        match self.func(true) {
            Ok(Some(m)) => methods.push(m),
            Ok(None) => {}
            Err(Reported) => {
                if self.too_deep_reported {
                    return Err(Reported);
                }
                self.sync_line();
            }
        }
        Ok(())
    }

    /// A field `name: T` inside a type; a bad type skips the line.
    fn type_field(&mut self, fields: &mut Vec<Field>) -> PResult<()> {
        let fname = self.decl_name("for the field")?;
        self.bump();
        match self.type_expr() {
            Ok(ty) => {
                fields.push(Field { name: fname, ty });
                if self.end_of_statement().is_err() {
                    self.sync_line();
                }
            }
            Err(_) => self.sync_line(),
        }
        Ok(())
    }
}
