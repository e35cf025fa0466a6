//! Source positions: every token and AST node carries a [`Span`] so that
//! diagnostics can point at the exact bytes that caused them.

/// Most source bytes one [`crate::lang::SourceMap`] holds (1 GiB in all its
/// files); the map refuses more. With [`MAX_SOURCE_FILES`] it bounds every
/// byte offset and every front-end table (files, units, items, locals,
/// fields, lines), each entry needing at least one source byte or file, a
/// few entries per byte at most, so all of them fit in `u32`.
pub const MAX_SOURCE_BYTES: usize = 1 << 30;

/// Most source files one [`crate::lang::SourceMap`] holds.
pub const MAX_SOURCE_FILES: usize = 1 << 20;

/// A byte offset or a front-end table index as `u32`.
#[allow(clippy::cast_possible_truncation)] // fits: bounded by MAX_SOURCE_BYTES / MAX_SOURCE_FILES (see there)
pub(crate) fn index_u32(i: usize) -> u32 {
    i as u32
}

/// Index of a source file in the [`crate::lang::SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range `start..end` inside one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// A span covering `start..end` of `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: index_u32(start),
            end: index_u32(end),
        }
    }

    /// The smallest span covering both `self` and `other` (same file).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// From the start of `self` to the end of `other` (a construct's header).
    pub fn with_end(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start,
            end: other.end.max(self.start),
        }
    }

    /// Byte range for slicing the source text.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}
