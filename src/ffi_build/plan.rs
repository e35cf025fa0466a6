//! Planning: FFI units → compile and link actions in an [`ActionGraph`].

use std::collections::{BTreeMap, BTreeSet};

use super::host_paths::scan;
use super::{FfiBuildError, FfiUnitInput};
use crate::cxz::{BoundaryType, Symbol};
use crate::embedded_c::SHIM_ABI_HEADER;
pub use crate::embedded_c::{SHIM_HEADER, SHIM_SOURCE};
use crate::exec::action::{fixed_env, Discover, SCRATCH};
use crate::exec::digest::Digest;
use crate::exec::graph::{ActionGraph, ActionSpec, InputSource};
use crate::exec::preprocessed::preprocess_args;
use crate::toolchain::pkg_config::{include_dirs, valid_name, PkgConfigFlags};
use crate::toolchain::{check_system_headers, resolve_pkg_config, Clang};

/// Where the shim and its header sit in a unit's scratch directory.
const SHIM_DIR: &str = "coex";

/// Where a unit's actions and image are in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUnit {
    /// The library.
    pub library: String,
    /// The unit.
    pub unit: String,
    /// Ids of its compile actions, in source order.
    pub compile_actions: Vec<String>,
    /// Id of its link action.
    pub link_action: String,
    /// The image file name (`lib<unit>.so`), the link action's output.
    pub image: String,
    /// The manifest symbols the image must define (checked after the link;
    /// their prototypes are in every compile, see [`symbols_header`]).
    pub symbols: Vec<crate::cxz::Symbol>,
    /// Guarded imports the manifest allows this unit.
    pub allow_imports: Vec<String>,
}

/// A graph of FFI actions plus the map back to units.
#[derive(Debug, Clone)]
pub struct FfiPlan {
    /// The actions.
    pub graph: ActionGraph,
    /// The units, in input order.
    pub units: Vec<PlannedUnit>,
}

fn rel_ok(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.starts_with('-')
        && !p.contains('\\')
        && !p.contains('\0')
        && p.split('/').all(|c| c != "..")
}

fn norm(p: &str) -> String {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Plans every unit into a fresh graph.
pub fn plan_units(inputs: &[FfiUnitInput], clang: &Clang) -> Result<FfiPlan, FfiBuildError> {
    let mut graph = ActionGraph::new();
    let units = add_units_to_graph(&mut graph, inputs, clang)?;
    Ok(FfiPlan { graph, units })
}

/// Adds the actions of every unit to an existing graph (the program build
/// adds its own codegen and link actions next to them).
pub fn add_units_to_graph(
    graph: &mut ActionGraph,
    inputs: &[FfiUnitInput],
    clang: &Clang,
) -> Result<Vec<PlannedUnit>, FfiBuildError> {
    // A unit is known by its library and its name: its actions are
    // `compile:<library>/<unit>/…` and `link:<library>/<unit>`, and each
    // action writes its image `lib<unit>.so` in its own scratch folder, so
    // libraries that both name a unit `u` do not meet here.
    let mut seen = BTreeSet::new();
    let mut units = Vec::new();
    for u in inputs {
        if !seen.insert((u.library.as_str(), u.unit.as_str())) {
            return Err(bad(u, "the unit is listed twice".into()));
        }
        units.push(add_unit(graph, u, clang)?);
    }
    Ok(units)
}

/// Refuses a unit whose C names a host file where the dependency file
/// cannot see it (`.incbin`, `#embed`, `__has_include`; see host_paths.rs).
fn check_host_paths(u: &FfiUnitInput) -> Result<(), FfiBuildError> {
    for (path, bytes) in &u.files {
        if let Some(found) = scan(path, bytes) {
            return Err(FfiBuildError::HostPath(Box::new(super::HostPath {
                library: u.library.clone(),
                unit: u.unit.clone(),
                file: found.file,
                line: found.line,
                construct: found.construct,
                path: found.path,
            })));
        }
    }
    Ok(())
}

fn bad(u: &FfiUnitInput, detail: String) -> FfiBuildError {
    FfiBuildError::BadUnit {
        library: u.library.clone(),
        unit: u.unit.clone(),
        detail,
    }
}
/// What every action of one unit shares: the unit, the compiler and the
/// flags and inputs worked out once before its actions are planned.
struct UnitPlan<'a> {
    u: &'a FfiUnitInput,
    clang: &'a Clang,
    pkg: PkgConfigFlags,
    /// The unit's `ffi/src` tree and the shim header, by scratch path.
    inputs: BTreeMap<String, InputSource>,
    /// Digest of `coex_ffi.h`, which the link action reads as well.
    header: Digest,
}

impl UnitPlan<'_> {
    /// An action named `<kind>:<library>/<unit>` that runs clang with the
    /// fixed environment and nothing else yet.
    fn action(&self, kind: &str) -> ActionSpec {
        ActionSpec {
            id: format!("{kind}:{}/{}", self.u.library, self.u.unit),
            argv: vec![self.clang.path.to_string_lossy().into_owned()],
            env: fixed_env(),
            inputs: BTreeMap::new(),
            outputs: Vec::new(),
            tool: self.clang.identity.clone(),
            discover: None,
        }
    }
}

/// Plans one unit: a compile action per listed source, then one link action
/// producing `lib<unit>.so`. Checks run first, in a fixed order, so the same
/// bad unit always reports the same error.
fn add_unit(
    graph: &mut ActionGraph,
    u: &FfiUnitInput,
    clang: &Clang,
) -> Result<PlannedUnit, FfiBuildError> {
    let pkg = resolve_pkg_config(&u.library, &u.pkg_config)?;
    check_system_headers(clang, &u.library, &u.system_headers, &pkg.cflags)?;
    check_unit_lists(u)?;
    check_host_paths(u)?;
    let (inputs, header) = unit_inputs(graph, u)?;
    let plan = UnitPlan {
        u,
        clang,
        pkg,
        inputs,
        header,
    };
    let objects = add_compile_actions(graph, &plan)?;
    let compile_actions = objects.iter().map(|(id, _)| id.clone()).collect();
    let image = format!("lib{}.so", u.unit);
    let link = link_action(graph, &plan, &image, &objects);
    let link_action = link.id.clone();
    graph.add(link).map_err(|e| bad(u, e.to_string()))?;
    Ok(PlannedUnit {
        library: u.library.clone(),
        unit: u.unit.clone(),
        compile_actions,
        link_action,
        image,
        symbols: u.symbols.clone(),
        allow_imports: u.allow_imports.clone(),
    })
}

/// Refuses a unit with no sources or a system library name that could be
/// read as a linker flag.
fn check_unit_lists(u: &FfiUnitInput) -> Result<(), FfiBuildError> {
    if u.sources.is_empty() {
        return Err(bad(
            u,
            "it has no C sources; list them under `source`".into(),
        ));
    }
    for l in &u.system_libs {
        if !valid_name(l) {
            return Err(bad(
                u,
                format!("system library '{l}' must match [A-Za-z0-9_.+-]+ and not start with '-'"),
            ));
        }
    }
    Ok(())
}

/// The unit's files (inline and already stored) under `src/`, plus the shim
/// header under `coex/`; refuses a path that leaves `ffi/src`. Returns the
/// header's digest too, since the link action reads it.
fn unit_inputs(
    graph: &mut ActionGraph,
    u: &FfiUnitInput,
) -> Result<(BTreeMap<String, InputSource>, Digest), FfiBuildError> {
    let mut inputs: BTreeMap<String, InputSource> = BTreeMap::new();
    for (path, bytes) in &u.files {
        if !rel_ok(path) {
            return Err(bad(u, format!("file '{path}' must stay inside ffi/src")));
        }
        let d = graph.add_blob(bytes.clone());
        inputs.insert(format!("src/{}", norm(path)), InputSource::Blob(d));
    }
    for (path, d) in &u.stored {
        if !rel_ok(path) {
            return Err(bad(u, format!("file '{path}' must stay inside ffi/src")));
        }
        // The executor reads it from the local cache if an action runs.
        inputs.insert(format!("src/{}", norm(path)), InputSource::Blob(d.clone()));
    }
    let header = graph.add_blob(SHIM_HEADER.as_bytes().to_vec());
    inputs.insert(
        format!("{SHIM_DIR}/coex_ffi.h"),
        InputSource::Blob(header.clone()),
    );
    if !u.symbols.is_empty() {
        let protos = graph.add_blob(symbols_header(u).into_bytes());
        inputs.insert(SYMBOLS_HEADER.to_string(), InputSource::Blob(protos));
    }
    Ok((inputs, header))
}

/// Where the generated prototypes of the unit's manifest symbols sit in a
/// compile's scratch directory (force-included with `-include`).
pub const SYMBOLS_HEADER: &str = "coex/coex_symbols.h";

/// The C type of a boundary type (docs/library-authoring.md §4), spelled
/// with the compiler's predefined type macros so the header includes
/// nothing (`__INT64_TYPE__` is the type of `int64_t`).
fn c_type(t: BoundaryType) -> &'static str {
    match t {
        BoundaryType::Int => "__INT64_TYPE__",
        BoundaryType::Float => "double",
        BoundaryType::Bool => "__INT32_TYPE__",
        BoundaryType::String => "const char *",
        BoundaryType::Void => "void",
    }
}

/// The same type as a user writes it (`int64_t`), for messages.
pub fn c_type_shown(t: BoundaryType) -> &'static str {
    match t {
        BoundaryType::Int => "int64_t",
        BoundaryType::Float => "double",
        BoundaryType::Bool => "int32_t",
        BoundaryType::String => "const char *",
        BoundaryType::Void => "void",
    }
}

/// `symbol`'s C prototype, with `ty` spelling each type.
fn prototype(s: &Symbol, ty: fn(BoundaryType) -> &'static str) -> String {
    let params = if s.params.is_empty() {
        "void".to_string()
    } else {
        s.params
            .iter()
            .map(|p| ty(*p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ret = ty(s.returns);
    let sep = if ret.ends_with('*') { "" } else { " " };
    format!("{ret}{sep}{}({params})", s.name)
}

/// The C prototype of a manifest symbol as a user writes it
/// (`int64_t f(int64_t, const char *)`), for messages.
pub fn c_prototype(s: &Symbol) -> String {
    prototype(s, c_type_shown)
}

/// The first line of the prototype of the `i`-th symbol (0-based) in
/// [`symbols_header`]: a header line number maps back to its symbol.
const fn header_line_of(i: usize) -> usize {
    HEADER_PREAMBLE_LINES + 3 * i + 2
}

/// [`header_line_of`] for the tests of mod.rs.
#[cfg(test)]
pub(super) const fn symbol_at_line_for_test(i: usize) -> usize {
    header_line_of(i)
}

/// Lines before the first symbol's `#ifndef` in [`symbols_header`].
const HEADER_PREAMBLE_LINES: usize = 4;

/// The index of the symbol whose prototype is on `line` of the header.
pub fn symbol_at_header_line(line: usize, count: usize) -> Option<usize> {
    (0..count).find(|&i| header_line_of(i) == line)
}

/// The header of prototypes of the unit's manifest symbols, force-included
/// into every compile of the unit: a C definition (or declaration) with
/// other types is a compile error (`conflicting types for 'f'`). A name a
/// predefined or `-D` macro already stands for gets no prototype.
pub fn symbols_header(u: &FfiUnitInput) -> String {
    let mut h = format!(
        "/* coex_symbols.h: generated by coex from manifest.toml [[ffi.{}.symbols]].\n \
         * Included before every C file of the unit: each function must have these\n \
         * C types (docs/library-authoring.md, section 4). */\n\n",
        u.unit
    );
    debug_assert_eq!(h.lines().count(), HEADER_PREAMBLE_LINES);
    for s in &u.symbols {
        h.push_str(&format!(
            "#ifndef {0}\n{1};\n#endif\n",
            s.name,
            prototype(s, c_type)
        ));
    }
    h
}

/// `-I` flags for the unit's include dirs (relative to `ffi/src`), then the
/// shim's dir; refuses a dir that leaves `ffi/src`.
fn include_flags(u: &FfiUnitInput) -> Result<Vec<String>, FfiBuildError> {
    let mut flags = Vec::new();
    for dir in &u.include_dirs {
        if !rel_ok(dir) {
            return Err(bad(
                u,
                format!("include dir '{dir}' must stay inside ffi/src"),
            ));
        }
        let n = norm(dir);
        flags.push(if n.is_empty() {
            "-Isrc".to_string()
        } else {
            format!("-Isrc/{n}")
        });
    }
    flags.push(format!("-I{SHIM_DIR}"));
    Ok(flags)
}

/// Adds one compile action per listed source, in source order, and returns
/// each one's id and object path (what the link action reads).
fn add_compile_actions(
    graph: &mut ActionGraph,
    plan: &UnitPlan<'_>,
) -> Result<Vec<(String, String)>, FfiBuildError> {
    let u = plan.u;
    let include_flags = include_flags(u)?;
    let pkg_dirs = include_dirs(&plan.pkg.cflags);
    let allowed = plan.clang.readable_roots(&pkg_dirs);
    let search = plan.clang.search_dirs(&pkg_dirs);
    let listed: BTreeSet<String> = u
        .sources
        .iter()
        .map(|s| format!("src/{}", norm(s)))
        .collect();
    let debug = crate::cxz::flags::wants_debug_info(u.cflags.iter().chain(&plan.pkg.cflags));
    let mut objects = Vec::new();
    for src in &u.sources {
        let s = norm(src);
        if !rel_ok(src) || !u.files.keys().chain(u.stored.keys()).any(|f| norm(f) == s) {
            return Err(bad(
                u,
                format!("source '{src}' is not a file under ffi/src"),
            ));
        }
        let obj = format!("obj/{s}.o");
        let mut a = plan.action("compile");
        a.id = format!("{}/{s}", a.id);
        // (-fPIC already means the global-dynamic TLS model; an explicit
        // initial-exec attribute is caught after the link, see elf.rs)
        // The manifest's cflags come after -O2, so its -O3 or -O0 wins.
        a.argv.extend(["-c", "-fPIC", "-O2"].map(String::from));
        a.argv.extend(include_flags.iter().cloned());
        if !u.symbols.is_empty() {
            // The manifest's prototypes come first: a definition with other
            // types is clang's `conflicting types` (mapped in mod.rs).
            a.argv
                .extend(["-include".to_string(), SYMBOLS_HEADER.to_string()]);
        }
        a.argv.extend(u.cflags.iter().cloned());
        a.argv.extend(plan.pkg.cflags.iter().cloned());
        // -Werror=date-time: __DATE__ & co. would make two builds differ;
        // after every other flag, so no -Wno-everything can switch it off.
        a.argv.push("-Werror=date-time".to_string());
        a.argv.push(format!("-ffile-prefix-map={SCRATCH}=."));
        a.argv.push(format!("-fdebug-prefix-map={SCRATCH}=."));
        let depfile = format!("{obj}.d");
        a.argv
            .extend(["-MD".to_string(), "-MF".to_string(), depfile.clone()]);
        a.argv
            .extend(["-o".to_string(), obj.clone(), format!("src/{s}")]);
        a.discover = Some(Discover {
            depfiles: vec![depfile],
            allowed_roots: Some(allowed.clone()),
            search_dirs: search.clone(),
            // With debug info the object holds the source's MD5: no
            // preprocessed key (flags.rs, `wants_debug_info`).
            preprocess: (!debug).then(|| preprocess_args(&a.argv[1..])),
        });
        // Every file of the tree except the unit's *other* listed sources:
        // a header (or an #included .c that is not itself a source) change
        // re-runs every compile, while editing one source re-runs only its own.
        a.inputs = plan
            .inputs
            .iter()
            .filter(|(p, _)| *p == &format!("src/{s}") || !listed.contains(p.as_str()))
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect();
        a.outputs = vec![obj.clone()];
        objects.push((a.id.clone(), obj));
        graph.add(a).map_err(|e| bad(u, e.to_string()))?;
    }
    Ok(objects)
}

/// The link action: compiles the shim and links it with the unit's objects,
/// system libraries and pkg-config libraries into `image`.
fn link_action(
    graph: &mut ActionGraph,
    plan: &UnitPlan<'_>,
    image: &str,
    objects: &[(String, String)],
) -> ActionSpec {
    let u = plan.u;
    let mut link = plan.action("link");
    link.argv.extend(
        [
            "-shared",
            "-fPIC",
            "-Wl,-Bsymbolic",
            "-Wl,-z,now",
            // Every undefined reference must be satisfied by libc or the
            // unit's system/pkg-config libraries: a typo fails the link
            // here, naming the symbol, not the program's first call.
            "-Wl,-z,defs",
            "-Wl,--build-id=none",
            "-o",
        ]
        .map(String::from),
    );
    link.argv.push(image.to_string());
    // The shim is compiled by the link action itself, first on the line:
    // `-O2 -fno-builtin` only affect this one C file (the objects are
    // already compiled), so the unit's own code keeps its builtins and the
    // graph keeps one compile action per listed source.
    link.argv.extend(["-O2", "-fno-builtin"].map(String::from));
    // What the shim's compile and the linker read (system headers, crt
    // files, libc, the -l libraries) is discovered, not declared.
    let shim_deps = format!("{image}.shim.d");
    let ld_deps = format!("{image}.ld.d");
    link.argv
        .extend(["-MD".to_string(), "-MF".to_string(), shim_deps.clone()]);
    link.argv.push(format!("-Wl,--dependency-file={ld_deps}"));
    // clang's temporary object of the shim goes inside the scratch dir, so
    // the linker's dependency file names no random path outside it.
    link.env.insert("TMPDIR".to_string(), SCRATCH.to_string());
    link.discover = Some(Discover {
        depfiles: vec![shim_deps, ld_deps],
        allowed_roots: None,
        search_dirs: plan.clang.include_dirs.clone(),
        preprocess: None,
    });
    link.argv.push(format!("-I{SHIM_DIR}"));
    link.argv.push(format!("{SHIM_DIR}/coex_shim.c"));
    let shim_src = graph.add_blob(SHIM_SOURCE.as_bytes().to_vec());
    link.inputs.insert(
        format!("{SHIM_DIR}/coex_shim.c"),
        InputSource::Blob(shim_src),
    );
    link.inputs.insert(
        format!("{SHIM_DIR}/coex_ffi.h"),
        InputSource::Blob(plan.header.clone()),
    );
    let abi = graph.add_blob(SHIM_ABI_HEADER.as_bytes().to_vec());
    link.inputs.insert(
        format!("{SHIM_DIR}/coex_shim_abi.h"),
        InputSource::Blob(abi),
    );
    for (id, obj) in objects {
        link.argv.push(obj.clone());
        link.inputs.insert(
            obj.clone(),
            InputSource::Output {
                action: id.clone(),
                path: obj.clone(),
            },
        );
    }
    // -pthread in the cflags links the thread library too (flags.rs).
    link.argv.extend(crate::cxz::flags::link_flags(&u.cflags));
    link.argv
        .extend(u.system_libs.iter().map(|l| format!("-l{l}")));
    link.argv.extend(plan.pkg.libs.iter().cloned());
    link.outputs = vec![image.to_string()];
    link
}
