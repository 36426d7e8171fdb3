//! The stage graph of a plan: every stage folder once (rows that share a dense model share its
//! pretrain stage), with the stage it consumes and its depth, so schedulers can run stages in
//! dependency order (`slr plan --json` prints it).

use super::store::{self, StageState};
use crate::spec::{Plan, Run, StageKind};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One stage of one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// `<kind>-<id>/seed-<n>`, relative to the runs root (unique per node).
    pub folder: String,
    /// Stage kind.
    pub kind: StageKind,
    /// Stage id.
    pub id: String,
    /// Seed.
    pub seed: u64,
    /// Rows whose runs include it, in spec order.
    pub rows: Vec<String>,
    /// The folder of the stage it consumes.
    pub depends_on: Option<String>,
    /// Stages between it and its run's first stage (0 for dense stages).
    pub level: usize,
    /// Whether it is done (verified summary).
    pub done: bool,
    /// A run that includes it, and the stage's index there (to execute it).
    pub run: usize,
    /// Index of the stage in that run.
    pub index: usize,
}

/// Every stage of `plan`, each once, in first-seen order (dependencies before dependants).
pub fn graph(plan: &Plan, runs_root: &Path) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut by_folder: BTreeMap<String, usize> = BTreeMap::new();
    for (run_index, run) in plan.runs.iter().enumerate() {
        for index in 0..run.stages.len() {
            let folder = folder_of(run, index);
            if let Some(&at) = by_folder.get(&folder) {
                if !nodes[at].rows.contains(&run.row_name) {
                    nodes[at].rows.push(run.row_name.clone());
                }
                continue;
            }
            let dir = store::stage_dir(runs_root, run, index);
            by_folder.insert(folder.clone(), nodes.len());
            nodes.push(Node {
                folder,
                kind: run.stages[index].kind,
                id: run.stages[index].id.clone(),
                seed: run.seed,
                rows: vec![run.row_name.clone()],
                depends_on: index.checked_sub(1).map(|i| folder_of(run, i)),
                level: index,
                done: matches!(store::stage_state(&dir), StageState::Done(_)),
                run: run_index,
                index,
            });
        }
    }
    nodes
}

/// `<kind>-<id>/seed-<n>` of stage `index` of `run`.
pub fn folder_of(run: &Run, index: usize) -> String {
    let path: PathBuf = store::stage_dir(Path::new(""), run, index);
    path.display().to_string()
}

/// The finished stage folders of `plan` that other code computed (stale), each once.
pub fn stale_stages(plan: &Plan) -> Vec<PathBuf> {
    let runs_root = &plan.spec.raw.runtime.runs_root;
    let mut states = store::StageStates::default();
    let mut stale = BTreeSet::new();
    for run in &plan.runs {
        for index in 0..run.stages.len() {
            let dir = store::stage_dir(runs_root, run, index);
            if let StageState::Done(summary) = states.of(&dir)
                && summary.is_stale(run.model)
            {
                stale.insert(dir);
            }
        }
    }
    stale.into_iter().collect()
}
