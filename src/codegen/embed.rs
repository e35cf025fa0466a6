//! The symbols that carry FFI unit images into an executable.
//!
//! The program object's unit table refers to `coex_ffi_unit_<i>_image` (the
//! bytes of unit `i`'s image) and `coex_ffi_unit_<i>_len` (an `int64_t`).
//! The final link defines them (`crate::link::final_link`: a generated
//! `units.s` with `.incbin`), so changing a C file re-runs the unit's
//! actions and the link, never Cranelift.

/// Symbol of unit `index`'s image bytes.
pub fn image_symbol(index: u32) -> String {
    format!("coex_ffi_unit_{index}_image")
}

/// Symbol of unit `index`'s image length.
pub fn len_symbol(index: u32) -> String {
    format!("coex_ffi_unit_{index}_len")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_numbered() {
        assert_eq!(image_symbol(3), "coex_ffi_unit_3_image");
        assert_eq!(len_symbol(0), "coex_ffi_unit_0_len");
    }
}
