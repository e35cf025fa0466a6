//! The bridge: a [`CheckedProgram`] (checked AST + side tables) to the back
//! end's typed IR ([`crate::codegen::ir::Program`]).
//!
//! Why a separate pass: the front end never sees Cranelift and the back end
//! never re-parses, so this is the one place that knows both vocabularies.
//! It only lowers programs whose diagnostics hold no error; anything the
//! back end cannot express yet becomes a `not supported yet: …` diagnostic
//! at the source position (never a panic, never a miscompile).
//!
//! Ids: checker function, extern, record and const ids are used unchanged
//! as IR ids (same tables, same order). Locals are renumbered per function:
//! `self` first (for methods that use it), then the parameters, then every
//! other local in the order the body first mentions it.
//!
//! Split by concern: [`consts`] (compile-time values of `const`), [`stmts`]
//! (statements, assignments to fields and elements), [`exprs`]
//! (expressions, calls, built-ins, int→float conversion).

mod consts;
mod exprs;
mod stmts;

use crate::lang::span::index_u32;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::codegen::ir;
use crate::lang::span::Span;
use crate::lang::types::{LocalId, Ty};
use crate::lang::{CheckedProgram, Diagnostic};

/// One FFI unit of an imported library, as the canonical numbering sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitLayout {
    /// The unit's name (`[ffi.<unit>]`).
    pub unit: String,
    /// The symbols its manifest declares, in manifest order.
    pub symbols: Vec<String>,
}

/// One imported library: its import name (sort key of the numbering), the
/// name its manifest gives it (what the checker records on externs) and
/// its units sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryLayout {
    /// `regex` for `import "regex.cxz"` (Bazel: `--cxz regex=…`).
    pub import_name: String,
    /// `[library].name` of its manifest.
    pub library: String,
    /// Units sorted by name.
    pub units: Vec<UnitLayout>,
}

/// Every FFI unit of a program in the canonical order of docs/bazel.md
/// ("FFI unit numbering"): libraries by import name, then units by name.
/// `coex build`, `coex tool codegen` and `coex tool link` all number units
/// this way, so an object and a link from different tools agree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FfiLayout {
    /// Sorted by import name.
    pub libraries: Vec<LibraryLayout>,
}

impl FfiLayout {
    /// A layout from libraries in any order (sorted here).
    pub fn new(mut libraries: Vec<LibraryLayout>) -> FfiLayout {
        libraries.sort_by(|a, b| a.import_name.cmp(&b.import_name));
        for l in &mut libraries {
            l.units.sort_by(|a, b| a.unit.cmp(&b.unit));
        }
        FfiLayout { libraries }
    }

    /// `(global unit index, library, unit)` for every unit, in order.
    pub fn units(&self) -> Vec<(u32, &LibraryLayout, &UnitLayout)> {
        let mut out = Vec::new();
        for lib in &self.libraries {
            for u in &lib.units {
                out.push((index_u32(out.len()), lib, u));
            }
        }
        out
    }
}

/// Lowers a checked, error-free program. `Err` holds one diagnostic per
/// construct the back end cannot compile yet (or a missing `main`).
pub fn lower_program(
    prog: &CheckedProgram,
    ffi: &FfiLayout,
) -> Result<ir::Program, Vec<Diagnostic>> {
    let mut cx = Bridge::new(prog);
    let out = cx.program(ffi);
    if cx.errors.is_empty() {
        Ok(out)
    } else {
        Err(cx.errors)
    }
}

/// Adds the back end's verdict to a checked program's diagnostics: when
/// the front end found no error, every `not supported yet: …` that
/// [`lower_program`] would report (the lowering runs, nothing is
/// compiled). `coex check` and `coex tool check` call this, so they refuse
/// exactly the programs `coex build` refuses. Two things only a build
/// needs are not asked: a `main` (a module can be checked alone) and FFI
/// units for library externs (checked against their manifests already).
pub fn add_backend_diagnostics(prog: &CheckedProgram, diags: &mut Vec<Diagnostic>) {
    if crate::lang::has_errors(diags) {
        return;
    }
    let mut cx = Bridge::new(prog);
    cx.check_only = true;
    let _ = cx.program(&FfiLayout::default());
    diags.append(&mut cx.errors);
    diags.sort_by_key(|d| (d.span.file, d.span.start, d.span.end));
}

/// Lowering state shared by the whole program.
pub(crate) struct Bridge<'p> {
    pub prog: &'p CheckedProgram,
    pub errors: Vec<Diagnostic>,
    /// Extra bare externs the bridge adds (`fmod`), by C name.
    pub helpers: BTreeMap<&'static str, ir::ExternId>,
    pub externs: Vec<ir::Extern>,
    /// Per-function local numbering while lowering one body.
    pub locals: HashMap<LocalId, ir::LocalId>,
    pub fn_locals: Vec<ir::Local>,
    /// The IR local holding `self` in the current method.
    pub self_local: Option<ir::LocalId>,
    /// Per source file, its lines (split once: every expression needs one).
    lines: std::cell::RefCell<HashMap<u32, std::rc::Rc<Vec<&'p str>>>>,
    /// Only the verdict is wanted ([`add_backend_diagnostics`]).
    check_only: bool,
}

impl<'p> Bridge<'p> {
    fn new(prog: &'p CheckedProgram) -> Self {
        Bridge {
            prog,
            errors: Vec::new(),
            helpers: BTreeMap::new(),
            externs: Vec::new(),
            locals: HashMap::new(),
            fn_locals: Vec::new(),
            self_local: None,
            lines: Default::default(),
            check_only: false,
        }
    }

    /// The text of 1-based `line` of `file`, without its line break.
    fn line_text(&self, file: crate::lang::span::FileId, line: usize) -> String {
        let lines = {
            let mut cache = self.lines.borrow_mut();
            let prog = self.prog;
            cache
                .entry(file.0)
                .or_insert_with(|| {
                    std::rc::Rc::new(
                        prog.sources
                            .get(file)
                            .map(|f| f.text.lines().collect())
                            .unwrap_or_default(),
                    )
                })
                .clone()
        };
        lines
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string()
    }

    /// Records a `not supported yet: …` error at `span`.
    pub fn unsupported(&mut self, span: Span, what: &str, help: &str) {
        let mut d = Diagnostic::error(span, format!("not supported yet: {what}"));
        if !help.is_empty() {
            d = d.with_help(help.to_string());
        }
        self.errors.push(d);
    }

    /// The source location printed by runtime errors. Program files are
    /// named by their file name only, so the object does not depend on the
    /// directory the build ran in; library modules as `lib.cxz/src/m.coex`.
    pub fn loc(&self, span: Span) -> ir::SrcLoc {
        if self.check_only {
            // Only the verdict is wanted: no runtime error will print it.
            return ir::SrcLoc {
                file: String::new(),
                line: 0,
                text: String::new(),
            };
        }
        let (name, line, _) = self.prog.sources.location(span.file, span.start as usize);
        let text = self.line_text(span.file, line);
        let file = if name.contains(".cxz/") {
            name
        } else {
            Path::new(&name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(name)
        };
        ir::SrcLoc {
            file,
            line: index_u32(line),
            text,
        }
    }

    /// A checker type as an IR type. `Unknown` only survives a clean check
    /// as the element of a list that never holds anything (`[]`); any
    /// 8-byte slot type works there, `int` is used.
    pub fn ty(&self, t: &Ty) -> ir::Type {
        match t {
            Ty::Int | Ty::Unknown => ir::Type::Int,
            Ty::Float => ir::Type::Float,
            Ty::Bool => ir::Type::Bool,
            Ty::String => ir::Type::Str,
            Ty::Void => ir::Type::Void,
            Ty::List(e) => ir::Type::List(Box::new(self.ty(e))),
            Ty::Record(r) => ir::Type::Record(ir::RecordId(r.0)),
        }
    }

    /// The IR local for a checker local of the current function (numbered
    /// on first use).
    pub fn local(&mut self, id: LocalId) -> ir::LocalId {
        if let Some(l) = self.locals.get(&id) {
            return *l;
        }
        let info = &self.prog.locals[id.0 as usize];
        let l = ir::LocalId(index_u32(self.fn_locals.len()));
        self.fn_locals.push(ir::Local {
            name: info.name.clone(),
            ty: self.ty(&info.ty),
        });
        self.locals.insert(id, l);
        l
    }

    fn program(&mut self, ffi: &FfiLayout) -> ir::Program {
        let records = self
            .prog
            .records
            .iter()
            .map(|r| ir::RecordLayout {
                name: r.name.clone(),
                fields: r
                    .fields
                    .iter()
                    .map(|(n, t)| (n.clone(), self.ty(t)))
                    .collect(),
            })
            .collect();
        let ffi_units = self.externs_and_units(ffi);
        let consts = self.lower_consts();
        let mut functions = Vec::new();
        for id in 0..self.prog.functions.len() {
            functions.push(self.function(id));
        }
        let entry = match self.prog.main {
            Some(m) => Some(ir::FuncId(m.0)),
            None if self.check_only => None,
            None => {
                let span = self
                    .prog
                    .modules
                    .iter()
                    .find(|m| m.unit == self.prog.entry)
                    .map(|m| Span::new(m.file, 0, 0))
                    .unwrap_or_default();
                self.errors.push(
                    Diagnostic::error(span, "this program has no `func main()`")
                        .with_help("add `func main() -> int` (exit status) or `func main()` to the file you build"),
                );
                None
            }
        };
        ir::Program {
            functions,
            entry,
            externs: std::mem::take(&mut self.externs),
            ffi_units,
            records,
            consts,
        }
    }

    /// Externs (bare → libc, library → `FfiRef`) and the unit table.
    fn externs_and_units(&mut self, ffi: &FfiLayout) -> Vec<ir::FfiUnit> {
        let units = ffi.units();
        // Symbols each unit must resolve: those some extern names, in
        // manifest order.
        let used: std::collections::BTreeSet<(&str, &str)> = self
            .prog
            .externs
            .iter()
            .filter_map(|e| Some((e.library.as_deref()?, e.name.as_str())))
            .collect();
        let mut table: Vec<ir::FfiUnit> = units
            .iter()
            .map(|(_, lib, u)| ir::FfiUnit {
                library: lib.library.clone(),
                unit: u.unit.clone(),
                symbols: u
                    .symbols
                    .iter()
                    .filter(|s| used.contains(&(lib.library.as_str(), s.as_str())))
                    .cloned()
                    .collect(),
            })
            .collect();
        for e in &self.prog.externs {
            let params: Vec<ir::Type> = e.param_types.iter().map(|t| self.ty(t)).collect();
            let ret = self.ty(&e.ret);
            let ffi_ref = match &e.library {
                None => None,
                Some(lib) => {
                    let found = units.iter().find(|(_, l, u)| {
                        &l.library == lib && u.symbols.iter().any(|s| s == &e.name)
                    });
                    match found {
                        Some((i, _, _)) => {
                            let syms = &mut table[*i as usize].symbols;
                            let sym = syms.iter().position(|s| s == &e.name).unwrap_or_else(|| {
                                syms.push(e.name.clone());
                                syms.len() - 1
                            });
                            Some(ir::FfiRef {
                                unit: *i,
                                symbol: index_u32(sym),
                            })
                        }
                        None if self.check_only => None,
                        None => {
                            self.errors.push(
                                Diagnostic::error(
                                    e.span,
                                    format!(
                                        "extern '{}' belongs to library '{lib}', but no FFI unit of it declares the symbol",
                                        e.name
                                    ),
                                )
                                .with_help("declare the symbol in a [[ffi.<unit>.symbols]] table of the library's manifest"),
                            );
                            None
                        }
                    }
                }
            };
            self.externs.push(ir::Extern {
                name: e.name.clone(),
                params,
                ret,
                ffi: ffi_ref,
            });
        }
        table
    }

    /// One function: `self` (if used), parameters, then the body.
    fn function(&mut self, id: usize) -> ir::Function {
        let info = &self.prog.functions[id];
        self.locals.clear();
        self.fn_locals.clear();
        self.self_local = None;
        let mut params = 0;
        if info.owner.is_some() && info.uses_self {
            let owner = info.owner.map(|r| ir::Type::Record(ir::RecordId(r.0)));
            self.fn_locals.push(ir::Local {
                name: "self".into(),
                ty: owner.unwrap_or(ir::Type::Int),
            });
            self.self_local = Some(ir::LocalId(0));
            params += 1;
        }
        for p in &info.params {
            self.local(*p);
            params += 1;
        }
        let body = match self
            .prog
            .func_decl(crate::lang::types::FuncId(index_u32(id)))
        {
            Some(decl) => self.block(&decl.body.stmts),
            None => Vec::new(),
        };
        ir::Function {
            name: info.name.clone(),
            kind: match info.kind {
                crate::lang::ast::FuncKind::Func => ir::FuncKind::Func,
                crate::lang::ast::FuncKind::Formula => ir::FuncKind::Formula,
                crate::lang::ast::FuncKind::Task => ir::FuncKind::Task,
            },
            params,
            locals: std::mem::take(&mut self.fn_locals),
            ret: self.ty(&info.ret),
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{check_source, DirLibraryResolver};

    fn lower(src: &str) -> Result<ir::Program, Vec<Diagnostic>> {
        let (prog, diags) = check_source("t.coex", src, &DirLibraryResolver::default());
        assert!(!crate::lang::has_errors(&diags), "{diags:?}");
        lower_program(&prog, &FfiLayout::default())
    }

    fn main_body(p: &ir::Program) -> &[ir::Stmt] {
        let main = p.entry.expect("entry").0 as usize;
        &p.functions[main].body
    }

    #[test]
    fn compound_assignment_becomes_plain_assignment() {
        let p = lower("func main()\n    n = 1\n    n += 2\n~\n").unwrap();
        let body = main_body(&p);
        let ir::Stmt::Assign { local, value } = &body[1] else {
            panic!("{body:?}")
        };
        assert_eq!(*local, ir::LocalId(0));
        assert!(matches!(
            value.kind,
            ir::ExprKind::Binary(ir::BinOp::Add, _, _)
        ));
        assert_eq!(value.loc.file, "t.coex");
        assert_eq!(value.loc.line, 3);
        assert_eq!(value.loc.text, "    n += 2");
    }

    #[test]
    fn field_assignment_is_a_store_to_a_place() {
        let src =
            "type P:\n    x: int\n    y: int\n~\nfunc main()\n    p = P(1, 2)\n    p.y = 5\n~\n";
        let p = lower(src).unwrap();
        let ir::Stmt::Store { place, value } = &main_body(&p)[1] else {
            panic!("{:?}", main_body(&p))
        };
        assert_eq!(place.root, ir::LocalId(0));
        assert!(matches!(place.path[..], [ir::Step::Field(1)]));
        assert!(matches!(value.kind, ir::ExprKind::Lit(ir::Literal::Int(5))));
    }

    #[test]
    fn int_in_a_float_operation_is_converted() {
        let p =
            lower("func main()\n    n = 2\n    print(n * 1.5)\n    print(3 + 0.5)\n~\n").unwrap();
        assert!(p.externs.is_empty(), "{:?}", p.externs);
        let body = main_body(&p);
        let ir::Stmt::Expr(e) = &body[1] else {
            panic!()
        };
        let ir::ExprKind::Builtin(ir::Builtin::Print(arg)) = &e.kind else {
            panic!()
        };
        let ir::ExprKind::Binary(_, a, _) = &arg.kind else {
            panic!()
        };
        assert!(matches!(a.kind, ir::ExprKind::Unary(ir::UnOp::ToFloat, _)));
        assert_eq!(a.ty, ir::Type::Float);
        let ir::Stmt::Expr(e) = &body[2] else {
            panic!()
        };
        let ir::ExprKind::Builtin(ir::Builtin::Print(arg)) = &e.kind else {
            panic!()
        };
        let ir::ExprKind::Binary(_, a, _) = &arg.kind else {
            panic!()
        };
        assert!(matches!(a.kind, ir::ExprKind::Lit(ir::Literal::Float(f)) if f == 3.0));
    }

    #[test]
    fn element_stores_and_appends_go_to_places() {
        let p = lower("func main()\n    xs = [1]\n    xs[0] = 2\n~\n").unwrap();
        let ir::Stmt::Store { place, .. } = &main_body(&p)[1] else {
            panic!()
        };
        assert_eq!(place.root, ir::LocalId(0));
        assert!(matches!(place.path[..], [ir::Step::Index(_)]));
        let src = "type B:\n    items: [[int]]\n~\nfunc main()\n    b = B([[1]])\n    b.items.append([2])\n    b.items[0].append(3)\n~\n";
        let p = lower(src).unwrap();
        let body = main_body(&p);
        let ir::Stmt::Expr(e) = &body[1] else {
            panic!()
        };
        let ir::ExprKind::Builtin(ir::Builtin::Append(place, _)) = &e.kind else {
            panic!("{e:?}")
        };
        assert!(matches!(place.path[..], [ir::Step::Field(0)]));
        let ir::Stmt::Expr(e) = &body[2] else {
            panic!()
        };
        let ir::ExprKind::Builtin(ir::Builtin::Append(place, _)) = &e.kind else {
            panic!("{e:?}")
        };
        assert!(matches!(
            place.path[..],
            [ir::Step::Field(0), ir::Step::Index(_)]
        ));
    }

    #[test]
    fn a_select_arm_must_call_an_extern() {
        let src = "func f() -> int\n    return 1\n~\nfunc main()\n    select\n        case r = f():\n            print(r)\n        ~\n        case ResourceExhausted:\n            print(0)\n        ~\n    ~\n~\n";
        let errs = lower(src).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(errs[0]
            .message
            .contains("a `select` arm calling something other than an extern"));
        assert!(errs[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("outcome of one extern call")));
    }

    #[test]
    fn consts_are_folded_and_main_is_required() {
        let p = lower(
            "const A = 7 / 2 + 1\nconst B = A * time.millisecond\nfunc main()\n    print(B)\n~\n",
        )
        .unwrap();
        assert_eq!(p.consts[0].value, ir::Literal::Int(4));
        assert_eq!(p.consts[1].value, ir::Literal::Int(4_000_000));
        let errs = lower("func helper()\n    print(1)\n~\n").unwrap_err();
        assert!(errs[0].message.contains("no `func main()`"));
    }

    #[test]
    fn units_are_numbered_by_import_name_then_unit() {
        let unit = |u: &str| UnitLayout {
            unit: u.into(),
            symbols: vec![],
        };
        let layout = FfiLayout::new(vec![
            LibraryLayout {
                import_name: "zeta".into(),
                library: "a".into(),
                units: vec![unit("y"), unit("x")],
            },
            LibraryLayout {
                import_name: "alpha".into(),
                library: "z".into(),
                units: vec![unit("q")],
            },
        ]);
        let order: Vec<(String, String)> = layout
            .units()
            .iter()
            .map(|(_, l, u)| (l.import_name.clone(), u.unit.clone()))
            .collect();
        assert_eq!(
            order,
            [
                ("alpha".into(), "q".into()),
                ("zeta".into(), "x".into()),
                ("zeta".into(), "y".into())
            ]
        );
    }
}
