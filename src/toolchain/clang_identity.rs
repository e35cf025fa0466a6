//! Computing clang's identity: asking the driver about itself, walking and
//! hashing what decides what it produces, and the fingerprint over all of
//! it (see [`identify_watched`]). Finding clang is in `clang.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::clang::{run_clang_args, Clang};
use super::fingerprint::{
    hash_files, put, shared_libs, walk_tree, Component, LddError, TreeEntry, Watched,
};
use super::ToolchainError;
use crate::exec::action::{fixed_env, ToolIdentity};

/// Computes the identity of the compiler at `path`.
pub fn identify(path: &Path) -> Result<Clang, ToolchainError> {
    Ok(identify_watched(path)?.0)
}

/// [`identify`], also returning every file and directory the identity was
/// computed from, with its metadata taken before it was read: while none of
/// them changes, neither does the identity (see `toolchain::memo`).
///
/// The fingerprint covers (see docs/cache.md, "Tool identity"): the driver
/// binary's bytes and those of each shared library `ldd` resolves for it,
/// the `--version` text without `InstalledDir:`, the target triple, the
/// whole resource dir (relative paths and contents), the system include
/// search list, the selected GCC installation and multilib, any
/// configuration file, and the linker clang runs (bytes and libraries).
pub fn identify_watched(path: &Path) -> Result<(Clang, Vec<Component>), ToolchainError> {
    let mut watched = Watched::default();
    watched.add(path);
    let real = std::fs::canonicalize(path).map_err(|e| {
        ident_err(
            path,
            format!("cannot resolve {} ({e})", path.display()),
            "Set COEX_CC (or pass --cc) to the path of an existing clang binary.",
        )
    })?;
    watched.add(&real);
    let (answers, driver_libs, mut hashes) = ask_clang(path, &real, &mut watched)?;
    let resource = answers.resource;
    let resource_dir = std::fs::canonicalize(&resource).unwrap_or_else(|_| PathBuf::from(resource));
    let include_dirs = parse_include_dirs(&answers.verbose);
    // Where the loader looks up a library by name.
    watched.add(Path::new("/etc/ld.so.cache"));
    let tree = resource_tree(path, &resource_dir, &mut watched)?;
    for d in &include_dirs {
        watched.add(d);
    }
    for d in verbose_values(&answers.verbose, "ignoring nonexistent directory") {
        watched.add(Path::new(d.trim_matches('"')));
    }
    let (gcc, gcc_facts, configs) = gcc_and_configs(&answers.verbose, &mut watched);
    let dirs = program_dirs(path, &real, &answers.version_text, gcc.as_deref());
    for d in &dirs {
        watched.add(d);
    }
    let linker = resolve_linker(&answers.linker_name, &dirs, &mut watched);
    let linker_libs = match &linker {
        Some(l) => libs_of(path, l, &mut watched)?,
        None => Vec::new(),
    };
    let facts = IdentityFacts {
        real,
        driver_libs,
        version_text: answers.version_text,
        triple: answers.triple,
        resource_dir,
        tree,
        include_dirs,
        gcc_facts,
        configs,
        linker_name: answers.linker_name,
        linker,
        linker_libs,
    };
    // Every other file whose bytes count, hashed together (in parallel).
    let files = facts.files_to_hash(&hashes);
    hashes.extend(hash_files(&files).map_err(|e| unreadable(path, e))?);
    let fingerprint = facts.fingerprint(&hashes);
    let clang = Clang {
        path: path.to_path_buf(),
        version: facts.version_text.lines().next().unwrap_or("").to_string(),
        triple: facts.triple,
        resource_dir: facts.resource_dir,
        include_dirs: facts.include_dirs,
        linker: facts.linker,
        identity: ToolIdentity {
            name: "clang".to_string(),
            fingerprint,
        },
    };
    Ok((clang, watched.into_components()))
}

/// A [`ToolchainError::ClangIdentity`] for the clang at `path`.
fn ident_err(path: &Path, detail: String, fix: &str) -> ToolchainError {
    ToolchainError::ClangIdentity {
        path: path.display().to_string(),
        detail,
        fix: fix.to_string(),
    }
}

/// One of clang's files could not be read for hashing.
fn unreadable(path: &Path, (p, e): (PathBuf, std::io::Error)) -> ToolchainError {
    ident_err(
        path,
        format!("cannot read {} ({e})", p.display()),
        "Make the file readable, or set COEX_CC (or pass --cc) to another clang.",
    )
}

/// What clang says about itself, one answer per query of [`ask_clang`].
struct Answers {
    /// `--version` (stdout).
    version_text: String,
    /// `-print-target-triple`, trimmed.
    triple: String,
    /// `-print-resource-dir`, trimmed.
    resource: String,
    /// `-print-prog-name=ld`, trimmed.
    linker_name: String,
    /// `-E -v` on an empty file (stderr): search list, GCC, config files.
    verbose: String,
}

/// The shared libraries of a binary, by name and resolved path.
type Libs = Vec<(String, PathBuf)>;
/// Digests of files, by path.
type Hashes = BTreeMap<PathBuf, blake3::Hash>;

/// Asks clang its five questions at the same time (each starts the driver
/// and loads libLLVM once), and meanwhile lists and hashes the driver and
/// its shared libraries. A failed query is reported before a failed hash.
fn ask_clang(
    path: &Path,
    real: &Path,
    watched: &mut Watched,
) -> Result<(Answers, Libs, Hashes), ToolchainError> {
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
        let early = libs_of(path, real, watched).and_then(|libs| {
            let mut files = vec![real.to_path_buf()];
            files.extend(libs.iter().map(|(_, p)| p.clone()));
            Ok((libs, hash_files(&files).map_err(|e| unreadable(path, e))?))
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
    let answers = Answers {
        version_text: next().0,
        triple: next().0.trim().to_string(),
        resource: next().0.trim().to_string(),
        linker_name: next().0.trim().to_string(),
        verbose: next().1,
    };
    let (libs, hashes) = early?;
    Ok((answers, libs, hashes))
}

/// The resource dir's entries (walked, each recorded in `watched`), or
/// `None` when there is no such dir: then the path is recorded, so one
/// appearing counts as a change.
fn resource_tree(
    path: &Path,
    resource_dir: &Path,
    watched: &mut Watched,
) -> Result<Option<BTreeMap<Vec<u8>, TreeEntry>>, ToolchainError> {
    if !resource_dir.is_dir() {
        watched.add(resource_dir);
        return Ok(None);
    }
    let tree = walk_tree(resource_dir, watched).map_err(|e| {
        ident_err(
            path,
            format!(
                "cannot read its resource dir {} ({e})",
                resource_dir.display()
            ),
            "Reinstall clang, or set COEX_CC (or pass --cc) to another clang.",
        )
    })?;
    Ok(Some(tree))
}

/// From `clang -v` output: the GCC installation clang picked (its crt
/// files and libgcc go into links), the facts about it that count (its
/// real path, the multilib), and any configuration file; each recorded in
/// `watched`.
fn gcc_and_configs(
    verbose: &str,
    watched: &mut Watched,
) -> (Option<PathBuf>, Vec<Vec<u8>>, Vec<PathBuf>) {
    // By its real path: clang names it relative to InstalledDir.
    let gcc = verbose_values(verbose, "Selected GCC installation:")
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
    for m in verbose_values(verbose, "Selected multilib:") {
        gcc_facts.push(m.as_bytes().to_vec());
    }
    let configs: Vec<PathBuf> = verbose_values(verbose, "Configuration file:")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    for c in &configs {
        watched.add(c);
    }
    (gcc, gcc_facts, configs)
}

/// Everything the fingerprint is computed from, once gathered.
struct IdentityFacts {
    real: PathBuf,
    driver_libs: Libs,
    version_text: String,
    triple: String,
    resource_dir: PathBuf,
    tree: Option<BTreeMap<Vec<u8>, TreeEntry>>,
    include_dirs: Vec<PathBuf>,
    gcc_facts: Vec<Vec<u8>>,
    configs: Vec<PathBuf>,
    linker_name: String,
    linker: Option<PathBuf>,
    linker_libs: Libs,
}

impl IdentityFacts {
    /// The files whose bytes count and are not hashed yet: the linker and
    /// its libraries, the configuration files, the resource dir's files.
    fn files_to_hash(&self, hashed: &Hashes) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.linker.iter().cloned().collect();
        files.extend(self.linker_libs.iter().map(|(_, p)| p.clone()));
        files.extend(self.configs.iter().cloned());
        if let Some(t) = &self.tree {
            files.extend(t.values().filter_map(|e| match e {
                TreeEntry::File(p) => Some(p.clone()),
                _ => None,
            }));
        }
        files.retain(|f| !hashed.contains_key(f));
        files
    }

    /// The fingerprint (hex BLAKE3): each fact under its label, in a fixed
    /// order, files by their digest (from `hashes`) and never by path.
    fn fingerprint(&self, hashes: &Hashes) -> String {
        let digest =
            |p: &Path| -> [u8; 32] { hashes.get(p).map(|h| *h.as_bytes()).unwrap_or([0; 32]) };
        let put_libs = |h: &mut blake3::Hasher, libs: &[(String, PathBuf)]| {
            put(h, &(libs.len() as u64).to_le_bytes());
            for (name, p) in libs {
                put(h, name.as_bytes());
                put(h, &digest(p));
            }
        };
        let mut h = blake3::Hasher::new();
        h.update(b"clang-identity-v2\0");
        put(&mut h, b"driver");
        put(&mut h, &digest(&self.real));
        put_libs(&mut h, &self.driver_libs);
        // The InstalledDir line names the directory; leave it out so the same
        // compiler installed elsewhere keeps its identity.
        put(&mut h, b"version");
        for line in self
            .version_text
            .lines()
            .filter(|l| !l.starts_with("InstalledDir:"))
        {
            put(&mut h, line.as_bytes());
        }
        put(&mut h, b"triple");
        put(&mut h, self.triple.as_bytes());
        put(&mut h, b"resource-dir");
        match &self.tree {
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
        put(&mut h, &(self.include_dirs.len() as u64).to_le_bytes());
        for d in &self.include_dirs {
            put(&mut h, &portable_dir(d, &self.resource_dir));
        }
        put(&mut h, b"gcc");
        for fact in &self.gcc_facts {
            put(&mut h, fact);
        }
        put(&mut h, b"config-files");
        for c in &self.configs {
            put(&mut h, &digest(c));
        }
        put(&mut h, b"linker");
        match &self.linker {
            Some(l) => {
                put(&mut h, &digest(l));
                put_libs(&mut h, &self.linker_libs);
            }
            None => {
                put(&mut h, b"missing");
                put(&mut h, self.linker_name.as_bytes());
            }
        }
        h.finalize().to_hex().to_string()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
