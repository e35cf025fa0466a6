//! Linking a Coex executable, as actions of the content-addressed executor.
//! One implementation of each action kind, used by `coex build`, by the
//! `coex tool` subcommands Bazel runs and by the back-end tests:
//! [`runtime`] (the C runtime: one compile per file, one combine into
//! `coex_rt.o`), [`final_link`] (program object + runtime + unit images →
//! executable), their pure argv builders in [`argv`], and [`executable`],
//! which runs them outside a program build.
pub mod argv;
pub mod executable;
pub mod final_link;
pub mod runtime;

pub use argv::{RUNTIME_HEADERS, RUNTIME_LIBS, RUNTIME_SOURCES, SHIM_ABI_HEADER};
pub use executable::{build_executable, build_runtime, link_executable, LinkError};
pub use final_link::{final_link_spec, LinkInputs, EXECUTABLE, PROGRAM_OBJECT};
pub use runtime::{add_runtime_actions, RUNTIME_ACTION, RUNTIME_OBJECT};
