//! The back end's input: a small, typed, fully resolved IR close to Coex Core.
//!
//! This is the contract between the front end (via a bridge from the checked
//! AST) and code generation. Nothing here needs a name lookup: locals,
//! functions, externs, records and constants are referred to by index, and
//! every expression carries its [`Type`] and a [`SrcLoc`] (used for runtime
//! error messages). Code generation trusts the IR to be well typed; it reports
//! a [`crate::codegen::CodegenError`] for anything inconsistent instead of
//! panicking.

/// A Coex Core type as the back end sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// 64-bit signed integer.
    Int,
    /// 64-bit IEEE float.
    Float,
    /// `true`/`false`.
    Bool,
    /// Immutable UTF-8 string (pointer to a runtime `coex_str`).
    Str,
    /// `[T]`: a list with value semantics (copy-on-write, see docs/runtime.md).
    List(Box<Type>),
    /// A user `type`: index into [`Program::records`].
    Record(RecordId),
    /// No value (function without a return type, `print`, …).
    Void,
}

impl Type {
    /// True for types whose values are lists.
    pub fn is_list(&self) -> bool {
        matches!(self, Type::List(_))
    }

    /// True for mutable containers (lists and records): values held by
    /// reference with a shared flag, copied before a write when shared
    /// (docs/runtime.md, "Lists and records").
    pub fn is_container(&self) -> bool {
        matches!(self, Type::List(_) | Type::Record(_))
    }
}

/// Index of a function in [`Program::functions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncId(pub u32);
/// Index of an extern in [`Program::externs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternId(pub u32);
/// Index of a record layout in [`Program::records`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub u32);
/// Index of a constant in [`Program::consts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConstId(pub u32);
/// Index of a local in its [`Function::locals`] (parameters come first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(pub u32);

/// Where an expression or statement comes from; printed by runtime errors as
/// `  --> file:line` followed by the source line text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SrcLoc {
    /// File name as the user wrote it (relative; never a scratch path).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// The text of that source line, without its newline.
    pub text: String,
}

/// A whole program: compiled to one object file.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// All Coex functions (Core `func`, `formula`, `task`, methods lowered to
    /// plain functions with `self` as first parameter).
    pub functions: Vec<Function>,
    /// The `main` function: `() -> int` (exit status) or `() -> Void` (0).
    pub entry: Option<FuncId>,
    /// C functions: bare libc bindings or library FFI symbols.
    pub externs: Vec<Extern>,
    /// FFI units whose images are embedded; [`FfiRef::unit`] indexes this.
    pub ffi_units: Vec<FfiUnit>,
    /// Record layouts of user types.
    pub records: Vec<RecordLayout>,
    /// Top-level constants.
    pub consts: Vec<Const>,
}

/// One FFI unit of a library: an image loaded once per FFI instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfiUnit {
    /// Library name (from its manifest).
    pub library: String,
    /// Unit name within the library.
    pub unit: String,
    /// C symbols used from this unit; [`FfiRef::symbol`] indexes this.
    pub symbols: Vec<String>,
}

/// How an extern is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FfiRef {
    /// Index into [`Program::ffi_units`].
    pub unit: u32,
    /// Index into that unit's [`FfiUnit::symbols`].
    pub symbol: u32,
}

/// An `extern` declaration (cxz-format.md §4 types only: int, float, bool,
/// string, void).
#[derive(Debug, Clone)]
pub struct Extern {
    /// The Coex name; for a bare extern also the C symbol it binds to.
    pub name: String,
    /// Parameter types.
    pub params: Vec<Type>,
    /// Return type (`Void` for none).
    pub ret: Type,
    /// `None`: bare libc binding, called directly. `Some`: a library symbol,
    /// called through the current scope's FFI instance.
    pub ffi: Option<FfiRef>,
}

/// Field layout of a user `type`: one 8-byte slot per field, in order.
#[derive(Debug, Clone)]
pub struct RecordLayout {
    /// Type name (for diagnostics).
    pub name: String,
    /// Fields in declaration order: (name, type).
    pub fields: Vec<(String, Type)>,
}

/// A top-level `const` (already evaluated to a literal).
#[derive(Debug, Clone)]
pub struct Const {
    /// Name (for diagnostics).
    pub name: String,
    /// Its value; its type is the literal's.
    pub value: Literal,
}

/// Coex function kinds (checked by the front end; the back end uses the kind
/// to give tasks their own FFI scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncKind {
    /// `func`: may call anything; its outermost invocation owns an FFI scope.
    Func,
    /// `formula`: pure.
    Formula,
    /// `task`: a direct call runs it as an isolated task (own FFI scope).
    Task,
}

/// One function.
#[derive(Debug, Clone)]
pub struct Function {
    /// Source name (symbols are derived from the index, not the name).
    pub name: String,
    /// Kind.
    pub kind: FuncKind,
    /// Number of parameters: locals `0..params` are the parameters in order.
    pub params: u32,
    /// All locals (parameters first) with their types.
    pub locals: Vec<Local>,
    /// Return type (`Void` for none).
    pub ret: Type,
    /// Body statements.
    pub body: Vec<Stmt>,
}

/// A local variable slot.
#[derive(Debug, Clone)]
pub struct Local {
    /// Source name (for diagnostics).
    pub name: String,
    /// Its one type.
    pub ty: Type,
}

/// Statements.
#[derive(Debug, Clone)]
pub enum Stmt {
    /// `x = e` (first binding or rebinding; compound `x += e` is lowered by
    /// the bridge to `x = x + e`).
    Assign { local: LocalId, value: Expr },
    /// `p.x = e`, `xs[i] = e`, `g.cells[i][j] = e`: writes one field or
    /// element in place. `value` is evaluated first, then the place's
    /// indices in order; every container on the path that is shared is
    /// copied first (value semantics), an index out of range stops the
    /// program like reading it would.
    Store { place: Place, value: Expr },
    /// `if c … else …` (`else if` chains nest in `else_body`).
    If {
        cond: Expr,
        then_body: Vec<Stmt>,
        else_body: Vec<Stmt>,
    },
    /// `while c …`.
    While { cond: Expr, body: Vec<Stmt> },
    /// `for var in range(start, end)` / `start..end`: end exclusive, both
    /// evaluated once before the loop.
    ForRange {
        var: LocalId,
        start: Expr,
        end: Expr,
        body: Vec<Stmt>,
    },
    /// `for var in list`: iterates over the list value as it was when the
    /// loop started.
    ForList {
        var: LocalId,
        list: Expr,
        body: Vec<Stmt>,
    },
    /// `break` out of the innermost loop.
    Break,
    /// `continue` the innermost loop.
    Continue,
    /// `return [e]`.
    Return(Option<Expr>),
    /// An expression evaluated for its effect (`print(x)`, `xs.append(1)`, a call).
    Expr(Expr),
    /// `[result =] task for var in items … ~`: the body runs once per element
    /// as an isolated task, possibly in parallel. It sees the parent's locals
    /// as copies taken when the statement starts; assignments in the body
    /// never reach the parent. `result` receives the yields in input order.
    TaskFor {
        var: LocalId,
        items: Expr,
        body: Vec<Stmt>,
        result: Option<LocalId>,
    },
    /// `yield e` inside a `task for` body.
    Yield(Expr),
    /// `select case target = extern(args): body ~ case ResourceExhausted: … ~ ~`.
    Select {
        target: Option<LocalId>,
        call: ExternId,
        args: Vec<Expr>,
        loc: SrcLoc,
        body: Vec<Stmt>,
        exhausted: Vec<Stmt>,
    },
    /// `within deadline_ns body else else_body ~`.
    Within {
        deadline: Expr,
        body: Vec<Stmt>,
        else_body: Vec<Stmt>,
    },
}

/// A place a statement writes or appends to: a local, then a path of
/// fields and elements (`b.items[i]` is local `b`, field `items`, index
/// `i`). An empty path is the local itself.
#[derive(Debug, Clone)]
pub struct Place {
    /// The local that holds the outermost container.
    pub root: LocalId,
    /// Steps from the root's value down to the place.
    pub path: Vec<Step>,
}

/// One step of a [`Place`].
#[derive(Debug, Clone)]
pub enum Step {
    /// A record field by index.
    Field(u32),
    /// A list element (bounds-checked at the index expression's location).
    Index(Expr),
}

impl From<LocalId> for Place {
    fn from(root: LocalId) -> Place {
        Place {
            root,
            path: Vec::new(),
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// String (escapes already decoded).
    Str(String),
}

impl Literal {
    /// The literal's type.
    pub fn ty(&self) -> Type {
        match self {
            Literal::Int(_) => Type::Int,
            Literal::Float(_) => Type::Float,
            Literal::Bool(_) => Type::Bool,
            Literal::Str(_) => Type::Str,
        }
    }
}

/// A typed expression with its source location.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Its type.
    pub ty: Type,
    /// Where it is (runtime errors point here).
    pub loc: SrcLoc,
}

/// Binary operators. Operand types decide the operation: `Add` on strings
/// concatenates, `Eq`/`Ne`/`Lt`… on strings compare contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (int: truncating, runtime error on zero)
    Div,
    /// `%` (int: sign of the dividend, runtime error on zero)
    Mod,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `and` (short-circuit)
    And,
    /// `or` (short-circuit)
    Or,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-x` (int or float)
    Neg,
    /// `not b`
    Not,
    /// int to float: the nearest double (ties to even), one instruction;
    /// exact for every int of magnitude up to 2^53.
    ToFloat,
    /// float to int: truncation toward zero, saturating at the int range
    /// (values beyond it give `INT64_MIN`/`INT64_MAX`), NaN gives 0; one
    /// instruction sequence, never a trap.
    ToInt,
}

/// Built-in operations on values.
#[derive(Debug, Clone)]
pub enum Builtin {
    /// `s.len()` / `xs.len()`.
    Len(Box<Expr>),
    /// `xs.get(i)` (same bounds check as indexing).
    Get(Box<Expr>, Box<Expr>),
    /// `xs.append(v)`, `b.items.append(v)`, `xs[i].append(v)`: appends to
    /// the list at the place (in place unless it is shared, see
    /// [`Stmt::Store`]); the expression's value is that list. `v` is
    /// evaluated first, then the place's indices.
    Append(Place, Box<Expr>),
    /// `e.append(v)` on a list that no place holds (a call result, a
    /// literal): that list with `v` appended (in place when it is unshared,
    /// as a fresh list's is). The list is evaluated first, then `v`.
    Appended(Box<Expr>, Box<Expr>),
    /// `v.to_string()` for int, float, bool, string.
    ToString(Box<Expr>),
    /// `range(a, b)` as a list value.
    Range(Box<Expr>, Box<Expr>),
    /// `print(v)` for int, float, bool, string: one line.
    Print(Box<Expr>),
    /// `arg_count()`: the number of program arguments (without its name).
    ArgCount,
    /// `arg(i)`: program argument `i` (0-based), a string; out of range is a
    /// runtime error at the expression's location.
    Arg(Box<Expr>),
}

/// Expression kinds.
#[derive(Debug, Clone)]
pub enum ExprKind {
    /// A literal.
    Lit(Literal),
    /// A top-level constant.
    Const(ConstId),
    /// A local or parameter.
    Local(LocalId),
    /// A local or parameter read for the last time before it is assigned
    /// again or the function ends: its value moves on without being marked
    /// shared. Produced by codegen's move pass (`codegen::moves`) from
    /// [`ExprKind::Local`]; a front end need not produce it.
    Move(LocalId),
    /// Binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Unary operation.
    Unary(UnOp, Box<Expr>),
    /// `c ? a : b` (only the chosen side is evaluated).
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// Call of a Coex function.
    Call(FuncId, Vec<Expr>),
    /// Call of an extern (bare libc or FFI).
    CallExtern(ExternId, Vec<Expr>),
    /// `T(a, b)` with fields in layout order.
    Record(RecordId, Vec<Expr>),
    /// `r.field` by field index.
    Field(Box<Expr>, u32),
    /// `[a, b, c]` (element type from [`Expr::ty`]).
    List(Vec<Expr>),
    /// `xs[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// A built-in.
    Builtin(Builtin),
}
