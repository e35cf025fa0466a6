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
load(":providers.bzl", "CoexInfo", "CoexModuleInfo")
load(":toolchain_access.bzl", "CC_ATTRS", "CC_TOOLCHAIN_TYPE", "run_coex_tool")

def _by_import_name(lib):
    return lib.import_name

def _by_module_name(module):
    return module.name

def _module_name(f):
    return f.basename[:-len(".coex")]

def _collect(srcs, deps):
    modules = depset(
        [CoexModuleInfo(name = _module_name(f), src = f) for f in srcs],
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
        for module in sorted(dep[CoexInfo].modules.to_list(), key = _by_module_name):
            args.add("--module", "%s=%s" % (module.name, module.src.path))
            inputs.append(module.src)
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

def _unit_in_dir(image):
    """`UNIT=PATH` of an image `lib<UNIT>.so` inside a unit directory."""
    return "%s=%s" % (image.basename[len("lib"):-len(".so")], image.path)

def _library_args(args, libraries):
    """Adds --cxz NAME=ARCHIVE and --unit-image NAME:UNIT=IMAGE for every library."""
    inputs = []
    for lib in libraries:
        args.add("--cxz", "%s=%s" % (lib.import_name, lib.archive.path))
        inputs.append(lib.archive)
        for u in lib.unit_images:
            args.add("--unit-image", "%s:%s=%s" % (lib.import_name, u.unit, u.image.path))
            inputs.append(u.image)
        if lib.unit_dir:
            # Expanded when the action runs: one flag per image in the directory.
            args.add_all(
                [lib.unit_dir],
                map_each = _unit_in_dir,
                format_each = lib.import_name + ":%s",
                before_each = "--unit-image",
            )
            inputs.append(lib.unit_dir)
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
    for module in sorted(info.modules.to_list(), key = _by_module_name):
        args.add("--module", "%s=%s" % (module.name, module.src.path))
        module_files.append(module.src)
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
    return _run_providers(ctx, exe)

def _shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"

def _env(ctx):
    """The `env` attribute, `$(location ...)` of `data` expanded; names checked."""
    env = {}
    for name, value in ctx.attr.env.items():
        ok = len(name) > 0 and not name[0].isdigit()
        for c in name.elems():
            if not (c.isalnum() or c == "_"):
                ok = False
        if not ok:
            fail("%s: invalid environment variable name %r in env" % (ctx.label, name))
        env[name] = ctx.expand_location(value, ctx.attr.data)
    return env

def _launcher(ctx, exe, env):
    """A script that runs `exe` (its sibling) with `env` set: how `bazel run`
    gets a binary's env on Bazel 4, which has no provider for it."""
    launcher = ctx.actions.declare_file(ctx.label.name + ".env.sh")
    lines = ["#!/bin/sh", "# Generated by coex_binary %s: runs %s with its env." % (ctx.label, exe.basename)]
    for name in sorted(env):
        lines.append("export %s=%s" % (name, _shell_quote(env[name])))
    lines.append("exec \"$(dirname \"$0\")/%s\" \"$@\"" % exe.basename)
    ctx.actions.write(launcher, "\n".join(lines) + "\n", is_executable = True)
    return launcher

def _run_providers(ctx, exe):
    """DefaultInfo with `data` as runfiles (like go_test and rust_test: the
    program runs in its runfiles tree; `args` are Bazel's own attribute,
    `$(location)` expanded), and the env: a TestEnvironment for coex_test, a
    launcher script for a coex_binary that sets `env`."""
    env = _env(ctx)
    runfiles = ctx.runfiles(files = ctx.files.data)
    for target in ctx.attr.data:
        runfiles = runfiles.merge(target[DefaultInfo].default_runfiles)
    executable = exe
    providers = []
    if ctx.attr._is_test:
        providers.append(testing.TestEnvironment(env))
    elif env:
        executable = _launcher(ctx, exe, env)
        runfiles = runfiles.merge(ctx.runfiles(files = [exe]))
    files = depset([exe, executable]) if executable != exe else depset([exe])
    return [DefaultInfo(executable = executable, files = files, runfiles = runfiles)] + providers

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
    "data": attr.label_list(
        doc = "Files the program reads when it runs: in its runfiles (`$(location)` works in `args` and `env`).",
        allow_files = True,
    ),
    "env": attr.string_dict(
        doc = "Environment variables set when `bazel test` (coex_test) or `bazel run` (coex_binary) runs it.",
    ),
    "_runtime": attr.label(
        default = Label("//rules:runtime"),
        allow_single_file = True,
    ),
}

coex_binary = rule(
    implementation = _coex_program_impl,
    doc = """A Coex program: a native executable `<name>` (`bazel run` runs it, with
`args`, `data` in its runfiles, and `env` through a launcher `<name>.env.sh`).""",
    attrs = dict(_PROGRAM_ATTRS, _is_test = attr.bool(default = False), **CC_ATTRS),
    executable = True,
    fragments = ["cpp"],
    toolchains = [COEX_TOOLCHAIN_TYPE, CC_TOOLCHAIN_TYPE],
)

coex_test = rule(
    implementation = _coex_program_impl,
    doc = """A Coex program run by `bazel test`: its exit status is the test result
(0 passes). Takes `args`, `env` and `data` like coex_binary.""",
    attrs = dict(_PROGRAM_ATTRS, _is_test = attr.bool(default = True), **CC_ATTRS),
    test = True,
    fragments = ["cpp"],
    toolchains = [COEX_TOOLCHAIN_TYPE, CC_TOOLCHAIN_TYPE],
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
    doc = "The C runtime linked into every Coex program, compiled by `coex` with the C++ toolchain's clang.",
    attrs = CC_ATTRS,
    fragments = ["cpp"],
    toolchains = [COEX_TOOLCHAIN_TYPE, CC_TOOLCHAIN_TYPE],
)
