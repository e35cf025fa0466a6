"""Public entry point of the Coex Bazel rules.

    load("@coex_rules//rules:defs.bzl", "coex_binary", "coex_library",
         "coex_test", "cxz_archive", "cxz_library")

See docs/bazel.md for setup and the reference of every rule.
"""

load(":coex.bzl", _coex_binary = "coex_binary", _coex_library = "coex_library", _coex_test = "coex_test")
load(":cxz.bzl", _cxz_archive = "cxz_archive", _cxz_library = "cxz_library")
load(
    ":providers.bzl",
    _CoexInfo = "CoexInfo",
    _CoexModuleInfo = "CoexModuleInfo",
    _CxzInfo = "CxzInfo",
    _FfiUnitInfo = "FfiUnitInfo",
)

coex_binary = _coex_binary
coex_library = _coex_library
coex_test = _coex_test
cxz_archive = _cxz_archive
cxz_library = _cxz_library
CoexInfo = _CoexInfo
CoexModuleInfo = _CoexModuleInfo
CxzInfo = _CxzInfo
FfiUnitInfo = _FfiUnitInfo
