//! The syntax tree of Coex Core. Every node has a [`Span`]; every expression
//! (and every statement that produces a value, like `task for`) has a
//! [`NodeId`] that keys the checker's side tables in
//! [`crate::lang::CheckedProgram`] (resolved types, call targets).

use super::span::Span;

/// Identity of an expression/statement node, unique across a whole program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// A name with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed `.coex` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Import(Import),
    Const(ConstDecl),
    Extern(ExternDecl),
    Type(TypeDecl),
    Func(FuncDecl),
}

/// `import math` (a module) or `import "regex.cxz"` (a library).
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub target: ImportTarget,
    pub span: Span,
}

/// What an import names.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportTarget {
    /// `import name`: `name.coex` beside the file, then `./lib/name.coex`.
    Module(String),
    /// `import "x.cxz"`, `import "x"`, `import "a/b.cxz"`: a `.cxz` library.
    Library(String),
}

/// `const NAME[: T] = expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstDecl {
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub value: Expr,
    pub span: Span,
}

/// `extern NAME(p: T, …) [-> T]` then `~`: a C function without body.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: Option<TypeExpr>,
    pub span: Span,
}

/// `type NAME:` with fields then methods, closed by `~`.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDecl {
    pub name: Ident,
    pub fields: Vec<Field>,
    pub methods: Vec<FuncDecl>,
    pub span: Span,
}

/// A field `name: T` of a record type.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub ty: TypeExpr,
}

/// The three function kinds of Coex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FuncKind {
    Func,
    Formula,
    Task,
}

impl FuncKind {
    /// The keyword as written in source.
    pub fn keyword(self) -> &'static str {
        match self {
            FuncKind::Func => "func",
            FuncKind::Formula => "formula",
            FuncKind::Task => "task",
        }
    }
}

/// `func|formula|task NAME(params) [-> T]` and a body; also methods.
#[derive(Debug, Clone, PartialEq)]
pub struct FuncDecl {
    pub kind: FuncKind,
    pub name: Ident,
    /// Typed parameters (an untyped leading `self` is not listed here).
    pub params: Vec<Param>,
    /// The method listed `self` as its first, untyped, parameter.
    pub explicit_self: bool,
    pub ret: Option<TypeExpr>,
    pub body: Block,
    pub span: Span,
}

/// A typed parameter `name: T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
}

/// A type as written: `int`, `Handle`, `[int]`, `List<int>`.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

/// The shapes of written types in Core.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeExprKind {
    /// A named type: a primitive (`int`, `float`, `bool`, `string`) or a record.
    Named(String),
    /// `[T]` or `List<T>`.
    List(Box<TypeExpr>),
    /// A type of full Coex outside Core (`Map<K, V>`, a tuple, …), already
    /// reported as `not supported yet`; checked as an unknown type.
    Unsupported,
}

/// A sequence of statements (the body of a function, loop, branch, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

/// A statement with its position and node id.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub id: NodeId,
    pub kind: StmtKind,
    pub span: Span,
}

/// Compound assignment operators; `Set` is plain `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    Set,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Statement forms of Coex Core.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `x = e` or `x: T = e`: binds a new local or rebinds an existing one.
    Bind {
        name: Ident,
        ty: Option<TypeExpr>,
        value: Expr,
    },
    /// `target op= e` where target is a name, field or index (`p.x = 1`,
    /// `xs[i] += 2`, `n += 1`).
    Assign {
        target: Expr,
        op: AssignOp,
        value: Expr,
    },
    /// An expression evaluated for its effect (`print(x)`).
    Expr(Expr),
    /// `if c … [else if c … ] [else …] ~`.
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Block>,
    },
    /// `while c … ~`.
    While {
        cond: Expr,
        body: Block,
    },
    /// `for x in e … ~` (e: `range(a, b)`, `a..b` or a list).
    For {
        var: Ident,
        iter: Expr,
        body: Block,
    },
    /// `[name [: T] =] task for x in e … ~`: the parallel for. When bound,
    /// `name` receives the list of yields in input order.
    TaskFor {
        target: Option<(Ident, Option<TypeExpr>)>,
        var: Ident,
        iter: Expr,
        body: Block,
    },
    /// `yield e` inside a `task for` body.
    Yield(Expr),
    Return(Option<Expr>),
    Break,
    Continue,
    /// `select` with `case [r =] call:` and `case ResourceExhausted:`.
    Select {
        cases: Vec<SelectCase>,
    },
    /// `within deadline … [else …] ~`.
    Within {
        deadline: Expr,
        body: Block,
        otherwise: Option<Block>,
    },
}

/// One arm of a `select`.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectCase {
    pub kind: SelectCaseKind,
    pub body: Block,
    pub span: Span,
}

/// The two shapes of a `select` arm.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectCaseKind {
    /// `case r = f(x):` or `case f(x):`.
    Call { bind: Option<Ident>, call: Expr },
    /// `case ResourceExhausted:`.
    ResourceExhausted,
}

/// An expression with its position and node id.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub id: NodeId,
    pub kind: ExprKind,
    pub span: Span,
}

/// Binary operators, in the order of the precedence table of coex-core.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Range,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::Range => "..",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

/// A call argument, positional or named (`P(x: 1)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

/// Expression forms of Coex Core.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// A name: local, parameter, const (or, as a callee, a function/type).
    Name(String),
    /// `self` inside a method.
    SelfRef,
    /// `[a, b, c]` or `[]`.
    List(Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`.
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `callee(args)`; the callee is a `Name` (function, extern, type
    /// constructor, built-in) or a `Field` (method call, static or instance).
    Call {
        callee: Box<Expr>,
        args: Vec<Arg>,
    },
    /// `e.name` (field access, `time.second`, or a method callee).
    Field {
        object: Box<Expr>,
        name: Ident,
    },
    /// `e[i]`.
    Index {
        object: Box<Expr>,
        index: Box<Expr>,
    },
}
