//! Path rules shared by archive entries, manifest paths and packing.
//!
//! Archive entry names and manifest paths are untrusted strings that later
//! become file names in a scratch directory: they must stay relative and
//! inside their folder, so they are checked and normalised in one place.

/// Why a path was refused (the text completes "path …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathIssue {
    Empty,
    Nul,
    Backslash,
    Absolute,
    ParentDir,
    LeadingDash,
}

impl PathIssue {
    /// Human wording of the issue, used inside a [`crate::cxz::Problem`].
    pub fn describe(&self) -> &'static str {
        match self {
            PathIssue::Empty => "is empty",
            PathIssue::Nul => "contains a NUL byte",
            PathIssue::Backslash => "contains a backslash ('\\'); use '/' as the separator",
            PathIssue::Absolute => "is absolute; paths must be relative to their folder",
            PathIssue::ParentDir => "has a '..' component; paths must stay inside their folder",
            PathIssue::LeadingDash => "starts with '-' (it would be read as a compiler option)",
        }
    }
}

/// Normalises a relative `/`-separated path: drops empty and `.` components
/// and refuses anything that could escape (absolute, `..`, `\`, NUL, `C:`).
/// Returns `"."` for a path that names the folder itself (`"."`, `"./"`).
pub fn normalize_relative(path: &str) -> Result<String, PathIssue> {
    if path.is_empty() {
        return Err(PathIssue::Empty);
    }
    if path.contains('\0') {
        return Err(PathIssue::Nul);
    }
    if path.contains('\\') {
        return Err(PathIssue::Backslash);
    }
    if path.starts_with('/') || has_drive_prefix(path) {
        return Err(PathIssue::Absolute);
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(PathIssue::ParentDir),
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        Ok(".".to_string())
    } else {
        Ok(parts.join("/"))
    }
}

/// Like [`normalize_relative`], and also refuses a leading `-` (for paths that
/// end up on a compiler command line).
pub fn normalize_arg_path(path: &str) -> Result<String, PathIssue> {
    if path.starts_with('-') {
        return Err(PathIssue::LeadingDash);
    }
    normalize_relative(path)
}

fn has_drive_prefix(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// True for `[A-Za-z0-9_.+-]+` not starting with `-`: the names allowed for
/// `system_libs` and `pkg_config` entries (they become `-l` / pkg-config args).
pub fn is_dep_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'))
}

/// True for a C identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_c_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_dots_and_slashes() {
        assert_eq!(normalize_relative("a/./b//c").as_deref(), Ok("a/b/c"));
        assert_eq!(normalize_relative("./").as_deref(), Ok("."));
        assert_eq!(normalize_relative("dir/").as_deref(), Ok("dir"));
    }

    #[test]
    fn refuses_escapes() {
        assert_eq!(normalize_relative("../x"), Err(PathIssue::ParentDir));
        assert_eq!(normalize_relative("a/../../x"), Err(PathIssue::ParentDir));
        assert_eq!(normalize_relative("/etc/passwd"), Err(PathIssue::Absolute));
        assert_eq!(normalize_relative("C:/x"), Err(PathIssue::Absolute));
        assert_eq!(normalize_relative("a\\b"), Err(PathIssue::Backslash));
        assert_eq!(normalize_relative("a\0b"), Err(PathIssue::Nul));
        assert_eq!(
            normalize_arg_path("-fplugin=x.so"),
            Err(PathIssue::LeadingDash)
        );
    }

    #[test]
    fn dep_names() {
        assert!(is_dep_name("z"));
        assert!(is_dep_name("gtk+-3.0"));
        assert!(!is_dep_name("-Wl,evil"));
        assert!(!is_dep_name("a b"));
        assert!(!is_dep_name(""));
    }
}
