//! Globs of FFI `source` entries (`*` and `?`, never crossing `/`).
//!
//! Globs are expanded against the archive's own file list, never against a
//! file system, so a manifest cannot reach outside its archive. `!`
//! exclusions use the same matching and the same budget (see
//! `manifest/parse/sources.rs`).

/// Steps one manifest may spend expanding globs: generous for any real
/// library, and a hard stop for hostile patterns built to backtrack.
pub const GLOB_BUDGET: u64 = 20_000_000;

/// True if `path` matches `pattern`, where `*` matches any run of characters
/// other than `/` and `?` matches exactly one character other than `/`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut unlimited = u64::MAX;
    matches_within(pattern, path, &mut unlimited).unwrap_or(false)
}

/// [`matches`] that spends at most `budget` steps (shared across calls);
/// `None` once the budget is exhausted.
pub fn matches_within(pattern: &str, path: &str, budget: &mut u64) -> Option<bool> {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    // Iterative wildcard matching with one backtrack point per `*`
    // (linear-ish, no recursion, so hostile patterns cannot blow the stack).
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        *budget = budget.checked_sub(1)?;
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && (p[pi] == s[si] || (p[pi] == '?' && s[si] != '/')) {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            if s[ss] == '/' {
                return Some(false);
            }
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return Some(false);
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    Some(pi == p.len())
}

/// True if the pattern contains a wildcard.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_stays_in_one_folder() {
        assert!(matches("*.c", "a.c"));
        assert!(!matches("*.c", "sub/a.c"));
        assert!(matches("rx/reg*.c", "rx/regcomp.c"));
        assert!(!matches("rx/reg*.c", "rx/other.c"));
        assert!(matches("*/*.c", "rx/a.c"));
    }

    #[test]
    fn question_mark() {
        assert!(matches("a?.c", "ab.c"));
        assert!(!matches("a?.c", "a/.c"));
        assert!(!matches("a?.c", "a.c"));
    }

    #[test]
    fn hostile_patterns_stop_at_the_budget() {
        let pattern = format!("*{}b", "a".repeat(2000));
        let path = "a".repeat(60_000);
        let mut budget = 1_000_000;
        assert_eq!(matches_within(&pattern, &path, &mut budget), None);
        assert_eq!(budget, 0);
    }

    #[test]
    fn literal() {
        assert!(matches("x.c", "x.c"));
        assert!(!matches("x.c", "y.c"));
        assert!(!is_glob("x.c"));
        assert!(is_glob("*.c"));
    }
}
