//! `[[ffi.<unit>.symbols]]`: the C functions a unit exports to Coex.

use std::collections::BTreeMap;
use toml::{Table, Value};

use crate::cxz::manifest::toml_walk::Walker;
use crate::cxz::manifest::{BoundaryType, Symbol};
use crate::cxz::paths::is_c_identifier;
use crate::ffi_build::boundary::reserved_symbol_name;

const SYMBOL_KEYS: &[&str] = &["name", "params", "returns"];

/// Reads a unit's symbols, keeping only fully valid ones; `seen` maps each
/// symbol name to its unit so names stay unique across the library.
pub(super) fn read_symbols(
    w: &mut Walker,
    unit: &str,
    t: &Table,
    seen: &mut BTreeMap<String, String>,
) -> Vec<Symbol> {
    let base = format!("[[ffi.{unit}.symbols]]");
    let items = match t.get("symbols") {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            w.report(
                &format!("[ffi.{unit}]"),
                "key 'symbols' must be an array of tables ([[ffi.<unit>.symbols]])",
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{base} #{}", i + 1);
        if let Some(symbol) = read_symbol(w, unit, &base, &at, item, seen) {
            out.push(symbol);
        }
    }
    out
}

/// One symbol entry (`item_at` names it by position until its name is
/// known); `None` after reporting every problem it has.
fn read_symbol(
    w: &mut Walker,
    unit: &str,
    base: &str,
    item_at: &str,
    item: &Value,
    seen: &mut BTreeMap<String, String>,
) -> Option<Symbol> {
    let st = w.table(item, item_at)?;
    w.check_keys(st, item_at, SYMBOL_KEYS);
    let name = w.string(st, item_at, "name", true)?;
    let at = format!("{base} '{}'", name.escape_debug());
    let name_ok = claim_name(w, &at, &name, unit, seen);
    let params = read_params(w, st, &at);
    let returns = read_returns(w, st, &at);
    match (name_ok, params, returns) {
        (true, Some(params), Some(returns)) => Some(Symbol {
            name,
            params,
            returns,
        }),
        _ => None,
    }
}

/// Checks `name` is a C identifier not yet declared, and records it for `unit`.
fn claim_name(
    w: &mut Walker,
    at: &str,
    name: &str,
    unit: &str,
    seen: &mut BTreeMap<String, String>,
) -> bool {
    if !is_c_identifier(name) || name.len() > 255 {
        w.report(
            at,
            "symbol name must be a C identifier ([A-Za-z_][A-Za-z0-9_]*)",
        );
        false
    } else if let Some(why) = reserved_symbol_name(name) {
        w.report(
            at,
            format!("symbol name {why}; rename the symbol in the manifest, in the C code and in the Coex extern (for example to 'coex_<library>_{name}')", name = name.trim_start_matches('_')),
        );
        false
    } else if let Some(other) = seen.get(name) {
        w.report(
            at,
            format!("symbol '{name}' is already declared in [ffi.{other}]; symbol names must be unique across the library"),
        );
        false
    } else {
        seen.insert(name.to_string(), unit.to_string());
        true
    }
}

/// The `params` types, or `None` after reporting each one that is not a boundary type.
fn read_params(w: &mut Walker, st: &Table, at: &str) -> Option<Vec<BoundaryType>> {
    let mut params = Vec::new();
    let mut ok = true;
    for p in w.strings(st, at, "params") {
        match BoundaryType::parse(&p, false) {
            Some(ty) => params.push(ty),
            None => {
                w.report(
                    at,
                    format!(
                        "params: '{}' is not a boundary type (int, float, bool, string)",
                        p.escape_debug()
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(params)
}

/// The `returns` type (`void` when absent), or `None` after reporting a bad one.
fn read_returns(w: &mut Walker, st: &Table, at: &str) -> Option<BoundaryType> {
    match w.string(st, at, "returns", false) {
        None => Some(BoundaryType::Void),
        Some(r) => {
            let ty = BoundaryType::parse(&r, true);
            if ty.is_none() {
                w.report(
                    at,
                    format!(
                        "returns: '{}' is not a boundary type (int, float, bool, string, void)",
                        r.escape_debug()
                    ),
                );
            }
            ty
        }
    }
}
