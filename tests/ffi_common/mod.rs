//! Helpers for the FFI isolation tests: unit images built through the real
//! FFI build (`coex::ffi_build::build_units`: clang, the shim linked in, the
//! image checks), programs written with the back-end IR builder, run as real
//! executables.
#![allow(dead_code)]

use std::collections::BTreeMap;

use coex::codegen::ir::*;
use coex::exec::ExecOptions;
use coex::ffi_build::{build_units, FfiBuildError, FfiBuildOptions, FfiUnitInput};

use crate::backend_common::*;

/// One extern of a test unit: C name, Coex parameter types, return type.
pub struct Sym(pub &'static str, pub Vec<Type>, pub Type);

/// Builds a unit image from one C file with the real FFI build (own cache dir).
pub fn try_unit_image(unit: &str, c_source: &str) -> Result<Vec<u8>, FfiBuildError> {
    let dir = tempfile::tempdir().unwrap();
    let input = FfiUnitInput {
        library: format!("{unit}lib"),
        unit: unit.into(),
        files: BTreeMap::from([("unit.c".to_string(), c_source.as_bytes().to_vec())]),
        sources: vec!["unit.c".into()],
        include_dirs: vec![".".into()],
        ..Default::default()
    };
    let opts = FfiBuildOptions {
        exec: ExecOptions::new(dir.path().join("cache")),
        cc: Some(CC.into()),
    };
    let out = build_units(&[input], &opts, &dir.path().join("out"))?;
    let path = &out.images[&(format!("{unit}lib"), unit.to_string())];
    Ok(std::fs::read(path).unwrap())
}

pub fn unit_image(unit: &str, c_source: &str) -> Vec<u8> {
    try_unit_image(unit, c_source).unwrap_or_else(|e| panic!("FFI build: {e}"))
}

/// A program skeleton with unit 0's externs declared (ExternId = index).
pub fn program_with(unit: &str, syms: &[Sym]) -> ProgB {
    let mut p = ProgB::default();
    p.program.ffi_units.push(FfiUnit {
        library: format!("{unit}lib"),
        unit: unit.into(),
        symbols: syms.iter().map(|s| s.0.to_string()).collect(),
    });
    for (i, s) in syms.iter().enumerate() {
        p.program.externs.push(Extern {
            name: s.0.into(),
            params: s.1.clone(),
            ret: s.2.clone(),
            ffi: Some(FfiRef {
                unit: 0,
                symbol: i as u32,
            }),
        });
    }
    p
}

/// Adds `f` to `p` as `func main()` and builds the executable with the
/// given unit images.
pub fn build_main(mut p: ProgB, f: FnB, unit_images: &[Vec<u8>]) -> Built {
    let main = p.add(f.finish("main", FuncKind::Func));
    build(&p.finish(main), unit_images)
}

/// `if cond: bad = bad + 1` (`bad_now` reads `bad`): counts wrong results
/// so a test prints one number instead of thousands.
pub fn count_if(bad: LocalId, bad_now: Expr, cond: Expr) -> Stmt {
    Stmt::If {
        cond,
        then_body: vec![assign(bad, add(bad_now, int(1)))],
        else_body: vec![],
    }
}

/// `for i in 0..n: body` as a statement.
pub fn repeat(var: LocalId, n: i64, body: Vec<Stmt>) -> Stmt {
    Stmt::ForRange {
        var,
        start: int(0),
        end: int(n),
        body,
    }
}

/// The `coex-rt: ffi-stats` line's counters (COEX_FFI_STATS=1).
pub fn ffi_stats(stderr: &str) -> BTreeMap<String, i64> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("coex-rt: ffi-stats "))
        .unwrap_or_else(|| panic!("no ffi-stats line in: {stderr}"));
    line["coex-rt: ffi-stats ".len()..]
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}
