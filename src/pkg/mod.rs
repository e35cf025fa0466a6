//! `coex pkg`: installing `.cxz` libraries into the project's lib folder.
//!
//! - [`project`]: where the project's lib folder and `coex.lock` are.

pub mod project;
