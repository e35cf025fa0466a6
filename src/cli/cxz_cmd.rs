//! `coex cxz …`: pack, inspect, verify, find, build.

use clap::Subcommand;
use std::path::PathBuf;

use crate::failure::{CmdResult, Failure};

#[derive(Debug, Subcommand)]
pub enum CxzCommand {
    /// Check an archive against every rule of the format (e.g. `coex cxz verify lib.cxz`)
    Verify {
        /// The archive
        file: PathBuf,
    },
}

pub fn run(_cmd: CxzCommand) -> CmdResult {
    Err(Failure::new("`coex cxz` is not implemented yet"))
}
