//! The `CheckedProgram` a back end walks: resolved call targets, types,
//! bindings, extern ownership and the handle analysis, through the library
//! API with an in-memory `LibraryResolver`.

use std::path::Path;

use coex::lang::ast::{ExprKind, Item, StmtKind};
use coex::lang::program::{Builtin, CallTarget, NameRef};
use coex::lang::types::Ty;
use coex::lang::{self, LibraryModules, LibraryResolver, ManifestSymbol, ResolveError};

/// Libraries held in memory, keyed by name.
struct MemoryLibraries(Vec<LibraryModules>);

impl LibraryResolver for MemoryLibraries {
    fn resolve(&self, spec: &str, _from: &Path) -> Result<LibraryModules, ResolveError> {
        let name = spec
            .trim_end_matches(".cxz")
            .rsplit('/')
            .next()
            .unwrap_or(spec);
        self.0
            .iter()
            .find(|l| l.name == name)
            .cloned()
            .ok_or_else(|| ResolveError::NotGiven {
                name: name.to_string(),
                given: self.0.iter().map(|l| l.name.clone()).collect(),
            })
    }
}

fn minimal() -> LibraryModules {
    LibraryModules {
        name: "minimal".into(),
        modules: vec![(
            "src/minimal.coex".into(),
            "extern coex_minimal_create_handle(value: int) -> int\n~\n\
             type Handle:\n    id: int\n\n    func create(value: int) -> Handle\n        return Handle(coex_minimal_create_handle(value))\n    ~\n\n    func get() -> int\n        return self.id\n    ~\n~\n"
                .into(),
        )],
        symbols: vec![ManifestSymbol {
            name: "coex_minimal_create_handle".into(),
            params: vec!["int".into()],
            returns: "int".into(),
        }],
    }
}

const PROGRAM: &str = "import \"minimal.cxz\"
extern abs(x: int) -> int
~
type P:
    x: int
    y: int
~
formula sq(v: int) -> int
    return v * v
~
func main() -> int
    h = Handle.create(sq(2))
    n = h.get() + abs(-1)
    p = P(y: 2, x: 1)
    xs = [1]
    xs.append(n)
    d = 3 * time.millisecond
    print(n.to_string())
    return p.x + len(xs) + d
~
";

#[test]
fn calls_types_and_bindings_are_resolved() {
    let libs = MemoryLibraries(vec![minimal()]);
    let (prog, diags) = lang::check_source("main.coex", PROGRAM, &libs);
    assert!(
        diags.is_empty(),
        "{}",
        lang::render_text(&prog.sources, &diags)
    );
    let main = prog.main.expect("main found");
    let decl = prog.func_decl(main).expect("main decl");
    assert_eq!(prog.functions[main.0 as usize].ret, Ty::Int);

    // Collect every call target in main, in source order.
    let mut targets = Vec::new();
    fn walk(e: &coex::lang::ast::Expr, out: &mut Vec<(String, coex::lang::ast::NodeId)>) {
        if let ExprKind::Call { callee, args } = &e.kind {
            let name = match &callee.kind {
                ExprKind::Name(n) => n.clone(),
                ExprKind::Field { name, .. } => name.name.clone(),
                _ => "?".into(),
            };
            out.push((name, e.id));
            walk(callee, out);
            for a in args {
                walk(&a.value, out);
            }
        } else if let ExprKind::Binary(_, a, b) = &e.kind {
            walk(a, out);
            walk(b, out);
        } else if let ExprKind::Field { object, .. } = &e.kind {
            walk(object, out);
        }
    }
    for s in &decl.body.stmts {
        match &s.kind {
            StmtKind::Bind { value, .. } | StmtKind::Expr(value) => walk(value, &mut targets),
            StmtKind::Return(Some(v)) => walk(v, &mut targets),
            _ => {}
        }
    }
    let target = |name: &str| {
        targets
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, id)| prog.calls.get(id).copied())
            .unwrap_or_else(|| panic!("no call {name}"))
    };
    let create = match target("create") {
        CallTarget::StaticMethod(f) => f,
        other => panic!("create: {other:?}"),
    };
    assert_eq!(prog.functions[create.0 as usize].name, "create");
    assert!(!prog.functions[create.0 as usize].uses_self);
    assert!(prog.functions[create.0 as usize].returns_handle);
    assert!(matches!(target("sq"), CallTarget::Function(_)));
    match target("get") {
        CallTarget::InstanceMethod(f) => assert!(prog.functions[f.0 as usize].uses_self),
        other => panic!("get: {other:?}"),
    }
    match target("abs") {
        CallTarget::Extern(x) => assert_eq!(prog.externs[x.0 as usize].library, None),
        other => panic!("abs: {other:?}"),
    }
    let lib_extern = prog
        .externs
        .iter()
        .find(|e| e.name == "coex_minimal_create_handle")
        .expect("library extern");
    assert_eq!(lib_extern.library.as_deref(), Some("minimal"));
    let p_ctor = targets
        .iter()
        .find(|(n, _)| n == "P")
        .map(|(_, id)| *id)
        .expect("P call");
    assert!(matches!(prog.calls[&p_ctor], CallTarget::Constructor(_)));
    assert_eq!(prog.arg_order[&p_ctor], vec![1, 0]);
    assert_eq!(target("append"), CallTarget::Builtin(Builtin::Append));
    assert_eq!(target("to_string"), CallTarget::Builtin(Builtin::ToString));
    assert_eq!(target("print"), CallTarget::Builtin(Builtin::Print));
    assert_eq!(target("len"), CallTarget::Builtin(Builtin::Len));

    // Bindings: `xs` declared as [int]; `h` holds a Handle record.
    let binds: Vec<_> = decl
        .body
        .stmts
        .iter()
        .filter_map(|s| prog.bindings.get(&s.id).map(|b| (s, *b)))
        .collect();
    assert!(binds.iter().all(|(_, b)| b.declares));
    let local_ty = |name: &str| {
        prog.locals
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.ty.clone())
            .unwrap_or_else(|| panic!("local {name}"))
    };
    assert_eq!(local_ty("xs"), Ty::List(Box::new(Ty::Int)));
    assert!(matches!(local_ty("h"), Ty::Record(_)));
    // `time.millisecond` is folded to nanoseconds.
    assert_eq!(
        prog.time_units.values().copied().collect::<Vec<_>>(),
        vec![1_000_000]
    );
    // Every expression in main has a type.
    let Some(StmtKind::Return(Some(ret))) = decl.body.stmts.last().map(|s| &s.kind) else {
        panic!("return expected")
    };
    assert_eq!(prog.type_of(ret.id), Ty::Int);
    // `p.x` refers to local p.
    if let ExprKind::Binary(_, lhs, _) = &ret.kind {
        if let ExprKind::Binary(_, pfield, _) = &lhs.kind {
            if let ExprKind::Field { object, .. } = &pfield.kind {
                assert!(matches!(
                    prog.names.get(&object.id),
                    Some(NameRef::Local(_))
                ));
            }
        }
    }
    // Modules of the library are part of the program.
    assert!(prog
        .sources
        .files()
        .iter()
        .any(|f| f.name == "minimal.cxz/src/minimal.coex"));
    assert!(prog.modules.iter().any(|m| m
        .ast
        .items
        .iter()
        .any(|i| matches!(i, Item::Type(t) if t.name.name == "Handle"))));
}

#[test]
fn library_func_returning_a_handle_taints_parent_locals() {
    let libs = MemoryLibraries(vec![minimal()]);
    let src = "import \"minimal\"\nfunc main()\n    h = Handle.create(1)\n    xs = [1, 2]\n    r = task for x in xs\n        yield h.get() + x\n    ~\n~\n";
    let (prog, diags) = lang::check_source("m.coex", src, &libs);
    let text = lang::render_text(&prog.sources, &diags);
    assert_eq!(diags.len(), 1, "{text}");
    assert!(text.contains("error: Task cannot access parent func's FFI handle"));
    assert!(text.contains("The variable 'h' holds an FFI handle created in the parent func."));
    assert!(text.contains("--> m.coex:6:15"), "{text}");
}

#[test]
fn manifest_agreement_is_exposed_for_cxz_verify() {
    let lib = minimal();
    let mut next = 0;
    let parsed =
        coex::lang::parser::parse(coex::lang::span::FileId(0), &lib.modules[0].1, &mut next);
    assert!(lang::check_externs_against_manifest(
        std::slice::from_ref(&parsed.module),
        &lib.symbols
    )
    .is_empty());
    let wrong = vec![ManifestSymbol {
        name: "coex_minimal_create_handle".into(),
        params: vec!["string".into()],
        returns: "int".into(),
    }];
    let diags = lang::check_externs_against_manifest(std::slice::from_ref(&parsed.module), &wrong);
    assert_eq!(diags.len(), 1);
    assert!(diags[0].message.contains("(int) -> int"));
    assert!(diags[0].message.contains("(string) -> int"));
    let diags = lang::check_externs_against_manifest(&[parsed.module], &[]);
    assert!(diags[0]
        .message
        .contains("is not declared in the library manifest"));
}
