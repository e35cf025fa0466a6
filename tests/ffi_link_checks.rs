//! The checks of a unit's C against its manifest and the FFI isolation
//! model (docs/library-authoring.md §4, docs/ffi.md "Refused imports"),
//! and the limits of docs/cxz.md, through the real binary: small libraries
//! written to a temporary folder, packed with `coex cxz pack` and built with
//! `coex cxz build` (or a program build), with real clang and ld.

#[path = "support/isolated.rs"]
mod isolated;

use assert_cmd::Command;
use isolated::isolated_coex;
use std::path::{Path, PathBuf};
use std::process::Output;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A private folder with its own cache and home.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn coex(&self) -> Command {
        isolated_coex(
            self.path(),
            &self.path().join("cache"),
            &self.path().join("home"),
        )
    }

    /// Writes library `name` with one unit `u` over `ffi/src/a.c` = `c`;
    /// `unit_extra` is appended to `[ffi.u]` (symbols tables included) and
    /// `coex` is its Coex module.
    fn library(&self, name: &str, unit_extra: &str, c: &str, coex: &str) -> PathBuf {
        let dir = self.path().join(name);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("ffi/src")).unwrap();
        std::fs::write(
            dir.join("manifest.toml"),
            format!(
                "[library]\nname = \"{name}\"\nversion = \"1.0.0\"\n\n[ffi.u]\nsource = [\"a.c\"]\n{unit_extra}\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join(format!("src/{name}.coex")), coex).unwrap();
        std::fs::write(dir.join("ffi/src/a.c"), c).unwrap();
        dir
    }

    /// `coex cxz pack DIR -o libs/NAME.cxz`, asserted to succeed.
    fn pack(&self, dir: &Path) -> PathBuf {
        let name = dir.file_name().unwrap().to_str().unwrap();
        std::fs::create_dir_all(self.path().join("libs")).unwrap();
        let out = self.path().join(format!("libs/{name}.cxz"));
        let o = self
            .coex()
            .args(["cxz", "pack"])
            .arg(dir)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "pack {name}: {}", text(&o.stderr));
        out
    }

    /// Packs and builds library `name` (see [`Env::library`]) into `out-NAME`.
    fn build(&self, name: &str, unit_extra: &str, c: &str) -> Output {
        let dir = self.library(name, unit_extra, c, "// test\n");
        let archive = self.pack(&dir);
        self.coex()
            .args(["cxz", "build"])
            .arg(&archive)
            .args(["-o", &format!("out-{name}")])
            .output()
            .unwrap()
    }

    /// [`Env::build`] asserted to fail with exit 1, `error: ` first, each of
    /// `expected` in stderr and no image written; returns stderr.
    fn build_fails(&self, name: &str, unit_extra: &str, c: &str, expected: &[&str]) -> String {
        let o = self.build(name, unit_extra, c);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.starts_with("error: "), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        for e in expected {
            assert!(err.contains(e), "{name}: expected {e:?} in:\n{err}");
        }
        assert!(!self.path().join(format!("out-{name}/libu.so")).exists());
        err
    }

    /// [`Env::build`] asserted to succeed.
    fn build_ok(&self, name: &str, unit_extra: &str, c: &str) {
        let o = self.build(name, unit_extra, c);
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        assert!(self.path().join(format!("out-{name}/libu.so")).is_file());
    }
}

fn symbol(name: &str, params: &str, returns: &str) -> String {
    format!("[[ffi.u.symbols]]\nname = \"{name}\"\nparams = [{params}]\nreturns = \"{returns}\"\n")
}

#[test]
fn a_manifest_symbol_the_c_code_does_not_define_is_a_build_error() {
    let env = Env::new();
    let err = env.build_fails(
        "missing",
        &symbol("coex_missing_get", "", "int"),
        "#include <stdint.h>\nint64_t coex_missing_other(void) { return 1; }\n",
        &[
            "error: FFI unit 'u' of library 'missing' does not define manifest symbol 'coex_missing_get'\n\n",
            "manifest.toml [[ffi.u.symbols]] 'coex_missing_get': coex_missing_get() -> int (in C: int64_t coex_missing_get(void))",
            "the image exports no function of that name",
            "Define it in a C file of the unit under ffi/src/",
            "__attribute__((visibility(\"default\")))",
        ],
    );
    assert!(!err.contains("coex_missing_other"), "{err}");
    // static is not exported; neither is a hidden function
    env.build_fails(
        "isstatic",
        &symbol("coex_s", "", "int"),
        "#include <stdint.h>\nstatic int64_t coex_s(void) { return 1; }\nint64_t keep(void) { return coex_s(); }\n",
        // clang already refuses a static definition after the prototype
        &["static declaration of 'coex_s' follows non-static declaration", "manifest.toml [[ffi.u.symbols]] 'coex_s'"],
    );
    env.build_fails(
        "hidden",
        &(symbol("coex_v", "", "int") + "[[ffi.u.symbols]]\nname = \"coex_w\"\n"),
        "__attribute__((visibility(\"hidden\"))) void coex_w(void) {}\n",
        &[
            "does not define 2 manifest symbols",
            "'coex_v': coex_v() -> int",
            "'coex_w': coex_w() -> void (in C: void coex_w(void))",
            "Define each in a C file",
        ],
    );
}

#[test]
fn printf_in_the_manifest_is_refused_not_resolved_to_libc() {
    let env = Env::new();
    // Called without stdio.h: the unit imports libc's printf.
    env.build_fails(
        "pf",
        &symbol("printf", "\"string\"", "int"),
        "long use(void) { return printf(\"x\"); }\n",
        &[
            "does not define manifest symbol 'printf'",
            "the image imports 'printf' (from libc or a system library) instead of defining it",
        ],
    );
    // With stdio.h, the manifest's prototype meets libc's declaration.
    env.build_fails(
        "pfh",
        &symbol("printf", "\"string\"", "int"),
        "#include <stdio.h>\nlong use(void) { return printf(\"x\"); }\n",
        &[
            "error: FFI unit 'u' of library 'pfh': manifest symbol 'printf' is a function of a system header, with other types",
            "stdio.h:",
            "conflicting types for 'printf'",
            "Give it a name of its own (for example 'coex_pfh_printf')",
        ],
    );
    // Not defined at all: the same error as any missing symbol.
    env.build_fails(
        "pfn",
        &symbol("printf", "\"string\"", "int"),
        "long other(void) { return 1; }\n",
        &[
            "does not define manifest symbol 'printf'",
            "exports no function of that name",
        ],
    );
}

#[test]
fn a_symbol_named_like_a_c_keyword_or_a_shim_function_is_refused_by_the_manifest_reader() {
    let env = Env::new();
    for (name, why) in [
        ("int", "symbol name 'int' is a C keyword"),
        ("return", "symbol name 'return' is a C keyword"),
        ("_Bool", "symbol name '_Bool' is a reserved identifier"),
        ("__x", "symbol name '__x' is a reserved identifier"),
        ("main", "symbol name 'main' is the entry point"),
        ("malloc", "symbol name 'malloc' is defined by the FFI shim"),
        (
            "coex_handle_new",
            "symbol name 'coex_handle_new' is defined by the FFI shim",
        ),
    ] {
        let dir = env.library(
            &format!("kw{}", name.trim_start_matches('_').to_lowercase()),
            &symbol(name, "", "int"),
            "long f(void) { return 1; }\n",
            "// t\n",
        );
        let o = env
            .coex()
            .args(["cxz", "pack"])
            .arg(&dir)
            .args(["-o", "x.cxz"])
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains(&format!("manifest.toml [[ffi.u.symbols]] '{name}': {why}")),
            "{name}: {err}"
        );
        assert!(
            err.contains("rename the symbol in the manifest, in the C code and in the Coex extern"),
            "{err}"
        );
    }
}

#[test]
fn a_definition_with_other_c_types_than_the_manifest_is_a_build_error() {
    let env = Env::new();
    let err = env.build_fails(
        "conflict",
        &symbol("coex_name", "\"int\"", "string"),
        "#include <stdint.h>\n\nchar *coex_name(int i) { return i ? \"a\" : \"b\"; }\n",
        &[
            "error: FFI unit 'u' of library 'conflict': the C code of 'coex_name' does not match its manifest entry\n\n",
            "manifest.toml [[ffi.u.symbols]] 'coex_name': coex_name(int) -> string\n",
            "  in C:        const char *coex_name(int64_t);\n",
            "ffi/src/a.c:3:7: error: conflicting types for 'coex_name'\n",
            "  in the code: char *coex_name(int i) { return i ? \"a\" : \"b\"; }\n",
            "int -> int64_t, float -> double, bool -> int32_t, string -> const char *",
        ],
    );
    assert!(!err.contains("coex_symbols.h"), "{err}");
    // A wrong declaration counts too, wherever it is.
    env.build_fails(
        "floaty",
        &symbol("coex_root", "\"float\"", "float"),
        "float coex_root(float x);\nfloat coex_root(float x) { return x; }\n",
        &[
            "conflicting types for 'coex_root'",
            "in C:        double coex_root(double);",
        ],
    );
    // The documented types (and their usual spellings) build.
    env.build_ok(
        "agree",
        &(symbol("coex_a", "\"int\", \"float\", \"bool\", \"string\"", "string")
            + &symbol("coex_b", "", "bool")
            + "[[ffi.u.symbols]]\nname = \"coex_c\"\nparams = [\"int\"]\n"),
        "#include <stdint.h>\n\
         const char *coex_a(int64_t i, double d, int32_t b, const char *s) { return (i && d && b) ? s : \"\"; }\n\
         int coex_b(void) { return 1; }\n\
         void coex_c(long x) { (void)x; }\n",
    );
}

#[test]
fn an_undefined_c_reference_fails_the_link_with_the_linker_lines() {
    let env = Env::new();
    let err = env.build_fails(
        "undef",
        &symbol("coex_f", "\"int\"", "int"),
        "#include <stdint.h>\nint64_t coex_nothere(int64_t);\nint64_t coex_f(int64_t x) { return coex_nothere(x); }\n",
        &[
            "error: FFI link failed for 'undef' (unit 'u')\n\nCommand: clang -shared ",
            " -Wl,-z,defs ",
            "\nError: ",
            "undefined reference to `coex_nothere'",
            "\n\nLinker output:\n  ",
            "ld: obj/a.c.o: in function `coex_f':",
            "Check system_libs and pkg_config",
        ],
    );
    let error_line = err.lines().find(|l| l.starts_with("Error: ")).unwrap();
    assert!(error_line.contains("coex_nothere"), "{error_line}");
    assert!(
        !err.contains("clang: error: linker command failed"),
        "{err}"
    );
    // libm without system_libs = ["m"] is such a reference too; with it, fine.
    let sqrt = "#include <math.h>\ndouble coex_r(double x) { return sqrt(x); }\n";
    env.build_fails(
        "nolibm",
        &symbol("coex_r", "\"float\"", "float"),
        sqrt,
        &["undefined reference to `sqrt'"],
    );
    env.build_ok(
        "libm",
        &("system_libs = [\"m\"]\n".to_string() + &symbol("coex_r", "\"float\"", "float")),
        sqrt,
    );
}

#[test]
fn many_linker_lines_are_shown_up_to_twenty_with_a_count() {
    let env = Env::new();
    let mut c = String::from("long coex_all(long x) {\n  long s = 0;\n");
    for i in 0..30 {
        c.push_str(&format!(
            "  extern long coex_gone{i}(long);\n  s += coex_gone{i}(x);\n"
        ));
    }
    c.push_str("  return s;\n}\n");
    let err = env.build_fails("many", "", &c, &["\n\nLinker output:\n", "more lines\n"]);
    let block: Vec<&str> = err
        .split("Linker output:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(block.len(), 21, "{err}");
    assert!(block[..20].iter().all(|l| l.starts_with("  ")), "{err}");
    assert!(
        block[20].starts_with("  … ") && block[20].ends_with(" more lines"),
        "{err}"
    );
    assert!(err.contains("coex_gone0"), "{err}");
}

#[test]
fn a_unit_defining_an_allocator_name_is_refused_with_the_reason() {
    let env = Env::new();
    for (name, c) in [
        ("malloc", "#include <stddef.h>\nvoid *malloc(size_t n) { (void)n; return 0; }\n"),
        ("free", "void free(void *p) { (void)p; }\n"),
        ("calloc", "#include <stddef.h>\nvoid *calloc(size_t n, size_t s) { (void)n; (void)s; return 0; }\n"),
        ("realloc", "#include <stddef.h>\nvoid *realloc(void *p, size_t n) { (void)n; return p; }\n"),
        ("posix_memalign", "#include <stddef.h>\nint posix_memalign(void **o, size_t a, size_t n) { (void)o; (void)a; (void)n; return 12; }\n"),
        ("aligned_alloc", "#include <stddef.h>\nvoid *aligned_alloc(size_t a, size_t n) { (void)a; (void)n; return 0; }\n"),
        ("memalign", "#include <stddef.h>\nvoid *memalign(size_t a, size_t n) { (void)a; (void)n; return 0; }\n"),
        ("valloc", "#include <stddef.h>\nvoid *valloc(size_t n) { (void)n; return 0; }\n"),
        ("malloc_usable_size", "#include <stddef.h>\nsize_t malloc_usable_size(void *p) { (void)p; return 0; }\n"),
        ("strdup", "char *strdup(const char *s) { (void)s; return 0; }\n"),
    ] {
        let lib = format!("al{}", name.replace('_', ""));
        env.build_fails(
            &lib,
            "",
            c,
            &[
                &format!("error: FFI unit 'u' of library '{lib}' defines '{name}' in ffi/src/a.c, which the FFI shim provides\n\n"),
                "are the instance heap: it is what the heap caps count",
                &format!("Remove the unit's own '{name}'"),
                &format!("multiple definition of `{name}'"),
                "Linker output:\n  ",
                "ld: obj/a.c.o: in function",
            ],
        );
    }
}

/// A C file that imports `symbol` (its address is taken, so it is linked
/// whatever the function's prototype).
fn importing(symbol: &str) -> String {
    format!("extern int {symbol}();\nlong coex_take(void) {{ return (long)&{symbol}; }}\n")
}

#[test]
fn each_guarded_import_is_refused_and_allow_imports_lets_it_through() {
    let env = Env::new();
    // (what C calls, the allow_imports value): every value of the guarded
    // list, plus aliases glibc's headers or old code produce.
    let cases = [
        ("pthread_create", "pthread_create"),
        ("thrd_create", "thrd_create"),
        ("pthread_key_create", "pthread_key_create"),
        ("on_exit", "on_exit"),
        ("signal", "signal"),
        ("__sysv_signal", "signal"),
        ("bsd_signal", "signal"),
        ("sigaction", "sigaction"),
        ("sigprocmask", "sigprocmask"),
        ("pthread_sigmask", "pthread_sigmask"),
        ("dlopen", "dlopen"),
        ("dlmopen", "dlmopen"),
        ("dlsym", "dlsym"),
        ("dlvsym", "dlvsym"),
        ("mmap", "mmap"),
        ("mmap64", "mmap"),
        ("mremap", "mremap"),
        ("sbrk", "sbrk"),
        ("brk", "brk"),
        ("syscall", "syscall"),
        ("fork", "fork"),
        ("vfork", "vfork"),
        ("clone", "clone"),
    ];
    for (symbol, allow) in cases {
        let lib = format!("g{}", symbol.trim_start_matches('_').replace('_', ""));
        let shown = if symbol == allow {
            format!("\n\n  {symbol}: ")
        } else {
            format!("\n\n  {symbol} ({allow}): ")
        };
        env.build_fails(
            &lib,
            "",
            &importing(symbol),
            &[
                &format!("error: FFI unit 'u' of library '{lib}' imports a function that breaks FFI isolation"),
                &shown,
                "docs/ffi.md, \"Refused imports\"",
                &format!("  [ffi.u]\n  allow_imports = [\"{allow}\"]"),
            ],
        );
        env.build_ok(
            &format!("{lib}ok"),
            &format!("allow_imports = [\"{allow}\"]\n"),
            &importing(symbol),
        );
    }
}

#[test]
fn refused_imports_are_listed_together_and_the_allow_line_keeps_what_is_allowed() {
    let env = Env::new();
    let c = "#define _GNU_SOURCE\n#include <sys/mman.h>\n#include <dlfcn.h>\n#include <pthread.h>\n\
             long coex_t(void) { return (long)mmap(0, 1, 0, 0, -1, 0) + (long)dlsym(RTLD_DEFAULT, \"malloc\") + (long)&pthread_create; }\n";
    env.build_fails(
        "three",
        "allow_imports = [\"mmap\"]\n",
        c,
        &[
            "imports 2 functions that break FFI isolation",
            "  dlsym: ",
            "RTLD_DEFAULT",
            "  pthread_create: ",
            "allow_imports = [\"mmap\", \"dlsym\", \"pthread_create\"]",
        ],
    );
    env.build_ok(
        "threeok",
        "allow_imports = [\"mmap\", \"dlsym\", \"pthread_create\"]\n",
        c,
    );
    // An unknown value is a manifest error listing the known ones.
    let dir = env.library(
        "badallow",
        "allow_imports = [\"printf\"]\n",
        "long f(void) { return 1; }\n",
        "// t\n",
    );
    let o = env
        .coex()
        .args(["cxz", "pack"])
        .arg(&dir)
        .args(["-o", "x.cxz"])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("manifest.toml [ffi.u]: allow_imports: 'printf' is not a guarded import (known: pthread_create, thrd_create, "),
        "{err}"
    );
}

#[test]
fn a_program_build_checks_its_unit_images_too() {
    let env = Env::new();
    let dir = env.library(
        "progmiss",
        &symbol("coex_progmiss_get", "", "int"),
        "long coex_progmiss_other(void) { return 1; }\n",
        "extern coex_progmiss_get() -> int\n",
    );
    env.pack(&dir);
    std::fs::write(
        env.path().join("main.coex"),
        "import \"progmiss\"\n\nfunc main() -> int\n    print(coex_progmiss_get())\n    return 0\n~\n",
    )
    .unwrap();
    for _ in 0..2 {
        // twice: a warm build must not skip the check
        let o = env
            .coex()
            .args(["build", "main.coex", "-L", "libs"])
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("error: FFI unit 'u' of library 'progmiss' does not define manifest symbol 'coex_progmiss_get'"),
            "{err}"
        );
    }
    // A guarded import stops a program build as well.
    let dir = env.library(
        "progmap",
        &symbol("coex_progmap_get", "", "int"),
        &(importing("mmap") + "long coex_progmap_get(void) { return coex_take() != 0; }\n"),
        "extern coex_progmap_get() -> int\n",
    );
    env.pack(&dir);
    std::fs::write(
        env.path().join("map.coex"),
        "import \"progmap\"\n\nfunc main() -> int\n    print(coex_progmap_get())\n    return 0\n~\n",
    )
    .unwrap();
    let o = env
        .coex()
        .args(["run", "map.coex", "-L", "libs"])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("library 'progmap' imports a function that breaks FFI isolation"),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "");
}
