//! What the FFI isolation model (docs/ffi.md) asks of a unit's symbols:
//! the names a unit may not export (C keywords and reserved identifiers,
//! what the shim defines) and the imports that leave the model, with the
//! manifest's `allow_imports` key that lets each one through.
//!
//! The manifest reader (`src/cxz/manifest/parse`) checks names and
//! `allow_imports` values against these lists; the image check after the
//! link ([`super::check_image`]) reads the image's dynamic symbols.

/// C keywords (C89 to C23, and the GNU `asm`/`typeof`): a manifest symbol
/// of that name could never be defined in C.
const C_KEYWORDS: &[&str] = &[
    "alignas",
    "alignof",
    "asm",
    "auto",
    "bool",
    "break",
    "case",
    "char",
    "const",
    "constexpr",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "false",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "nullptr",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "struct",
    "switch",
    "thread_local",
    "true",
    "typedef",
    "typeof",
    "typeof_unqual",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
];

/// The functions the shim (`runtime/ffi_shim/coex_shim.c`) defines in every
/// image: the instance heap (hidden, so the unit's calls bind to them) and
/// the handle table. A unit defining one of them fails to link; a manifest
/// symbol naming one of them is refused when the manifest is read.
pub const SHIM_HEAP_FUNCTIONS: &[&str] = &[
    "malloc",
    "free",
    "calloc",
    "realloc",
    "reallocarray",
    "memalign",
    "aligned_alloc",
    "posix_memalign",
    "valloc",
    "pvalloc",
    "malloc_usable_size",
    "strdup",
    "strndup",
];

/// The shim's exported functions (`coex_ffi.h`) and its entry point.
const SHIM_EXPORTS: &[&str] = &[
    "coex_handle_new",
    "coex_handle_get",
    "coex_handle_free",
    "coex_shim_v1",
];

/// Why `name` cannot be a manifest symbol, or `None` when it can. The
/// generated prototype header (`coex_symbols.h`) declares every symbol, so
/// a keyword would break every compile of the unit.
pub fn reserved_symbol_name(name: &str) -> Option<String> {
    if C_KEYWORDS.contains(&name) {
        return Some(format!(
            "'{name}' is a C keyword: no C function can have that name"
        ));
    }
    let mut chars = name.chars();
    if chars.next() == Some('_') {
        return Some(format!(
            "'{name}' is a reserved identifier: C reserves names starting with '_' at file scope for the compiler and libc"
        ));
    }
    if name == "main" {
        return Some("'main' is the entry point of a C program, not a library function".into());
    }
    if SHIM_HEAP_FUNCTIONS.contains(&name) {
        return Some(format!(
            "'{name}' is defined by the FFI shim linked into every unit (the instance heap), not by the library"
        ));
    }
    if SHIM_EXPORTS.contains(&name) {
        return Some(format!(
            "'{name}' is defined by the FFI shim linked into every unit (coex_ffi.h), not by the library"
        ));
    }
    None
}

/// An import that breaks the isolation model unless the unit's manifest
/// lists `allow` in `allow_imports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardedImport {
    /// The dynamic symbol as the image imports it.
    pub symbol: &'static str,
    /// The `allow_imports` value that lets it through (the C name a user
    /// writes; aliases such as `mmap64` or `__sysv_signal` share it).
    pub allow: &'static str,
}

/// Why each `allow_imports` value is guarded: what the unit's instance
/// would no longer guarantee (docs/ffi.md, "Refused imports").
pub const GUARD_REASONS: &[(&str, &str)] = &[
    ("pthread_create", "a thread started by C can outlive its instance and crashes the process once the image is unloaded"),
    ("thrd_create", "a thread started by C can outlive its instance and crashes the process once the image is unloaded"),
    ("pthread_key_create", "a key's destructor in the image runs at thread exit, after its instance may be unloaded, and every instance uses up one of the process's 1024 keys"),
    ("on_exit", "the handler runs at process exit, after its instance may be unloaded"),
    ("signal", "a signal handler stays installed after its instance is released, and runs code that may be unloaded"),
    ("sigaction", "a signal handler stays installed after its instance is released, and runs code that may be unloaded"),
    ("sigprocmask", "blocking the collector's stop signals stalls every garbage collection, and the program aborts"),
    ("pthread_sigmask", "blocking the collector's stop signals stalls every garbage collection, and the program aborts"),
    ("dlopen", "a library loaded by C is shared by every instance and never unloaded with them"),
    ("dlmopen", "a library loaded by C is shared by every instance and never unloaded with them"),
    ("dlsym", "it reaches functions around the image's own binding: dlsym(RTLD_DEFAULT, \"malloc\") allocates from the process heap, outside the instance heap cap"),
    ("dlvsym", "it reaches functions around the image's own binding: dlvsym(RTLD_DEFAULT, \"malloc\", …) allocates from the process heap, outside the instance heap cap"),
    ("mmap", "mapped memory is outside the instance heap: not counted by the heap caps, not released with the instance"),
    ("mremap", "mapped memory is outside the instance heap: not counted by the heap caps, not released with the instance"),
    ("sbrk", "memory from the program break is outside the instance heap: not counted by the heap caps, not released with the instance"),
    ("brk", "memory from the program break is outside the instance heap: not counted by the heap caps, not released with the instance"),
    ("syscall", "a raw system call can do any of the above (map memory, start threads, install handlers) unseen"),
    ("fork", "it copies the whole multithreaded program in the middle of whatever its other threads and the collector are doing"),
    ("vfork", "it copies the whole multithreaded program in the middle of whatever its other threads and the collector are doing"),
    ("clone", "it starts a thread or process the runtime does not know, which can outlive the instance"),
];

/// Every guarded import, by the symbol name in the image's dynamic symbol
/// table (glibc's aliases included).
pub const GUARDED_IMPORTS: &[GuardedImport] = &[
    g("pthread_create", "pthread_create"),
    g("thrd_create", "thrd_create"),
    g("pthread_key_create", "pthread_key_create"),
    g("on_exit", "on_exit"),
    g("signal", "signal"),
    // signal() under -std=c99 and friends, and the BSD/SysV spellings.
    g("__sysv_signal", "signal"),
    g("sysv_signal", "signal"),
    g("bsd_signal", "signal"),
    g("sigset", "signal"),
    g("sigaction", "sigaction"),
    g("__sigaction", "sigaction"),
    g("sigprocmask", "sigprocmask"),
    g("pthread_sigmask", "pthread_sigmask"),
    g("dlopen", "dlopen"),
    g("dlmopen", "dlmopen"),
    g("dlsym", "dlsym"),
    g("dlvsym", "dlvsym"),
    g("mmap", "mmap"),
    g("mmap64", "mmap"),
    g("__mmap", "mmap"),
    g("mremap", "mremap"),
    g("__mremap", "mremap"),
    g("sbrk", "sbrk"),
    g("__sbrk", "sbrk"),
    g("brk", "brk"),
    g("__brk", "brk"),
    g("syscall", "syscall"),
    g("fork", "fork"),
    g("__fork", "fork"),
    g("_Fork", "fork"),
    g("vfork", "vfork"),
    g("__vfork", "vfork"),
    g("clone", "clone"),
    g("__clone", "clone"),
    g("clone3", "clone"),
];

const fn g(symbol: &'static str, allow: &'static str) -> GuardedImport {
    GuardedImport { symbol, allow }
}

/// The `allow_imports` values, in documentation order.
pub fn allow_values() -> impl Iterator<Item = &'static str> {
    GUARD_REASONS.iter().map(|(name, _)| *name)
}

/// Whether `value` may appear in `allow_imports`.
pub fn is_allow_value(value: &str) -> bool {
    allow_values().any(|v| v == value)
}

/// Why imports allowed by `value` are guarded.
pub fn guard_reason(allow: &str) -> &'static str {
    GUARD_REASONS
        .iter()
        .find(|(name, _)| *name == allow)
        .map_or("", |(_, why)| why)
}

/// The guarded import named `symbol` (as the image imports it), if any.
pub fn guarded(symbol: &str) -> Option<&'static GuardedImport> {
    GUARDED_IMPORTS.iter().find(|g| g.symbol == symbol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guarded_import_has_a_reason() {
        for g in GUARDED_IMPORTS {
            assert!(!guard_reason(g.allow).is_empty(), "{}", g.allow);
        }
        for v in allow_values() {
            assert!(GUARDED_IMPORTS.iter().any(|g| g.allow == v), "{v}");
        }
    }

    #[test]
    fn reserved_names() {
        assert!(reserved_symbol_name("int").unwrap().contains("C keyword"));
        assert!(reserved_symbol_name("_Bool").is_some());
        assert!(reserved_symbol_name("__x").is_some());
        assert!(reserved_symbol_name("_x").is_some());
        assert!(reserved_symbol_name("malloc").unwrap().contains("shim"));
        assert!(reserved_symbol_name("coex_handle_new").is_some());
        assert!(reserved_symbol_name("main").is_some());
        assert_eq!(reserved_symbol_name("coex_regex_compile"), None);
        assert_eq!(reserved_symbol_name("integer"), None);
    }
}
