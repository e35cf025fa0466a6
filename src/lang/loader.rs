//! Source files of a program.

use super::span::FileId;

/// One loaded source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// All source files of a program, indexed by [`FileId`].
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Adds a file and returns its id.
    pub fn add(&mut self, name: String, text: String) -> FileId {
        self.files.push(SourceFile { name, text });
        FileId((self.files.len() - 1) as u32)
    }

    /// All files in id order.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// The file with this id.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// `(file name, 1-based line, 1-based column)` of a byte offset.
    pub fn location(&self, id: FileId, offset: usize) -> (String, usize, usize) {
        let Some(f) = self.get(id) else {
            return (String::new(), 1, 1);
        };
        let offset = offset.min(f.text.len());
        let mut offset = offset;
        while !f.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &f.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = f.text[line_start..offset].chars().count() + 1;
        (f.name.clone(), line, col)
    }
}
