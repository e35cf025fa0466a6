"""Providers passed between the Coex rules."""

CxzInfo = provider(
    doc = "A `.cxz` library ready to be imported: the archive and one compiled image per FFI unit.",
    fields = {
        "import_name": "string: the name Coex code imports it by (`import \"<import_name>\"`)",
        "archive": "File: the `.cxz` archive",
        "interface": "File: the archive with its C sources emptied (input of codegen and checks)",
        "unit_images": "tuple of (unit name, File) tuples, sorted by name: each FFI unit's compiled foreign library image",
    },
)

CoexInfo = provider(
    doc = "Coex sources and everything they import, collected transitively for a program's codegen and link.",
    fields = {
        "modules": "depset of (module name, File) tuples: Coex modules a program can `import NAME`",
        "libraries": "depset of CxzInfo: every `.cxz` library reachable through deps (read by field name: import_name, archive, interface, unit_images)",
    },
)
