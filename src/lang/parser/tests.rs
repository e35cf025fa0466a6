use super::*;
use crate::lang::ast::{ExprKind, Item, StmtKind};

fn parse_ok(src: &str) -> Module {
    let mut next = 0;
    let out = parse(FileId(0), src, &mut next);
    assert!(out.diagnostics.is_empty(), "{:#?}", out.diagnostics);
    out.module
}

fn parse_errs(src: &str) -> Vec<String> {
    let mut next = 0;
    let out = parse(FileId(0), src, &mut next);
    out.diagnostics.into_iter().map(|d| d.message).collect()
}

#[test]
fn parses_the_tour() {
    let m = parse_ok(include_str!("../../../tests/lang/valid/core_tour.coex"));
    assert_eq!(m.items.len(), 9);
    let Item::Type(t) = &m.items[3] else {
        panic!("type expected")
    };
    assert_eq!(t.fields.len(), 2);
    assert_eq!(t.methods.len(), 3);
    assert!(t.methods[2].explicit_self);
}

#[test]
fn precedence() {
    let m = parse_ok("func f()\n x = 1 + 2 * 3 == 7 and not a or b ? 1 : 2\n~\n");
    let Item::Func(f) = &m.items[0] else { panic!() };
    let StmtKind::Bind { value, .. } = &f.body.stmts[0].kind else {
        panic!()
    };
    assert!(matches!(value.kind, ExprKind::Ternary(..)));
}

#[test]
fn end_keyword_and_semicolons() {
    parse_ok("func f()\n x = 1; y = 2\n if x < y\n  x = y\n end\nend\n");
}

#[test]
fn reports_every_error_in_a_file() {
    let errs = parse_errs("func f()\n x = = 1\n y = (2\n z = 3 +\n~\nfunc g()\n return )\n~\n");
    assert!(errs.len() >= 3, "{errs:?}");
}

#[test]
fn unsupported_constructs_are_named() {
    for (src, what) in [
        ("trait Shape:\n func area() -> float\n~\n", "traits"),
        ("func f()\n match x\n  case 1: print(1)\n ~\n~\n", "match"),
        ("func f()\n m = {\"a\": 1}\n~\n", "maps and sets"),
        ("func f(m: Map<string, int>)\n~\n", "maps"),
        ("func f(x: int)\n g = func(y: int) => y\n~\n", "lambdas"),
        ("func f(xs: [int])\n ys = xs[1:2]\n~\n", "slices"),
        ("func f()\n t = (1, 2)\n~\n", "tuples"),
        ("@inline\nfunc f()\n~\n", "directives"),
        ("func f<T>(x: T)\n~\n", "generic functions"),
        (
            "type Opt:\n case Some(v: int)\n case None\n~\n",
            "sum types",
        ),
        ("func f()\n x = await g()\n~\n", "await"),
    ] {
        let errs = parse_errs(src);
        let want = format!("not supported yet: {what}");
        assert!(errs.contains(&want), "{src:?}: {errs:?}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = format!(
        "func f()\n x = {}1{}\n~\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let errs = parse_errs(&src);
    assert!(
        errs.iter().any(|e| e.starts_with("nesting too deep")),
        "{errs:?}"
    );
    let mut blocks = String::from("func f()\n");
    for _ in 0..10_000 {
        blocks.push_str("if true\n");
    }
    for _ in 0..10_000 {
        blocks.push_str("~\n");
    }
    blocks.push_str("~\n");
    let errs = parse_errs(&blocks);
    assert!(
        errs.iter().any(|e| e.starts_with("nesting too deep")),
        "{errs:?}"
    );
}

/// Every clean Coex file of the repository parses to the same tree when
/// blocks are read by layout (the second pass of a file whose `~`s do
/// not match up), so that pass never blames a block a person reads as
/// closed.
#[test]
fn layout_reading_agrees_on_clean_files() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("tests"), root.join("examples")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() && !p.ends_with("invalid") {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "coex") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 20, "{files:?}");
    let mut checked = 0;
    for f in files {
        let src = std::fs::read_to_string(&f).expect("read");
        let (mut next_a, mut next_b) = (0, 0);
        let (plain, mismatched) = parse_pass(FileId(0), &src, &mut next_a, false);
        if mismatched || !plain.diagnostics.is_empty() {
            continue;
        }
        let (layout, _) = parse_pass(FileId(0), &src, &mut next_b, true);
        assert!(
            layout.diagnostics.is_empty(),
            "{}: {:#?}",
            f.display(),
            layout.diagnostics
        );
        assert_eq!(
            format!("{:?}", plain.module),
            format!("{:?}", layout.module),
            "{}",
            f.display()
        );
        checked += 1;
    }
    assert!(checked > 20, "{checked}");
}
