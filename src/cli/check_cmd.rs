//! `coex check`: parse and check a program (and the modules and libraries
//! it imports) without building it.

use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::failure::{CmdResult, Failure};
use crate::lang;

/// Arguments of `coex check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The Coex file to check
    pub file: PathBuf,
    /// Also search DIR for libraries named by `import "name"` (repeatable)
    #[arg(short = 'L', value_name = "DIR")]
    pub lib_dirs: Vec<PathBuf>,
    /// Refuse imported libraries that coex.lock does not record with the same digest
    /// (unpacked library folders are then not used)
    #[arg(long)]
    pub locked: bool,
    /// Print diagnostics as JSON lines on stdout:
    /// {file, line, col, end_line, end_col, severity, message, help}
    #[arg(long)]
    pub json: bool,
}

/// Checks the file; prints all diagnostics; exit 1 if any is an error.
pub fn run(args: &CheckArgs) -> CmdResult {
    let mut resolver = crate::plan::resolver::CheckResolver::new(args.lib_dirs.clone());
    resolver.archives_only = args.locked;
    let (program, mut diags) = lang::check_file(&args.file, &resolver).map_err(Failure::new)?;
    if args.locked {
        crate::pkg::locked::check(&args.file, &resolver.libraries()).map_err(Failure::new)?;
    }
    crate::bridge::add_backend_diagnostics(&program, &mut diags);
    if args.json {
        let text = lang::render_json(&program.sources, &diags);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    } else if !diags.is_empty() {
        let text = lang::render_text(&program.sources, &diags);
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        if let Some(summary) = lang::error_summary(&diags, "check", &args.file) {
            let _ = writeln!(err, "{summary}");
        }
    }
    Ok(if lang::has_errors(&diags) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
