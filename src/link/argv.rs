//! Argv builders for compiling the C runtime and for the final link, plus a
//! small runner. The builders are pure (no I/O), so the content-addressed
//! executor can turn them into actions; all paths are taken as given and
//! should be relative to the action's scratch directory, so no absolute
//! scratch path reaches an output.

use std::path::Path;
use std::process::Command;

/// The runtime's headers, embedded so the `coex` binary alone can build
/// programs; each runtime compile sees them all beside its C file.
pub const RUNTIME_HEADERS: &[(&str, &str)] = &[
    ("coex_rt.h", include_str!("../../runtime/coex_rt.h")),
    ("coex_shim_abi.h", SHIM_ABI_HEADER),
];

/// The runtime ↔ FFI shim interface, shared by the runtime and the shim
/// compiled into every unit image.
pub const SHIM_ABI_HEADER: &str = include_str!("../../runtime/coex_shim_abi.h");

/// The runtime's C files (one compile action each), in a fixed order.
pub const RUNTIME_SOURCES: &[(&str, &str)] = &[
    ("rt_alloc.c", include_str!("../../runtime/rt_alloc.c")),
    ("rt_errors.c", include_str!("../../runtime/rt_errors.c")),
    ("rt_ffi_call.c", include_str!("../../runtime/rt_ffi_call.c")),
    ("rt_ffi_load.c", include_str!("../../runtime/rt_ffi_load.c")),
    ("rt_ffi_pool.c", include_str!("../../runtime/rt_ffi_pool.c")),
    (
        "rt_ffi_scope.c",
        include_str!("../../runtime/rt_ffi_scope.c"),
    ),
    ("rt_lists.c", include_str!("../../runtime/rt_lists.c")),
    ("rt_main.c", include_str!("../../runtime/rt_main.c")),
    ("rt_print.c", include_str!("../../runtime/rt_print.c")),
    ("rt_strings.c", include_str!("../../runtime/rt_strings.c")),
    ("rt_tasks.c", include_str!("../../runtime/rt_tasks.c")),
];

/// System libraries every Coex executable links (Boehm GC, dlopen, threads, libm).
pub const RUNTIME_LIBS: &[&str] = &["-lgc", "-ldl", "-lpthread", "-lm"];

/// Argv to compile one runtime C file to an object: `-O2 -fPIC`, the header
/// found through `include_dir`, and the working directory mapped to `.` in
/// debug info so objects do not depend on where they were built.
pub fn runtime_compile_argv(
    cc: &str,
    source: &str,
    output: &str,
    include_dir: &str,
) -> Vec<String> {
    [
        cc,
        "-O2",
        "-fPIC",
        "-std=gnu11",
        "-Wall",
        "-ffile-prefix-map=.=.",
        "-fdebug-prefix-map=.=.",
        "-I",
        include_dir,
        "-c",
        source,
        "-o",
        output,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Everything the final link of a Coex executable needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPlan {
    /// The C compiler driver used as linker (`cc`, `clang`).
    pub cc: String,
    /// The Cranelift object of the program.
    pub program_object: String,
    /// Objects (or a static archive) of the C runtime.
    pub runtime_objects: Vec<String>,
    /// Objects embedding FFI unit images (`codegen::embed`).
    pub unit_objects: Vec<String>,
    /// Extra system libraries of the libraries' units, as linker arguments
    /// (`-lz`, or flags from pkg-config), in the order given.
    pub system_libs: Vec<String>,
    /// Path of the executable to write.
    pub output: String,
}

impl LinkPlan {
    /// The link argv: objects in a fixed order, then the runtime's libraries,
    /// then the system libraries; `--build-id=none` keeps it reproducible.
    pub fn argv(&self) -> Vec<String> {
        let mut v = vec![self.cc.clone(), "-o".into(), self.output.clone()];
        v.push(self.program_object.clone());
        v.extend(self.runtime_objects.iter().cloned());
        v.extend(self.unit_objects.iter().cloned());
        v.push("-Wl,--build-id=none".into());
        v.extend(RUNTIME_LIBS.iter().map(|s| s.to_string()));
        v.extend(self.system_libs.iter().cloned());
        v
    }
}

/// Why running a tool failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The argv was empty.
    #[error("empty command line")]
    Empty,
    /// The tool could not be started.
    #[error("cannot run '{tool}': {source}")]
    Spawn {
        /// Program name.
        tool: String,
        /// OS error.
        source: std::io::Error,
    },
    /// The tool ran and failed.
    #[error("'{tool}' failed ({status}):\n{stderr}")]
    Failed {
        /// Program name.
        tool: String,
        /// Exit status text.
        status: String,
        /// Its stderr.
        stderr: String,
    },
}

/// Run `argv` in `dir` with a fixed environment (`LC_ALL=C`,
/// `SOURCE_DATE_EPOCH=0`, no inherited compiler flags). For tests and for
/// callers that do not go through the executor.
pub fn run_tool(argv: &[String], dir: &Path) -> Result<(), ToolError> {
    let (tool, args) = argv.split_first().ok_or(ToolError::Empty)?;
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .env_remove("CFLAGS")
        .env_remove("LDFLAGS")
        .env_remove("CPATH")
        .env_remove("LIBRARY_PATH")
        .env("LC_ALL", "C")
        .env("SOURCE_DATE_EPOCH", "0")
        .output()
        .map_err(|source| ToolError::Spawn {
            tool: tool.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(ToolError::Failed {
            tool: tool.clone(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_argv_orders_objects_then_libraries() {
        let plan = LinkPlan {
            cc: "cc".into(),
            program_object: "prog.o".into(),
            runtime_objects: vec!["rt_a.o".into(), "rt_b.o".into()],
            unit_objects: vec!["unit0.o".into()],
            system_libs: vec!["-lz".into()],
            output: "app".into(),
        };
        let argv = plan.argv();
        assert_eq!(
            argv,
            [
                "cc",
                "-o",
                "app",
                "prog.o",
                "rt_a.o",
                "rt_b.o",
                "unit0.o",
                "-Wl,--build-id=none",
                "-lgc",
                "-ldl",
                "-lpthread",
                "-lm",
                "-lz"
            ]
        );
    }

    #[test]
    fn runtime_sources_are_sorted_and_complete() {
        let names: Vec<&str> = RUNTIME_SOURCES.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/runtime"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".c"))
            .count();
        assert_eq!(on_disk, names.len());
    }
}
