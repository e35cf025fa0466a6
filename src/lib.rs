//! coex: hermetic, content-addressed builds for Coex programs and `.cxz` libraries.
//!
//! The binary in `main.rs` only parses arguments; everything it does lives in
//! these modules so integration tests and benchmarks call the same code.

pub mod atomic_file;
pub mod build;
pub mod cli;
pub mod codegen;
pub mod cxz;
pub mod exec;
pub mod failure;
pub mod ffi_build;
pub mod lang;
pub mod link;
pub mod toolchain;
