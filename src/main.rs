//! The `coex` binary: parses arguments and hands off to `coex::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = coex::cli::Cli::parse();
    coex::cli::run(cli)
}
