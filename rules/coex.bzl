"""`coex_library`, `coex_binary` and `coex_test`: Coex programs built from
Coex sources and `.cxz` libraries by `coex tool` actions.

A program is one `coex tool codegen` action (Cranelift, all of its Coex code),
one `coex tool runtime` action shared by every program of the configuration,
the FFI unit actions of its libraries (see cxz.bzl) and one `coex tool link`.
Codegen reads each library's interface (the archive without its C
contents), so changing a C file of a library re-runs that library's
actions and the link only, never Cranelift; changing Coex code re-runs
codegen and the link only.
"""

load("//toolchains:toolchain.bzl", "COEX_TOOLCHAIN_TYPE")
load(":providers.bzl", "CoexInfo", "CxzInfo")
load(":toolchain_access.bzl", "run_coex_tool")

def _by_import_name(lib):
    return lib.import_name

def _by_module_name(module):
    return module[0]

def _module_name(f):
    return f.basename[:-len(".coex")]

def _collect(srcs, deps):
    modules = depset(
        [(_module_name(f), f) for f in srcs],
        transitive = [d[CoexInfo].modules for d in deps],
    )
    libraries = depset(transitive = [d[CoexInfo].libraries for d in deps])
    return CoexInfo(modules = modules, libraries = libraries)

_DEPS_ATTR = attr.label_list(
    doc = "coex_library and cxz_library targets this code imports.",
    providers = [[CoexInfo]],
)

def _coex_library_impl(ctx):
    info = _collect(ctx.files.srcs, ctx.attr.deps)

    # One check action: the modules with the front end, against exactly
    # the modules and libraries of their deps. Its stamp is the library's
    # output, so `bazel build` reports Coex errors at the library.
    stamp = ctx.actions.declare_file(ctx.label.name + ".checked")
    args = ctx.actions.args()
    args.add("check")
    for f in ctx.files.srcs:
        args.add("--src", f)
    inputs = list(ctx.files.srcs)
    for dep in ctx.attr.deps:
        for name, f in sorted(dep[CoexInfo].modules.to_list(), key = _by_module_name):
            args.add("--module", "%s=%s" % (name, f.path))
            inputs.append(f)
    libraries = sorted(info.libraries.to_list(), key = _by_import_name)
    for lib in libraries:
        args.add("--cxz", "%s=%s" % (lib.import_name, lib.interface.path))
        inputs.append(lib.interface)
    args.add("-o", stamp)
    run_coex_tool(
        ctx,
        mnemonic = "CoexCheck",
        progress = "Checking %s" % ctx.label,
        args = args,
        inputs = inputs,
        outputs = [stamp],
    )
    return [DefaultInfo(files = depset(ctx.files.srcs + [stamp])), info]

coex_library = rule(
    implementation = _coex_library_impl,
    toolchains = [COEX_TOOLCHAIN_TYPE],
    doc = """Coex modules that programs import by name (`import NAME` finds `NAME.coex`).

Checks the modules with the front end (one `CoexCheck` action; its stamp
is the target's output) and carries the sources and their dependencies to
the programs that import them; they are compiled in each program's single
codegen action (the back end compiles a whole program at once).""",
    attrs = {
        "srcs": attr.label_list(
            doc = "The modules (`*.coex`); a module's name is its file name without `.coex`.",
            allow_files = [".coex"],
        ),
        "deps": _DEPS_ATTR,
    },
)

def _library_args(args, libraries):
    """Adds --cxz NAME=ARCHIVE and --unit-image NAME:UNIT=IMAGE for every library."""
    inputs = []
    for lib in libraries:
        args.add("--cxz", "%s=%s" % (lib.import_name, lib.archive.path))
        inputs.append(lib.archive)
        for unit, image in lib.unit_images:
            args.add("--unit-image", "%s:%s=%s" % (lib.import_name, unit, image.path))
            inputs.append(image)
    return inputs

def _coex_program_impl(ctx):
    info = _collect(ctx.files.srcs, ctx.attr.deps)
    libraries = sorted(info.libraries.to_list(), key = _by_import_name)
    seen = {}
    for lib in libraries:
        import_name, archive = lib.import_name, lib.archive
        if import_name in seen:
            fail("%s: two libraries are imported as %r: %s and %s" % (
                ctx.label,
                import_name,
                seen[import_name].short_path,
                archive.short_path,
            ))
        seen[import_name] = archive

    # 1. Codegen: every Coex module of the program -> one object file.
    obj = ctx.actions.declare_file(ctx.label.name + ".o")
    args = ctx.actions.args()
    args.add("codegen")
    args.add("--main", ctx.file.main)
    module_files = []
    for name, f in sorted(info.modules.to_list(), key = _by_module_name):
        args.add("--module", "%s=%s" % (name, f.path))
        module_files.append(f)
    for lib in libraries:
        args.add("--cxz", "%s=%s" % (lib.import_name, lib.interface.path))
    args.add("-o", obj)
    run_coex_tool(
        ctx,
        mnemonic = "CoexCodegen",
        progress = "Generating code for %s" % ctx.label,
        args = args,
        inputs = [ctx.file.main] + module_files + [lib.interface for lib in libraries],
        outputs = [obj],
    )

    # 2. Link: object + runtime + FFI unit images -> executable.
    exe = ctx.actions.declare_file(ctx.label.name)
    runtime = ctx.file._runtime
    args = ctx.actions.args()
    args.add("link")
    args.add("--object", obj)
    args.add("--runtime", runtime)
    link_inputs = [obj, runtime] + _library_args(args, libraries)
    args.add("-o", exe)
    run_coex_tool(
        ctx,
        mnemonic = "CoexLink",
        progress = "Linking %s" % exe.short_path,
        args = args,
        inputs = link_inputs,
        outputs = [exe],
        with_cc = True,
    )
    return [DefaultInfo(executable = exe, files = depset([exe]))]

_PROGRAM_ATTRS = {
    "main": attr.label(
        doc = "The file holding `func main()`.",
        mandatory = True,
        allow_single_file = [".coex"],
    ),
    "srcs": attr.label_list(
        doc = "Other Coex modules of the program (imported by name).",
        allow_files = [".coex"],
    ),
    "deps": _DEPS_ATTR,
    "_runtime": attr.label(
        default = Label("//rules:runtime"),
        allow_single_file = True,
    ),
}

coex_binary = rule(
    implementation = _coex_program_impl,
    doc = "A Coex program: a native executable (`bazel run` runs it).",
    attrs = _PROGRAM_ATTRS,
    executable = True,
    toolchains = [COEX_TOOLCHAIN_TYPE],
)

coex_test = rule(
    implementation = _coex_program_impl,
    doc = "A Coex program run by `bazel test`: its exit status is the test result (0 passes).",
    attrs = _PROGRAM_ATTRS,
    test = True,
    toolchains = [COEX_TOOLCHAIN_TYPE],
)

def _coex_runtime_impl(ctx):
    out = ctx.actions.declare_file("coex_rt.o")
    args = ctx.actions.args()
    args.add("runtime")
    args.add("-o", out)
    run_coex_tool(
        ctx,
        mnemonic = "CoexRuntime",
        progress = "Compiling the Coex runtime",
        args = args,
        inputs = [],
        outputs = [out],
        with_cc = True,
    )
    return [DefaultInfo(files = depset([out]))]

coex_runtime = rule(
    implementation = _coex_runtime_impl,
    doc = "The C runtime linked into every Coex program, compiled by the toolchain's `coex` and clang.",
    toolchains = [COEX_TOOLCHAIN_TYPE],
)
