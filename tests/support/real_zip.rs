//! The real Info-ZIP `zip`, run the way library authors make archives by
//! hand: shared by the tests that check such archives load like packed ones.

use std::path::Path;
use std::process::Command;

/// Runs `zip -q -r FLAGS… ARCHIVE ENTRIES…` in `dir` and asserts it
/// succeeded (`archive` is relative to `dir` or absolute).
pub fn zip_r(dir: &Path, flags: &[&str], archive: &Path, entries: &[&str]) {
    let status = Command::new("zip")
        .current_dir(dir)
        .args(["-q", "-r"])
        .args(flags)
        .arg(archive)
        .args(entries)
        .status()
        .expect("zip is installed");
    assert!(status.success(), "zip -r {archive:?} failed in {dir:?}");
}
