//! Any UTF-8 text through the whole front end: lexing, parsing, checking
//! and rendering must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let resolver = coex::lang::DirLibraryResolver::default();
        let (program, diags) = coex::lang::check_source("fuzz/input.coex", text, &resolver);
        let _ = coex::lang::render_text(&program.sources, &diags);
        let _ = coex::lang::render_json(&program.sources, &diags);
    }
});
