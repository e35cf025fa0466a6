//! Command-line interface: one clap derive struct per subcommand, each in its
//! own file, each dispatching to the library module that does the work.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use crate::failure::CmdResult;

#[macro_use]
mod status;
mod build_cmd;
mod cache_cmd;
mod check_cmd;
mod cxz_cmd;
mod debug_cmd;
mod exec_args;
mod pkg_cmd;
mod plan_cmd;
mod tool_cmd;
mod version;

const AFTER_HELP: &str = "\
Examples:
  coex run examples/regex_demo.coex            build and run a program
  coex build app.coex -o app                    build a native executable
  coex check app.coex                           check Coex source, no build
  coex cxz pack examples/libs/counter -o counter.cxz
  coex cxz inspect counter.cxz --json
  coex pkg install path/to/counter.cxz          install into ./lib, record in coex.lock
  coex cache stats";

/// Hermetic, content-addressed builds for Coex programs and `.cxz` libraries.
#[derive(Debug, Parser)]
#[command(name = "coex", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub status: status::StatusArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a program into a native executable (e.g. `coex build app.coex -o app`)
    Build(build_cmd::BuildArgs),
    /// Build a program and run it, passing its exit status through (e.g. `coex run app.coex -- arg`)
    Run(build_cmd::RunArgs),
    /// Check Coex source for errors without building (e.g. `coex check app.coex`)
    Check(check_cmd::CheckArgs),
    /// Print the action graph of a build, as a table or JSON (e.g. `coex plan app.coex --json`)
    Plan(plan_cmd::PlanArgs),
    /// Work with `.cxz` library archives (e.g. `coex cxz inspect lib.cxz`)
    #[command(subcommand)]
    Cxz(cxz_cmd::CxzCommand),
    /// Install `.cxz` libraries into the project's lib folder, recorded in coex.lock (e.g. `coex pkg install path/to/counter.cxz`)
    #[command(subcommand)]
    Pkg(pkg_cmd::PkgCommand),
    /// Inspect and maintain the local build cache (e.g. `coex cache stats`)
    #[command(subcommand)]
    Cache(cache_cmd::CacheCommand),
    /// Print a shell completion script (e.g. `coex completions bash > ~/.local/share/bash-completion/completions/coex`)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the manual page in roff (e.g. `coex man | man -l -`)
    Man,
    /// Developer commands (unstable, hidden)
    #[command(subcommand, hide = true)]
    Debug(debug_cmd::DebugCommand),
    /// Stable subcommands for build systems (Bazel rules); see docs/bazel.md
    #[command(subcommand, hide = true)]
    Tool(tool_cmd::ToolCommand),
}

/// Runs one parsed command line and turns any failure into printed text.
pub fn run(cli: Cli) -> ExitCode {
    let st = status::Status::new(&cli.status);
    let result: CmdResult = match cli.command {
        Command::Build(args) => build_cmd::build(args, &st),
        Command::Run(args) => build_cmd::run(&args, &st),
        Command::Check(args) => check_cmd::run(&args),
        Command::Plan(args) => plan_cmd::run(&args),
        Command::Cxz(cmd) => cxz_cmd::run(cmd, &st),
        Command::Completions { shell } => version::completions(shell),
        Command::Man => version::man(),
        Command::Pkg(cmd) => pkg_cmd::run(cmd),
        Command::Cache(cmd) => cache_cmd::run(cmd),
        Command::Debug(cmd) => debug_cmd::run(cmd),
        Command::Tool(cmd) => tool_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            st.message(&format!("{failure}\n"));
            ExitCode::from(failure.status)
        }
    }
}

/// Prints `coex --version`: the version, the host target and the clang found.
pub fn print_long_version() {
    version::print_long();
}
