//! Turning FFI unit images into linkable objects.
//!
//! Each unit image (a shared object built by the FFI build with
//! `-shared -fPIC -Wl,-Bsymbolic -Wl,-z,now`) is emitted as read-only data
//! in its own small object, exporting `coex_ffi_unit_<i>_image` (the bytes)
//! and `coex_ffi_unit_<i>_len` (an `int64_t`). The program object's unit table
//! refers to these symbols, so changing a C file re-runs only this step and
//! the link, never Cranelift. The bytes are taken exactly as given.

use cranelift_module::{DataDescription, Linkage, Module};

use super::object::{emit, new_object_module};
use super::CodegenError;

/// Symbol of unit `index`'s image bytes.
pub fn image_symbol(index: u32) -> String {
    format!("coex_ffi_unit_{index}_image")
}

/// Symbol of unit `index`'s image length.
pub fn len_symbol(index: u32) -> String {
    format!("coex_ffi_unit_{index}_len")
}

/// An object file holding unit `index`'s image bytes (deterministic).
pub fn embed_unit_image(index: u32, image: &[u8]) -> Result<Vec<u8>, CodegenError> {
    let mut module = new_object_module(&format!("coex_unit_{index}"))?;
    let err = |e: cranelift_module::ModuleError| CodegenError::Module(e.to_string());

    let image_id = module
        .declare_data(&image_symbol(index), Linkage::Export, false, false)
        .map_err(err)?;
    let mut desc = DataDescription::new();
    // An empty data object is not representable; one NUL is never read
    // (the length says 0).
    let bytes = if image.is_empty() {
        vec![0u8]
    } else {
        image.to_vec()
    };
    desc.define(bytes.into_boxed_slice());
    desc.set_align(16);
    module.define_data(image_id, &desc).map_err(err)?;

    let len_id = module
        .declare_data(&len_symbol(index), Linkage::Export, false, false)
        .map_err(err)?;
    let mut desc = DataDescription::new();
    desc.define(
        (image.len() as i64)
            .to_le_bytes()
            .to_vec()
            .into_boxed_slice(),
    );
    desc.set_align(8);
    module.define_data(len_id, &desc).map_err(err)?;

    emit(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_is_deterministic_and_contains_the_bytes() {
        let image = b"\x7fELF pretend image bytes 0123456789".to_vec();
        let a = embed_unit_image(3, &image).unwrap();
        let b = embed_unit_image(3, &image).unwrap();
        assert_eq!(a, b);
        assert!(a.windows(image.len()).any(|w| w == image.as_slice()));
        let name = image_symbol(3);
        assert!(a.windows(name.len()).any(|w| w == name.as_bytes()));
    }
}
