//! Finding clang and computing its identity.
//!
//! Order: `--cc PATH`, then `COEX_CC`, then `clang` on `PATH` (via `which`).
//! The identity is BLAKE3 over everything that decides what the compiler
//! produces: the driver binary (symlinks resolved) and its shared
//! libraries, its resource dir, the linker it runs, its system include
//! search list, its `--version` text and target triple (see
//! [`identify_watched`]). A different compiler, resource dir, linker or
//! target gives different keys, while an identical copy at another path
//! does not: contents are hashed, not paths.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::fingerprint::{
    hash_files, put, shared_libs, walk_tree, Component, LddError, TreeEntry, Watched,
};
use super::hints;
use super::ToolchainError;
use crate::exec::action::{fixed_env, ToolIdentity};

/// A usable clang. Serializable so that `build::memo` can remember it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Clang {
    /// Absolute path used as argv[0].
    pub path: PathBuf,
    /// First line of `clang --version`.
    pub version: String,
    /// `clang -print-target-triple`.
    pub triple: String,
    /// `clang -print-resource-dir`: the compiler's own headers live here.
    pub resource_dir: PathBuf,
    /// The `#include <...>` search list clang reports for the target
    /// (`clang -E -v`), in search order: the system include dirs.
    pub include_dirs: Vec<PathBuf>,
    /// The linker clang runs (`-print-prog-name=ld`, resolved and
    /// canonicalised), `None` when there is none; part of the identity
    /// because it decides what a link produces.
    pub linker: Option<PathBuf>,
    /// What the keys see.
    pub identity: ToolIdentity,
}

fn not_found(what: String) -> ToolchainError {
    ToolchainError::ClangNotFound {
        what,
        hint: hints::render(&hints::CLANG)
            .replace("Install the clang development package:", "Install it:"),
    }
}

/// Finds clang using the process environment (`COEX_CC`, `PATH`).
pub fn find_clang(cc_flag: Option<&Path>) -> Result<Clang, ToolchainError> {
    find_clang_in(
        cc_flag,
        std::env::var_os("COEX_CC"),
        std::env::var_os("PATH"),
    )
}

/// Finds clang with an explicit `COEX_CC` value and `PATH` (testable).
pub fn find_clang_in(
    cc_flag: Option<&Path>,
    coex_cc: Option<OsString>,
    path_var: Option<OsString>,
) -> Result<Clang, ToolchainError> {
    identify(&locate_clang_in(cc_flag, coex_cc, path_var)?)
}

/// The path [`find_clang`] would use, without running it: lets a caller
/// that remembers identities key them by this file.
pub fn locate_clang(cc_flag: Option<&Path>) -> Result<PathBuf, ToolchainError> {
    locate_clang_in(
        cc_flag,
        std::env::var_os("COEX_CC"),
        std::env::var_os("PATH"),
    )
}

fn locate_clang_in(
    cc_flag: Option<&Path>,
    coex_cc: Option<OsString>,
    path_var: Option<OsString>,
) -> Result<PathBuf, ToolchainError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let lookup = |name: &Path, origin: &str| -> Result<PathBuf, ToolchainError> {
        let shown = if origin.is_empty() {
            format!("{} is not on PATH", name.display())
        } else {
            format!("{} ({origin})", name.display())
        };
        if name.components().count() > 1 || name.is_absolute() {
            let p = if name.is_absolute() {
                name.to_path_buf()
            } else {
                cwd.join(name)
            };
            if p.is_file() {
                Ok(p)
            } else {
                Err(not_found(shown))
            }
        } else {
            which::which_in(name, path_var.clone(), &cwd).map_err(|_| not_found(shown))
        }
    };
    match (cc_flag, coex_cc.filter(|s| !s.is_empty())) {
        (Some(p), _) => lookup(p, "from --cc"),
        (None, Some(env)) => lookup(Path::new(&env), "from COEX_CC"),
        (None, None) => lookup(Path::new("clang"), ""),
    }
}

/// Runs clang with `args` and the fixed environment; (stdout, stderr).
fn run_clang_args(path: &Path, args: &[&str]) -> Result<(String, String), ToolchainError> {
    let broken = |detail: String| ToolchainError::ClangBroken {
        path: path.display().to_string(),
        detail,
    };
    let arg = args.join(" ");
    let out = Command::new(path)
        .args(args)
        .env_clear()
        .envs(fixed_env())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| broken(format!("cannot run it ({e})")))?;
    if !out.status.success() {
        return Err(broken(format!("`{arg}` exited with {}", out.status)));
    }
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// The `#include <...>` search list from `clang -E -v` output.
fn parse_include_dirs(verbose: &str) -> Vec<PathBuf> {
    verbose
        .lines()
        .skip_while(|l| !l.starts_with("#include <...> search starts here:"))
        .skip(1)
        .take_while(|l| !l.starts_with("End of search list."))
        .map(|l| {
            let dir = l.trim().trim_end_matches(" (framework directory)");
            std::fs::canonicalize(dir).unwrap_or_else(|_| PathBuf::from(dir))
        })
        .collect()
}

/// Values of the lines of `clang -v` output that start with `prefix`.
fn verbose_values<'a>(verbose: &'a str, prefix: &str) -> Vec<&'a str> {
    verbose
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
        .collect()
}

/// The directories clang looks in for a program it runs by a bare name:
/// its InstalledDir (where it was invoked from), the directory of the real
/// binary, the GCC installation's binutils directory, then the actions'
/// `PATH`.
fn program_dirs(
    located: &Path,
    real: &Path,
    version_text: &str,
    gcc: Option<&Path>,
) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    match verbose_values(version_text, "InstalledDir:").first() {
        Some(d) => dirs.push(PathBuf::from(d)),
        None => dirs.extend(located.parent().map(Path::to_path_buf)),
    }
    dirs.extend(real.parent().map(Path::to_path_buf));
    // <gcc>/lib/gcc/<gcc triple>/<version> → <gcc>/<gcc triple>/bin
    if let Some(g) = gcc {
        if let Some(gcc_triple) = g.parent().and_then(Path::file_name) {
            dirs.push(g.join("../../../..").join(gcc_triple).join("bin"));
        }
    }
    if let Some(path) = fixed_env().get("PATH") {
        dirs.extend(std::env::split_paths(path));
    }
    dirs.dedup();
    dirs
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The linker clang runs, canonicalised: what `-print-prog-name=ld`
/// printed, or, for a bare name, the first executable of that name in
/// `dirs`. `None` when there is none (compiles still work; links fail).
fn resolve_linker(printed: &str, dirs: &[PathBuf], watched: &mut Watched) -> Option<PathBuf> {
    let found = if printed.contains('/') {
        Some(PathBuf::from(printed))
    } else if printed.is_empty() {
        None
    } else {
        dirs.iter()
            .map(|d| d.join(printed))
            .find(|p| is_executable(p))
    }?;
    watched.add(&found);
    let real = std::fs::canonicalize(&found).ok()?;
    watched.add(&real);
    Some(real)
}

/// What the fingerprint needs to say about an include dir: its path, with
/// the resource dir written as `${RESOURCE}` (so a copied installation's
/// own headers do not count as "another path").
fn portable_dir(dir: &Path, resource_dir: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    match dir.strip_prefix(resource_dir) {
        Ok(rel) => {
            let mut v = b"${RESOURCE}/".to_vec();
            v.extend_from_slice(rel.as_os_str().as_bytes());
            v
        }
        Err(_) => dir.as_os_str().as_bytes().to_vec(),
    }
}

/// The shared libraries of `binary` (one of clang's files), each recorded
/// in `watched` with its directory; errors worded for the user.
fn libs_of(
    clang: &Path,
    binary: &Path,
    watched: &mut Watched,
) -> Result<Vec<(String, PathBuf)>, ToolchainError> {
    let err = |detail: String, fix: String| ToolchainError::ClangIdentity {
        path: clang.display().to_string(),
        detail,
        fix,
    };
    let other = "or set COEX_CC (or pass --cc) to another clang.";
    let libs = shared_libs(binary).map_err(|e| match e {
        LddError::NotRunnable(why) => err(
            format!("cannot run ldd to list the shared libraries of {} ({why})", binary.display()),
            "Install ldd (Ubuntu/Debian: sudo apt install libc-bin; Fedora: sudo dnf install glibc-common).".to_string(),
        ),
        LddError::Failed(why) => err(
            format!("`ldd {}` failed: {why}", binary.display()),
            format!("Check that {} is an executable for this machine, {other}", binary.display()),
        ),
        LddError::Missing(lib) => err(
            format!("{} needs the shared library {lib}, which the loader cannot find", binary.display()),
            format!("Install the package that provides {lib}, {other}"),
        ),
    })?;
    for (_, p) in &libs {
        watched.add(p);
        if let Some(d) = p.parent() {
            watched.add(d);
        }
    }
    Ok(libs)
}

/// Computes the identity of the compiler at `path`.
pub fn identify(path: &Path) -> Result<Clang, ToolchainError> {
    Ok(identify_watched(path)?.0)
}

/// [`identify`], also returning every file and directory the identity was
/// computed from, with its metadata taken before it was read: while none of
/// them changes, neither does the identity (see `build::memo`).
///
/// The fingerprint covers (see docs/cache.md, "Tool identity"): the driver
/// binary's bytes and those of each shared library `ldd` resolves for it,
/// the `--version` text without `InstalledDir:`, the target triple, the
/// whole resource dir (relative paths and contents), the system include
/// search list, the selected GCC installation and multilib, any
/// configuration file, and the linker clang runs (bytes and libraries).
pub fn identify_watched(path: &Path) -> Result<(Clang, Vec<Component>), ToolchainError> {
    let ident_err = |detail: String, fix: &str| ToolchainError::ClangIdentity {
        path: path.display().to_string(),
        detail,
        fix: fix.to_string(),
    };
    let unreadable = |(p, e): (PathBuf, std::io::Error)| {
        ident_err(
            format!("cannot read {} ({e})", p.display()),
            "Make the file readable, or set COEX_CC (or pass --cc) to another clang.",
        )
    };
    let mut watched = Watched::default();
    watched.add(path);
    let real = std::fs::canonicalize(path).map_err(|e| {
        ident_err(
            format!("cannot resolve {} ({e})", path.display()),
            "Set COEX_CC (or pass --cc) to the path of an existing clang binary.",
        )
    })?;
    watched.add(&real);

    // Each clang query starts the driver (and loads libLLVM) once: run them
    // at the same time, and hash the driver and its libraries meanwhile.
    const QUERIES: [&[&str]; 5] = [
        &["--version"],
        &["-print-target-triple"],
        &["-print-resource-dir"],
        &["-print-prog-name=ld"],
        &["-E", "-v", "-x", "c", "/dev/null", "-o", "/dev/null"],
    ];
    let (answers, early) = std::thread::scope(|s| {
        let running: Vec<_> = QUERIES
            .iter()
            .map(|args| s.spawn(move || run_clang_args(path, args)))
            .collect();
        let early = libs_of(path, &real, &mut watched).and_then(|libs| {
            let mut files = vec![real.clone()];
            files.extend(libs.iter().map(|(_, p)| p.clone()));
            Ok((libs, hash_files(&files).map_err(unreadable)?))
        });
        let answers: Vec<_> = running
            .into_iter()
            .map(|t| {
                t.join().unwrap_or_else(|_| {
                    Err(ToolchainError::ClangBroken {
                        path: path.display().to_string(),
                        detail: "asking it for its version failed unexpectedly".to_string(),
                    })
                })
            })
            .collect();
        (answers, early)
    });
    let mut answers = answers
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    let mut next = || answers.next().unwrap_or_default();
    let version_text = next().0;
    let triple = next().0.trim().to_string();
    let resource = next().0.trim().to_string();
    let linker_name = next().0.trim().to_string();
    let verbose = next().1;
    let (driver_libs, mut hashes) = early?;
    let resource_dir = std::fs::canonicalize(&resource).unwrap_or_else(|_| PathBuf::from(resource));
    let include_dirs = parse_include_dirs(&verbose);
    // Where the loader looks up a library by name.
    watched.add(Path::new("/etc/ld.so.cache"));

    let tree = if resource_dir.is_dir() {
        Some(walk_tree(&resource_dir, &mut watched).map_err(|e| {
            ident_err(
                format!(
                    "cannot read its resource dir {} ({e})",
                    resource_dir.display()
                ),
                "Reinstall clang, or set COEX_CC (or pass --cc) to another clang.",
            )
        })?)
    } else {
        // No resource dir: recorded, so one appearing counts as a change.
        watched.add(&resource_dir);
        None
    };

    for d in &include_dirs {
        watched.add(d);
    }
    for d in verbose_values(&verbose, "ignoring nonexistent directory") {
        watched.add(Path::new(d.trim_matches('"')));
    }
    // The GCC installation clang picked (its crt files and libgcc go into
    // links), by its real path: clang names it relative to InstalledDir.
    let gcc = verbose_values(&verbose, "Selected GCC installation:")
        .first()
        .map(PathBuf::from);
    let mut gcc_facts: Vec<Vec<u8>> = Vec::new();
    if let Some(g) = &gcc {
        watched.add(g);
        if let Some(parent) = g.parent() {
            watched.add(parent);
        }
        let real_gcc = std::fs::canonicalize(g).unwrap_or_else(|_| g.clone());
        gcc_facts.push(real_gcc.as_os_str().as_encoded_bytes().to_vec());
    }
    for m in verbose_values(&verbose, "Selected multilib:") {
        gcc_facts.push(m.as_bytes().to_vec());
    }
    let configs: Vec<PathBuf> = verbose_values(&verbose, "Configuration file:")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    for c in &configs {
        watched.add(c);
    }

    let dirs = program_dirs(path, &real, &version_text, gcc.as_deref());
    for d in &dirs {
        watched.add(d);
    }
    let linker = resolve_linker(&linker_name, &dirs, &mut watched);
    let linker_libs = match &linker {
        Some(l) => libs_of(path, l, &mut watched)?,
        None => Vec::new(),
    };

    // Every other file whose bytes count, hashed together (in parallel).
    let mut files: Vec<PathBuf> = linker.iter().cloned().collect();
    files.extend(linker_libs.iter().map(|(_, p)| p.clone()));
    files.extend(configs.iter().cloned());
    if let Some(t) = &tree {
        files.extend(t.values().filter_map(|e| match e {
            TreeEntry::File(p) => Some(p.clone()),
            _ => None,
        }));
    }
    files.retain(|f| !hashes.contains_key(f));
    hashes.extend(hash_files(&files).map_err(unreadable)?);
    let digest = |p: &Path| -> [u8; 32] { hashes.get(p).map(|h| *h.as_bytes()).unwrap_or([0; 32]) };

    let mut h = blake3::Hasher::new();
    h.update(b"clang-identity-v2\0");
    put(&mut h, b"driver");
    put(&mut h, &digest(&real));
    let put_libs = |h: &mut blake3::Hasher, libs: &[(String, PathBuf)]| {
        put(h, &(libs.len() as u64).to_le_bytes());
        for (name, p) in libs {
            put(h, name.as_bytes());
            put(h, &digest(p));
        }
    };
    put_libs(&mut h, &driver_libs);
    // The InstalledDir line names the directory; leave it out so the same
    // compiler installed elsewhere keeps its identity.
    put(&mut h, b"version");
    for line in version_text
        .lines()
        .filter(|l| !l.starts_with("InstalledDir:"))
    {
        put(&mut h, line.as_bytes());
    }
    put(&mut h, b"triple");
    put(&mut h, triple.as_bytes());
    put(&mut h, b"resource-dir");
    match &tree {
        None => put(&mut h, b"absent"),
        Some(t) => {
            put(&mut h, &(t.len() as u64).to_le_bytes());
            for (rel, entry) in t {
                put(&mut h, rel);
                match entry {
                    TreeEntry::Dir => put(&mut h, b"dir"),
                    TreeEntry::Dangling => put(&mut h, b"dangling"),
                    TreeEntry::File(p) => {
                        put(&mut h, b"file");
                        put(&mut h, &digest(p));
                    }
                }
            }
        }
    }
    put(&mut h, b"include-dirs");
    put(&mut h, &(include_dirs.len() as u64).to_le_bytes());
    for d in &include_dirs {
        put(&mut h, &portable_dir(d, &resource_dir));
    }
    put(&mut h, b"gcc");
    for fact in &gcc_facts {
        put(&mut h, fact);
    }
    put(&mut h, b"config-files");
    for c in &configs {
        put(&mut h, &digest(c));
    }
    put(&mut h, b"linker");
    match &linker {
        Some(l) => {
            put(&mut h, &digest(l));
            put_libs(&mut h, &linker_libs);
        }
        None => {
            put(&mut h, b"missing");
            put(&mut h, linker_name.as_bytes());
        }
    }
    let clang = Clang {
        path: path.to_path_buf(),
        version: version_text.lines().next().unwrap_or("").to_string(),
        triple,
        resource_dir,
        include_dirs,
        linker,
        identity: ToolIdentity {
            name: "clang".to_string(),
            fingerprint: h.finalize().to_hex().to_string(),
        },
    };
    Ok((clang, watched.into_components()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_clang_is_one_worded_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = find_clang_in(None, None, Some(dir.path().as_os_str().to_owned())).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("C compiler not found: clang is not on PATH"),
            "{text}"
        );
        assert!(text.contains("sudo apt install clang"), "{text}");
        let e = find_clang_in(None, Some("/nowhere/clang".into()), None).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("C compiler not found: /nowhere/clang (from COEX_CC)"));
    }

    #[test]
    fn real_clang_has_a_stable_identity() {
        let a = find_clang(None).unwrap();
        let b = identify(&a.path).unwrap();
        assert_eq!(a.identity, b.identity);
        assert!(!a.triple.is_empty());
        assert!(a.path.is_absolute());
        assert!(
            a.resource_dir.join("include").is_dir(),
            "{:?}",
            a.resource_dir
        );
        assert!(
            a.include_dirs.iter().any(|d| d.ends_with("include")),
            "{:?}",
            a.include_dirs
        );
    }

    #[test]
    fn include_dirs_in_the_resource_dir_are_written_relative_to_it() {
        let res = Path::new("/opt/x/lib/clang/14");
        assert_eq!(
            portable_dir(Path::new("/opt/x/lib/clang/14/include"), res),
            b"${RESOURCE}/include"
        );
        assert_eq!(
            portable_dir(Path::new("/usr/include"), res),
            b"/usr/include"
        );
    }

    #[test]
    fn a_bare_linker_name_is_looked_up_installed_dir_first() {
        let t = tempfile::tempdir().unwrap();
        let (installed, real_dir) = (t.path().join("inst"), t.path().join("real"));
        std::fs::create_dir_all(&installed).unwrap();
        std::fs::create_dir_all(&real_dir).unwrap();
        let version = format!("clang version 99\nInstalledDir: {}\n", installed.display());
        let dirs = program_dirs(
            &installed.join("clang"),
            &real_dir.join("clang"),
            &version,
            Some(Path::new("/usr/lib/gcc/x86_64-linux-gnu/12")),
        );
        assert_eq!(dirs[0], installed);
        assert_eq!(dirs[1], real_dir);
        assert_eq!(
            dirs[2],
            Path::new("/usr/lib/gcc/x86_64-linux-gnu/12/../../../../x86_64-linux-gnu/bin")
        );
        assert!(dirs.contains(&PathBuf::from("/usr/bin")), "{dirs:?}");

        let ld = real_dir.join("myld");
        std::fs::write(&ld, "#!/bin/sh\n").unwrap();
        let mut w = Watched::default();
        assert_eq!(
            resolve_linker("myld", &dirs, &mut w),
            None,
            "not executable"
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ld, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            resolve_linker("myld", &dirs, &mut w),
            Some(std::fs::canonicalize(&ld).unwrap())
        );
        assert_eq!(resolve_linker("coex-no-such-ld", &dirs, &mut w), None);
    }

    #[test]
    fn include_search_list_is_parsed() {
        let text = "ignoring nonexistent directory \"/x\"\n#include \"...\" search starts here:\n#include <...> search starts here:\n /nonexistent/a\n /nonexistent/b\nEnd of search list.\n";
        assert_eq!(
            parse_include_dirs(text),
            [
                PathBuf::from("/nonexistent/a"),
                PathBuf::from("/nonexistent/b")
            ]
        );
    }
}
