"""`cxz_archive` (pack workspace sources into a `.cxz`) and `cxz_library`
(a `.cxz` file, checked in or downloaded, as an importable library)."""

load("//toolchains:toolchain.bzl", "COEX_TOOLCHAIN_TYPE")
load(":providers.bzl", "CoexInfo", "CxzInfo", "FfiUnitInfo")
load(":toolchain_access.bzl", "CC_ATTRS", "CC_TOOLCHAIN_TYPE", "run_coex_tool")

def _package_prefix(ctx, strip_prefix):
    """The short_path prefix that archive paths are relative to."""
    parts = []
    if ctx.label.workspace_name:
        parts.append("..")
        parts.append(ctx.label.workspace_name)
    if ctx.label.package:
        parts.append(ctx.label.package)
    if strip_prefix:
        parts.append(strip_prefix.strip("/"))
    return "/".join(parts)

def _by_short_path(f):
    return f.short_path

def _archive_path(f, prefix):
    if not prefix:
        return f.short_path
    if not f.short_path.startswith(prefix + "/"):
        fail("cxz_archive: %s is not under %s/: every file of srcs must live below the package (or strip_prefix)" % (f.short_path, prefix))
    return f.short_path[len(prefix) + 1:]

def _cxz_archive_impl(ctx):
    out = ctx.actions.declare_file(ctx.attr.out or ctx.label.name + ".cxz")
    prefix = _package_prefix(ctx, ctx.attr.strip_prefix)
    args = ctx.actions.args()
    args.add("pack")
    args.add("--manifest", ctx.file.manifest)
    seen = {}
    for f in sorted(ctx.files.srcs, key = _by_short_path):
        path = _archive_path(f, prefix)
        if path == "manifest.toml":
            fail("cxz_archive: %s is in srcs; give the manifest with `manifest =` only" % f.short_path)
        if path in seen:
            fail("cxz_archive: two files map to archive path %s" % path)
        seen[path] = True
        args.add("--file", "%s=%s" % (path, f.path))
    args.add("-o", out)
    run_coex_tool(
        ctx,
        mnemonic = "CoexPack",
        progress = "Packing %s" % out.short_path,
        args = args,
        inputs = ctx.files.srcs + [ctx.file.manifest],
        outputs = [out],
    )
    return [DefaultInfo(files = depset([out]))]

cxz_archive = rule(
    implementation = _cxz_archive_impl,
    doc = """Packs Coex sources, C sources and a manifest into a deterministic `.cxz`.

Archive paths are the files' paths relative to the package (or to
`strip_prefix` below it), so a package laid out like the archive
(`manifest.toml`, `src/*.coex`, `ffi/src/...`) packs as is. The output is
`<name>.cxz`; the same files always give the same bytes.""",
    attrs = {
        "manifest": attr.label(
            doc = "The library's manifest; stored as `manifest.toml` at the archive root.",
            mandatory = True,
            allow_single_file = [".toml"],
        ),
        "srcs": attr.label_list(
            doc = "Every other file of the archive (`src/*.coex`, `ffi/src/**`, README, LICENSE).",
            allow_files = True,
        ),
        "strip_prefix": attr.string(
            doc = "A directory below the package that archive paths are relative to.",
        ),
        "out": attr.string(
            doc = "Output file name (default `<name>.cxz`).",
        ),
    },
    toolchains = [COEX_TOOLCHAIN_TYPE],
)

def _check_unit_name(rule_label, unit):
    ok = len(unit) > 0 and len(unit) <= 64 and not unit[0].isdigit()
    for c in unit.elems():
        if not (c.isalnum() or c == "_"):
            ok = False
    if not ok:
        fail("%s: invalid FFI unit name %r (expected [A-Za-z_][A-Za-z0-9_]*, at most 64 characters)" % (rule_label, unit))

def _unit_images(ctx, archive):
    """One `coex tool ffi-unit` action per unit named in `units`."""
    images = {}
    for unit in ctx.attr.units:
        _check_unit_name(ctx.label, unit)
        if unit in images:
            fail("%s: FFI unit %r listed twice in units" % (ctx.label, unit))
        image = ctx.actions.declare_file("%s_ffi/lib%s.so" % (ctx.label.name, unit))
        args = ctx.actions.args()
        args.add("ffi-unit")
        args.add("--cxz", archive)
        args.add("--unit", unit)
        args.add("-o", image)
        run_coex_tool(
            ctx,
            mnemonic = "CoexFfiUnit",
            progress = "Compiling FFI unit %s of %s" % (unit, archive.short_path),
            args = args,
            inputs = [archive],
            outputs = [image],
            with_cc = True,
        )
        images[unit] = image
    return tuple([FfiUnitInfo(unit = u, image = images[u]) for u in sorted(images)])

def _unit_dir(ctx, archive):
    """One `coex tool ffi-units` action: every unit of the manifest, read when
    the action runs, into one directory (a tree artifact)."""
    unit_dir = ctx.actions.declare_directory("%s_ffi" % ctx.label.name)
    args = ctx.actions.args()
    args.add("ffi-units")
    args.add("--cxz", archive)
    args.add("-o", unit_dir.path)
    run_coex_tool(
        ctx,
        mnemonic = "CoexFfiUnits",
        progress = "Compiling the FFI units of %s" % archive.short_path,
        args = args,
        inputs = [archive],
        outputs = [unit_dir],
        with_cc = True,
    )
    return unit_dir

def _cxz_library_impl(ctx):
    archive = ctx.file.src
    unit_images = _unit_images(ctx, archive)
    unit_dir = None if ctx.attr.units else _unit_dir(ctx, archive)

    # What Coex code compiles against: the archive without its C contents,
    # so a C edit never re-runs Cranelift (this output stays the same bytes).
    interface = ctx.actions.declare_file("%s_interface/%s" % (ctx.label.name, archive.basename))
    args = ctx.actions.args()
    args.add("interface")
    args.add("--cxz", archive)
    args.add("-o", interface)
    run_coex_tool(
        ctx,
        mnemonic = "CoexInterface",
        progress = "Extracting the interface of %s" % archive.short_path,
        args = args,
        inputs = [archive],
        outputs = [interface],
    )
    library = CxzInfo(
        import_name = ctx.attr.import_name or ctx.label.name,
        archive = archive,
        interface = interface,
        unit_images = unit_images,
        unit_dir = unit_dir,
    )
    images = [u.image for u in unit_images] + ([unit_dir] if unit_dir else [])
    return [
        DefaultInfo(files = depset([archive] + images)),
        library,
        CoexInfo(modules = depset(), libraries = depset([library])),
    ]

cxz_library = rule(
    implementation = _cxz_library_impl,
    doc = """A `.cxz` library as a build input: its FFI units compiled with the C++
toolchain's clang, and one `coex tool interface` action (the archive without
its C contents, what Coex code is compiled against).

Without `units`, one `coex tool ffi-units` action compiles every unit the
archive's manifest lists into `<name>_ffi/lib<unit>.so` (a directory output:
the names are read from the manifest when the action runs). With `units`,
one `coex tool ffi-unit` action per named unit (finer-grained caching); the
link then checks that the list is complete and names any unit missing.""",
    attrs = dict({
        "src": attr.label(
            doc = "The archive: a checked-in `.cxz`, a `cxz_archive` target or an `http_file`.",
            mandatory = True,
            allow_single_file = [".cxz"],
        ),
        "units": attr.string_list(
            doc = "FFI units to compile one action each (default: every unit of the manifest, one action).",
        ),
        "import_name": attr.string(
            doc = "The name Coex code imports the library by (default: the target name).",
        ),
    }, **CC_ATTRS),
    fragments = ["cpp"],
    toolchains = [COEX_TOOLCHAIN_TYPE, CC_TOOLCHAIN_TYPE],
)
