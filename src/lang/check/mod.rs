//! The checker: names, types, function-kind rules, the task/handle rule,
//! return paths, `main`, externs. It runs over a [`LoadedProgram`] and
//! produces a [`CheckedProgram`] plus every diagnostic it finds (it keeps
//! going after errors; an erroneous expression gets type `Unknown` so one
//! mistake is reported once).

mod builtins;
mod consts;
mod control;
mod exprs;
mod handles;
mod kinds;
mod names;
mod returns;
mod stmts;
mod tasks;

/// The diagnostic messages of checking `src` as `t.coex` (the unit tests
/// of the check passes compare these).
#[cfg(test)]
fn messages(src: &str) -> Vec<String> {
    let resolver = crate::lang::DirLibraryResolver::default();
    let (_, diags) = crate::lang::check_source("t.coex", src, &resolver);
    diags.into_iter().map(|d| d.message).collect()
}

use crate::lang::span::index_u32;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::ast::FuncKind;
use super::diagnostic::Diagnostic;
use super::loader::{LoadedModule, LoadedProgram, UnitId};
use super::program::{CheckedProgram, ConstInfo, ExternInfo, FunctionInfo, LocalInfo, RecordInfo};
use super::span::Span;
use super::types::{ConstId, ExternId, FuncId, LocalId, RecordId, Ty};

pub use names::did_you_mean;
pub use tasks::check_externs_against_manifest;

/// A top-level name of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Global {
    Func(FuncId),
    Extern(ExternId),
    Record(RecordId),
    Const(ConstId),
}

/// Checks a loaded program. Diagnostics include the loader's.
pub fn check_program(loaded: LoadedProgram) -> (CheckedProgram, Vec<Diagnostic>) {
    super::stack::with_deep_stack(move || check_here(loaded))
}

fn check_here(loaded: LoadedProgram) -> (CheckedProgram, Vec<Diagnostic>) {
    let mut cx = Checker::new(loaded);
    cx.collect();
    cx.check_consts();
    cx.fold_consts();
    cx.check_bodies();
    cx.check_formula_cycles();
    cx.check_task_handles();
    cx.check_main();
    cx.check_manifests();
    cx.check_module_names();
    cx.finish()
}

/// Per-const typing state (consts are typed on demand, in any order).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConstState {
    Pending,
    InProgress,
    Done,
}

/// A call from one function to another, for the kind rules and cycles.
#[derive(Debug, Clone)]
pub(crate) struct CallEdge {
    pub caller: FuncId,
    pub callee: FuncId,
    pub span: Span,
}

pub(crate) struct Checker {
    pub prog: CheckedProgram,
    /// The parsed modules, shared so passes can read the AST while they
    /// update the tables (moved into `prog.modules` at the end).
    pub ast: Arc<Vec<LoadedModule>>,
    pub diags: Vec<Diagnostic>,
    /// Names visible in each unit: own declarations and direct imports.
    pub scopes: Vec<BTreeMap<String, Global>>,
    pub const_state: Vec<ConstState>,
    pub edges: Vec<CallEdge>,
}

impl Checker {
    fn new(loaded: LoadedProgram) -> Checker {
        let units = loaded.units.len();
        Checker {
            prog: CheckedProgram {
                sources: loaded.sources,
                modules: Vec::new(),
                units: loaded.units,
                entry: loaded.entry,
                functions: Vec::new(),
                externs: Vec::new(),
                records: Vec::new(),
                consts: Vec::new(),
                locals: Vec::new(),
                types: HashMap::new(),
                names: HashMap::new(),
                calls: HashMap::new(),
                arg_order: HashMap::new(),
                time_units: HashMap::new(),
                bindings: HashMap::new(),
                loop_vars: HashMap::new(),
                main: None,
            },
            ast: Arc::new(loaded.modules),
            diags: loaded.diagnostics,
            scopes: vec![BTreeMap::new(); units],
            const_state: Vec::new(),
            edges: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(crate) fn record_names(&self) -> Vec<String> {
        self.prog.records.iter().map(|r| r.name.clone()).collect()
    }

    /// Displays a type for a message.
    pub(crate) fn show(&self, ty: &Ty) -> String {
        ty.display(&self.record_names()).to_string()
    }

    pub(crate) fn lookup_global(&self, unit: UnitId, name: &str) -> Option<Global> {
        self.scopes.get(unit.0 as usize)?.get(name).copied()
    }

    pub(crate) fn new_local(
        &mut self,
        name: &str,
        ty: Ty,
        func: Option<FuncId>,
        is_param: bool,
        span: Span,
    ) -> LocalId {
        self.prog.locals.push(LocalInfo {
            name: name.to_string(),
            ty,
            func,
            is_param,
            span,
        });
        LocalId(index_u32(self.prog.locals.len() - 1))
    }

    /// Each function with its declaration in `ast` (those without one are
    /// skipped): the signature and body passes walk the same list.
    pub(crate) fn declared_functions<'a>(
        &self,
        ast: &'a [LoadedModule],
    ) -> Vec<(FuncId, &'a super::ast::FuncDecl)> {
        (0..self.prog.functions.len())
            .filter_map(|fid| {
                super::program::func_decl_in(ast, &self.prog.functions[fid])
                    .map(|decl| (FuncId(crate::lang::span::index_u32(fid)), decl))
            })
            .collect()
    }

    pub(crate) fn func(&self, id: FuncId) -> &FunctionInfo {
        &self.prog.functions[id.0 as usize]
    }

    pub(crate) fn ext(&self, id: ExternId) -> &ExternInfo {
        &self.prog.externs[id.0 as usize]
    }

    pub(crate) fn record(&self, id: RecordId) -> &RecordInfo {
        &self.prog.records[id.0 as usize]
    }

    pub(crate) fn konst(&self, id: ConstId) -> &ConstInfo {
        &self.prog.consts[id.0 as usize]
    }

    fn check_main(&mut self) {
        let entry = self.prog.entry;
        let Some(Global::Func(id)) = self.lookup_global(entry, "main") else {
            return;
        };
        let f = self.func(id).clone();
        if f.unit != entry {
            return;
        }
        self.prog.main = Some(id);
        let ok =
            f.kind == FuncKind::Func && f.params.is_empty() && matches!(f.ret, Ty::Void | Ty::Int);
        if !ok {
            self.error(
                Diagnostic::error(f.span, "`main` must be declared as `func main() -> int` or `func main()`")
                    .with_help("main takes no parameters, is a `func`, and returns an int exit status or nothing"),
            );
        }
    }

    /// Two different module files imported under one name (`util` beside
    /// `main.coex` and `lib/util.coex` beside `lib/helper.coex`) are
    /// fine for the language, but one build action compiles a program's
    /// modules together by name: refused here as `coex build` refuses it.
    fn check_module_names(&mut self) {
        let mut seen: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
        for (i, unit) in self.prog.units.iter().enumerate() {
            let super::loader::UnitOrigin::Program { path } = &unit.origin else {
                continue;
            };
            if i == self.prog.entry.0 as usize {
                continue;
            }
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(first) = seen.get(&name) else {
                seen.insert(name, path.clone());
                continue;
            };
            let span = self
                .prog
                .units
                .iter()
                .flat_map(|u| &u.imports)
                .find(|(to, _)| to.0 as usize == i)
                .map(|(_, span)| *span)
                .unwrap_or_default();
            let d = Diagnostic::error(
                span,
                format!(
                    "two different modules are both imported as '{name}': {} and {}",
                    first.display(),
                    path.display()
                ),
            )
            .with_help("a program's module names must be unique (one build action compiles them together): rename one");
            self.diags.push(d);
        }
    }

    fn finish(mut self) -> (CheckedProgram, Vec<Diagnostic>) {
        let ast = std::mem::take(&mut self.ast);
        self.prog.modules = Arc::try_unwrap(ast).unwrap_or_else(|shared| (*shared).clone());
        let mut diags = std::mem::take(&mut self.diags);
        // Stable order: by file, then position; parse errors first per file.
        diags.sort_by_key(|d| (d.span.file, d.span.start, d.span.end));
        diags.dedup();
        (self.prog, diags)
    }
}
