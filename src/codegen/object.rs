//! Object-file setup: the Cranelift ISA, the `ObjectModule`, and the module-wide
//! symbol tables (runtime functions, program functions, interned read-only
//! data). Symbol names come from indices and insertion order only, so the
//! same IR always yields byte-identical objects.

use std::collections::BTreeMap;

use cranelift_codegen::ir::{self, types, InstBuilder};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module};
use cranelift_object::{ObjectBuilder, ObjectModule};

use super::ir::SrcLoc;
use super::runtime_abi::RtFn;
use super::CodegenError;

/// Build the host ISA with the project's fixed flags (speed, PIC).
pub fn host_isa() -> Result<OwnedTargetIsa, CodegenError> {
    let mut fb = settings::builder();
    let set = |fb: &mut settings::Builder, k: &str, v: &str| {
        fb.set(k, v)
            .map_err(|e| CodegenError::Isa(format!("setting {k}={v}: {e}")))
    };
    set(&mut fb, "opt_level", "speed")?;
    set(&mut fb, "is_pic", "true")?;
    // Frames over 4 KiB touch every page on the way down, so a deep
    // recursion always faults in the stack guard (runtime/rt_stack.c).
    set(&mut fb, "enable_probestack", "true")?;
    set(&mut fb, "probestack_strategy", "inline")?;
    let isa_builder = cranelift_native::builder().map_err(|e| CodegenError::Isa(e.to_string()))?;
    isa_builder
        .finish(settings::Flags::new(fb))
        .map_err(|e| CodegenError::Isa(e.to_string()))
}

/// A fresh object module named `name` (the name is not a path).
pub fn new_object_module(name: &str) -> Result<ObjectModule, CodegenError> {
    let isa = host_isa()?;
    let builder = ObjectBuilder::new(isa, name, cranelift_module::default_libcall_names())
        .map_err(|e| CodegenError::Module(e.to_string()))?;
    Ok(ObjectModule::new(builder))
}

/// Emit the finished module as object bytes.
pub fn emit(module: ObjectModule) -> Result<Vec<u8>, CodegenError> {
    module
        .finish()
        .emit()
        .map_err(|e| CodegenError::Module(e.to_string()))
}

/// Module-wide state shared by all function lowerings.
pub struct ModuleCtx {
    /// The object being built.
    pub module: ObjectModule,
    /// Calling convention of the target.
    pub call_conv: CallConv,
    runtime: BTreeMap<RtFn, FuncId>,
    strings: BTreeMap<String, DataId>,
    locs: BTreeMap<(String, u32, String), DataId>,
    sites: BTreeMap<(u32, u32, DataId), DataId>,
    cstrings: BTreeMap<Vec<u8>, DataId>,
    record_kinds: BTreeMap<u32, DataId>,
    anon_count: u32,
}

fn module_err(e: impl std::fmt::Display) -> CodegenError {
    CodegenError::Module(e.to_string())
}

impl ModuleCtx {
    /// Wrap a module.
    pub fn new(module: ObjectModule) -> Self {
        let call_conv = module.target_config().default_call_conv;
        ModuleCtx {
            module,
            call_conv,
            runtime: BTreeMap::new(),
            strings: BTreeMap::new(),
            locs: BTreeMap::new(),
            sites: BTreeMap::new(),
            cstrings: BTreeMap::new(),
            record_kinds: BTreeMap::new(),
            anon_count: 0,
        }
    }

    /// The declared id of a runtime function (declared on first use).
    pub fn runtime_fn(&mut self, f: RtFn) -> Result<FuncId, CodegenError> {
        if let Some(id) = self.runtime.get(&f) {
            return Ok(*id);
        }
        let sig = f.signature(self.call_conv);
        let id = self
            .module
            .declare_function(f.symbol(), Linkage::Import, &sig)
            .map_err(module_err)?;
        self.runtime.insert(f, id);
        Ok(id)
    }

    fn define_rodata(&mut self, prefix: &str, bytes: Vec<u8>) -> Result<DataId, CodegenError> {
        let name = format!("{prefix}{}", self.anon_count);
        self.anon_count += 1;
        let id = self
            .module
            .declare_data(&name, Linkage::Local, false, false)
            .map_err(module_err)?;
        let mut desc = DataDescription::new();
        desc.define(bytes.into_boxed_slice());
        desc.set_align(8);
        self.module.define_data(id, &desc).map_err(module_err)?;
        Ok(id)
    }

    /// A string literal laid out as a runtime `coex_str` (len, bytes, NUL).
    pub fn string_literal(&mut self, s: &str) -> Result<DataId, CodegenError> {
        if let Some(id) = self.strings.get(s) {
            return Ok(*id);
        }
        let mut bytes = (s.len() as i64).to_le_bytes().to_vec();
        bytes.extend_from_slice(s.as_bytes());
        bytes.push(0);
        let id = self.define_rodata("coex_str", bytes)?;
        self.strings.insert(s.to_string(), id);
        Ok(id)
    }

    /// A NUL-terminated byte string (table entries: names, symbol lists).
    pub fn c_bytes(&mut self, bytes: &[u8]) -> Result<DataId, CodegenError> {
        if let Some(id) = self.cstrings.get(bytes) {
            return Ok(*id);
        }
        let mut owned = bytes.to_vec();
        owned.push(0);
        let id = self.define_rodata("coex_cstr", owned)?;
        self.cstrings.insert(bytes.to_vec(), id);
        Ok(id)
    }

    /// The field kinds (`COEX_KIND_*`, one `int64_t` per field) of record
    /// `record`, for `coex_record_copy`; defined once per record.
    pub fn record_kinds(&mut self, record: u32, kinds: &[i64]) -> Result<DataId, CodegenError> {
        if let Some(id) = self.record_kinds.get(&record) {
            return Ok(*id);
        }
        let bytes = kinds.iter().flat_map(|k| k.to_le_bytes()).collect();
        let id = self.define_rodata("coex_kinds", bytes)?;
        self.record_kinds.insert(record, id);
        Ok(id)
    }

    /// A source location as a runtime `coex_loc` (line, "file\0text\0").
    pub fn location(&mut self, loc: &SrcLoc) -> Result<DataId, CodegenError> {
        let key = (loc.file.clone(), loc.line, loc.text.clone());
        if let Some(id) = self.locs.get(&key) {
            return Ok(*id);
        }
        let mut bytes = i64::from(loc.line).to_le_bytes().to_vec();
        bytes.extend_from_slice(strip_nul(&loc.file).as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(strip_nul(&loc.text).as_bytes());
        bytes.push(0);
        let id = self.define_rodata("coex_loc", bytes)?;
        self.locs.insert(key, id);
        Ok(id)
    }

    /// An extern call site as a runtime `coex_ffi_site` {unit, symbol,
    /// location}: the call fast path points the thread at it during the
    /// call, so a crash in the library names the extern and the line.
    pub fn ffi_site(
        &mut self,
        unit: u32,
        symbol: u32,
        loc: &SrcLoc,
    ) -> Result<DataId, CodegenError> {
        let loc_id = self.location(loc)?;
        if let Some(id) = self.sites.get(&(unit, symbol, loc_id)) {
            return Ok(*id);
        }
        let name = format!("coex_site{}", self.anon_count);
        self.anon_count += 1;
        let id = self
            .module
            .declare_data(&name, Linkage::Local, false, false)
            .map_err(module_err)?;
        let mut bytes = i64::from(unit).to_le_bytes().to_vec();
        bytes.extend_from_slice(&i64::from(symbol).to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        let mut desc = DataDescription::new();
        desc.define(bytes.into_boxed_slice());
        desc.set_align(8);
        let gv = self.module.declare_data_in_data(loc_id, &mut desc);
        desc.write_data_addr(16, gv, 0);
        self.module.define_data(id, &desc).map_err(module_err)?;
        self.sites.insert((unit, symbol, loc_id), id);
        Ok(id)
    }

    /// Address of a data object inside the function being built.
    pub fn data_addr(&mut self, b: &mut FunctionBuilder, id: DataId) -> ir::Value {
        let gv = self.module.declare_data_in_func(id, b.func);
        b.ins().symbol_value(types::I64, gv)
    }
}

/// Locations are C strings at run time; an embedded NUL would cut them short.
fn strip_nul(s: &str) -> String {
    s.replace('\0', " ")
}
