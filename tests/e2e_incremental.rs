//! Incremental and reproducible program builds through the executor:
//! exactly the right actions re-run after each kind of edit, and the same
//! program built in two directories with two empty caches gives
//! byte-identical executables.

#[path = "e2e/common.rs"]
mod common;
#[path = "support/nginx.rs"]
mod nginx;

use common::*;
use std::path::Path;

const APP: &str =
    "import \"counter\"\n\nfunc main() -> int\n    print(counter_bump(3))\n    return 0\n~\n";

/// A project: a copy of the counter library's sources, packed into
/// `libs/`, and `app.coex` importing it.
fn project(env: &Env, root: &Path) {
    let src = repo().join("examples/libs/counter");
    copy_dir(&src, &root.join("counter"));
    std::fs::write(root.join("app.coex"), APP).unwrap();
    pack(env, root);
}

fn pack(env: &Env, root: &Path) {
    std::fs::create_dir_all(root.join("libs")).unwrap();
    let o = env.coex_in(root, &["cxz", "pack", "counter", "-o", "libs/counter.cxz"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// Builds `app` (`-v`), checks what it prints, returns the build's
/// status lines (stderr; stdout stays empty).
fn build_expect(env: &Env, root: &Path, prints: &str) -> String {
    let o = env.coex_in(
        root,
        &["build", "-v", "app.coex", "-L", "libs", "-o", "app"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "", "coex build prints nothing on stdout");
    let out = text(&o.stderr);
    let run = std::process::Command::new(root.join("app"))
        .output()
        .unwrap();
    assert_eq!(text(&run.stdout), prints, "the built program runs");
    out
}

fn build(env: &Env, root: &Path) -> String {
    build_expect(env, root, "3\n")
}

fn append(path: &Path, extra: &str) {
    let mut s = std::fs::read_to_string(path).unwrap();
    s.push_str(extra);
    std::fs::write(path, s).unwrap();
}

#[test]
fn only_the_actions_an_edit_touches_run_again() {
    let env = Env::new();
    let root = env.path().join("proj");
    project(&env, &root);

    let first = build(&env, &root);
    let ran = actions_that(&first, "ran");
    assert!(ran.contains(&"codegen:app".to_string()), "{first}");
    assert!(
        ran.contains(&"compile:counter/counter/counter.c".to_string()),
        "{first}"
    );
    assert!(ran.iter().any(|a| a.starts_with("runtime:")), "{first}");
    assert!(first.contains(&format!(
        "{} actions: {} ran, 0 cached, 0 remote",
        ran.len(),
        ran.len()
    )));

    // Nothing changed: nothing runs.
    let again = build(&env, &root);
    assert!(actions_that(&again, "ran").is_empty(), "{again}");
    assert!(
        again.contains(&format!(
            "{} actions: 0 ran, {} cached",
            ran.len(),
            ran.len()
        )),
        "{again}"
    );

    // Coex code only: codegen and the final link.
    let app = std::fs::read_to_string(root.join("app.coex")).unwrap();
    std::fs::write(
        root.join("app.coex"),
        app.replace("    return 0", "    print(\"edited\")\n    return 0"),
    )
    .unwrap();
    let coex_edit = build_expect(&env, &root, "3\nedited\n");
    assert_eq!(
        actions_that(&coex_edit, "ran"),
        ["codegen:app", "link:app"],
        "{coex_edit}"
    );

    // A comment: codegen re-runs, gives the same object, so the link is a
    // cache hit (early cutoff).
    append(&root.join("app.coex"), "\n# a comment\n");
    let comment = build_expect(&env, &root, "3\nedited\n");
    assert_eq!(actions_that(&comment, "ran"), ["codegen:app"], "{comment}");

    // A library's Coex module only: no clang compile of its C code.
    let steps = root.join("counter/src/counter.coex");
    let text_before = std::fs::read_to_string(&steps).unwrap();
    assert!(text_before.contains("        i += 1"));
    std::fs::write(
        &steps,
        text_before.replace("        i += 1", "        i += 2"),
    )
    .unwrap();
    pack(&env, &root);
    // counter_bump(3) now increments twice (i = 0, 2).
    let lib_coex_edit = build_expect(&env, &root, "2\nedited\n");
    assert_eq!(
        actions_that(&lib_coex_edit, "ran"),
        ["codegen:app", "link:app"],
        "{lib_coex_edit}"
    );

    // One C file only: its compile, its unit link and the final link.
    append(
        &root.join("counter/ffi/src/counter.c"),
        "\nint coex_counter_edit_marker(void) { return 1; }\n",
    );
    pack(&env, &root);
    let c_edit = build_expect(&env, &root, "2\nedited\n");
    assert_eq!(
        actions_that(&c_edit, "ran"),
        [
            "compile:counter/counter/counter.c",
            "link:app",
            "link:counter/counter"
        ],
        "{c_edit}"
    );
}

#[test]
fn two_directories_and_two_empty_caches_give_identical_executables() {
    let env = Env::new();
    let mut bins = Vec::new();
    for name in ["one", "two-elsewhere"] {
        let root = env.path().join(name).join("nested");
        project(&env, &root);
        let cache = env.path().join(format!("cache-{name}"));
        let o = env.coex_with_cache(
            &root,
            &cache,
            &["build", "-v", "app.coex", "-L", "libs", "-o", "app"],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            actions_that(&text(&o.stderr), "cached").is_empty(),
            "empty cache"
        );
        bins.push(std::fs::read(root.join("app")).unwrap());
    }
    assert!(bins[0].len() > 10_000);
    assert!(bins[0] == bins[1], "executables differ");
}

#[test]
fn plan_covers_the_whole_program_graph() {
    let env = Env::new();
    let root = env.path().join("proj");
    project(&env, &root);
    let o = env.coex_in(&root, &["plan", "app.coex", "-L", "libs", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "coex-plan-v1");
    let ids: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    for want in [
        "codegen:app",
        "compile:counter/counter/counter.c",
        "link:counter/counter",
        "runtime:rt_main.c",
        "link:app",
    ] {
        assert!(ids.contains(&want), "{ids:?}");
    }
    let codegen = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "codegen:app")
        .unwrap();
    assert!(
        codegen["key"].is_string(),
        "codegen's inputs are all known at plan time"
    );
    let inputs = codegen["inputs"].as_object().unwrap();
    assert!(inputs.contains_key("coex/app.coex") && inputs.contains_key("cxz/counter.cxz"));
    // Nothing was built, nothing was written to the cache.
    assert!(!root.join("app").exists());
    assert!(!env.path().join("cache").exists());
}

#[test]
fn a_second_machine_gets_every_action_from_the_remote_cache() {
    let env = Env::new();
    let server = nginx::Nginx::start();
    let url = server.url();
    let root = env.path().join("proj");
    project(&env, &root);
    let args = [
        "build",
        "app.coex",
        "-L",
        "libs",
        "-o",
        "app",
        "--remote-cache",
        url.as_str(),
    ];
    let o = env.coex_with_cache(&root, &env.path().join("cache-a"), &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let first = text(&o.stderr);
    let n = actions_that(&first, "ran").len();
    assert!(n >= 12, "{first}");

    // Another cache (another machine): everything comes from the remote.
    let o = env.coex_with_cache(&root, &env.path().join("cache-b"), &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let second = text(&o.stderr);
    assert!(
        second.contains(&format!("{n} actions: 0 ran, 0 cached, {n} remote")),
        "{second}"
    );
    let run = std::process::Command::new(root.join("app"))
        .output()
        .unwrap();
    assert_eq!(text(&run.stdout), "3\n");
}
