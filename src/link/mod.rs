//! Linking a Coex executable: compiling the C runtime and the final `cc` link,
//! expressed as argv builders so the executor can run them as cached actions,
//! plus [`pipeline`], the whole back end in one call.
pub mod argv;
pub mod pipeline;
pub use argv::{
    run_tool, runtime_compile_argv, LinkPlan, ToolError, RUNTIME_HEADERS, RUNTIME_LIBS,
    RUNTIME_SOURCES, SHIM_ABI_HEADER,
};
pub use pipeline::{build_executable, compile_runtime, BuildError, ExecutableBuild};
