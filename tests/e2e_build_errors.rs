//! `coex build` error paths through the real binary: no compiler, an
//! output folder that does not exist, a main file that does not exist,
//! clashing module and library import names, an https remote cache. Each
//! is one worded error, status 1, and nothing written.

#[path = "e2e/common.rs"]
mod common;

use common::*;
use std::path::{Path, PathBuf};

const HELLO: &str = "func main() -> int\n    print(1)\n    return 0\n~\n";

/// `<env>/work` holding `files` (name, text); names may have folders.
fn work_with(env: &Env, files: &[(&str, &str)]) -> PathBuf {
    let work = env.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for (name, body) in files {
        let path = work.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    work
}

/// Files directly in `dir` (sorted), to see that a failed build wrote nothing.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Builds `main.coex` in `work` with `-L <env>/libs` and asserts one worded
/// failure: status 1, `expected` in stderr, no panic, nothing written.
fn build_refused(env: &Env, work: &Path, expected: &str) {
    let before = files_in(work);
    let libs = env.path().join("libs");
    let o = env.coex_in(
        work,
        &[
            "build",
            "main.coex",
            "-L",
            libs.to_str().unwrap(),
            "-o",
            "app",
        ],
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(files_in(work), before);
}

#[test]
fn build_without_a_compiler_names_the_one_it_looked_for() {
    let env = Env::new();
    let work = work_with(&env, &[("hello.coex", HELLO)]);
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
fn build_into_a_missing_folder_creates_it_only_once_the_build_succeeded() {
    let env = Env::new();
    let work = work_with(
        &env,
        &[
            ("hello.coex", HELLO),
            ("bad.coex", "func main() -> int\n    return nope\n~\n"),
        ],
    );
    let o = env.coex_in(&work, &["build", "bad.coex", "-o", "no/such/dir/bad"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(files_in(&work), ["bad.coex", "hello.coex"]);
    let o = env.coex_in(&work, &["build", "hello.coex", "-o", "no/such/dir/hello"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(work.join("no/such/dir/hello").is_file());
}

#[test]
fn build_of_a_missing_main_file_is_one_error() {
    let env = Env::new();
    let work = work_with(&env, &[]);
    let o = env.coex_in(&work, &["build", "nope.coex"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "error: cannot read nope.coex: file not found\n"
    );
    assert!(files_in(&work).is_empty());
}

#[test]
fn two_modules_with_one_name_are_refused() {
    let env = Env::new();
    // main finds ./util.coex; lib/helper.coex finds lib/util.coex.
    let work = work_with(
        &env,
        &[
            (
                "main.coex",
                "import helper\nimport util\n\nfunc main() -> int\n    return one() + two()\n~\n",
            ),
            ("util.coex", "func one() -> int\n    return 1\n~\n"),
            (
                "lib/helper.coex",
                "import util\n\nfunc two() -> int\n    return 2\n~\n",
            ),
            ("lib/util.coex", "func three() -> int\n    return 3\n~\n"),
        ],
    );
    build_refused(
        &env,
        &work,
        "two different modules are both imported as 'util'",
    );
}

#[test]
fn one_library_under_two_import_names_is_refused() {
    let env = Env::new();
    let counter = env.pack_example("counter");
    std::fs::copy(&counter, env.path().join("libs/tally.cxz")).unwrap();
    let work = work_with(
        &env,
        &[(
            "main.coex",
            "import \"counter\"\nimport \"tally\"\n\nfunc main() -> int\n    return 0\n~\n",
        )],
    );
    build_refused(
        &env,
        &work,
        "library 'counter' is imported under two names: 'counter'",
    );
}

#[test]
fn two_libraries_under_one_import_name_are_refused() {
    let env = Env::new();
    let counter = env.pack_example("counter");
    let regex = env.pack_example("posix_regex");
    let work = work_with(
        &env,
        &[(
            "main.coex",
            "import \"a/lib.cxz\"\nimport \"b/lib.cxz\"\n\nfunc main() -> int\n    return 0\n~\n",
        )],
    );
    for (dir, archive) in [("a", &counter), ("b", &regex)] {
        std::fs::create_dir_all(work.join(dir)).unwrap();
        std::fs::copy(archive, work.join(dir).join("lib.cxz")).unwrap();
    }
    build_refused(&env, &work, "two different libraries are imported as 'lib'");
}

#[test]
fn an_unsupported_remote_cache_scheme_is_refused_before_building() {
    let env = Env::new();
    let work = work_with(&env, &[("main.coex", HELLO)]);
    let o = env.coex_in(
        &work,
        &[
            "build",
            "main.coex",
            "--remote-cache",
            "ftp://cache.example/x",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr)
            .starts_with("error: unsupported --remote-cache URL 'ftp://cache.example/x'"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("grpc://"),
        "the fix names what works"
    );
    assert_eq!(files_in(&work), ["main.coex"]);
}

#[test]
fn tool_codegen_names_the_missing_cxz_and_the_module_clash() {
    let env = Env::new();
    let work = work_with(
        &env,
        &[(
            "main.coex",
            "import \"counter\"\n\nfunc main() -> int\n    return 0\n~\n",
        )],
    );
    let o = env.coex_in(
        &work,
        &["tool", "codegen", "--main", "main.coex", "-o", "main.o"],
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Library 'counter' not found"), "{stderr}");
    assert!(
        stderr.contains("No --cxz counter=FILE was given; libraries given: none"),
        "{stderr}"
    );
    assert_eq!(files_in(&work), ["main.coex"]);

    std::fs::write(work.join("main.coex"), HELLO).unwrap();
    let o = env.coex_in(
        &work,
        &[
            "tool",
            "codegen",
            "--main",
            "main.coex",
            "--module",
            "main=main.coex",
            "-o",
            "main.o",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "error: --module main has the main file's name\n"
    );
    assert_eq!(files_in(&work), ["main.coex"]);
}
