//! Writing an output file all at once, and only ever as a regular file:
//! `coex cxz pack`, `coex build`, `coex cxz build` and `coex tool` all write
//! through a temporary file beside the target, renamed into place, so a
//! failed or interrupted write never leaves a partial file.
//!
//! A rename replaces whatever has the name, so before it (and, to fail
//! before any work, before the build starts: [`check_output`]) the target
//! is looked at without following links. Anything but a regular file — a
//! FIFO, a device node, a socket, a symbolic link, a directory — is refused,
//! and so is a regular file that is one of the command's own inputs (the
//! program's source, its modules, its libraries), even through a hard link.
//!
//! The temporary-file-then-rename itself, [`replace_via_temp`], is also how
//! the cache writes its entries and memo files (`exec::local`), each caller
//! keeping its own policy on checks and errors.

use std::fmt;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A file the command reads, which its output must never replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The file as the command found it.
    pub path: PathBuf,
    /// What it is to this build, for the message (`the program's source`).
    pub what: String,
}

impl Input {
    /// An input `path` described as `what`.
    pub fn new(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Input {
            path: path.into(),
            what: what.into(),
        }
    }
}

/// A path a command is about to write, with what it must not replace.
#[derive(Debug, Clone, Copy)]
pub struct OutputTarget<'a> {
    /// The file to write.
    pub path: &'a Path,
    /// The flag that named it (`-o`), for the fix in messages.
    pub flag: &'a str,
    /// The command's inputs.
    pub inputs: &'a [Input],
}

impl<'a> OutputTarget<'a> {
    /// A target named by `-o` with no inputs to protect.
    pub fn new(path: &'a Path) -> Self {
        OutputTarget {
            path,
            flag: "-o",
            inputs: &[],
        }
    }

    /// The same target, protecting `inputs`.
    pub fn with_inputs(self, inputs: &'a [Input]) -> Self {
        OutputTarget { inputs, ..self }
    }
}

/// Why an output could not be written, worded for the user (the text after
/// `error: `, with the fix after a blank line).
#[derive(Debug)]
pub enum OutputError {
    /// The output's folder is something else (a file).
    NotAFolder {
        /// The output.
        path: PathBuf,
        /// Its folder.
        folder: PathBuf,
        /// The flag naming the output.
        flag: String,
    },
    /// Something is at the path that an output must not replace.
    Refused {
        /// The output.
        path: PathBuf,
        /// What is there: `it is a FIFO (named pipe)`.
        what: String,
        /// How to get out of it.
        fix: String,
    },
    /// Any other I/O failure.
    Io {
        /// The output.
        path: PathBuf,
        /// The cause (never naming the temporary file).
        source: std::io::Error,
    },
}

impl OutputError {
    /// The output path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            OutputError::NotAFolder { path, .. }
            | OutputError::Refused { path, .. }
            | OutputError::Io { path, .. } => path,
        }
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::NotAFolder { path, folder, flag } => write!(
                f,
                "cannot write {}: {} is not a folder\n\nChoose another output path with {flag}.",
                path.display(),
                folder.display()
            ),
            OutputError::Refused { path, what, fix } => {
                write!(f, "refusing to write {}: {what}\n\n{fix}", path.display())
            }
            OutputError::Io { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for OutputError {}

/// What a non-regular file is, in words (`None` for a regular file).
pub fn describe_non_regular(path: &Path, meta: &Metadata) -> Option<String> {
    let ft = meta.file_type();
    let what = if ft.is_file() {
        return None;
    } else if ft.is_symlink() {
        match std::fs::read_link(path) {
            Ok(target) => format!("a symbolic link (to {})", target.display()),
            Err(_) => "a symbolic link".to_string(),
        }
    } else if ft.is_dir() {
        "a directory".to_string()
    } else if ft.is_fifo() {
        "a FIFO (named pipe)".to_string()
    } else if ft.is_char_device() {
        "a character device".to_string()
    } else if ft.is_block_device() {
        "a block device".to_string()
    } else if ft.is_socket() {
        "a socket".to_string()
    } else {
        "not a regular file".to_string()
    };
    Some(what)
}

/// The folder an output goes to (`.` for a bare file name).
fn folder_of(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks that `target` can be written: its folder is a folder, or is
/// missing below one (then [`write_atomically`] creates it, as cargo does
/// for its output folders, and only once the output exists), and nothing but
/// a regular file that is not an input is at its path. Call it before a
/// build (a bad output costs nothing) — [`write_atomically`] checks again.
pub fn check_output(target: &OutputTarget) -> Result<(), OutputError> {
    let out = target.path;
    let not_a_folder = |folder: &Path| OutputError::NotAFolder {
        path: out.to_path_buf(),
        folder: folder.to_path_buf(),
        flag: target.flag.to_string(),
    };
    let mut folder = folder_of(out);
    loop {
        match std::fs::metadata(&folder) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => return Err(not_a_folder(&folder)),
            // Missing: the first folder up the path that exists decides.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                folder = match folder.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => break,
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(not_a_folder(&first_non_folder(&folder)))
            }
            Err(e) => {
                return Err(OutputError::Io {
                    path: out.to_path_buf(),
                    source: e,
                })
            }
        }
    }
    check_target(target)
}

/// The first ancestor of `path` (from the top) that exists and is not a
/// folder: what a user must move out of the way.
fn first_non_folder(path: &Path) -> PathBuf {
    path.ancestors()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|p| !p.as_os_str().is_empty() && std::fs::metadata(p).is_ok_and(|m| !m.is_dir()))
        .unwrap_or(path)
        .to_path_buf()
}

/// The part of [`check_output`] about the path itself.
fn check_target(target: &OutputTarget) -> Result<(), OutputError> {
    let out = target.path;
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(OutputError::Io {
                path: out.to_path_buf(),
                source: e,
            })
        }
    };
    let flag = target.flag;
    if let Some(what) = describe_non_regular(out, &meta) {
        let fix = if meta.file_type().is_symlink() {
            format!(
                "coex neither writes through nor replaces a symbolic link. \
                 Remove the link, or choose another output path with {flag}."
            )
        } else if meta.is_dir() {
            format!(
                "Name a file inside it (e.g. {flag} {}/NAME), or choose another output path.",
                out.display()
            )
        } else {
            format!(
                "coex writes outputs only as regular files and never replaces anything else. \
                 Choose another output path with {flag}."
            )
        };
        return Err(OutputError::Refused {
            path: out.to_path_buf(),
            what: format!("it is {what}"),
            fix,
        });
    }
    for input in target.inputs {
        let Ok(m) = std::fs::metadata(&input.path) else {
            continue;
        };
        if m.dev() == meta.dev() && m.ino() == meta.ino() {
            return Err(OutputError::Refused {
                path: out.to_path_buf(),
                what: format!("it is an input of this build ({})", input.what),
                fix: format!("Choose another output path with {flag}."),
            });
        }
    }
    Ok(())
}

/// Writes `bytes` to `target` with permissions `mode`; with `durable`,
/// flushed to disk before the rename (an archive to publish; an executable
/// that the next build rewrites anyway skips it, it costs a warm rebuild
/// ~10 ms). The target is checked ([`check_output`]) first and once more
/// just before the rename. Errors are worded for the user: a missing folder
/// is named, and the temporary file's name never appears.
pub fn write_atomically(
    target: &OutputTarget,
    bytes: &[u8],
    mode: u32,
    durable: bool,
) -> Result<(), OutputError> {
    check_output(target)?;
    let out = target.path;
    std::fs::create_dir_all(folder_of(out)).map_err(|source| OutputError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let how = TempWrite {
        prefix: ".coex-out-",
        suffix: ".tmp",
        mode: Some(mode),
        durable,
    };
    let io = |source| OutputError::Io {
        path: out.to_path_buf(),
        source,
    };
    // The path may have changed while the bytes were written.
    replace_via_temp(&folder_of(out), out, bytes, &how, io, || {
        check_target(target)
    })
}

/// How [`replace_via_temp`] makes and finishes its temporary file.
pub struct TempWrite<'a> {
    /// Start of the temporary file's name (what a cleanup recognises).
    pub prefix: &'a str,
    /// End of the temporary file's name.
    pub suffix: &'a str,
    /// Permissions given before the rename; `None` keeps tempfile's `0600`.
    pub mode: Option<u32>,
    /// Whether the bytes are flushed to disk before the rename.
    pub durable: bool,
}

/// The one temp-file-then-rename of the crate: writes `bytes` to a fresh
/// temporary file in `dir` (which must exist), gives it `how.mode`, syncs it
/// if `how.durable`, runs `before_rename` (a last check or cleanup of the
/// target; its error stops the write), then renames it onto `target`, so
/// readers see the old file or the whole new one, never a part. A failure
/// leaves no temporary file behind. What to check first and what to do
/// with errors is the caller's policy: I/O errors come through `io`,
/// already without the temporary file's name ([`without_temp_path`]).
pub fn replace_via_temp<E>(
    dir: &Path,
    target: &Path,
    bytes: &[u8],
    how: &TempWrite<'_>,
    io: impl Fn(std::io::Error) -> E,
    before_rename: impl FnOnce() -> Result<(), E>,
) -> Result<(), E> {
    let io = |e: std::io::Error| io(without_temp_path(e));
    let mut tmp = tempfile::Builder::new()
        .prefix(how.prefix)
        .suffix(how.suffix)
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    if let Some(mode) = how.mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io)?;
    }
    if how.durable {
        tmp.as_file().sync_all().map_err(io)?;
    }
    before_rename()?;
    tmp.persist(target).map_err(|e| io(e.error))?;
    Ok(())
}

/// tempfile words its errors `<reason> at path "<temp file>"`; the user
/// never asked for that file, so only the reason is kept.
pub fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((reason, _)) => std::io::Error::new(e.kind(), reason.to_string()),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(out: &Path, bytes: &[u8], mode: u32, durable: bool) -> Result<(), OutputError> {
        write_atomically(&OutputTarget::new(out), bytes, mode, durable)
    }

    #[test]
    fn writes_the_bytes_with_the_mode_and_nothing_else() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.bin");
        write(&out, b"abc", 0o755, false).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"abc");
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_folders_are_created_and_a_file_on_the_way_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("no/such/x.bin");
        write(&out, b"abc", 0o644, true).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"abc");
        std::fs::write(dir.path().join("afile"), b"x").unwrap();
        let below = dir.path().join("afile/sub/x.bin");
        let e = write(&below, b"abc", 0o644, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot write {}: {} is not a folder\n\nChoose another output path with -o.",
                below.display(),
                dir.path().join("afile").display()
            )
        );
    }

    #[test]
    fn an_unwritable_folder_keeps_the_reason_only() {
        let e = write(Path::new("/proc/x.bin"), b"abc", 0o644, true).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains(".coex-out-"), "{text}");
        assert!(!text.is_empty());
    }

    #[test]
    fn a_fifo_a_link_and_a_directory_are_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let e = write(&fifo, b"abc", 0o644, false).unwrap_err();
        assert!(e.to_string().contains("it is a FIFO (named pipe)"), "{e}");
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());

        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write(&link, b"abc", 0o644, false).unwrap_err();
        assert!(e.to_string().contains("it is a symbolic link (to "), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());

        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let e = write(&sub, b"abc", 0o644, false).unwrap_err();
        assert!(e.to_string().contains("it is a directory"), "{e}");
        assert!(sub.is_dir());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 4, "no temporary file left behind");
    }

    #[test]
    fn an_input_is_refused_even_through_a_hard_link() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("app.coex");
        std::fs::write(&src, b"source").unwrap();
        let hard = dir.path().join("other");
        std::fs::hard_link(&src, &hard).unwrap();
        let inputs = [Input::new(&src, "the program's source")];
        for out in [&src, &hard] {
            let e = write_atomically(
                &OutputTarget::new(out).with_inputs(&inputs),
                b"x",
                0o644,
                false,
            )
            .unwrap_err();
            assert!(
                e.to_string().ends_with(
                    "it is an input of this build (the program's source)\n\n\
                     Choose another output path with -o."
                ),
                "{e}"
            );
        }
        assert_eq!(std::fs::read(&src).unwrap(), b"source");
        // A regular file that is not an input is replaced.
        let other = dir.path().join("app");
        std::fs::write(&other, b"old").unwrap();
        write_atomically(
            &OutputTarget::new(&other).with_inputs(&inputs),
            b"new",
            0o755,
            false,
        )
        .unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"new");
    }
}
