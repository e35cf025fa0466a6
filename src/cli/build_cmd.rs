//! `coex build` and `coex run`.

use clap::Args;
use std::path::PathBuf;

use crate::failure::{CmdResult, Failure};

/// Arguments of `coex build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The program's main file
    pub file: PathBuf,
}

/// Arguments of `coex run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The program's main file
    pub file: PathBuf,
}

pub fn build(_args: BuildArgs) -> CmdResult {
    Err(Failure::new("`coex build` is not implemented yet"))
}

pub fn run(_args: RunArgs) -> CmdResult {
    Err(Failure::new("`coex run` is not implemented yet"))
}
