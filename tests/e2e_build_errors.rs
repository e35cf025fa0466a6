//! `coex build` error paths through the real binary: no compiler, an
//! output folder that does not exist, a main file that does not exist.
//! Each is one worded error, status 1, and nothing written.

#[path = "e2e/common.rs"]
mod common;

use common::*;
use std::path::Path;

const HELLO: &str = "func main() -> int\n    print(1)\n    return 0\n~\n";

/// Files directly in `dir` (sorted), to see that a failed build wrote nothing.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn build_without_a_compiler_names_the_one_it_looked_for() {
    let env = Env::new();
    let work = env.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("hello.coex"), HELLO).unwrap();
    let o = env.coex_in(&work, &["build", "hello.coex", "--cc", "/nonexistent/cc"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).starts_with("error: C compiler not found: /nonexistent/cc (from --cc)"),
        "{}",
        text(&o.stderr)
    );
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    assert_eq!(files_in(&work), ["hello.coex"]);
}

#[test]
fn build_into_a_missing_folder_says_it_cannot_write_there() {
    let env = Env::new();
    let work = env.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("hello.coex"), HELLO).unwrap();
    let o = env.coex_in(&work, &["build", "hello.coex", "-o", "no/such/dir/hello"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "error: cannot write no/such/dir/hello: folder no/such/dir does not exist\n"
    );
    assert_eq!(files_in(&work), ["hello.coex"]);
}

#[test]
fn build_of_a_missing_main_file_is_one_error() {
    let env = Env::new();
    let work = env.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let o = env.coex_in(&work, &["build", "nope.coex"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "error: cannot read nope.coex: file not found\n"
    );
    assert!(files_in(&work).is_empty());
}
