//! Actions as data, with the nouns of Bazel's remote execution API.
//!
//! An [`Action`] is everything that can change what a command produces: its
//! argv (minus the tool's path), a fixed environment, its input files by
//! digest, its declared outputs and the identity of the tool. Its
//! [`ActionKey`] is the BLAKE3 hash of a canonical encoding of exactly that
//! (see [`Action::key`] and docs/cache.md), so equal keys mean "same bytes out".

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

use super::digest::{Blake3Hash, Digest};

/// Placeholder written in argv where the action's scratch directory goes;
/// substituted at run time so the real path never reaches the key.
pub const SCRATCH: &str = "${SCRATCH}";

/// Version tag at the start of every key encoding; bump to invalidate all keys.
pub const KEY_ENCODING_TAG: &str = "coex-action-v1";

/// The environment every action runs with: nothing is inherited, so a user's
/// `CFLAGS`, locale or timezone cannot change an output.
pub fn fixed_env() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("LC_ALL".to_string(), "C".to_string());
    env.insert("SOURCE_DATE_EPOCH".to_string(), "0".to_string());
    env.insert(
        "PATH".to_string(),
        "/usr/local/bin:/usr/bin:/bin".to_string(),
    );
    env.insert("TZ".to_string(), "UTC".to_string());
    env
}

/// Who runs an action: a stable name plus a fingerprint of the tool's bytes
/// and behaviour. The key covers this, never the tool's path on disk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ToolIdentity {
    /// Short name shown to users (`clang`, `coex`).
    pub name: String,
    /// BLAKE3 hex over everything that identifies the tool (binary digest,
    /// version text, target triple …).
    pub fingerprint: String,
}

impl ToolIdentity {
    /// The running `coex` binary as a tool: crate version + digest of the
    /// executable, so a rebuilt `coex` never reuses results of an older one.
    pub fn coex_self() -> std::io::Result<ToolIdentity> {
        let exe = std::env::current_exe()?;
        let bytes = std::fs::read(&exe)?;
        let mut h = blake3::Hasher::new();
        h.update(b"coex\0");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(b"\0");
        h.update(blake3::hash(&bytes).as_bytes());
        Ok(ToolIdentity {
            name: "coex".to_string(),
            fingerprint: h.finalize().to_hex().to_string(),
        })
    }
}

/// argv[0] and identity for an action run by this very `coex` binary (the
/// codegen action runs `coex tool codegen …`).
pub fn coex_self_tool() -> std::io::Result<(String, ToolIdentity)> {
    let exe = std::env::current_exe()?;
    Ok((
        exe.to_string_lossy().into_owned(),
        ToolIdentity::coex_self()?,
    ))
}

/// How an action reports the files it read besides its declared inputs: a
/// make-style dependency file (`clang -MD -MF`, `ld --dependency-file`).
/// Those files' digests decide whether a cached result still holds (see
/// `exec::discovered`), and a compile may be limited to some directories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discover {
    /// The dependency files the command writes, relative to the scratch dir
    /// (read by the executor, never stored as outputs). A link that also
    /// compiles a C file writes two: clang's and the linker's.
    pub depfiles: Vec<String>,
    /// Directories outside the scratch dir whose files the command may read;
    /// `None` allows any file (a link reads system libraries from anywhere
    /// on the linker's path). A read outside them fails the action.
    pub allowed_roots: Option<Vec<std::path::PathBuf>>,
    /// The include search list in order, when the command searches one:
    /// a header found in a later dir is recorded together with the earlier
    /// dirs' same-named paths that did not exist, and a result applies only
    /// while they still don't (a new header there would shadow it).
    #[serde(default)]
    pub search_dirs: Vec<std::path::PathBuf>,
    /// For a C compile: argv[1..] of the same command run as the
    /// preprocessor only (`-E -o coex-preprocessed.i`, same depfile). On a
    /// miss of the direct key the executor runs it and looks the result up
    /// by the preprocessed text (see `exec::preprocessed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<Vec<String>>,
}

/// The hash naming an action in the action cache: a BLAKE3 hash of its own
/// type, so a blob's hash cannot be passed where a key is meant (JSON and
/// file names: 64 lowercase hex digits).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionKey(Blake3Hash);

impl ActionKey {
    /// The key that is this hash (of a canonical encoding, see
    /// [`Action::key`] and `discovered::second_key`).
    pub const fn from_hash(hash: Blake3Hash) -> ActionKey {
        ActionKey(hash)
    }

    /// The hash this key is.
    pub const fn hash(&self) -> &Blake3Hash {
        &self.0
    }

    /// The key spelt by 64 lowercase hex digits (a cache file name), else
    /// `None`.
    pub fn from_hex(s: &str) -> Option<ActionKey> {
        Blake3Hash::from_hex(s).map(ActionKey)
    }

    /// The key as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }
}

impl fmt::Display for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionKey({})", self.0)
    }
}

/// A fully resolved action: every input is a known digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Human label (`compile:regex/rx/regcomp.c`); not part of the key.
    pub id: String,
    /// argv[0] is the tool's absolute path (resolved at plan time; not part
    /// of the key); the rest may contain [`SCRATCH`].
    pub argv: Vec<String>,
    /// The complete environment (see [`fixed_env`]).
    pub env: BTreeMap<String, String>,
    /// Files placed in the scratch dir before running, by relative path.
    pub inputs: BTreeMap<String, Digest>,
    /// Relative paths the command must create.
    pub outputs: Vec<String>,
    /// Identity of the tool at argv[0].
    pub tool: ToolIdentity,
    /// Files read beyond `inputs` are reported here (not part of the key:
    /// the depfile flag is in argv, and what is read is checked per result).
    #[serde(default)]
    pub discover: Option<Discover>,
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn put_u64(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(&n.to_le_bytes());
}

impl Action {
    /// The canonical byte encoding hashed into the key. Every string is
    /// written as (u64 little-endian length, UTF-8 bytes), every list as
    /// (u64 count, items), in this order: tag, tool name, tool fingerprint,
    /// argv[1..], env (sorted pairs), inputs (sorted: path, hash, size),
    /// outputs (sorted). argv[0] and the id are deliberately left out.
    pub fn canonical_encoding(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(1024);
        put_str(&mut buf, KEY_ENCODING_TAG);
        put_str(&mut buf, &self.tool.name);
        put_str(&mut buf, &self.tool.fingerprint);
        let args: &[String] = self.argv.get(1..).unwrap_or(&[]);
        put_u64(&mut buf, args.len() as u64);
        for a in args {
            put_str(&mut buf, a);
        }
        put_u64(&mut buf, self.env.len() as u64);
        for (k, v) in &self.env {
            put_str(&mut buf, k);
            put_str(&mut buf, v);
        }
        put_u64(&mut buf, self.inputs.len() as u64);
        for (path, d) in &self.inputs {
            put_str(&mut buf, path);
            // The hash as its hex digits: the encoding predates typed
            // hashes, and changing it would invalidate every cached key.
            put_str(&mut buf, &d.hash.hex());
            put_u64(&mut buf, d.size);
        }
        let mut outs: Vec<&String> = self.outputs.iter().collect();
        outs.sort();
        put_u64(&mut buf, outs.len() as u64);
        for o in outs {
            put_str(&mut buf, o);
        }
        buf
    }

    /// BLAKE3 of [`Action::canonical_encoding`].
    pub fn key(&self) -> ActionKey {
        ActionKey(Blake3Hash::of(&self.canonical_encoding()))
    }

    /// argv as a user could type it: the tool by its short name, arguments
    /// that only carry the scratch path (prefix maps) left out.
    pub fn display_command(&self) -> String {
        display_argv(&self.tool.name, &self.argv)
    }
}

/// Renders argv for humans (see [`Action::display_command`]).
pub fn display_argv(tool_name: &str, argv: &[String]) -> String {
    let mut parts = vec![tool_name.to_string()];
    for a in argv.iter().skip(1) {
        if a.contains(SCRATCH) {
            continue;
        }
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            parts.push(format!("'{}'", a.replace('\'', "'\\''")));
        } else {
            parts.push(a.clone());
        }
    }
    parts.join(" ")
}

/// What a successful action produced (REAPI `ActionResult`). Failed actions
/// are never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// Declared output path → digest of the bytes the command wrote there.
    pub outputs: BTreeMap<String, Digest>,
    /// Exit status (always 0 for a stored result).
    pub exit_code: i32,
    /// Digest of the captured stdout.
    pub stdout: Digest,
    /// Digest of the captured stderr.
    pub stderr: Digest,
}

impl ActionResult {
    /// Every blob this result refers to (outputs, stdout, stderr), sorted.
    pub fn blobs(&self) -> Vec<&Digest> {
        let mut v: Vec<&Digest> = self.outputs.values().collect();
        v.push(&self.stdout);
        v.push(&self.stderr);
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Action {
        let mut inputs = BTreeMap::new();
        inputs.insert("src/a.c".to_string(), Digest::of(b"int a;"));
        Action {
            id: "compile:a".into(),
            argv: vec![
                "/usr/bin/clang".into(),
                "-c".into(),
                format!("-ffile-prefix-map={SCRATCH}=."),
                "src/a.c".into(),
            ],
            env: fixed_env(),
            inputs,
            outputs: vec!["obj/a.o".into()],
            tool: ToolIdentity {
                name: "clang".into(),
                fingerprint: "f".repeat(64),
            },
            discover: None,
        }
    }

    #[test]
    fn key_ignores_id_and_tool_path() {
        let a = sample();
        let mut b = sample();
        b.id = "other".into();
        b.argv[0] = "/opt/clang".into();
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn key_covers_args_env_inputs_outputs_tool() {
        let a = sample();
        let mut v = vec![];
        let mut b = sample();
        b.argv.push("-O2".into());
        v.push(b);
        let mut b = sample();
        b.env.insert("X".into(), "1".into());
        v.push(b);
        let mut b = sample();
        b.inputs.insert("src/a.h".into(), Digest::of(b""));
        v.push(b);
        let mut b = sample();
        b.outputs.push("obj/b.o".into());
        v.push(b);
        let mut b = sample();
        b.tool.fingerprint = "e".repeat(64);
        v.push(b);
        for b in v {
            assert_ne!(a.key(), b.key());
        }
    }

    #[test]
    fn encoding_is_unambiguous_between_arg_boundaries() {
        let mut a = sample();
        a.argv = vec!["cc".into(), "ab".into(), "c".into()];
        let mut b = sample();
        b.argv = vec!["cc".into(), "a".into(), "bc".into()];
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn coex_self_identity_is_stable_and_named() {
        let a = ToolIdentity::coex_self().unwrap();
        assert_eq!(a, ToolIdentity::coex_self().unwrap());
        assert_eq!(a.name, "coex");
        assert_eq!(a.fingerprint.len(), 64);
    }

    #[test]
    fn key_encodes_input_hashes_as_hex_as_docs_cache_md_says() {
        // Typed hashes must not change keys: an input's hash is still
        // `str(64 hex digits)` in the encoding.
        let a = sample();
        let d = &a.inputs["src/a.c"];
        let mut tail = Vec::new();
        put_str(&mut tail, "src/a.c");
        put_str(&mut tail, &d.hash.to_hex());
        put_u64(&mut tail, d.size);
        let enc = a.canonical_encoding();
        assert!(enc.windows(tail.len()).any(|w| w == tail.as_slice()));
        assert_eq!(a.key().to_hex(), blake3::hash(&enc).to_hex().as_str());
    }

    #[test]
    fn display_drops_scratch_args_and_tool_path() {
        assert_eq!(sample().display_command(), "clang -c src/a.c");
    }
}
