//! Running a whole action graph on `-j N` worker threads.
//!
//! Actions start as soon as their dependencies are done; the first failure
//! stops the build (actions already running finish, no new one starts).
//! Each action is reported as `cached`, `remote` or `ran`.

use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use super::digest::Digest;
use super::executor::{execute, ActionOutcome, ExecError};
use super::file_digests::FileDigests;
use super::graph::{ActionGraph, InputSource};
use super::layered::{CacheStack, CacheWarning, ReadOnly, Satisfied};
use super::local::LocalStore;
use super::remote::RemoteStore;
use super::store::Store;

pub use super::remote::options::RemoteOptions;

/// How to execute a graph.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Worker threads (`-j N`); 0 means available cores.
    pub jobs: usize,
    /// The local cache root.
    pub cache_dir: PathBuf,
    /// Optional remote cache.
    pub remote: Option<RemoteOptions>,
    /// Print warnings to stderr as they happen (they are also collected).
    pub echo_warnings: bool,
    /// Show a progress bar (only if stderr is a terminal).
    pub progress: bool,
}

impl ExecOptions {
    /// Options for a cache dir with no remote, default jobs, quiet.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        ExecOptions {
            jobs: 0,
            cache_dir: cache_dir.into(),
            remote: None,
            echo_warnings: false,
            progress: false,
        }
    }

    fn effective_jobs(&self) -> usize {
        if self.jobs > 0 {
            self.jobs
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

/// What a build did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildReport {
    /// Outcome per action id.
    pub actions: BTreeMap<String, ActionOutcome>,
    /// Warnings emitted (corrupt local entries, the remote warning).
    pub warnings: Vec<CacheWarning>,
    /// Round trips to the remote cache during this run.
    pub remote_requests: u64,
    /// Bytes received from the remote cache during this run (blobs and
    /// action results as the server sent them).
    pub remote_bytes: u64,
}

impl BuildReport {
    /// How many actions were satisfied each way.
    pub fn count(&self, how: Satisfied) -> usize {
        self.actions.values().filter(|o| o.satisfied == how).count()
    }

    /// `12 actions: 0 ran, 10 cached, 2 remote`.
    pub fn summary(&self) -> String {
        format!(
            "{} actions: {} ran, {} cached, {} remote",
            self.actions.len(),
            self.count(Satisfied::Ran),
            self.count(Satisfied::Cached) + self.count(Satisfied::Preprocessed),
            self.count(Satisfied::Remote)
        )
    }

    /// `remote cache: 7 requests, 51234 bytes downloaded` when the remote
    /// was asked anything: how well lookups and uploads were batched, and
    /// what was fetched, printed after the summary.
    pub fn remote_line(&self) -> Option<String> {
        (self.remote_requests > 0).then(|| {
            format!(
                "remote cache: {} requests, {} bytes downloaded",
                self.remote_requests, self.remote_bytes
            )
        })
    }

    /// One line per action, sorted by id: `ran     compile:demo/u/a.c`.
    pub fn action_lines(&self) -> Vec<String> {
        self.actions
            .iter()
            .map(|(id, o)| format!("{:<7} {id}", o.satisfied.word()))
            .collect()
    }

    /// Digest of output `path` of action `id`.
    pub fn output(&self, id: &str, path: &str) -> Option<&Digest> {
        self.actions.get(id)?.result.outputs.get(path)
    }
}

/// Runs action graphs against a cache stack.
pub struct Executor {
    stack: CacheStack,
    files: FileDigests,
    jobs: usize,
    progress: bool,
}

struct State {
    waiting: BTreeMap<String, usize>,
    ready: VecDeque<String>,
    running: usize,
    done: BTreeMap<String, ActionOutcome>,
    failed: Option<ExecError>,
}

impl Executor {
    /// An executor for these options (no I/O happens until [`Self::run`]).
    pub fn new(opts: &ExecOptions) -> Self {
        let remote: Option<Box<dyn Store>> = opts.remote.as_ref().map(|r| {
            // Flags were checked by the CLI; a failure here still only costs
            // the remote (one warning on first use), never the build.
            let store = RemoteStore::open(r).unwrap_or_else(RemoteStore::failed);
            if r.uploads() {
                Box::new(store) as Box<dyn Store>
            } else {
                Box::new(ReadOnly(store)) as Box<dyn Store>
            }
        });
        Executor {
            stack: CacheStack::new(LocalStore::new(&opts.cache_dir), remote, opts.echo_warnings),
            files: FileDigests::load(&opts.cache_dir),
            jobs: opts.effective_jobs(),
            progress: opts.progress,
        }
    }

    /// The local cache's root (where memos live beside the entries).
    pub fn cache_dir(&self) -> &std::path::Path {
        self.stack.local().root()
    }

    /// The cache stack (for reading outputs after a build).
    pub fn stack(&self) -> &CacheStack {
        &self.stack
    }

    /// The verified bytes of a blob: from the local cache (where
    /// [`Self::run`] put the outputs it was asked for), else the remote.
    pub fn read_blob(&self, d: &Digest) -> Option<Vec<u8>> {
        self.stack.blob(d)
    }

    /// Runs every action of `graph` (dependencies first, `jobs` at a time);
    /// afterwards the outputs of the actions no other action uses are in the
    /// local cache, for [`Self::read_blob`]. Intermediates of cache hits may
    /// stay on the remote (see `layered/lazy.rs`).
    pub fn run(&self, graph: &ActionGraph) -> Result<BuildReport, ExecError> {
        self.run_wanting(graph, &[])
    }

    /// [`Self::run`], also bringing the outputs `wanted` (action id, output
    /// path) into the local cache: what the caller reads besides the final
    /// outputs (a program build checks each unit image).
    pub fn run_wanting(
        &self,
        graph: &ActionGraph,
        wanted: &[(String, String)],
    ) -> Result<BuildReport, ExecError> {
        graph.validate()?;
        // Scratch directories of killed builds go once per build.
        super::scratch::sweep();
        let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut waiting = BTreeMap::new();
        let mut ready = VecDeque::new();
        for a in graph.actions() {
            let deps = a.dependencies();
            for d in &deps {
                users.entry(d.clone()).or_default().push(a.id.clone());
            }
            if deps.is_empty() {
                ready.push_back(a.id.clone());
            } else {
                waiting.insert(a.id.clone(), deps.len());
            }
        }
        let state = Mutex::new(State {
            waiting,
            ready,
            running: 0,
            done: BTreeMap::new(),
            failed: None,
        });
        let wake = Condvar::new();
        let bar = if self.progress && std::io::stderr().is_terminal() {
            let b = indicatif::ProgressBar::new(graph.actions().len() as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
            {
                b.set_style(style);
            }
            Some(b)
        } else {
            None
        };
        let workers = self.jobs.max(1).min(graph.actions().len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| self.worker(graph, &state, &wake, &users, bar.as_ref()));
            }
        });
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let panicked = || ExecError::Cache("a worker thread panicked".to_string());
        if let Some(e) = state.lock().map_err(|_| panicked())?.failed.take() {
            self.files.save();
            return Err(e);
        }
        let mut wanted = wanted.to_vec();
        for a in graph.actions() {
            if !users.contains_key(&a.id) {
                wanted.extend(a.outputs.iter().map(|o| (a.id.clone(), o.clone())));
            }
        }
        let fetched = self.fetch_wanted(graph, &state, &wanted);
        self.files.save();
        fetched?;
        let st = state.into_inner().map_err(|_| panicked())?;
        Ok(BuildReport {
            actions: st.done,
            warnings: self.stack.warnings(),
            remote_requests: self.stack.remote_requests(),
            remote_bytes: self.stack.remote_bytes(),
        })
    }

    /// Brings the `wanted` outputs into the local cache (one batch); an
    /// action whose output cannot be fetched runs again.
    fn fetch_wanted(
        &self,
        graph: &ActionGraph,
        state: &Mutex<State>,
        wanted: &[(String, String)],
    ) -> Result<(), ExecError> {
        let outputs: Vec<(String, Digest)> = {
            let st = state
                .lock()
                .map_err(|_| ExecError::Cache("a worker thread panicked".to_string()))?;
            wanted
                .iter()
                .filter_map(|(id, p)| {
                    Some((id.clone(), st.done.get(id)?.result.outputs.get(p)?.clone()))
                })
                .collect()
        };
        let digests: Vec<&Digest> = outputs.iter().map(|(_, d)| d).collect();
        self.stack.fetch_missing(&digests);
        let mut again: Vec<&String> = outputs
            .iter()
            .filter(|(_, d)| !self.stack.holds(d))
            .map(|(id, _)| id)
            .collect();
        again.sort();
        again.dedup();
        for id in again {
            let o = self.satisfy(graph, state, id, true)?;
            if let Ok(mut st) = state.lock() {
                st.done.insert(id.clone(), o);
            }
        }
        Ok(())
    }

    /// Satisfies action `id` (from the caches unless `force`). When an
    /// input made by another action can no longer be fetched (its blob left
    /// both caches, or the remote failed), that action runs again (and so
    /// on up the graph), then `id` is tried again.
    fn satisfy(
        &self,
        graph: &ActionGraph,
        state: &Mutex<State>,
        id: &str,
        force: bool,
    ) -> Result<ActionOutcome, ExecError> {
        let mut rerun = std::collections::BTreeSet::new();
        loop {
            let action = {
                let st = state
                    .lock()
                    .map_err(|_| ExecError::Cache("a worker thread panicked".to_string()))?;
                graph.get(id).and_then(|spec| {
                    spec.resolve(|a, p| st.done.get(a)?.result.outputs.get(p).cloned())
                })
            };
            let Some(action) = action else {
                return Err(ExecError::Cache(format!(
                    "outputs needed by '{id}' are missing"
                )));
            };
            let missing = match execute(&self.stack, &self.files, graph, &action, force) {
                Err(ExecError::MissingInput { path, digest, .. }) => (path, digest),
                other => return other,
            };
            let producer = match graph.get(id).and_then(|s| s.inputs.get(&missing.0)) {
                Some(InputSource::Output { action, .. }) => Some(action.clone()),
                _ => None,
            };
            let Some(producer) = producer.filter(|p| rerun.insert(p.clone())) else {
                return Err(ExecError::MissingInput {
                    id: id.to_string(),
                    path: missing.0,
                    digest: missing.1,
                });
            };
            let o = self.satisfy(graph, state, &producer, true)?;
            let mut st = state
                .lock()
                .map_err(|_| ExecError::Cache("a worker thread panicked".to_string()))?;
            st.done.insert(producer, o);
        }
    }

    fn worker(
        &self,
        graph: &ActionGraph,
        state: &Mutex<State>,
        wake: &Condvar,
        users: &BTreeMap<String, Vec<String>>,
        bar: Option<&indicatif::ProgressBar>,
    ) {
        loop {
            let id = {
                let Ok(mut st) = state.lock() else { return };
                loop {
                    if st.failed.is_some() {
                        return;
                    }
                    if let Some(id) = st.ready.pop_front() {
                        st.running += 1;
                        break id;
                    }
                    if st.running == 0 {
                        return;
                    }
                    st = match wake.wait(st) {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                }
            };
            if let Some(b) = bar {
                b.set_message(id.clone());
            }
            let outcome = self.satisfy(graph, state, &id, false);
            let Ok(mut st) = state.lock() else { return };
            st.running -= 1;
            match outcome {
                Ok(o) => {
                    st.done.insert(id.clone(), o);
                    for u in users.get(&id).map(|v| v.as_slice()).unwrap_or(&[]) {
                        if let Some(n) = st.waiting.get_mut(u) {
                            *n -= 1;
                            if *n == 0 {
                                st.waiting.remove(u);
                                st.ready.push_back(u.clone());
                            }
                        }
                    }
                }
                Err(e) => {
                    if st.failed.is_none() {
                        st.failed = Some(e);
                    }
                }
            }
            if let Some(b) = bar {
                b.inc(1);
            }
            wake.notify_all();
        }
    }
}
