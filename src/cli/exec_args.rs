//! Flags shared by every command that executes actions (`-j`, `--cc`,
//! `--remote-*`), defined once.

use clap::{ArgAction, Args};
use std::path::PathBuf;

use crate::exec::local::default_cache_dir;
use crate::exec::{ExecOptions, RemoteOptions};
use crate::failure::Failure;

/// Execution flags.
#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Run at most N actions at once, N >= 1 (default: number of cores)
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// C compiler to use (default: $COEX_CC, else clang on PATH)
    #[arg(long = "cc", value_name = "PATH")]
    pub cc: Option<PathBuf>,
    /// Shared cache: grpc://HOST:PORT or grpcs:// (REAPI), http:// or https:// (Bazel HTTP protocol) (default: $COEX_REMOTE_CACHE)
    #[arg(long = "remote-cache", value_name = "URL")]
    pub remote_cache: Option<String>,
    /// Upload results to the remote cache (`--remote-upload=false`: read only)
    #[arg(long = "remote-upload", value_name = "BOOL", default_value_t = true, action = ArgAction::Set)]
    pub remote_upload: bool,
    /// REAPI instance name of a grpc:// cache (default: $COEX_REMOTE_INSTANCE_NAME, else none)
    #[arg(long = "remote-instance-name", value_name = "NAME")]
    pub remote_instance_name: Option<String>,
    /// Header sent with every remote request, e.g. `x-api-key=KEY` (repeatable)
    #[arg(long = "remote-header", value_name = "NAME=VALUE")]
    pub remote_header: Vec<String>,
    /// PEM file of the roots to trust for https:// and grpcs:// instead of the public ones (default: $COEX_REMOTE_CA)
    #[arg(long = "remote-ca", value_name = "FILE")]
    pub remote_ca: Option<PathBuf>,
    /// File holding the secret key that signs uploaded results (default: the key in $COEX_REMOTE_SIGNING_KEY)
    #[arg(long = "remote-signing-key", value_name = "FILE")]
    pub remote_signing_key: Option<PathBuf>,
    /// Public key (64 hex digits, or a file holding them): use only remote results it signed; without --remote-signing-key nothing is uploaded (default: $COEX_REMOTE_VERIFY_KEY)
    #[arg(long = "remote-verify-key", value_name = "KEY|FILE")]
    pub remote_verify_key: Option<String>,
}

/// `-j N`: a whole number of at least 1 (0 would run nothing; leaving
/// `-j` out means one action per core).
fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("0 would run no action at all: give 1 or more, or leave -j out to run one action per core".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number: give 1 or more, or leave -j out to run one action per core")),
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn bad_remote(headline: String, fix: &str) -> Failure {
    Failure::with_body(headline, fix)
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
        o.remote = match self
            .remote_cache
            .clone()
            .or_else(|| env_nonempty("COEX_REMOTE_CACHE"))
        {
            Some(url) if !url.is_empty() => Some(self.remote_options(url)?),
            _ => None,
        };
        Ok(o)
    }

    /// The remote options, every flag checked now (a bad key or header is
    /// an error before anything runs, not a warning halfway through). Each
    /// error names the flag, or the variable, the bad value came from.
    fn remote_options(&self, url: String) -> Result<RemoteOptions, Failure> {
        let shown = crate::exec::remote::http::redact(&url);
        let grpc = url.starts_with("grpc://") || url.starts_with("grpcs://");
        if !grpc && !url.starts_with("http://") && !url.starts_with("https://") {
            let from = named(
                self.remote_cache.is_some(),
                "--remote-cache",
                "COEX_REMOTE_CACHE",
            );
            return Err(bad_remote(
                format!("unsupported {from} URL '{shown}'"),
                "Use grpc://HOST:PORT or grpcs://HOST:PORT for a REAPI server (bazel-remote, BuildGrid, \
                 Buildbarn, BuildBuddy, …),\nor http(s)://HOST:PORT/PATH for a Bazel HTTP cache, e.g. \
                 --remote-cache grpc://127.0.0.1:9092",
            ));
        }
        let mut r = RemoteOptions::new(url, self.remote_upload);
        r.instance_name = self
            .remote_instance_name
            .clone()
            .or_else(|| env_nonempty("COEX_REMOTE_INSTANCE_NAME"))
            .unwrap_or_default();
        if !grpc && !r.instance_name.is_empty() {
            let from = named(
                self.remote_instance_name.is_some(),
                "--remote-instance-name",
                "COEX_REMOTE_INSTANCE_NAME",
            );
            return Err(bad_remote(
                format!("{from} '{}' needs a grpc:// cache", r.instance_name),
                "The Bazel HTTP protocol has no instance names: put the instance in the URL path instead, \
                 e.g. http://HOST:PORT/INSTANCE",
            ));
        }
        r.headers = parse_headers(&self.remote_header)?;
        r.ca_file = self
            .remote_ca
            .clone()
            .or_else(|| env_nonempty("COEX_REMOTE_CA").map(PathBuf::from));
        self.check_ca(&r)?;
        r.signing_key = self.signing_key()?;
        r.verify_key = self.verify_key()?;
        // Opening checks the rest without any network I/O.
        crate::exec::remote::RemoteStore::open(&r).map_err(|f| {
            bad_remote(
                format!("cannot use the remote cache {shown}: {}", f.detail),
                "Fix or remove the --remote-* flags (or COEX_REMOTE_* variables) given",
            )
        })?;
        Ok(r)
    }

    /// The CA file is readable and holds PEM certificates.
    fn check_ca(&self, r: &RemoteOptions) -> Result<(), Failure> {
        let Some(file) = &r.ca_file else {
            return Ok(());
        };
        let from = named(self.remote_ca.is_some(), "--remote-ca", "COEX_REMOTE_CA");
        let fix = "Name a PEM file holding the certificate of the CA that signed the server's \
                   certificate, e.g. --remote-ca ca.pem";
        let pem = std::fs::read(file).map_err(|e| {
            bad_remote(
                format!("cannot read the {from} file {}: {e}", file.display()),
                fix,
            )
        })?;
        crate::exec::remote::http::check_ca_pem(&pem)
            .map_err(|f| bad_remote(format!("{from} {}: {}", file.display(), f.detail), fix))
    }

    /// The secret key (64 hex digits) from `--remote-signing-key FILE` or
    /// `COEX_REMOTE_SIGNING_KEY`; never shown in a message.
    fn signing_key(&self) -> Result<Option<String>, Failure> {
        use crate::exec::remote::signing::ResultSigner;
        let (text, from) = match &self.remote_signing_key {
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(|e| {
                    bad_remote(
                        format!(
                            "cannot read the --remote-signing-key file {}: {e}",
                            f.display()
                        ),
                        "Name the file `coex cache keygen -o FILE` wrote",
                    )
                })?;
                (text, format!("--remote-signing-key {}", f.display()))
            }
            None => match env_nonempty("COEX_REMOTE_SIGNING_KEY") {
                Some(text) => (text, "COEX_REMOTE_SIGNING_KEY".to_string()),
                None => return Ok(None),
            },
        };
        ResultSigner::from_hex(&text).map_err(|e| {
            bad_remote(
                format!("{from}: {e}"),
                "--remote-signing-key names the file `coex cache keygen -o FILE` wrote; \
                 COEX_REMOTE_SIGNING_KEY holds the key itself (the 64 hex digits in that file)",
            )
        })?;
        Ok(Some(text))
    }

    /// The public key from `--remote-verify-key KEY|FILE` or
    /// `COEX_REMOTE_VERIFY_KEY`.
    fn verify_key(&self) -> Result<Option<String>, Failure> {
        use crate::exec::remote::signing::{key_text, KeyError, ResultVerifier};
        let (arg, from) = match &self.remote_verify_key {
            Some(k) => (k.clone(), "--remote-verify-key"),
            None => match env_nonempty("COEX_REMOTE_VERIFY_KEY") {
                Some(k) => (k, "COEX_REMOTE_VERIFY_KEY"),
                None => return Ok(None),
            },
        };
        let fix =
            "Give the public key `coex cache keygen` printed (64 hex digits), or a file holding it";
        let checked = key_text(&arg).and_then(|text| ResultVerifier::from_hex(&text).map(|_| ()));
        match checked {
            Ok(()) => Ok(Some(arg)),
            Err(KeyError::Unreadable { source, .. }) => Err(bad_remote(
                format!("{from} '{arg}' is neither 64 hex digits nor a readable file: {source}"),
                fix,
            )),
            Err(e) => Err(bad_remote(format!("{from} '{arg}': {e}"), fix)),
        }
    }
}

/// The flag when it was given, else the variable the value came from.
fn named(flag_given: bool, flag: &'static str, var: &'static str) -> &'static str {
    if flag_given {
        flag
    } else {
        var
    }
}

/// `NAME=VALUE` pairs from `--remote-header`.
fn parse_headers(raw: &[String]) -> Result<Vec<(String, String)>, Failure> {
    raw.iter()
        .map(|h| {
            let (k, v) = h.split_once('=').unwrap_or((h.as_str(), ""));
            let name_ok = !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            let value_ok = h.contains('=') && v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
            if name_ok && value_ok {
                Ok((k.to_ascii_lowercase(), v.to_string()))
            } else {
                Err(bad_remote(
                    format!("invalid --remote-header '{k}=…'"),
                    "Write it as NAME=VALUE: a name of letters, digits, '-' or '_', and a printable ASCII value, \
                     e.g. --remote-header x-api-key=SECRET",
                ))
            }
        })
        .collect()
}
