//! Lists and records as mutable containers with value semantics: inline
//! element access, the shared flag, and writes and appends to places.
//!
//! Both kinds of container carry a `shared` flag (docs/runtime.md, "Lists
//! and records"): a `coex_list` at offset 16, a record of n fields in its
//! slot n. A value read from a binding to be kept elsewhere is marked
//! shared ([`FnLowerer::share_value`]) unless the move pass proved the
//! binding dead afterwards. A write to a place (`xs[i] = v`, `b.items[i] =
//! v`, `xs[i].append(v)`) walks the path from the root local and makes
//! every container on it writable ([`FnLowerer::writable`]): an unshared
//! one is written in place, a shared one is copied by the runtime first and
//! the copy replaces it where it was held. The common case, an unshared
//! list, costs a flag load and a bounds check: no call.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, TrapCode, Value};

use super::{slot_offset, FnLowerer};
use crate::codegen::ir::{Expr, Place, SrcLoc, Step, Type};
use crate::codegen::runtime_abi::RtFn;
use crate::codegen::CodegenError;

/// `coex_list` field offsets (runtime/coex_rt.h).
const LIST_LEN: i32 = 0;
const LIST_CAP: i32 = 8;
const LIST_SHARED: i32 = 16;
const LIST_SLOTS: i32 = 24;

/// The runtime's `COEX_KIND_*` of values of a type held in a slot.
pub(crate) fn slot_kind(program: &crate::codegen::ir::Program, ty: &Type) -> i64 {
    match ty {
        Type::Bool => 1,
        Type::Str => 2,
        Type::List(_) => 3,
        Type::Record(r) => {
            4 + program
                .records
                .get(r.0 as usize)
                .map_or(0, |l| l.fields.len()) as i64
        }
        _ => 0,
    }
}

/// log2 of the bytes a list element of type `ty` takes: bools are packed
/// one per byte, everything else is an 8-byte slot.
fn elem_shift(ty: &Type) -> i64 {
    if *ty == Type::Bool {
        0
    } else {
        3
    }
}

fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

impl FnLowerer<'_, '_> {
    /// Byte offset of the shared flag of a container type (`None` for
    /// values that are not containers).
    fn flag_offset(&self, ty: &Type) -> Result<Option<i32>, CodegenError> {
        Ok(match ty {
            Type::List(_) => Some(LIST_SHARED),
            Type::Record(r) => {
                let n = self
                    .shared
                    .program
                    .records
                    .get(r.0 as usize)
                    .ok_or_else(|| self.bad(format!("record {} out of range", r.0)))?
                    .fields
                    .len();
                Some(slot_offset(n)?)
            }
            _ => None,
        })
    }

    /// Mark a container value shared (it is now held by a second binding);
    /// other values pass unchanged. The flag is only stored when still 0,
    /// so tasks reading their parent's containers never write to them.
    pub(crate) fn share_value(&mut self, v: Value, ty: &Type) -> Result<Value, CodegenError> {
        self.share(v, ty, false)
    }

    /// [`Self::share_value`] for a local that may not be bound yet (null):
    /// the `task for` snapshot reads every local.
    pub(crate) fn share_local(&mut self, v: Value, ty: &Type) -> Result<Value, CodegenError> {
        self.share(v, ty, true)
    }

    fn share(&mut self, v: Value, ty: &Type, maybe_null: bool) -> Result<Value, CodegenError> {
        let Some(off) = self.flag_offset(ty)? else {
            return Ok(v);
        };
        let done = self.b.create_block();
        if maybe_null {
            let test = self.b.create_block();
            self.b.ins().brif(v, test, &[], done, &[]);
            self.b.switch_to_block(test);
        }
        let flag = self.b.ins().load(types::I64, flags(), v, off);
        let set = self.b.create_block();
        self.b.ins().brif(flag, done, &[], set, &[]);
        self.b.switch_to_block(set);
        let one = self.b.ins().iconst(types::I64, 1);
        self.b.ins().store(flags(), one, v, off);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
        Ok(v)
    }

    /// The length of a list (inline load).
    pub(crate) fn list_len(&mut self, l: Value) -> Value {
        self.b.ins().load(types::I64, flags(), l, LIST_LEN)
    }

    /// Address of element `i` (of type `elem`) of list `l` when `i` is
    /// known to be in range.
    pub(crate) fn slot_addr_unchecked(&mut self, l: Value, i: Value, elem: &Type) -> Value {
        let slots = self.b.ins().load(types::I64, flags(), l, LIST_SLOTS);
        let off = match elem_shift(elem) {
            0 => i,
            s => self.b.ins().ishl_imm_u(i, s),
        };
        self.b.ins().iadd(slots, off)
    }

    /// Element of type `ty` at `addr` in a list, as a value.
    pub(crate) fn load_at(&mut self, addr: Value, ty: &Type) -> Value {
        if *ty == Type::Bool {
            return self.b.ins().load(types::I8, flags(), addr, 0);
        }
        let slot = self.b.ins().load(types::I64, flags(), addr, 0);
        self.value_of_slot(slot, ty)
    }

    /// Stores value `v` of type `ty` as a list element at `addr`.
    fn store_at(&mut self, addr: Value, v: Value, ty: &Type) {
        let s = if *ty == Type::Bool {
            v
        } else {
            self.slot_of(v, ty)
        };
        self.b.ins().store(flags(), s, addr, 0);
    }

    /// Address of element `i` (of type `elem`) of list `l` after the
    /// bounds check: out of range, the runtime stops the program with the
    /// index error at `loc` (coex_list_get reports it and never returns).
    pub(crate) fn slot_addr(
        &mut self,
        l: Value,
        i: Value,
        elem: &Type,
        loc: &SrcLoc,
    ) -> Result<Value, CodegenError> {
        let len = self.list_len(l);
        let ok = self.b.ins().icmp(IntCC::UnsignedLessThan, i, len);
        let good = self.b.create_block();
        let bad = self.b.create_block();
        self.b.ins().brif(ok, good, &[], bad, &[]);
        self.b.set_cold_block(bad);
        self.b.switch_to_block(bad);
        let loc = self.loc_addr(loc)?;
        self.rt(RtFn::ListGet, &[l, i, loc])?;
        self.b.ins().trap(TrapCode::HEAP_OUT_OF_BOUNDS);
        self.b.switch_to_block(good);
        Ok(self.slot_addr_unchecked(l, i, elem))
    }

    /// Element `i` of list `l` as a value of `ty`, not marked shared.
    pub(crate) fn load_element(
        &mut self,
        l: Value,
        i: Value,
        ty: &Type,
        loc: &SrcLoc,
    ) -> Result<Value, CodegenError> {
        let addr = self.slot_addr(l, i, ty, loc)?;
        Ok(self.load_at(addr, ty))
    }

    /// Container `c` of type `ty` ready for a write: `c` itself when it is
    /// unshared, else an unshared copy, which `replace` first puts where
    /// `c` was held (a cold path).
    fn writable(
        &mut self,
        c: Value,
        ty: &Type,
        replace: impl FnOnce(&mut Self, Value) -> Result<(), CodegenError>,
    ) -> Result<Value, CodegenError> {
        let off = self
            .flag_offset(ty)?
            .ok_or_else(|| self.bad(format!("writing into a value of type {ty:?}")))?;
        let flag = self.b.ins().load(types::I64, flags(), c, off);
        let copy = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, types::I64);
        self.b.ins().brif(flag, copy, &[], done, &[c.into()]);
        self.b.set_cold_block(copy);
        self.b.switch_to_block(copy);
        let fresh = self.copy_container(c, ty)?;
        replace(self, fresh)?;
        self.b.ins().jump(done, &[fresh.into()]);
        self.b.switch_to_block(done);
        Ok(self.b.block_params(done)[0])
    }

    /// An unshared copy of container `c` (runtime; held containers marked).
    fn copy_container(&mut self, c: Value, ty: &Type) -> Result<Value, CodegenError> {
        match ty {
            Type::List(_) => self.rt_val(RtFn::ListCopy, &[c]),
            Type::Record(r) => {
                let program = self.shared.program;
                let layout = program
                    .records
                    .get(r.0 as usize)
                    .ok_or_else(|| self.bad(format!("record {} out of range", r.0)))?;
                let kinds: Vec<i64> = layout
                    .fields
                    .iter()
                    .map(|(_, t)| slot_kind(program, t))
                    .collect();
                let table = if kinds.iter().any(|k| *k >= 2) {
                    let id = self.m.record_kinds(r.0, &kinds)?;
                    self.m.data_addr(&mut self.b, id)
                } else {
                    self.b.ins().iconst(types::I64, 0)
                };
                let n = self.b.ins().iconst(types::I64, kinds.len() as i64);
                self.rt_val(RtFn::RecordCopy, &[c, n, table])
            }
            t => Err(self.bad(format!("copying a value of type {t:?}"))),
        }
    }

    /// The type one step below a container of type `ty`.
    fn step_type(&self, ty: &Type, step: &Step) -> Result<Type, CodegenError> {
        match (ty, step) {
            (Type::List(elem), Step::Index(_)) => Ok((**elem).clone()),
            (Type::Record(r), Step::Field(k)) => self
                .shared
                .program
                .records
                .get(r.0 as usize)
                .and_then(|l| l.fields.get(*k as usize))
                .map(|(_, t)| t.clone())
                .ok_or_else(|| self.bad(format!("field {k} of record {}", r.0))),
            (t, s) => Err(self.bad(format!("place step {s:?} on a value of type {t:?}"))),
        }
    }

    /// Address of the slot `step` names in writable container `c`, whose
    /// value has type `ty`.
    fn step_addr(
        &mut self,
        c: Value,
        step: &Step,
        index: Option<Value>,
        ty: &Type,
    ) -> Result<Value, CodegenError> {
        match (step, index) {
            (Step::Field(k), _) => {
                let off = self
                    .b
                    .ins()
                    .iconst(types::I64, i64::from(slot_offset(*k as usize)?));
                Ok(self.b.ins().iadd(c, off))
            }
            (Step::Index(e), Some(i)) => self.slot_addr(c, i, ty, &e.loc),
            (Step::Index(_), None) => Err(self.bad("an index step without its value")),
        }
    }

    /// The indices of a place's path, evaluated in order (`None` for fields).
    fn place_indices(&mut self, place: &Place) -> Result<Vec<Option<Value>>, CodegenError> {
        let mut out = Vec::with_capacity(place.path.len());
        for step in &place.path {
            out.push(match step {
                Step::Field(_) => None,
                Step::Index(e) => Some(self.lower_value(e)?),
            });
        }
        Ok(out)
    }

    /// Walks a place with a non-empty path down to the slot of its last
    /// step, making every container on the way writable. Returns that
    /// slot's address and the type of the value it holds.
    fn place_slot(
        &mut self,
        place: &Place,
        indices: &[Option<Value>],
    ) -> Result<(Value, Type), CodegenError> {
        let var = self.var(place.root)?;
        let mut ty = self.local_ty(place.root)?.clone();
        let root = self.b.use_var(var);
        let mut c = self.writable(root, &ty, |this, fresh| {
            this.b.def_var(var, fresh);
            Ok(())
        })?;
        self.b.def_var(var, c);
        let last = place.path.len() - 1;
        for (k, step) in place.path.iter().enumerate() {
            ty = self.step_type(&ty, step)?;
            let addr = self.step_addr(c, step, indices[k], &ty)?;
            if k == last {
                return Ok((addr, ty));
            }
            let held = self.b.ins().load(types::I64, flags(), addr, 0);
            c = self.writable(held, &ty, |this, fresh| {
                this.b.ins().store(flags(), fresh, addr, 0);
                Ok(())
            })?;
        }
        Err(self.bad("a place without a path"))
    }

    /// `place = value` ([`crate::codegen::ir::Stmt::Store`]).
    pub(crate) fn lower_store(&mut self, place: &Place, value: &Expr) -> Result<(), CodegenError> {
        let v = self.lower_value(value)?;
        if place.path.is_empty() {
            let var = self.var(place.root)?;
            self.b.def_var(var, v);
            return Ok(());
        }
        let indices = self.place_indices(place)?;
        let (addr, ty) = self.place_slot(place, &indices)?;
        match place.path.last() {
            Some(Step::Index(_)) => self.store_at(addr, v, &ty),
            _ => {
                let s = self.slot_of(v, &ty);
                self.b.ins().store(flags(), s, addr, 0);
            }
        }
        Ok(())
    }

    /// `place.append(value)`: the runtime appends in place when the list is
    /// unshared (else to a copy) and the resulting list goes back into the
    /// place. `as_value`: the expression's value is kept, so the list is
    /// then held twice and marked shared.
    pub(crate) fn lower_append(
        &mut self,
        place: &Place,
        value: &Expr,
        as_value: bool,
    ) -> Result<Value, CodegenError> {
        let v = self.lower_value(value)?;
        let indices = self.place_indices(place)?;
        let new = if place.path.is_empty() {
            let var = self.var(place.root)?;
            let cur = self.b.use_var(var);
            let new = self.append_value(cur, v, &value.ty)?;
            self.b.def_var(var, new);
            new
        } else {
            let (addr, _) = self.place_slot(place, &indices)?;
            let cur = self.b.ins().load(types::I64, flags(), addr, 0);
            let new = self.append_value(cur, v, &value.ty)?;
            self.b.ins().store(flags(), new, addr, 0);
            new
        };
        if as_value {
            let ty = self.place_type(place)?;
            self.share_value(new, &ty)
        } else {
            Ok(new)
        }
    }

    /// Appends `v` (of type `elem`) to list `l`; returns the list that now
    /// holds it. Inline when `l` is unshared and has room, else the runtime
    /// (which grows `l` in place, or copies it when shared).
    pub(crate) fn append_value(
        &mut self,
        l: Value,
        v: Value,
        elem: &Type,
    ) -> Result<Value, CodegenError> {
        let shared = self.b.ins().load(types::I64, flags(), l, LIST_SHARED);
        let len = self.b.ins().load(types::I64, flags(), l, LIST_LEN);
        let cap = self.b.ins().load(types::I64, flags(), l, LIST_CAP);
        let full = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, len, cap);
        let shared = self.b.ins().icmp_imm_s(IntCC::NotEqual, shared, 0);
        let slow_needed = self.b.ins().bor(full, shared);
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, types::I64);
        self.b.ins().brif(slow_needed, slow, &[], fast, &[]);
        self.b.switch_to_block(fast);
        let addr = self.slot_addr_unchecked(l, len, elem);
        self.store_at(addr, v, elem);
        let len1 = self.b.ins().iadd_imm_s(len, 1);
        self.b.ins().store(flags(), len1, l, LIST_LEN);
        self.b.ins().jump(done, &[l.into()]);
        self.b.set_cold_block(slow);
        self.b.switch_to_block(slow);
        let s = self.slot_of(v, elem);
        let kind = slot_kind(self.shared.program, elem);
        let kind = self.b.ins().iconst(types::I64, kind);
        let new = self.rt_val(RtFn::ListAppend, &[l, s, kind])?;
        self.b.ins().jump(done, &[new.into()]);
        self.b.switch_to_block(done);
        Ok(self.b.block_params(done)[0])
    }

    /// The type of the value at a place.
    fn place_type(&self, place: &Place) -> Result<Type, CodegenError> {
        let mut ty = self.local_ty(place.root)?.clone();
        for step in &place.path {
            ty = self.step_type(&ty, step)?;
        }
        Ok(ty)
    }
}
