"""The `coex` module extension (Bzlmod): registers the Coex toolchain.

    coex = use_extension("@coex_rules//toolchains:extensions.bzl", "coex")
    coex.toolchain()                      # optional: path, urls + sha256, cargo_* ...
    use_repo(coex, "coex_toolchain")
    register_toolchains("@coex_toolchain//:toolchain")

The rules' own MODULE.bazel already does the last two lines. The body is
`coex_toolchains_for_modules` of repositories.bzl, which calls the same
repository rule as the WORKSPACE macro `coex_register_toolchains`; only the
few lines below need Bzlmod (Bazel 6 or later) and are not run by the tests,
which use Debian's Bazel 4.2.3 (see docs/bazel.md, "Bzlmod").
"""

load(":repositories.bzl", "TOOLCHAIN_ATTRS", "coex_toolchains_for_modules")

def _coex_impl(module_ctx):
    coex_toolchains_for_modules(module_ctx.modules)

coex = module_extension(
    implementation = _coex_impl,
    tag_classes = {"toolchain": tag_class(attrs = TOOLCHAIN_ATTRS)},
    doc = "Creates @coex_toolchain (coex from path, COEX_BIN, a download, or built with cargo).",
)
