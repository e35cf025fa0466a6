"""The `coex_toolchain` rule: which `coex` binary runs the Coex actions of a build.

The binary is an ordinary input file of every action that runs it, so its
contents are part of Bazel's action keys: a different `coex` never hits a
cache entry made by another one. The C compiler is not here: the rules take
it from Bazel's C++ toolchain (rules/toolchain_access.bzl).
"""

# Resolved against the repository this file is loaded from, whatever the
# workspace named it.
COEX_TOOLCHAIN_TYPE = str(Label("//toolchains:toolchain_type"))

def _coex_toolchain_impl(ctx):
    coex = ctx.attr.coex[DefaultInfo].files_to_run
    return [platform_common.ToolchainInfo(
        coex = coex,
        coex_file = ctx.executable.coex,
    )]

coex_toolchain = rule(
    implementation = _coex_toolchain_impl,
    doc = "Declares the `coex` binary used by the Coex rules.",
    attrs = {
        "coex": attr.label(
            doc = "The `coex` executable (a file of the repository made by coex_toolchain_repository).",
            mandatory = True,
            executable = True,
            allow_single_file = True,
            cfg = "exec",
        ),
    },
)
