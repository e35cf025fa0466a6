//! Agreement between a library's Coex `extern` declarations and its manifest.
//!
//! The language front end parses the library's modules and hands the
//! declarations it found to [`verify_externs`]; this module owns the rule
//! (format §2): every extern names a manifest symbol with the same parameter
//! and return types. A manifest symbol without an extern is allowed.

use crate::cxz::manifest::{BoundaryType, Manifest};
use crate::cxz::Problem;

/// One `extern` declaration as the front end parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternDecl {
    /// Archive path of the module (`src/regex.coex`).
    pub module: String,
    /// 1-based line of the declaration.
    pub line: usize,
    pub name: String,
    pub params: Vec<BoundaryType>,
    /// `Void` when the declaration has no `-> T`.
    pub returns: BoundaryType,
}

fn signature(params: &[BoundaryType], returns: BoundaryType) -> String {
    let p: Vec<String> = params.iter().map(|t| t.to_string()).collect();
    format!("({}) -> {returns}", p.join(", "))
}

/// Problems for every extern that the manifest does not declare, or declares
/// with another signature; each names both places.
pub fn verify_externs(manifest: &Manifest, externs: &[ExternDecl]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for e in externs {
        let location = format!("{}:{}", e.module, e.line);
        match manifest.find_symbol(&e.name) {
            None => problems.push(Problem {
                location,
                message: format!(
                    "extern '{}' is not declared in manifest.toml; add it to a [[ffi.<unit>.symbols]] table",
                    e.name
                ),
            }),
            Some((unit, sym)) if sym.params != e.params || sym.returns != e.returns => {
                problems.push(Problem {
                    location,
                    message: format!(
                        "extern '{}' is declared as {} here but as {} in manifest.toml [[ffi.{}.symbols]]",
                        e.name,
                        signature(&e.params, e.returns),
                        signature(&sym.params, sym.returns),
                        unit.name
                    ),
                });
            }
            Some(_) => {}
        }
    }
    problems
}
