//! From an input file to an action graph.
//!
//! Each kind of build input gets one file that turns it into executor work:
//! [`cxz_units`] reads a `.cxz` library's FFI units (`coex cxz build`,
//! `coex plan FILE.cxz`). Whole programs (`coex build app.coex`) will get
//! their own file next to it, adding codegen and link actions to the same
//! kind of graph. The executor itself (`crate::exec`) and the C toolchain
//! rules (`crate::ffi_build`) know nothing about archives or programs.

pub mod cxz_units;

pub use cxz_units::{default_out_dir, select_units, unit_inputs, UnknownUnit};
