//! The whole back end in one call, for callers that do not (yet) go through
//! the content-addressed executor: compile the runtime, lower the program,
//! embed the unit images, link. Every step uses the same argv builders as
//! the executor will, with paths relative to one working directory.

use std::path::{Path, PathBuf};

use super::argv::{
    run_tool, runtime_compile_argv, LinkPlan, ToolError, RUNTIME_HEADERS, RUNTIME_SOURCES,
};
use crate::codegen::embed::embed_unit_image;
use crate::codegen::ir::Program;
use crate::codegen::{compile_program, CodegenError};

/// Why building an executable failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Code generation rejected the IR.
    #[error(transparent)]
    Codegen(#[from] CodegenError),
    /// clang / cc failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// A file could not be written.
    #[error("cannot write '{path}': {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
}

fn write(path: PathBuf, bytes: &[u8]) -> Result<(), BuildError> {
    std::fs::write(&path, bytes).map_err(|source| BuildError::Io { path, source })
}

/// Write the runtime sources into `dir/runtime/` and compile them with `cc`;
/// returns the objects' paths relative to `dir`.
pub fn compile_runtime(cc: &str, dir: &Path) -> Result<Vec<String>, BuildError> {
    let rt = dir.join("runtime");
    std::fs::create_dir_all(&rt).map_err(|source| BuildError::Io {
        path: rt.clone(),
        source,
    })?;
    for (name, text) in RUNTIME_HEADERS {
        write(rt.join(name), text.as_bytes())?;
    }
    let mut objects = Vec::new();
    for (name, text) in RUNTIME_SOURCES {
        write(rt.join(name), text.as_bytes())?;
        let obj = name.replace(".c", ".o");
        run_tool(&runtime_compile_argv(cc, name, &obj, "."), &rt)?;
        objects.push(format!("runtime/{obj}"));
    }
    Ok(objects)
}

/// Inputs of [`build_executable`] besides the program.
#[derive(Debug, Clone)]
pub struct ExecutableBuild<'a> {
    /// C compiler driver (`cc`, `clang`).
    pub cc: &'a str,
    /// Working directory: every intermediate file is written here.
    pub dir: &'a Path,
    /// Executable name, relative to `dir`.
    pub output: &'a str,
    /// Runtime objects (relative to `dir`, or absolute), e.g. from an earlier
    /// [`compile_runtime`]; `None` compiles the runtime into `dir/runtime/`.
    pub runtime_objects: Option<Vec<String>>,
    /// Extra system libraries for the link (`-lz`, pkg-config flags).
    pub system_libs: Vec<String>,
}

/// Lower `program`, embed `unit_images` (index = `FfiRef::unit`), link;
/// returns the executable's path.
pub fn build_executable(
    program: &Program,
    unit_images: &[Vec<u8>],
    opts: &ExecutableBuild,
) -> Result<PathBuf, BuildError> {
    let runtime_objects = match &opts.runtime_objects {
        Some(objs) => objs.clone(),
        None => compile_runtime(opts.cc, opts.dir)?,
    };
    write(opts.dir.join("program.o"), &compile_program(program)?)?;
    let mut unit_objects = Vec::new();
    for (i, image) in unit_images.iter().enumerate() {
        let name = format!("unit{i}.o");
        write(opts.dir.join(&name), &embed_unit_image(i as u32, image)?)?;
        unit_objects.push(name);
    }
    let plan = LinkPlan {
        cc: opts.cc.to_string(),
        program_object: "program.o".into(),
        runtime_objects,
        unit_objects,
        system_libs: opts.system_libs.clone(),
        output: opts.output.to_string(),
    };
    run_tool(&plan.argv(), opts.dir)?;
    Ok(opts.dir.join(opts.output))
}
