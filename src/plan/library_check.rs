//! The check `coex cxz verify` and `coex cxz pack` add on top of the
//! archive rules: a library's Coex modules parse, and every `extern` they
//! declare agrees with a manifest symbol (format §2). The `.cxz` code owns
//! the rule ([`crate::cxz::verify_externs`]); this file feeds it what the
//! front end's parser finds, so `crate::cxz` never depends on the language.

use crate::cxz::{verify_externs, BoundaryType, CxzArchive, ExternDecl, Problem};
use crate::lang::ast::{Item, TypeExprKind};
use crate::lang::parser;
use crate::lang::SourceMap;

/// Every extern problem of the library's Coex modules: types that cannot
/// cross the FFI boundary, externs that disagree with the manifest. Syntax
/// errors elsewhere in a module are not this check's business (the parser
/// recovers, so the externs around them are still checked): `coex check`
/// and every build report them with positions.
pub fn extern_problems(archive: &CxzArchive) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut externs = Vec::new();
    let mut sources = SourceMap::default();
    let mut next_id = 0u32;
    for path in &archive.manifest.library.modules {
        let Some(text) = archive.module_text(path) else {
            problems.push(Problem {
                location: path.clone(),
                message: "the module is missing or not UTF-8 text".into(),
            });
            continue;
        };
        let file = match sources.add(path.clone(), text.to_string()) {
            Ok(file) => file,
            Err(message) => {
                problems.push(Problem {
                    location: path.clone(),
                    message,
                });
                continue;
            }
        };
        let out = parser::parse(file, text, &mut next_id);
        for item in &out.module.items {
            let Item::Extern(e) = item else { continue };
            let (_, line, _) = sources.location(file, e.name.span.start as usize);
            let location = format!("{path}:{line}");
            let boundary = |t: &crate::lang::ast::TypeExpr, allow_void: bool| match &t.kind {
                TypeExprKind::Named(n) => BoundaryType::parse(n, allow_void),
                _ => None,
            };
            let params: Option<Vec<BoundaryType>> =
                e.params.iter().map(|p| boundary(&p.ty, false)).collect();
            let returns = match &e.ret {
                None => Some(BoundaryType::Void),
                Some(t) => boundary(t, true),
            };
            match (params, returns) {
                (Some(params), Some(returns)) => externs.push(ExternDecl {
                    module: path.clone(),
                    line,
                    name: e.name.name.clone(),
                    params,
                    returns,
                }),
                _ => problems.push(Problem {
                    location,
                    message: format!(
                        "extern '{}' uses a type that cannot cross the FFI boundary; use int, float, bool or string (and void for no result)",
                        e.name.name
                    ),
                }),
            }
        }
    }
    problems.extend(verify_externs(&archive.manifest, &externs));
    problems
}

/// Everything `coex cxz verify` checks, for an archive already opened
/// (which applied the archive and manifest rules): its externs agree with
/// its manifest. `display` names the archive in the error.
pub fn verify(archive: CxzArchive, display: &str) -> Result<CxzArchive, crate::cxz::CxzError> {
    let problems = extern_problems(&archive);
    if problems.is_empty() {
        Ok(archive)
    } else {
        Err(crate::cxz::CxzError::Invalid {
            path: display.to_string(),
            problems,
        })
    }
}
