//! `coex tool pack`: a library's files to a deterministic `.cxz`, validated
//! and written by the `.cxz` library code exactly as `coex cxz pack` does;
//! `coex tool interface`: the same archive with its C sources emptied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{
    read_input, split_spec, write_output_protecting, InterfaceArgs, PackArgs, ToolArgError,
};
use crate::atomic_file::Input;
use crate::cxz::pack::{
    check_output_outside_tree, validate_files, validate_tree, write_zip, PackError,
};
use crate::cxz::tree::path_exclusion;
use crate::cxz::{CxzArchive, MANIFEST};
use crate::failure::{CmdResult, Failure};
use crate::plan::graph::interface_archive;
use crate::plan::library_check::extern_problems;

/// Runs `coex tool pack`: the same reading rules, validation and checks
/// as `coex cxz pack`, so both give the same bytes for the same library.
pub fn run(args: PackArgs) -> CmdResult {
    let PackArgs {
        root,
        manifest,
        file,
        output,
    } = args;
    let mut inputs = Vec::new();
    let (archive, display) = match (root, manifest) {
        (Some(root), _) => {
            check_output_outside_tree(&root, &output, "-o").map_err(Failure::new)?;
            let archive = validate_tree(&root, Some(&output)).map_err(Failure::new)?;
            for rel in archive.files.keys() {
                inputs.push(Input::new(root.join(rel), format!("--root file {rel}")));
            }
            (archive, root.display().to_string())
        }
        (None, Some(manifest)) => from_list(&manifest, &file, &mut inputs)?,
        (None, None) => {
            return Err(ToolArgError::Malformed {
                flag: "pack",
                value: String::new(),
                expected: "--root DIR, or --manifest FILE with --file ARCHIVE_PATH=FILE",
            }
            .into_failure())
        }
    };
    let problems = extern_problems(&archive);
    if !problems.is_empty() {
        return Err(Failure::new(PackError::Invalid {
            dir: display,
            problems,
        }));
    }
    let bytes = write_zip(&archive.files)
        .map_err(|message| Failure::new(format!("cannot pack {display}: {message}")))?;
    write_output_protecting(&output, &bytes, &inputs)?;
    Ok(ExitCode::SUCCESS)
}

/// The validated library of `--manifest` and `--file`s (adding each file
/// read to `inputs`) and its name for errors. What `coex cxz pack` never
/// packs is left out here too (a `BUILD.bazel` in `srcs`), so both give
/// the same bytes.
fn from_list(
    manifest: &Path,
    file: &[String],
    inputs: &mut Vec<Input>,
) -> Result<(CxzArchive, String), Failure> {
    let list = file_list(manifest, file).map_err(ToolArgError::into_failure)?;
    let mut files = BTreeMap::new();
    let mut excluded = BTreeMap::new();
    for (archive_path, disk_path) in &list {
        if let Some(why) = path_exclusion(archive_path) {
            excluded.insert(archive_path.clone(), why);
            continue;
        }
        files.insert(archive_path.clone(), read_input(disk_path)?);
        inputs.push(Input::new(disk_path, format!("the file of {archive_path}")));
    }
    let display = manifest.display().to_string();
    let text = files
        .get(MANIFEST)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let archive = validate_files(files, &excluded, &text, &display).map_err(Failure::new)?;
    Ok((archive, display))
}

/// Runs `coex tool interface`: what compiling Coex code against a library
/// reads (manifest, Coex modules, the names of its C files) without the C
/// contents. Code generation depends on this instead of the archive, so
/// editing a C file re-runs the library's FFI unit and the link, never
/// Cranelift (the interface's bytes do not change, and Bazel prunes).
pub fn interface(args: &InterfaceArgs) -> CmdResult {
    let archive = CxzArchive::open(&args.cxz).map_err(Failure::new)?;
    let bytes = interface_archive(&archive).map_err(Failure::new)?;
    let inputs = [Input::new(&args.cxz, "--cxz")];
    write_output_protecting(&args.output, &bytes, &inputs)?;
    Ok(ExitCode::SUCCESS)
}

/// Checks that an archive path is relative, normalised and stays inside the archive.
fn check_archive_path(path: &str) -> Result<(), ToolArgError> {
    let bad = |why| {
        Err(ToolArgError::BadArchivePath {
            path: path.to_string(),
            why,
        })
    };
    if path.starts_with('/') {
        return bad("it is absolute");
    }
    if path.contains('\\') || path.contains('\0') {
        return bad("it contains a backslash or NUL");
    }
    for component in path.split('/') {
        match component {
            "" => return bad("it has an empty component"),
            "." | ".." => return bad("it has a '.' or '..' component"),
            _ => {}
        }
    }
    Ok(())
}

/// The archive's files as `--manifest … --file …` name them: archive path → file on disk.
pub fn file_list(
    manifest: &Path,
    files: &[String],
) -> Result<BTreeMap<String, PathBuf>, ToolArgError> {
    let mut out = BTreeMap::new();
    out.insert(MANIFEST.to_string(), manifest.to_path_buf());
    for value in files {
        let (archive_path, disk_path) = split_spec("--file", value, "ARCHIVE_PATH=FILE")?;
        check_archive_path(archive_path)?;
        if out
            .insert(archive_path.to_string(), PathBuf::from(disk_path))
            .is_some()
        {
            return Err(ToolArgError::Duplicate {
                flag: "--file",
                name: archive_path.to_string(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn file_list_maps_manifest_and_files_in_sorted_order() {
        let list = file_list(
            Path::new("pkg/m.toml"),
            &strings(&["src/b.coex=pkg/src/b.coex", "ffi/src/a.c=x/a.c"]),
        )
        .unwrap();
        let keys: Vec<&str> = list.keys().map(String::as_str).collect();
        assert_eq!(keys, ["ffi/src/a.c", "manifest.toml", "src/b.coex"]);
        assert_eq!(list["manifest.toml"], PathBuf::from("pkg/m.toml"));
        assert_eq!(list["ffi/src/a.c"], PathBuf::from("x/a.c"));
    }

    #[test]
    fn file_list_rejects_paths_escaping_the_archive() {
        for bad in ["/etc/passwd", "../x", "src/../../x", "a//b", "a\\b", "./a"] {
            let err = file_list(Path::new("m"), &strings(&[&format!("{bad}=f")])).unwrap_err();
            assert!(
                matches!(err, ToolArgError::BadArchivePath { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn file_list_rejects_duplicates_and_a_second_manifest() {
        let err = file_list(Path::new("m"), &strings(&["a=1", "a=2"])).unwrap_err();
        assert_eq!(err.to_string(), "--file names 'a' twice");
        let err = file_list(Path::new("m"), &strings(&["manifest.toml=x"])).unwrap_err();
        assert_eq!(err.to_string(), "--file names 'manifest.toml' twice");
    }

    #[test]
    fn malformed_file_values_are_named() {
        let err = file_list(Path::new("m"), &strings(&["noequals"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --file value 'noequals': expected ARCHIVE_PATH=FILE"
        );
    }
}
