//! FFI glue: calls of library externs through the current scope's instance,
//! their per-extern trampolines, and `select … case ResourceExhausted`.
//!
//! Fast path (no string arguments, not lexically under `within`, the
//! function holds the thread's `coex_ffi_thread*`): the function pointer is
//! loaded from the current scope's call table and called directly; see
//! `lower_ffi_fast` and docs/ffi.md. Everything else, and the fast path's fallback, is the full
//! path. A full-path call is: arguments evaluated (Coex side);
//! `coex_ffi_fn(unit, sym, status?, loc)` for the callable pointer in the
//! current instance; string arguments copied out of the GC heap
//! (`coex_ffi_str_arg`); the C arguments stored in an 8-byte slot array;
//! `coex_ffi_invoke(trampoline, fn, slots)` (optionally inside a GC
//! blocking region, or on a helper thread under `within`); the C result read back from slot 0 and converted
//! (`coex_ffi_str_ret` for strings); `coex_ffi_release_args`.
//! The trampoline (one per extern) is the only code that knows the C
//! signature, so the runtime can later run it elsewhere (e.g. on another
//! thread for `within` abandonment) without generated call sites changing.

use cranelift_codegen::ir::{
    types, AbiParam, Block, InstBuilder, MemFlagsData, Signature, StackSlot, StackSlotData,
    StackSlotKind, Value,
};
use cranelift_module::{FuncId, Linkage, Module};

use super::calls::c_signature;
use super::{slot_offset, slots_size, to_u32, FnLowerer, ProgramLowering};
use crate::codegen::ir::{Expr, Extern, ExternId, FfiRef, LocalId, SrcLoc, Stmt, Type};
use crate::codegen::runtime_abi::RtFn;
use crate::codegen::CodegenError;

/// Offset of the call table in the runtime's `coex_ffi_thread`
/// (runtime/coex_rt.h; a static assert in rt_ffi_call.c keeps it).
const THREAD_FAST: i32 = 0;
/// Offset of the current call's site (`coex_ffi_site*`, NULL between
/// calls) in `coex_ffi_thread`; the runtime's crash handler reads it.
const THREAD_SITE: i32 = 8;
/// `COEX_SHIM_EVENT_CAP`: the instance's allocator hit a heap cap.
const SHIM_EVENT_CAP: u32 = 1;

impl<'b> FnLowerer<'_, 'b> {
    /// Extern `x` and how it is reached; an extern without an FFI unit here
    /// is a lowering bug, reported as bad IR.
    fn ffi_extern(&self, x: ExternId) -> Result<(&'b Extern, FfiRef), CodegenError> {
        let ext = self
            .shared
            .program
            .externs
            .get(x.0 as usize)
            .ok_or_else(|| self.bad(format!("extern {} out of range", x.0)))?;
        let ffi = ext
            .ffi
            .ok_or_else(|| self.bad(format!("extern '{}' is not an FFI extern", ext.name)))?;
        Ok((ext, ffi))
    }

    /// The 8-byte slot through which the runtime reports a failure (nonzero
    /// status) to a call inside `select`.
    fn status_slot(&mut self) -> StackSlot {
        self.b
            .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3))
    }

    /// Lower an FFI extern call. With `exhausted = Some(block)` (inside
    /// `select`), a failure to get an instance branches there instead of
    /// stopping the program.
    pub(crate) fn lower_ffi_call(
        &mut self,
        x: ExternId,
        args: &[Expr],
        loc: &SrcLoc,
        exhausted: Option<Block>,
    ) -> Result<Option<Value>, CodegenError> {
        let program = self.shared.program;
        let (ext, ffi) = self.ffi_extern(x)?;
        let unit = program.ffi_units.get(ffi.unit as usize).ok_or_else(|| {
            self.bad(format!(
                "extern '{}': FFI unit {} out of range",
                ext.name, ffi.unit
            ))
        })?;
        if ffi.symbol as usize >= unit.symbols.len() {
            return Err(self.bad(format!(
                "extern '{}': symbol index {} out of range",
                ext.name, ffi.symbol
            )));
        }
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.lower_value(a)?);
        }
        self.deadline_check()?;
        let result = match self.ffi_thread {
            // Calls lexically under `within` always need the full path (the
            // runtime runs them on a helper thread), and string arguments
            // need copies into the instance heap: both keep the full path.
            Some(thread) if self.withins.is_empty() && !args.iter().any(|a| a.ty == Type::Str) => {
                self.lower_ffi_fast(thread, x, vals, args, loc, exhausted)?
            }
            _ => self.lower_ffi_full(x, vals, args, loc, exhausted)?,
        };
        self.deadline_check()?;
        Ok(result)
    }

    /// The inline fast path of an extern call without string arguments:
    /// the function pointer comes from the thread's call table (one load of
    /// the table, one of the entry), the shim's event word is tested before
    /// and after, and the C function is called directly (the thread's
    /// `site` names the call meanwhile, for the crash handler). A NULL entry (no instance yet, `within`
    /// active on the thread, GC-blocking mode) or a pending heap-cap event
    /// takes the full path instead; a heap cap hit during the call reports
    /// ResourceExhausted like the full path.
    fn lower_ffi_fast(
        &mut self,
        thread: Value,
        x: ExternId,
        vals: Vec<Value>,
        args: &[Expr],
        loc: &SrcLoc,
        exhausted: Option<Block>,
    ) -> Result<Option<Value>, CodegenError> {
        let (ext, ffi) = self.ffi_extern(x)?;
        let csig = c_signature(self.m.call_conv, &ext.params, &ext.ret)
            .ok_or_else(|| CodegenError::Unsupported(format!("a type in extern '{}'", ext.name)))?;
        let (entry_off, events_off) = self.call_table_offsets(ffi)?;
        let flags = MemFlagsData::trusted();

        let check_b = self.b.create_block();
        let call_b = self.b.create_block();
        let ok_b = self.b.create_block();
        let cap_b = self.b.create_block();
        let full_b = self.b.create_block();
        let merge = self.b.create_block();
        let ret_cl = super::cl_type(&ext.ret);
        if let Some(t) = ret_cl {
            self.b.append_block_param(merge, t);
        }

        let table = self.b.ins().load(types::I64, flags, thread, THREAD_FAST);
        let fnptr = self.b.ins().load(types::I64, flags, table, entry_off);
        self.b.ins().brif(fnptr, check_b, &[], full_b, &[]);

        // A heap-cap event left from an earlier call: the full path clears it.
        self.b.switch_to_block(check_b);
        let events = self.b.ins().load(types::I64, flags, table, events_off);
        let ev = self.b.ins().load(types::I32, flags, events, 0);
        let cap = self.b.ins().band_imm_u(ev, i64::from(SHIM_EVENT_CAP));
        self.b.ins().brif(cap, full_b, &[], call_b, &[]);

        self.b.switch_to_block(call_b);
        let site = self.m.ffi_site(ffi.unit, ffi.symbol, loc)?;
        let site = self.m.data_addr(&mut self.b, site);
        self.b.ins().store(flags, site, thread, THREAD_SITE);
        let r = self.call_c_direct(csig, fnptr, &vals, args);
        let null = self.b.ins().iconst(types::I64, 0);
        self.b.ins().store(flags, null, thread, THREAD_SITE);
        let ev = self.b.ins().load(types::I32, flags, events, 0);
        let cap = self.b.ins().band_imm_u(ev, i64::from(SHIM_EVENT_CAP));
        self.b.ins().brif(cap, cap_b, &[], ok_b, &[]);

        self.b.switch_to_block(ok_b);
        let v = self.direct_result(&ext.ret, r)?;
        self.jump_with(merge, v);

        // The library hit a heap cap during the call: ResourceExhausted.
        self.b.switch_to_block(cap_b);
        self.report_cap_hit(ext, ffi, loc, exhausted, merge)?;

        self.b.switch_to_block(full_b);
        let v = self.lower_ffi_full(x, vals, args, loc, exhausted)?;
        self.jump_with(merge, v);

        self.b.switch_to_block(merge);
        Ok(ret_cl.map(|_| self.b.block_params(merge)[0]))
    }

    /// Byte offsets, in the thread's call table, of the extern's function
    /// pointer and of its unit's shim event word (which follow all entries).
    fn call_table_offsets(&self, ffi: FfiRef) -> Result<(i32, i32), CodegenError> {
        let units = &self.shared.program.ffi_units;
        let base: usize = units[..ffi.unit as usize]
            .iter()
            .map(|u| u.symbols.len())
            .sum();
        let total: usize = units.iter().map(|u| u.symbols.len()).sum();
        let entry_off = i32::try_from((base + ffi.symbol as usize) * 8)
            .map_err(|_| self.bad("FFI call table too large"))?;
        let events_off = i32::try_from((total + ffi.unit as usize) * 8)
            .map_err(|_| self.bad("FFI call table too large"))?;
        Ok((entry_off, events_off))
    }

    /// Calls the C function at `fnptr` with the Coex values as C arguments
    /// (bools widened to `int`); its raw C result, if any.
    fn call_c_direct(
        &mut self,
        csig: Signature,
        fnptr: Value,
        vals: &[Value],
        args: &[Expr],
    ) -> Option<Value> {
        let mut cargs = Vec::with_capacity(vals.len());
        for (v, a) in vals.iter().zip(args) {
            cargs.push(match a.ty {
                Type::Bool => self.bool_to_i32(*v),
                _ => *v,
            });
        }
        let sigref = self.b.import_signature(csig);
        let call = self.b.ins().call_indirect(sigref, fnptr, &cargs);
        self.b.inst_results(call).first().copied()
    }

    /// The raw C result `r` of a direct call as the Coex value of type `ret`.
    fn direct_result(
        &mut self,
        ret: &Type,
        r: Option<Value>,
    ) -> Result<Option<Value>, CodegenError> {
        Ok(match (ret, r) {
            (Type::Void, _) => None,
            (Type::Str, Some(p)) => Some(self.rt_val(RtFn::FfiStrRet, &[p])?),
            (Type::Bool, Some(p)) => Some(self.i32_to_bool(p)),
            (_, Some(p)) => Some(p),
            (t, None) => return Err(self.bad(format!("extern returning {t:?} has no result"))),
        })
    }

    /// A heap cap hit during a direct call: inside `select`, on to the
    /// ResourceExhausted arm; otherwise the runtime stops the program at `loc`.
    fn report_cap_hit(
        &mut self,
        ext: &Extern,
        ffi: FfiRef,
        loc: &SrcLoc,
        exhausted: Option<Block>,
        merge: Block,
    ) -> Result<(), CodegenError> {
        let unit_v = self.b.ins().iconst(types::I64, i64::from(ffi.unit));
        let loc_v = self.loc_addr(loc)?;
        match exhausted {
            Some(exhausted_b) => {
                let ss = self.status_slot();
                let status = self.b.ins().stack_addr(types::I64, ss, 0);
                self.rt(RtFn::FfiCapHit, &[unit_v, status, loc_v])?;
                self.b.ins().jump(exhausted_b, &[]);
            }
            None => {
                // Does not return (the program stops at loc).
                let null = self.b.ins().iconst(types::I64, 0);
                self.rt(RtFn::FfiCapHit, &[unit_v, null, loc_v])?;
                let z = super::cl_type(&ext.ret).map(|_| self.zero(&ext.ret));
                self.jump_with(merge, z);
            }
        }
        Ok(())
    }

    /// Jumps to `target`, passing `v` as its block parameter if there is one.
    fn jump_with(&mut self, target: Block, v: Option<Value>) {
        match v {
            Some(v) => self.b.ins().jump(target, &[v.into()]),
            None => self.b.ins().jump(target, &[]),
        };
    }

    /// The full path of an extern call: `coex_ffi_fn`, string copies, the
    /// trampoline through `coex_ffi_invoke` (deadlines, GC-blocking mode,
    /// heap-cap events), `coex_ffi_release_args`.
    fn lower_ffi_full(
        &mut self,
        x: ExternId,
        vals: Vec<Value>,
        args: &[Expr],
        loc: &SrcLoc,
        exhausted: Option<Block>,
    ) -> Result<Option<Value>, CodegenError> {
        let (ext, ffi) = self.ffi_extern(x)?;
        let status_slot = exhausted.map(|_| self.status_slot());
        let status_ptr = match status_slot {
            Some(ss) => self.b.ins().stack_addr(types::I64, ss, 0),
            None => self.b.ins().iconst(types::I64, 0),
        };
        let unit_v = self.b.ins().iconst(types::I64, i64::from(ffi.unit));
        let sym_v = self.b.ins().iconst(types::I64, i64::from(ffi.symbol));
        let loc_v = self.loc_addr(loc)?;
        let fnptr = self.rt_val(RtFn::FfiFn, &[unit_v, sym_v, status_ptr, loc_v])?;

        let n = to_u32(args.len().max(1), "FFI call arguments")?;
        let size = slots_size(args.len())?;
        let slots = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            size,
            3,
        ));
        for (i, (v, a)) in vals.into_iter().zip(args).enumerate() {
            let s = match a.ty {
                Type::Str => self.rt_val(RtFn::FfiStrArg, &[v])?,
                _ => self.slot_of(v, &a.ty),
            };
            self.b
                .ins()
                .stack_store(types::I64, s, slots, slot_offset(i)?);
        }
        // The instance, then the string copies into its heap (checked
        // against the heap caps), can each fail: the runtime sets *status.
        self.branch_if_exhausted(status_slot, exhausted);
        let slots_addr = self.b.ins().stack_addr(types::I64, slots, 0);
        let tramp = self.trampoline(x)?;
        let tref = self.m.module.declare_func_in_func(tramp, self.b.func);
        let tramp_addr = self.b.ins().func_addr(types::I64, tref);
        let nslots = self.b.ins().iconst(types::I64, i64::from(n));
        self.rt(RtFn::FfiInvoke, &[tramp_addr, fnptr, slots_addr, nslots])?;
        // A heap cap hit by the library during the call: ResourceExhausted.
        self.branch_if_exhausted(status_slot, exhausted);

        let result = match ext.ret {
            Type::Void => None,
            Type::Int => Some(self.b.ins().stack_load(types::I64, types::I64, slots, 0)),
            Type::Float => Some(self.b.ins().stack_load(types::I64, types::F64, slots, 0)),
            Type::Bool => {
                let r = self.b.ins().stack_load(types::I64, types::I32, slots, 0);
                Some(self.i32_to_bool(r))
            }
            Type::Str => {
                let p = self.b.ins().stack_load(types::I64, types::I64, slots, 0);
                Some(self.rt_val(RtFn::FfiStrRet, &[p])?)
            }
            ref t => {
                return Err(CodegenError::Unsupported(format!(
                    "extern '{}' returning {t:?}",
                    ext.name
                )))
            }
        };
        if args.iter().any(|a| a.ty == Type::Str) {
            self.rt(RtFn::FfiReleaseArgs, &[])?;
        }
        Ok(result)
    }

    /// Inside `select`: jump to the ResourceExhausted arm when the runtime
    /// reported a failure through the status slot.
    fn branch_if_exhausted(&mut self, status_slot: Option<StackSlot>, exhausted: Option<Block>) {
        if let (Some(ss), Some(exhausted_b)) = (status_slot, exhausted) {
            let status = self.b.ins().stack_load(types::I64, types::I32, ss, 0);
            let ok = self.b.create_block();
            self.b.ins().brif(status, exhausted_b, &[], ok, &[]);
            self.b.switch_to_block(ok);
        }
    }

    /// `select case [target =] extern(args): body ~ case ResourceExhausted: … ~ ~`.
    pub(crate) fn lower_select(
        &mut self,
        target: Option<LocalId>,
        call: ExternId,
        args: &[Expr],
        loc: &SrcLoc,
        body: &[Stmt],
        exhausted: &[Stmt],
    ) -> Result<(), CodegenError> {
        let program = self.shared.program;
        let ext = program
            .externs
            .get(call.0 as usize)
            .ok_or_else(|| self.bad(format!("extern {} out of range", call.0)))?;
        let exhausted_b = self.b.create_block();
        let merge = self.b.create_block();
        let r = if ext.ffi.is_some() {
            self.lower_ffi_call(call, args, loc, Some(exhausted_b))?
        } else {
            // A bare libc extern never runs out of FFI instances.
            self.lower_extern_call(call, args, loc)?
        };
        if let (Some(t), Some(v)) = (target, r) {
            let var = self.var(t)?;
            self.b.def_var(var, v);
        }
        self.lower_block_then_jump(body, merge)?;
        self.b.switch_to_block(exhausted_b);
        self.lower_block_then_jump(exhausted, merge)?;
        self.b.switch_to_block(merge);
        Ok(())
    }

    /// The trampoline of extern `x` (declared here, defined by the driver).
    fn trampoline(&mut self, x: ExternId) -> Result<FuncId, CodegenError> {
        if let Some(id) = self.shared.trampolines[x.0 as usize] {
            return Ok(id);
        }
        let id = self
            .m
            .module
            .declare_function(
                &format!("coex_tramp{}", x.0),
                Linkage::Local,
                &tramp_signature(self.m.call_conv),
            )
            .map_err(|e| CodegenError::Module(e.to_string()))?;
        self.shared.trampolines[x.0 as usize] = Some(id);
        Ok(id)
    }
}

/// `void tramp(void* fn, int64_t* slots)`.
fn tramp_signature(cc: cranelift_codegen::isa::CallConv) -> Signature {
    let mut sig = Signature::new(cc);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig
}

impl ProgramLowering<'_> {
    /// Define every trampoline declared while lowering the functions.
    pub(crate) fn define_trampolines(&mut self) -> Result<(), CodegenError> {
        let program = self.program;
        for x in 0..self.trampolines.len() {
            let Some(id) = self.trampolines[x] else {
                continue;
            };
            let ext = &program.externs[x];
            let csig = c_signature(self.m.call_conv, &ext.params, &ext.ret).ok_or_else(|| {
                CodegenError::Unsupported(format!("a type in extern '{}'", ext.name))
            })?;
            let sig = tramp_signature(self.m.call_conv);
            self.build_function(id, sig, |m, _shared, mut b| {
                let entry = b.create_block();
                b.append_block_params_for_function_params(entry);
                b.switch_to_block(entry);
                let fnptr = b.block_params(entry)[0];
                let slots = b.block_params(entry)[1];
                let mut args = Vec::with_capacity(ext.params.len());
                for (i, p) in csig.params.iter().enumerate() {
                    args.push(b.ins().load(
                        p.value_type,
                        MemFlagsData::trusted(),
                        slots,
                        slot_offset(i)?,
                    ));
                }
                let sigref = b.import_signature(csig.clone());
                let call = b.ins().call_indirect(sigref, fnptr, &args);
                if let Some(&r) = b.inst_results(call).first() {
                    b.ins().store(MemFlagsData::trusted(), r, slots, 0);
                }
                b.ins().return_(&[]);
                b.seal_all_blocks();
                b.finalize(m.module.target_config());
                Ok(())
            })?;
        }
        Ok(())
    }
}
