//! Reading make-style dependency files (`clang -MD -MF`, `ld
//! --dependency-file`): the list of files a command read.
//!
//! The format is make's: `target…: prerequisite…` rules, lines continued
//! with a trailing backslash, spaces inside names escaped as `\ `, `$` as
//! `$$`. Both clang and GNU ld write it; ld adds one empty rule per input
//! (`file:`), which simply contributes nothing.

/// Every prerequisite named in `text`, in order of first appearance,
/// without duplicates.
pub fn prerequisites(text: &str) -> Vec<String> {
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in joined.lines() {
        let words = split_words(line);
        // Everything after the first word that ends the target list.
        let mut after_colon = false;
        for (word, ends_targets) in words {
            if after_colon {
                if !word.is_empty() && seen.insert(word.clone()) {
                    out.push(word);
                }
            } else if ends_targets {
                after_colon = true;
            }
        }
    }
    out
}

/// Splits one logical line into words, undoing make's escapes; the flag is
/// true for the word that ends the targets (it was followed by `:`).
fn split_words(line: &str) -> Vec<(String, bool)> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut targets_done = false;
    let flush = |cur: &mut String, words: &mut Vec<(String, bool)>, ends: bool| {
        if !cur.is_empty() || ends {
            words.push((std::mem::take(cur), ends));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(' ') | Some('#') | Some('\\') | Some(':') => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                _ => cur.push('\\'),
            },
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                cur.push('$');
            }
            ' ' | '\t' => flush(&mut cur, &mut words, false),
            ':' if !targets_done && matches!(chars.peek(), None | Some(' ') | Some('\t')) => {
                targets_done = true;
                flush(&mut cur, &mut words, true);
            }
            _ => cur.push(c),
        }
    }
    flush(&mut cur, &mut words, false);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clang_style_rule_with_continuations() {
        let text =
            "obj/a.c.o: src/a.c /usr/include/stdio.h \\\n  /usr/include/features.h src/x.h\n";
        assert_eq!(
            prerequisites(text),
            [
                "src/a.c",
                "/usr/include/stdio.h",
                "/usr/include/features.h",
                "src/x.h"
            ]
        );
    }

    #[test]
    fn ld_style_phony_rules_and_duplicates() {
        let text = "libu.so: \\\n  /lib/crti.o \\\n  a.o \\\n  /lib/libc.so \\\n  /lib/libc.so\n\n/lib/crti.o:\n\na.o:\n";
        assert_eq!(prerequisites(text), ["/lib/crti.o", "a.o", "/lib/libc.so"]);
    }

    #[test]
    fn escapes_are_undone() {
        let text = "o: src/with\\ space.h /opt/a$$b.h c\\#d.h\n";
        assert_eq!(
            prerequisites(text),
            ["src/with space.h", "/opt/a$b.h", "c#d.h"]
        );
    }

    #[test]
    fn nothing_from_garbage() {
        assert!(prerequisites("").is_empty());
        assert!(prerequisites("no colon here").is_empty());
    }
}
