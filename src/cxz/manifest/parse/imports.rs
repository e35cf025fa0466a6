//! `allow_imports` of `[ffi.<unit>]`: the guarded imports (threads, signal
//! handlers, `dlsym`, `mmap`, …; `ffi_build::boundary`) a unit may use
//! anyway, leaving the guarantees they break (docs/ffi.md).

use toml::Table;

use crate::cxz::manifest::toml_walk::Walker;
use crate::ffi_build::boundary::{allow_values, is_allow_value};

/// The `allow_imports` values, each checked against the guarded list.
pub(super) fn read_allow_imports(w: &mut Walker, t: &Table, at: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in w.strings(t, at, "allow_imports") {
        if !is_allow_value(&v) {
            w.report(
                at,
                format!(
                    "allow_imports: '{}' is not a guarded import (known: {})",
                    v.escape_debug(),
                    allow_values().collect::<Vec<_>>().join(", ")
                ),
            );
        } else if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
