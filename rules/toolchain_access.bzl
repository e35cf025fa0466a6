"""Shared helpers: the resolved Coex toolchain, the C compiler of Bazel's C++
toolchain, and the fixed action environment."""

load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "C_COMPILE_ACTION_NAME")
load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")
load("//toolchains:toolchain.bzl", "COEX_TOOLCHAIN_TYPE")

# Every coex action runs with this environment and nothing inherited, so the
# same inputs give the same outputs on every machine (see architecture.md,
# "Determinism"). PATH is the fixed one of coex's own executor: clang finds
# the system linker through it.
ACTION_ENV = {
    "LC_ALL": "C",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "SOURCE_DATE_EPOCH": "0",
    "TZ": "UTC",
}

CC_TOOLCHAIN_TYPE = "@bazel_tools//tools/cpp:toolchain_type"

# What a rule that runs the C compiler adds to its attributes (Bazel 4 finds
# the C++ toolchain through this attribute unless C++ toolchain resolution
# is enabled; then through the toolchain type, which the rules also request).
CC_ATTRS = {
    "_cc_toolchain": attr.label(
        default = Label("@bazel_tools//tools/cpp:current_cc_toolchain"),
    ),
}

def coex_toolchain(ctx):
    """The ToolchainInfo of the registered Coex toolchain."""
    return ctx.toolchains[COEX_TOOLCHAIN_TYPE]

def clang_of(ctx):
    """The C compiler of the target's C++ toolchain, which must be clang.

    Returns:
      struct(path, files): the compiler's path as the C++ toolchain gives it
      (absolute, or relative to the execroot) and the toolchain's files, the
      inputs of every action that runs it.
    """
    cc_toolchain = find_cpp_toolchain(ctx)
    features = cc_common.configure_features(
        ctx = ctx,
        cc_toolchain = cc_toolchain,
        requested_features = ctx.features,
        unsupported_features = ctx.disabled_features,
    )
    path = cc_common.get_tool_for_action(
        feature_configuration = features,
        action_name = C_COMPILE_ACTION_NAME,
    )
    if "clang" not in cc_toolchain.compiler:
        fail(("%s: coex needs clang, but the C++ toolchain's C compiler is %s " +
              "(the C++ toolchain declares compiler = %r).\n" +
              "Point Bazel's C++ toolchain at clang: `build --repo_env=CC=clang` in .bazelrc " +
              "(or CC=clang in the environment) for the auto-configured toolchain, or " +
              "compiler = \"clang\" in your cc_toolchain_config.") % (
            ctx.label,
            path,
            cc_toolchain.compiler,
        ))
    return struct(path = path, files = cc_toolchain.all_files)

def run_coex_tool(ctx, mnemonic, progress, args, inputs, outputs, with_cc = False):
    """Runs `coex tool ...` as one Bazel action.

    Args:
      ctx: the rule context.
      mnemonic: the action's mnemonic (CoexPack, CoexFfiUnit, ...).
      progress: the progress message.
      args: an Args object whose first arguments are the `coex tool` subcommand.
      inputs: list or depset of input Files (the toolchain's files are added).
      outputs: list of declared output Files: the only files the action writes.
      with_cc: whether the action runs the C compiler (see clang_of); its path
        is then passed as `--cc` and the C++ toolchain's files are inputs.
    """
    tc = coex_toolchain(ctx)
    if type(inputs) == "list":
        inputs = depset(inputs)
    transitive = [inputs]
    if with_cc:
        clang = clang_of(ctx)
        args.add("--cc", clang.path)
        transitive.append(clang.files)
    ctx.actions.run(
        executable = tc.coex,
        arguments = ["tool", args],
        inputs = depset(transitive = transitive),
        outputs = outputs,
        env = ACTION_ENV,
        mnemonic = mnemonic,
        progress_message = progress,
        use_default_shell_env = False,
    )
