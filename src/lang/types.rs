//! Semantic types of Coex Core and the ids of checked declarations.

use std::fmt;

/// A function or method (index into [`crate::lang::CheckedProgram::functions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FuncId(pub u32);
/// An `extern` declaration (index into `CheckedProgram::externs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExternId(pub u32);
/// A record `type` (index into `CheckedProgram::records`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub u32);
/// A `const` (index into `CheckedProgram::consts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConstId(pub u32);
/// A local variable or parameter (index into `CheckedProgram::locals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalId(pub u32);

/// The type of a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ty {
    Int,
    Float,
    Bool,
    String,
    /// No value (functions without `-> T`, `print`).
    Void,
    /// `[T]` / `List<T>`.
    List(Box<Ty>),
    Record(RecordId),
    /// Not known: the element of `[]` before use, or after an error (never
    /// reported twice). Compatible with every type.
    Unknown,
}

impl Ty {
    /// Whether a value of type `self` may be used where `want` is expected.
    pub fn fits(&self, want: &Ty) -> bool {
        match (self, want) {
            (Ty::Unknown, _) | (_, Ty::Unknown) => true,
            (Ty::List(a), Ty::List(b)) => a.fits(b),
            (a, b) => a == b,
        }
    }

    /// The more precise of two compatible types (`[int]` over `[?]`).
    pub fn join(&self, other: &Ty) -> Ty {
        match (self, other) {
            (Ty::Unknown, t) | (t, Ty::Unknown) => t.clone(),
            (Ty::List(a), Ty::List(b)) => Ty::List(Box::new(a.join(b))),
            (a, _) => a.clone(),
        }
    }

    /// Whether the type has an unknown part (e.g. `[]` never used).
    pub fn has_unknown(&self) -> bool {
        match self {
            Ty::Unknown => true,
            Ty::List(t) => t.has_unknown(),
            _ => false,
        }
    }

    /// Whether values of this type may cross the FFI boundary (cxz-format.md §4).
    pub fn is_boundary(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Bool | Ty::String)
    }

    /// Displays the type, naming records through `names`.
    pub fn display<'a>(&'a self, names: &'a [String]) -> TyDisplay<'a> {
        TyDisplay { ty: self, names }
    }
}

/// [`Ty`] with record names, for messages.
pub struct TyDisplay<'a> {
    ty: &'a Ty,
    names: &'a [String],
}

impl fmt::Display for TyDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ty {
            Ty::Int => f.write_str("int"),
            Ty::Float => f.write_str("float"),
            Ty::Bool => f.write_str("bool"),
            Ty::String => f.write_str("string"),
            Ty::Void => f.write_str("nothing"),
            Ty::Unknown => f.write_str("?"),
            Ty::List(t) => write!(f, "[{}]", t.display(self.names)),
            Ty::Record(id) => f.write_str(
                self.names
                    .get(id.0 as usize)
                    .map(String::as_str)
                    .unwrap_or("?"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fits_and_joins() {
        let empty = Ty::List(Box::new(Ty::Unknown));
        let ints = Ty::List(Box::new(Ty::Int));
        assert!(empty.fits(&ints));
        assert!(!Ty::List(Box::new(Ty::Float)).fits(&ints));
        assert_eq!(empty.join(&ints), ints);
        assert_eq!(format!("{}", ints.display(&[])), "[int]");
    }
}
