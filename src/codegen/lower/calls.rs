//! Calls: Coex functions and bare (libc) externs. FFI externs go to `ffi.rs`.

use cranelift_codegen::ir::{types, AbiParam, InstBuilder, Signature, Value};
use cranelift_module::{Linkage, Module};

use super::FnLowerer;
use crate::codegen::ir::{Expr, ExternId, FuncId, SrcLoc, Type};
use crate::codegen::runtime_abi::RtFn;
use crate::codegen::CodegenError;

/// The C type of a value crossing the FFI boundary (cxz-format.md §4).
pub(crate) fn c_abi_type(ty: &Type) -> Option<cranelift_codegen::ir::Type> {
    match ty {
        Type::Int | Type::Str => Some(types::I64),
        Type::Float => Some(types::F64),
        Type::Bool => Some(types::I32),
        _ => None,
    }
}

impl FnLowerer<'_, '_> {
    /// Call of a Coex function. Arguments are lowered as values, so lists
    /// passed along are marked shared (the callee cannot change ours).
    pub(crate) fn lower_call(
        &mut self,
        f: FuncId,
        args: &[Expr],
    ) -> Result<Option<Value>, CodegenError> {
        let program = self.shared.program;
        let callee = program
            .functions
            .get(f.0 as usize)
            .ok_or_else(|| self.bad(format!("function {} out of range", f.0)))?;
        if callee.params as usize != args.len() {
            return Err(self.bad(format!(
                "call of '{}' with {} arguments, expected {}",
                callee.name,
                args.len(),
                callee.params
            )));
        }
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            if let Some(v) = self.lower_expr(a)? {
                vals.push(v);
            }
        }
        let id = self.shared.funcs[f.0 as usize];
        let fref = self.m.module.declare_func_in_func(id, self.b.func);
        let call = self.b.ins().call(fref, &vals);
        let r = self.b.inst_results(call).first().copied();
        // The callee returns early when a deadline passed inside it.
        self.deadline_check()?;
        Ok(r)
    }

    /// Call of an extern: bare externs directly, library externs via FFI.
    pub(crate) fn lower_extern_call(
        &mut self,
        x: ExternId,
        args: &[Expr],
        loc: &SrcLoc,
    ) -> Result<Option<Value>, CodegenError> {
        let program = self.shared.program;
        let ext = program
            .externs
            .get(x.0 as usize)
            .ok_or_else(|| self.bad(format!("extern {} out of range", x.0)))?;
        if ext.params.len() != args.len() {
            return Err(self.bad(format!(
                "call of extern '{}' with {} arguments, expected {}",
                ext.name,
                args.len(),
                ext.params.len()
            )));
        }
        if ext.ffi.is_some() {
            return self.lower_ffi_call(x, args, loc, None);
        }
        let id = self.bare_extern(x)?;
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            let v = self.lower_value(a)?;
            vals.push(self.bare_c_arg(v, &a.ty)?);
        }
        let fref = self.m.module.declare_func_in_func(id, self.b.func);
        let call = self.b.ins().call(fref, &vals);
        let r = self.b.inst_results(call).first().copied();
        match r {
            Some(r) => Ok(Some(self.coex_from_c_ret(r, &ext.ret)?)),
            None => Ok(None),
        }
    }

    /// A Coex value as a C argument of a bare extern: strings pass a pointer
    /// to the runtime-owned bytes (after the 8-byte length), valid during
    /// the call because the GC never moves objects.
    fn bare_c_arg(&mut self, v: Value, ty: &Type) -> Result<Value, CodegenError> {
        Ok(match ty {
            Type::Str => {
                let eight = self.b.ins().iconst(types::I64, 8);
                self.b.ins().iadd(v, eight)
            }
            Type::Bool => self.bool_to_i32(v),
            Type::Int | Type::Float => v,
            t => {
                return Err(CodegenError::Unsupported(format!(
                    "values of type {t:?} at the FFI boundary"
                )))
            }
        })
    }

    /// A C return value as a Coex value.
    pub(crate) fn coex_from_c_ret(&mut self, r: Value, ty: &Type) -> Result<Value, CodegenError> {
        Ok(match ty {
            Type::Str => self.rt_val(RtFn::StrFromCstr, &[r])?,
            Type::Bool => self.i32_to_bool(r),
            _ => r,
        })
    }

    /// Declare a bare extern under its C name (once).
    fn bare_extern(&mut self, x: ExternId) -> Result<cranelift_module::FuncId, CodegenError> {
        if let Some(id) = self.shared.bare_externs[x.0 as usize] {
            return Ok(id);
        }
        let ext = &self.shared.program.externs[x.0 as usize];
        let sig = c_signature(self.m.call_conv, &ext.params, &ext.ret)
            .ok_or_else(|| CodegenError::Unsupported(format!("a type in extern '{}'", ext.name)))?;
        let id = self
            .m
            .module
            .declare_function(&ext.name, Linkage::Import, &sig)
            .map_err(|e| CodegenError::Module(e.to_string()))?;
        self.shared.bare_externs[x.0 as usize] = Some(id);
        Ok(id)
    }
}

/// The C signature of an extern (§4 mapping), `None` for a type with no
/// boundary mapping.
pub(crate) fn c_signature(
    cc: cranelift_codegen::isa::CallConv,
    params: &[Type],
    ret: &Type,
) -> Option<Signature> {
    let mut sig = Signature::new(cc);
    for p in params {
        sig.params.push(AbiParam::new(c_abi_type(p)?));
    }
    if *ret != Type::Void {
        sig.returns.push(AbiParam::new(c_abi_type(ret)?));
    }
    Some(sig)
}
