//! `coex pkg …`: install, list and remove `.cxz` libraries of a project
//! (its lib folder and `coex.lock`, see `crate::pkg`).

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::failure::{CmdResult, Failure};
use crate::pkg::install::{install, InstallOptions, Place};
use crate::pkg::manage::{list, remove};

#[derive(Debug, Subcommand)]
pub enum PkgCommand {
    /// Verify archives, copy them into the lib folder as NAME.cxz and record them in coex.lock (e.g. `coex pkg install path/to/counter.cxz`)
    Install {
        /// `.cxz` files or http(s):// URLs
        #[arg(required = true, value_name = "SOURCE")]
        sources: Vec<String>,
        /// The lib folder (default: the project's, ./lib beside coex.lock); coex.lock goes beside it
        #[arg(long = "lib", value_name = "DIR")]
        lib: Option<PathBuf>,
        /// Accept an archive from a URL whose digest differs from the one coex.lock records
        #[arg(long)]
        update: bool,
        /// Trust the CA certificates in this PEM file for https:// (instead of the web's roots)
        #[arg(long = "ca", value_name = "FILE")]
        ca: Option<PathBuf>,
    },
    /// List the libraries of coex.lock, and whether each file is present and matches (e.g. `coex pkg list`)
    List {
        /// The lib folder (default: the project's); coex.lock is beside it
        #[arg(long = "lib", value_name = "DIR")]
        lib: Option<PathBuf>,
    },
    /// Remove installed libraries: their archive and their entry in coex.lock (e.g. `coex pkg remove counter`)
    Remove {
        /// Library names
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// The lib folder (default: the project's); coex.lock is beside it
        #[arg(long = "lib", value_name = "DIR")]
        lib: Option<PathBuf>,
    },
}

/// Runs one `coex pkg` subcommand.
pub fn run(cmd: PkgCommand) -> CmdResult {
    match cmd {
        PkgCommand::Install {
            sources,
            lib,
            update,
            ca,
        } => {
            let ca_pem = match ca {
                Some(f) => Some(std::fs::read(&f).map_err(|e| {
                    Failure::new(format!("cannot read the --ca file {}: {e}", f.display()))
                })?),
                None => None,
            };
            let place = Place::new(lib.as_deref()).map_err(Failure::new)?;
            let opts = InstallOptions { update, ca_pem };
            for line in install(&sources, &place, &opts).map_err(Failure::new)? {
                outln!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        PkgCommand::List { lib } => {
            let place = Place::new(lib.as_deref()).map_err(Failure::new)?;
            let listing = list(&place).map_err(Failure::new)?;
            for line in &listing.lines {
                outln!("{line}");
            }
            match listing.problems {
                0 => Ok(ExitCode::SUCCESS),
                n => Err(Failure::with_body(
                    format!("{n} installed librar{} not match coex.lock", if n == 1 { "y does" } else { "ies do" }),
                    "Install the archive again (coex pkg install SOURCE) or remove it (coex pkg remove NAME).",
                )),
            }
        }
        PkgCommand::Remove { names, lib } => {
            let place = Place::new(lib.as_deref()).map_err(Failure::new)?;
            for name in &names {
                outln!("{}", remove(name, &place).map_err(Failure::new)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
