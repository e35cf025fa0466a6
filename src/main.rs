//! The `coex` binary: parses arguments and hands off to `coex::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // `coex --version` also names the target and the clang found (run only
    // for that flag, not for every command line clap builds).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() == 2 && (args[1] == "--version" || args[1] == "-V") {
        coex::cli::print_long_version();
        return std::process::ExitCode::SUCCESS;
    }
    let cli = coex::cli::Cli::parse();
    coex::cli::run(cli)
}
