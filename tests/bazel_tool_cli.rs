//! `coex tool …` through the real binary: the argv contract the Bazel rules
//! rely on (docs/bazel.md), its errors, and that a failing tool writes nothing.

use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;
use std::path::Path;

fn coex() -> Command {
    let mut cmd = Command::cargo_bin("coex").unwrap();
    // `coex tool` never uses a cache; point any stray use at nowhere useful.
    cmd.env(
        "COEX_CACHE_DIR",
        "/nonexistent/coex-tool-must-not-use-a-cache",
    );
    cmd
}

#[test]
fn tool_is_hidden_from_help_but_documented_on_its_own() {
    coex()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("tool").not());
    coex()
        .args(["tool", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("pack"))
        .stdout(predicate::str::contains("ffi-unit"))
        .stdout(predicate::str::contains("codegen"))
        .stdout(predicate::str::contains("link"));
}

/// Runs `coex tool pack` of a minimal library (`dir/manifest.toml`) with
/// one `--file ARCHIVE_PATH=SOURCE` into `dir/out.cxz`.
fn pack_one_file(dir: &Path, archive_path: &str, source: &Path) -> assert_cmd::assert::Assert {
    let manifest = dir.join("manifest.toml");
    fs::write(&manifest, "[library]\nname = \"x\"\nversion = \"1.0.0\"\n").unwrap();
    coex()
        .args(["tool", "pack", "--manifest"])
        .arg(&manifest)
        .arg("--file")
        .arg(format!("{archive_path}={}", source.display()))
        .arg("-o")
        .arg(dir.join("out.cxz"))
        .assert()
}

#[test]
fn pack_rejects_an_archive_path_outside_the_archive_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.cxz");
    pack_one_file(dir.path(), "../evil.c", &dir.path().join("manifest.toml"))
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: invalid archive path '../evil.c' in --file: it has a '.' or '..' component",
        ));
    assert!(!out.exists());
}

#[test]
fn pack_names_a_missing_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.coex");
    let out = dir.path().join("out.cxz");
    pack_one_file(dir.path(), "src/nope.coex", &missing)
        .code(1)
        .stderr(predicate::str::starts_with(format!(
            "error: cannot read {}",
            missing.display()
        )));
    assert!(!out.exists());
}

#[test]
fn pack_needs_a_root_or_a_manifest() {
    coex()
        .args(["tool", "pack", "-o", "x.cxz"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--manifest"));
}

#[test]
fn bad_names_in_program_specs_are_rejected_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.o");
    coex()
        .args([
            "tool",
            "codegen",
            "--main",
            "main.coex",
            "--cxz",
            "bad-name=x.cxz",
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: invalid name 'bad-name' in --cxz",
        ));
    coex()
        .args([
            "tool",
            "link",
            "--object",
            "a.o",
            "--runtime",
            "rt.a",
            "--cc",
            "/usr/bin/clang",
            "--unit-image",
            "greet=libgreet.so",
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: invalid --unit-image value 'greet=libgreet.so': expected NAME:UNIT=FILE",
        ));
    assert!(!out.exists());
}

/// A program calling the example greet library's C function through its FFI
/// unit, as the back end's IR (the front end that would produce it from
/// `print(coex_greet_add(40, 2))` is not part of this build).
fn greet_program() -> coex::codegen::ir::Program {
    use coex::codegen::ir::*;
    let loc = SrcLoc {
        file: "main.coex".into(),
        line: 1,
        text: "print(coex_greet_add(40, 2))".into(),
    };
    let int = |i| Expr {
        kind: ExprKind::Lit(Literal::Int(i)),
        ty: Type::Int,
        loc: loc.clone(),
    };
    let call = Expr {
        kind: ExprKind::CallExtern(ExternId(0), vec![int(40), int(2)]),
        ty: Type::Int,
        loc: loc.clone(),
    };
    let print = Expr {
        kind: ExprKind::Builtin(Builtin::Print(Box::new(call))),
        ty: Type::Void,
        loc: loc.clone(),
    };
    Program {
        functions: vec![Function {
            name: "main".into(),
            kind: FuncKind::Func,
            params: 0,
            locals: vec![],
            ret: Type::Int,
            body: vec![Stmt::Expr(print), Stmt::Return(Some(int(0)))],
        }],
        entry: Some(FuncId(0)),
        externs: vec![Extern {
            name: "coex_greet_add".into(),
            params: vec![Type::Int, Type::Int],
            ret: Type::Int,
            ffi: Some(FfiRef { unit: 0, symbol: 0 }),
        }],
        ffi_units: vec![FfiUnit {
            library: "greet".into(),
            unit: "greet".into(),
            symbols: vec!["coex_greet_add".into()],
        }],
        ..Program::default()
    }
}

#[test]
fn pack_ffi_unit_runtime_and_link_make_a_program_that_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let greet = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bazel/greet");
    let file = |archive: &str| format!("{archive}={}", greet.join(archive).display());
    coex()
        .args(["tool", "pack", "--manifest"])
        .arg(greet.join("manifest.toml"))
        .args(["--file", &file("src/greet.coex")])
        .args(["--file", &file("ffi/src/greet.c")])
        .args(["--file", &file("ffi/src/greet.h")])
        .arg("-o")
        .arg(d.join("greet.cxz"))
        .assert()
        .success();
    // Tools run from their own working directory with relative paths, as
    // under Bazel; clang is given by path, nothing is inherited.
    let tool = |args: &[&str]| {
        let mut cmd = coex();
        cmd.current_dir(d)
            .env_clear()
            .env("LC_ALL", "C")
            .env("HOME", d.join("home"))
            .arg("tool")
            .args(args);
        cmd
    };
    tool(&[
        "ffi-unit",
        "--cxz",
        "greet.cxz",
        "--unit",
        "greet",
        "--cc",
        "/usr/bin/clang",
        "-o",
        "libgreet.so",
    ])
    .assert()
    .success();
    // Every unit of the manifest into one folder (cxz_library without
    // `units`): the same image bytes, named lib<unit>.so, nothing else.
    tool(&[
        "ffi-units",
        "--cxz",
        "greet.cxz",
        "--cc",
        "/usr/bin/clang",
        "-o",
        "units",
    ])
    .assert()
    .success();
    let names: Vec<_> = fs::read_dir(d.join("units"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["libgreet.so"]);
    assert_eq!(
        fs::read(d.join("units/libgreet.so")).unwrap(),
        fs::read(d.join("libgreet.so")).unwrap()
    );
    tool(&["runtime", "--cc", "/usr/bin/clang", "-o", "coex_rt.o"])
        .assert()
        .success();
    let object = coex::codegen::compile_program(&greet_program()).unwrap();
    fs::write(d.join("program.o"), object).unwrap();
    let link = |unit_images: &[&str], out: &str| {
        let mut args = vec![
            "link",
            "--object",
            "program.o",
            "--runtime",
            "coex_rt.o",
            "--cxz",
            "greet=greet.cxz",
        ];
        for image in unit_images {
            args.extend(["--unit-image", image]);
        }
        args.extend(["--cc", "/usr/bin/clang", "-o", out]);
        tool(&args).assert()
    };
    link(&["greet:greet=libgreet.so"], "app").success();
    let run = std::process::Command::new(d.join("app")).output().unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout), "42\n");
    // No tool used a cache in $HOME (the build system caches).
    assert!(!d.join("home").exists());
    // The same inputs link to the same bytes.
    link(&["greet:greet=libgreet.so"], "app2").success();
    assert_eq!(
        fs::read(d.join("app")).unwrap(),
        fs::read(d.join("app2")).unwrap()
    );

    // Leaving a unit out is an error naming it, and writes nothing.
    link(&[], "app3")
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: no image for FFI unit 'greet' of library 'greet'",
        ));
    assert!(!d.join("app3").exists());
}

#[test]
fn codegen_checks_the_program_with_only_the_named_modules_and_libraries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("app")).unwrap();
    fs::write(
        d.join("app/main.coex"),
        "import util\nimport \"mylib\"\n\nfunc main() -> int\n    print(double(\"x\"))\n    return 0\n~\n",
    )
    .unwrap();
    fs::create_dir_all(d.join("elsewhere")).unwrap();
    fs::write(
        d.join("elsewhere/util_impl.coex"),
        "formula double(x: int) -> int\n    return x * 2\n~\n",
    )
    .unwrap();
    // Errors name the file by its name, never a scratch directory; the
    // module comes from --module although it lives elsewhere; the library
    // is not searched for anywhere else.
    let out = d.join("main.o");
    let codegen = || {
        coex()
            .current_dir(d)
            .args([
                "tool",
                "codegen",
                "--main",
                "app/main.coex",
                "--module",
                "util=elsewhere/util_impl.coex",
                "-o",
            ])
            .arg(&out)
            .assert()
    };
    let assert = codegen().code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.starts_with("error: Library 'mylib' not found"),
        "{stderr}"
    );
    assert!(stderr.contains("--> main.coex:2:1"), "{stderr}");
    assert!(stderr.contains("--> main.coex:5:18"), "{stderr}");
    assert!(
        stderr.ends_with("error: could not compile `main.coex` due to 2 errors\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("/tmp"), "{stderr}");
    assert!(!out.exists());

    // Fixed, it compiles to an object.
    fs::write(
        d.join("app/main.coex"),
        "import util\n\nfunc main() -> int\n    print(double(21))\n    return 0\n~\n",
    )
    .unwrap();
    codegen().success();
    assert!(fs::metadata(&out).unwrap().len() > 0);
}

#[test]
fn check_writes_a_stamp_for_modules_that_pass() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("lib")).unwrap();
    fs::write(
        d.join("lib/util.coex"),
        "formula double(x: int) -> int\n    return x * 2\n~\n",
    )
    .unwrap();
    fs::write(
        d.join("lib/quad.coex"),
        "import util\n\nformula quad(x: int) -> int\n    return double(double(x))\n~\n",
    )
    .unwrap();
    let check = || {
        coex()
            .current_dir(d)
            .args([
                "tool",
                "check",
                "--src",
                "lib/util.coex",
                "--src",
                "lib/quad.coex",
                "-o",
                "out/lib.checked",
            ])
            .assert()
    };
    // A missing output folder is created, as Bazel would have made it.
    check().success();
    assert_eq!(
        fs::read_to_string(d.join("out/lib.checked")).unwrap(),
        "checked lib/util.coex\nchecked lib/quad.coex\n"
    );
}

#[test]
fn interface_keeps_coex_code_and_drops_c_contents() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let greet = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bazel/greet");
    let edited = d.join("greet_edited.c");
    let c = fs::read_to_string(greet.join("ffi/src/greet.c")).unwrap();
    fs::write(&edited, c.replace("return a + b;", "return a - b;")).unwrap();
    let pack = |c_file: &std::path::Path, out: &str| {
        coex()
            .args(["tool", "pack", "--manifest"])
            .arg(greet.join("manifest.toml"))
            .arg("--file")
            .arg(format!(
                "src/greet.coex={}",
                greet.join("src/greet.coex").display()
            ))
            .arg("--file")
            .arg(format!("ffi/src/greet.c={}", c_file.display()))
            .arg("-o")
            .arg(d.join(out))
            .assert()
            .success();
    };
    pack(&greet.join("ffi/src/greet.c"), "a.cxz");
    pack(&edited, "b.cxz");
    assert_ne!(
        fs::read(d.join("a.cxz")).unwrap(),
        fs::read(d.join("b.cxz")).unwrap()
    );
    for name in ["a", "b"] {
        coex()
            .current_dir(d)
            .args(["tool", "interface", "--cxz", &format!("{name}.cxz"), "-o"])
            .arg(format!("{name}.interface.cxz"))
            .assert()
            .success();
    }
    let a = fs::read(d.join("a.interface.cxz")).unwrap();
    assert_eq!(a, fs::read(d.join("b.interface.cxz")).unwrap());
    // Still a valid library, with the Coex module and manifest intact.
    let archive = coex::cxz::CxzArchive::from_bytes(&a, "a.interface.cxz").unwrap();
    assert_eq!(archive.files["ffi/src/greet.c"], b"");
    assert_eq!(
        archive.files["src/greet.coex"],
        fs::read(greet.join("src/greet.coex")).unwrap()
    );
}

/// A library whose unit `alpha` `#include`s `b.c`, a source that only
/// unit `beta` lists: such an include is not supported (it would make
/// `alpha` stale when `b.c` changes), so `b.c` is not among `alpha`'s
/// inputs and its compile fails.
fn write_twin(dir: &Path) {
    let files = [
        (
            "manifest.toml",
            "[library]\nname = \"twin\"\nversion = \"1.0.0\"\n\n\
             [ffi.alpha]\nsource = [\"a.c\"]\n\n\
             [[ffi.alpha.symbols]]\nname = \"twin_a\"\nparams = []\nreturns = \"int\"\n\n\
             [ffi.beta]\nsource = [\"b.c\"]\n\n\
             [[ffi.beta.symbols]]\nname = \"twin_b\"\nparams = []\nreturns = \"int\"\n",
        ),
        ("src/twin.coex", "# the twin test library\n"),
        (
            "ffi/src/a.c",
            "#include \"b.c\"\nlong twin_a(void) { return twin_b() + 1; }\n",
        ),
        ("ffi/src/b.c", "long twin_b(void) { return 2; }\n"),
    ];
    for (path, body) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }
}

#[test]
fn ffi_unit_and_cxz_build_take_a_units_inputs_from_one_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_twin(&d.join("twin"));
    coex()
        .args(["cxz", "pack"])
        .arg(d.join("twin"))
        .arg("-o")
        .arg(d.join("twin.cxz"))
        .assert()
        .success();
    let cxz_build = |unit: &str| {
        coex()
            .current_dir(d)
            .env("COEX_CACHE_DIR", d.join("cache"))
            .args([
                "cxz",
                "build",
                "twin.cxz",
                "--cc",
                "/usr/bin/clang",
                "--unit",
            ])
            .args([unit, "-o", "out"])
            .assert()
    };
    let ffi_unit = |unit: &str| {
        coex()
            .current_dir(d)
            .args([
                "tool",
                "ffi-unit",
                "--cxz",
                "twin.cxz",
                "--cc",
                "/usr/bin/clang",
            ])
            .args(["--unit", unit, "-o", &format!("lib{unit}.so")])
            .assert()
    };
    // alpha fails the same way in both, on the include of b.c.
    let built = cxz_build("alpha").code(1);
    let tool = ffi_unit("alpha").code(1);
    let stderr = |a: &assert_cmd::assert::Assert| {
        String::from_utf8_lossy(&a.get_output().stderr).into_owned()
    };
    let (built, tool) = (stderr(&built), stderr(&tool));
    assert!(
        tool.starts_with("error: FFI compilation failed for 'twin'"),
        "{tool}"
    );
    assert!(tool.contains("'b.c' file not found"), "{tool}");
    assert_eq!(built, tool);
    assert!(!d.join("libalpha.so").exists());
    // beta builds in both, to the same image.
    cxz_build("beta").success();
    ffi_unit("beta").success();
    assert_eq!(
        fs::read(d.join("out/libbeta.so")).unwrap(),
        fs::read(d.join("libbeta.so")).unwrap()
    );
}

#[test]
fn ffi_unit_names_the_units_of_the_manifest_when_one_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_twin(&d.join("twin"));
    coex()
        .args(["cxz", "pack"])
        .arg(d.join("twin"))
        .arg("-o")
        .arg(d.join("twin.cxz"))
        .assert()
        .success();
    coex()
        .current_dir(d)
        .args(["tool", "ffi-unit", "--cxz", "twin.cxz", "--cc", "/usr/bin/clang"])
        .args(["--unit", "gamma", "-o", "libgamma.so"])
        .assert()
        .code(1)
        .stderr(
            "error: FFI unit 'gamma' is not declared in the manifest of library 'twin' (twin.cxz)\n\n\
             Its units are: alpha, beta.\n\
             List exactly the manifest's [ffi.<unit>] tables in cxz_library(units = [...]).\n",
        );
    assert!(!d.join("libgamma.so").exists());
}
