"""The `coex_toolchain` rule: which `coex` binary and which C compiler run
the Coex actions of a build.

Both are ordinary input files of every action that uses them, so their
contents are part of Bazel's action keys: a different `coex` or clang never
hits a cache entry made by another one.
"""

# Resolved against the repository this file is loaded from, whatever the
# workspace named it.
COEX_TOOLCHAIN_TYPE = str(Label("//toolchains:toolchain_type"))

def _coex_toolchain_impl(ctx):
    coex = ctx.attr.coex[DefaultInfo].files_to_run
    return [platform_common.ToolchainInfo(
        coex = coex,
        coex_file = ctx.executable.coex,
        cc = ctx.file.cc,
    )]

coex_toolchain = rule(
    implementation = _coex_toolchain_impl,
    doc = "Declares the `coex` binary and the C compiler used by the Coex rules.",
    attrs = {
        "coex": attr.label(
            doc = "The `coex` executable (a file, e.g. a symlink made by coex_local_toolchain).",
            mandatory = True,
            executable = True,
            allow_single_file = True,
            cfg = "exec",
        ),
        "cc": attr.label(
            doc = "The C compiler (clang) that `coex tool` runs for FFI units, the runtime and the link.",
            mandatory = True,
            allow_single_file = True,
            cfg = "exec",
        ),
    },
)
