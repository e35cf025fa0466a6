//! `coex cache …`: stats, verify, gc of the local cache; keys for signed
//! remote results.

use clap::Subcommand;
use std::process::ExitCode;

use crate::exec::local::{default_cache_dir, parse_size, LocalStore};
use crate::failure::{CmdResult, Failure};

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Show entry counts and sizes of the local cache (e.g. `coex cache stats`)
    Stats {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Check every entry, remove bad ones; exit 1 if any were bad (e.g. `coex cache verify`)
    Verify,
    /// Delete least recently used entries down to a size, and scratch folders of killed builds (e.g. `coex cache gc --max-size 100M`)
    Gc {
        /// Size to shrink to: bytes, or with a K, M or G suffix
        #[arg(long = "max-size", value_name = "SIZE")]
        max_size: String,
    },
    /// Make a key pair for signed remote results: the secret goes to FILE (mode 0600), the public key is printed (e.g. `coex cache keygen -o ci.key`)
    Keygen {
        /// Where to write the secret key (refuses to overwrite a file)
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

/// Writes a fresh secret key to `out` (never over an existing file, never
/// readable by others) and prints how writers and readers use the pair.
fn keygen(out: &std::path::Path) -> CmdResult {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let signer = crate::exec::remote::signing::ResultSigner::generate()
        .map_err(|e| Failure::new(format!("cannot get random bytes for a key: {e}")))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| {
            Failure::with_body(
                format!("cannot create the key file {}: {e}", out.display()),
                "Name a new file: keygen never overwrites a key (a lost key cannot be recovered).",
            )
        })?;
    f.write_all(format!("{}\n", signer.secret_hex()).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Failure::new(format!("cannot write the key file {}: {e}", out.display())))?;
    let public = signer.verifier().public_hex();
    outln!("secret key written to {} (keep it private)", out.display());
    outln!("public key: {public}");
    outln!();
    outln!(
        "writers:  coex build … --remote-signing-key {}",
        out.display()
    );
    outln!("readers:  coex build … --remote-verify-key {public}");
    Ok(ExitCode::SUCCESS)
}

fn human(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

pub fn run(cmd: CacheCommand) -> CmdResult {
    let dir = default_cache_dir().map_err(Failure::new)?;
    let store = LocalStore::new(&dir);
    match cmd {
        CacheCommand::Keygen { out } => keygen(&out),
        CacheCommand::Stats { json } => {
            let s = store.stats().map_err(Failure::new)?;
            if json {
                let v = serde_json::json!({ "cache_dir": dir, "stats": s });
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                outln!("cache: {}", dir.display());
                outln!(
                    "cas: {} entries, {} ({} bytes)",
                    s.cas_entries,
                    human(s.cas_bytes),
                    s.cas_bytes
                );
                outln!(
                    "ac:  {} entries, {} ({} bytes)",
                    s.ac_entries,
                    human(s.ac_bytes),
                    s.ac_bytes
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CacheCommand::Verify => {
            let r = store.verify().map_err(Failure::new)?;
            for bad in &r.removed {
                outln!("removed bad entry {bad}");
            }
            if r.removed.is_empty() {
                outln!(
                    "checked {} entries in {}: all good",
                    r.checked,
                    dir.display()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                Err(Failure::with_body(
                    format!(
                        "{} of {} cache entries were bad and have been removed",
                        r.removed.len(),
                        r.checked
                    ),
                    "The actions that produced them will re-run on the next build.",
                ))
            }
        }
        CacheCommand::Gc { max_size } => {
            let max = parse_size(&max_size).map_err(Failure::new)?;
            let r = store.gc(max).map_err(Failure::new)?;
            outln!(
                "removed {} entries ({} freed), {} remain in {}",
                r.removed,
                human(r.freed),
                human(r.remaining),
                dir.display()
            );
            let swept = crate::exec::scratch::sweep();
            if !swept.removed.is_empty() {
                outln!(
                    "removed {} scratch folders of builds that no longer run from {}",
                    swept.removed.len(),
                    std::env::temp_dir().display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
