//! Flags shared by every command that executes actions (`-j`, `--cc`,
//! `--remote-cache`, `--remote-upload`), defined once.

use clap::{ArgAction, Args};
use std::path::PathBuf;

use crate::exec::local::default_cache_dir;
use crate::exec::{ExecOptions, RemoteOptions};
use crate::failure::Failure;

/// Execution flags.
#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Run at most N actions at once (default: number of cores)
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// C compiler to use (default: $COEX_CC, else clang on PATH)
    #[arg(long = "cc", value_name = "PATH")]
    pub cc: Option<PathBuf>,
    /// Shared HTTP cache, Bazel protocol, http:// only (default: $COEX_REMOTE_CACHE)
    #[arg(long = "remote-cache", value_name = "URL")]
    pub remote_cache: Option<String>,
    /// Upload results to the remote cache (`--remote-upload=false`: read only)
    #[arg(long = "remote-upload", value_name = "BOOL", default_value_t = true, action = ArgAction::Set)]
    pub remote_upload: bool,
}

impl ExecArgs {
    /// Executor options: cache dir from `COEX_CACHE_DIR`/`~/.coex/cache`,
    /// remote from the flag or `COEX_REMOTE_CACHE`.
    pub fn options(&self) -> Result<ExecOptions, Failure> {
        let dir = default_cache_dir().map_err(Failure::new)?;
        let mut o = ExecOptions::new(dir);
        o.jobs = self.jobs.unwrap_or(0);
        o.echo_warnings = true;
        o.progress = true;
        o.remote = self
            .remote_cache
            .clone()
            .or_else(|| std::env::var("COEX_REMOTE_CACHE").ok())
            .filter(|u| !u.is_empty())
            .map(|url| RemoteOptions::new(url, self.remote_upload));
        if let Some(r) = &o.remote {
            if !r.url.starts_with("http://") {
                return Err(Failure::with_body(
                    format!("unsupported remote cache URL '{}'", r.url),
                    "Only http:// URLs are supported (this coex is built without TLS).\nUse e.g. --remote-cache http://127.0.0.1:8080/cache",
                ));
            }
        }
        Ok(o)
    }
}
