//! `coex_ffi_unit_table`: the data the runtime reads to load each FFI unit
//! (its embedded image, length, `library/unit` name and symbol names).

use cranelift_module::{DataDescription, Linkage, Module};

use super::{embed, to_u32, CodegenError, ProgramLowering};

impl ProgramLowering<'_> {
    /// `coex_ffi_unit_table`: per unit {image, &len, name, symbols, nsyms}.
    pub(super) fn define_unit_table(&mut self) -> Result<(), CodegenError> {
        let err = |e: cranelift_module::ModuleError| CodegenError::Module(e.to_string());
        let units = &self.program.ffi_units;
        let table = self
            .m
            .module
            .declare_data("coex_ffi_unit_table", Linkage::Export, false, false)
            .map_err(err)?;
        let mut bytes = vec![0u8; 40 * units.len().max(1)];
        for (i, unit) in units.iter().enumerate() {
            bytes[i * 40 + 32..i * 40 + 40]
                .copy_from_slice(&(unit.symbols.len() as i64).to_le_bytes());
        }
        let mut desc = DataDescription::new();
        desc.define(bytes.into_boxed_slice());
        desc.set_align(8);
        for (i, unit) in units.iter().enumerate() {
            let base = to_u32(i * 40, "bytes of FFI unit table")?;
            let index = to_u32(i, "FFI units")?;
            let image = self
                .m
                .module
                .declare_data(&embed::image_symbol(index), Linkage::Import, false, false)
                .map_err(err)?;
            let len = self
                .m
                .module
                .declare_data(&embed::len_symbol(index), Linkage::Import, false, false)
                .map_err(err)?;
            let name = self
                .m
                .c_bytes(format!("{}/{}", unit.library, unit.unit).as_bytes())?;
            let mut blob = Vec::new();
            for (k, s) in unit.symbols.iter().enumerate() {
                if k > 0 {
                    blob.push(0);
                }
                blob.extend_from_slice(s.as_bytes());
            }
            let symbols = self.m.c_bytes(&blob)?;
            for (off, data) in [(0, image), (8, len), (16, name), (24, symbols)] {
                let gv = self.m.module.declare_data_in_data(data, &mut desc);
                desc.write_data_addr(base + off, gv, 0);
            }
        }
        self.m.module.define_data(table, &desc).map_err(err)?;

        let count = self
            .m
            .module
            .declare_data("coex_ffi_unit_count", Linkage::Export, false, false)
            .map_err(err)?;
        let mut desc = DataDescription::new();
        desc.define(
            (units.len() as i64)
                .to_le_bytes()
                .to_vec()
                .into_boxed_slice(),
        );
        desc.set_align(8);
        self.m.module.define_data(count, &desc).map_err(err)?;
        Ok(())
    }
}
