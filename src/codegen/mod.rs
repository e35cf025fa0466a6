//! Code generation: the typed back-end IR ([`ir`]) to one object file with
//! Cranelift, plus the names of the symbols that carry FFI unit images
//! ([`embed`]; the final link defines them).
//!
//! The front end never sees Cranelift and this module never parses: a bridge
//! turns the checked AST into [`ir::Program`], [`compile_program`] turns that
//! into object bytes, and `crate::link` links them with the C runtime.

pub mod embed;
pub mod ir;
pub mod lower;
pub mod moves;
pub mod object;
pub mod runtime_abi;

/// Why code generation failed. Every variant names what was wrong in the IR;
/// a well-formed IR from the checker never produces one.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The host ISA could not be configured.
    #[error("cannot configure the code generator for this machine: {0}")]
    Isa(String),
    /// Cranelift's module layer refused a declaration or definition.
    #[error("object emission failed: {0}")]
    Module(String),
    /// The IR is inconsistent (bad index, type mismatch).
    #[error("internal error in function '{func}': {msg}")]
    BadIr {
        /// Function being lowered.
        func: String,
        /// What was wrong.
        msg: String,
    },
    /// The IR uses something this back end does not implement yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
}

pub use lower::compile_program;
