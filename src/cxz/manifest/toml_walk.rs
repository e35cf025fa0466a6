//! Typed reads from a parsed TOML table that record a located problem
//! instead of failing, so one pass reports everything wrong with a manifest.

use toml::{Table, Value};

use crate::cxz::Problem;

/// Collects problems while reading keys out of TOML tables.
#[derive(Default)]
pub(super) struct Walker {
    pub problems: Vec<Problem>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

impl Walker {
    /// Records a problem at `table` (e.g. `[ffi.regex]`).
    pub fn report(&mut self, table: &str, message: impl Into<String>) {
        self.problems.push(Problem::manifest(table, message));
    }

    /// Reports each of `values` for which `problem` returns a message: the
    /// per-item checks of a list (cflags, library names) share this loop.
    pub fn report_each(
        &mut self,
        table: &str,
        values: &[String],
        problem: impl Fn(&str) -> Option<String>,
    ) {
        for v in values {
            if let Some(message) = problem(v) {
                self.report(table, message);
            }
        }
    }

    /// Reports every key of `table` that is not in `known` (sorted list shown).
    pub fn check_keys(&mut self, table: &Table, at: &str, known: &[&str]) {
        for key in table.keys() {
            if !known.contains(&key.as_str()) {
                let mut list: Vec<&str> = known.to_vec();
                list.sort_unstable();
                self.report(
                    at,
                    format!(
                        "unknown key '{}' (known keys: {})",
                        key.escape_debug(),
                        list.join(", ")
                    ),
                );
            }
        }
    }

    /// A string value; reports a missing required key or a wrong type.
    pub fn string(&mut self, table: &Table, at: &str, key: &str, required: bool) -> Option<String> {
        match table.get(key) {
            None => {
                if required {
                    self.report(at, format!("missing required key '{key}'"));
                }
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.report(
                    at,
                    format!("key '{key}' must be a string, not {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An array of strings (absent: empty); reports wrong types element by element.
    pub fn strings(&mut self, table: &Table, at: &str, key: &str) -> Vec<String> {
        match table.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => self.report(
                            at,
                            format!("{key}[{i}] must be a string, not {}", type_name(other)),
                        ),
                    }
                }
                out
            }
            Some(other) => {
                self.report(
                    at,
                    format!(
                        "key '{key}' must be an array of strings, not {}",
                        type_name(other)
                    ),
                );
                Vec::new()
            }
        }
    }

    /// A sub-table; reports a wrong type.
    pub fn table<'t>(&mut self, value: &'t Value, at: &str) -> Option<&'t Table> {
        match value {
            Value::Table(t) => Some(t),
            other => {
                self.report(at, format!("must be a table, not {}", type_name(other)));
                None
            }
        }
    }
}
