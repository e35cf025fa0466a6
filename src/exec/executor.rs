//! Running one action: cache lookup, then (on a miss) materialise the inputs
//! into a fresh scratch directory, run the tool with the fixed environment,
//! collect the declared outputs and record them.
//!
//! The scratch directory's path is substituted for [`SCRATCH`] in argv at run
//! time only, so it never reaches the key; it is deleted afterwards.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::SystemTime;

use super::action::{Action, ActionKey, ActionResult, Discover, SCRATCH};
use super::depfile;
use super::digest::Digest;
use super::discovered::{first_disallowed, outside_reads, second_key, DiscoveredList, LIST_OUTPUT};
use super::file_digests::FileDigests;
use super::graph::ActionGraph;
use super::layered::{CacheStack, Satisfied};
use super::store::Store;

/// Why an action (and so the build) failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The command ran and exited non-zero (or was killed).
    #[error("action '{id}' failed: {command}\n{stderr}")]
    ActionFailed {
        /// The action id.
        id: String,
        /// The command as a user could read it.
        command: String,
        /// Exit code, `None` if killed by a signal.
        exit_code: Option<i32>,
        /// Everything the command wrote to stderr.
        stderr: String,
    },
    /// The tool could not be started.
    #[error("action '{id}': cannot run {program}: {source}")]
    Spawn {
        /// The action id.
        id: String,
        /// The program path.
        program: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The command succeeded but did not write a declared output.
    #[error("action '{id}' did not produce its declared output '{path}'")]
    MissingOutput {
        /// The action id.
        id: String,
        /// The missing path.
        path: String,
    },
    /// An input blob is in neither the graph nor the cache.
    #[error("action '{id}': input '{path}' ({digest}) is missing from the cache")]
    MissingInput {
        /// The action id.
        id: String,
        /// The input path.
        path: String,
        /// Its digest.
        digest: Digest,
    },
    /// The command did not write the dependency file it declared.
    #[error("action '{id}' did not write its dependency file '{path}'")]
    MissingDepfile {
        /// The action id.
        id: String,
        /// The dependency file.
        path: String,
    },
    /// The command read a file outside the directories it may read.
    #[error("action '{id}' read {}, outside the directories it may read ({})", path.display(), allowed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    OutsideRead {
        /// The action id.
        id: String,
        /// The file read.
        path: PathBuf,
        /// Where it may read.
        allowed: Vec<PathBuf>,
    },
    /// The cache or the executor's bookkeeping failed (an output vanished,
    /// a worker panicked, a write that had to succeed did not).
    #[error("{0}")]
    Cache(String),
    /// The graph is malformed.
    #[error("invalid action graph: {0}")]
    Graph(#[from] super::graph::GraphError),
    /// Scratch directory trouble.
    #[error("scratch directory for action '{id}': {source}")]
    Scratch {
        /// The action id.
        id: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The outcome of one action.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActionOutcome {
    /// Its key.
    pub key: ActionKey,
    /// How it was satisfied.
    pub satisfied: Satisfied,
    /// Its result.
    pub result: ActionResult,
}

/// Finds an input's bytes: plan-time blobs first, then the local CAS (a
/// remote-held input was fetched by [`materialise_inputs`] just before).
fn input_bytes(stack: &CacheStack, graph: &ActionGraph, d: &Digest) -> Option<Vec<u8>> {
    if let Some(b) = graph.blob(d) {
        // Plan-time blobs enter the CAS when first needed, so every input of
        // an action that ran can be found (and replayed) by digest.
        if !stack.local().has_blob(d) {
            let _ = stack.local().put_blob(d, b);
        }
        return Some(b.as_ref().clone());
    }
    stack.local_blob(d)
}

/// The files outside the scratch dir that the command's dependency file
/// names, checked against the directories it may read.
pub(super) fn discovered_list(
    action: &Action,
    discover: &Discover,
    root: &Path,
) -> Result<DiscoveredList, ExecError> {
    let mut named = Vec::new();
    for file in &discover.depfiles {
        let text = fs::read_to_string(root.join(file)).map_err(|_| ExecError::MissingDepfile {
            id: action.id.clone(),
            path: file.clone(),
        })?;
        named.extend(depfile::prerequisites(&text));
    }
    let reads = outside_reads(&named, root);
    if let Some(allowed) = &discover.allowed_roots {
        if let Some(path) = first_disallowed(&reads, allowed) {
            return Err(ExecError::OutsideRead {
                id: action.id.clone(),
                path,
                allowed: allowed.clone(),
            });
        }
    }
    Ok(DiscoveredList::new(&reads, &discover.search_dirs))
}

/// The digests of the listed files, or `None` if one is unreadable or
/// changed after `started` (the command may have read another version).
pub(super) fn stable_digests(
    list: &DiscoveredList,
    files: &FileDigests,
    started: SystemTime,
) -> Option<Vec<(String, Digest)>> {
    list.paths
        .iter()
        .map(|p| {
            let (stat, digest) = files.digest_fresh(Path::new(p))?;
            (!stat.changed_since(started)).then(|| (p.clone(), digest))
        })
        .collect()
}

/// The stage-1 entry of a list: a result whose one output is the list.
fn list_result(list: &DiscoveredList) -> (ActionResult, BTreeMap<Digest, Vec<u8>>) {
    let bytes = list.to_bytes();
    let d = Digest::of(&bytes);
    let empty = Digest::of(b"");
    let result = ActionResult {
        outputs: BTreeMap::from([(LIST_OUTPUT.to_string(), d.clone())]),
        exit_code: 0,
        stdout: empty.clone(),
        stderr: empty.clone(),
    };
    (result, BTreeMap::from([(d, bytes), (empty, Vec::new())]))
}

fn write_file(root: &Path, rel: &str, bytes: &[u8]) -> std::io::Result<()> {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(p, bytes)
}

fn substitute(arg: &str, scratch: &str) -> String {
    arg.replace(SCRATCH, scratch)
}

/// A result stored under the two-level key of an action with discovered
/// inputs (see `discovered`): the path list under `key`, then the result
/// under `key` + the digests those files have on this machine now.
fn lookup_discovered(
    stack: &CacheStack,
    files: &FileDigests,
    key: &ActionKey,
    outputs: &[String],
) -> Option<(Satisfied, ActionResult)> {
    let (first, stage1) = stack.lookup(key, &[LIST_OUTPUT.to_string()])?;
    let list = DiscoveredList::from_bytes(&stack.blob(stage1.outputs.get(LIST_OUTPUT)?)?)?;
    let digests = list.digests(files)?;
    let (second, result) = stack.lookup(&second_key(key, &digests), outputs)?;
    let how = if first == Satisfied::Remote || second == Satisfied::Remote {
        Satisfied::Remote
    } else {
        Satisfied::Cached
    };
    Some((how, result))
}

/// Satisfies one resolved action from the cache or by running it; `force`
/// runs it whatever the caches hold (the blobs of its cached result could
/// not be fetched). `files` remembers digests of discovered inputs for the
/// whole build.
pub fn execute(
    stack: &CacheStack,
    files: &FileDigests,
    graph: &ActionGraph,
    action: &Action,
    force: bool,
) -> Result<ActionOutcome, ExecError> {
    let key = action.key();
    if let Some((satisfied, result)) = (!force)
        .then(|| cache_hit(stack, files, action, &key))
        .flatten()
    {
        return Ok(ActionOutcome {
            key,
            satisfied,
            result,
        });
    }
    let scratch =
        super::scratch::tempdir(super::scratch::SCRATCH).map_err(|e| scratch_error(action, e))?;
    let root: PathBuf = scratch.path().to_path_buf();
    materialise_inputs(stack, graph, action, &root)?;
    let pre = match force {
        true => None,
        false => super::preprocessed::lookup(stack, files, action, &key, &root)?,
    };
    let pre_key = match pre {
        Some(super::preprocessed::Lookup {
            hit: Some((satisfied, result)),
            ..
        }) => {
            return Ok(ActionOutcome {
                key,
                satisfied,
                result,
            })
        }
        Some(found) => Some(found.key),
        None => None,
    };
    let (out, started) = run_tool(action, &root)?;
    let collected = collect_outputs(action, &root, out)?;
    record(stack, files, action, &key, &root, started, &collected)?;
    if let Some(pre_key) = pre_key {
        super::preprocessed::record(stack, &pre_key, &collected)?;
    }
    drop(scratch);
    Ok(ActionOutcome {
        key,
        satisfied: Satisfied::Ran,
        result: collected.result,
    })
}

/// The cached result, looked up under the one-level key or, for actions
/// with discovered inputs, the two-level one.
fn cache_hit(
    stack: &CacheStack,
    files: &FileDigests,
    action: &Action,
    key: &ActionKey,
) -> Option<(Satisfied, ActionResult)> {
    match &action.discover {
        None => stack.lookup(key, &action.outputs),
        Some(_) => lookup_discovered(stack, files, key, &action.outputs),
    }
}

/// Scratch-directory I/O trouble, attributed to `action`.
fn scratch_error(action: &Action, source: std::io::Error) -> ExecError {
    ExecError::Scratch {
        id: action.id.clone(),
        source,
    }
}

/// Writes every input into the scratch dir `root` and creates the parent
/// directories of the declared outputs, so the tool finds both in place.
/// Inputs left on the remote are fetched first, in one batch; one that
/// cannot be is [`ExecError::MissingInput`] (the scheduler then re-runs the
/// action that produced it).
fn materialise_inputs(
    stack: &CacheStack,
    graph: &ActionGraph,
    action: &Action,
    root: &Path,
) -> Result<(), ExecError> {
    let remote: Vec<&Digest> = action
        .inputs
        .values()
        .filter(|d| graph.blob(d).is_none())
        .collect();
    stack.fetch_missing(&remote);
    for (path, d) in &action.inputs {
        let bytes = input_bytes(stack, graph, d).ok_or_else(|| ExecError::MissingInput {
            id: action.id.clone(),
            path: path.clone(),
            digest: d.clone(),
        })?;
        write_file(root, path, &bytes).map_err(|e| scratch_error(action, e))?;
    }
    for out in &action.outputs {
        if let Some(parent) = root.join(out).parent() {
            fs::create_dir_all(parent).map_err(|e| scratch_error(action, e))?;
        }
    }
    Ok(())
}

/// Runs the tool in `root` with only the action's environment; returns its
/// output and the time it started (discovered inputs changed later are not
/// trusted), or the failure if it exited non-zero.
pub(super) fn run_tool(action: &Action, root: &Path) -> Result<(Output, SystemTime), ExecError> {
    let root_str = root.to_string_lossy().into_owned();
    let Some((argv0, rest)) = action.argv.split_first() else {
        return Err(ExecError::Graph(super::graph::GraphError::EmptyArgv(
            action.id.clone(),
        )));
    };
    let program = substitute(argv0, &root_str);
    let args: Vec<String> = rest.iter().map(|a| substitute(a, &root_str)).collect();
    let started = SystemTime::now();
    let out = Command::new(&program)
        .args(&args)
        .env_clear()
        .envs(
            action
                .env
                .iter()
                .map(|(k, v)| (k, substitute(v, &root_str))),
        )
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ExecError::Spawn {
            id: action.id.clone(),
            program: program.clone(),
            source: e,
        })?;
    if !out.status.success() {
        return Err(ExecError::ActionFailed {
            id: action.id.clone(),
            command: action.display_command(),
            exit_code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok((out, started))
}

/// A successful run: its result and the blobs (outputs, stdout, stderr) it names.
pub(super) struct Collected {
    pub(super) result: ActionResult,
    pub(super) blobs: BTreeMap<Digest, Vec<u8>>,
}

/// Reads the declared outputs from `root`, each required to exist, and
/// digests them with the tool's stdout and stderr.
fn collect_outputs(action: &Action, root: &Path, out: Output) -> Result<Collected, ExecError> {
    let mut blobs: BTreeMap<Digest, Vec<u8>> = BTreeMap::new();
    let mut outputs = BTreeMap::new();
    for path in &action.outputs {
        let bytes = fs::read(root.join(path)).map_err(|_| ExecError::MissingOutput {
            id: action.id.clone(),
            path: path.clone(),
        })?;
        let d = Digest::of(&bytes);
        outputs.insert(path.clone(), d.clone());
        blobs.insert(d, bytes);
    }
    let stdout = Digest::of(&out.stdout);
    let stderr = Digest::of(&out.stderr);
    blobs.insert(stdout.clone(), out.stdout);
    blobs.insert(stderr.clone(), out.stderr);
    let result = ActionResult {
        outputs,
        exit_code: 0,
        stdout,
        stderr,
    };
    Ok(Collected { result, blobs })
}

/// Stores the result: under `key` for a plain action; for one with
/// discovered inputs, under the two-level key of the files it read.
fn record(
    stack: &CacheStack,
    files: &FileDigests,
    action: &Action,
    key: &ActionKey,
    root: &Path,
    started: SystemTime,
    collected: &Collected,
) -> Result<(), ExecError> {
    match &action.discover {
        None => stack
            .record(key, &collected.result, &collected.blobs)
            .map_err(cache_error),
        Some(discover) => {
            let list = discovered_list(action, discover, root)?;
            let digests = stable_digests(&list, files, started);
            record_discovered(stack, key, &list, digests, collected)
        }
    }
}

/// The two-level write: the result under `key` + the `digests` of the
/// discovered files, then the `list` of those files under `key`.
/// Without `digests` (a discovered file changed while the command ran) the
/// output may match neither version, so it is used but not cached.
pub(super) fn record_discovered(
    stack: &CacheStack,
    key: &ActionKey,
    list: &DiscoveredList,
    digests: Option<Vec<(String, Digest)>>,
    collected: &Collected,
) -> Result<(), ExecError> {
    let Some(digests) = digests else {
        return stack.record_blobs(&collected.blobs).map_err(cache_error);
    };
    // The result first: a reader never follows a list to nothing.
    stack
        .record(
            &second_key(key, &digests),
            &collected.result,
            &collected.blobs,
        )
        .map_err(cache_error)?;
    let (stage1, list_blobs) = list_result(list);
    stack.record(key, &stage1, &list_blobs).map_err(cache_error)
}

/// A local-cache write failure, as the build reports it.
fn cache_error(f: super::store::StoreFault) -> ExecError {
    let detail = f.detail;
    ExecError::Cache(format!("cannot write to the local cache: {detail}"))
}
