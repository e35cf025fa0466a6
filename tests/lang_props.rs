//! Property tests: no input makes the front end panic or hang, and every
//! diagnostic points inside its file and renders. Bounded case counts keep
//! this to a few seconds.

use proptest::prelude::*;

use coex::lang::{self, DirLibraryResolver};

const SEEDS: [&str; 4] = [
    include_str!("lang/valid/core_tour.coex"),
    include_str!("lang/valid/concurrency.coex"),
    include_str!("lang/valid/records_and_lists.coex"),
    include_str!("lang/invalid/unsupported.coex"),
];

const PIECES: [&str; 58] = [
    "func", "formula", "task", "extern", "type", "import", "const", "if", "else", "for", "in",
    "while", "break", "continue", "return", "select", "case", "within", "yield", "and", "or",
    "not", "true", "false", "self", "end", "~", "(", ")", "[", "]", "{", "}", ",", ":", ".", "..",
    "->", "=", "+=", "==", "<", ">", "+", "-", "*", "/", "%", "?", "\n", ";", " ", "x", "main",
    "42", "\"s\"", "#c\n", "##",
];

/// Checks text the way `coex check` would and validates the diagnostics.
fn check_text(src: &str) -> Result<(), TestCaseError> {
    let resolver = DirLibraryResolver::default();
    let (prog, diags) = lang::check_source("prop_dir_that_does_not_exist/p.coex", src, &resolver);
    for d in &diags {
        let file = prog
            .sources
            .get(d.span.file)
            .map(|f| f.text.len())
            .unwrap_or(0);
        prop_assert!(d.span.start <= d.span.end, "{d:?}");
        prop_assert!(d.span.end as usize <= file, "{d:?} past end {file}");
    }
    let text = lang::render_text(&prog.sources, &diags);
    prop_assert_eq!(
        text.matches("\nerror: ").count() + usize::from(text.starts_with("error: ")),
        diags.iter().filter(|d| d.is_error()).count()
    );
    let _ = lang::render_json(&prog.sources, &diags);
    Ok(())
}

proptest! {
    // COEX_PROPTEST_CASES raises the bound for a longer local run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("COEX_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn token_soup_never_panics(parts in prop::collection::vec(prop::sample::select(PIECES.to_vec()), 0..120)) {
        check_text(&parts.join(" "))?;
        check_text(&parts.concat())?;
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
        check_text(&s)?;
    }

    #[test]
    fn mutated_programs_never_panic(
        seed in 0..SEEDS.len(),
        ops in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), any::<prop::sample::Index>(), prop::sample::select(PIECES.to_vec())), 1..6),
    ) {
        let mut bytes: Vec<u8> = SEEDS[seed].as_bytes().to_vec();
        for (op, a, b, piece) in ops {
            if bytes.is_empty() { break; }
            let i = a.index(bytes.len());
            let j = (i + b.index(40)).min(bytes.len());
            match op {
                0 => { bytes.drain(i..j); }
                1 => { bytes.splice(i..i, piece.bytes()); }
                _ => { let dup: Vec<u8> = bytes[i..j].to_vec(); bytes.splice(j..j, dup); }
            }
        }
        // Mutations can split UTF-8 characters; the loader only accepts UTF-8.
        let text = String::from_utf8_lossy(&bytes).into_owned();
        check_text(&text)?;
    }
}
