//! Checks on a linked unit image that only the ELF file can answer.
//!
//! Every FFI instance is a separate `dlopen` of the image, so an image whose
//! TLS uses the initial-exec model (`DF_STATIC_TLS`) would exhaust glibc's
//! static TLS block after a handful of instances. The build refuses such an
//! image up front instead of letting the program fail at run time.
//!
//! The image's dynamic symbol table tells which manifest symbols it defines
//! itself and which functions it imports ([`dynamic_symbols`]).

use std::collections::{BTreeMap, BTreeSet};

use object::elf::{FileHeader64, DF_STATIC_TLS, DT_FLAGS, DT_NULL};
use object::read::elf::{Dyn, ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSymbol, SymbolKind};

/// What a defined dynamic symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defined {
    /// A function (`STT_FUNC`, `STT_GNU_IFUNC`).
    Function,
    /// Anything else: a variable, a TLS object, …
    Other,
}

/// An image's dynamic symbol table, split in what it defines (exports) and
/// what it imports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicSymbols {
    /// Defined global or weak symbols (what `dlsym` on the image finds in
    /// the image itself), by name.
    pub defined: BTreeMap<String, Defined>,
    /// Undefined symbols (resolved from libc and the `DT_NEEDED` libraries
    /// at load time), by name without version.
    pub imported: BTreeSet<String>,
}

/// The dynamic symbols of a 64-bit ELF image; `None` when the bytes are not
/// one (or its symbol table cannot be read).
pub fn dynamic_symbols(image: &[u8]) -> Option<DynamicSymbols> {
    let file = ElfFile64::<Endianness>::parse(image).ok()?;
    let mut out = DynamicSymbols::default();
    for sym in file.dynamic_symbols() {
        let Ok(name) = sym.name() else { continue };
        if name.is_empty() {
            continue;
        }
        if sym.is_undefined() {
            out.imported.insert(name.to_string());
        } else if sym.is_global() || sym.is_weak() {
            let kind = if sym.kind() == SymbolKind::Text {
                Defined::Function
            } else {
                Defined::Other
            };
            out.defined.insert(name.to_string(), kind);
        }
    }
    Some(out)
}

/// `Some(true)` when the image is a 64-bit ELF file whose dynamic segment
/// has `DF_STATIC_TLS` set in `DT_FLAGS`; `None` when the bytes are not such
/// an ELF file (or its headers or dynamic segment are truncated).
pub fn has_static_tls(image: &[u8]) -> Option<bool> {
    let header = FileHeader64::<Endianness>::parse(image).ok()?;
    let endian = header.endian().ok()?;
    for ph in header.program_headers(endian, image).ok()? {
        let Some(entries) = ph.dynamic(endian, image).ok()? else {
            continue;
        };
        for entry in entries {
            let tag = entry.d_tag(endian);
            if tag == DT_NULL {
                break;
            }
            if tag == DT_FLAGS && entry.d_val(endian) & u64::from(DF_STATIC_TLS) != 0 {
                return Some(true);
            }
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    #[test]
    fn not_elf_is_none() {
        assert_eq!(has_static_tls(b"hello"), None);
        assert_eq!(has_static_tls(b"\x7fELF\x02\x01"), None);
    }

    #[test]
    fn truncated_headers_are_none_not_panics() {
        let mut b = b"\x7fELF\x02\x01\x01".to_vec();
        b.resize(64, 0);
        b[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        b[0x36] = 56;
        b[0x38] = 1;
        assert_eq!(has_static_tls(&b), None);
    }

    /// A shared object built by clang from `code`.
    fn shared_object(dir: &Path, code: &str) -> Vec<u8> {
        std::fs::write(dir.join("u.c"), code).unwrap();
        let st = Command::new("clang")
            .args(["-O2", "-fPIC", "-shared", "-o", "u.so", "u.c"])
            .current_dir(dir)
            .status()
            .expect("clang runs");
        assert!(st.success());
        std::fs::read(dir.join("u.so")).unwrap()
    }

    const TLS_C: &str = "static __thread long n; long tick(void) { return ++n; }\n";
    const IE_TLS_C: &str = "static __thread long n __attribute__((tls_model(\"initial-exec\")));\n\
                            long tick(void) { return ++n; }\n";

    #[test]
    fn real_images_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let ie = shared_object(dir.path(), IE_TLS_C);
        assert_eq!(has_static_tls(&ie), Some(true));
        let gd = shared_object(dir.path(), TLS_C);
        assert_eq!(has_static_tls(&gd), Some(false));
        let plain = shared_object(dir.path(), "long f(long x) { return x + 1; }\n");
        assert_eq!(has_static_tls(&plain), Some(false));
    }

    #[test]
    fn dynamic_symbols_split_exports_and_imports() {
        let dir = tempfile::tempdir().unwrap();
        let so = shared_object(
            dir.path(),
            "#include <stdio.h>\n#include <sys/mman.h>\n\
             long exported_var = 1;\n\
             static long local(long x) { return x; }\n\
             __attribute__((visibility(\"hidden\"))) long hidden(long x) { return x; }\n\
             long f(long x) { printf(\"%ld\", x); return local(x) + hidden(x) + (long)mmap(0, 1, 0, 0, -1, 0); }\n",
        );
        let syms = dynamic_symbols(&so).unwrap();
        assert_eq!(syms.defined.get("f"), Some(&Defined::Function));
        assert_eq!(syms.defined.get("exported_var"), Some(&Defined::Other));
        assert!(!syms.defined.contains_key("local"));
        assert!(!syms.defined.contains_key("hidden"));
        assert!(syms.imported.contains("printf"));
        assert!(syms.imported.contains("mmap"));
        assert!(!syms.imported.contains("f"));
        assert_eq!(dynamic_symbols(b"hello"), None);
        for len in [0, 16, 64, so.len() / 2] {
            let _ = dynamic_symbols(&so[..len]);
        }
    }

    #[test]
    fn a_cut_off_image_is_none_or_an_answer_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let ie = shared_object(dir.path(), IE_TLS_C);
        for len in [0, 16, 63, 64, 100, ie.len() / 2, ie.len() - 1] {
            let _ = has_static_tls(&ie[..len]);
        }
        assert_eq!(has_static_tls(&ie[..63]), None);
    }
}
