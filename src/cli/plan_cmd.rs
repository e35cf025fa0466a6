//! `coex plan`.

use clap::Args;
use std::path::PathBuf;

use crate::failure::{CmdResult, Failure};

/// Arguments of `coex plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A `.cxz` library or a program's main `.coex` file
    pub file: PathBuf,
    /// Print JSON (the only format for now)
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: PlanArgs) -> CmdResult {
    Err(Failure::new("`coex plan` is not implemented yet"))
}
