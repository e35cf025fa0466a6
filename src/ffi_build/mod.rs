//! Turning FFI units into cached clang actions and unit images.
//!
//! One compile action per C source (inputs: every file of the unit's
//! `ffi/src` tree except the unit's other listed sources, so a header edit
//! re-runs every compile and a source edit only its own), one link action
//! per unit producing `lib<unit>.so`. This module knows nothing about `.cxz`
//! archives: whoever reads the archive fills in [`FfiUnitInput`].

pub mod boundary;
mod elf;
pub mod host_paths;
mod plan;

pub use elf::{dynamic_symbols, has_static_tls, Defined, DynamicSymbols};
pub use plan::{
    add_units_to_graph, c_prototype, plan_units, symbols_header, FfiPlan, PlannedUnit, SHIM_HEADER,
    SHIM_SOURCE, SYMBOLS_HEADER,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::atomic_file::{check_output, write_atomically, Input, OutputError, OutputTarget};
use crate::exec::{BuildReport, ExecError, ExecOptions, Executor};
use crate::toolchain::{find_clang, ToolchainError};

/// One FFI unit of one library, as read from its archive and manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FfiUnitInput {
    /// The library's name: with `unit`, what identifies the unit (two
    /// libraries may each have a unit `u`; action ids are
    /// `compile:<library>/<unit>/…`, `link:<library>/<unit>`).
    pub library: String,
    /// The unit's name; the image is `lib<unit>.so`.
    pub unit: String,
    /// ALL files under `ffi/src`, by path relative to it (except those in
    /// `stored`).
    pub files: BTreeMap<String, Vec<u8>>,
    /// Files under `ffi/src` known by digest only: their bytes are a blob of
    /// the local cache, read only if an action must run. They were already
    /// scanned for host paths (see `plan::archive_memo`).
    pub stored: BTreeMap<String, crate::exec::Digest>,
    /// C sources to compile (glob-expanded, relative to `ffi/src`).
    pub sources: Vec<String>,
    /// Include directories relative to `ffi/src` (`.` is `ffi/src` itself).
    pub include_dirs: Vec<String>,
    /// Extra compiler flags (already allow-listed by the manifest reader).
    pub cflags: Vec<String>,
    /// Headers the build machine must provide.
    pub system_headers: Vec<String>,
    /// `-l` names to link.
    pub system_libs: Vec<String>,
    /// pkg-config packages.
    pub pkg_config: Vec<String>,
    /// The manifest's `[[ffi.<unit>.symbols]]`: each must be a function the
    /// image defines, with the C types of its boundary signature (checked by
    /// a generated prototype header and after the link).
    pub symbols: Vec<crate::cxz::Symbol>,
    /// The manifest's `allow_imports`: guarded imports the unit may use
    /// (see [`boundary::GUARDED_IMPORTS`]).
    pub allow_imports: Vec<String>,
}

/// Options of an FFI build.
#[derive(Debug, Clone)]
pub struct FfiBuildOptions {
    /// Executor options (cache dir, remote, -j).
    pub exec: ExecOptions,
    /// `--cc PATH` (else `COEX_CC`, else `clang` on PATH).
    pub cc: Option<PathBuf>,
}

/// The hint line closing a compile failure (contract text, cxz-format §5).
pub const COMPILE_HINT: &str =
    "Check that all header files are included in the library's src/ directory.";

/// The hint line closing a link failure.
pub const LINK_HINT: &str =
    "Check system_libs and pkg_config in the library's manifest, and that every symbol is defined.";

/// An FFI build failure, worded for the user (the text after `error: `).
#[derive(Debug, thiserror::Error)]
pub enum FfiBuildError {
    /// clang, a header or a pkg-config package is missing.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// A C file did not compile.
    #[error("FFI compilation failed for '{library}'\n\nCommand: {command}\nError: {error_line}\n\n{COMPILE_HINT}")]
    CompileFailed {
        /// The library.
        library: String,
        /// The command as a user could read it.
        command: String,
        /// First line of clang's stderr mentioning `error`.
        error_line: String,
    },
    /// A compile read a file that is neither in the archive nor a system
    /// header, so its changes could go unnoticed by the cache.
    #[error(transparent)]
    OutsideRead(Box<OutsideRead>),
    /// Library C names a host file where no dependency file would show it.
    #[error(transparent)]
    HostPath(Box<HostPath>),
    /// A unit did not link.
    #[error("FFI link failed for '{library}' (unit '{unit}')\n\nCommand: {command}\nError: {error_line}\n\nLinker output:\n{linker_output}\n\n{LINK_HINT}")]
    LinkFailed {
        /// The library.
        library: String,
        /// The unit.
        unit: String,
        /// The command as a user could read it.
        command: String,
        /// The linker's first error line.
        error_line: String,
        /// The linker's lines (indented, at most [`LINKER_LINES`], then a
        /// count of the rest).
        linker_output: String,
    },
    /// The unit defines a function the shim defines (the instance heap).
    #[error(transparent)]
    ShimNameDefined(Box<ShimNameDefined>),
    /// A C definition's types differ from its manifest entry's.
    #[error(transparent)]
    SignatureMismatch(Box<SignatureMismatch>),
    /// The image does not define manifest symbols itself.
    #[error(transparent)]
    MissingSymbols(Box<MissingSymbols>),
    /// The image imports functions that break the isolation model.
    #[error(transparent)]
    RefusedImports(Box<RefusedImports>),
    /// The unit description itself is unusable.
    #[error("FFI unit '{unit}' of library '{library}': {detail}")]
    BadUnit {
        /// The library.
        library: String,
        /// The unit.
        unit: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// The linked image uses initial-exec TLS (`DF_STATIC_TLS`).
    #[error("FFI unit '{unit}' of library '{library}' uses initial-exec thread-local storage (DF_STATIC_TLS)\n\nEvery FFI instance loads the unit again, and glibc's static TLS space runs out after a few loads.\nUse the default TLS model: remove tls_model(\"initial-exec\") attributes (-fPIC code uses -ftls-model=global-dynamic by default).")]
    StaticTls {
        /// The library.
        library: String,
        /// The unit.
        unit: String,
    },
    /// Any other executor failure.
    #[error(transparent)]
    Exec(ExecError),
    /// Writing an image to the output directory failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An image's path is refused (something other than a regular file is
    /// there, or an input) or could not be written.
    #[error(transparent)]
    OutputPath(#[from] OutputError),
}

/// A compile read a file that is neither in the archive nor a system
/// header, so its changes could go unnoticed by the cache.
#[derive(Debug, thiserror::Error)]
#[error("FFI compilation of '{library}' reads a file outside the library\n\nC file: ffi/src/{source_file} (unit '{unit}')\nReads:  {path}\n\nA compile may read only its unit's ffi/src files, the compiler's own headers, the system include dirs ({system_dirs}) and the include dirs of its pkg_config packages: a change to any other file would not be seen by the build cache.\nCopy the file into the library's ffi/src/ directory, or declare the package it comes from under system_headers or pkg_config.")]
pub struct OutsideRead {
    /// The library.
    pub library: String,
    /// The unit.
    pub unit: String,
    /// The compiled source, relative to `ffi/src`.
    pub source_file: String,
    /// The file it read.
    pub path: String,
    /// The system include dirs, for the message.
    pub system_dirs: String,
}

/// Library C names a host file where no dependency file would show it.
#[derive(Debug, thiserror::Error)]
#[error("FFI unit '{unit}' of library '{library}' names a file outside the library\n\nffi/src/{file}:{line}: {construct} {}\n\nA compile may read only its unit's ffi/src files and system headers; a file elsewhere could change without the build cache noticing.\nCopy the file into the library's ffi/src/ directory and name it by a relative path.", if path.is_empty() { "(a path built from macros, which cannot be checked)".to_string() } else { format!("\"{path}\"") })]
pub struct HostPath {
    /// The library.
    pub library: String,
    /// The unit.
    pub unit: String,
    /// The file, relative to `ffi/src`.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// `.incbin`, `#embed`, `__has_include`, …
    pub construct: String,
    /// The path as written.
    pub path: String,
}

/// The unit defines a function the shim defines with hidden visibility
/// (`malloc` & co.): the link fails with a multiple definition.
#[derive(Debug, thiserror::Error)]
#[error("FFI unit '{unit}' of library '{library}' defines '{symbol}'{}, which the FFI shim provides\n\nEvery unit image links the shim, whose malloc, free, calloc, realloc, reallocarray, memalign, aligned_alloc, posix_memalign, valloc, pvalloc, malloc_usable_size, strdup and strndup are the instance heap: it is what the heap caps count and what is released with the instance (docs/ffi.md).\nRemove the unit's own '{symbol}' (or make it static under another name); the unit's calls to '{symbol}' already use the instance heap.\n\nLinker output:\n{linker_output}", source_file.as_ref().map(|f| format!(" in ffi/src/{f}")).unwrap_or_default())]
pub struct ShimNameDefined {
    /// The library.
    pub library: String,
    /// The unit.
    pub unit: String,
    /// The function both define.
    pub symbol: String,
    /// The unit's C file defining it, relative to `ffi/src`, when the
    /// linker names it.
    pub source_file: Option<String>,
    /// The linker's lines, as in [`FfiBuildError::LinkFailed`].
    pub linker_output: String,
}

/// A C declaration or definition of a manifest symbol disagrees with the
/// prototype generated from the manifest (clang's `conflicting types`).
#[derive(Debug, thiserror::Error)]
#[error("FFI unit '{unit}' of library '{library}': {}\n\nmanifest.toml [[ffi.{unit}.symbols]] '{symbol}': {signature}\n  in C:        {manifest_c};\n{location}: {clang_message}\n  in the code: {code}\n\n{}", if self.in_library() { format!("the C code of '{symbol}' does not match its manifest entry") } else { format!("manifest symbol '{symbol}' is a function of a system header, with other types") }, if self.in_library() { "Write the function with the C types of its manifest entry (int -> int64_t, float -> double, bool -> int32_t, string -> const char *, no result -> void; docs/library-authoring.md, section 4), or correct the entry in the manifest.".to_string() } else { format!("A manifest symbol must be a function the library defines itself. Give it a name of its own (for example 'coex_{library}_{symbol}') in the manifest, the C code and the Coex extern.") })]
pub struct SignatureMismatch {
    /// The library.
    pub library: String,
    /// The unit.
    pub unit: String,
    /// The manifest symbol.
    pub symbol: String,
    /// Its manifest signature (`f(int) -> int`).
    pub signature: String,
    /// Its C prototype from the manifest (`int64_t f(int64_t)`).
    pub manifest_c: String,
    /// Where clang found the other declaration (`ffi/src/a.c:3:5`, or a
    /// system header's path).
    pub location: String,
    /// clang's message (`error: conflicting types for 'f'`).
    pub clang_message: String,
    /// The source line clang quoted, trimmed.
    pub code: String,
}

impl SignatureMismatch {
    /// Whether the other declaration is in the library's own files (else a
    /// system header declares a function of that name).
    fn in_library(&self) -> bool {
        self.location.starts_with("ffi/src/") || self.location.contains("coex_symbols.h")
    }
}

/// Manifest symbols the image does not define itself.
#[derive(Debug, thiserror::Error)]
#[error("FFI unit '{unit}' of library '{library}' does not define {}\n\n{}\n\nDefine {} in a C file of the unit under ffi/src/ as a non-static function (if the unit's cflags include -fvisibility=hidden, mark it __attribute__((visibility(\"default\")))), or remove its entry from the manifest.", if missing.len() == 1 { format!("manifest symbol '{}'", missing[0].symbol.name) } else { format!("{} manifest symbols", missing.len()) }, missing.iter().map(|m| m.describe(unit)).collect::<Vec<_>>().join("\n"), if missing.len() == 1 { "it" } else { "each" })]
pub struct MissingSymbols {
    /// The library.
    pub library: String,
    /// The unit.
    pub unit: String,
    /// Each symbol, in manifest order.
    pub missing: Vec<MissingSymbol>,
}

/// One manifest symbol the image does not define, and what it has instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSymbol {
    /// The manifest entry.
    pub symbol: crate::cxz::Symbol,
    /// What the image's dynamic symbol table says.
    pub found: Found,
}

/// What an image has under a manifest symbol's name instead of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Nothing exported.
    Nothing,
    /// An import: the name would resolve to libc's or a system library's.
    Import,
    /// A variable (or another non-function symbol).
    NotAFunction,
}

impl MissingSymbol {
    fn describe(&self, unit: &str) -> String {
        let s = &self.symbol;
        let why = match self.found {
            Found::Nothing => "the image exports no function of that name: it is not defined in the unit's C files, or it is static or hidden".to_string(),
            Found::Import => format!(
                "the image imports '{}' (from libc or a system library) instead of defining it: the extern would call that function, not the library's",
                s.name
            ),
            Found::NotAFunction => format!(
                "the image defines '{}', but not as a function (a variable?)",
                s.name
            ),
        };
        format!(
            "manifest.toml [[ffi.{unit}.symbols]] '{}': {} (in C: {})\n  {why}",
            s.name,
            s.signature(),
            c_prototype(s)
        )
    }
}

/// Imports of guarded functions the manifest does not allow.
#[derive(Debug, thiserror::Error)]
#[error("FFI unit '{unit}' of library '{library}' imports {} that {} FFI isolation\n\n{}\n\nAn FFI instance guarantees that the unit's memory is counted by the heap caps and released with the instance, and that none of its code runs after the instance is gone (docs/ffi.md, \"Refused imports\").\nRemove these calls, or, if the unit must make them and may leave those guarantees, allow them in the manifest:\n  [ffi.{unit}]\n  allow_imports = [{}]", if imports.len() == 1 { "a function".to_string() } else { format!("{} functions", imports.len()) }, if imports.len() == 1 { "breaks" } else { "break" }, imports.iter().map(|(sym, allow)| format!("  {}: {}", if sym == allow { sym.clone() } else { format!("{sym} ({allow})") }, boundary::guard_reason(allow))).collect::<Vec<_>>().join("\n"), allow_list(allowed, imports))]
pub struct RefusedImports {
    /// The library.
    pub library: String,
    /// The unit.
    pub unit: String,
    /// Each refused import and the `allow_imports` value for it, sorted.
    pub imports: Vec<(String, String)>,
    /// What the manifest already allows.
    pub allowed: Vec<String>,
}

/// `"a", "b"`: what the manifest allows, then the distinct allow values
/// of `imports`, quoted (the `allow_imports` line that lets them through).
fn allow_list(allowed: &[String], imports: &[(String, String)]) -> String {
    let mut seen: Vec<&str> = allowed.iter().map(String::as_str).collect();
    for (_, a) in imports {
        if !seen.contains(&a.as_str()) {
            seen.push(a);
        }
    }
    seen.iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many linker lines a link failure shows.
pub const LINKER_LINES: usize = 20;

/// The linker's stderr for a message: every non-empty line but clang's
/// closing `linker command failed`, indented, at most [`LINKER_LINES`],
/// then `… N more lines`.
pub fn linker_output(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !is_clang_link_summary(l))
        .collect();
    if lines.is_empty() {
        return "  (no output)".to_string();
    }
    let mut out: Vec<String> = lines
        .iter()
        .take(LINKER_LINES)
        .map(|l| format!("  {}", without_scratch_dirs(l)))
        .collect();
    if lines.len() > LINKER_LINES {
        out.push(format!("  … {} more lines", lines.len() - LINKER_LINES));
    }
    out.join("\n")
}

/// `line` with each action scratch folder (`/tmp/coex-scratch-…/`, where
/// clang put the shim's object) left out: it is random and gone already.
fn without_scratch_dirs(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("coex-scratch-") {
        let start = rest[..at]
            .rfind(|c: char| c.is_whitespace() || c == ';' || c == '\'')
            .map_or(0, |i| i + 1);
        out.push_str(&rest[..start]);
        let after = &rest[at..];
        match after.find('/') {
            Some(slash) => rest = &after[slash + 1..],
            None => {
                out.push_str(after);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// clang's own `error: linker command failed with exit code 1 (…)`.
fn is_clang_link_summary(line: &str) -> bool {
    line.contains("error: linker command failed")
}

/// The first line of a link failure that says what is wrong: the linker's
/// own error (`undefined reference`, `multiple definition`, `cannot find`,
/// `ld.lld: error:`) before clang's generic `linker command failed`.
pub fn link_error_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| {
            !is_clang_link_summary(l)
                && (l.contains("error")
                    || l.contains("cannot find")
                    || l.contains("undefined reference")
                    || l.contains("multiple definition")
                    || l.contains("undefined symbol")
                    || l.contains("duplicate symbol"))
        })
        .map(|l| l.trim_end().to_string())
        .unwrap_or_else(|| first_error_line(stderr))
}

/// The shim's function a link failure says the unit defines again, and the
/// unit's C file (relative to `ffi/src`) when the linker names its object.
/// GNU ld: `obj/a.c.o: in function `malloc':` then `…: multiple definition
/// of `malloc'; …`; lld: `duplicate symbol: malloc` then `>>> defined at
/// a.c` / `>>>            obj/a.c.o`.
fn shim_name_defined(stderr: &str) -> Option<(String, Option<String>)> {
    let name = stderr.lines().find_map(|l| {
        let rest = l
            .split("multiple definition of `")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .or_else(|| l.split("duplicate symbol: ").nth(1).map(str::trim))?;
        boundary::SHIM_HEAP_FUNCTIONS
            .contains(&rest)
            .then(|| rest.to_string())
    })?;
    let source = stderr.split_whitespace().find_map(|w| {
        let w = w.split(':').next()?;
        let src = w.strip_prefix("obj/")?.strip_suffix(".o")?;
        src.ends_with(".c").then(|| src.to_string())
    });
    Some((name, source))
}

/// A compile failure that is a manifest symbol's C declaration disagreeing
/// with its generated prototype: an `error:` line followed (before the
/// next error) by a note pointing into `coex_symbols.h`. Anything else,
/// `None`.
fn signature_mismatch(u: &PlannedUnit, stderr: &str) -> Option<SignatureMismatch> {
    let lines: Vec<&str> = stderr.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some((location, message)) = line.split_once(": error: ") else {
            continue;
        };
        let mut found = None;
        for next in &lines[i + 1..] {
            if next.contains(": error: ") {
                break;
            }
            if let Some((loc, _)) = next.split_once(": note: ") {
                if let Some(rest) = loc.split("coex_symbols.h:").nth(1) {
                    found = rest.split(':').next().and_then(|n| n.parse::<usize>().ok());
                    break;
                }
            }
        }
        // An error inside the header itself names its line directly.
        let header_line = found.or_else(|| {
            location
                .split("coex_symbols.h:")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.parse::<usize>().ok())
        });
        let Some(index) = header_line.and_then(|n| plan::symbol_at_header_line(n, u.symbols.len()))
        else {
            continue;
        };
        let symbol = &u.symbols[index];
        let code = lines
            .get(i + 1)
            .filter(|l| !l.contains(": note: ") && !l.trim_start().starts_with('^'))
            .map(|l| l.trim().to_string())
            .unwrap_or_default();
        let location = location.strip_prefix("./").unwrap_or(location);
        let location = match location.strip_prefix("src/") {
            Some(rest) => format!("ffi/src/{rest}"),
            None => location.to_string(),
        };
        return Some(SignatureMismatch {
            library: u.library.clone(),
            unit: u.unit.clone(),
            symbol: symbol.name.clone(),
            signature: symbol.signature(),
            manifest_c: c_prototype(symbol),
            location,
            clang_message: format!("error: {message}"),
            code,
        });
    }
    None
}

/// The first stderr line that mentions an error (what §5 shows after
/// `Error:`). The linker says `cannot find -lx` / `undefined reference`
/// before clang's generic "linker command failed" error, so those count too.
pub fn first_error_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| {
            l.contains("error") || l.contains("cannot find") || l.contains("undefined reference")
        })
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("(no diagnostic output)")
        .trim_end()
        .to_string()
}

/// Why library C may not expand `__DATE__`, `__TIME__` or `__TIMESTAMP__`
/// (clang 14 ignores SOURCE_DATE_EPOCH, so they would differ per build).
pub const DATE_TIME_REASON: &str = "Library C may not use __DATE__, __TIME__ or __TIMESTAMP__: they make two builds of the same sources differ, and coex builds are reproducible. Use a fixed string (for example the library's version) instead.";

/// The first error line of a compile, and the reason for a date/time error.
fn compile_error_line(stderr: &str) -> String {
    let line = first_error_line(stderr);
    if line.contains("-Wdate-time") {
        format!("{line}\n{DATE_TIME_REASON}")
    } else {
        line
    }
}

/// Result of [`build_units`].
#[derive(Debug, Clone)]
pub struct FfiBuildOutcome {
    /// Per-action outcomes and warnings.
    pub report: BuildReport,
    /// `(library, unit)` → path of the image written to the output dir.
    pub images: BTreeMap<(String, String), PathBuf>,
}

impl FfiPlan {
    /// Maps an executor error to the §5 wording when it is a compile or link
    /// failure of one of this plan's actions.
    pub fn explain(&self, e: ExecError) -> FfiBuildError {
        explain_failure(&self.units, e)
    }
}

/// Maps an executor error to the §5 wording when it is a compile or link
/// failure of an action of `units` (any graph holding them: `coex cxz
/// build`'s or a program's), else wraps it.
pub fn explain_failure(units: &[PlannedUnit], e: ExecError) -> FfiBuildError {
    if let ExecError::OutsideRead { id, path, allowed } = &e {
        if let Some(u) = units.iter().find(|u| u.compile_actions.contains(id)) {
            let prefix = format!("compile:{}/{}/", u.library, u.unit);
            return FfiBuildError::OutsideRead(Box::new(OutsideRead {
                library: u.library.clone(),
                unit: u.unit.clone(),
                source_file: id.strip_prefix(&prefix).unwrap_or(id).to_string(),
                path: path.display().to_string(),
                system_dirs: allowed
                    .iter()
                    .skip(1)
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }));
        }
    }
    if let ExecError::ActionFailed {
        id,
        command,
        stderr,
        ..
    } = &e
    {
        if let Some(u) = units.iter().find(|u| &u.link_action == id) {
            if let Some((symbol, source_file)) = shim_name_defined(stderr) {
                return FfiBuildError::ShimNameDefined(Box::new(ShimNameDefined {
                    library: u.library.clone(),
                    unit: u.unit.clone(),
                    symbol,
                    source_file,
                    linker_output: linker_output(stderr),
                }));
            }
            return FfiBuildError::LinkFailed {
                library: u.library.clone(),
                unit: u.unit.clone(),
                command: command.clone(),
                error_line: link_error_line(stderr),
                linker_output: linker_output(stderr),
            };
        }
        if let Some(u) = units.iter().find(|u| u.compile_actions.contains(id)) {
            if let Some(m) = signature_mismatch(u, stderr) {
                return FfiBuildError::SignatureMismatch(Box::new(m));
            }
            return FfiBuildError::CompileFailed {
                library: u.library.clone(),
                command: command.clone(),
                error_line: compile_error_line(stderr),
            };
        }
    }
    FfiBuildError::Exec(e)
}

/// The plan JSON of these units (see docs/cache.md); checks the toolchain,
/// headers and pkg-config packages but runs nothing.
pub fn plan_json(
    inputs: &[FfiUnitInput],
    cc: Option<&Path>,
) -> Result<serde_json::Value, FfiBuildError> {
    let clang = find_clang(cc)?;
    Ok(plan_units(inputs, &clang)?.graph.plan_json())
}

/// [`plan_json`] with the compiler's identity as a build remembered it in
/// `cache_dir` (read, never written; computed afresh when absent or stale).
pub fn plan_json_with_memo(
    inputs: &[FfiUnitInput],
    cc: Option<&Path>,
    cache_dir: Option<&Path>,
) -> Result<serde_json::Value, FfiBuildError> {
    let clang = crate::toolchain::memo::clang_read_only(cache_dir, cc)?;
    Ok(plan_units(inputs, &clang)?.graph.plan_json())
}

/// Checks a linked unit image before it is used: no `DF_STATIC_TLS`, every
/// manifest symbol a function the image defines itself, no guarded import
/// the manifest does not allow ([`boundary::GUARDED_IMPORTS`]). The program
/// build calls this on every image it embeds, `build_units` on every image
/// it writes.
pub fn check_image(unit: &PlannedUnit, image: &[u8]) -> Result<(), FfiBuildError> {
    if has_static_tls(image) == Some(true) {
        return Err(FfiBuildError::StaticTls {
            library: unit.library.clone(),
            unit: unit.unit.clone(),
        });
    }
    // Bytes that are no ELF image (a test's stand-in) have nothing to check.
    let Some(syms) = dynamic_symbols(image) else {
        return Ok(());
    };
    let missing: Vec<MissingSymbol> = unit
        .symbols
        .iter()
        .filter_map(|s| {
            let found = match syms.defined.get(&s.name) {
                Some(Defined::Function) => return None,
                Some(Defined::Other) => Found::NotAFunction,
                None if syms.imported.contains(&s.name) => Found::Import,
                None => Found::Nothing,
            };
            Some(MissingSymbol {
                symbol: s.clone(),
                found,
            })
        })
        .collect();
    if !missing.is_empty() {
        return Err(FfiBuildError::MissingSymbols(Box::new(MissingSymbols {
            library: unit.library.clone(),
            unit: unit.unit.clone(),
            missing,
        })));
    }
    let imports: Vec<(String, String)> = syms
        .imported
        .iter()
        .filter_map(|name| boundary::guarded(name))
        .filter(|g| !unit.allow_imports.iter().any(|a| a == g.allow))
        .map(|g| (g.symbol.to_string(), g.allow.to_string()))
        .collect();
    if !imports.is_empty() {
        return Err(FfiBuildError::RefusedImports(Box::new(RefusedImports {
            library: unit.library.clone(),
            unit: unit.unit.clone(),
            imports,
            allowed: unit.allow_imports.clone(),
        })));
    }
    Ok(())
}

/// What decides [`check_image`]'s verdict on an image with digest `image`
/// (hex): the image, the unit's manifest symbols and allowed imports, and
/// the version of the checks. A program build remembers a passed check
/// under this key.
pub fn image_check_key(unit: &PlannedUnit, image: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"coex-image-check-v2\0");
    h.update(image.as_bytes());
    for s in &unit.symbols {
        h.update(b"\0s\0");
        h.update(s.signature().as_bytes());
    }
    for a in &unit.allow_imports {
        h.update(b"\0a\0");
        h.update(a.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// Checks the output folder and the image paths `out_dir/<image>` before a
/// build: the folder is missing (it will be created) or a folder (a link to
/// one is fine), and each image path is absent or a regular file that is
/// not one of `inputs`. Writing checks each image again.
pub fn check_image_paths<'a>(
    out_dir: &Path,
    images: impl IntoIterator<Item = &'a str>,
    inputs: &[Input],
) -> Result<(), OutputError> {
    match std::fs::metadata(out_dir) {
        Ok(m) if m.is_dir() => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Ok(m) => {
            let what = crate::atomic_file::describe_non_regular(out_dir, &m)
                .unwrap_or_else(|| "a regular file".to_string());
            return Err(OutputError::Refused {
                path: out_dir.to_path_buf(),
                what: format!("it is {what}, not a folder for the unit images"),
                fix: "Choose another output folder with -o.".to_string(),
            });
        }
        Err(e) => {
            return Err(OutputError::Io {
                path: out_dir.to_path_buf(),
                source: e,
            })
        }
    }
    for image in images {
        check_output(&OutputTarget::new(&out_dir.join(image)).with_inputs(inputs))?;
    }
    Ok(())
}

/// Refuses units of different libraries that would write the same
/// `out_dir/lib<unit>.so` (units are scoped by library; one output folder
/// holds the images of one library, as `coex cxz build` writes them).
fn check_one_unit_per_image(units: &[PlannedUnit], out_dir: &Path) -> Result<(), FfiBuildError> {
    let mut by_image: BTreeMap<&str, &PlannedUnit> = BTreeMap::new();
    for u in units {
        if let Some(first) = by_image.insert(&u.image, u) {
            return Err(FfiBuildError::BadUnit {
                library: u.library.clone(),
                unit: u.unit.clone(),
                detail: format!(
                    "its image {} would replace the one of unit '{}' of library '{}'; write each library's images to a folder of its own",
                    out_dir.join(&u.image).display(),
                    first.unit,
                    first.library
                ),
            });
        }
    }
    Ok(())
}

/// Builds every unit (cache first, `-j N`) and writes each image to
/// `out_dir/lib<unit>.so` (as a regular file, through a temporary file
/// renamed into place; anything else at that path is refused, before the
/// build and again when writing).
pub fn build_units(
    inputs: &[FfiUnitInput],
    opts: &FfiBuildOptions,
    out_dir: &Path,
) -> Result<FfiBuildOutcome, FfiBuildError> {
    // The compiler's identity, remembered in the cache like a program build's.
    let clang = crate::toolchain::memo::clang(Some(&opts.exec.cache_dir), opts.cc.as_deref())?;
    let plan = plan_units(inputs, &clang)?;
    check_one_unit_per_image(&plan.units, out_dir)?;
    check_image_paths(out_dir, plan.units.iter().map(|u| u.image.as_str()), &[])?;
    let executor = Executor::new(&opts.exec);
    let report = executor.run(&plan.graph).map_err(|e| plan.explain(e))?;
    let out_err = |path: &Path, e| FfiBuildError::Output {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(out_dir).map_err(|e| out_err(out_dir, e))?;
    let mut images = BTreeMap::new();
    for u in &plan.units {
        let target = out_dir.join(&u.image);
        let bytes = report
            .output(&u.link_action, &u.image)
            .and_then(|d| executor.read_blob(d))
            .ok_or_else(|| {
                FfiBuildError::Exec(ExecError::Cache(format!(
                    "the image of unit '{}' vanished from the cache; run the build again",
                    u.unit
                )))
            })?;
        check_image(u, &bytes)?;
        write_atomically(&OutputTarget::new(&target), &bytes, 0o644, false)?;
        images.insert((u.library.clone(), u.unit.clone()), target);
    }
    Ok(FfiBuildOutcome { report, images })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cxz::{BoundaryType, Symbol};

    fn unit_with(symbols: &[(&str, Vec<BoundaryType>, BoundaryType)]) -> PlannedUnit {
        PlannedUnit {
            library: "l".into(),
            unit: "u".into(),
            compile_actions: vec!["compile:l/u/a.c".into()],
            link_action: "link:l/u".into(),
            image: "libu.so".into(),
            symbols: symbols
                .iter()
                .map(|(n, p, r)| Symbol {
                    name: n.to_string(),
                    params: p.clone(),
                    returns: *r,
                })
                .collect(),
            allow_imports: Vec::new(),
        }
    }

    #[test]
    fn the_header_declares_each_symbol_on_a_known_line() {
        use BoundaryType::*;
        let input = FfiUnitInput {
            unit: "u".into(),
            symbols: unit_with(&[("f", vec![Int, Float], String), ("g", vec![], Void)]).symbols,
            ..Default::default()
        };
        let h = symbols_header(&input);
        let lines: Vec<&str> = h.lines().collect();
        assert_eq!(
            lines[plan::symbol_at_line_for_test(0) - 1],
            "const char *f(__INT64_TYPE__, double);"
        );
        assert_eq!(lines[plan::symbol_at_line_for_test(1) - 1], "void g(void);");
        assert!(h.contains("#ifndef f\n"), "{h}");
        assert_eq!(plan::symbol_at_header_line(6, 2), Some(0));
        assert_eq!(plan::symbol_at_header_line(9, 2), Some(1));
        assert_eq!(plan::symbol_at_header_line(7, 2), None);
        assert_eq!(
            c_prototype(&input.symbols[0]),
            "const char *f(int64_t, double)"
        );
        assert_eq!(c_prototype(&input.symbols[1]), "void g(void)");
    }

    #[test]
    fn a_conflicting_types_error_names_the_manifest_entry() {
        use BoundaryType::*;
        let u = unit_with(&[("f", vec![Int], Int), ("g", vec![], Bool)]);
        let clang = "src/a.c:2:5: error: conflicting types for 'g'\nint64_t g(void) { return 1; }\n        ^\n./coex/coex_symbols.h:9:16: note: previous declaration is here\n__INT32_TYPE__ g(void);\n1 error generated.\n";
        let m = signature_mismatch(&u, clang).unwrap();
        assert_eq!(m.symbol, "g");
        assert_eq!(m.location, "ffi/src/a.c:2:5");
        assert_eq!(m.code, "int64_t g(void) { return 1; }");
        assert_eq!(m.manifest_c, "int32_t g(void)");
        assert!(
            m.to_string().contains("the C code of 'g' does not match"),
            "{m}"
        );
        // gcc's wording points at the header the same way
        let gcc = "src/a.c:2:9: error: conflicting types for 'f'; have 'int(int)'\n    2 | int f(int x) { return x; }\n      |     ^\nIn file included from <command-line>:\n./coex/coex_symbols.h:6:16: note: previous declaration of 'f' with type 'long int(long int)'\n";
        assert_eq!(signature_mismatch(&u, gcc).unwrap().symbol, "f");
        // an error that has nothing to do with the header is not one
        let other = "src/a.c:1:1: error: unknown type name 'x'\n";
        assert!(signature_mismatch(&u, other).is_none());
    }

    #[test]
    fn a_shim_function_defined_again_is_recognised_with_its_file() {
        let ld = "/usr/bin/ld: obj/dir/proto.c.o: in function `malloc':\nproto.c:(.text+0x0): multiple definition of `malloc'; /tmp/coex-scratch-1-2-abc/coex_shim-1.o:coex_shim.c:(.text+0x0): first defined here\nclang: error: linker command failed with exit code 1 (use -v to see invocation)\n";
        assert_eq!(
            shim_name_defined(ld),
            Some(("malloc".to_string(), Some("dir/proto.c".to_string())))
        );
        let lld = "ld.lld: error: duplicate symbol: free\n>>> defined at coex_shim.c\n>>>            coex_shim-1.o:(free)\n>>> defined at a.c\n>>>            obj/a.c.o:(.text+0x0)\n";
        assert_eq!(
            shim_name_defined(lld),
            Some(("free".to_string(), Some("a.c".to_string())))
        );
        let other =
            "a.c:(.text+0x0): multiple definition of `helper'; obj/b.c.o: first defined here\n";
        assert_eq!(shim_name_defined(other), None);
        let out = linker_output(ld);
        assert!(
            out.contains("multiple definition of `malloc'; coex_shim-1.o:coex_shim.c"),
            "{out}"
        );
        assert!(!out.contains("coex-scratch"), "{out}");
        assert!(!out.contains("linker command failed"), "{out}");
    }

    #[test]
    fn linker_output_is_capped_with_a_count() {
        let many: String = (0..25)
            .map(|i| format!("a.c:(.text+0x{i}): undefined reference to `g{i}'\n"))
            .collect();
        let out = linker_output(&many);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), LINKER_LINES + 1);
        assert_eq!(lines[0], "  a.c:(.text+0x0): undefined reference to `g0'");
        assert_eq!(lines[LINKER_LINES], "  … 5 more lines");
        assert_eq!(linker_output(""), "  (no output)");
        assert_eq!(
            link_error_line("/usr/bin/ld: obj/a.c.o: in function `f':\na.c:(.text+0x0): multiple definition of `f'; x\nclang: error: linker command failed\n"),
            "a.c:(.text+0x0): multiple definition of `f'; x"
        );
    }

    #[test]
    fn first_error_line_prefers_error_lines() {
        let s = "src/a.c:1:1: warning: x\nsrc/a.c:2:3: error: expected ';'\n1 error generated.\n";
        assert_eq!(first_error_line(s), "src/a.c:2:3: error: expected ';'");
        assert_eq!(first_error_line(""), "(no diagnostic output)");
        let ld = "/usr/bin/ld: cannot find -lnope: No such file or directory\nclang: error: linker command failed with exit code 1\n";
        assert_eq!(
            first_error_line(ld),
            "/usr/bin/ld: cannot find -lnope: No such file or directory"
        );
    }
}
