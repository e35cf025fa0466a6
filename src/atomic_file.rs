//! Writing an output file all at once: `coex cxz pack`, `coex build` and
//! `coex tool` all write through a temporary file beside the target, renamed
//! into place, so a failed or interrupted write never leaves a partial file.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `out` with permissions `mode`; with `durable`, flushed
/// to disk before the rename (an archive to publish; an executable that the
/// next build rewrites anyway skips it, it costs a warm rebuild ~10 ms).
/// Errors are worded for the user: a missing folder is named, and the
/// temporary file's name never appears.
pub fn write_atomically(out: &Path, bytes: &[u8], mode: u32, durable: bool) -> std::io::Result<()> {
    let parent: PathBuf = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("folder {} does not exist", parent.display()),
        ));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".coex-out-")
        .suffix(".tmp")
        .tempfile_in(&parent)
        .map_err(without_temp_path)?;
    tmp.write_all(bytes).map_err(without_temp_path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))?;
    }
    if durable {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(out).map_err(|e| e.error)?;
    Ok(())
}

/// tempfile words its errors `<reason> at path "<temp file>"`; the user
/// never asked for that file, so only the reason is kept.
fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((reason, _)) => std::io::Error::new(e.kind(), reason.to_string()),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_bytes_with_the_mode_and_nothing_else() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.bin");
        write_atomically(&out, b"abc", 0o755, false).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"abc");
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("no/such/x.bin");
        let e = write_atomically(&out, b"abc", 0o644, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "folder {} does not exist",
                dir.path().join("no/such").display()
            )
        );
    }

    #[test]
    fn an_unwritable_folder_keeps_the_reason_only() {
        let e = write_atomically(Path::new("/proc/x.bin"), b"abc", 0o644, true).unwrap_err();
        let text = e.to_string();
        assert!(!text.contains(".coex-out-"), "{text}");
        assert!(!text.is_empty());
    }
}
