//! The second-level key of C compiles: the preprocessed text, as ccache's
//! and sccache's preprocessor modes key on it.
//!
//! When the direct key of a compile misses (its source or a header
//! changed), the executor runs the compile's own command as the
//! preprocessor only (`-E`, every other flag the same, the same dependency
//! file) in the scratch directory and looks the result up under
//!
//! ```text
//! BLAKE3(str("coex-preprocessed-v1") ++ canonical encoding of the action
//!        whose inputs are: the declared inputs the preprocessor did not
//!        read, plus "coex-preprocessed.i" → digest of the text)
//! ```
//!
//! so every flag, the environment, the outputs and the toolchain identity
//! are covered as in the direct key, and the text stands for the source and
//! every header (declared or system). Line markers are kept (no `-P`): the
//! text then changes when code moves to another line, as `__LINE__` and
//! diagnostics would. A comment or whitespace edit that keeps the lines
//! costs a preprocess instead of a compile. Only results without
//! diagnostics (empty stderr) are stored under this key: a warning names
//! columns the preprocessed text does not keep.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use super::action::{Action, ActionKey, ActionResult};
use super::depfile;
use super::digest::Digest;
use super::discovered::normalize;
use super::executor::ExecError;
use super::executor::{discovered_list, record_discovered, run_tool, stable_digests, Collected};
use super::file_digests::FileDigests;
use super::layered::{CacheStack, Satisfied};

/// Where the preprocessor writes its text, in the scratch directory.
pub const PREPROCESSED_OUTPUT: &str = "coex-preprocessed.i";

const TAG: &str = "coex-preprocessed-v1";

/// argv[1..] of a compile turned into its preprocessing command: `-c`
/// becomes `-E` and the object after `-o` becomes [`PREPROCESSED_OUTPUT`].
pub fn preprocess_args(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut after_o = false;
    for a in args {
        if after_o {
            out.push(PREPROCESSED_OUTPUT.to_string());
            after_o = false;
            continue;
        }
        after_o = a == "-o";
        out.push(if a == "-c" {
            "-E".to_string()
        } else {
            a.clone()
        });
    }
    out
}

/// The preprocessed key of `action`, and a result found under it.
pub(super) struct Lookup {
    /// Where a fresh result of this compile is also stored.
    pub(super) key: ActionKey,
    /// A stored result (already recorded under the direct key too).
    pub(super) hit: Option<(Satisfied, ActionResult)>,
}

/// Runs the preprocessor of `action` (inputs already in `root`) and looks
/// its text up. `None` when the action has no preprocessing command or the
/// preprocessor failed (the compile then runs and reports the error).
pub(super) fn lookup(
    stack: &CacheStack,
    files: &FileDigests,
    action: &Action,
    direct: &ActionKey,
    root: &Path,
) -> Result<Option<Lookup>, ExecError> {
    let Some(discover) = &action.discover else {
        return Ok(None);
    };
    let Some(args) = &discover.preprocess else {
        return Ok(None);
    };
    let mut pre = action.clone();
    pre.argv.truncate(1);
    pre.argv.extend(args.iter().cloned());
    let Ok((_, started)) = run_tool(&pre, root) else {
        return Ok(None);
    };
    let Ok(text) = fs::read(root.join(PREPROCESSED_OUTPUT)) else {
        return Ok(None);
    };
    let read = inside_reads(discover, root);
    let key = preprocessed_key(action, &read, &Digest::of(&text));
    let Some((how, result)) = stack.lookup(&key, &action.outputs) else {
        return Ok(Some(Lookup { key, hit: None }));
    };
    // The next build of the same text is a direct hit: the files the
    // preprocessor read are those the compile would have read.
    let list = discovered_list(action, discover, root)?;
    let digests = stable_digests(&list, files, started);
    // Blobs left on the remote stay there (the stack records them as
    // remote-held); those held here are stored again with the result.
    let blobs: BTreeMap<Digest, Vec<u8>> = result
        .blobs()
        .into_iter()
        .filter_map(|d| Some((d.clone(), stack.local_blob(d)?)))
        .collect();
    let collected = Collected {
        result: result.clone(),
        blobs,
    };
    record_discovered(stack, direct, &list, digests, &collected)?;
    let how = match how {
        Satisfied::Cached => Satisfied::Preprocessed,
        other => other,
    };
    Ok(Some(Lookup {
        key,
        hit: Some((how, result)),
    }))
}

/// Stores a fresh compile's result under its preprocessed key, unless it
/// printed diagnostics.
pub(super) fn record(
    stack: &CacheStack,
    key: &ActionKey,
    collected: &Collected,
) -> Result<(), ExecError> {
    if collected.result.stderr != Digest::of(b"") {
        return Ok(());
    }
    // Its blobs were stored (and uploaded) with the direct key just before.
    stack
        .record(key, &collected.result, &BTreeMap::new())
        .map_err(|f| ExecError::Cache(format!("cannot write to the local cache: {}", f.detail)))
}

/// The scratch-relative files the dependency files name (what the
/// preprocessor read of the declared inputs).
fn inside_reads(discover: &super::action::Discover, root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for file in &discover.depfiles {
        let Ok(text) = fs::read_to_string(root.join(file)) else {
            continue;
        };
        for p in depfile::prerequisites(&text) {
            let abs = normalize(&root.join(&p));
            if let Ok(rel) = abs.strip_prefix(root) {
                out.insert(rel.to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// The key of the preprocessed text `text` of `action`, whose preprocessor
/// read the declared inputs `read` (the others, unread, stay in the key:
/// an `.incbin` file is not in the text).
pub fn preprocessed_key(action: &Action, read: &BTreeSet<String>, text: &Digest) -> ActionKey {
    let mut a = action.clone();
    a.inputs.retain(|p, _| !read.contains(p));
    a.inputs
        .insert(PREPROCESSED_OUTPUT.to_string(), text.clone());
    let mut h = blake3::Hasher::new();
    h.update(&(TAG.len() as u64).to_le_bytes());
    h.update(TAG.as_bytes());
    h.update(&a.canonical_encoding());
    ActionKey::from_hash(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_preprocessing_command_is_the_compile_with_e_and_another_output() {
        let args = s(&[
            "-c",
            "-O2",
            "-MD",
            "-MF",
            "obj/a.c.o.d",
            "-o",
            "obj/a.c.o",
            "src/a.c",
        ]);
        assert_eq!(
            preprocess_args(&args),
            s(&[
                "-E",
                "-O2",
                "-MD",
                "-MF",
                "obj/a.c.o.d",
                "-o",
                PREPROCESSED_OUTPUT,
                "src/a.c"
            ])
        );
    }
}
