//! The Coex Core front end: lexer, parser, module loader, checker and
//! diagnostics. (Full documentation of `CheckedProgram` follows once the
//! checker lands.)

pub mod ast;
pub mod diagnostic;
pub mod lexer;
pub mod loader;
pub mod parser;
pub mod span;
pub mod stack;
pub mod token;
