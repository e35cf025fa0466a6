//! Built-in functions and methods: `print`, `range`, `len`, `get`,
//! `append`, `to_string` (the last four also as methods).

use super::stmts::FnCx;
use super::Checker;
use crate::lang::ast::{Arg, Expr};
use crate::lang::diagnostic::Diagnostic;
use crate::lang::program::{Builtin, CallTarget};
use crate::lang::span::Span;
use crate::lang::types::Ty;

impl Checker {
    /// A built-in called as a free function: `print(v)`, `len(xs)`, ….
    pub(crate) fn builtin_free(&mut self, cx: &mut FnCx, e: &Expr, n: &str, args: &[Arg]) -> Ty {
        let b = match n {
            "print" => Builtin::Print,
            "range" => Builtin::Range,
            "len" => Builtin::Len,
            "get" => Builtin::Get,
            "append" => Builtin::Append,
            _ => Builtin::ToString,
        };
        self.prog.calls.insert(e.id, CallTarget::Builtin(b));
        if b == Builtin::Print {
            self.formula_forbids(cx, e.span, "'print'");
        }
        let mut tys = Vec::new();
        let mut spans = Vec::new();
        for a in args {
            if let Some(name) = &a.name {
                self.error(Diagnostic::error(
                    name.span,
                    format!("`{n}` does not take named arguments"),
                ));
            }
            tys.push(self.expr(cx, &a.value));
            spans.push(a.value.span);
        }
        self.builtin_type(b, n, &tys, &spans, e.span, false)
    }

    /// Types a built-in given all operand types (receiver first).
    /// In method form (`xs.len()`) the receiver is `tys[0]`.
    pub(crate) fn builtin_type(
        &mut self,
        b: Builtin,
        n: &str,
        tys: &[Ty],
        spans: &[Span],
        span: Span,
        method_form: bool,
    ) -> Ty {
        let want = match b {
            Builtin::Print | Builtin::Len | Builtin::ToString => 1,
            Builtin::Range | Builtin::Get | Builtin::Append => 2,
        };
        if tys.len() != want {
            self.builtin_arity_error(b, n, want, tys.len(), span, method_form);
            return match b {
                Builtin::Print => Ty::Void,
                Builtin::Range => Ty::List(Box::new(Ty::Int)),
                Builtin::Len => Ty::Int,
                Builtin::ToString => Ty::String,
                _ => Ty::Unknown,
            };
        }
        let at = |i: usize| spans.get(i).copied().unwrap_or(span);
        match b {
            Builtin::Print | Builtin::ToString => {
                self.expect_printable(n, &tys[0], at(0));
                if b == Builtin::Print {
                    Ty::Void
                } else {
                    Ty::String
                }
            }
            Builtin::Range => {
                for (i, t) in tys.iter().enumerate() {
                    self.require_type(t, &Ty::Int, |s| {
                        Diagnostic::error(at(i), format!("`range` takes ints, found {s}"))
                    });
                }
                Ty::List(Box::new(Ty::Int))
            }
            Builtin::Len => {
                if !matches!(tys[0], Ty::String | Ty::List(_) | Ty::Unknown) {
                    let s = self.show(&tys[0]);
                    self.error(Diagnostic::error(
                        at(0),
                        format!("`len` needs a string or a list, found {s}"),
                    ));
                }
                Ty::Int
            }
            Builtin::Get => self.get_type(&tys[0], &tys[1], at(0), at(1)),
            Builtin::Append => self.append_type(&tys[0], &tys[1], at(0), at(1)),
        }
    }

    /// Reports a built-in called with the wrong number of operands, with its usage.
    fn builtin_arity_error(
        &mut self,
        b: Builtin,
        n: &str,
        want: usize,
        found: usize,
        span: Span,
        method_form: bool,
    ) {
        let usage = match b {
            Builtin::Print => "`print(value)`",
            Builtin::Range => "`range(start, end)`",
            Builtin::Len => "`xs.len()` or `len(xs)`",
            Builtin::Get => "`xs.get(i)` or `get(xs, i)`",
            Builtin::Append => "`xs.append(v)` or `append(xs, v)`",
            Builtin::ToString => "`v.to_string()` or `to_string(v)`",
        };
        self.error(
            Diagnostic::error(span, {
                let shift = usize::from(method_form);
                let expected = want - shift;
                format!(
                    "`{n}` takes {expected} argument{}, found {}",
                    if expected == 1 { "" } else { "s" },
                    found - shift
                )
            })
            .with_help(format!("write {usage}")),
        );
    }

    /// `print` and `to_string` take a scalar: int, float, bool or string.
    fn expect_printable(&mut self, n: &str, t: &Ty, at: Span) {
        if !matches!(t, Ty::Int | Ty::Float | Ty::Bool | Ty::String | Ty::Unknown) {
            let s = self.show(t);
            self.error(
                Diagnostic::error(
                    at,
                    format!("`{n}` takes an int, float, bool or string, found {s}"),
                )
                .with_help("print the fields or elements one by one"),
            );
        }
    }

    /// Reports `found` where built-in `name` (`get`, `append`) needs a list.
    fn needs_a_list(&mut self, name: &str, found: &Ty, at: Span) -> Ty {
        let s = self.show(found);
        self.error(Diagnostic::error(
            at,
            format!("`{name}` needs a list, found {s}"),
        ));
        Ty::Unknown
    }

    /// `get(xs, i)`: the element type of a list, with an int index.
    fn get_type(&mut self, list: &Ty, index: &Ty, list_at: Span, index_at: Span) -> Ty {
        self.require_index(index, index_at);
        match list {
            Ty::List(el) => (**el).clone(),
            Ty::Unknown => Ty::Unknown,
            other => self.needs_a_list("get", other, list_at),
        }
    }

    /// `append(xs, v)`: the list type joined with the element's, when it fits.
    fn append_type(&mut self, list: &Ty, value: &Ty, list_at: Span, value_at: Span) -> Ty {
        match list {
            Ty::List(el) => {
                if self.expect_fits(value, el, value_at, "the appended element") {
                    Ty::List(Box::new(el.join(value)))
                } else {
                    list.clone()
                }
            }
            Ty::Unknown => Ty::Unknown,
            other => self.needs_a_list("append", other, list_at),
        }
    }
}
