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

/// Words of full Coex that Coex Core reserves for constructs it does not
/// have yet, with the construct each one starts. Like the keywords they are
/// never names (of a type, function, parameter, local, field, const,
/// extern or module); unlike the keywords they lex as [`TokenKind::Ident`],
/// so the parser can say `not supported yet: …` where the construct is
/// written.
pub const RESERVED_FOR_LATER: [(&str, &str); 10] = [
    ("await", "`await` expressions"),
    ("cell", "matrix cells"),
    ("enum", "sum types"),
    ("interface", "traits"),
    ("lambda", "lambdas"),
    ("llvm_ir", "inline LLVM IR"),
    ("match", "`match` statements"),
    ("matrix", "matrices"),
    ("replace", "`replace` statements"),
    ("trait", "traits"),
];

/// Whether `word` is a reserved word: a keyword or reserved for later.
pub fn is_reserved_word(word: &str) -> bool {
    TokenKind::keyword(word).is_some() || RESERVED_FOR_LATER.iter().any(|(w, _)| *w == word)
}

/// Why `word` cannot be a name: `Some(help)` when it is a keyword or a word
/// reserved for later (the help says which, and what to do).
pub fn reserved_word_help(word: &str) -> Option<String> {
    if TokenKind::keyword(word).is_some() {
        return Some(format!("rename it: `{word}` is a keyword of Coex"));
    }
    let (_, what) = RESERVED_FOR_LATER.iter().find(|(w, _)| *w == word)?;
    Some(format!(
        "rename it: full Coex uses `{word}` for {what}, which Coex Core does not support yet"
    ))
}

/// A token and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words of the first `` `…` `` span after `marker` in the
    /// "Reserved words" section of docs/language.md.
    fn documented(marker: &str) -> Vec<String> {
        let doc = include_str!("../../docs/language.md");
        let section = doc.split("## Reserved words").nth(1).expect("section");
        let after = section.split(marker).nth(1).expect("marker");
        let span = after.split('`').nth(1).expect("a `…` list");
        let mut words: Vec<String> = span.split_whitespace().map(String::from).collect();
        words.sort();
        words
    }

    #[test]
    fn docs_list_exactly_the_reserved_words() {
        let mut later: Vec<String> = RESERVED_FOR_LATER
            .iter()
            .map(|(w, _)| w.to_string())
            .collect();
        later.sort();
        assert_eq!(documented("**Reserved for constructs"), later);
        let keywords = documented("**Keywords**");
        assert_eq!(keywords.len(), 26);
        for w in &keywords {
            assert!(TokenKind::keyword(w).is_some(), "{w} is not a keyword");
            assert!(is_reserved_word(w));
        }
        for w in ["int", "json", "Matrix", "set", "map"] {
            assert!(!is_reserved_word(w), "{w}");
        }
    }
}
