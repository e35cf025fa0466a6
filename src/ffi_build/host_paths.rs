//! Library C that names a host file the dependency file cannot report.
//!
//! clang's dependency file lists every header a compile opened, so an
//! `#include` of a host file is caught after the compile (see
//! `exec::discovered`). Two reads are invisible there: `.incbin` in inline
//! assembly (the assembler's reads are not listed) and `__has_include` of a
//! file that is absent (its later appearance would change the output). So
//! before anything runs, the unit's text is scanned for `.incbin`,
//! `#embed`, `__has_include(_next)` and `__has_embed` naming an absolute
//! path or one that climbs out of `ffi/src` with `..`.

use std::path::{Component, Path};

/// One refused mention: file, 1-based line, the construct and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPath {
    /// The file, relative to `ffi/src`.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// `.incbin`, `#embed`, `__has_include`, …
    pub construct: String,
    /// The path as written (empty when it is not a literal).
    pub path: String,
}

const CONSTRUCTS: &[&str] = &[
    "incbin",
    "__has_include_next",
    "__has_include",
    "__has_embed",
    "embed",
];

/// The first host path `bytes` (file `file`, relative to `ffi/src`) names,
/// if any; a fast byte search first, as most files mention none of the
/// constructs.
pub fn scan(file: &str, bytes: &[u8]) -> Option<HostPath> {
    let worth_scanning = [&b"incbin"[..], b"__has_", b"embed"]
        .iter()
        .any(|needle| memchr::memmem::find(bytes, needle).is_some());
    if !worth_scanning {
        return None;
    }
    find_host_path(file, &String::from_utf8_lossy(bytes))
}

/// The first mention in `text` (file `file`, relative to `ffi/src`) of a
/// path outside the library, if any.
pub fn find_host_path(file: &str, text: &str) -> Option<HostPath> {
    let code = without_comments(text);
    let bytes = code.as_bytes();
    for construct in CONSTRUCTS {
        let mut from = 0;
        while let Some(pos) = code[from..].find(construct) {
            let at = from + pos;
            from = at + construct.len();
            if !is_construct_at(bytes, at, construct) {
                continue;
            }
            // Inside C, an `.incbin` operand sits in an asm string: `\"…\"`.
            let asm_in_c = *construct == "incbin" && !file.ends_with(".s") && !file.ends_with(".S");
            let Some(path) = literal_after(&code[from..], asm_in_c) else {
                if *construct == "incbin" {
                    // A computed `.incbin` operand cannot be checked.
                    return Some(mention(file, text, at, ".incbin", ""));
                }
                continue;
            };
            if escapes(file, &path) {
                let shown = match *construct {
                    "incbin" => ".incbin",
                    "embed" => "#embed",
                    other => other,
                };
                return Some(mention(file, text, at, shown, &path));
            }
        }
    }
    None
}

fn mention(file: &str, text: &str, at: usize, construct: &str, path: &str) -> HostPath {
    HostPath {
        file: file.to_string(),
        line: text[..at.min(text.len())].matches('\n').count() + 1,
        construct: construct.to_string(),
        path: path.to_string(),
    }
}

/// True when the word at `at` is the construct itself (not part of a longer
/// identifier); `incbin` must follow a `.`, `embed` a `#`.
fn is_construct_at(bytes: &[u8], at: usize, construct: &str) -> bool {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let end = at + construct.len();
    if bytes.get(end).copied().is_some_and(ident) {
        return false;
    }
    let before = at.checked_sub(1).and_then(|i| bytes.get(i)).copied();
    match construct {
        "incbin" => before == Some(b'.'),
        "embed" => {
            let mut i = at;
            while i > 0 && matches!(bytes[i - 1], b' ' | b'\t') {
                i -= 1;
            }
            i > 0 && bytes[i - 1] == b'#'
        }
        _ => !before.is_some_and(ident),
    }
}

/// The string or `<…>` literal after a construct (spaces and `(`
/// skipped). With `escaped`, the literal must be an escaped `\"…\"` inside
/// a C string: a bare `"` there ends the string, so the operand is computed.
fn literal_after(rest: &str, escaped: bool) -> Option<String> {
    let trimmed = rest.trim_start_matches([' ', '\t', '(']);
    let trimmed = if escaped {
        trimmed.strip_prefix('\\')?
    } else {
        trimmed
    };
    let (close, body) = if let Some(b) = trimmed.strip_prefix('"') {
        ('"', b)
    } else if let Some(b) = trimmed.strip_prefix('<') {
        ('>', b)
    } else {
        return None;
    };
    let end = body.find([close, '\n'])?;
    let path = body[..end].trim_end_matches('\\');
    Some(path.to_string())
}

/// True for an absolute path, or one that leaves `ffi/src` when taken
/// relative to `file`'s folder.
fn escapes(file: &str, path: &str) -> bool {
    if path.starts_with('/') {
        return true;
    }
    let mut depth: i64 = Path::new(file)
        .parent()
        .map(|p| p.components().count() as i64)
        .unwrap_or(0);
    for c in Path::new(path).components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// `text` with C comments blanked out (newlines kept, so lines still count).
fn without_comments(text: &str) -> String {
    #[derive(PartialEq)]
    enum S {
        Code,
        Line,
        Block,
        Str(char),
    }
    let mut out = String::with_capacity(text.len());
    let mut state = S::Code;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match state {
            S::Code => match c {
                '/' if chars.peek() == Some(&'/') => {
                    chars.next();
                    out.push_str("  ");
                    state = S::Line;
                }
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    out.push_str("  ");
                    state = S::Block;
                }
                '"' | '\'' => {
                    out.push(c);
                    state = S::Str(c);
                }
                _ => out.push(c),
            },
            S::Line => {
                if c == '\n' {
                    out.push('\n');
                    state = S::Code;
                } else {
                    out.push(' ');
                }
            }
            S::Block => {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    out.push_str("  ");
                    state = S::Code;
                } else {
                    out.push(if c == '\n' { '\n' } else { ' ' });
                }
            }
            S::Str(q) => {
                out.push(c);
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else if c == q || c == '\n' {
                    state = S::Code;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<(usize, String, String)> {
        find_host_path("a.c", text).map(|h| (h.line, h.construct, h.path))
    }

    #[test]
    fn incbin_of_a_host_file_is_found_with_its_line() {
        let text = "int x;\n__asm__(\".section .rodata\\n.incbin \\\"/etc/hostname\\\"\\n\");\n";
        assert_eq!(
            found(text),
            Some((2, ".incbin".into(), "/etc/hostname".into()))
        );
    }

    #[test]
    fn has_include_of_absolute_or_escaping_paths() {
        assert_eq!(
            found("#if __has_include(\"/opt/x.h\")\n#endif\n"),
            Some((1, "__has_include".into(), "/opt/x.h".into()))
        );
        assert_eq!(
            found("#if __has_include_next(<../../x.h>)\n#endif\n"),
            Some((1, "__has_include_next".into(), "../../x.h".into()))
        );
        assert_eq!(found("#if __has_include(<zlib.h>)\n#endif\n"), None);
        assert_eq!(found("#if __has_include(\"sub/../x.h\")\n#endif\n"), None);
    }

    #[test]
    fn embed_and_computed_incbin() {
        assert_eq!(
            found("const char d[] = {\n# embed \"/etc/passwd\"\n};\n"),
            Some((2, "#embed".into(), "/etc/passwd".into()))
        );
        assert_eq!(
            found("asm(\".incbin \" PATH);\n"),
            Some((1, ".incbin".into(), "".into()))
        );
        assert_eq!(found("asm(\".incbin \\\"data.bin\\\"\");\n"), None);
    }

    #[test]
    fn comments_and_longer_identifiers_do_not_count() {
        assert_eq!(found("// .incbin \"/etc/passwd\"\nint a;\n"), None);
        assert_eq!(found("/* __has_include(\"/x\") */ int a;\n"), None);
        assert_eq!(found("int my__has_include(\"/x\");\n"), None);
        assert_eq!(found("int embedded = 1; /* # embed */\n"), None);
    }

    #[test]
    fn escaping_is_judged_from_the_file_folder() {
        assert!(!escapes("sub/a.c", "../x.h"));
        assert!(escapes("sub/a.c", "../../x.h"));
        assert!(escapes("a.c", "../x.h"));
        assert!(escapes("a.c", "/x.h"));
    }
}
