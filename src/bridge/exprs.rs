//! Expressions: literals, names, operators, calls (functions, methods,
//! externs, constructors, built-ins), fields and indexing.
//!
//! `int op float` is a float in Coex: the int side becomes a float literal
//! when it is one, and otherwise an `int → float` conversion (one machine
//! instruction; exact for every int a double holds, correctly rounded to
//! nearest beyond). Float `%` is libc's `fmod`.

use crate::codegen::ir::{self, Builtin as IrBuiltin, ExprKind as K, Literal, Type};
use crate::lang::ast::{self, BinOp, ExprKind, UnOp};
use crate::lang::program::{Builtin, CallTarget, NameRef};
use crate::lang::span::index_u32;
use crate::lang::span::Span;

use super::Bridge;

impl Bridge<'_> {
    fn mk(&self, kind: K, ty: Type, span: Span) -> ir::Expr {
        ir::Expr {
            kind,
            ty,
            loc: self.loc(span),
        }
    }

    /// A placeholder after an error was recorded (never compiled).
    fn dummy(&self, span: Span) -> ir::Expr {
        self.mk(K::Lit(Literal::Int(0)), Type::Int, span)
    }

    /// The IR type of an expression as the checker typed it.
    pub(super) fn type_of(&self, e: &ast::Expr) -> Type {
        self.ty(&self.prog.type_of(e.id))
    }

    /// Lowers one expression.
    pub(super) fn expr(&mut self, e: &ast::Expr) -> ir::Expr {
        let ty = self.type_of(e);
        match &e.kind {
            ExprKind::Int(v) => self.mk(K::Lit(Literal::Int(*v)), Type::Int, e.span),
            ExprKind::Float(v) => self.mk(K::Lit(Literal::Float(*v)), Type::Float, e.span),
            ExprKind::Str(s) => self.mk(K::Lit(Literal::Str(s.clone())), Type::Str, e.span),
            ExprKind::Bool(b) => self.mk(K::Lit(Literal::Bool(*b)), Type::Bool, e.span),
            ExprKind::Name(n) => self.name_value(e, n),
            ExprKind::SelfRef => self.self_value(e.span),
            ExprKind::List(items) => {
                let items = items.iter().map(|i| self.expr(i)).collect();
                self.mk(K::List(items), ty, e.span)
            }
            ExprKind::Unary(op, a) => {
                let a = self.expr(a);
                let op = match op {
                    UnOp::Neg => ir::UnOp::Neg,
                    UnOp::Not => ir::UnOp::Not,
                };
                let ty = a.ty.clone();
                self.mk(K::Unary(op, Box::new(a)), ty, e.span)
            }
            ExprKind::Binary(BinOp::Range, a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                self.mk(
                    K::Builtin(IrBuiltin::Range(Box::new(a), Box::new(b))),
                    ty,
                    e.span,
                )
            }
            ExprKind::Binary(op, a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                self.binary(*op, a, b, ty, e.span)
            }
            ExprKind::Ternary(c, a, b) => self.ternary(c, a, b, ty, e.span),
            ExprKind::Call { callee, args } => self.call(e, callee, args, ty),
            ExprKind::Field { object, name } => self.field(e, object, &name.name, ty),
            ExprKind::Index { object, index } => {
                let (o, i) = (self.expr(object), self.expr(index));
                self.mk(K::Index(Box::new(o), Box::new(i)), ty, e.span)
            }
        }
    }

    /// A name used as a value: a local variable or a constant.
    fn name_value(&mut self, e: &ast::Expr, n: &str) -> ir::Expr {
        match self.prog.names.get(&e.id) {
            Some(NameRef::Local(l)) => {
                let l = self.local(*l);
                let ty = self.fn_locals[l.0 as usize].ty.clone();
                self.mk(K::Local(l), ty, e.span)
            }
            Some(NameRef::Const(c)) => {
                let ty = self.ty(&self.prog.consts[c.0 as usize].ty);
                self.mk(K::Const(ir::ConstId(c.0)), ty, e.span)
            }
            None => {
                self.unsupported(e.span, &format!("the name `{n}` used as a value"), "");
                self.dummy(e.span)
            }
        }
    }

    /// `self`, which only a method body has.
    fn self_value(&mut self, span: Span) -> ir::Expr {
        match self.self_local {
            Some(l) => {
                let ty = self.fn_locals[l.0 as usize].ty.clone();
                self.mk(K::Local(l), ty, span)
            }
            None => {
                self.unsupported(span, "`self` here", "");
                self.dummy(span)
            }
        }
    }

    /// `c ? a : b`; an empty list branch takes the type of the whole.
    fn ternary(
        &mut self,
        c: &ast::Expr,
        a: &ast::Expr,
        b: &ast::Expr,
        ty: Type,
        span: Span,
    ) -> ir::Expr {
        let c = self.expr(c);
        let (mut a, mut b) = (self.expr(a), self.expr(b));
        self.fill_unknown(&mut a, &ty);
        self.fill_unknown(&mut b, &ty);
        self.mk(K::Ternary(Box::new(c), Box::new(a), Box::new(b)), ty, span)
    }

    /// `object.name`: a time unit (`time.second`) folded to nanoseconds, or a
    /// record field by position.
    fn field(&mut self, e: &ast::Expr, object: &ast::Expr, name: &str, ty: Type) -> ir::Expr {
        if let Some(ns) = self.prog.time_units.get(&e.id) {
            return self.mk(K::Lit(Literal::Int(*ns)), Type::Int, e.span);
        }
        let obj = self.expr(object);
        let Type::Record(r) = obj.ty else {
            self.unsupported(e.span, &format!("the field `{name}` here"), "");
            return self.dummy(e.span);
        };
        let idx = self.prog.records[r.0 as usize]
            .fields
            .iter()
            .position(|(f, _)| f == name);
        match idx {
            Some(i) => self.mk(K::Field(Box::new(obj), index_u32(i)), ty, e.span),
            None => {
                self.unsupported(e.span, &format!("the field `{name}` here"), "");
                self.dummy(e.span)
            }
        }
    }

    /// Gives `[]` (typed `[?]` by the checker) the type its context knows.
    pub(super) fn fill_unknown(&self, e: &mut ir::Expr, want: &Type) {
        if matches!(e.kind, K::List(ref v) if v.is_empty()) && want.is_list() {
            e.ty = want.clone();
        }
    }

    /// A binary operator; converts the int side of `int op float`.
    pub(super) fn binary(
        &mut self,
        op: BinOp,
        a: ir::Expr,
        b: ir::Expr,
        ty: Type,
        span: Span,
    ) -> ir::Expr {
        let (a, b) = match (&a.ty, &b.ty) {
            (Type::Int, Type::Float) => (self.int_as_float(a), b),
            (Type::Float, Type::Int) => {
                let b = self.int_as_float(b);
                (a, b)
            }
            _ => (a, b),
        };
        if op == BinOp::Rem && a.ty == Type::Float {
            let fmod = self.helper("fmod", vec![Type::Float, Type::Float], Type::Float, span);
            return self.mk(K::CallExtern(fmod, vec![a, b]), Type::Float, span);
        }
        let op = match op {
            BinOp::Or => ir::BinOp::Or,
            BinOp::And => ir::BinOp::And,
            BinOp::Eq => ir::BinOp::Eq,
            BinOp::Ne => ir::BinOp::Ne,
            BinOp::Lt => ir::BinOp::Lt,
            BinOp::Gt => ir::BinOp::Gt,
            BinOp::Le => ir::BinOp::Le,
            BinOp::Ge => ir::BinOp::Ge,
            BinOp::Add => ir::BinOp::Add,
            BinOp::Sub => ir::BinOp::Sub,
            BinOp::Mul => ir::BinOp::Mul,
            BinOp::Div => ir::BinOp::Div,
            BinOp::Rem => ir::BinOp::Mod,
            BinOp::Range => {
                self.unsupported(span, "`..` here", "");
                return self.dummy(span);
            }
        };
        self.mk(K::Binary(op, Box::new(a), Box::new(b)), ty, span)
    }

    /// An int expression as a float.
    fn int_as_float(&mut self, e: ir::Expr) -> ir::Expr {
        if let K::Lit(Literal::Int(v)) = e.kind {
            return ir::Expr {
                kind: K::Lit(Literal::Float(v as f64)),
                ty: Type::Float,
                loc: e.loc,
            };
        }
        let loc = e.loc.clone();
        ir::Expr {
            kind: K::Unary(ir::UnOp::ToFloat, Box::new(e)),
            ty: Type::Float,
            loc,
        }
    }

    fn helper(
        &mut self,
        name: &'static str,
        params: Vec<Type>,
        ret: Type,
        span: Span,
    ) -> ir::ExternId {
        self.helper_at(name, params, ret, Some(span))
    }

    /// A bare libc extern the bridge needs, declared once; reuses the
    /// program's own declaration of the same C function when it agrees.
    fn helper_at(
        &mut self,
        name: &'static str,
        params: Vec<Type>,
        ret: Type,
        span: Option<Span>,
    ) -> ir::ExternId {
        if let Some(id) = self.helpers.get(name) {
            return *id;
        }
        if let Some(i) = self
            .externs
            .iter()
            .position(|x| x.name == name && x.ffi.is_none())
        {
            let x = &self.externs[i];
            if x.params != params || x.ret != ret {
                let span = span.unwrap_or_default();
                self.unsupported(
                    span,
                    &format!("this operation in a program that declares its own `extern {name}` with another signature"),
                    "rename or remove that extern",
                );
            }
            let id = ir::ExternId(index_u32(i));
            self.helpers.insert(name, id);
            return id;
        }
        self.externs.push(ir::Extern {
            name: name.to_string(),
            params,
            ret,
            ffi: None,
        });
        let id = ir::ExternId(index_u32(self.externs.len() - 1));
        self.helpers.insert(name, id);
        id
    }

    /// Arguments in parameter order (named arguments placed by `arg_order`).
    fn ordered<'a>(&self, call: &ast::Expr, args: &'a [ast::Arg]) -> Vec<&'a ast::Expr> {
        match self.prog.arg_order.get(&call.id) {
            Some(order) if order.len() == args.len() => {
                let mut v: Vec<(usize, &ast::Expr)> = order
                    .iter()
                    .copied()
                    .zip(args.iter().map(|a| &a.value))
                    .collect();
                v.sort_by_key(|(i, _)| *i);
                v.into_iter().map(|(_, e)| e).collect()
            }
            _ => args.iter().map(|a| &a.value).collect(),
        }
    }

    /// Lowers call arguments, typing `[]` from the parameter types.
    fn args(&mut self, exprs: Vec<&ast::Expr>, want: &[Type]) -> Vec<ir::Expr> {
        exprs
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let mut v = self.expr(a);
                if let Some(w) = want.get(i) {
                    self.fill_unknown(&mut v, w);
                }
                v
            })
            .collect()
    }

    fn call(&mut self, e: &ast::Expr, callee: &ast::Expr, args: &[ast::Arg], ty: Type) -> ir::Expr {
        let receiver = match &callee.kind {
            ExprKind::Field { object, .. } => Some(object.as_ref()),
            _ => None,
        };
        let Some(target) = self.prog.calls.get(&e.id).copied() else {
            self.unsupported(e.span, "this call", "");
            return self.dummy(e.span);
        };
        match target {
            CallTarget::Function(f)
            | CallTarget::StaticMethod(f)
            | CallTarget::InstanceMethod(f) => {
                let info = &self.prog.functions[f.0 as usize];
                let want: Vec<Type> = info.param_types.iter().map(|t| self.ty(t)).collect();
                let pass_self = matches!(target, CallTarget::InstanceMethod(_)) && info.uses_self;
                let mut out = Vec::new();
                if pass_self {
                    if let Some(r) = receiver {
                        out.push(self.expr(r));
                    }
                }
                let ordered = self.ordered(e, args);
                out.extend(self.args(ordered, &want));
                self.mk(K::Call(ir::FuncId(f.0), out), ty, e.span)
            }
            CallTarget::Extern(x) => {
                let want = self
                    .externs
                    .get(x.0 as usize)
                    .map(|x| x.params.clone())
                    .unwrap_or_default();
                let ordered = self.ordered(e, args);
                let out = self.args(ordered, &want);
                self.mk(K::CallExtern(ir::ExternId(x.0), out), ty, e.span)
            }
            CallTarget::Constructor(r) => {
                let want: Vec<Type> = self.prog.records[r.0 as usize]
                    .fields
                    .iter()
                    .map(|(_, t)| self.ty(t))
                    .collect();
                let ordered = self.ordered(e, args);
                let out = self.args(ordered, &want);
                self.mk(K::Record(ir::RecordId(r.0), out), ty, e.span)
            }
            CallTarget::Builtin(b) => self.builtin(e, b, receiver, args, ty),
        }
    }

    /// `list.append(v)`: on a place (a variable, a field or an element:
    /// `xs`, `b.items`, `xs[i]`) the list there grows, `v` lowered before
    /// the place's indices (the order codegen evaluates them in); on any
    /// other list value (`make().append(v)`), that value grows.
    fn append(&mut self, e: &ast::Expr, list: &ast::Expr, value: &ast::Expr) -> ir::Expr {
        let ty = self.type_of(list);
        let is_place = matches!(
            list.kind,
            ExprKind::Name(_) | ExprKind::SelfRef | ExprKind::Field { .. } | ExprKind::Index { .. }
        );
        let receiver = (!is_place).then(|| self.expr(list));
        let mut v = self.expr(value);
        if let Type::List(el) = &ty {
            self.fill_unknown(&mut v, el);
        }
        let kind = match receiver {
            Some(mut l) => {
                self.fill_unknown(&mut l, &ty);
                IrBuiltin::Appended(Box::new(l), Box::new(v))
            }
            None => match self.place(list) {
                Some(place) => IrBuiltin::Append(place, Box::new(v)),
                None => return self.dummy(e.span),
            },
        };
        self.mk(K::Builtin(kind), ty, e.span)
    }

    fn builtin(
        &mut self,
        e: &ast::Expr,
        b: Builtin,
        receiver: Option<&ast::Expr>,
        args: &[ast::Arg],
        ty: Type,
    ) -> ir::Expr {
        let mut operands: Vec<&ast::Expr> = receiver.into_iter().collect();
        operands.extend(args.iter().map(|a| &a.value));
        let want = match b {
            Builtin::ArgCount => 0,
            Builtin::Print | Builtin::Len | Builtin::ToString | Builtin::Arg => 1,
            Builtin::Range | Builtin::Get | Builtin::Append => 2,
        };
        if operands.len() != want {
            self.unsupported(e.span, "this built-in call's arguments", "");
            return self.dummy(e.span);
        }
        let kind = match b {
            Builtin::Append => return self.append(e, operands[0], operands[1]),
            Builtin::Print => IrBuiltin::Print(Box::new(self.expr(operands[0]))),
            Builtin::Len => IrBuiltin::Len(Box::new(self.expr(operands[0]))),
            Builtin::ToString => IrBuiltin::ToString(Box::new(self.expr(operands[0]))),
            Builtin::ArgCount => IrBuiltin::ArgCount,
            Builtin::Arg => IrBuiltin::Arg(Box::new(self.expr(operands[0]))),
            Builtin::Range => {
                let a = self.expr(operands[0]);
                IrBuiltin::Range(Box::new(a), Box::new(self.expr(operands[1])))
            }
            Builtin::Get => {
                let a = self.expr(operands[0]);
                IrBuiltin::Get(Box::new(a), Box::new(self.expr(operands[1])))
            }
        };
        self.mk(K::Builtin(kind), ty, e.span)
    }
}
