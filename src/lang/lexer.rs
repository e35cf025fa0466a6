//! Turns Coex source text into tokens. Newlines inside `(…)` and `[…]` are
//! insignificant; elsewhere a newline or `;` becomes one
//! [`TokenKind::Newline`] separator. Comments (`# …` and `## … ##`) vanish.

use super::diagnostic::Diagnostic;
use super::span::{FileId, Span};
use super::token::{Token, TokenKind};

/// Lexes a whole file; lexical errors are collected, never fatal.
pub fn lex(file: FileId, src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lx = Lexer {
        file,
        src: src.as_bytes(),
        text: src,
        pos: 0,
        depth: 0,
        open_indent: 0,
        tokens: Vec::new(),
        diags: Vec::new(),
    };
    lx.run();
    (lx.tokens, lx.diags)
}

struct Lexer<'a> {
    file: FileId,
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    /// Open `(` / `[` / `{` count: newlines inside brackets are ignored.
    depth: usize,
    /// Indentation of the line where the outermost open bracket started.
    open_indent: usize,
    tokens: Vec<Token>,
    diags: Vec<Diagnostic>,
}

impl Lexer<'_> {
    fn span(&self, start: usize) -> Span {
        Span::new(self.file, start, self.pos)
    }

    fn peek(&self, ahead: usize) -> u8 {
        self.src.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let span = self.span(start);
        self.tokens.push(Token { kind, span });
    }

    fn push_newline(&mut self, start: usize) {
        if self.depth == 0 && !matches!(self.tokens.last(), Some(t) if t.kind == TokenKind::Newline)
        {
            self.push(TokenKind::Newline, start);
        }
    }

    fn error(&mut self, start: usize, msg: impl Into<String>) {
        let span = Span::new(
            self.file,
            start,
            self.pos.max(start + 1).min(self.src.len()),
        );
        self.diags.push(Diagnostic::error(span, msg));
    }

    fn run(&mut self) {
        while self.pos < self.src.len() {
            let start = self.pos;
            let c = self.src[self.pos];
            match c {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    if self.depth > 0 && self.next_line_ends_brackets() {
                        // An unclosed bracket must not swallow the rest of
                        // the file: a line indented no deeper than the one
                        // that opened it starts a new statement.
                        self.depth = 0;
                    }
                    self.push_newline(start);
                }
                b'#' => self.comment(),
                b'0'..=b'9' => self.number(),
                b'"' | b'\'' => self.string(c),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.word(),
                _ if c >= 0x80 => {
                    // Skip one whole UTF-8 character.
                    let ch_len = self.text[self.pos..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                    self.pos += ch_len;
                    let ch = &self.text[start..self.pos];
                    self.error(start, format!("unexpected character `{ch}`"));
                }
                _ => self.punct(),
            }
        }
        let end = self.src.len();
        self.push_newline(end);
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: Span::new(self.file, end, end),
        });
    }

    fn indent_at(&self, line_start: usize) -> usize {
        self.src[line_start..]
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count()
    }

    /// Whether the line starting at `pos` is a new statement although a
    /// bracket is still open (see the newline case in `run`).
    fn next_line_ends_brackets(&self) -> bool {
        let indent = self.indent_at(self.pos);
        match self.src.get(self.pos + indent) {
            None => true,
            Some(b'\n' | b'\r' | b'#' | b')' | b']' | b'}') => false,
            Some(_) => indent <= self.open_indent,
        }
    }

    fn comment(&mut self) {
        let start = self.pos;
        if self.peek(1) == b'#' {
            // `## block ##` (may span lines).
            self.pos += 2;
            loop {
                if self.pos >= self.src.len() {
                    self.pos = start + 2;
                    self.error(
                        start,
                        "unterminated block comment: `##` without a closing `##`",
                    );
                    self.pos = self.src.len();
                    return;
                }
                if self.src[self.pos] == b'#' && self.peek(1) == b'#' {
                    self.pos += 2;
                    return;
                }
                self.pos += 1;
            }
        }
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn word(&mut self) {
        let start = self.pos;
        while self.pos < self.src.len()
            && (self.src[self.pos].is_ascii_alphanumeric() || self.src[self.pos] == b'_')
        {
            self.pos += 1;
        }
        let w = &self.text[start..self.pos];
        let kind = TokenKind::keyword(w).unwrap_or_else(|| TokenKind::Ident(w.to_string()));
        self.push(kind, start);
    }

    fn digits(&mut self, ok: fn(u8) -> bool) {
        while self.pos < self.src.len() && (ok(self.src[self.pos]) || self.src[self.pos] == b'_') {
            self.pos += 1;
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        let radix = match (self.src[self.pos], self.peek(1)) {
            (b'0', b'x' | b'X') => 16,
            (b'0', b'b' | b'B') => 2,
            _ => 10,
        };
        if radix != 10 {
            self.pos += 2;
            let dstart = self.pos;
            self.digits(|c| c.is_ascii_alphanumeric());
            let digits: String = self.text[dstart..self.pos].replace('_', "");
            match i64::from_str_radix(&digits, radix) {
                Ok(v) => self.push(TokenKind::Int(v), start),
                Err(_) => {
                    let text = &self.text[start..self.pos];
                    let msg = if digits.is_empty()
                        || digits.chars().any(|c| c.to_digit(radix).is_none())
                    {
                        format!("invalid integer literal `{text}`")
                    } else {
                        format!("integer literal `{text}` does not fit in a 64-bit int")
                    };
                    self.error(start, msg);
                    self.push(TokenKind::Int(0), start);
                }
            }
            return;
        }
        self.digits(|c| c.is_ascii_digit());
        let mut is_float = false;
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            is_float = true;
            self.pos += 1;
            self.digits(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(0), b'e' | b'E') {
            let sign = usize::from(matches!(self.peek(1), b'+' | b'-'));
            if self.peek(1 + sign).is_ascii_digit() {
                is_float = true;
                self.pos += 1 + sign;
                self.digits(|c| c.is_ascii_digit());
            }
        }
        if self.peek(0).is_ascii_alphabetic() || self.peek(0) == b'_' {
            self.digits(|c| c.is_ascii_alphanumeric());
            let text = self.text[start..self.pos].to_string();
            self.error(start, format!("invalid number literal `{text}`"));
            self.push(TokenKind::Int(0), start);
            return;
        }
        let text: String = self.text[start..self.pos].replace('_', "");
        if is_float {
            match text.parse::<f64>() {
                Ok(v) => self.push(TokenKind::Float(v), start),
                Err(_) => {
                    self.error(start, format!("invalid float literal `{text}`"));
                    self.push(TokenKind::Float(0.0), start);
                }
            }
        } else {
            match text.parse::<i64>() {
                Ok(v) => self.push(TokenKind::Int(v), start),
                Err(_) => {
                    self.error(
                        start,
                        format!("integer literal `{text}` does not fit in a 64-bit int"),
                    );
                    self.push(TokenKind::Int(0), start);
                }
            }
        }
    }

    fn hex_escape(&mut self, n: usize, esc_start: usize) -> Option<char> {
        let hex = self.text.get(self.pos..self.pos + n)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        self.pos += n;
        let ch = char::from_u32(v);
        if ch.is_none() {
            self.error(
                esc_start,
                format!("escape `\\u{hex}` is not a valid character"),
            );
            return Some('\u{FFFD}');
        }
        ch
    }

    fn string(&mut self, quote: u8) {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            if self.pos >= self.src.len() || self.src[self.pos] == b'\n' {
                let end = self.pos;
                self.pos = start + 1;
                self.error(start, "unterminated string literal");
                self.pos = end;
                self.push(TokenKind::Str(value), start);
                return;
            }
            let c = self.src[self.pos];
            if c == quote {
                self.pos += 1;
                self.push(TokenKind::Str(value), start);
                return;
            }
            if c == b'\\' {
                let esc_start = self.pos;
                self.pos += 1;
                let e = self.peek(0);
                self.pos += 1;
                let ch = match e {
                    b'n' => Some('\n'),
                    b't' => Some('\t'),
                    b'r' => Some('\r'),
                    b'0' => Some('\0'),
                    b'\\' => Some('\\'),
                    b'"' => Some('"'),
                    b'\'' => Some('\''),
                    b'x' => self.hex_escape(2, esc_start),
                    b'u' => self.hex_escape(4, esc_start),
                    _ => None,
                };
                match ch {
                    Some(ch) => value.push(ch),
                    None => {
                        if e == b'\n' || e == 0 {
                            self.pos -= 1;
                        }
                        // `\` before a multi-byte character: skip all of it.
                        while self.pos < self.src.len() && !self.text.is_char_boundary(self.pos) {
                            self.pos += 1;
                        }
                        let shown = self.text.get(esc_start..self.pos).unwrap_or("\\");
                        let shown = shown.to_string();
                        let span = Span::new(self.file, esc_start, self.pos.max(esc_start + 1));
                        self.diags.push(
                            Diagnostic::error(span, format!("unknown escape `{shown}` in string"))
                                .with_help(
                                    "valid escapes: \\n \\t \\r \\\\ \\\" \\' \\xHH \\uHHHH",
                                ),
                        );
                    }
                }
                continue;
            }
            // Copy one UTF-8 character.
            let ch = self.text[self.pos..].chars().next().unwrap_or('\u{FFFD}');
            value.push(ch);
            self.pos += ch.len_utf8().max(1);
        }
    }

    fn punct(&mut self) {
        use TokenKind::*;
        let start = self.pos;
        let c = self.src[self.pos];
        let n = self.peek(1);
        let (kind, len) = match (c, n) {
            (b'(', _) => (LParen, 1),
            (b')', _) => (RParen, 1),
            (b'[', _) => (LBracket, 1),
            (b']', _) => (RBracket, 1),
            (b'{', _) => (LBrace, 1),
            (b'}', _) => (RBrace, 1),
            (b',', _) => (Comma, 1),
            (b':', _) => (Colon, 1),
            (b'.', b'.') => (DotDot, 2),
            (b'.', _) => (Dot, 1),
            (b'-', b'>') => (Arrow, 2),
            (b'=', b'>') => (FatArrow, 2),
            (b'=', b'=') => (EqEq, 2),
            (b'=', _) => (Assign, 1),
            (b'+', b'=') => (PlusAssign, 2),
            (b'-', b'=') => (MinusAssign, 2),
            (b'*', b'=') => (StarAssign, 2),
            (b'/', b'=') => (SlashAssign, 2),
            (b'%', b'=') => (PercentAssign, 2),
            (b'!', b'=') => (NotEq, 2),
            (b'<', b'=') => (Le, 2),
            (b'>', b'=') => (Ge, 2),
            (b'<', _) => (Lt, 1),
            (b'>', _) => (Gt, 1),
            (b'+', _) => (Plus, 1),
            (b'-', _) => (Minus, 1),
            (b'*', _) => (Star, 1),
            (b'/', _) => (Slash, 1),
            (b'%', _) => (Percent, 1),
            (b'?', _) => (Question, 1),
            (b'~', _) => (Tilde, 1),
            (b'@', _) => (At, 1),
            (b'|', _) => (Pipe, 1),
            (b'&', _) => (Amp, 1),
            (b';', _) => {
                self.pos += 1;
                if self.depth == 0 {
                    self.push(Newline, start);
                }
                return;
            }
            _ => {
                self.pos += 1;
                let msg = if c == b'!' {
                    "unexpected character `!`; use `not` for negation".to_string()
                } else {
                    format!("unexpected character `{}`", c as char)
                };
                self.error(start, msg);
                return;
            }
        };
        self.pos += len;
        match kind {
            LParen | LBracket | LBrace => {
                if self.depth == 0 {
                    let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
                    self.open_indent = self.indent_at(line_start);
                }
                self.depth += 1
            }
            RParen | RBracket | RBrace => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        self.push(kind, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let (toks, diags) = lex(FileId(0), src);
        assert!(diags.is_empty(), "{diags:?}");
        toks.into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn literals_and_escapes() {
        use TokenKind::*;
        assert_eq!(
            kinds("42 0xFF 0b101 2.5 1e9 \"a\\n\\x41\\u00e9\" 'q\\''"),
            vec![
                Int(42),
                Int(255),
                Int(5),
                Float(2.5),
                Float(1e9),
                Str("a\nAé".into()),
                Str("q'".into()),
                Newline,
                Eof
            ]
        );
    }

    #[test]
    fn ranges_and_comments() {
        use TokenKind::*;
        assert_eq!(
            kinds("0..10 # c\n## block\n ## x"),
            vec![
                Int(0),
                DotDot,
                Int(10),
                Newline,
                Ident("x".into()),
                Newline,
                Eof
            ]
        );
    }

    #[test]
    fn newlines_inside_brackets_ignored() {
        use TokenKind::*;
        assert_eq!(
            kinds("f(1,\n  2); g"),
            vec![
                Ident("f".into()),
                LParen,
                Int(1),
                Comma,
                Int(2),
                RParen,
                Newline,
                Ident("g".into()),
                Newline,
                Eof
            ]
        );
    }

    #[test]
    fn errors_do_not_stop_lexing() {
        let (_, diags) = lex(FileId(0), "\"abc\n$ 99999999999999999999 '\\q'");
        assert_eq!(diags.len(), 4, "{diags:?}");
    }
}
