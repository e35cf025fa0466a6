//! Outputs are written only as regular files, through the real binary:
//! `-o` onto a FIFO, a symbolic link, a directory, a device node, the
//! program's own source or module, a file of the library being packed is
//! one worded error (status 1) naming the path, what it is and the fix —
//! and nothing is changed, nothing is built, nothing hangs.

#[path = "e2e/common.rs"]
mod common;

use common::isolated::isolated_coex;
use common::*;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const HELLO: &str = "func main() -> int\n    print(1)\n    return 0\n~\n";

/// `coex ARGS` in `cwd` with `env`'s cache and home, killed after a minute
/// (a write that blocks on a FIFO fails the test instead of hanging it).
fn coex(env: &Env, cwd: &Path, args: &[&str]) -> Output {
    isolated_coex(cwd, &env.path().join("cache"), &env.path().join("home"))
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run coex")
}

fn work(env: &Env, files: &[(&str, &str)]) -> PathBuf {
    let work = env.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for (name, body) in files {
        let path = work.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    work
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false)
}

/// Asserts a refusal: status 1, exactly `expected` on stderr, nothing on
/// stdout (no action ran), no action result in the cache.
fn refused(env: &Env, o: &Output, expected: &str) {
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr, expected);
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    assert!(
        !env.path().join("cache/ac").exists(),
        "something was built before the refusal"
    );
}

#[test]
fn build_onto_a_fifo_is_refused_without_blocking() {
    let env = Env::new();
    let work = work(&env, &[("hello.coex", HELLO)]);
    mkfifo(&work.join("out"));
    let o = coex(&env, &work, &["build", "hello.coex", "-o", "out"]);
    refused(
        &env,
        &o,
        "error: refusing to write out: it is a FIFO (named pipe)\n\n\
         coex writes outputs only as regular files and never replaces anything else. \
         Choose another output path with -o.\n",
    );
    assert!(is_fifo(&work.join("out")));
}

#[test]
fn build_onto_a_symlink_changes_neither_link_nor_target() {
    let env = Env::new();
    let work = work(&env, &[("hello.coex", HELLO), ("target", "keep me")]);
    std::os::unix::fs::symlink("target", work.join("link")).unwrap();
    let o = coex(&env, &work, &["build", "hello.coex", "-o", "link"]);
    refused(
        &env,
        &o,
        "error: refusing to write link: it is a symbolic link (to target)\n\n\
         coex neither writes through nor replaces a symbolic link. \
         Remove the link, or choose another output path with -o.\n",
    );
    assert_eq!(
        std::fs::read_link(work.join("link")).unwrap(),
        Path::new("target")
    );
    assert_eq!(
        std::fs::read_to_string(work.join("target")).unwrap(),
        "keep me"
    );
}

#[test]
fn build_onto_its_own_source_is_refused() {
    let env = Env::new();
    let work = work(&env, &[("app.coex", HELLO)]);
    let o = coex(&env, &work, &["build", "app.coex", "-o", "app.coex"]);
    refused(
        &env,
        &o,
        "error: refusing to write app.coex: it is an input of this build (the program's source)\n\n\
         Choose another output path with -o.\n",
    );
    assert_eq!(
        std::fs::read_to_string(work.join("app.coex")).unwrap(),
        HELLO
    );
    // The same file by another name (./app.coex) is the same input.
    let o = coex(&env, &work, &["build", "app.coex", "-o", "./app.coex"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(work.join("app.coex")).unwrap(),
        HELLO
    );
}

#[test]
fn build_onto_a_module_is_refused_before_anything_runs() {
    let env = Env::new();
    let util = "func one() -> int\n    return 1\n~\n";
    let work = work(
        &env,
        &[
            (
                "main.coex",
                "import util\n\nfunc main() -> int\n    return one()\n~\n",
            ),
            ("util.coex", util),
        ],
    );
    let o = coex(&env, &work, &["build", "main.coex", "-o", "util.coex"]);
    refused(
        &env,
        &o,
        "error: refusing to write util.coex: it is an input of this build (module 'util')\n\n\
         Choose another output path with -o.\n",
    );
    assert_eq!(
        std::fs::read_to_string(work.join("util.coex")).unwrap(),
        util
    );
}

#[test]
fn build_onto_a_library_archive_is_refused() {
    let env = Env::new();
    let counter = env.pack_example("counter");
    let before = std::fs::read(&counter).unwrap();
    let work = work(
        &env,
        &[(
            "main.coex",
            "import \"counter\"\n\nfunc main() -> int\n    return 0\n~\n",
        )],
    );
    let libs = env.path().join("libs");
    let o = coex(
        &env,
        &work,
        &[
            "build",
            "main.coex",
            "-L",
            libs.to_str().unwrap(),
            "-o",
            counter.to_str().unwrap(),
        ],
    );
    refused(
        &env,
        &o,
        &format!(
            "error: refusing to write {}: it is an input of this build (library 'counter')\n\n\
             Choose another output path with -o.\n",
            counter.display()
        ),
    );
    assert_eq!(std::fs::read(&counter).unwrap(), before);
}

#[test]
fn build_onto_a_directory_is_refused() {
    let env = Env::new();
    let work = work(&env, &[("hello.coex", HELLO), ("bin/keep", "x")]);
    let o = coex(&env, &work, &["build", "hello.coex", "-o", "bin"]);
    refused(
        &env,
        &o,
        "error: refusing to write bin: it is a directory\n\n\
         Name a file inside it (e.g. -o bin/NAME), or choose another output path.\n",
    );
    assert_eq!(std::fs::read_to_string(work.join("bin/keep")).unwrap(), "x");
}

#[test]
fn build_into_missing_folders_creates_them() {
    let env = Env::new();
    let work = work(&env, &[("hello.coex", HELLO)]);
    let o = coex(&env, &work, &["build", "hello.coex", "-o", "out/bin/app"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = std::process::Command::new(work.join("out/bin/app"))
        .output()
        .unwrap();
    assert!(run.status.success());
    assert!(!text(&run.stdout).is_empty());
}

#[test]
fn a_failed_build_into_a_missing_folder_creates_nothing() {
    let env = Env::new();
    let work = work(
        &env,
        &[("bad.coex", "func main() -> int\n    return nope\n~\n")],
    );
    let o = coex(&env, &work, &["build", "bad.coex", "-o", "nodir/app"]);
    assert!(!o.status.success());
    assert!(!work.join("nodir").exists(), "a failed build left nodir/");
}

#[test]
fn build_below_a_file_is_refused_up_front_naming_the_file() {
    let env = Env::new();
    let work = work(&env, &[("hello.coex", HELLO), ("afile", "x")]);
    let o = coex(&env, &work, &["build", "hello.coex", "-o", "afile/sub/app"]);
    refused(
        &env,
        &o,
        "error: cannot write afile/sub/app: afile is not a folder\n\n\
         Choose another output path with -o.\n",
    );
    assert_eq!(std::fs::read_to_string(work.join("afile")).unwrap(), "x");
}

#[test]
fn build_into_a_folder_that_is_a_file_is_refused_up_front() {
    let env = Env::new();
    let work = work(&env, &[("hello.coex", HELLO), ("afile", "x")]);
    let o = coex(&env, &work, &["build", "hello.coex", "-o", "afile/app"]);
    refused(
        &env,
        &o,
        "error: cannot write afile/app: afile is not a folder\n\n\
         Choose another output path with -o.\n",
    );
    assert_eq!(std::fs::read_to_string(work.join("afile")).unwrap(), "x");
}

fn is_root() -> bool {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    text(&out.stdout).trim() == "0"
}

/// As root, `-o` onto a device node once turned `/dev/null` into a regular
/// file. A private char device (1,3: the null device) made with mknod in a
/// temporary folder stands in for it; /dev itself is never touched.
#[test]
fn build_onto_a_device_node_is_refused_as_root() {
    if !is_root() {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let env = Env::new();
    let work = work(&env, &[("hello.coex", HELLO)]);
    let dev = work.join("null");
    let status = std::process::Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(status.success());
    let o = coex(&env, &work, &["build", "hello.coex", "-o", "null"]);
    refused(
        &env,
        &o,
        "error: refusing to write null: it is a character device\n\n\
         coex writes outputs only as regular files and never replaces anything else. \
         Choose another output path with -o.\n",
    );
    assert!(std::fs::symlink_metadata(&dev)
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn build_still_replaces_a_regular_file() {
    let env = Env::new();
    let work = work(&env, &[("hello.coex", HELLO), ("app", "old")]);
    let o = coex(&env, &work, &["build", "hello.coex", "-o", "app"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let run = std::process::Command::new(work.join("app"))
        .output()
        .unwrap();
    assert_eq!(text(&run.stdout), "1\n");
    let names: Vec<_> = std::fs::read_dir(&work).unwrap().collect();
    assert_eq!(names.len(), 2, "no temporary file left behind");
}

/// Copies `examples/libs/counter` to `<work>/counter`.
fn counter_tree(work: &Path) -> PathBuf {
    let tree = work.join("counter");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo().join("examples/libs/counter"))
        .arg(&tree)
        .status()
        .unwrap();
    assert!(status.success());
    tree
}

#[test]
fn pack_refuses_to_overwrite_a_file_of_the_packed_library() {
    let env = Env::new();
    let work = work(&env, &[]);
    let tree = counter_tree(&work);
    let manifest = std::fs::read(tree.join("manifest.toml")).unwrap();
    let o = coex(
        &env,
        &work,
        &["cxz", "pack", "counter", "-o", "counter/manifest.toml"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "error: refusing to write counter/manifest.toml: it is a file of the library being packed (counter)\n\n\
         Write the archive outside counter (or as NAME.cxz there, outside src/ and ffi/): \
         choose another output path with -o.\n"
    );
    assert_eq!(std::fs::read(tree.join("manifest.toml")).unwrap(), manifest);
    // A new file that would become a library file is refused as well.
    let o = coex(
        &env,
        &work,
        &["cxz", "pack", "counter", "-o", "counter/src/x.cxz"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr)
            .contains("it is inside the library folder counter and would become one of its files"),
        "{}",
        text(&o.stderr)
    );
    assert!(!tree.join("src/x.cxz").exists());
    // NAME.cxz at the top of the tree is fine, and is never packed into itself.
    for _ in 0..2 {
        let o = coex(
            &env,
            &work,
            &["cxz", "pack", "counter", "-o", "counter/counter.cxz"],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    // `coex cxz pack .` from inside the tree writes ./counter.cxz there.
    let o = coex(&env, &tree, &["cxz", "pack", "."]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn pack_onto_a_fifo_or_symlink_is_refused() {
    let env = Env::new();
    let work = work(&env, &[("elsewhere", "keep")]);
    counter_tree(&work);
    mkfifo(&work.join("fifo.cxz"));
    let o = coex(&env, &work, &["cxz", "pack", "counter", "-o", "fifo.cxz"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr)
            .starts_with("error: refusing to write fifo.cxz: it is a FIFO (named pipe)\n"),
        "{}",
        text(&o.stderr)
    );
    assert!(is_fifo(&work.join("fifo.cxz")));
    std::os::unix::fs::symlink("elsewhere", work.join("link.cxz")).unwrap();
    let o = coex(&env, &work, &["cxz", "pack", "counter", "-o", "link.cxz"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(work.join("elsewhere")).unwrap(),
        "keep"
    );
    assert!(std::fs::symlink_metadata(work.join("link.cxz"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn cxz_build_refuses_bad_image_paths_before_building() {
    let env = Env::new();
    let counter = env.pack_example("counter");
    let work = work(&env, &[("elsewhere", "keep"), ("afile", "x")]);
    let out = work.join("out");
    std::fs::create_dir(&out).unwrap();
    mkfifo(&out.join("libcounter.so"));
    let archive = counter.to_str().unwrap();
    let o = coex(&env, &work, &["cxz", "build", archive, "-o", "out"]);
    refused(
        &env,
        &o,
        "error: refusing to write out/libcounter.so: it is a FIFO (named pipe)\n\n\
         coex writes outputs only as regular files and never replaces anything else. \
         Choose another output path with -o.\n",
    );
    assert!(is_fifo(&out.join("libcounter.so")));
    std::fs::remove_file(out.join("libcounter.so")).unwrap();
    std::os::unix::fs::symlink("../elsewhere", out.join("libcounter.so")).unwrap();
    let o = coex(&env, &work, &["cxz", "build", archive, "-o", "out"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("it is a symbolic link (to ../elsewhere)"));
    assert_eq!(
        std::fs::read_to_string(work.join("elsewhere")).unwrap(),
        "keep"
    );
    // The output folder is a file.
    let o = coex(&env, &work, &["cxz", "build", archive, "-o", "afile"]);
    refused(
        &env,
        &o,
        "error: refusing to write afile: it is a regular file, not a folder for the unit images\n\n\
         Choose another output folder with -o.\n",
    );
    // A regular file there is replaced by the image.
    std::fs::remove_file(out.join("libcounter.so")).unwrap();
    std::fs::write(out.join("libcounter.so"), "old").unwrap();
    let o = coex(&env, &work, &["cxz", "build", archive, "-o", "out"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let image = std::fs::read(out.join("libcounter.so")).unwrap();
    assert!(image.starts_with(b"\x7fELF"));
}

#[test]
fn tool_outputs_refuse_fifos_and_inputs() {
    let env = Env::new();
    let work = work(&env, &[("main.coex", HELLO)]);
    mkfifo(&work.join("main.o"));
    let o = coex(
        &env,
        &work,
        &["tool", "codegen", "--main", "main.coex", "-o", "main.o"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).starts_with("error: refusing to write main.o: it is a FIFO (named pipe)\n"),
        "{}",
        text(&o.stderr)
    );
    assert!(is_fifo(&work.join("main.o")));
    let o = coex(
        &env,
        &work,
        &["tool", "codegen", "--main", "main.coex", "-o", "main.coex"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "error: refusing to write main.coex: it is an input of this build (--main)\n\n\
         Choose another output path with -o.\n"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("main.coex")).unwrap(),
        HELLO
    );
}

#[test]
fn an_unchanged_output_is_left_alone_and_a_changed_one_is_written_again() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let dir = work(&env, &[("hello.coex", HELLO)]);
    let ok = |o: &Output| assert!(o.status.success(), "{}", text(&o.stderr));
    ok(&coex(&env, &dir, &["build", "hello.coex", "-o", "app"]));
    let app = dir.join("app");
    let first = std::fs::metadata(&app).unwrap();
    // A no-op rebuild does not rewrite the file (same inode, same mtime).
    ok(&coex(&env, &dir, &["build", "hello.coex", "-o", "app"]));
    let again = std::fs::metadata(&app).unwrap();
    assert_eq!(
        (first.ino(), first.mtime_nsec()),
        (again.ino(), again.mtime_nsec())
    );
    // Damaged after the build: the next build writes the right bytes again.
    let good = std::fs::read(&app).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    std::fs::write(&app, &bad).unwrap();
    ok(&coex(&env, &dir, &["build", "hello.coex", "-o", "app"]));
    assert_eq!(std::fs::read(&app).unwrap(), good);
    let run = std::process::Command::new(&app).output().unwrap();
    assert_eq!(text(&run.stdout), "1\n");
}
