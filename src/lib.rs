//! coex: hermetic, content-addressed builds for Coex programs and `.cxz` libraries.
//!
//! The binary in `main.rs` only parses arguments; everything it does lives in
//! these modules so integration tests and benchmarks call the same code.
//!
//! The flow of `coex build app.coex`, one room each:
//! `lang` (parse, check) → `bridge` (checked AST → IR) → `plan` (libraries,
//! FFI units, the action graph) → `exec` (actions, cache) with `codegen`
//! (IR → Cranelift object), `ffi_build` (FFI unit compiles and links) and
//! `link` (runtime, final link) as the actions; `toolchain` finds clang and
//! says what it is; `cxz` reads and writes archives; `cli` is the edge.

// Functions stay short enough to read at once (80 lines, clippy.toml);
// no argument is passed by value only to be read, and no cast silently
// truncates. `./dev test` denies warnings, so this is enforced.
#![warn(clippy::too_many_lines)]
#![warn(clippy::needless_pass_by_value, clippy::cast_possible_truncation)]

pub mod atomic_file;
pub mod bridge;
pub mod cli;
pub mod codegen;
pub mod cxz;
pub mod embedded_c;
pub mod exec;
pub mod failure;
pub mod ffi_build;
pub mod fuzzing;
pub mod lang;
pub mod link;
pub mod pkg;
pub mod plan;
pub mod toolchain;
