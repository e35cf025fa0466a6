//! The real `coex` binary run apart from the user's setup: its own cache
//! and home, and none of the variables that change what it does (library
//! path, remote cache and its options, compiler). Shared by the end-to-end
//! tests.

use assert_cmd::Command;
use std::path::Path;

/// Variables that point `coex` at a remote cache or change how it talks to
/// it; a test sets the ones it means to use after [`isolated_coex`].
pub const REMOTE_VARS: [&str; 5] = [
    "COEX_REMOTE_CACHE",
    "COEX_REMOTE_INSTANCE_NAME",
    "COEX_REMOTE_CA",
    "COEX_REMOTE_SIGNING_KEY",
    "COEX_REMOTE_VERIFY_KEY",
];

/// `coex` in `cwd` with cache `cache` and home `home`; `COEX_PATH`,
/// `COEX_CC` and every `COEX_REMOTE_*` variable removed.
pub fn isolated_coex(cwd: &Path, cache: &Path, home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("coex").expect("coex binary");
    cmd.current_dir(cwd)
        .env("COEX_CACHE_DIR", cache)
        .env("HOME", home)
        .env_remove("COEX_PATH")
        .env_remove("COEX_CC");
    for v in REMOTE_VARS {
        cmd.env_remove(v);
    }
    cmd
}
