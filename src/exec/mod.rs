//! The content-addressed action executor.
//!
//! Every build step is an [`action::Action`] (argv + fixed env + inputs by
//! digest + declared outputs + tool identity) keyed by a hash of all of that.
//! [`scheduler::Executor`] runs an [`graph::ActionGraph`] in parallel,
//! satisfying each action from the local cache ([`local`]), a shared HTTP
//! cache ([`remote`]) or by running it in a scratch directory
//! ([`executor`]). Cache layout, key encoding and protocol: docs/cache.md.

pub mod action;
pub mod depfile;
pub mod digest;
pub mod discovered;
pub mod executor;
pub mod file_digests;
pub mod graph;
pub mod layered;
pub mod local;
pub mod preprocessed;
pub mod remote;
pub mod scheduler;
pub mod scratch;
pub mod store;
pub mod verified;

pub use action::{fixed_env, Action, ActionKey, ActionResult, Discover, ToolIdentity, SCRATCH};
pub use digest::Digest;
pub use executor::{ActionOutcome, ExecError};
pub use graph::{ActionGraph, ActionSpec, GraphError, InputSource};
pub use layered::{CacheWarning, Satisfied};
pub use scheduler::{BuildReport, ExecOptions, Executor, RemoteOptions};
