//! Declaration collection and name resolution: every top-level name of
//! every unit gets an id; each unit's scope holds its own names plus those
//! of its direct imports (unqualified); duplicates and clashes between
//! imports are errors naming both; written types are resolved.

use crate::lang::span::index_u32;
use std::collections::BTreeMap;

use super::{Checker, ConstState, Global};
use crate::lang::ast::{
    Block, Expr, ExprKind, FuncDecl, Ident, Item, StmtKind, TypeExpr, TypeExprKind,
};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::loader::{UnitId, UnitOrigin};
use crate::lang::program::{ConstInfo, ExternInfo, FunctionInfo, RecordInfo};
use crate::lang::span::Span;
use crate::lang::types::{ConstId, ExternId, FuncId, RecordId, Ty};

/// Edit distance (insertions, deletions, substitutions and swaps of two
/// adjacent characters each cost 1) between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate to `name` (edit distance at most a third of its
/// length, at least 1), for "did you mean `x`?" hints.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    if name.chars().count() < 3 {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = edit_distance(name, c);
        if d <= limit && best.is_none_or(|(bd, bc)| (d, c) < (bd, bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// Whether a block mentions `self` anywhere.
pub(crate) fn mentions_self(body: &Block) -> bool {
    fn expr(e: &Expr) -> bool {
        match &e.kind {
            ExprKind::SelfRef => true,
            ExprKind::List(items) => items.iter().any(expr),
            ExprKind::Unary(_, a) => expr(a),
            ExprKind::Binary(_, a, b) => expr(a) || expr(b),
            ExprKind::Ternary(a, b, c) => expr(a) || expr(b) || expr(c),
            ExprKind::Call { callee, args } => expr(callee) || args.iter().any(|a| expr(&a.value)),
            ExprKind::Field { object, .. } => expr(object),
            ExprKind::Index { object, index } => expr(object) || expr(index),
            _ => false,
        }
    }
    fn block(b: &Block) -> bool {
        b.stmts.iter().any(|s| match &s.kind {
            StmtKind::Bind { value, .. } => expr(value),
            StmtKind::Assign { target, value, .. } => expr(target) || expr(value),
            StmtKind::Expr(e) | StmtKind::Yield(e) => expr(e),
            StmtKind::Return(e) => e.as_ref().is_some_and(expr),
            StmtKind::If { cond, then, otherwise } => {
                expr(cond) || block(then) || otherwise.as_ref().is_some_and(block)
            }
            StmtKind::While { cond, body } => expr(cond) || block(body),
            StmtKind::For { iter, body, .. } | StmtKind::TaskFor { iter, body, .. } => {
                expr(iter) || block(body)
            }
            StmtKind::Select { cases } => cases.iter().any(|c| {
                block(&c.body)
                    || matches!(&c.kind, crate::lang::ast::SelectCaseKind::Call { call, .. } if expr(call))
            }),
            StmtKind::Within { deadline, body, otherwise } => {
                expr(deadline) || block(body) || otherwise.as_ref().is_some_and(block)
            }
            StmtKind::Break | StmtKind::Continue => false,
        })
    }
    block(body)
}

const PRIMITIVES: [&str; 4] = ["int", "float", "bool", "string"];

impl Checker {
    /// Declares every top-level name, builds unit scopes and resolves
    /// signatures and field types.
    pub(crate) fn collect(&mut self) {
        let own = self.declare_all();
        self.build_scopes(&own);
        self.resolve_signatures();
    }

    fn unit_library(&self, unit: UnitId) -> Option<String> {
        match &self.prog.units[unit.0 as usize].origin {
            UnitOrigin::Library { name, .. } => Some(name.clone()),
            UnitOrigin::Program { .. } => None,
        }
    }

    /// Pass 1: ids for all declarations; per-unit maps of own names.
    fn declare_all(&mut self) -> Vec<BTreeMap<String, (Global, Span)>> {
        let mut own: Vec<BTreeMap<String, (Global, Span)>> =
            vec![BTreeMap::new(); self.prog.units.len()];
        let ast = std::sync::Arc::clone(&self.ast);
        for (m, module) in ast.iter().enumerate() {
            let unit = module.unit;
            let library = self.unit_library(unit);
            for (i, item) in module.ast.items.iter().enumerate() {
                let (name, span, global) = match item {
                    Item::Import(_) => continue,
                    Item::Const(c) => {
                        self.prog.consts.push(ConstInfo {
                            name: c.name.name.clone(),
                            ty: Ty::Unknown,
                            module: m,
                            item: i,
                            span: c.name.span,
                            value: None,
                        });
                        self.const_state.push(ConstState::Pending);
                        let id = ConstId(index_u32(self.prog.consts.len() - 1));
                        (c.name.name.clone(), c.name.span, Global::Const(id))
                    }
                    Item::Extern(e) => {
                        self.prog.externs.push(ExternInfo {
                            name: e.name.name.clone(),
                            param_types: Vec::new(),
                            ret: Ty::Void,
                            library: library.clone(),
                            module: m,
                            item: i,
                            span: e.name.span,
                        });
                        let id = ExternId(index_u32(self.prog.externs.len() - 1));
                        (e.name.name.clone(), e.name.span, Global::Extern(id))
                    }
                    Item::Type(t) => {
                        if PRIMITIVES.contains(&t.name.name.as_str())
                            || matches!(t.name.name.as_str(), "List" | "json")
                        {
                            self.error(Diagnostic::error(
                                t.name.span,
                                format!(
                                    "`{}` is a built-in type and cannot be redefined",
                                    t.name.name
                                ),
                            ));
                        }
                        self.prog.records.push(RecordInfo {
                            name: t.name.name.clone(),
                            fields: Vec::new(),
                            methods: BTreeMap::new(),
                            module: m,
                            item: i,
                            span: t.name.span,
                        });
                        let id = RecordId(index_u32(self.prog.records.len() - 1));
                        (t.name.name.clone(), t.name.span, Global::Record(id))
                    }
                    Item::Func(f) => {
                        let id = self.push_function(f, unit, m, i, None, None);
                        (f.name.name.clone(), f.name.span, Global::Func(id))
                    }
                };
                let map = &mut own[unit.0 as usize];
                if let Some((_, first)) = map.get(&name) {
                    let first = *first;
                    self.error(
                        Diagnostic::error(span, format!("`{name}` is defined twice"))
                            .with_label(first, "first defined here")
                            .with_help("rename one of the two declarations"),
                    );
                } else {
                    map.insert(name, (global, span));
                }
            }
        }
        own
    }

    fn push_function(
        &mut self,
        f: &FuncDecl,
        unit: UnitId,
        module: usize,
        item: usize,
        method: Option<usize>,
        owner: Option<RecordId>,
    ) -> FuncId {
        let uses_self = owner.is_some() && (f.explicit_self || mentions_self(&f.body));
        self.prog.functions.push(FunctionInfo {
            name: f.name.name.clone(),
            kind: f.kind,
            unit,
            module,
            item,
            method,
            owner,
            params: Vec::new(),
            param_types: Vec::new(),
            ret: Ty::Void,
            uses_self,
            returns_handle: false,
            span: f.name.span,
        });
        FuncId(index_u32(self.prog.functions.len() - 1))
    }

    /// Pass 2: each unit sees its names and its direct imports' names.
    fn build_scopes(&mut self, own: &[BTreeMap<String, (Global, Span)>]) {
        for u in 0..self.prog.units.len() {
            let mut scope: BTreeMap<String, Global> =
                own[u].iter().map(|(k, (g, _))| (k.clone(), *g)).collect();
            // name → (import span, unit display) of the import that brought it.
            let mut from: BTreeMap<String, (Span, String)> = BTreeMap::new();
            let imports = self.prog.units[u].imports.clone();
            for (imported, span) in imports {
                let display = self.prog.units[imported.0 as usize].display.clone();
                for (name, (global, decl_span)) in &own[imported.0 as usize] {
                    if let Some((first_span, first_unit)) = from.get(name) {
                        if scope.get(name) != Some(global) {
                            let (first_span, first_unit) = (*first_span, first_unit.clone());
                            self.error(
                                Diagnostic::error(
                                    span,
                                    format!("`{name}` is defined by both `{first_unit}` and `{display}`"),
                                )
                                .with_label(first_span, format!("`{name}` also comes from `{first_unit}` imported here"))
                                .with_help(format!("rename `{name}` in one of the two modules")),
                            );
                        }
                        continue;
                    }
                    if let Some((_, local_span)) = own[u].get(name) {
                        let local_span = *local_span;
                        self.error(
                            Diagnostic::error(
                                local_span,
                                format!(
                                    "`{name}` is defined here and also imported from `{display}`"
                                ),
                            )
                            .with_label(span, "imported here")
                            .with_label(*decl_span, format!("defined in `{display}`"))
                            .with_help("rename the local declaration"),
                        );
                        continue;
                    }
                    from.insert(name.clone(), (span, display.clone()));
                    scope.insert(name.clone(), *global);
                }
            }
            self.scopes[u] = scope;
        }
    }

    /// Resolves a written type in `unit`; unknown names are reported once.
    pub(crate) fn resolve_type(&mut self, unit: UnitId, t: &TypeExpr) -> Ty {
        match &t.kind {
            TypeExprKind::List(inner) => Ty::List(Box::new(self.resolve_type(unit, inner))),
            TypeExprKind::Unsupported => Ty::Unknown,
            TypeExprKind::Named(n) => match n.as_str() {
                "int" => Ty::Int,
                "float" => Ty::Float,
                "bool" => Ty::Bool,
                "string" => Ty::String,
                "List" => {
                    self.error(
                        Diagnostic::error(t.span, "`List` needs an element type")
                            .with_help("write `List<int>` or `[int]`"),
                    );
                    Ty::Unknown
                }
                _ => match self.lookup_global(unit, n) {
                    Some(Global::Record(r)) => Ty::Record(r),
                    _ => {
                        let mut cands: Vec<String> =
                            PRIMITIVES.iter().map(|s| s.to_string()).collect();
                        if let Some(scope) = self.scopes.get(unit.0 as usize) {
                            cands.extend(
                                scope
                                    .iter()
                                    .filter(|&(_k, g)| matches!(g, Global::Record(_)))
                                    .map(|(k, _g)| k.clone()),
                            );
                        }
                        let hint = did_you_mean(n, cands.iter().map(String::as_str));
                        let mut d = Diagnostic::error(t.span, format!("unknown type `{n}`"));
                        d = match hint {
                            Some(h) => d.with_help(format!("did you mean `{h}`?")),
                            None => d.with_help(
                                "types are int, float, bool, string, [T] / List<T>, or a declared `type`",
                            ),
                        };
                        self.error(d);
                        Ty::Unknown
                    }
                },
            },
        }
    }

    /// A record may not contain itself by value, directly or through other
    /// records' fields (its size would be infinite); each cycle once.
    fn check_record_cycles(&mut self) {
        let n = self.prog.records.len();
        let direct = |c: &Checker, r: usize| -> Vec<(usize, String)> {
            c.prog.records[r]
                .fields
                .iter()
                .filter_map(|(name, t)| match t {
                    Ty::Record(x) => Some((x.0 as usize, name.clone())),
                    _ => None,
                })
                .collect()
        };
        let mut reported = vec![false; n];
        for start in 0..n {
            if reported[start] {
                continue;
            }
            // Depth-first search for a path of fields back to `start`.
            let mut stack: Vec<(usize, Vec<usize>)> = vec![(start, vec![start])];
            let mut seen = vec![false; n];
            let mut cycle = None;
            while let Some((r, path)) = stack.pop() {
                for (next, _) in direct(self, r) {
                    if next == start {
                        cycle = Some(path.clone());
                        break;
                    }
                    if !seen[next] {
                        seen[next] = true;
                        let mut p = path.clone();
                        p.push(next);
                        stack.push((next, p));
                    }
                }
                if cycle.is_some() {
                    break;
                }
            }
            if let Some(path) = cycle {
                for &r in &path {
                    reported[r] = true;
                }
                let mut names: Vec<String> = path
                    .iter()
                    .map(|&r| self.prog.records[r].name.clone())
                    .collect();
                names.push(self.prog.records[start].name.clone());
                let span = self.prog.records[start].span;
                let msg = if path.len() == 1 {
                    format!("type `{}` cannot contain itself", names[0])
                } else {
                    format!(
                        "type `{}` contains itself through its fields: {}",
                        names[0],
                        names.join(" → ")
                    )
                };
                self.error(Diagnostic::error(span, msg).with_help(
                    "a record holds its fields by value; use a list `[T]` for recursive data",
                ));
            }
        }
    }

    fn resolve_return(&mut self, unit: UnitId, t: &Option<TypeExpr>) -> Ty {
        match t {
            None => Ty::Void,
            Some(TypeExpr {
                kind: TypeExprKind::Named(n),
                ..
            }) if n == "void" => Ty::Void,
            Some(t) => self.resolve_type(unit, t),
        }
    }

    /// Pass 3: field types, methods, parameter and return types.
    fn resolve_signatures(&mut self) {
        self.resolve_record_members();
        self.check_record_cycles();
        self.resolve_function_signatures();
        self.resolve_extern_signatures();
    }

    /// Each record's field types and methods; a name declared twice is
    /// reported at its second declaration.
    fn resolve_record_members(&mut self) {
        let ast = std::sync::Arc::clone(&self.ast);
        for r in 0..self.prog.records.len() {
            let (m, i) = (self.prog.records[r].module, self.prog.records[r].item);
            let unit = ast[m].unit;
            let Item::Type(t) = &ast[m].ast.items[i] else {
                continue;
            };
            let mut fields: Vec<(String, Ty)> = Vec::new();
            let mut seen: BTreeMap<String, Span> = BTreeMap::new();
            for f in &t.fields {
                let ty = self.resolve_type(unit, &f.ty);
                if self.report_repeat(&seen, &f.name, || {
                    format!("field `{}` is declared twice", f.name.name)
                }) {
                    continue;
                }
                seen.insert(f.name.name.clone(), f.name.span);
                fields.push((f.name.name.clone(), ty));
            }
            self.prog.records[r].fields = fields;
            for (mi, method) in t.methods.iter().enumerate() {
                let id =
                    self.push_function(method, unit, m, i, Some(mi), Some(RecordId(index_u32(r))));
                let name = method.name.name.clone();
                if self.report_repeat(&seen, &method.name, || {
                    format!("`{name}` is declared twice in type `{}`", t.name.name)
                }) {
                    continue;
                }
                seen.insert(name.clone(), method.name.span);
                self.prog.records[r].methods.insert(name, id);
            }
        }
    }

    /// Reports `name` when `seen` already holds it, labelling the first
    /// declaration: fields, methods and parameters share this check.
    fn report_repeat(
        &mut self,
        seen: &BTreeMap<String, Span>,
        name: &Ident,
        message: impl FnOnce() -> String,
    ) -> bool {
        let Some(&first) = seen.get(&name.name) else {
            return false;
        };
        self.error(
            Diagnostic::error(name.span, message()).with_label(first, "first declared here"),
        );
        true
    }

    /// Parameter and return types of every function and method (methods were
    /// added by [`Self::resolve_record_members`]).
    fn resolve_function_signatures(&mut self) {
        let ast = std::sync::Arc::clone(&self.ast);
        for (id, decl) in self.declared_functions(&ast) {
            let fid = id.0 as usize;
            let unit = self.prog.functions[fid].unit;
            let mut params = Vec::new();
            let mut tys = Vec::new();
            let mut seen: BTreeMap<String, Span> = BTreeMap::new();
            for p in &decl.params {
                let ty = self.resolve_type(unit, &p.ty);
                self.report_repeat(&seen, &p.name, || {
                    format!("parameter `{}` is declared twice", p.name.name)
                });
                seen.insert(p.name.name.clone(), p.name.span);
                params.push(self.new_local(&p.name.name, ty.clone(), Some(id), true, p.name.span));
                tys.push(ty);
            }
            let ret = self.resolve_return(unit, &decl.ret);
            let f = &mut self.prog.functions[fid];
            f.params = params;
            f.param_types = tys;
            f.ret = ret;
        }
    }

    /// Extern signatures: only types that can cross the FFI boundary.
    fn resolve_extern_signatures(&mut self) {
        let ast = std::sync::Arc::clone(&self.ast);
        for e in 0..self.prog.externs.len() {
            let (m, i) = (self.prog.externs[e].module, self.prog.externs[e].item);
            let unit = ast[m].unit;
            let Item::Extern(decl) = &ast[m].ast.items[i] else {
                continue;
            };
            let mut tys = Vec::new();
            for p in &decl.params {
                let ty = self.resolve_type(unit, &p.ty);
                if !ty.is_boundary() && ty != Ty::Unknown {
                    let shown = self.show(&ty);
                    self.error(
                        Diagnostic::error(p.ty.span, format!("type `{shown}` cannot cross the FFI boundary"))
                            .with_help("extern parameters are int, float, bool or string; pass opaque resources as int handles"),
                    );
                }
                tys.push(ty);
            }
            let ret = self.resolve_return(unit, &decl.ret);
            if !ret.is_boundary() && ret != Ty::Void && ret != Ty::Unknown {
                let shown = self.show(&ret);
                let span = decl.ret.as_ref().map_or(decl.name.span, |r| r.span);
                self.error(
                    Diagnostic::error(
                        span,
                        format!("type `{shown}` cannot cross the FFI boundary"),
                    )
                    .with_help("extern functions return int, float, bool, string or nothing"),
                );
            }
            self.prog.externs[e].param_types = tys;
            self.prog.externs[e].ret = ret;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("cuont", ["count", "total"]),
            Some("count".into())
        );
        assert_eq!(did_you_mean("x", ["y"]), None);
        assert_eq!(did_you_mean("alpha", ["omega"]), None);
    }
}
