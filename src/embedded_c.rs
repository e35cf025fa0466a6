//! The C the `coex` binary carries (`include_str!`), so that it alone can
//! build programs: the runtime linked into every executable and the FFI shim
//! linked into every unit image. One place for all of it: the runtime and
//! the shim share their ABI header by construction, and neither `link` nor
//! `ffi_build` reaches into the other for C text.

/// The runtime ↔ FFI shim interface, shared by the runtime and the shim
/// compiled into every unit image.
pub const SHIM_ABI_HEADER: &str = include_str!("../runtime/coex_shim_abi.h");

/// The runtime's headers; each runtime compile sees them all beside its C file.
pub const RUNTIME_HEADERS: &[(&str, &str)] = &[
    ("coex_rt.h", include_str!("../runtime/coex_rt.h")),
    ("coex_shim_abi.h", SHIM_ABI_HEADER),
];

/// The runtime's C files (one compile action each), in a fixed order.
pub const RUNTIME_SOURCES: &[(&str, &str)] = &[
    ("rt_alloc.c", include_str!("../runtime/rt_alloc.c")),
    ("rt_crash.c", include_str!("../runtime/rt_crash.c")),
    ("rt_errors.c", include_str!("../runtime/rt_errors.c")),
    ("rt_ffi_call.c", include_str!("../runtime/rt_ffi_call.c")),
    ("rt_ffi_load.c", include_str!("../runtime/rt_ffi_load.c")),
    ("rt_ffi_pool.c", include_str!("../runtime/rt_ffi_pool.c")),
    ("rt_ffi_scope.c", include_str!("../runtime/rt_ffi_scope.c")),
    ("rt_lists.c", include_str!("../runtime/rt_lists.c")),
    ("rt_main.c", include_str!("../runtime/rt_main.c")),
    ("rt_print.c", include_str!("../runtime/rt_print.c")),
    ("rt_stack.c", include_str!("../runtime/rt_stack.c")),
    ("rt_strings.c", include_str!("../runtime/rt_strings.c")),
    ("rt_tasks.c", include_str!("../runtime/rt_tasks.c")),
    ("rt_within.c", include_str!("../runtime/rt_within.c")),
];

/// The shim linked into every unit image (instance heap, handle table).
pub const SHIM_SOURCE: &str = include_str!("../runtime/ffi_shim/coex_shim.c");

/// The header library C code includes for handles (`coex_ffi.h`).
pub const SHIM_HEADER: &str = include_str!("../runtime/coex_ffi.h");
