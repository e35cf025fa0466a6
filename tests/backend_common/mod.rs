//! Shared helpers for the back-end tests: a tiny builder for IR programs, and
//! `build`/`run` that turn the IR into a real executable through the
//! library's own `coex::link::build_executable` (Cranelift, then the
//! runtime and final link actions of `coex build`, run by the executor
//! with the real clang) and run it.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use coex::codegen::ir::*;
use coex::exec::ExecOptions;
use coex::link::{build_executable, build_runtime};

pub const CC: &str = "clang";

/// One executor cache per test process: the runtime is compiled into it
/// once (on first use, while other tests wait), then every build of this
/// process finds it there.
pub fn exec_options() -> ExecOptions {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = CACHE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = ExecOptions::new(dir.path());
        let clang = coex::toolchain::memo::clang(Some(dir.path()), Some(Path::new(CC)))
            .unwrap_or_else(|e| panic!("{e}"));
        build_runtime(&opts, &clang).unwrap_or_else(|e| panic!("runtime: {e}"));
        dir
    });
    ExecOptions::new(dir.path())
}

/// A linked program in its own tempdir.
pub struct Built {
    pub dir: tempfile::TempDir,
    pub exe: PathBuf,
}

/// The executable's bytes (`coex::link::build_executable`, shared cache).
pub fn executable_bytes(program: &Program, unit_images: &[Vec<u8>]) -> Vec<u8> {
    build_executable(program, unit_images, &exec_options(), Some(Path::new(CC)))
        .unwrap_or_else(|e| panic!("build: {e}"))
}

/// Lower, link with the runtime and the unit images, write `app` into a
/// fresh tempdir.
pub fn build(program: &Program, unit_images: &[Vec<u8>]) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("app");
    std::fs::write(&exe, executable_bytes(program, unit_images)).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    Built { dir, exe }
}

pub fn run(built: &Built, env: &[(&str, &str)]) -> Output {
    // A process another test thread forks while this executable was being
    // written can hold it open for a moment (ETXTBSY): try again briefly.
    let mut attempt = 0;
    loop {
        let mut cmd = Command::new(&built.exe);
        cmd.current_dir(built.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        match cmd.output() {
            Ok(o) => return o,
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 100 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("cannot run {}: {e}", built.exe.display()),
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Build a program whose `main` is `f`, run it, return the output.
pub fn run_main(main: FnB) -> Output {
    run_main_env(main, &[])
}

/// [`run_main`] with extra environment variables.
pub fn run_main_env(main: FnB, env: &[(&str, &str)]) -> Output {
    let mut p = ProgB::default();
    let id = p.add(main.finish("main", FuncKind::Func));
    let prog = p.finish(id);
    run(&build(&prog, &[]), env)
}

// ---- IR builder ------------------------------------------------------------

pub fn loc(line: u32, text: &str) -> SrcLoc {
    SrcLoc {
        file: "main.coex".into(),
        line,
        text: text.into(),
    }
}

pub fn e(kind: ExprKind, ty: Type) -> Expr {
    Expr {
        kind,
        ty,
        loc: loc(1, ""),
    }
}

pub fn at(mut x: Expr, line: u32, text: &str) -> Expr {
    x.loc = loc(line, text);
    x
}

pub fn int(i: i64) -> Expr {
    e(ExprKind::Lit(Literal::Int(i)), Type::Int)
}
pub fn float(f: f64) -> Expr {
    e(ExprKind::Lit(Literal::Float(f)), Type::Float)
}
pub fn boolean(b: bool) -> Expr {
    e(ExprKind::Lit(Literal::Bool(b)), Type::Bool)
}
pub fn string(s: &str) -> Expr {
    e(ExprKind::Lit(Literal::Str(s.into())), Type::Str)
}
pub fn list_ty(t: Type) -> Type {
    Type::List(Box::new(t))
}

pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    let ty = match op {
        BinOp::Eq
        | BinOp::Ne
        | BinOp::Lt
        | BinOp::Le
        | BinOp::Gt
        | BinOp::Ge
        | BinOp::And
        | BinOp::Or => Type::Bool,
        _ => a.ty.clone(),
    };
    e(ExprKind::Binary(op, Box::new(a), Box::new(b)), ty)
}
pub fn add(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Add, a, b)
}
pub fn sub(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Sub, a, b)
}
pub fn lt(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Lt, a, b)
}
pub fn neg(a: Expr) -> Expr {
    let ty = a.ty.clone();
    e(ExprKind::Unary(UnOp::Neg, Box::new(a)), ty)
}
pub fn not(a: Expr) -> Expr {
    e(ExprKind::Unary(UnOp::Not, Box::new(a)), Type::Bool)
}
pub fn ternary(c: Expr, a: Expr, b: Expr) -> Expr {
    let ty = a.ty.clone();
    e(ExprKind::Ternary(Box::new(c), Box::new(a), Box::new(b)), ty)
}
pub fn print(x: Expr) -> Stmt {
    Stmt::Expr(e(
        ExprKind::Builtin(Builtin::Print(Box::new(x))),
        Type::Void,
    ))
}
pub fn to_string(x: Expr) -> Expr {
    e(ExprKind::Builtin(Builtin::ToString(Box::new(x))), Type::Str)
}
pub fn len(x: Expr) -> Expr {
    e(ExprKind::Builtin(Builtin::Len(Box::new(x))), Type::Int)
}
pub fn index(l: Expr, i: Expr) -> Expr {
    let ty = match &l.ty {
        Type::List(t) => (**t).clone(),
        _ => Type::Void,
    };
    e(ExprKind::Index(Box::new(l), Box::new(i)), ty)
}
pub fn get(l: Expr, i: Expr) -> Expr {
    let ty = match &l.ty {
        Type::List(t) => (**t).clone(),
        _ => Type::Void,
    };
    e(
        ExprKind::Builtin(Builtin::Get(Box::new(l), Box::new(i))),
        ty,
    )
}
pub fn list(elem: Type, items: Vec<Expr>) -> Expr {
    e(ExprKind::List(items), list_ty(elem))
}
pub fn range(a: Expr, b: Expr) -> Expr {
    e(
        ExprKind::Builtin(Builtin::Range(Box::new(a), Box::new(b))),
        list_ty(Type::Int),
    )
}
pub fn call(f: FuncId, args: Vec<Expr>, ret: Type) -> Expr {
    e(ExprKind::Call(f, args), ret)
}
pub fn call_extern(x: ExternId, args: Vec<Expr>, ret: Type) -> Expr {
    e(ExprKind::CallExtern(x, args), ret)
}
pub fn expr_stmt(x: Expr) -> Stmt {
    Stmt::Expr(x)
}
pub fn ret(x: Expr) -> Stmt {
    Stmt::Return(Some(x))
}

/// Function builder: declares locals, hands out typed local expressions.
#[derive(Default)]
pub struct FnB {
    pub locals: Vec<Local>,
    pub params: u32,
    pub ret: Option<Type>,
    pub body: Vec<Stmt>,
}

#[derive(Clone, Copy)]
pub struct L(pub LocalId, pub usize);

impl FnB {
    pub fn new() -> Self {
        FnB::default()
    }
    pub fn returns(mut self, t: Type) -> Self {
        self.ret = Some(t);
        self
    }
    pub fn param(&mut self, name: &str, ty: Type) -> LocalId {
        assert_eq!(self.params as usize, self.locals.len(), "params first");
        self.params += 1;
        self.local(name, ty)
    }
    pub fn local(&mut self, name: &str, ty: Type) -> LocalId {
        self.locals.push(Local {
            name: name.into(),
            ty,
        });
        LocalId(self.locals.len() as u32 - 1)
    }
    pub fn get(&self, id: LocalId) -> Expr {
        let ty = self.locals[id.0 as usize].ty.clone();
        e(ExprKind::Local(id), ty)
    }
    pub fn append(&self, id: LocalId, v: Expr) -> Expr {
        let ty = self.locals[id.0 as usize].ty.clone();
        e(
            ExprKind::Builtin(Builtin::Append(id.into(), Box::new(v))),
            ty,
        )
    }
    pub fn push(&mut self, s: Stmt) {
        self.body.push(s);
    }
    pub fn finish(self, name: &str, kind: FuncKind) -> Function {
        Function {
            name: name.into(),
            kind,
            params: self.params,
            locals: self.locals,
            ret: self.ret.unwrap_or(Type::Void),
            body: self.body,
        }
    }
}

pub fn assign(local: LocalId, value: Expr) -> Stmt {
    Stmt::Assign { local, value }
}

#[derive(Default)]
pub struct ProgB {
    pub program: Program,
}

impl ProgB {
    /// Reserve a function slot (for recursion / forward calls).
    pub fn reserve(&mut self) -> FuncId {
        self.program.functions.push(Function {
            name: "reserved".into(),
            kind: FuncKind::Func,
            params: 0,
            locals: vec![],
            ret: Type::Void,
            body: vec![],
        });
        FuncId(self.program.functions.len() as u32 - 1)
    }
    pub fn set(&mut self, id: FuncId, f: Function) {
        self.program.functions[id.0 as usize] = f;
    }
    pub fn add(&mut self, f: Function) -> FuncId {
        self.program.functions.push(f);
        FuncId(self.program.functions.len() as u32 - 1)
    }
    pub fn finish(mut self, entry: FuncId) -> Program {
        self.program.entry = Some(entry);
        self.program
    }
}
