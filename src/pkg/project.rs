//! The project folder and its lib folder: one meaning of `./lib` for every
//! command.
//!
//! The *project folder* of a folder `D` is the nearest folder at or above
//! `D` that holds `coex.lock`, looking no further up than a folder holding
//! `.git` (the repository's root) or the filesystem root; when there is
//! none, it is `D` itself. The *project's lib folder* is `lib/` in it.
//! `coex build`/`run`/`check` start from the folder of the importing file,
//! `coex cxz find` and `coex pkg` from the current folder: without a
//! `coex.lock` that is `./lib` beside the program (or in the current
//! folder), as before; with one, every program of the project shares the
//! lib folder beside the lock, as `Cargo.lock` sits beside `Cargo.toml`.

use std::path::{Component, Path, PathBuf};

/// File name of the lock.
pub const LOCK_FILE: &str = "coex.lock";
/// Name of the project's lib folder.
pub const LIB_DIR: &str = "lib";

/// `dir` as an absolute path without `.`/`..` (resolved on disk when it
/// exists, else against the current folder lexically).
pub fn absolute(dir: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(dir) {
        return real;
    }
    let joined = match std::env::current_dir() {
        Ok(cwd) if dir.is_relative() => cwd.join(dir),
        _ => dir.to_path_buf(),
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The `coex.lock` governing `start` (a folder): the nearest one at or
/// above it, not above a repository root (a folder holding `.git`).
pub fn find_lock(start: &Path) -> Option<PathBuf> {
    let start = absolute(start);
    let mut dir = Some(start.as_path());
    while let Some(d) = dir {
        let lock = d.join(LOCK_FILE);
        if lock.is_file() {
            return Some(lock);
        }
        if d.join(".git").exists() {
            return None;
        }
        dir = d.parent();
    }
    None
}

/// The project's lib folder for a file in `import_dir`: `lib/` beside the
/// governing `coex.lock`, else `import_dir/lib` (kept relative when
/// `import_dir` is, so messages show the path the way it was given).
pub fn lib_dir_for(import_dir: &Path) -> PathBuf {
    match find_lock(import_dir) {
        Some(lock) => {
            let project = lock.parent().unwrap_or(Path::new("/"));
            if project == absolute(import_dir) {
                import_dir.join(LIB_DIR)
            } else {
                project.join(LIB_DIR)
            }
        }
        None => import_dir.join(LIB_DIR),
    }
}

/// `path` as a user in the current folder would type it: `./…` below the
/// current folder, else absolute.
pub fn shown(path: &Path) -> String {
    let abs = absolute(path);
    if let Ok(cwd) = std::env::current_dir().map(|c| absolute(&c)) {
        if let Ok(rel) = abs.strip_prefix(&cwd) {
            if rel.as_os_str().is_empty() {
                return ".".to_string();
            }
            return format!("./{}", rel.display());
        }
    }
    abs.display().to_string()
}

/// `s` quoted for a POSIX shell when it needs it.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@%=~".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The `--lib` argument `coex pkg install`, run in the current folder,
/// needs to install into `lib_dir`; `None` when its default is that folder.
pub fn lib_flag_for(lib_dir: &Path) -> Option<String> {
    let default = std::env::current_dir().ok().map(|cwd| lib_dir_for(&cwd));
    if default.is_some_and(|d| absolute(&d) == absolute(lib_dir)) {
        None
    } else {
        Some(shown(lib_dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_lock_wins_and_git_stops_the_walk() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        let sub = root.join("app/src");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::create_dir(root.join(".git")).unwrap();
        assert_eq!(find_lock(&sub), None);
        assert_eq!(lib_dir_for(&sub), sub.join("lib"));
        std::fs::write(root.join(LOCK_FILE), "").unwrap();
        let real = absolute(&root);
        assert_eq!(find_lock(&sub), Some(real.join(LOCK_FILE)));
        assert_eq!(lib_dir_for(&sub), real.join("lib"));
        std::fs::write(root.join("app").join(LOCK_FILE), "").unwrap();
        assert_eq!(lib_dir_for(&sub), absolute(&root.join("app")).join("lib"));
        // Above the repository root nothing is looked at.
        std::fs::write(t.path().join(LOCK_FILE), "").unwrap();
        let other = t.path().join("repo2/x");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::create_dir(t.path().join("repo2/.git")).unwrap();
        assert_eq!(find_lock(&other), None);
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("./lib"), "./lib");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
