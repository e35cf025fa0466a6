//! `coex check` end to end: imports on disk, libraries found with `-L`,
//! import cycles, unreadable input and pathological nesting.

#[path = "support/isolated.rs"]
mod isolated;

use assert_cmd::Command;
use isolated::isolated_coex;
use predicates::prelude::*;
use std::path::Path;

fn coex(dir: &Path) -> Command {
    isolated_coex(dir, &dir.join("cache"), &dir.join("home"))
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

#[test]
fn import_cycle_is_named_as_the_cycle() {
    let t = tempfile::tempdir().expect("tempdir");
    write(
        t.path(),
        "a.coex",
        "import b\nfunc main()\n    print(from_b())\n~\n",
    );
    write(
        t.path(),
        "b.coex",
        "import a\nfunc from_b() -> int\n    return 1\n~\n",
    );
    coex(t.path())
        .args(["check", "a.coex"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: import cycle: a.coex → b.coex → a.coex",
        ))
        .stderr(predicate::str::contains("--> b.coex:1:1"));
}

#[test]
fn modules_are_found_beside_the_file_then_in_lib() {
    let t = tempfile::tempdir().expect("tempdir");
    write(
        t.path(),
        "app/main.coex",
        "import near\nimport far\nfunc main() -> int\n    return near_value() + far_value()\n~\n",
    );
    write(
        t.path(),
        "app/near.coex",
        "formula near_value() -> int\n    return 1\n~\n",
    );
    write(
        t.path(),
        "app/lib/far.coex",
        "formula far_value() -> int\n    return 2\n~\n",
    );
    coex(t.path())
        .args(["check", "app/main.coex"])
        .assert()
        .success()
        .stderr("");
    // From another directory the same program still resolves.
    coex(&t.path().join("app"))
        .args(["check", "main.coex"])
        .assert()
        .success();
}

#[test]
fn libraries_are_found_with_dash_l_and_checked_against_their_manifest() {
    let t = tempfile::tempdir().expect("tempdir");
    write(
        t.path(),
        "libs/counter/manifest.toml",
        "[library]\nname = \"counter\"\nversion = \"1.0.0\"\nsource = [\"counter.coex\"]\n\n[[ffi.core.symbols]]\nname = \"counter_new\"\nparams = [\"int\"]\nreturns = \"int\"\n",
    );
    write(
        t.path(),
        "libs/counter/src/counter.coex",
        "extern counter_new(start: int) -> int\n~\nfunc make_counter(start: int) -> int\n    return counter_new(start)\n~\n",
    );
    write(
        t.path(),
        "app.coex",
        "import \"counter\"\nfunc main() -> int\n    c = make_counter(3)\n    return c\n~\n",
    );
    coex(t.path())
        .args(["check", "app.coex"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("error: Library 'counter' not found").and(
                predicate::str::contains("coex pkg install path/to/counter.cxz"),
            ),
        );
    coex(t.path())
        .args(["check", "app.coex", "-L", "libs"])
        .assert()
        .success()
        .stderr("");
    // The same library with an extern the manifest does not agree with.
    write(
        t.path(),
        "libs/counter/src/counter.coex",
        "extern counter_new(start: float) -> int\n~\nfunc make_counter(start: int) -> int\n    return counter_new(1.0)\n~\n",
    );
    coex(t.path())
        .args(["check", "app.coex", "-L", "libs"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: extern 'counter_new' does not match the manifest of library 'counter': the extern declares (float) -> int, manifest.toml declares (int) -> int",
        ))
        .stderr(predicate::str::contains("--> counter.cxz/src/counter.coex:1:8"));
}

#[test]
fn missing_and_non_utf8_files_are_clear_errors() {
    let t = tempfile::tempdir().expect("tempdir");
    coex(t.path())
        .args(["check", "nope.coex"])
        .assert()
        .code(1)
        .stderr("error: cannot read nope.coex: file not found\n");
    std::fs::write(
        t.path().join("bin.coex"),
        [0x66, 0x75, 0x6e, 0xff, 0xfe, 0x0a],
    )
    .expect("write");
    coex(t.path())
        .args(["check", "bin.coex"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: bin.coex is not valid UTF-8 (first bad byte at offset 3)",
        ));
}

#[test]
fn ten_thousand_nested_parentheses_are_an_error_not_a_crash() {
    let t = tempfile::tempdir().expect("tempdir");
    let src = format!(
        "func main()\n    x = {}1{}\n~\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    write(t.path(), "deep.coex", &src);
    coex(t.path())
        .args(["check", "deep.coex"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: nesting too deep: more than 256 levels of blocks or parentheses",
        ));
}

#[test]
fn ten_thousand_nested_blocks_are_an_error_not_a_crash() {
    let t = tempfile::tempdir().expect("tempdir");
    let mut src = String::from("func main()\n");
    for i in 0..10_000 {
        src.push_str(&" ".repeat(i % 80));
        src.push_str("if true\n");
    }
    for _ in 0..10_000 {
        src.push_str("~\n");
    }
    src.push_str("~\n");
    write(t.path(), "blocks.coex", &src);
    coex(t.path())
        .args(["check", "blocks.coex"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error: nesting too deep"));
    // Also deep lists and `not` chains.
    let src = format!(
        "func main()\n    x = {}1{}\n    y = {}true\n~\n",
        "[".repeat(5_000),
        "]".repeat(5_000),
        "not ".repeat(5_000)
    );
    write(t.path(), "lists.coex", &src);
    coex(t.path())
        .args(["check", "lists.coex"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error: nesting too deep"));
}

#[test]
fn depth_just_under_the_limit_checks_clean() {
    let t = tempfile::tempdir().expect("tempdir");
    let src = format!(
        "func main()\n    x = {}1{}\n    print(x)\n~\n",
        "(".repeat(200),
        ")".repeat(200)
    );
    write(t.path(), "ok.coex", &src);
    coex(t.path()).args(["check", "ok.coex"]).assert().success();
}
