//! The single table of runtime functions generated code may call, with their
//! Cranelift signatures. It mirrors `runtime/coex_rt.h`: change both together.

use cranelift_codegen::ir::{types, AbiParam, Signature, Type as ClType};
use cranelift_codegen::isa::CallConv;

/// ABI value classes used by the runtime (see the header's value table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// `int64_t` or any pointer.
    I64,
    /// `int32_t` (bools, status).
    I32,
    /// `double`.
    F64,
}

impl Abi {
    /// The Cranelift type of this ABI class.
    pub fn cl(self) -> ClType {
        match self {
            Abi::I64 => types::I64,
            Abi::I32 => types::I32,
            Abi::F64 => types::F64,
        }
    }
}

macro_rules! runtime_table {
    ($( $variant:ident = $name:literal ( $($p:ident),* ) -> $ret:tt ;)*) => {
        /// A runtime function called by generated code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RtFn { $( #[doc = $name] $variant, )* }

        impl RtFn {
            /// Every runtime function, in table order.
            pub const ALL: &'static [RtFn] = &[ $( RtFn::$variant, )* ];

            /// The C symbol.
            pub fn symbol(self) -> &'static str {
                match self { $( RtFn::$variant => $name, )* }
            }

            /// Parameter classes.
            pub fn params(self) -> &'static [Abi] {
                match self { $( RtFn::$variant => &[ $(Abi::$p),* ], )* }
            }

            /// Return class, `None` for void.
            pub fn ret(self) -> Option<Abi> {
                match self { $( RtFn::$variant => runtime_table!(@ret $ret), )* }
            }
        }
    };
    (@ret void) => { None };
    (@ret $r:ident) => { Some(Abi::$r) };
}

runtime_table! {
    IntDiv = "coex_int_div"(I64, I64, I64) -> I64;
    IntMod = "coex_int_mod"(I64, I64, I64) -> I64;
    StrConcat = "coex_str_concat"(I64, I64) -> I64;
    StrEq = "coex_str_eq"(I64, I64) -> I32;
    StrCmp = "coex_str_cmp"(I64, I64) -> I64;
    StrLen = "coex_str_len"(I64) -> I64;
    StrFromCstr = "coex_str_from_cstr"(I64) -> I64;
    PrintInt = "coex_print_int"(I64) -> void;
    PrintFloat = "coex_print_float"(F64) -> void;
    PrintBool = "coex_print_bool"(I32) -> void;
    PrintStr = "coex_print_str"(I64) -> void;
    IntToString = "coex_int_to_string"(I64) -> I64;
    FloatToString = "coex_float_to_string"(F64) -> I64;
    BoolToString = "coex_bool_to_string"(I32) -> I64;
    ListNew = "coex_list_new"(I64, I64) -> I64;
    ListLen = "coex_list_len"(I64) -> I64;
    ListGet = "coex_list_get"(I64, I64, I64) -> I64;
    ListAppend = "coex_list_append"(I64, I64, I64) -> I64;
    ListShare = "coex_list_share"(I64) -> I64;
    ListCopy = "coex_list_copy"(I64) -> I64;
    ListRange = "coex_list_range"(I64, I64) -> I64;
    RecordNew = "coex_record_new"(I64) -> I64;
    RecordCopy = "coex_record_copy"(I64, I64, I64) -> I64;
    ArgCount = "coex_arg_count"() -> I64;
    Arg = "coex_arg"(I64, I64) -> I64;
    TaskFor = "coex_task_for"(I64, I64, I64, I64) -> I64;
    TaskYield = "coex_task_yield"(I64, I64) -> void;
    TaskScopeEnter = "coex_task_scope_enter"() -> I64;
    TaskScopeExit = "coex_task_scope_exit"() -> void;
    FfiScopeEnter = "coex_ffi_scope_enter"() -> I64;
    FfiScopeExit = "coex_ffi_scope_exit"() -> void;
    FfiFn = "coex_ffi_fn"(I64, I64, I64, I64) -> I64;
    FfiStrArg = "coex_ffi_str_arg"(I64) -> I64;
    FfiStrRet = "coex_ffi_str_ret"(I64) -> I64;
    FfiReleaseArgs = "coex_ffi_release_args"() -> void;
    FfiInvoke = "coex_ffi_invoke"(I64, I64, I64, I64) -> void;
    FfiCapHit = "coex_ffi_cap_hit"(I64, I64, I64) -> void;
    WithinEnter = "coex_within_enter"(I64) -> I64;
    WithinLeave = "coex_within_leave"(I64) -> void;
    WithinPoll = "coex_within_poll"() -> I64;
}

impl RtFn {
    /// The Cranelift signature (System V).
    pub fn signature(self, call_conv: CallConv) -> Signature {
        let mut sig = Signature::new(call_conv);
        sig.params
            .extend(self.params().iter().map(|a| AbiParam::new(a.cl())));
        if let Some(r) = self.ret() {
            sig.returns.push(AbiParam::new(r.cl()));
        }
        sig
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every symbol in the table is declared in the C header, so the two
    /// cannot drift apart silently.
    #[test]
    fn every_runtime_function_is_declared_in_the_header() {
        let header = include_str!("../../runtime/coex_rt.h");
        for f in RtFn::ALL {
            let needle = format!("{}(", f.symbol());
            assert!(
                header.contains(&needle),
                "{} missing from coex_rt.h",
                f.symbol()
            );
        }
    }
}
