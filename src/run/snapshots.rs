//! The snapshots a plan's trainings must keep (`train.snapshots`, `prune_at_epoch`), checked
//! before anything runs, so a missing one stops the run at once rather than hours later at
//! the prune stage that needs it.

use super::store::{self, StageState, checkpoint};
use crate::base::progress;
use crate::error::{Error, Result};
use crate::spec::{Plan, StageConfig};
use std::collections::BTreeSet;

/// A finished training without a snapshot that a row now asks for cannot gain it: an error
/// (exit 2) naming each such folder. An interrupted one whose checkpoint has passed such an
/// epoch starts afresh (its checkpoint is removed), so that it keeps it.
pub fn prepare(plan: &Plan) -> Result<()> {
    let runs_root = &plan.spec.raw.runtime.runs_root;
    let mut seen = BTreeSet::new();
    let mut finished_without = Vec::new();
    for run in &plan.runs {
        for (index, stage) in run.stages.iter().enumerate() {
            let StageConfig::Train(train) = &stage.config else {
                continue;
            };
            let dir = store::stage_dir(runs_root, run, index);
            if train.snapshots.is_empty() || !seen.insert(dir.clone()) {
                continue;
            }
            let missing: Vec<usize> = train
                .snapshots
                .iter()
                .copied()
                .filter(|&epoch| !dir.join(store::snapshot_file(epoch)).is_file())
                .collect();
            let Some(&first) = missing.first() else {
                continue;
            };
            if let StageState::Done(_) = store::stage_state(&dir) {
                let epochs: Vec<String> = missing.iter().map(usize::to_string).collect();
                finished_without.push(format!("{} (epoch {})", dir.display(), epochs.join(", ")));
            } else if let Some((next_epoch, _)) = checkpoint::position(&dir)
                && first < next_epoch
            {
                progress::log(&format!(
                    "{}: its checkpoint is past epoch {first}, whose model it did not keep; \
                     starting the training afresh to keep it",
                    dir.display()
                ));
                checkpoint::remove(&dir)?;
            }
        }
    }
    if finished_without.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "finished trainings lack the models of epochs that rows now prune (`prune_at_epoch`, \
             `train.snapshots`); delete these folders to train them again and keep them: {}",
            finished_without.join("; ")
        )))
    }
}
