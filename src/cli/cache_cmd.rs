//! `coex cache …`: stats, verify, gc.

use clap::Subcommand;

use crate::failure::{CmdResult, Failure};

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Show entry counts and sizes of the local cache (e.g. `coex cache stats`)
    Stats,
}

pub fn run(_cmd: CacheCommand) -> CmdResult {
    Err(Failure::new("`coex cache` is not implemented yet"))
}
