//! Planning: from an input file to an action graph, and running it.
//!
//! Each kind of build input gets one file that turns it into executor work:
//! [`cxz_units`] reads a `.cxz` library's FFI units (`coex cxz build`,
//! `coex plan FILE.cxz`); [`program`] checks and lowers a whole program
//! (front end → `crate::bridge`, with libraries found by [`resolver`] and
//! reopened quickly by [`archive_memo`]), [`graph`] plans its actions
//! (codegen, FFI units, runtime, link) and [`run`] executes them. The
//! executor itself (`crate::exec`) and the C toolchain rules
//! (`crate::ffi_build`) know nothing about archives or programs.

pub mod archive_memo;
pub mod cxz_units;
pub mod graph;
pub mod library_check;
pub mod output_memo;
pub mod program;
pub mod program_error;
pub mod resolver;
pub mod run;

pub use cxz_units::{default_out_dir, select_units, unit_inputs, UnknownUnit};
