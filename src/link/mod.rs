//! Linking a Coex executable: compiling the C runtime and the final `cc` link,
//! expressed as argv builders so the executor can run them as cached actions.
pub mod argv;
pub use argv::{
    run_tool, runtime_compile_argv, LinkPlan, ToolError, RUNTIME_HEADER, RUNTIME_LIBS,
    RUNTIME_SOURCES,
};
