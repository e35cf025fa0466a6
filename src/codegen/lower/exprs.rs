//! Expressions: literals, locals, operators, records, lists and built-ins.
//!
//! Value semantics of lists and records: whenever a container is *read from
//! a binding* (local, field, element) to be used as a value, it is marked
//! shared (`places.rs`), so a later write through any binding copies first;
//! a local's last read (`ExprKind::Move`) passes the value on unmarked.
//! Read-only uses (`len`, indexing, `get`, fields of fields) borrow without
//! marking.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::places::slot_kind;
use super::{cl_type, slot_offset, FnLowerer};
use crate::codegen::ir::{BinOp, Builtin, Expr, ExprKind, Literal, Type, UnOp};
use crate::codegen::runtime_abi::RtFn;
use crate::codegen::CodegenError;

impl FnLowerer<'_, '_> {
    /// Lower an expression that must produce a value.
    pub(crate) fn lower_value(&mut self, e: &Expr) -> Result<Value, CodegenError> {
        self.lower_expr(e)?
            .ok_or_else(|| self.bad("a void expression used as a value"))
    }

    /// Lower the operand of a read-only operation (a list to index or
    /// measure, a record to read a field of) without marking it shared: a
    /// local, or a field or element of a borrowed operand.
    pub(crate) fn lower_borrowed(&mut self, e: &Expr) -> Result<Value, CodegenError> {
        match &e.kind {
            ExprKind::Local(l) | ExprKind::Move(l) => {
                let var = self.var(*l)?;
                Ok(self.b.use_var(var))
            }
            ExprKind::Field(rec, index) => self.borrow_field(rec, *index, &e.ty),
            ExprKind::Index(list, index) | ExprKind::Builtin(Builtin::Get(list, index)) => {
                let l = self.lower_borrowed(list)?;
                let i = self.lower_value(index)?;
                self.load_element(l, i, &e.ty, &e.loc)
            }
            _ => self.lower_value(e),
        }
    }

    /// Lower an expression; `None` for void.
    pub(crate) fn lower_expr(&mut self, e: &Expr) -> Result<Option<Value>, CodegenError> {
        let v = match &e.kind {
            ExprKind::Lit(lit) => self.lower_literal(lit)?,
            ExprKind::Const(c) => {
                let program = self.shared.program;
                let konst = program
                    .consts
                    .get(c.0 as usize)
                    .ok_or_else(|| self.bad(format!("const {} out of range", c.0)))?;
                self.lower_literal(&konst.value)?
            }
            ExprKind::Local(l) => {
                let var = self.var(*l)?;
                let v = self.b.use_var(var);
                self.share_value(v, &e.ty)?
            }
            ExprKind::Move(l) => {
                let var = self.var(*l)?;
                self.b.use_var(var)
            }
            ExprKind::Binary(op, a, b) => self.lower_binary(*op, a, b, e)?,
            ExprKind::Unary(op, a) => self.lower_unary(*op, a, &e.ty)?,
            ExprKind::Ternary(c, a, b) => self.lower_ternary(c, a, b, &e.ty)?,
            ExprKind::Call(f, args) => return self.lower_call(*f, args),
            ExprKind::CallExtern(x, args) => return self.lower_extern_call(*x, args, &e.loc),
            ExprKind::Record(r, fields) => self.lower_record(r.0, fields)?,
            ExprKind::Field(rec, index) => self.lower_field(rec, *index, &e.ty)?,
            ExprKind::List(items) => self.lower_list_literal(items, &e.ty)?,
            ExprKind::Index(list, index) => self.lower_index(list, index, e)?,
            ExprKind::Builtin(b) => return self.lower_builtin(b, e, true),
        };
        Ok(Some(v))
    }

    pub(crate) fn lower_literal(&mut self, lit: &Literal) -> Result<Value, CodegenError> {
        Ok(match lit {
            Literal::Int(i) => self.b.ins().iconst(types::I64, *i),
            Literal::Float(f) => self.b.ins().f64const(*f),
            Literal::Bool(v) => self.b.ins().iconst(types::I8, i64::from(*v)),
            Literal::Str(s) => {
                let id = self.m.string_literal(s)?;
                self.m.data_addr(&mut self.b, id)
            }
        })
    }

    fn lower_binary(
        &mut self,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        e: &Expr,
    ) -> Result<Value, CodegenError> {
        if matches!(op, BinOp::And | BinOp::Or) {
            return self.lower_short_circuit(op, a, b);
        }
        let x = self.lower_value(a)?;
        let y = self.lower_value(b)?;
        let v = match (&a.ty, op) {
            (Type::Int, BinOp::Add) => self.b.ins().iadd(x, y),
            (Type::Int, BinOp::Sub) => self.b.ins().isub(x, y),
            (Type::Int, BinOp::Mul) => self.b.ins().imul(x, y),
            (Type::Int, BinOp::Div) => self.lower_int_div(x, y, RtFn::IntDiv, e)?,
            (Type::Int, BinOp::Mod) => self.lower_int_div(x, y, RtFn::IntMod, e)?,
            (Type::Int | Type::Bool, _) => {
                let cc = int_cc(op).ok_or_else(|| self.bad(format!("{op:?} on {:?}", a.ty)))?;
                if a.ty == Type::Bool && !matches!(op, BinOp::Eq | BinOp::Ne) {
                    return Err(self.bad(format!("{op:?} on bool")));
                }
                self.b.ins().icmp(cc, x, y)
            }
            (Type::Float, BinOp::Add) => self.b.ins().fadd(x, y),
            (Type::Float, BinOp::Sub) => self.b.ins().fsub(x, y),
            (Type::Float, BinOp::Mul) => self.b.ins().fmul(x, y),
            (Type::Float, BinOp::Div) => match exact_reciprocal(b) {
                // x / 2^k is exactly x * 2^-k (the same rounding, the same
                // infinities and NaNs), and a multiply is far cheaper.
                Some(r) => {
                    let r = self.b.ins().f64const(r);
                    self.b.ins().fmul(x, r)
                }
                None => self.b.ins().fdiv(x, y),
            },
            (Type::Float, BinOp::Mod) => return Err(CodegenError::Unsupported("float %".into())),
            (Type::Float, _) => {
                let cc = float_cc(op).ok_or_else(|| self.bad(format!("{op:?} on float")))?;
                self.b.ins().fcmp(cc, x, y)
            }
            (Type::Str, BinOp::Add) => self.rt_val(RtFn::StrConcat, &[x, y])?,
            (Type::Str, BinOp::Eq | BinOp::Ne) => {
                let r = self.rt_val(RtFn::StrEq, &[x, y])?;
                let cc = if op == BinOp::Eq {
                    IntCC::NotEqual
                } else {
                    IntCC::Equal
                };
                self.b.ins().icmp_imm_s(cc, r, 0)
            }
            (Type::Str, _) => {
                let cc = int_cc(op).ok_or_else(|| self.bad(format!("{op:?} on string")))?;
                let r = self.rt_val(RtFn::StrCmp, &[x, y])?;
                self.b.ins().icmp_imm_s(cc, r, 0)
            }
            (t, _) => {
                return Err(CodegenError::Unsupported(format!(
                    "operator {op:?} on values of type {t:?}"
                )))
            }
        };
        Ok(v)
    }

    /// Integer `/` or `%`: `sdiv`/`srem` inline when the divisor is neither 0
    /// (runtime error) nor -1 (`INT64_MIN / -1` would trap); those two go to
    /// the runtime's checked helper.
    fn lower_int_div(
        &mut self,
        x: Value,
        y: Value,
        slow: RtFn,
        e: &Expr,
    ) -> Result<Value, CodegenError> {
        let fast = self.b.create_block();
        let checked = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, types::I64);
        // y + 1 <= 1 (unsigned) exactly when y is 0 or -1
        let y1 = self.b.ins().iadd_imm_s(y, 1);
        let special = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThanOrEqual, y1, 1);
        self.b.ins().brif(special, checked, &[], fast, &[]);
        self.b.set_cold_block(checked);
        self.b.switch_to_block(checked);
        let loc = self.loc_addr(&e.loc)?;
        let r = self.rt_val(slow, &[x, y, loc])?;
        self.b.ins().jump(done, &[r.into()]);
        self.b.switch_to_block(fast);
        let r = if slow == RtFn::IntDiv {
            self.b.ins().sdiv(x, y)
        } else {
            self.b.ins().srem(x, y)
        };
        self.b.ins().jump(done, &[r.into()]);
        self.b.switch_to_block(done);
        Ok(self.b.block_params(done)[0])
    }

    fn lower_short_circuit(
        &mut self,
        op: BinOp,
        a: &Expr,
        b: &Expr,
    ) -> Result<Value, CodegenError> {
        let x = self.lower_value(a)?;
        let rhs = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, types::I8);
        if op == BinOp::And {
            self.b.ins().brif(x, rhs, &[], done, &[x.into()]);
        } else {
            self.b.ins().brif(x, done, &[x.into()], rhs, &[]);
        }
        self.b.switch_to_block(rhs);
        let y = self.lower_value(b)?;
        self.b.ins().jump(done, &[y.into()]);
        self.b.switch_to_block(done);
        Ok(self.b.block_params(done)[0])
    }

    fn lower_unary(&mut self, op: UnOp, a: &Expr, ty: &Type) -> Result<Value, CodegenError> {
        let x = self.lower_value(a)?;
        Ok(match (op, &a.ty, ty) {
            (UnOp::Neg, Type::Int, _) => self.b.ins().ineg(x),
            (UnOp::Neg, Type::Float, _) => self.b.ins().fneg(x),
            (UnOp::Not, Type::Bool, _) => self.b.ins().icmp_imm_s(IntCC::Equal, x, 0),
            // cvtsi2sd: round to nearest, ties to even (as strtod would).
            (UnOp::ToFloat, Type::Int, Type::Float) => self.b.ins().fcvt_from_sint(types::F64, x),
            // cvttsd2si plus fix-ups: truncation, saturation, NaN -> 0.
            (UnOp::ToInt, Type::Float, Type::Int) => self.b.ins().fcvt_to_sint_sat(types::I64, x),
            (op, t, r) => return Err(self.bad(format!("{op:?} on {t:?} giving {r:?}"))),
        })
    }

    fn lower_ternary(
        &mut self,
        c: &Expr,
        a: &Expr,
        b: &Expr,
        ty: &Type,
    ) -> Result<Value, CodegenError> {
        let t = cl_type(ty).ok_or_else(|| self.bad("void ternary"))?;
        let cond = self.lower_value(c)?;
        let then_b = self.b.create_block();
        let else_b = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, t);
        self.b.ins().brif(cond, then_b, &[], else_b, &[]);
        self.b.switch_to_block(then_b);
        let x = self.lower_value(a)?;
        self.b.ins().jump(done, &[x.into()]);
        self.b.switch_to_block(else_b);
        let y = self.lower_value(b)?;
        self.b.ins().jump(done, &[y.into()]);
        self.b.switch_to_block(done);
        Ok(self.b.block_params(done)[0])
    }

    fn lower_record(&mut self, record: u32, fields: &[Expr]) -> Result<Value, CodegenError> {
        let program = self.shared.program;
        let layout = program
            .records
            .get(record as usize)
            .ok_or_else(|| self.bad(format!("record {record} out of range")))?;
        if layout.fields.len() != fields.len() {
            return Err(self.bad(format!(
                "record {} has {} fields, constructed with {}",
                layout.name,
                layout.fields.len(),
                fields.len()
            )));
        }
        let mut slots = Vec::with_capacity(fields.len());
        for f in fields {
            let v = self.lower_value(f)?;
            slots.push(self.slot_of(v, &f.ty));
        }
        let n = self.b.ins().iconst(types::I64, fields.len() as i64);
        let rec = self.rt_val(RtFn::RecordNew, &[n])?;
        for (i, s) in slots.into_iter().enumerate() {
            self.b
                .ins()
                .store(MemFlagsData::trusted(), s, rec, slot_offset(i)?);
        }
        Ok(rec)
    }

    fn lower_field(&mut self, rec: &Expr, index: u32, ty: &Type) -> Result<Value, CodegenError> {
        let program = self.shared.program;
        let fields = match &rec.ty {
            Type::Record(id) => program.records.get(id.0 as usize).map(|r| r.fields.len()),
            _ => None,
        };
        match fields {
            Some(n) if (index as usize) < n => {}
            _ => return Err(self.bad(format!("field {index} of a value of type {:?}", rec.ty))),
        }
        let v = self.borrow_field(rec, index, ty)?;
        self.share_value(v, ty)
    }

    /// Field `index` of a borrowed record, not marked shared.
    fn borrow_field(&mut self, rec: &Expr, index: u32, ty: &Type) -> Result<Value, CodegenError> {
        let r = self.lower_borrowed(rec)?;
        let slot = self.b.ins().load(
            types::I64,
            MemFlagsData::trusted(),
            r,
            slot_offset(index as usize)?,
        );
        Ok(self.value_of_slot(slot, ty))
    }

    fn lower_list_literal(&mut self, items: &[Expr], ty: &Type) -> Result<Value, CodegenError> {
        let Type::List(elem) = ty else {
            return Err(self.bad("list literal without a list type"));
        };
        let cap = self.b.ins().iconst(types::I64, items.len() as i64);
        // `[]`: its element type may be a guess (`[?]`), so the first
        // append decides how the list stores its elements.
        let kind = if items.is_empty() {
            -1
        } else {
            slot_kind(self.shared.program, elem)
        };
        let kind = self.b.ins().iconst(types::I64, kind);
        let mut list = self.rt_val(RtFn::ListNew, &[cap, kind])?;
        for item in items {
            let v = self.lower_value(item)?;
            list = self.append_value(list, v, elem)?;
        }
        Ok(list)
    }

    fn lower_index(&mut self, list: &Expr, index: &Expr, e: &Expr) -> Result<Value, CodegenError> {
        let l = self.lower_borrowed(list)?;
        let i = self.lower_value(index)?;
        let v = self.load_element(l, i, &e.ty, &e.loc)?;
        self.share_value(v, &e.ty)
    }

    /// Built-ins. `as_value` is false for an `xs.append(v)` statement, whose
    /// result is not kept (so the list need not be marked shared).
    pub(crate) fn lower_builtin(
        &mut self,
        b: &Builtin,
        e: &Expr,
        as_value: bool,
    ) -> Result<Option<Value>, CodegenError> {
        let v = match b {
            Builtin::Len(a) => {
                let x = self.lower_borrowed(a)?;
                match a.ty {
                    // a list starts with its length (runtime/coex_rt.h)
                    Type::List(_) => self.list_len(x),
                    // code points, not bytes: the runtime counts them
                    Type::Str => self.rt_val(RtFn::StrLen, &[x])?,
                    ref t => return Err(self.bad(format!("len of {t:?}"))),
                }
            }
            Builtin::Get(list, index) => self.lower_index(list, index, e)?,
            Builtin::Append(place, value) => self.lower_append(place, value, as_value)?,
            Builtin::Appended(list, value) => {
                let l = self.lower_value(list)?;
                let v = self.lower_value(value)?;
                self.append_value(l, v, &value.ty)?
            }
            Builtin::ToString(a) => {
                let x = self.lower_value(a)?;
                match a.ty {
                    Type::Int => self.rt_val(RtFn::IntToString, &[x])?,
                    Type::Float => self.rt_val(RtFn::FloatToString, &[x])?,
                    Type::Bool => {
                        let w = self.bool_to_i32(x);
                        self.rt_val(RtFn::BoolToString, &[w])?
                    }
                    Type::Str => x,
                    ref t => return Err(CodegenError::Unsupported(format!("to_string of {t:?}"))),
                }
            }
            Builtin::Range(a, c) => {
                let x = self.lower_value(a)?;
                let y = self.lower_value(c)?;
                self.rt_val(RtFn::ListRange, &[x, y])?
            }
            Builtin::ArgCount => self.rt_val(RtFn::ArgCount, &[])?,
            Builtin::Arg(a) => {
                let i = self.lower_value(a)?;
                let loc = self.loc_addr(&e.loc)?;
                self.rt_val(RtFn::Arg, &[i, loc])?
            }
            Builtin::Print(a) => {
                let x = self.lower_value(a)?;
                match a.ty {
                    Type::Int => self.rt(RtFn::PrintInt, &[x])?,
                    Type::Float => self.rt(RtFn::PrintFloat, &[x])?,
                    Type::Bool => {
                        let w = self.bool_to_i32(x);
                        self.rt(RtFn::PrintBool, &[w])?
                    }
                    Type::Str => self.rt(RtFn::PrintStr, &[x])?,
                    ref t => return Err(CodegenError::Unsupported(format!("print of {t:?}"))),
                };
                return Ok(None);
            }
        };
        Ok(Some(v))
    }
}

/// `1 / c` when `b` is a float literal `c` that is a power of two whose
/// reciprocal is a normal double (so dividing by `c` and multiplying by
/// the reciprocal round identically).
fn exact_reciprocal(b: &Expr) -> Option<f64> {
    let ExprKind::Lit(Literal::Float(c)) = b.kind else {
        return None;
    };
    let r = 1.0 / c;
    let power_of_two = c.is_normal() && c.to_bits() & ((1u64 << 52) - 1) == 0;
    (power_of_two && r.is_normal()).then_some(r)
}

fn int_cc(op: BinOp) -> Option<IntCC> {
    Some(match op {
        BinOp::Eq => IntCC::Equal,
        BinOp::Ne => IntCC::NotEqual,
        BinOp::Lt => IntCC::SignedLessThan,
        BinOp::Le => IntCC::SignedLessThanOrEqual,
        BinOp::Gt => IntCC::SignedGreaterThan,
        BinOp::Ge => IntCC::SignedGreaterThanOrEqual,
        _ => return None,
    })
}

fn float_cc(op: BinOp) -> Option<FloatCC> {
    Some(match op {
        BinOp::Eq => FloatCC::Equal,
        BinOp::Ne => FloatCC::NotEqual,
        BinOp::Lt => FloatCC::LessThan,
        BinOp::Le => FloatCC::LessThanOrEqual,
        BinOp::Gt => FloatCC::GreaterThan,
        BinOp::Ge => FloatCC::GreaterThanOrEqual,
        _ => return None,
    })
}
