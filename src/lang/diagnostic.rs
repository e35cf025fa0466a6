//! One diagnostic type for the whole front end (lexer, parser, loader,
//! checker, manifest agreement), rendered either for humans (via
//! codespan-reporting: `file:line:col`, the source line, a caret, the
//! message and a help line) or as one JSON object per line for tools.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

use super::loader::SourceMap;
use super::span::Span;

/// How serious a diagnostic is. Only errors make `coex check` fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A secondary location that helps explain a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// A problem found in Coex source: one primary span, a one-line message,
/// optional labels, an optional help line and an optional explanatory body
/// (contract texts such as the formula/extern error are printed verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// Paragraphs printed verbatim after the source snippet.
    pub body: Option<String>,
}

impl Diagnostic {
    /// An error at `span` with a one-line message.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            body: None,
        }
    }

    /// A warning at `span` with a one-line message.
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(span, message)
        }
    }

    /// Adds a help line (how to fix it).
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Adds an explanatory body printed verbatim after the snippet.
    pub fn with_body(mut self, body: impl Into<String>) -> Diagnostic {
        self.body = Some(body.into());
        self
    }

    /// Whether this diagnostic makes a check fail.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Renders diagnostics as plain text (no colour), in the order given.
pub fn render_text(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut files = SimpleFiles::new();
    for file in sources.files() {
        files.add(file.name.clone(), file.text.clone());
    }
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    let mut out = String::new();
    for d in diags {
        let cs_diag = to_codespan(sources, d);
        match term::emit_into_string(&config, &files, &cs_diag) {
            Ok(text) => out.push_str(&text),
            Err(_) => {
                out.push_str(&format!("{}: {}\n", d.severity.as_str(), d.message));
            }
        }
        if let Some(body) = &d.body {
            out.push_str(body);
            out.push_str("\n\n");
        }
    }
    out
}

/// The part of a span on its first line: a multi-line construct (a whole
/// `select`, a `task for`) is shown by its header line only.
fn first_line(sources: &SourceMap, span: Span) -> std::ops::Range<usize> {
    let range = span.range();
    let Some(file) = sources.get(span.file) else {
        return range;
    };
    let mut start = range.start.min(file.text.len());
    while !file.text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = range.end.min(file.text.len()).max(start);
    while !file.text.is_char_boundary(end) {
        end += 1;
    }
    let Some(text) = file.text.get(start..end) else {
        return start..end;
    };
    let end = match text.find('\n') {
        Some(i) => {
            let line = &file.text[start..start + i];
            start + line.trim_end().len()
        }
        None => end,
    };
    start..end
}

fn to_codespan(sources: &SourceMap, d: &Diagnostic) -> cs::Diagnostic<usize> {
    let mut primary = cs::Label::primary(d.span.file.0 as usize, first_line(sources, d.span));
    // A label on the primary span itself is written under its caret.
    if let Some(l) = d.labels.iter().find(|l| l.span == d.span) {
        primary = primary.with_message(&l.message);
    }
    let mut labels = vec![primary];
    for l in d.labels.iter().filter(|l| l.span != d.span) {
        labels.push(
            cs::Label::secondary(l.span.file.0 as usize, first_line(sources, l.span))
                .with_message(&l.message),
        );
    }
    let base = match d.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
    };
    let mut notes = Vec::new();
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    base.with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// Renders diagnostics as JSON lines:
/// `{file, line, col, end_line, end_col, severity, message, help}`.
pub fn render_json(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let (file, line, col) = sources.location(d.span.file, d.span.start as usize);
        let (_, end_line, end_col) = sources.location(d.span.file, d.span.end as usize);
        let mut message = d.message.clone();
        if let Some(body) = &d.body {
            message.push_str("\n\n");
            message.push_str(body);
        }
        let value = serde_json::json!({
            "file": file,
            "line": line,
            "col": col,
            "end_line": end_line,
            "end_col": end_col,
            "severity": d.severity.as_str(),
            "message": message,
            "help": d.help,
        });
        out.push_str(&value.to_string());
        out.push('\n');
    }
    out
}
