//! Loads a program: the entry file, the modules it imports (`import math`
//! → `math.coex` beside the importing file, then `./lib/math.coex`) and the
//! libraries it imports (`import "regex.cxz"`, through a [`LibraryResolver`]),
//! parsing each file once. Import cycles are reported as the cycle.
//!
//! A *unit* is one namespace: a program module is a unit of its own; all
//! Coex modules of one library form one unit (they see each other's names).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ast::{ImportTarget, Item, Module};
use super::diagnostic::Diagnostic;
use super::load_error::{LoadError, ResolveError};
use super::parser;
use super::span::{index_u32, FileId, Span, MAX_SOURCE_BYTES, MAX_SOURCE_FILES};

/// One loaded source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    /// Byte offset of the start of each line (for fast positions).
    line_starts: Vec<usize>,
}

/// All source files of a program, indexed by [`FileId`].
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Adds a file and returns its id. A file that would take the map past
    /// [`MAX_SOURCE_BYTES`] or [`MAX_SOURCE_FILES`] is refused with a worded
    /// error.
    pub fn add(&mut self, name: String, text: String) -> Result<FileId, String> {
        let total: usize = self.files.iter().map(|f| f.text.len()).sum();
        if self.files.len() >= MAX_SOURCE_FILES {
            return Err(format!(
                "{name}: too many source files (coex reads at most {MAX_SOURCE_FILES} per program)"
            ));
        }
        if total.saturating_add(text.len()) > MAX_SOURCE_BYTES {
            return Err(format!(
                "{name}: too much source text (coex reads at most {} MiB per program)",
                MAX_SOURCE_BYTES >> 20
            ));
        }
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.files.push(SourceFile {
            name,
            text,
            line_starts,
        });
        Ok(FileId(index_u32(self.files.len() - 1)))
    }

    /// All files in id order.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// The file with this id.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// `(file name, 1-based line, 1-based column)` of a byte offset
    /// (columns count characters).
    pub fn location(&self, id: FileId, offset: usize) -> (String, usize, usize) {
        let Some(f) = self.get(id) else {
            return (String::new(), 1, 1);
        };
        let mut offset = offset.min(f.text.len());
        while !f.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = f
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let line_start = f.line_starts.get(line - 1).copied().unwrap_or(0);
        let col = f.text[line_start..offset].chars().count() + 1;
        (f.name.clone(), line, col)
    }
}

/// A C function a library's manifest declares (`[[ffi.unit.symbols]]`),
/// with boundary type names (`int`, `float`, `bool`, `string`, `void`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestSymbol {
    pub name: String,
    pub params: Vec<String>,
    pub returns: String,
}

/// What the front end needs to know about an imported `.cxz` library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryModules {
    /// The library's name (`[library].name`).
    pub name: String,
    /// `(path in archive, e.g. "src/regex.coex", source text)` in manifest order.
    pub modules: Vec<(String, String)>,
    pub symbols: Vec<ManifestSymbol>,
}

/// Finds and opens libraries named by `import "…"`. The `.cxz` reader
/// implements this; tests use [`DirLibraryResolver`].
pub trait LibraryResolver {
    /// `spec` is the import string (`"regex.cxz"`, `"regex"`, `"lib/x.cxz"`).
    /// The loader reports an error as a diagnostic at the import.
    fn resolve(&self, spec: &str, importing_file: &Path) -> Result<LibraryModules, ResolveError>;
}

/// A resolver over *unpacked* libraries: a directory `NAME/` holding
/// `manifest.toml` and `src/*.coex`, searched for like a `.cxz` (the `-L`
/// directories, `COEX_PATH`, then the project's lib folder, see `crate::pkg::project`).
/// Stand-in until the `.cxz` reader is wired in; also used by tests.
#[derive(Debug, Clone, Default)]
pub struct DirLibraryResolver {
    pub search_dirs: Vec<PathBuf>,
}

impl DirLibraryResolver {
    /// Candidate directories for `spec`, in search order.
    fn candidates(&self, spec: &str, importing_file: &Path) -> Vec<PathBuf> {
        let base = importing_file.parent().unwrap_or(Path::new("."));
        let stem = spec.strip_suffix(".cxz").unwrap_or(spec);
        if spec.contains('/') {
            let p = Path::new(stem);
            return vec![if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }];
        }
        let mut out: Vec<PathBuf> = self.search_dirs.iter().map(|d| d.join(stem)).collect();
        if let Ok(path) = std::env::var("COEX_PATH") {
            out.extend(
                path.split(':')
                    .filter(|s| !s.is_empty())
                    .map(|d| Path::new(d).join(stem)),
            );
        }
        out.push(crate::pkg::project::lib_dir_for(base).join(stem));
        out
    }
}

impl LibraryResolver for DirLibraryResolver {
    fn resolve(&self, spec: &str, importing_file: &Path) -> Result<LibraryModules, ResolveError> {
        let stem = spec.strip_suffix(".cxz").unwrap_or(spec);
        let name = stem.rsplit('/').next().unwrap_or(stem).to_string();
        let candidates = self.candidates(spec, importing_file);
        for dir in &candidates {
            let manifest = dir.join("manifest.toml");
            if manifest.is_file() {
                return read_library_dir(dir, &manifest);
            }
        }
        Err(ResolveError::NotFound(
            crate::cxz::search::LibraryNotFound {
                name,
                searched: candidates.iter().map(|c| c.display().to_string()).collect(),
                lib_dir: None,
            },
        ))
    }
}

fn read_library_dir(dir: &Path, manifest: &Path) -> Result<LibraryModules, ResolveError> {
    let unreadable = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ResolveError::Unreadable { path, source }
    };
    let text = std::fs::read_to_string(manifest).map_err(unreadable(manifest))?;
    let value: toml::Table = text
        .parse()
        .map_err(|source| ResolveError::ManifestSyntax {
            path: manifest.to_path_buf(),
            source,
        })?;
    let bad = |problem| ResolveError::ManifestField {
        path: manifest.to_path_buf(),
        problem,
    };
    let lib = value
        .get("library")
        .and_then(|v| v.as_table())
        .ok_or_else(|| bad("missing [library] table"))?;
    let name = lib
        .get("name")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("missing [library].name"))?
        .to_string();
    let mut modules = Vec::new();
    if let Some(sources) = lib.get("source").and_then(|v| v.as_array()) {
        for s in sources {
            let s = s
                .as_str()
                .ok_or_else(|| bad("[library].source must list strings"))?;
            let path = dir.join("src").join(s);
            let src = std::fs::read_to_string(&path).map_err(unreadable(&path))?;
            modules.push((format!("src/{s}"), src));
        }
    }
    let mut symbols = Vec::new();
    if let Some(ffi) = value.get("ffi").and_then(|v| v.as_table()) {
        for (unit, table) in ffi {
            if unit == "system" {
                continue;
            }
            let Some(list) = table.get("symbols").and_then(|v| v.as_array()) else {
                continue;
            };
            for sym in list {
                let get_str = |k: &str| sym.get(k).and_then(|v| v.as_str()).map(str::to_string);
                let sname = get_str("name").ok_or_else(|| bad("a symbol has no name"))?;
                let params = sym
                    .get("params")
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .map(|p| p.as_str().unwrap_or("?").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                let returns = get_str("returns").unwrap_or_else(|| "void".into());
                symbols.push(ManifestSymbol {
                    name: sname,
                    params,
                    returns,
                });
            }
        }
    }
    Ok(LibraryModules {
        name,
        modules,
        symbols,
    })
}

/// Index of a unit (namespace) in [`LoadedProgram::units`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitId(pub u32);

/// One parsed file and the unit it belongs to.
#[derive(Debug, Clone)]
pub struct LoadedModule {
    pub file: FileId,
    pub unit: UnitId,
    pub ast: Module,
}

/// Where a unit came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitOrigin {
    /// A `.coex` file of the program (entry or imported module).
    Program { path: PathBuf },
    /// A `.cxz` library with its manifest symbols.
    Library {
        name: String,
        symbols: Vec<ManifestSymbol>,
    },
}

/// A namespace: its modules and the units it imports.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Shown in messages: `math.coex`, `regex.cxz`.
    pub display: String,
    pub origin: UnitOrigin,
    /// Indexes into [`LoadedProgram::modules`].
    pub modules: Vec<usize>,
    /// Imported units with the span of the import statement.
    pub imports: Vec<(UnitId, Span)>,
}

/// The parsed program before checking.
#[derive(Debug, Clone)]
pub struct LoadedProgram {
    pub sources: SourceMap,
    pub modules: Vec<LoadedModule>,
    pub units: Vec<Unit>,
    pub entry: UnitId,
    pub diagnostics: Vec<Diagnostic>,
    /// First unused node id (node ids are unique across all modules).
    pub next_node_id: u32,
}

/// Loads `entry` and everything it imports. Only an unreadable entry file
/// is fatal; everything else becomes diagnostics.
pub fn load_program(
    entry: &Path,
    resolver: &dyn LibraryResolver,
) -> Result<LoadedProgram, LoadError> {
    load_program_in(Path::new(""), entry, resolver)
}

/// [`load_program`] for a program whose files live under `root` (a private
/// copy in a scratch folder): `entry`, and every program file's name in
/// the [`SourceMap`], in diagnostics, in a [`LoadError`] and in
/// [`UnitOrigin::Program`], is relative to `root`. Messages then name the
/// files as the user knows them, not where the copy happens to be.
pub fn load_program_in(
    root: &Path,
    entry: &Path,
    resolver: &dyn LibraryResolver,
) -> Result<LoadedProgram, LoadError> {
    let text = read_source(&root.join(entry), entry)?;
    Ok(load_text(root, entry, text, resolver))
}

/// Loads a program from in-memory text (tests, fuzzing, benchmarks).
pub fn load_source(name: &str, text: &str, resolver: &dyn LibraryResolver) -> LoadedProgram {
    load_text(Path::new(""), Path::new(name), text.to_string(), resolver)
}

/// Loads the program whose entry module `path` (under `root`) holds `text`.
fn load_text(
    root: &Path,
    path: &Path,
    text: String,
    resolver: &dyn LibraryResolver,
) -> LoadedProgram {
    let mut loader = Loader {
        root,
        resolver,
        prog: LoadedProgram {
            sources: SourceMap::default(),
            modules: Vec::new(),
            units: Vec::new(),
            entry: UnitId(0),
            diagnostics: Vec::new(),
            next_node_id: 0,
        },
        by_path: BTreeMap::new(),
        by_library: BTreeMap::new(),
        stack: Vec::new(),
    };
    let id = loader.add_program_module(path, text);
    loader.visit(id);
    loader.prog
}

/// Reads the source file at `on_disk`, called `path` in errors.
fn read_source(on_disk: &Path, path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(on_disk).map_err(|source| LoadError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    String::from_utf8(bytes).map_err(|e| LoadError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

struct Loader<'r> {
    /// Where program files are read from; their names are relative to it.
    root: &'r Path,
    resolver: &'r dyn LibraryResolver,
    prog: LoadedProgram,
    /// Canonical path of a program module → its unit.
    by_path: BTreeMap<PathBuf, UnitId>,
    /// Library name → its unit.
    by_library: BTreeMap<String, UnitId>,
    /// Units being visited (for cycle detection), in import order.
    stack: Vec<UnitId>,
}

impl Loader<'_> {
    fn parse_into(&mut self, unit: UnitId, name: String, text: String) {
        let file = match self.prog.sources.add(name, text) {
            Ok(file) => file,
            Err(msg) => {
                // The entry file (id 0) is added first, when the map is
                // empty and its size checked by `read_source`: point at it.
                self.prog
                    .diagnostics
                    .push(Diagnostic::error(Span::default(), msg));
                return;
            }
        };
        let src = self
            .prog
            .sources
            .get(file)
            .map(|f| f.text.clone())
            .unwrap_or_default();
        let out = parser::parse(file, &src, &mut self.prog.next_node_id);
        self.prog.diagnostics.extend(out.diagnostics);
        self.prog.modules.push(LoadedModule {
            file,
            unit,
            ast: out.module,
        });
        let idx = self.prog.modules.len() - 1;
        self.prog.units[unit.0 as usize].modules.push(idx);
    }

    fn add_program_module(&mut self, path: &Path, text: String) -> UnitId {
        let unit = UnitId(index_u32(self.prog.units.len()));
        let display = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        self.prog.units.push(Unit {
            display,
            origin: UnitOrigin::Program {
                path: path.to_path_buf(),
            },
            modules: Vec::new(),
            imports: Vec::new(),
        });
        let on_disk = self.root.join(path);
        let key = std::fs::canonicalize(&on_disk).unwrap_or(on_disk);
        self.by_path.insert(key, unit);
        self.parse_into(unit, path.display().to_string(), text);
        unit
    }

    /// Imports of a unit, in source order: `(target, span, importing file)`.
    fn imports_of(&self, unit: UnitId) -> Vec<(ImportTarget, Span, PathBuf)> {
        let u = &self.prog.units[unit.0 as usize];
        let mut out = Vec::new();
        for &m in &u.modules {
            let module = &self.prog.modules[m];
            let file_path = match &u.origin {
                UnitOrigin::Program { path } => path.clone(),
                UnitOrigin::Library { .. } => PathBuf::from(
                    self.prog
                        .sources
                        .get(module.file)
                        .map(|f| f.name.clone())
                        .unwrap_or_default(),
                ),
            };
            for item in &module.ast.items {
                if let Item::Import(imp) = item {
                    out.push((imp.target.clone(), imp.span, file_path.clone()));
                }
            }
        }
        out
    }

    fn visit(&mut self, unit: UnitId) {
        self.stack.push(unit);
        for (target, span, from) in self.imports_of(unit) {
            let found = match &target {
                ImportTarget::Module(name) => self.import_module(unit, name, span, &from),
                ImportTarget::Library(spec) => self.import_library(spec, span, &from),
            };
            let Some((child, fresh)) = found else {
                continue;
            };
            if child == unit {
                continue;
            }
            if let Some(pos) = self.stack.iter().position(|&u| u == child) {
                let mut names: Vec<String> = self.stack[pos..]
                    .iter()
                    .map(|u| self.prog.units[u.0 as usize].display.clone())
                    .collect();
                names.push(self.prog.units[child.0 as usize].display.clone());
                self.prog.diagnostics.push(
                    Diagnostic::error(span, format!("import cycle: {}", names.join(" → ")))
                        .with_help("modules may not import each other in a cycle; move the shared declarations into a module both import"),
                );
                continue;
            }
            let imports = &mut self.prog.units[unit.0 as usize].imports;
            if !imports.iter().any(|(u, _)| *u == child) {
                imports.push((child, span));
            }
            if fresh {
                self.visit(child);
            }
        }
        self.stack.pop();
    }

    /// `import name`: returns the unit and whether it was newly loaded.
    fn import_module(
        &mut self,
        unit: UnitId,
        name: &str,
        span: Span,
        from: &Path,
    ) -> Option<(UnitId, bool)> {
        if let UnitOrigin::Library { name: lib, .. } = &self.prog.units[unit.0 as usize].origin {
            // Inside a library, `import x` names a module of the same library.
            let wanted = format!("src/{name}.coex");
            let has = self.prog.units[unit.0 as usize].modules.iter().any(|&m| {
                self.prog
                    .sources
                    .get(self.prog.modules[m].file)
                    .is_some_and(|f| f.name.ends_with(&wanted))
            });
            if !has {
                self.prog.diagnostics.push(Diagnostic::error(
                    span,
                    format!("module '{name}' not found in library '{lib}'"),
                ).with_help(format!("a library's modules are listed in [library].source of its manifest; add \"{name}.coex\" there")));
            }
            return None;
        }
        let base = from.parent().unwrap_or(Path::new(""));
        let file = format!("{name}.coex");
        let candidates = [base.join(&file), base.join("lib").join(&file)];
        for c in &candidates {
            let on_disk = self.root.join(c);
            if on_disk.is_file() {
                let key = std::fs::canonicalize(&on_disk).unwrap_or_else(|_| on_disk.clone());
                if let Some(&u) = self.by_path.get(&key) {
                    return Some((u, false));
                }
                return match read_source(&on_disk, c) {
                    Ok(text) => Some((self.add_program_module(c, text), true)),
                    Err(e) => {
                        self.prog
                            .diagnostics
                            .push(Diagnostic::error(span, e.to_string()));
                        None
                    }
                };
            }
        }
        let searched: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        self.prog.diagnostics.push(
            Diagnostic::error(span, format!("module '{name}' not found")).with_help(format!(
                "searched {}; to import a library use `import \"{name}.cxz\"`",
                searched.join(", ")
            )),
        );
        None
    }

    fn import_library(&mut self, spec: &str, span: Span, from: &Path) -> Option<(UnitId, bool)> {
        let lib = match self.resolver.resolve(spec, &self.root.join(from)) {
            Ok(lib) => lib,
            Err(e) => {
                self.prog.diagnostics.push(e.to_diagnostic(span));
                return None;
            }
        };
        if let Some(&u) = self.by_library.get(&lib.name) {
            return Some((u, false));
        }
        let unit = UnitId(index_u32(self.prog.units.len()));
        self.prog.units.push(Unit {
            display: format!("{}.cxz", lib.name),
            origin: UnitOrigin::Library {
                name: lib.name.clone(),
                symbols: lib.symbols.clone(),
            },
            modules: Vec::new(),
            imports: Vec::new(),
        });
        self.by_library.insert(lib.name.clone(), unit);
        for (path, text) in lib.modules {
            self.parse_into(unit, format!("{}.cxz/{path}", lib.name), text);
        }
        Some((unit, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based_and_count_characters() {
        let mut map = SourceMap::default();
        let id = map.add("f.coex".into(), "ab\né x\n\nz".into()).unwrap();
        assert_eq!(map.location(id, 0), ("f.coex".into(), 1, 1));
        assert_eq!(map.location(id, 2), ("f.coex".into(), 1, 3));
        assert_eq!(map.location(id, 3), ("f.coex".into(), 2, 1));
        // `x` follows the two-byte `é` and a space: column 3.
        assert_eq!(map.location(id, 6), ("f.coex".into(), 2, 3));
        assert_eq!(map.location(id, 8), ("f.coex".into(), 3, 1));
        assert_eq!(map.location(id, 9), ("f.coex".into(), 4, 1));
        // Past the end and inside a character are clamped.
        assert_eq!(map.location(id, 99), ("f.coex".into(), 4, 2));
        assert_eq!(map.location(id, 4), ("f.coex".into(), 2, 1));
    }
}
