//! `coex check`.

use clap::Args;
use std::path::PathBuf;

use crate::failure::{CmdResult, Failure};

/// Arguments of `coex check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The Coex file to check
    pub file: PathBuf,
}

pub fn run(_args: CheckArgs) -> CmdResult {
    Err(Failure::new("`coex check` is not implemented yet"))
}
