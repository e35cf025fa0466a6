"""Shared helpers: the resolved Coex toolchain and the fixed action environment."""

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

def coex_toolchain(ctx):
    """The ToolchainInfo of the registered Coex toolchain."""
    return ctx.toolchains[COEX_TOOLCHAIN_TYPE]

def run_coex_tool(ctx, mnemonic, progress, args, inputs, outputs, with_cc = False):
    """Runs `coex tool ...` as one Bazel action.

    Args:
      ctx: the rule context.
      mnemonic: the action's mnemonic (CoexPack, CoexFfiUnit, ...).
      progress: the progress message.
      args: an Args object whose first arguments are the `coex tool` subcommand.
      inputs: list or depset of input Files (the toolchain's files are added).
      outputs: list of declared output Files: the only files the action writes.
      with_cc: whether the action runs the toolchain's C compiler; its path is
        then passed as `--cc`.
    """
    tc = coex_toolchain(ctx)
    if type(inputs) == "list":
        inputs = depset(inputs)
    direct = []
    if with_cc:
        direct.append(tc.cc)
        args.add("--cc", tc.cc)
    ctx.actions.run(
        executable = tc.coex,
        arguments = ["tool", args],
        inputs = depset(direct, transitive = [inputs]),
        outputs = outputs,
        env = ACTION_ENV,
        mnemonic = mnemonic,
        progress_message = progress,
        use_default_shell_env = False,
    )
