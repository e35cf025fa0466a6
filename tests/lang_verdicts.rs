//! One verdict: `coex check` accepts exactly the programs the back end
//! accepts. Every Coex file of the repository (`tests/lang/**`,
//! `tests/e2e/programs/**`, `examples/*.coex`) and a few programs written
//! here for the back end's own limits go through both `coex check` and
//! `coex debug codegen` (what `coex build` runs before any C compile or
//! link: the front end, the bridge, Cranelift), with the same `-L`. The
//! two must agree on success, and every error the back end reports must be
//! one `coex check` reported too. A file without `main` is a module: the
//! back end refusing it for that alone is the one expected difference.
//!
//! Libraries are packed first: `examples/libs/*` as they are, the unpacked
//! test libraries of `tests/lang/**/lib/` (in a copy of the corpus) with
//! empty stand-ins for their C files (codegen reads a library's Coex
//! modules and manifest, never its C).

#[path = "support/isolated.rs"]
mod isolated;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `*.coex` under `dir`, recursively when `deep`.
fn coex_files(dir: &Path, deep: bool, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && deep {
            coex_files(&p, deep, out);
        } else if p.extension().is_some_and(|x| x == "coex") {
            out.push(p);
        }
    }
}

/// A scratch cache and home, and the folders packed libraries go to.
struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn coex(&self, cwd: &Path, args: &[&str]) -> std::process::Output {
        let t = self.tmp.path();
        isolated::isolated_coex(cwd, &t.join("cache"), &t.join("home"))
            .args(args)
            .output()
            .expect("run coex")
    }

    /// Packs the library folder `dir` into `into/NAME.cxz`, giving every C
    /// file and include folder its manifest names an empty stand-in.
    fn pack(&self, dir: &Path, into: &Path) {
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let copy = self.tmp.path().join("src").join(&name);
        copy_tree(dir, &copy);
        let manifest = std::fs::read_to_string(dir.join("manifest.toml")).expect("manifest");
        let manifest: toml::Table = manifest.parse().expect("manifest TOML");
        if let Some(toml::Value::Table(units)) = manifest.get("ffi") {
            for unit in units.values() {
                for key in ["source", "headers"] {
                    let names = unit.get(key).and_then(|v| v.as_array());
                    for n in names.into_iter().flatten().filter_map(|v| v.as_str()) {
                        let p = copy.join("ffi/src").join(n);
                        if key == "headers" {
                            std::fs::create_dir_all(&p).unwrap();
                            write_new(&p.join("stand_in.h"), "/* empty */\n");
                        } else {
                            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                            write_new(&p, "/* empty */\n");
                        }
                    }
                }
            }
        }
        std::fs::create_dir_all(into).unwrap();
        let out = into.join(format!("{name}.cxz"));
        let o = self.coex(
            self.tmp.path(),
            &[
                "cxz",
                "pack",
                copy.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
        );
        // A library the corpus keeps broken on purpose stays unpacked:
        // its programs fail both ways.
        let _ = o;
    }
}

fn write_new(p: &Path, text: &str) {
    if !p.exists() {
        std::fs::write(p, text).unwrap();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// The `error: …` headlines of an output, without the closing summary.
fn errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("error: ") && !l.starts_with("error: could not "))
        .map(String::from)
        .collect()
}

/// Runs both commands on `file` with `-L lib` and describes any
/// disagreement.
fn compare(env: &Env, file: &Path, lib: &Path) -> Option<String> {
    let dir = file.parent().unwrap();
    let name = file.file_name().unwrap().to_str().unwrap();
    let lib = lib.to_str().unwrap();
    let check = env.coex(dir, &["check", name, "-L", lib]);
    let codegen = env.coex(dir, &["debug", "codegen", name, "-L", lib]);
    let check_err = String::from_utf8_lossy(&check.stderr).into_owned();
    let back_err = String::from_utf8_lossy(&codegen.stderr).into_owned();
    let back_errors = errors(&back_err);
    let module_only = back_errors.len() == 1 && back_errors[0].contains("no `func main()`");
    let agree = match (check.status.success(), codegen.status.success()) {
        (true, true) => true,
        (true, false) => module_only,
        (false, true) => false,
        (false, false) => {
            // `coex check` also reads unpacked libraries; the back end
            // only archives, so a library the corpus keeps broken (it
            // cannot be packed) is "not found" for it alone.
            let seen = errors(&check_err);
            back_errors
                .iter()
                .filter(|e| !(e.starts_with("error: Library '") && e.ends_with("' not found")))
                .all(|e| seen.contains(e))
        }
    };
    (!agree).then(|| {
        format!(
            "{}\n--- coex check ({:?})\n{check_err}--- coex debug codegen ({:?})\n{back_err}",
            file.display(),
            check.status.code(),
            codegen.status.code()
        )
    })
}

/// Programs at the back end's limits (some may be lifted; the verdicts
/// must agree either way).
const EDGES: [(&str, &str); 6] = [
    (
        "append_field.coex",
        "type B:\n    items: [int]\n~\nfunc main()\n    b = B([1])\n    b.items.append(2)\n    print(b.items.len())\n~\n",
    ),
    (
        "select_func.coex",
        "func work(n: int) -> int\n    return n\n~\nfunc main()\n    select\n        case r = work(1):\n            print(r)\n        ~\n    ~\n~\n",
    ),
    (
        "select_two.coex",
        "extern abs(x: int) -> int\nfunc main()\n    select\n        case a = abs(1):\n            print(a)\n        ~\n        case b = abs(2):\n            print(b)\n        ~\n    ~\n~\n",
    ),
    (
        "const_div.coex",
        "const N = 10\nconst M = N / (N - 10)\nfunc main()\n    print(M)\n~\n",
    ),
    (
        "own_atof.coex",
        "extern atof(x: int) -> int\nfunc main()\n    n = 2\n    print(n * 1.5)\n~\n",
    ),
    (
        "float_rem.coex",
        "extern fmod(x: int) -> int\nfunc main()\n    x = 7.5\n    print(x % 2.0)\n~\n",
    ),
];

#[test]
fn check_and_the_back_end_agree_on_every_program() {
    let env = Env {
        tmp: tempfile::tempdir().expect("tempdir"),
    };
    let root = repo();
    let mut cases: Vec<(PathBuf, PathBuf)> = Vec::new();

    let examples_lib = env.tmp.path().join("libs/examples");
    for e in std::fs::read_dir(root.join("examples/libs")).unwrap() {
        env.pack(&e.unwrap().path(), &examples_lib);
    }
    let mut files = Vec::new();
    coex_files(&root.join("examples"), false, &mut files);
    cases.extend(files.into_iter().map(|f| (f, examples_lib.clone())));

    // A copy of each corpus folder, its `lib/NAME/` libraries packed
    // beside them as `lib/NAME.cxz` (found by `import "NAME"` and
    // `import "lib/NAME.cxz"` alike).
    for (i, corpus) in [
        "tests/lang/valid",
        "tests/lang/invalid",
        "tests/e2e/programs",
    ]
    .iter()
    .enumerate()
    {
        let dir = env.tmp.path().join(format!("corpus/{i}"));
        copy_tree(&root.join(corpus), &dir);
        let packed = dir.join("lib");
        std::fs::create_dir_all(&packed).unwrap();
        for l in std::fs::read_dir(&packed).unwrap() {
            let l = l.unwrap().path();
            if l.join("manifest.toml").is_file() {
                env.pack(&l, &packed);
            }
        }
        let mut files = Vec::new();
        coex_files(&dir, true, &mut files);
        cases.extend(files.into_iter().map(|f| (f, packed.clone())));
    }

    let edges = env.tmp.path().join("edges");
    std::fs::create_dir_all(edges.join("lib")).unwrap();
    for (name, text) in EDGES {
        std::fs::write(edges.join(name), text).unwrap();
        cases.push((edges.join(name), examples_lib.clone()));
    }
    // Two module files imported as `util` (main finds ./util.coex,
    // lib/helper.coex finds lib/util.coex), and one library under two
    // import names: what only the build's action graph cares about.
    for (name, text) in [
        (
            "clash.coex",
            "import helper\nimport util\nfunc main() -> int\n    return one() + two()\n~\n",
        ),
        ("util.coex", "func one() -> int\n    return 1\n~\n"),
        (
            "lib/helper.coex",
            "import util\nfunc two() -> int\n    return 2\n~\n",
        ),
        ("lib/util.coex", "func three() -> int\n    return 3\n~\n"),
        (
            "twice.coex",
            "import \"counter\"\nimport \"tally\"\nfunc main() -> int\n    return 0\n~\n",
        ),
    ] {
        std::fs::write(edges.join(name), text).unwrap();
    }
    let twice = env.tmp.path().join("libs/twice");
    std::fs::create_dir_all(&twice).unwrap();
    for name in ["counter", "tally"] {
        let to = twice.join(format!("{name}.cxz"));
        std::fs::copy(examples_lib.join("counter.cxz"), to).unwrap();
    }
    cases.push((edges.join("clash.coex"), examples_lib.clone()));
    cases.push((edges.join("twice.coex"), twice));

    assert!(cases.len() > 60, "the corpus lost files: {}", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(file, lib)| compare(&env, file, lib))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} programs get two verdicts:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
