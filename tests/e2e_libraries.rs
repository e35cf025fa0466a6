//! Programs importing the example libraries (packed to `.cxz` by the real
//! `coex cxz pack`) build and print the right results; a pure-Coex library
//! works; check errors and unsupported constructs fail cleanly; `coex tool
//! codegen` + `coex tool link` (the Bazel path) give a program that behaves
//! like `coex run`'s.

#[path = "e2e/common.rs"]
mod common;
#[path = "support/real_zip.rs"]
mod real_zip;

use common::*;
use real_zip::zip_r;
use std::path::Path;

fn run_example(env: &Env, program: &str, libs: &[&str]) -> (String, String, Option<i32>) {
    for l in libs {
        env.pack_example(l);
    }
    let main = repo().join("examples").join(program);
    let libdir = env.path().join("libs");
    let o = env.coex_in(
        env.path(),
        &[
            "run",
            main.to_str().unwrap(),
            "-L",
            libdir.to_str().unwrap(),
        ],
    );
    (text(&o.stdout), text(&o.stderr), o.status.code())
}

#[test]
fn counter_library_gives_each_task_its_own_instance() {
    let env = Env::new();
    let (out, err, st) = run_example(&env, "counter_demo.coex", &["counter"]);
    assert_eq!(st, Some(0), "{err}");
    // bump(5) → 5; a handle counter from 100 plus 23; its label; each task's
    // fresh instance counts only its own bumps; the parent's count is still 5.
    assert_eq!(out, "5\n123\ncounter #1 = 123\n10\n20\n30\n40\n5\n");
}

#[test]
fn posix_regex_library_matches_counts_and_finds() {
    let env = Env::new();
    let (out, err, st) = run_example(&env, "regex_demo.coex", &["posix_regex"]);
    assert_eq!(st, Some(0), "{err}");
    // "[0-9]+" matches "abc 123"; 4 runs of digits; first digit of "order 66"
    // at byte 6; "^h.*o$" matches hello; 3 a's in banana; "(" does not
    // compile; digits per document: 2, 0, 3.
    assert_eq!(out, "true\n4\n6\ntrue\n3\nfalse\n2\n0\n3\n");
}

#[test]
fn zlib_library_checksums_match_python_zlib() {
    let env = Env::new();
    let (out, err, st) = run_example(&env, "zlib_demo.coex", &["zlib"]);
    assert_eq!(st, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let py = |expr: &str| {
        let o = std::process::Command::new("python3")
            .args(["-c", &format!("import zlib; print({expr})")])
            .output()
            .expect("python3");
        text(&o.stdout).trim().to_string()
    };
    assert_eq!(lines[0], py("zlib.crc32(b'hello')"));
    assert_eq!(lines[1], py("zlib.adler32(b'hello')"));
    assert_eq!(&lines[2..4], ["true", "true"]);
    assert_eq!(lines.len(), 5, "{out}");
}

#[test]
fn a_pure_coex_library_needs_no_c() {
    let env = Env::new();
    let (out, err, st) = run_example(&env, "textkit_demo.coex", &["textkit"]);
    assert_eq!(st, Some(0), "{err}");
    assert_eq!(out, "   one\n   two\n three\na, b, c\n");
}

#[test]
fn check_errors_print_the_front_end_diagnostics() {
    let env = Env::new();
    std::fs::write(
        env.path().join("bad.coex"),
        "func main() -> int\n    x = 1\n    return y\n~\n",
    )
    .unwrap();
    let o = env.coex_in(env.path(), &["build", "bad.coex"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("bad.coex:3:12"), "{err}");
    assert!(
        err.contains("error: could not compile `bad.coex` due to 1 error"),
        "{err}"
    );
    assert!(!env.path().join("bad").exists(), "no executable on failure");
}

#[test]
fn unsupported_constructs_are_errors_at_their_position() {
    let env = Env::new();
    // Found by the back-end bridge.
    std::fs::write(
        env.path().join("app.coex"),
        "extern labs(x: int) -> int\n\nfunc main() -> int\n    select\n        case a = labs(1):\n            print(a)\n        ~\n        case b = labs(2):\n            print(b)\n        ~\n    ~\n    return 0\n~\n",
    )
    .unwrap();
    let o = env.coex_in(env.path(), &["run", "app.coex"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("error: not supported yet: `select` with more than one call arm"),
        "{err}"
    );
    assert!(err.contains("app.coex:4:5"), "{err}");
    // Found by the front end.
    std::fs::write(
        env.path().join("maps.coex"),
        "func main() -> int\n    m = {1: 2}\n    return 0\n~\n",
    )
    .unwrap();
    let o = env.coex_in(env.path(), &["build", "maps.coex"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("not supported yet: maps and sets"), "{err}");
    assert!(err.contains("maps.coex:2:"), "{err}");
    assert!(!env.path().join("maps").exists());
    std::fs::write(
        env.path().join("nomain.coex"),
        "func helper() -> int\n    return 1\n~\n",
    )
    .unwrap();
    let o = env.coex_in(env.path(), &["build", "nomain.coex"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("this program has no `func main()`"));
}

#[test]
fn a_missing_library_names_the_places_searched() {
    let env = Env::new();
    std::fs::write(
        env.path().join("app.coex"),
        "import \"nosuchlib\"\nfunc main()\n    print(1)\n~\n",
    )
    .unwrap();
    let o = env.coex_in(env.path(), &["build", "app.coex"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("Library 'nosuchlib' not found"), "{err}");
    assert!(err.contains("./lib/nosuchlib.cxz"), "{err}");
}

#[test]
fn run_passes_arguments_and_exit_status_through() {
    let env = Env::new();
    std::fs::write(
        env.path().join("st.coex"),
        "func main() -> int\n    print(\"out\")\n    return 7\n~\n",
    )
    .unwrap();
    let o = env.coex_in(env.path(), &["run", "st.coex", "--", "ignored-arg"]);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(text(&o.stdout), "out\n", "build output stays off stdout");
}

#[test]
fn the_bazel_tool_path_builds_the_same_program() {
    let env = Env::new();
    let cxz = env.pack_example("counter");
    let main = repo().join("examples/counter_demo.coex");
    let d = env.path();
    let p = |x: &std::path::Path| x.to_str().unwrap().to_string();
    let obj = p(&d.join("prog.o"));
    let rt = p(&d.join("rt.o"));
    let img = p(&d.join("libcounter.so"));
    let exe = p(&d.join("app"));
    let lib = format!("counter={}", p(&cxz));
    for args in [
        vec![
            "tool",
            "codegen",
            "--main",
            main.to_str().unwrap(),
            "--cxz",
            &lib,
            "-o",
            &obj,
        ],
        vec!["tool", "runtime", "--cc", "/usr/bin/clang", "-o", &rt],
        vec![
            "tool",
            "ffi-unit",
            "--cxz",
            cxz.to_str().unwrap(),
            "--unit",
            "counter",
            "--cc",
            "/usr/bin/clang",
            "-o",
            &img,
        ],
    ] {
        let o = env.coex_in(d, &args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    }
    let unit = format!("counter:counter={img}");
    let o = env.coex_in(
        d,
        &[
            "tool",
            "link",
            "--object",
            &obj,
            "--runtime",
            &rt,
            "--cxz",
            &lib,
            "--unit-image",
            &unit,
            "--cc",
            "/usr/bin/clang",
            "-o",
            &exe,
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let ran = std::process::Command::new(&exe).output().unwrap();
    let (out, _, _) = run_example(&env, "counter_demo.coex", &[]);
    assert_eq!(text(&ran.stdout), out);
}

#[test]
fn pack_and_verify_check_externs_against_the_manifest() {
    let env = Env::new();
    let lib = env.path().join("badlib");
    let src = repo().join("examples/libs/counter");
    let o = std::process::Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&lib)
        .status()
        .unwrap();
    assert!(o.success());
    let module = lib.join("src/counter.coex");
    let t = std::fs::read_to_string(&module).unwrap();
    assert!(t.contains("extern coex_counter_get() -> int"));
    std::fs::write(
        &module,
        t.replace(
            "extern coex_counter_get() -> int",
            "extern coex_counter_get() -> string",
        ),
    )
    .unwrap();
    let want = "src/counter.coex:9: extern 'coex_counter_get' is declared as () -> string here but as () -> int in manifest.toml [[ffi.counter.symbols]]";

    let o = env.coex_in(env.path(), &["cxz", "pack", "badlib", "-o", "bad.cxz"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains(want), "{}", text(&o.stderr));
    assert!(!env.path().join("bad.cxz").exists(), "nothing written");

    // The same library zipped by hand: verify finds the same problem.
    zip_r(
        &lib,
        &["-X"],
        Path::new("../bad.cxz"),
        &["manifest.toml", "src", "ffi"],
    );
    let o = env.coex_in(env.path(), &["cxz", "verify", "bad.cxz"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains(want), "{}", text(&o.stderr));

    let good = env.pack_example("counter");
    let o = env.coex_in(env.path(), &["cxz", "verify", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn check_reads_packed_and_unpacked_libraries() {
    let env = Env::new();
    env.pack_example("posix_regex");
    let main = repo().join("examples/regex_demo.coex");
    let libs = env.path().join("libs");
    let o = env.coex_in(
        env.path(),
        &[
            "check",
            main.to_str().unwrap(),
            "-L",
            libs.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // A copy beside no lib/ folder: only the unpacked library can be found.
    let copy = env.path().join("app.coex");
    std::fs::copy(&main, &copy).unwrap();
    let unpacked = repo().join("examples/libs");
    let o = env.coex_in(
        env.path(),
        &[
            "check",
            copy.to_str().unwrap(),
            "-L",
            unpacked.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn within_abandons_a_slow_ffi_call_and_select_runs_its_arm() {
    let env = Env::new();
    let lib = env.path().join("slowlib");
    std::fs::create_dir_all(lib.join("src")).unwrap();
    std::fs::create_dir_all(lib.join("ffi/src")).unwrap();
    std::fs::write(
        lib.join("manifest.toml"),
        "[library]\nname = \"slowlib\"\nversion = \"0.1.0\"\nsource = [\"slowlib.coex\"]\n\n\
         [ffi.slow]\nsource = [\"slow.c\"]\n\n[[ffi.slow.symbols]]\nname = \"slow_ms\"\nparams = [\"int\"]\nreturns = \"int\"\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("src/slowlib.coex"),
        "extern slow_ms(ms: int) -> int\n~\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("ffi/src/slow.c"),
        "#define _POSIX_C_SOURCE 199309L\n#include <stdint.h>\n#include <time.h>\n\
         int64_t slow_ms(int64_t ms) {\n    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };\n    nanosleep(&t, 0);\n    return ms;\n}\n",
    )
    .unwrap();
    std::fs::create_dir_all(env.path().join("lib")).unwrap();
    let o = env.coex_in(
        env.path(),
        &["cxz", "pack", "slowlib", "-o", "lib/slowlib.cxz"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::write(
        env.path().join("app.coex"),
        "import \"slowlib\"\n\nfunc main() -> int\n    within 20 * time.millisecond\n        print(slow_ms(5000))\n    else\n        print(\"timed out\")\n    ~\n\
         \x20   within 5 * time.second\n        print(slow_ms(1))\n    else\n        print(\"timed out\")\n    ~\n\
         \x20   select\n        case r = slow_ms(3):\n            print(r)\n        ~\n        case ResourceExhausted:\n            print(\"busy\")\n        ~\n    ~\n    return 0\n~\n",
    )
    .unwrap();
    let o = env.coex_in(env.path(), &["run", "app.coex"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "timed out\n1\n3\n");
    // timed again with the build cached: the program's time, not the build's
    let start = std::time::Instant::now();
    let o = env.coex_in(env.path(), &["run", "app.coex"]);
    assert_eq!(text(&o.stdout), "timed out\n1\n3\n");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(4),
        "the 5 s call was abandoned"
    );
}

/// Writes library `name` under `<env>/src/<name>` and packs it to
/// `<env>/lib/<name>.cxz`: one FFI unit `u` whose files have the same
/// names in every such library (`u.c`, `u.h`), a C global `value()` of the
/// same name, and the extern `<name>_get` (value × 100 + calls so far).
fn pack_unit_u_library(env: &Env, name: &str, value: i64) -> std::path::PathBuf {
    let lib = env.path().join("src").join(name);
    std::fs::create_dir_all(lib.join("src")).unwrap();
    std::fs::create_dir_all(lib.join("ffi/src")).unwrap();
    std::fs::write(
        lib.join("manifest.toml"),
        format!(
            "[library]\nname = \"{name}\"\nversion = \"1.0.0\"\n\n\
             [ffi.u]\nsource = [\"u.c\"]\nheaders = [\".\"]\n\n\
             [[ffi.u.symbols]]\nname = \"{name}_get\"\nreturns = \"int\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        lib.join(format!("src/{name}.coex")),
        format!("extern {name}_get() -> int\n~\n"),
    )
    .unwrap();
    std::fs::write(lib.join("ffi/src/u.h"), format!("#define VALUE {value}\n")).unwrap();
    std::fs::write(
        lib.join("ffi/src/u.c"),
        format!(
            "#include <stdint.h>\n#include \"u.h\"\nstatic int64_t calls;\n\
             int64_t value(void) {{ return VALUE; }}\n\
             int64_t {name}_get(void) {{ calls += 1; return value() * 100 + calls; }}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(env.path().join("lib")).unwrap();
    let out = env.path().join("lib").join(format!("{name}.cxz"));
    let o = env.coex_in(
        env.path(),
        &[
            "cxz",
            "pack",
            lib.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    out
}

#[test]
fn two_libraries_may_each_have_a_unit_u() {
    let env = Env::new();
    let d = env.path();
    let (a, b) = (
        pack_unit_u_library(&env, "liba", 11),
        pack_unit_u_library(&env, "libb", 22),
    );
    std::fs::write(
        d.join("app.coex"),
        "import \"liba\"\nimport \"libb\"\n\nfunc main() -> int\n    print(liba_get())\n    print(libb_get())\n    print(liba_get())\n    return 0\n~\n",
    )
    .unwrap();
    let want = "1101\n2201\n1102\n";
    let o = env.coex_in(d, &["build", "app.coex", "-o", "app"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    let ran = actions_that(&text(&o.stderr), "ran");
    for id in [
        "compile:liba/u/u.c",
        "link:liba/u",
        "compile:libb/u/u.c",
        "link:libb/u",
    ] {
        assert!(ran.iter().any(|r| r == id), "{id} in {ran:?}");
    }
    let run = std::process::Command::new(d.join("app")).output().unwrap();
    assert_eq!(text(&run.stdout), want, "{}", text(&run.stderr));

    // The Bazel path: one image per library, named by library in --unit-image.
    let p = |x: &std::path::Path| x.to_str().unwrap().to_string();
    let (obj, rt, exe) = (
        p(&d.join("a.o")),
        p(&d.join("rt.o")),
        p(&d.join("tool_app")),
    );
    let libs = [format!("liba={}", p(&a)), format!("libb={}", p(&b))];
    let mut steps = vec![
        vec![
            "tool", "codegen", "--main", "app.coex", "--cxz", &libs[0], "--cxz", &libs[1], "-o",
            &obj,
        ],
        vec!["tool", "runtime", "--cc", "/usr/bin/clang", "-o", &rt],
    ];
    let images: Vec<(String, String)> = [("liba", &a), ("libb", &b)]
        .iter()
        .map(|(name, cxz)| {
            let folder = d.join(format!("{name}_ffi"));
            std::fs::create_dir_all(&folder).unwrap();
            (p(cxz), p(&folder.join("libu.so")))
        })
        .collect();
    for (cxz, image) in &images {
        steps.push(vec![
            "tool",
            "ffi-unit",
            "--cxz",
            cxz,
            "--unit",
            "u",
            "--cc",
            "/usr/bin/clang",
            "-o",
            image,
        ]);
    }
    let units = [
        format!("liba:u={}", images[0].1),
        format!("libb:u={}", images[1].1),
    ];
    steps.push(vec![
        "tool",
        "link",
        "--object",
        &obj,
        "--runtime",
        &rt,
        "--cxz",
        &libs[0],
        "--cxz",
        &libs[1],
        "--unit-image",
        &units[0],
        "--unit-image",
        &units[1],
        "--cc",
        "/usr/bin/clang",
        "-o",
        &exe,
    ]);
    for args in steps {
        let o = env.coex_in(d, &args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    }
    let run = std::process::Command::new(&exe).output().unwrap();
    assert_eq!(text(&run.stdout), want, "{}", text(&run.stderr));
}
