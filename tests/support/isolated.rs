//! The real `coex` binary run apart from the user's setup: its own cache
//! and home, and none of the variables that change what it does (library
//! path, remote cache, compiler). Shared by the end-to-end tests.

use assert_cmd::Command;
use std::path::Path;

/// `coex` in `cwd` with cache `cache` and home `home`; `COEX_PATH`,
/// `COEX_REMOTE_CACHE` and `COEX_CC` removed.
pub fn isolated_coex(cwd: &Path, cache: &Path, home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("coex").expect("coex binary");
    cmd.current_dir(cwd)
        .env("COEX_CACHE_DIR", cache)
        .env("HOME", home)
        .env_remove("COEX_PATH")
        .env_remove("COEX_REMOTE_CACHE")
        .env_remove("COEX_CC");
    cmd
}
