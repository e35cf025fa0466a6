//! Tokens produced by the [`crate::lang::lexer`].

use super::span::Span;

/// One lexical token kind. Keywords of Coex Core get their own variant;
/// words reserved by full Coex (not in Core) lex as [`TokenKind::Ident`] and
/// are recognised by the parser so it can say `not supported yet: …`.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    // keywords
    Func,
    Formula,
    Task,
    Extern,
    Type,
    Import,
    Const,
    If,
    Else,
    For,
    In,
    While,
    Break,
    Continue,
    Return,
    Select,
    Case,
    Within,
    Yield,
    And,
    Or,
    Not,
    True,
    False,
    SelfKw,
    End,
    // punctuation
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Dot,
    DotDot,
    Arrow,
    FatArrow,
    Assign,
    PlusAssign,
    MinusAssign,
    StarAssign,
    SlashAssign,
    PercentAssign,
    EqEq,
    NotEq,
    Lt,
    Gt,
    Le,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Question,
    Tilde,
    At,
    Pipe,
    Amp,
    /// A statement separator: a newline outside brackets, or `;`.
    Newline,
    Eof,
}

impl TokenKind {
    /// Human-readable description used in "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        use TokenKind::*;
        match self {
            Int(_) => "an integer".into(),
            Float(_) => "a float".into(),
            Str(_) => "a string".into(),
            Ident(n) => format!("`{n}`"),
            Newline => "end of line".into(),
            Eof => "end of file".into(),
            other => format!("`{}`", other.text()),
        }
    }

    /// Whether this keyword begins a top-level declaration.
    pub fn starts_item(&self) -> bool {
        use TokenKind::*;
        matches!(self, Func | Formula | Task | Type | Extern | Import | Const)
    }

    /// The source text of a keyword or punctuation token.
    pub fn text(&self) -> &'static str {
        use TokenKind::*;
        match self {
            Func => "func",
            Formula => "formula",
            Task => "task",
            Extern => "extern",
            Type => "type",
            Import => "import",
            Const => "const",
            If => "if",
            Else => "else",
            For => "for",
            In => "in",
            While => "while",
            Break => "break",
            Continue => "continue",
            Return => "return",
            Select => "select",
            Case => "case",
            Within => "within",
            Yield => "yield",
            And => "and",
            Or => "or",
            Not => "not",
            True => "true",
            False => "false",
            SelfKw => "self",
            End => "end",
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            LBrace => "{",
            RBrace => "}",
            Comma => ",",
            Colon => ":",
            Dot => ".",
            DotDot => "..",
            Arrow => "->",
            FatArrow => "=>",
            Assign => "=",
            PlusAssign => "+=",
            MinusAssign => "-=",
            StarAssign => "*=",
            SlashAssign => "/=",
            PercentAssign => "%=",
            EqEq => "==",
            NotEq => "!=",
            Lt => "<",
            Gt => ">",
            Le => "<=",
            Ge => ">=",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            Question => "?",
            Tilde => "~",
            At => "@",
            Pipe => "|",
            Amp => "&",
            Newline => "newline",
            Eof => "end of file",
            Int(_) | Float(_) | Str(_) | Ident(_) => "token",
        }
    }

    /// The keyword for an identifier-shaped word, if it is one.
    pub fn keyword(word: &str) -> Option<TokenKind> {
        use TokenKind::*;
        Some(match word {
            "func" => Func,
            "formula" => Formula,
            "task" => Task,
            "extern" => Extern,
            "type" => Type,
            "import" => Import,
            "const" => Const,
            "if" => If,
            "else" => Else,
            "for" => For,
            "in" => In,
            "while" => While,
            "break" => Break,
            "continue" => Continue,
            "return" => Return,
            "select" => Select,
            "case" => Case,
            "within" => Within,
            "yield" => Yield,
            "and" => And,
            "or" => Or,
            "not" => Not,
            "true" => True,
            "false" => False,
            "self" => SelfKw,
            "end" => End,
            _ => return None,
        })
    }
}

/// A token and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}
