//! The real [`LibraryResolver`]: `import "x"` → a `.cxz` archive, opened and
//! validated by `crate::cxz`, its Coex modules and manifest symbols handed
//! to the front end.
//!
//! Two ways to find an archive: the §3 search (`-L` dirs, `COEX_PATH`,
//! the project's lib folder, `~/.coex/lib`, the system dir) for `coex build`/`run`/`check`,
//! or a fixed `NAME → FILE` map for `coex tool codegen` (Bazel's `--cxz`).
//! Every archive it opens is remembered under its *import name* (the last
//! path component of the import string, without `.cxz`), which is what the
//! canonical FFI unit numbering sorts by.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cxz::search::{parse_import, ImportTarget, LibrarySearch};
use crate::cxz::{BoundaryType, CxzArchive, COEX_SRC};
use crate::lang::{LibraryModules, LibraryResolver, ManifestSymbol, ResolveError};

use crate::bridge::{FfiLayout, LibraryLayout, UnitLayout};

/// How import strings become archive paths.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The §3 search with these `-L` directories first.
    Search(Vec<PathBuf>),
    /// Exactly these archives by import name (no search).
    Fixed(BTreeMap<String, PathBuf>),
}

/// An imported library as the build needs it.
#[derive(Debug, Clone)]
pub struct ResolvedLibrary {
    /// Where the archive is.
    pub path: PathBuf,
    /// The validated archive.
    pub archive: CxzArchive,
}

/// Resolves `import "…"` to `.cxz` archives and remembers what it opened.
#[derive(Debug)]
pub struct CxzResolver {
    lookup: Lookup,
    opened: RefCell<BTreeMap<String, ResolvedLibrary>>,
    /// The cache whose archive memo opens archives (see `archive_memo`).
    cache: Option<PathBuf>,
}

/// The import name of an import string: `"lib/regex.cxz"` → `regex`.
pub fn import_name(spec: &str) -> String {
    let last = spec.rsplit('/').next().unwrap_or(spec);
    last.strip_suffix(".cxz").unwrap_or(last).to_string()
}

impl CxzResolver {
    /// A resolver using `lookup`.
    pub fn new(lookup: Lookup) -> CxzResolver {
        CxzResolver {
            lookup,
            opened: RefCell::new(BTreeMap::new()),
            cache: None,
        }
    }

    /// A resolver that opens archives through the memo of the cache at
    /// `cache_dir`, so unchanged archives are not inflated and hashed again.
    pub fn with_cache(lookup: Lookup, cache_dir: Option<&Path>) -> CxzResolver {
        CxzResolver {
            cache: cache_dir.map(Path::to_path_buf),
            ..CxzResolver::new(lookup)
        }
    }

    fn open(&self, path: &Path) -> Result<CxzArchive, ResolveError> {
        super::archive_memo::open(path, self.cache.as_deref()).map_err(|problem| {
            ResolveError::BadArchive {
                path: path.to_path_buf(),
                problem,
            }
        })
    }

    /// Opens every archive of a [`Lookup::Fixed`] map up front: `coex tool
    /// codegen` numbers the units of every `--cxz` library, imported or not.
    pub fn open_all_fixed(&self) -> Result<(), ResolveError> {
        let Lookup::Fixed(map) = &self.lookup else {
            return Ok(());
        };
        for (name, path) in map {
            let archive = self.open(path)?;
            self.opened.borrow_mut().insert(
                name.clone(),
                ResolvedLibrary {
                    path: path.clone(),
                    archive,
                },
            );
        }
        Ok(())
    }

    /// Every library opened so far, by import name.
    pub fn libraries(&self) -> BTreeMap<String, ResolvedLibrary> {
        self.opened.borrow().clone()
    }

    /// The canonical FFI unit layout of the libraries opened so far.
    pub fn ffi_layout(&self) -> FfiLayout {
        layout_of(&self.opened.borrow())
    }

    fn find(&self, spec: &str, importing_file: &Path) -> Result<PathBuf, ResolveError> {
        let name = import_name(spec);
        match &self.lookup {
            Lookup::Fixed(map) => map
                .get(&name)
                .cloned()
                .ok_or_else(|| ResolveError::NotGiven {
                    given: map.keys().cloned().collect(),
                    name,
                }),
            Lookup::Search(dirs) => {
                let base = importing_file
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                match parse_import(spec, base) {
                    ImportTarget::Path(p) => {
                        let p = if p.extension().is_some_and(|e| e == "cxz") {
                            p
                        } else {
                            p.with_extension("cxz")
                        };
                        if p.is_file() {
                            Ok(p)
                        } else {
                            Err(ResolveError::NoSuchFile { path: p })
                        }
                    }
                    ImportTarget::Library(lib) => {
                        Ok(LibrarySearch::from_env(dirs).find(&lib, base)?)
                    }
                }
            }
        }
    }
}

impl LibraryResolver for CxzResolver {
    fn resolve(&self, spec: &str, importing_file: &Path) -> Result<LibraryModules, ResolveError> {
        let name = import_name(spec);
        let path = self.find(spec, importing_file)?;
        // Every module importing the library asks again: the archive found
        // at the same path was read, validated and hashed already.
        if let Some(prev) = self.opened.borrow().get(&name) {
            if prev.path == path {
                return library_modules(&prev.archive);
            }
        }
        let archive = self.open(&path)?;
        if let Some(prev) = self.opened.borrow().get(&name) {
            if prev.archive.manifest.library.name != archive.manifest.library.name {
                return Err(ResolveError::ImportNameClash {
                    name,
                    first: prev.path.clone(),
                    second: path,
                });
            }
        }
        let lib_name = &archive.manifest.library.name;
        if let Some((other, prev)) = self
            .opened
            .borrow()
            .iter()
            .find(|(n, l)| **n != name && &l.archive.manifest.library.name == lib_name)
        {
            return Err(ResolveError::TwoImportNames {
                library: lib_name.clone(),
                first_name: other.clone(),
                first_path: prev.path.clone(),
                second_name: name,
                second_path: path,
            });
        }
        let modules = library_modules(&archive)?;
        self.opened
            .borrow_mut()
            .insert(name, ResolvedLibrary { path, archive });
        Ok(modules)
    }
}

/// The front end's view of an archive: its Coex modules (manifest order)
/// and its manifest symbols.
pub fn library_modules(archive: &CxzArchive) -> Result<LibraryModules, ResolveError> {
    let lib = &archive.manifest.library;
    let mut modules = Vec::new();
    for m in &lib.modules {
        let path = if m.starts_with(COEX_SRC) {
            m.clone()
        } else {
            format!("{COEX_SRC}{m}")
        };
        let text = archive
            .module_text(&path)
            .ok_or_else(|| ResolveError::MissingModule {
                library: lib.name.clone(),
                module: path.clone(),
            })?;
        modules.push((path, text.to_string()));
    }
    Ok(LibraryModules {
        name: lib.name.clone(),
        modules,
        symbols: manifest_symbols(archive),
    })
}

/// Every symbol of every unit, with boundary type names.
pub fn manifest_symbols(archive: &CxzArchive) -> Vec<ManifestSymbol> {
    let name = |t: &BoundaryType| t.to_string();
    archive
        .manifest
        .units
        .iter()
        .flat_map(|u| u.symbols.iter())
        .map(|s| ManifestSymbol {
            name: s.name.clone(),
            params: s.params.iter().map(name).collect(),
            returns: name(&s.returns),
        })
        .collect()
}

/// The canonical layout of `libraries` (import name → archive).
pub fn layout_of(libraries: &BTreeMap<String, ResolvedLibrary>) -> FfiLayout {
    FfiLayout::new(
        libraries
            .iter()
            .map(|(import, lib)| LibraryLayout {
                import_name: import.clone(),
                library: lib.archive.manifest.library.name.clone(),
                units: lib
                    .archive
                    .manifest
                    .units
                    .iter()
                    .map(|u| UnitLayout {
                        unit: u.name.clone(),
                        symbols: u.symbols.iter().map(|s| s.name.clone()).collect(),
                    })
                    .collect(),
            })
            .collect(),
    )
}

/// What `coex check` uses: `.cxz` archives first (like a build), then an
/// *unpacked* library folder `NAME/` with `manifest.toml` and `src/` (the
/// front end's [`crate::lang::DirLibraryResolver`]), so a library can be
/// checked together with a program before it is packed. When neither is
/// found, the `.cxz` search's §3 message is reported.
#[derive(Debug)]
pub struct CheckResolver {
    cxz: CxzResolver,
    dirs: crate::lang::DirLibraryResolver,
    /// Only `.cxz` archives (`coex check --locked`: a folder has no digest).
    pub archives_only: bool,
}

impl CheckResolver {
    /// Both searches use the `-L` folders first.
    pub fn new(lib_dirs: Vec<PathBuf>) -> CheckResolver {
        CheckResolver {
            cxz: CxzResolver::new(Lookup::Search(lib_dirs.clone())),
            dirs: crate::lang::DirLibraryResolver {
                search_dirs: lib_dirs,
            },
            archives_only: false,
        }
    }

    /// The `.cxz` libraries opened so far, by import name.
    pub fn libraries(&self) -> BTreeMap<String, ResolvedLibrary> {
        self.cxz.libraries()
    }
}

impl LibraryResolver for CheckResolver {
    fn resolve(&self, spec: &str, importing_file: &Path) -> Result<LibraryModules, ResolveError> {
        match self.cxz.resolve(spec, importing_file) {
            Ok(m) => Ok(m),
            Err(e) if e.is_not_found() && !self.archives_only => {
                self.dirs.resolve(spec, importing_file).map_err(|_| e)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_names_drop_folders_and_extension() {
        assert_eq!(import_name("regex.cxz"), "regex");
        assert_eq!(import_name("regex"), "regex");
        assert_eq!(import_name("lib/x/zlib.cxz"), "zlib");
    }

    #[test]
    fn a_library_imported_again_is_not_opened_again() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let mut files = BTreeMap::new();
        files.insert(
            "manifest.toml".to_string(),
            b"[library]\nname = \"pure\"\nversion = \"1.0.0\"\n".to_vec(),
        );
        files.insert(
            "src/pure.coex".to_string(),
            b"func twice(n: int) -> int\n    return n * 2\n~\n".to_vec(),
        );
        let archive = lib.join("pure.cxz");
        std::fs::write(&archive, crate::cxz::pack::write_zip(&files).unwrap()).unwrap();
        let resolver = CxzResolver::new(Lookup::Search(vec![lib]));
        let main = dir.path().join("main.coex");
        let first = resolver.resolve("pure", &main).unwrap();
        // Not a ZIP any more: only a second read of the file could notice.
        std::fs::write(&archive, b"not a zip").unwrap();
        let second = resolver.resolve("pure", &main).unwrap();
        assert_eq!(first.modules, second.modules);
        assert_eq!(first.name, second.name);
    }
}
