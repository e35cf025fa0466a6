//! Discovered inputs through the executor's public API with a tool that is
//! not clang (`/bin/sh` writing its own dependency file): the error paths
//! (no dependency file, a read outside the allowed folders) and the
//! two-level key, including a file that changes while the command runs.

use coex::exec::{
    ActionGraph, ActionSpec, Discover, ExecError, ExecOptions, Executor, Satisfied, ToolIdentity,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One action: `script` runs in the scratch dir and must write `out.txt`;
/// it declares `deps.d` as its dependency file.
fn graph(script: &str, allowed: Option<Vec<PathBuf>>) -> ActionGraph {
    let mut g = ActionGraph::new();
    g.add(ActionSpec {
        id: "act".into(),
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: coex::exec::fixed_env(),
        inputs: BTreeMap::new(),
        outputs: vec!["out.txt".into()],
        tool: ToolIdentity {
            name: "sh".into(),
            fingerprint: "0".repeat(64),
        },
        discover: Some(Discover {
            depfiles: vec!["deps.d".into()],
            allowed_roots: allowed,
            search_dirs: Vec::new(),
            preprocess: None,
        }),
    })
    .unwrap();
    g
}

/// A script that copies `host` to out.txt and names it in deps.d.
fn copy_script(host: &Path) -> String {
    let h = host.display();
    format!("cat {h} > out.txt; printf 'out.txt: {h}\\n' > deps.d")
}

/// Writes `text` to `path` and lets the file times age past the executor's
/// "changed while the command ran" window (a file written moments before a
/// command starts is not trusted to be the version it read).
fn write_aged(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(120));
}

fn satisfied(cache: &Path, g: &ActionGraph) -> (Satisfied, Vec<u8>) {
    let ex = Executor::new(&ExecOptions::new(cache));
    let r = ex.run(g).unwrap();
    let d = r.output("act", "out.txt").unwrap();
    (r.actions["act"].satisfied, ex.read_blob(d).unwrap())
}

#[test]
fn a_command_that_writes_no_dependency_file_fails_and_stores_nothing() {
    let t = tempfile::tempdir().unwrap();
    let g = graph("echo hi > out.txt", None);
    let err = Executor::new(&ExecOptions::new(t.path()))
        .run(&g)
        .unwrap_err();
    assert!(
        matches!(&err, ExecError::MissingDepfile { id, path } if id == "act" && path == "deps.d"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "action 'act' did not write its dependency file 'deps.d'"
    );
    assert!(!t.path().join("ac").exists());
}

#[test]
fn a_read_outside_the_allowed_folders_fails_naming_the_file() {
    let t = tempfile::tempdir().unwrap();
    let (inside, outside) = (t.path().join("inside"), t.path().join("outside"));
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let host = outside.join("host.txt");
    std::fs::write(&host, "x").unwrap();
    let cache = t.path().join("cache");
    let g = graph(&copy_script(&host), Some(vec![inside.clone()]));
    let err = Executor::new(&ExecOptions::new(&cache))
        .run(&g)
        .unwrap_err();
    assert!(
        matches!(&err, ExecError::OutsideRead { path, .. } if path == &host),
        "{err}"
    );
    assert!(
        err.to_string().contains(&host.display().to_string()),
        "{err}"
    );
    assert!(
        !cache.join("ac").exists(),
        "a refused action stores nothing"
    );
    // The same read under an allowed folder is fine.
    let g = graph(&copy_script(&host), Some(vec![outside]));
    assert_eq!(satisfied(&cache, &g).0, Satisfied::Ran);
}

#[test]
fn a_changed_host_file_is_a_miss_and_a_restored_one_a_hit() {
    let t = tempfile::tempdir().unwrap();
    let host = t.path().join("host.txt");
    write_aged(&host, "one");
    let cache = t.path().join("cache");
    let g = graph(&copy_script(&host), None);
    assert_eq!(satisfied(&cache, &g), (Satisfied::Ran, b"one".to_vec()));
    assert_eq!(satisfied(&cache, &g), (Satisfied::Cached, b"one".to_vec()));
    write_aged(&host, "two");
    assert_eq!(satisfied(&cache, &g), (Satisfied::Ran, b"two".to_vec()));
    write_aged(&host, "one");
    assert_eq!(satisfied(&cache, &g), (Satisfied::Cached, b"one".to_vec()));
    // A file gone since is a miss too (the script then copies nothing).
    std::fs::remove_file(&host).unwrap();
    assert_eq!(satisfied(&cache, &g), (Satisfied::Ran, Vec::new()));
}

#[test]
fn a_file_changed_while_the_command_ran_is_used_but_not_cached() {
    let t = tempfile::tempdir().unwrap();
    let host = t.path().join("host.txt");
    write_aged(&host, "before");
    let cache = t.path().join("cache");
    // The command reads the file, then something rewrites it.
    let h = host.display();
    let script = format!("cat {h} > out.txt; echo after > {h}; printf 'out.txt: {h}\\n' > deps.d");
    let g = graph(&script, None);
    assert_eq!(satisfied(&cache, &g), (Satisfied::Ran, b"before".to_vec()));
    // Not cached under either version: it runs again.
    write_aged(&host, "before");
    assert_eq!(satisfied(&cache, &g).0, Satisfied::Ran);
}
