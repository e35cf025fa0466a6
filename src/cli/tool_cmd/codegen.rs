//! `coex tool codegen` (all Coex code of a program → one object file) and
//! `coex tool check` (Coex modules checked on their own → a stamp).
//!
//! Imports resolve only to what the command line names, never to a search
//! path: `import NAME` to a `--module NAME=FILE`, `import "NAME"` (or
//! `"NAME.cxz"`, `"dir/NAME.cxz"`) to a `--cxz NAME=FILE`. Codegen is the
//! build's own (`crate::plan::program::codegen_tool`, also the codegen
//! action of `coex build`), so Bazel and `coex build` make the same object
//! and number FFI units the same way as `coex tool link`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use super::{
    import_inputs, read_input, scratch_dir, write_output_protecting, CheckArgs, CodegenArgs,
    ImportArgs,
};
use crate::atomic_file::Input;
use crate::failure::{CmdResult, Failure};
use crate::lang;
use crate::plan::program::codegen_tool;
use crate::plan::resolver::{CxzResolver, Lookup};

/// Runs `coex tool codegen`.
pub fn run(args: &CodegenArgs) -> CmdResult {
    let (modules, cxz) = args.imports.parse()?;
    let object =
        codegen_tool(&args.main, &modules, &cxz).map_err(crate::cli::build_cmd::to_failure)?;
    let mut inputs = vec![Input::new(&args.main, "--main")];
    inputs.extend(import_inputs(&modules, &cxz));
    write_output_protecting(&args.output, &object, &inputs)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `coex tool check`: every `--src` checked as an entry file; the
/// stamp lists them (an action needs an output for Bazel to cache it).
pub fn check(args: &CheckArgs) -> CmdResult {
    let output = super::absolute(&args.output)?;
    // Absolute: the check runs in a scratch directory.
    let mut inputs = Vec::new();
    for src in &args.src {
        inputs.push(Input::new(super::absolute(src)?, "--src"));
    }
    let (modules, cxz) = args.imports.parse()?;
    for input in import_inputs(&modules, &cxz) {
        inputs.push(Input::new(super::absolute(&input.path)?, input.what));
    }
    let staged = StagedSources::new(&args.src, &args.imports)?;
    let mut stamp = String::new();
    for entry in &staged.entries {
        staged.check(entry)?;
        stamp.push_str(&format!("checked {}\n", entry.display()));
    }
    write_output_protecting(&output, stamp.as_bytes(), &inputs)?;
    Ok(ExitCode::SUCCESS)
}

/// A program's sources staged in a scratch directory that is the current
/// directory, and the libraries its imports may name.
struct StagedSources {
    /// The entry files, relative to the scratch directory.
    entries: Vec<PathBuf>,
    resolver: CxzResolver,
    /// Kept alive (and the current directory) until the command ends.
    _scratch: tempfile::TempDir,
}

impl StagedSources {
    /// Stages every entry at its relative path and every `--module` beside
    /// each entry, then enters the scratch directory so that every name in
    /// diagnostics and runtime locations is relative. Input paths are read
    /// before the directory change; outputs must be made absolute first.
    fn new(entries: &[PathBuf], imports: &ImportArgs) -> Result<Self, Failure> {
        let (modules, libraries) = imports.parse()?;
        let mut fixed = BTreeMap::new();
        for (name, path) in libraries {
            fixed.insert(name, super::absolute(&path)?);
        }
        let resolver = CxzResolver::new(Lookup::Fixed(fixed));
        resolver.open_all_fixed().map_err(Failure::new)?;
        let scratch = scratch_dir()?;
        let root = scratch.path();
        let mut staged = Vec::new();
        for entry in entries {
            let rel = staged_path(entry);
            stage(root, &rel, &read_input(entry)?)?;
            staged.push(rel);
        }
        let dirs: BTreeSet<PathBuf> = staged
            .iter()
            .map(|e| e.parent().unwrap_or(Path::new("")).to_path_buf())
            .collect();
        for (name, path) in &modules {
            let bytes = read_input(path)?;
            for dir in &dirs {
                let rel = dir.join(format!("{name}.coex"));
                if staged.contains(&rel) {
                    return Err(Failure::new(format!(
                        "--module {name} has the name of an entry file, {}",
                        rel.display()
                    )));
                }
                stage(root, &rel, &bytes)?;
            }
        }
        std::env::set_current_dir(root)
            .map_err(|e| Failure::new(format!("cannot enter the scratch directory: {e}")))?;
        Ok(StagedSources {
            entries: staged,
            resolver,
            _scratch: scratch,
        })
    }

    /// Loads and checks the program starting at `entry`; errors are rendered
    /// as `coex check` renders them, warnings go to stderr.
    fn check(&self, entry: &Path) -> Result<lang::CheckedProgram, Failure> {
        let (program, mut diags) = lang::check_file(entry, &self.resolver).map_err(Failure::new)?;
        crate::bridge::add_backend_diagnostics(&program, &mut diags);
        let rendered = lang::render_text(&program.sources, &diags);
        let errors = diags.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            let plural = if errors == 1 { "" } else { "s" };
            return Err(Failure::worded(format!(
                "{rendered}error: could not compile `{}` due to {errors} error{plural}",
                entry.display()
            )));
        }
        if !rendered.is_empty() {
            errout!("{rendered}");
        }
        Ok(program)
    }
}

/// Where the main file goes inside the scratch directory: its relative path
/// as given (Bazel: execroot-relative), else its file name.
fn staged_path(main: &Path) -> PathBuf {
    let plain = main.components().all(|c| matches!(c, Component::Normal(_)));
    if plain && main.file_name().is_some() {
        return main.to_path_buf();
    }
    PathBuf::from(
        main.file_name()
            .unwrap_or(std::ffi::OsStr::new("main.coex")),
    )
}

fn stage(root: &Path, rel: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::new(format!("cannot stage {}: {e}", rel.display())))?;
    }
    std::fs::write(&path, bytes)
        .map_err(|e| Failure::new(format!("cannot stage {}: {e}", rel.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_paths_stay_relative() {
        assert_eq!(
            staged_path(Path::new("app/main.coex")),
            PathBuf::from("app/main.coex")
        );
        assert_eq!(
            staged_path(Path::new("/abs/x/main.coex")),
            PathBuf::from("main.coex")
        );
        assert_eq!(
            staged_path(Path::new("../up/main.coex")),
            PathBuf::from("main.coex")
        );
    }
}
