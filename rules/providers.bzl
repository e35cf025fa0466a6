"""Providers passed between the Coex rules. Every value is read by field
name; lists inside depsets are tuples (depset elements must be immutable)."""

CoexModuleInfo = provider(
    doc = "One Coex module a program can `import NAME`.",
    fields = {
        "name": "string: the module name (its file name without `.coex`)",
        "src": "File: the module's source",
    },
)

FfiUnitInfo = provider(
    doc = "The compiled image of one FFI unit of a `.cxz` library.",
    fields = {
        "unit": "string: the unit's name (a `[ffi.<unit>]` table of the manifest)",
        "image": "File: its foreign library image (`lib<unit>.so`)",
    },
)

CxzInfo = provider(
    doc = "A `.cxz` library ready to be imported: the archive and its FFI units' images.",
    fields = {
        "import_name": "string: the name Coex code imports it by (`import \"<import_name>\"`)",
        "archive": "File: the `.cxz` archive",
        "interface": "File: the archive with its C sources emptied (input of codegen and checks)",
        "unit_images": "tuple of FfiUnitInfo, sorted by unit: the units named in `units` (empty when unit_dir is set)",
        "unit_dir": "File or None: a directory with `lib<unit>.so` for every unit of the manifest (cxz_library without `units`)",
    },
)

CoexInfo = provider(
    doc = "Coex sources and everything they import, collected transitively for a program's codegen and link.",
    fields = {
        "modules": "depset of CoexModuleInfo: Coex modules a program can `import NAME`",
        "libraries": "depset of CxzInfo: every `.cxz` library reachable through deps",
    },
)
