//! Built-in functions and methods: `print`, `range`, `len`, `get`,
//! `append`, `to_string` (these four also as methods), `arg_count`, `arg`.

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
            "arg_count" => Builtin::ArgCount,
            "arg" => Builtin::Arg,
            _ => Builtin::ToString,
        };
        self.prog.calls.insert(e.id, CallTarget::Builtin(b));
        if matches!(b, Builtin::Print | Builtin::ArgCount | Builtin::Arg) {
            self.formula_forbids(cx, e.span, &format!("'{n}'"));
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
            Builtin::ArgCount => 0,
            Builtin::Print | Builtin::Len | Builtin::ToString | Builtin::Arg => 1,
            Builtin::Range | Builtin::Get | Builtin::Append => 2,
        };
        if tys.len() != want {
            self.builtin_arity_error(b, n, want, tys.len(), span, method_form);
            return match b {
                Builtin::Print => Ty::Void,
                Builtin::Range => Ty::List(Box::new(Ty::Int)),
                Builtin::Len | Builtin::ArgCount => Ty::Int,
                Builtin::ToString | Builtin::Arg => Ty::String,
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
            Builtin::ArgCount => Ty::Int,
            Builtin::Arg => {
                self.require_type(&tys[0], &Ty::Int, |s| {
                    Diagnostic::error(at(0), format!("`arg` takes an int index, found {s}"))
                        .with_help("`arg(0)` is the first argument after the program name")
                });
                Ty::String
            }
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
            Builtin::ArgCount => "`arg_count()`",
            Builtin::Arg => "`arg(i)` (0-based, `i < arg_count()`)",
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

#[cfg(test)]
mod tests {
    use crate::lang::check::messages;

    #[test]
    fn arg_takes_an_int_index_and_gives_a_string() {
        let src = "func main()\n    s: string = arg(0)\n    n: int = arg_count()\n    print(arg(\"x\"))\n~\n";
        assert_eq!(
            messages(src),
            vec!["`arg` takes an int index, found string"]
        );
    }

    #[test]
    fn a_declared_function_named_like_a_builtin_is_called_instead() {
        // As for `len`: the program's own `arg` wins over the built-in.
        let src = "func arg(s: string) -> int\n    return s.len()\n~\n\
                   func main()\n    n: int = arg(\"x\")\n    print(n + arg_count())\n~\n";
        assert!(messages(src).is_empty(), "{:?}", messages(src));
    }
}
