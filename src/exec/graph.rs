//! The action graph: planned actions whose inputs are either known blobs or
//! outputs of other actions (which become digests once those have run).
//!
//! A graph is plain data: it can be printed as the `plan` JSON
//! (docs/cache.md), executed by the scheduler, or handed to another build
//! system.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::action::{Action, Discover, ToolIdentity};
use super::digest::{Blake3Hash, Digest};

/// Where an input file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputSource {
    /// A blob known at plan time (carried by the graph).
    Blob(Digest),
    /// The output `path` of the action `action` (a dependency).
    Output {
        /// The producing action's id.
        action: String,
        /// One of its declared outputs.
        path: String,
    },
}

/// A planned action (see [`Action`] for the meaning of each field).
#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// Unique id within the graph (`compile:lib/unit/file.c`).
    pub id: String,
    /// argv, argv[0] an absolute tool path.
    pub argv: Vec<String>,
    /// Complete environment.
    pub env: BTreeMap<String, String>,
    /// Input files by relative path.
    pub inputs: BTreeMap<String, InputSource>,
    /// Declared outputs (relative paths).
    pub outputs: Vec<String>,
    /// Tool identity.
    pub tool: ToolIdentity,
    /// Where the command reports the files it read (see [`Discover`]).
    pub discover: Option<Discover>,
}

impl ActionSpec {
    /// Ids of the actions this one needs, sorted.
    pub fn dependencies(&self) -> BTreeSet<String> {
        self.inputs
            .values()
            .filter_map(|s| match s {
                InputSource::Output { action, .. } => Some(action.clone()),
                InputSource::Blob(_) => None,
            })
            .collect()
    }

    /// The resolved action, given a way to find dependency output digests.
    pub fn resolve(
        &self,
        mut output_digest: impl FnMut(&str, &str) -> Option<Digest>,
    ) -> Option<Action> {
        let mut inputs = BTreeMap::new();
        for (p, s) in &self.inputs {
            let d = match s {
                InputSource::Blob(d) => d.clone(),
                InputSource::Output { action, path } => output_digest(action, path)?,
            };
            inputs.insert(p.clone(), d);
        }
        Some(Action {
            id: self.id.clone(),
            argv: self.argv.clone(),
            env: self.env.clone(),
            inputs,
            outputs: self.outputs.clone(),
            tool: self.tool.clone(),
            discover: self.discover.clone(),
        })
    }
}

/// A graph that cannot be run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// Two actions share an id.
    #[error("duplicate action id '{0}'")]
    DuplicateId(String),
    /// A path that is absolute, empty or climbs out with `..`.
    #[error(
        "action '{id}': path '{path}' must be relative and stay inside the action's directory"
    )]
    BadPath {
        /// The action.
        id: String,
        /// The path.
        path: String,
    },
    /// An input refers to an action or output that does not exist.
    #[error("action '{id}' needs '{path}' from '{from}', which does not declare it")]
    UnknownOutput {
        /// The consumer.
        id: String,
        /// The producer named.
        from: String,
        /// The output named.
        path: String,
    },
    /// A dependency cycle.
    #[error("dependency cycle through action '{0}'")]
    Cycle(String),
    /// An action with an empty argv.
    #[error("action '{0}' has no command")]
    EmptyArgv(String),
}

/// Planned actions plus the plan-time blobs they read.
#[derive(Debug, Clone, Default)]
pub struct ActionGraph {
    actions: Vec<ActionSpec>,
    index: BTreeMap<String, usize>,
    blobs: BTreeMap<Blake3Hash, Arc<Vec<u8>>>,
}

fn safe_rel_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\0')
        && !p.contains('\\')
        && p.split('/').all(|c| !c.is_empty() && c != ".." && c != ".")
}

impl ActionGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plan-time blob and returns its digest.
    pub fn add_blob(&mut self, bytes: Vec<u8>) -> Digest {
        let d = Digest::of(&bytes);
        self.blobs.entry(d.hash).or_insert_with(|| Arc::new(bytes));
        d
    }

    /// A plan-time blob by digest.
    pub fn blob(&self, d: &Digest) -> Option<&Arc<Vec<u8>>> {
        self.blobs.get(&d.hash)
    }

    /// Adds an action (dependencies may be added later; [`Self::validate`]
    /// checks them).
    pub fn add(&mut self, spec: ActionSpec) -> Result<(), GraphError> {
        if self.index.contains_key(&spec.id) {
            return Err(GraphError::DuplicateId(spec.id));
        }
        if spec.argv.is_empty() {
            return Err(GraphError::EmptyArgv(spec.id));
        }
        for p in spec.inputs.keys().chain(spec.outputs.iter()) {
            if !safe_rel_path(p) {
                return Err(GraphError::BadPath {
                    id: spec.id.clone(),
                    path: p.clone(),
                });
            }
        }
        self.index.insert(spec.id.clone(), self.actions.len());
        self.actions.push(spec);
        Ok(())
    }

    /// Actions in insertion order.
    pub fn actions(&self) -> &[ActionSpec] {
        &self.actions
    }

    /// An action by id.
    pub fn get(&self, id: &str) -> Option<&ActionSpec> {
        self.index.get(id).map(|&i| &self.actions[i])
    }

    /// Checks every dependency exists, declares the output used, and that
    /// there is no cycle.
    pub fn validate(&self) -> Result<(), GraphError> {
        for a in &self.actions {
            for s in a.inputs.values() {
                if let InputSource::Output { action, path } = s {
                    let ok = self
                        .get(action)
                        .map(|p| p.outputs.iter().any(|o| o == path))
                        .unwrap_or(false);
                    if !ok {
                        return Err(GraphError::UnknownOutput {
                            id: a.id.clone(),
                            from: action.clone(),
                            path: path.clone(),
                        });
                    }
                }
            }
        }
        // Kahn's algorithm: anything left over sits on a cycle.
        let mut indeg: BTreeMap<&str, usize> = BTreeMap::new();
        let mut users: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for a in &self.actions {
            let deps = a.dependencies();
            indeg.insert(&a.id, deps.len());
            for d in deps {
                users.entry(d).or_default().push(&a.id);
            }
        }
        let mut ready: Vec<&str> = indeg
            .iter()
            .filter(|(_, &n)| n == 0)
            .map(|(k, _)| *k)
            .collect();
        let mut seen = 0;
        while let Some(id) = ready.pop() {
            seen += 1;
            for u in users.get(id).map(|v| v.as_slice()).unwrap_or(&[]) {
                if let Some(n) = indeg.get_mut(u) {
                    *n -= 1;
                    if *n == 0 {
                        ready.push(u);
                    }
                }
            }
        }
        if seen != self.actions.len() {
            let stuck = indeg
                .iter()
                .find(|(_, &n)| n > 0)
                .map(|(k, _)| k.to_string())
                .unwrap_or_default();
            return Err(GraphError::Cycle(stuck));
        }
        Ok(())
    }

    /// The plan JSON (schema in docs/cache.md). `key` is known only for
    /// actions whose inputs are all plan-time blobs; otherwise it is null.
    pub fn plan_json(&self) -> Value {
        let actions: Vec<Value> = self
            .actions
            .iter()
            .map(|a| {
                let inputs: serde_json::Map<String, Value> = a
                    .inputs
                    .iter()
                    .map(|(p, s)| {
                        let v = match s {
                            InputSource::Blob(d) => json!({"digest": d}),
                            InputSource::Output { action, path } => {
                                json!({"from_action": action, "output": path})
                            }
                        };
                        (p.clone(), v)
                    })
                    .collect();
                let key = a.resolve(|_, _| None).map(|r| r.key());
                json!({
                    "id": a.id,
                    "argv": a.argv,
                    "env": a.env,
                    "inputs": inputs,
                    "outputs": a.outputs,
                    "tool": a.tool,
                    "key": key,
                    "discover": a.discover,
                    "dependencies": a.dependencies(),
                })
            })
            .collect();
        json!({ "format": "coex-plan-v1", "actions": actions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::action::fixed_env;

    fn spec(id: &str, inputs: BTreeMap<String, InputSource>, outs: &[&str]) -> ActionSpec {
        ActionSpec {
            id: id.into(),
            argv: vec!["/bin/true".into()],
            env: fixed_env(),
            inputs,
            outputs: outs.iter().map(|s| s.to_string()).collect(),
            tool: ToolIdentity {
                name: "true".into(),
                fingerprint: "0".repeat(64),
            },
            discover: None,
        }
    }

    #[test]
    fn rejects_escaping_paths_cycles_and_unknown_outputs() {
        let mut g = ActionGraph::new();
        assert!(matches!(
            g.add(spec("a", BTreeMap::new(), &["../x"])),
            Err(GraphError::BadPath { .. })
        ));
        let dep = |a: &str, p: &str| InputSource::Output {
            action: a.into(),
            path: p.into(),
        };
        g.add(spec(
            "a",
            BTreeMap::from([("i".into(), dep("b", "o"))]),
            &["o"],
        ))
        .unwrap();
        g.add(spec(
            "b",
            BTreeMap::from([("i".into(), dep("a", "o"))]),
            &["o"],
        ))
        .unwrap();
        assert!(matches!(g.validate(), Err(GraphError::Cycle(_))));
        let mut g = ActionGraph::new();
        g.add(spec(
            "a",
            BTreeMap::from([("i".into(), dep("b", "zz"))]),
            &["o"],
        ))
        .unwrap();
        g.add(spec("b", BTreeMap::new(), &["o"])).unwrap();
        assert!(matches!(
            g.validate(),
            Err(GraphError::UnknownOutput { .. })
        ));
    }

    #[test]
    fn plan_json_is_deterministic_and_keys_only_leaves() {
        let mut g = ActionGraph::new();
        let d = g.add_blob(b"x".to_vec());
        g.add(spec(
            "a",
            BTreeMap::from([("in".into(), InputSource::Blob(d))]),
            &["o"],
        ))
        .unwrap();
        let dep = InputSource::Output {
            action: "a".into(),
            path: "o".into(),
        };
        g.add(spec("b", BTreeMap::from([("o".into(), dep)]), &["p"]))
            .unwrap();
        let j = g.plan_json();
        assert!(j["actions"][0]["key"].is_string());
        assert!(j["actions"][1]["key"].is_null());
        assert_eq!(j["actions"][1]["dependencies"][0], "a");
        assert_eq!(
            serde_json::to_string(&j).unwrap(),
            serde_json::to_string(&g.plan_json()).unwrap()
        );
    }
}
