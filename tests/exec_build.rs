//! Executor behaviour through the public API, with real clang and a private
//! cache per test.

#[path = "support/exec_fixture.rs"]
mod exec_fixture;

use coex::exec::{
    ActionGraph, ActionSpec, ExecOptions, Executor, InputSource, Satisfied, ToolIdentity,
};
use coex::ffi_build::{build_units, FfiBuildError};
use exec_fixture::*;
use std::collections::BTreeMap;

fn ran_ids(report: &coex::exec::BuildReport) -> Vec<String> {
    report
        .actions
        .iter()
        .filter(|(_, o)| o.satisfied == Satisfied::Ran)
        .map(|(id, _)| id.clone())
        .collect()
}

#[test]
fn incremental_rebuilds_run_exactly_what_changed() {
    let t = tempfile::tempdir().unwrap();
    let (src, cache, out) = (
        t.path().join("src"),
        t.path().join("cache"),
        t.path().join("out"),
    );
    write_unit(&src, 4);
    let opts = options(&cache);

    let first = build_units(&[unit_input(&src, "demo", "u")], &opts, &out).unwrap();
    assert_eq!(
        first.report.summary(),
        "5 actions: 5 ran, 0 cached, 0 remote"
    );
    let image = out.join("libu.so");
    let d1 = file_digest(&image);

    // Second build of the same unit: nothing runs.
    let second = build_units(&[unit_input(&src, "demo", "u")], &opts, &out).unwrap();
    assert_eq!(
        second.report.summary(),
        "5 actions: 0 ran, 5 cached, 0 remote"
    );
    assert_eq!(file_digest(&image), d1);

    // One C file changed: only its compile and the link run.
    std::fs::write(
        src.join("f2.c"),
        "#include \"common.h\"\nlong coex_f2(long x) { return x - 2; }\n",
    )
    .unwrap();
    let third = build_units(&[unit_input(&src, "demo", "u")], &opts, &out).unwrap();
    assert_eq!(
        ran_ids(&third.report),
        vec!["compile:demo/u/f2.c", "link:demo/u"]
    );
    assert_ne!(file_digest(&image), d1);

    // A header changed: every compile re-runs (and the link).
    std::fs::write(
        src.join("util/helper.h"),
        "static inline long helper(long x) { return x * SCALE * 2; }\n",
    )
    .unwrap();
    let fourth = build_units(&[unit_input(&src, "demo", "u")], &opts, &out).unwrap();
    assert_eq!(fourth.report.count(Satisfied::Ran), 5);
}

#[test]
fn same_unit_in_two_directories_gives_identical_images() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Different directory depths, so any leaked path would change the bytes.
    let src_a = a.path().join("src");
    let src_b = b.path().join("some/deeper/place/src");
    write_unit(&src_a, 3);
    write_unit(&src_b, 3);
    let ra = build_units(
        &[unit_input(&src_a, "demo", "u")],
        &options(&a.path().join("cache")),
        &a.path().join("out"),
    )
    .unwrap();
    let rb = build_units(
        &[unit_input(&src_b, "demo", "u")],
        &options(&b.path().join("cache")),
        &b.path().join("out"),
    )
    .unwrap();
    assert_eq!(ra.report.count(Satisfied::Ran), 4);
    assert_eq!(rb.report.count(Satisfied::Ran), 4);
    assert_eq!(
        file_digest(&a.path().join("out/libu.so")),
        file_digest(&b.path().join("out/libu.so"))
    );
    for (id, o) in &ra.report.actions {
        assert_eq!(o.key, rb.report.actions[id].key, "{id}");
        assert_eq!(
            o.result.outputs, rb.report.actions[id].result.outputs,
            "{id}"
        );
    }
}

#[test]
fn corrupted_cas_blob_is_dropped_with_one_warning_and_rebuilt() {
    let t = tempfile::tempdir().unwrap();
    let (src, cache, out) = (
        t.path().join("src"),
        t.path().join("cache"),
        t.path().join("out"),
    );
    write_unit(&src, 2);
    let opts = options(&cache);
    let first = build_units(&[unit_input(&src, "demo", "u")], &opts, &out).unwrap();
    let good = file_digest(&out.join("libu.so"));
    // Corrupt the stored image blob.
    let img = first
        .report
        .output("link:demo/u", "libu.so")
        .unwrap()
        .clone();
    let hex = img.hash.to_hex();
    let path = cache.join("cas").join(&hex[..2]).join(&hex);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();

    let second = build_units(&[unit_input(&src, "demo", "u")], &opts, &out).unwrap();
    assert_eq!(ran_ids(&second.report), vec!["link:demo/u"]);
    assert_eq!(
        second.report.warnings.len(),
        1,
        "{:?}",
        second.report.warnings
    );
    assert!(second.report.warnings[0]
        .to_string()
        .starts_with("warning: dropped corrupt cache entry cas/"));
    assert_eq!(file_digest(&out.join("libu.so")), good);
    assert_eq!(file_digest(&path), hex);
}

#[test]
fn compile_error_has_the_contract_format_and_stops_the_build() {
    let t = tempfile::tempdir().unwrap();
    let (src, cache, out) = (
        t.path().join("src"),
        t.path().join("cache"),
        t.path().join("out"),
    );
    write_unit(&src, 6);
    std::fs::write(src.join("bad.c"), "#include \"missing.h\"\nint x;\n").unwrap();
    let mut opts = options(&cache);
    opts.exec.jobs = 1;
    let mut input = unit_input(&src, "regex", "u");
    // bad.c first: with -j 1 nothing else may start after it fails.
    input.sources.sort_by_key(|s| s != "bad.c");
    let err = build_units(&[input], &opts, &out).unwrap_err();
    assert!(matches!(err, FfiBuildError::CompileFailed { .. }));
    let text = coex::failure::Failure::new(&err).text;
    assert_eq!(
        text,
        "error: FFI compilation failed for 'regex'\n\n\
         Command: clang -c -fPIC -O2 -Isrc -Icoex -std=c99 -DNDEBUG -Werror=date-time -MD -MF obj/bad.c.o.d -o obj/bad.c.o src/bad.c\n\
         Error: src/bad.c:1:10: fatal error: 'missing.h' file not found\n\n\
         Check that all header files are included in the library's src/ directory."
    );
    assert!(!out.join("libu.so").exists());
    // Failed actions store nothing, and no further action started.
    assert!(
        !cache.join("ac").exists() || std::fs::read_dir(cache.join("ac")).unwrap().count() == 0
    );
}

#[test]
fn syntax_error_reports_the_first_error_line() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 1);
    std::fs::write(src.join("f0.c"), "int f(void) { return 1 }\n").unwrap();
    let err = build_units(
        &[unit_input(&src, "demo", "u")],
        &options(&t.path().join("c")),
        &t.path().join("o"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("FFI compilation failed for 'demo'\n\nCommand: clang -c "),
        "{text}"
    );
    assert!(text.contains("\nError: src/f0.c:1:"), "{text}");
    assert!(text.contains(": error: expected ';'"), "{text}");
    assert!(
        text.ends_with(
            "\n\nCheck that all header files are included in the library's src/ directory."
        ),
        "{text}"
    );
}

#[test]
fn missing_system_header_and_pkg_config_package_are_worded() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 1);
    let mut input = unit_input(&src, "tls", "u");
    input.system_headers = vec!["stdio.h".into(), "coex_no_such_dir/ssl.h".into()];
    let err =
        build_units(&[input], &options(&t.path().join("c")), &t.path().join("o")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Missing system dependency for library 'tls'\n\n\
         Required header not found: coex_no_such_dir/ssl.h\n\n\
         Install the development package that provides coex_no_such_dir/ssl.h:\n  \
         Ubuntu/Debian: apt-file search coex_no_such_dir/ssl.h   (then: sudo apt install <package>)\n  \
         macOS:         brew search <library name>\n  \
         Fedora:        dnf provides '*/coex_no_such_dir/ssl.h'"
    );

    // A known package whose header is absent on this machine gets its own hint.
    let absent = [
        "curl/curl.h",
        "libxml/parser.h",
        "pcre2.h",
        "sodium.h",
        "openssl/ssl.h",
        "zlib.h",
    ]
    .into_iter()
    .find(|h| {
        ![
            "/usr/include",
            "/usr/local/include",
            "/usr/include/x86_64-linux-gnu",
        ]
        .iter()
        .any(|d| std::path::Path::new(d).join(h).exists())
    });
    if let Some(h) = absent {
        let mut input = unit_input(&src, "web", "u");
        input.system_headers = vec![h.to_string()];
        let text = build_units(&[input], &options(&t.path().join("c")), &t.path().join("o"))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains(&format!("Required header not found: {h}\n\nInstall the ")),
            "{text}"
        );
        assert!(
            text.contains("  Ubuntu/Debian: sudo apt install lib"),
            "{text}"
        );
    }

    let mut input = unit_input(&src, "z", "u");
    input.pkg_config = vec!["coex-no-such-pkg".into()];
    let text = build_units(&[input], &options(&t.path().join("c")), &t.path().join("o"))
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("Missing system dependency for library 'z'\n\nRequired pkg-config package not found: coex-no-such-pkg\n\n"),
        "{text}"
    );
}

#[test]
fn pkg_config_flags_reach_the_argv_and_the_key() {
    let present = std::process::Command::new("pkg-config")
        .args(["--exists", "zlib"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(present, "this test needs zlib1g-dev (pkg-config zlib)");
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 1);
    std::fs::write(
        src.join("z.c"),
        "#include <zlib.h>\nconst char *coex_zv(void) { return zlibVersion(); }\n",
    )
    .unwrap();
    let mut input = unit_input(&src, "z", "u");
    input.pkg_config = vec!["zlib".into()];
    input.system_headers = vec!["zlib.h".into()];
    let built = build_units(&[input], &options(&t.path().join("c")), &t.path().join("o")).unwrap();
    assert_eq!(built.report.count(Satisfied::Ran), 3);
    let plan = coex::ffi_build::plan_json(&[unit_input(&src, "z", "u")], None).unwrap();
    let mut with_pkg = unit_input(&src, "z", "u");
    with_pkg.pkg_config = vec!["zlib".into()];
    let plan2 = coex::ffi_build::plan_json(&[with_pkg], None).unwrap();
    let link_argv = |p: &serde_json::Value| {
        p["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == "link:z/u")
            .unwrap()["argv"]
            .clone()
    };
    assert!(link_argv(&plan2)
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "-lz"));
    assert_ne!(link_argv(&plan), link_argv(&plan2));
}

#[test]
fn plan_json_is_deterministic_and_lists_dependencies() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 2);
    let p1 = coex::ffi_build::plan_json(&[unit_input(&src, "demo", "u")], None).unwrap();
    let p2 = coex::ffi_build::plan_json(&[unit_input(&src, "demo", "u")], None).unwrap();
    assert_eq!(
        serde_json::to_string(&p1).unwrap(),
        serde_json::to_string(&p2).unwrap()
    );
    let acts = p1["actions"].as_array().unwrap();
    assert_eq!(acts.len(), 3);
    let link = &acts[2];
    assert_eq!(link["id"], "link:demo/u");
    assert_eq!(
        link["dependencies"],
        serde_json::json!(["compile:demo/u/f0.c", "compile:demo/u/f1.c"])
    );
    assert!(acts[0]["key"].as_str().unwrap().len() == 64);
    assert!(acts[0]["inputs"]["src/common.h"]["digest"]["hash"].is_string());
    assert_eq!(acts[0]["env"]["SOURCE_DATE_EPOCH"], "0");
}

/// The generic entry point: any graph, with a tool that is not clang.
#[test]
fn generic_graph_runs_dependencies_first_and_caches() {
    let t = tempfile::tempdir().unwrap();
    let mut g = ActionGraph::new();
    let input = g.add_blob(b"hello\n".to_vec());
    let sh = ToolIdentity {
        name: "sh".into(),
        fingerprint: blake3::hash(&std::fs::read("/bin/sh").unwrap())
            .to_hex()
            .to_string(),
    };
    let mk =
        |id: &str, script: &str, inputs: BTreeMap<String, InputSource>, out: &str| ActionSpec {
            id: id.into(),
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: coex::exec::fixed_env(),
            inputs,
            outputs: vec![out.into()],
            tool: sh.clone(),
            discover: None,
        };
    g.add(mk(
        "upper",
        "tr a-z A-Z < in.txt > out/up.txt",
        BTreeMap::from([("in.txt".into(), InputSource::Blob(input))]),
        "out/up.txt",
    ))
    .unwrap();
    g.add(mk(
        "twice",
        "cat up.txt up.txt > twice.txt",
        BTreeMap::from([(
            "up.txt".into(),
            InputSource::Output {
                action: "upper".into(),
                path: "out/up.txt".into(),
            },
        )]),
        "twice.txt",
    ))
    .unwrap();
    let ex = Executor::new(&ExecOptions::new(t.path()));
    let r = ex.run(&g).unwrap();
    let d = r.output("twice", "twice.txt").unwrap();
    assert_eq!(ex.read_blob(d).unwrap(), b"HELLO\nHELLO\n");
    assert_eq!(r.summary(), "2 actions: 2 ran, 0 cached, 0 remote");
    let r2 = Executor::new(&ExecOptions::new(t.path())).run(&g).unwrap();
    assert_eq!(r2.summary(), "2 actions: 0 ran, 2 cached, 0 remote");
}

#[test]
fn environment_is_fixed_not_inherited() {
    let t = tempfile::tempdir().unwrap();
    let mut g = ActionGraph::new();
    let sh = ToolIdentity {
        name: "sh".into(),
        fingerprint: "0".repeat(64),
    };
    g.add(ActionSpec {
        id: "env".into(),
        argv: vec![
            "/bin/sh".into(),
            "-c".into(),
            "env | sort > env.txt; pwd > pwd.txt".into(),
        ],
        env: coex::exec::fixed_env(),
        inputs: BTreeMap::new(),
        outputs: vec!["env.txt".into(), "pwd.txt".into()],
        tool: sh,
        discover: None,
    })
    .unwrap();
    let ex = Executor::new(&ExecOptions::new(t.path()));
    let r = ex.run(&g).unwrap();
    let env =
        String::from_utf8(ex.read_blob(r.output("env", "env.txt").unwrap()).unwrap()).unwrap();
    assert!(
        env.contains("LC_ALL=C\n") && env.contains("SOURCE_DATE_EPOCH=0\n"),
        "{env}"
    );
    assert!(!env.contains("HOME="), "{env}");
    assert!(!env.contains("CARGO"), "{env}");
    let pwd =
        String::from_utf8(ex.read_blob(r.output("env", "pwd.txt").unwrap()).unwrap()).unwrap();
    assert!(pwd.contains("coex-scratch-"), "{pwd}");
    assert!(
        !std::path::Path::new(pwd.trim()).exists(),
        "scratch dir must be removed"
    );
}

#[test]
fn link_failure_names_the_unit_and_the_missing_library() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write_unit(&src, 1);
    let mut input = unit_input(&src, "demo", "u");
    input.system_libs = vec!["coex_no_such_lib".into()];
    let text = build_units(&[input], &options(&t.path().join("c")), &t.path().join("o"))
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("FFI link failed for 'demo' (unit 'u')\n\nCommand: clang -shared "),
        "{text}"
    );
    assert!(text.contains(" -lcoex_no_such_lib\nError: "), "{text}");
    assert!(text.contains("coex_no_such_lib"), "{text}");
    let error_line = text.lines().find(|l| l.starts_with("Error: ")).unwrap();
    assert!(error_line.contains("cannot find"), "{error_line}");
}
