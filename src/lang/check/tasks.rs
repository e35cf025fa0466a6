//! Concurrency rules: `yield` placement and type, `select` shapes, and
//! extern/manifest agreement (the task rule on FFI handles is in `handles`).

use super::Checker;
use crate::lang::ast::{ExprKind, Item, Module, SelectCase, SelectCaseKind, TypeExprKind};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::loader::{ManifestSymbol, UnitOrigin};
use crate::lang::span::Span;
use crate::lang::types::Ty;

use super::stmts::FnCx;

impl Checker {
    /// `yield` inside a `task for` body, with one type for all yields.
    pub(crate) fn yield_stmt(&mut self, cx: &mut FnCx, span: Span, ty: Ty, vspan: Span) {
        let Some(frame) = cx.tasks.last_mut() else {
            self.error(
                Diagnostic::error(span, "`yield` can only be used inside a `task for` body")
                    .with_help("`yield value` gives one parallel iteration's result; use `return` in a function"),
            );
            return;
        };
        match &frame.yield_ty {
            None => frame.yield_ty = Some(ty),
            Some(prev) => {
                let prev = prev.clone();
                if ty.fits(&prev) {
                    if let Some(f) = cx.tasks.last_mut() {
                        f.yield_ty = Some(prev.join(&ty));
                    }
                } else {
                    let (a, b) = (self.show(&prev), self.show(&ty));
                    self.error(
                        Diagnostic::error(
                            vspan,
                            format!("this `task for` yields {a} elsewhere, but {b} here"),
                        )
                        .with_help("every yield of a `task for` gives the same type"),
                    );
                }
            }
        }
    }

    /// `select` holds call cases and at most one `ResourceExhausted` case.
    pub(crate) fn select_shape(&mut self, span: Span, cases: &[SelectCase]) {
        let mut calls = 0;
        let mut exhausted: Option<Span> = None;
        for c in cases {
            match &c.kind {
                SelectCaseKind::ResourceExhausted => {
                    if let Some(first) = exhausted {
                        self.error(
                            Diagnostic::error(
                                c.span,
                                "`case ResourceExhausted:` appears twice in this select",
                            )
                            .with_label(first, "first here"),
                        );
                    }
                    exhausted = Some(c.span);
                }
                SelectCaseKind::Call { call, .. } => {
                    calls += 1;
                    if !matches!(call.kind, ExprKind::Call { .. }) {
                        self.error(
                            Diagnostic::error(call.span, "a select case must be a call").with_help(
                                "write `case r = f(x):` … `~` or `case ResourceExhausted:` … `~`",
                            ),
                        );
                    }
                }
            }
        }
        if calls == 0 {
            self.error(
                Diagnostic::error(span, "a select needs at least one `case r = f(x):`")
                    .with_help("`case ResourceExhausted:` runs when the call of another case cannot get resources"),
            );
        }
    }

    /// Every library's externs against its manifest symbols.
    pub(crate) fn check_manifests(&mut self) {
        for u in 0..self.prog.units.len() {
            let UnitOrigin::Library { symbols, name } = &self.prog.units[u].origin else {
                continue;
            };
            let (symbols, name) = (symbols.clone(), name.clone());
            let modules: Vec<Module> = self.prog.units[u]
                .modules
                .iter()
                .map(|&m| self.ast[m].ast.clone())
                .collect();
            let mut diags = check_externs_against_manifest(&modules, &symbols);
            for d in &mut diags {
                d.message = d.message.replace(
                    "the library manifest",
                    &format!("the manifest of library '{name}'"),
                );
            }
            self.diags.extend(diags);
        }
    }
}

/// Checks that every `extern` of a library's modules names a symbol of its
/// manifest with the same parameter and return types. A manifest symbol
/// that no extern uses is fine. (`coex cxz verify` and `pack` call this.)
pub fn check_externs_against_manifest(
    modules: &[Module],
    symbols: &[ManifestSymbol],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for m in modules {
        for item in &m.items {
            let Item::Extern(e) = item else { continue };
            let written = |t: &crate::lang::ast::TypeExpr| match &t.kind {
                TypeExprKind::Named(n) => n.clone(),
                TypeExprKind::List(_) | TypeExprKind::Unsupported => "list".to_string(),
            };
            let params: Vec<String> = e.params.iter().map(|p| written(&p.ty)).collect();
            let ret = e.ret.as_ref().map_or("void".to_string(), written);
            let sig = |p: &[String], r: &str| format!("({}) -> {r}", p.join(", "));
            match symbols.iter().find(|s| s.name == e.name.name) {
                None => out.push(
                    Diagnostic::error(e.name.span, format!("extern '{}' is not declared in the library manifest", e.name.name))
                        .with_help(format!(
                            "add it to manifest.toml: [[ffi.<unit>.symbols]] name = \"{}\", params = [{}], returns = \"{ret}\"",
                            e.name.name,
                            params.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(", ")
                        )),
                ),
                Some(s) => {
                    if s.params != params || s.returns != ret {
                        out.push(
                            Diagnostic::error(
                                e.name.span,
                                format!(
                                    "extern '{}' does not match the library manifest: the extern declares {}, manifest.toml declares {}",
                                    e.name.name,
                                    sig(&params, &ret),
                                    sig(&s.params, &s.returns)
                                ),
                            )
                            .with_help("make the extern and its [[ffi.<unit>.symbols]] entry in manifest.toml agree"),
                        );
                    }
                }
            }
        }
    }
    out
}
