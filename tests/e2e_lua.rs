//! A real C library wrapped as a `.cxz`: Lua 5.4 from the C sources the
//! `lua-src` crate bundles (a dev-dependency, found with `cargo metadata`,
//! never copied into this repository; the test copies them into a library
//! folder in a temporary directory). Through the real `coex` binary and
//! clang: a program runs Lua code and prints what it computed; a comment
//! edit in one Lua C file compiles nothing (the preprocessed-text key,
//! docs/cache.md); a code edit compiles exactly that file; the same program
//! built in two folders with two caches gives byte-identical executables.
//!
//! One cold build of Lua (33 compiles) per folder, two folders: the edits
//! reuse the first folder's cache.

#[path = "e2e/common.rs"]
mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// The C glue: two externs evaluating Lua code in the FFI instance's own
/// `lua_State` (created on first use; globals are per instance, so each
/// task has its own Lua). Strings cross as docs/library-authoring.md §4
/// says: the argument is valid for the call only, the result is copied by
/// the runtime before this instance runs again.
const GLUE: &str = r#"/* Coex externs over Lua 5.4: evaluate a chunk, return its first result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static lua_State *state_of_instance;
static char *last_string;

static lua_State *state(void) {
  if (state_of_instance == NULL) {
    state_of_instance = luaL_newstate();
    if (state_of_instance != NULL) luaL_openlibs(state_of_instance);
  }
  return state_of_instance;
}

/* Runs `code`, leaving one value on the stack: its first result, or the
   error message. Returns 1 when it ran without error. */
static int run(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) != LUA_OK) return 0;
  return lua_pcall(L, 0, 1, 0) == LUA_OK;
}

int64_t coex_lua_eval_int(const char *code) {
  lua_State *L = state();
  if (L == NULL) return INT64_MIN;
  int ok = run(L, code);
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isnum);
  lua_pop(L, 1);
  return ok && isnum ? (int64_t)v : INT64_MIN;
}

const char *coex_lua_eval_str(const char *code) {
  lua_State *L = state();
  if (L == NULL) return "error: no memory for a Lua state";
  const char *prefix = run(L, code) ? "" : "error: ";
  size_t len = 0;
  const char *s = luaL_tolstring(L, -1, &len);
  size_t plen = strlen(prefix);
  free(last_string);
  last_string = malloc(plen + len + 1);
  if (last_string != NULL) {
    memcpy(last_string, prefix, plen);
    memcpy(last_string + plen, s, len);
    last_string[plen + len] = '\0';
  }
  lua_pop(L, 2);
  return last_string;
}
"#;

const MODULE: &str = "# Lua 5.4 for Coex: run a chunk of Lua code, get its first result.
# The externs match [[ffi.lua.symbols]] in manifest.toml.

extern coex_lua_eval_int(code: string) -> int
~

extern coex_lua_eval_str(code: string) -> string
~

# The chunk's first result as an int (the smallest int if it is not one).
func lua_int(code: string) -> int
    return coex_lua_eval_int(code)
~

# The chunk's first result as Lua's tostring gives it, or `error: …`.
func lua_str(code: string) -> string
    return coex_lua_eval_str(code)
~
";

const PROGRAM: &str = r#"import "lua"

func main() -> int
    print(lua_int("local f = 1 for i = 2, 20 do f = f * i end return f"))
    print(lua_str("return string.format('%5.2f|%s|%x', math.pi, ('ab'):rep(3), 255)"))
    print(lua_str("local t = {} for w in ('one two three'):gmatch('%a+') do t[#t + 1] = w:upper() end return table.concat(t, ',')"))
    print(lua_int("return string.len('abc')"))
    print(lua_int("n = (n or 0) + 1 return n"))
    print(lua_int("n = (n or 0) + 1 return n"))
    counts = task for k in [1, 2, 3]
        yield lua_int("n = (n or 0) + 1 return n * 10")
    ~
    for c in counts
        print(c)
    ~
    print(lua_str("error('boom')"))
    return 0
~
"#;

/// What the program prints: 20!, a `string.format`, a `gmatch` loop, the
/// length of "abc", a global of the func's instance counted twice, the
/// same global in three tasks (a fresh instance, so a fresh Lua, each), and
/// an error caught by `lua_pcall`.
fn expected(len_of_abc: i64) -> String {
    format!(
        "2432902008176640000\n 3.14|ababab|ff\nONE,TWO,THREE\n{len_of_abc}\n1\n2\n10\n10\n10\n\
         error: [string \"error('boom')\"]:1: boom\n"
    )
}

/// Lua 5.4's C sources in the `lua-src` crate: `cargo metadata` names the
/// crate's manifest; its `lua-5.4.*` folder holds them (in `src/` in an
/// upstream tarball's layout, at the top in the crate's).
fn lua_sources() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(repo())
        .output()
        .expect("run cargo metadata");
    assert!(o.status.success(), "cargo metadata: {}", text(&o.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&o.stdout).expect("metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "lua-src")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("lua-src in cargo metadata (a dev-dependency in Cargo.toml)");
    let krate = Path::new(manifest).parent().unwrap();
    let mut dirs: Vec<PathBuf> = fs::read_dir(krate)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("lua-5.4"))
        })
        .collect();
    dirs.sort();
    let dir = dirs
        .pop()
        .unwrap_or_else(|| panic!("no lua-5.4.* folder in {}", krate.display()));
    let src = if dir.join("src/lua.h").is_file() {
        dir.join("src")
    } else {
        dir
    };
    assert!(src.join("lua.h").is_file(), "no lua.h in {}", src.display());
    src
}

/// Writes the library folder `lualib/` in `root`: Lua's `*.c`/`*.h` under
/// `ffi/src/lua/`, the glue, the module and the manifest. Returns the
/// manifest's unit sources (relative to `ffi/src/`).
fn write_library(root: &Path, lua: &Path) -> Vec<String> {
    let lib = root.join("lualib");
    fs::create_dir_all(lib.join("src")).unwrap();
    fs::create_dir_all(lib.join("ffi/src/lua")).unwrap();
    let mut sources = vec!["coex_lua.c".to_string()];
    let mut names: Vec<String> = fs::read_dir(lua)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".c") || n.ends_with(".h"))
        .collect();
    names.sort();
    for n in &names {
        fs::copy(lua.join(n), lib.join("ffi/src/lua").join(n)).unwrap();
        // lua.c and luac.c (in an upstream tree) are the interpreter and the
        // compiler, each with a main(): not part of the library.
        if n.ends_with(".c") && n != "lua.c" && n != "luac.c" {
            sources.push(format!("lua/{n}"));
        }
    }
    fs::write(lib.join("ffi/src/coex_lua.c"), GLUE).unwrap();
    fs::write(lib.join("src/lua.coex"), MODULE).unwrap();
    // One glob takes the whole tree, as an upstream Lua tree would be
    // wrapped; lua.c and luac.c (each with a main(), absent from lua-src's
    // copy) are excluded where they exist.
    let mut entries = vec!["\"coex_lua.c\"".to_string(), "\"lua/*.c\"".to_string()];
    for main in ["lua.c", "luac.c"] {
        if names.iter().any(|n| n == main) {
            entries.push(format!("\"!lua/{main}\""));
        }
    }
    let listed = entries.join(", ");
    let manifest = format!(
        "[library]\nname = \"lua\"\nversion = \"5.4.0\"\n\
         description = \"Lua 5.4, from the lua-src crate's sources\"\n\
         license = \"MIT\"\nsource = [\"lua.coex\"]\n\n\
         [ffi.lua]\nsource = [{listed}]\nheaders = [\"lua\"]\n\
         cflags = [\"-std=gnu99\", \"-DLUA_USE_POSIX\"]\nsystem_libs = [\"m\"]\n\n\
         [[ffi.lua.symbols]]\nname = \"coex_lua_eval_int\"\nparams = [\"string\"]\nreturns = \"int\"\n\n\
         [[ffi.lua.symbols]]\nname = \"coex_lua_eval_str\"\nparams = [\"string\"]\nreturns = \"string\"\n"
    );
    fs::write(lib.join("manifest.toml"), manifest).unwrap();
    fs::write(root.join("app.coex"), PROGRAM).unwrap();
    sources
}

/// `coex cxz pack lualib -o libs/lua.cxz` in `root`.
fn pack(env: &Env, root: &Path) {
    fs::create_dir_all(root.join("libs")).unwrap();
    let o = env.coex_in(root, &["cxz", "pack", "lualib", "-o", "libs/lua.cxz"]);
    assert!(o.status.success(), "pack: {}", text(&o.stderr));
}

/// `coex build -v app.coex -o OUT -L libs` in `root`, then runs OUT:
/// the build's stderr and the program's stdout.
fn build_and_run(env: &Env, root: &Path, out: &str) -> (String, String) {
    let o = env.coex_in(root, &["build", "-v", "app.coex", "-o", out, "-L", "libs"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "build: {err}");
    let run = std::process::Command::new(root.join(out))
        .current_dir(root)
        .output()
        .expect("run the program");
    assert!(run.status.success(), "{}", text(&run.stderr));
    (err, text(&run.stdout))
}

/// The compile actions of the Lua unit among `ids`.
fn compiles(ids: &[String]) -> Vec<&String> {
    ids.iter()
        .filter(|a| a.starts_with("compile:lua/"))
        .collect()
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join("lualib/ffi/src/lua").join(file);
    let before = fs::read_to_string(&path).unwrap();
    assert_eq!(before.matches(from).count(), 1, "{from:?} in {file}");
    fs::write(&path, before.replace(from, to)).unwrap();
}

#[test]
fn lua_54_from_lua_src_builds_runs_and_rebuilds_only_what_changed() {
    let lua = lua_sources();

    // Folder one: a cold build.
    let one = Env::new();
    let root = one.path();
    let sources = write_library(root, &lua);
    assert!(
        sources.len() > 30 && !sources.iter().any(|s| s.ends_with("/lua.c")),
        "{sources:?}"
    );
    pack(&one, root);
    let (err, out) = build_and_run(&one, root, "app");
    assert_eq!(out, expected(3), "build log:\n{err}");
    let ran = actions_that(&err, "ran");
    assert_eq!(compiles(&ran).len(), sources.len(), "{err}");
    let first = fs::read(root.join("app")).unwrap();

    // A comment edit that keeps every line: preprocessed, nothing compiled.
    edit(
        root,
        "lstrlib.c",
        "** Standard library for string operations and pattern-matching\n",
        "** Standard library for string operations and pattern-matching (edited)\n",
    );
    pack(&one, root);
    let (err, out) = build_and_run(&one, root, "app2");
    assert_eq!(out, expected(3), "build log:\n{err}");
    assert_eq!(
        compiles(&actions_that(&err, "ran")),
        Vec::<&String>::new(),
        "{err}"
    );
    let cached = actions_that(&err, "cached");
    let pre: Vec<&String> = cached
        .iter()
        .filter(|a| a.ends_with("(preprocessed)"))
        .collect();
    assert_eq!(pre.len(), 1, "{err}");
    assert!(
        pre[0].starts_with("compile:lua/") && pre[0].contains("lstrlib.c"),
        "{err}"
    );
    assert_eq!(fs::read(root.join("app2")).unwrap(), first);

    // A code edit (string.len counts 1000 more): exactly one compile.
    edit(
        root,
        "lstrlib.c",
        "lua_pushinteger(L, (lua_Integer)l);",
        "lua_pushinteger(L, (lua_Integer)l + 1000);",
    );
    pack(&one, root);
    let (err, out) = build_and_run(&one, root, "app3");
    assert_eq!(out, expected(1003), "build log:\n{err}");
    let ran = actions_that(&err, "ran");
    let c = compiles(&ran);
    assert_eq!(c.len(), 1, "{err}");
    assert!(c[0].contains("lstrlib.c"), "{err}");

    // Folder two, its own cache: the original sources, built cold, give the
    // very bytes of folder one's first build.
    let two = Env::new();
    let root2 = two.path().join("elsewhere/deeper");
    fs::create_dir_all(&root2).unwrap();
    write_library(&root2, &lua);
    pack(&two, &root2);
    let (err, out) = build_and_run(&two, &root2, "app");
    assert_eq!(out, expected(3), "build log:\n{err}");
    assert_eq!(compiles(&actions_that(&err, "ran")).len(), sources.len());
    assert!(
        fs::read(root2.join("app")).unwrap() == first,
        "the executables of two folders differ"
    );
}
