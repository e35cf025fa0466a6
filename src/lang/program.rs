//! [`CheckedProgram`]: the output of the checker, built so that a lowering
//! pass can walk the AST without re-deriving anything. Declarations live in
//! tables indexed by typed ids; per-node facts live in side tables keyed by
//! [`NodeId`].

use std::collections::{BTreeMap, HashMap};

use super::ast::{FuncDecl, FuncKind, Item, NodeId};
use super::loader::{LoadedModule, SourceMap, Unit, UnitId};
use super::span::Span;
use super::types::{ConstId, ExternId, FuncId, LocalId, RecordId, Ty};

/// A function or method after checking.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub kind: FuncKind,
    pub unit: UnitId,
    /// Index into [`CheckedProgram::modules`].
    pub module: usize,
    /// Index of the item in that module (the `type` item for a method).
    pub item: usize,
    /// For a method: its index in the type's `methods`.
    pub method: Option<usize>,
    /// For a method: the record it belongs to.
    pub owner: Option<RecordId>,
    /// Parameter locals, in order (without `self`).
    pub params: Vec<LocalId>,
    pub param_types: Vec<Ty>,
    pub ret: Ty,
    /// The method mentions `self` (or lists it): it can only be called on a
    /// value (`v.m()`), which is passed as `self`.
    pub uses_self: bool,
    /// The function returns a value derived from an FFI handle (see
    /// `check::handles`).
    pub returns_handle: bool,
    pub span: Span,
}

/// An `extern` declaration after checking.
#[derive(Debug, Clone)]
pub struct ExternInfo {
    pub name: String,
    pub param_types: Vec<Ty>,
    pub ret: Ty,
    /// The library that owns it (its manifest declares the symbol), or
    /// `None` for a bare extern in a program, which binds to libc.
    pub library: Option<String>,
    pub module: usize,
    pub item: usize,
    pub span: Span,
}

/// A record `type` after checking.
#[derive(Debug, Clone)]
pub struct RecordInfo {
    pub name: String,
    /// Fields in declaration order (the constructor's positional order).
    pub fields: Vec<(String, Ty)>,
    pub methods: BTreeMap<String, FuncId>,
    pub module: usize,
    pub item: usize,
    pub span: Span,
}

/// A `const` after checking.
#[derive(Debug, Clone)]
pub struct ConstInfo {
    pub name: String,
    pub ty: Ty,
    pub module: usize,
    pub item: usize,
    pub span: Span,
    /// Its value, computed at check time (`None` only where an error was
    /// reported).
    pub value: Option<ConstValue>,
}

/// The compile-time value of a `const`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// A local variable or parameter.
#[derive(Debug, Clone)]
pub struct LocalInfo {
    pub name: String,
    pub ty: Ty,
    /// The function it belongs to (`None` never happens for bodies; kept for
    /// const contexts).
    pub func: Option<FuncId>,
    pub is_param: bool,
    pub span: Span,
}

/// What a name expression refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRef {
    Local(LocalId),
    Const(ConstId),
}

/// Built-in functions and methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `print(v)`.
    Print,
    /// `range(a, b)`: the ints `a..b` as a list.
    Range,
    /// `len(v)` / `v.len()` on strings and lists.
    Len,
    /// `get(xs, i)` / `xs.get(i)`.
    Get,
    /// `append(xs, v)` / `xs.append(v)`: appends to the list held by `xs`
    /// and returns that list.
    Append,
    /// `to_string(v)` / `v.to_string()`.
    ToString,
    /// `arg_count()`: the number of program arguments.
    ArgCount,
    /// `arg(i)`: program argument `i` (0-based) as a string.
    Arg,
}

/// The resolved target of a call expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallTarget {
    /// A top-level `func`/`formula`/`task`.
    Function(FuncId),
    /// `Type.m(args)`.
    StaticMethod(FuncId),
    /// `v.m(args)`: the callee's `Field` object is the receiver (`self`).
    InstanceMethod(FuncId),
    /// An extern: see [`ExternInfo::library`].
    Extern(ExternId),
    /// `Type(args)`: see [`CheckedProgram::arg_order`] for named arguments.
    Constructor(RecordId),
    /// A built-in; in method form the callee's `Field` object is the first
    /// operand.
    Builtin(Builtin),
}

/// A binding statement's effect on its local.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub local: LocalId,
    /// `true` when this statement declares the local, `false` on rebinding.
    pub declares: bool,
}

/// A checked program: all modules (program and libraries), declaration
/// tables and per-node side tables.
#[derive(Debug, Clone)]
pub struct CheckedProgram {
    pub sources: SourceMap,
    pub modules: Vec<LoadedModule>,
    pub units: Vec<Unit>,
    pub entry: UnitId,
    pub functions: Vec<FunctionInfo>,
    pub externs: Vec<ExternInfo>,
    pub records: Vec<RecordInfo>,
    pub consts: Vec<ConstInfo>,
    pub locals: Vec<LocalInfo>,
    /// The type of every expression, and of value-producing statements
    /// (`task for` statements: the list of yields).
    pub types: HashMap<NodeId, Ty>,
    /// What each `Name` expression refers to (locals and consts).
    pub names: HashMap<NodeId, NameRef>,
    /// The target of every `Call` expression.
    pub calls: HashMap<NodeId, CallTarget>,
    /// For calls with named arguments: the parameter/field index of each
    /// argument, in source order.
    pub arg_order: HashMap<NodeId, Vec<usize>>,
    /// `time.nanosecond` … `time.second` field nodes → nanoseconds.
    pub time_units: HashMap<NodeId, i64>,
    /// `Bind` and bound `TaskFor` statements, and the `call` expression of a
    /// `case r = call:` → the local they bind.
    pub bindings: HashMap<NodeId, Binding>,
    /// `For` / `TaskFor` statements → their loop variable.
    pub loop_vars: HashMap<NodeId, LocalId>,
    /// `func main` of the entry file, if present.
    pub main: Option<FuncId>,
}

impl CheckedProgram {
    /// The declaration of a function or method.
    pub fn func_decl(&self, id: FuncId) -> Option<&FuncDecl> {
        func_decl_in(&self.modules, self.functions.get(id.0 as usize)?)
    }

    /// The type of an expression (Unknown if it was never checked).
    pub fn type_of(&self, id: NodeId) -> Ty {
        self.types.get(&id).cloned().unwrap_or(Ty::Unknown)
    }

    /// Record names indexed by [`RecordId`], for displaying types.
    pub fn record_names(&self) -> Vec<String> {
        self.records.iter().map(|r| r.name.clone()).collect()
    }
}

/// The declaration of a function or method within `modules`.
pub(crate) fn func_decl_in<'m>(
    modules: &'m [LoadedModule],
    info: &FunctionInfo,
) -> Option<&'m FuncDecl> {
    match (
        modules.get(info.module)?.ast.items.get(info.item)?,
        info.method,
    ) {
        (Item::Func(f), None) => Some(f),
        (Item::Type(t), Some(m)) => t.methods.get(m),
        _ => None,
    }
}
