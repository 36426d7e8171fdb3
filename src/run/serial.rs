//! Runs a plan's runs one after another in this process, each stage reported to the overall
//! progress line; a run that fails does not stop the others.

use super::execute::{Executor, RunStatus};
use super::progress::Progress;
use crate::base::progress;
use crate::error::Result;
use crate::spec::{Plan, Run};

/// What a serial reproduction did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    /// Runs that trained at least one stage.
    pub trained: usize,
    /// Runs whose stages were all done.
    pub cached: usize,
    /// Runs that failed (divergence, a sparsity check), as `<row> seed <n>`.
    pub failed: Vec<String>,
}

/// Every missing stage of every run of `plan`; an error of bad input (exit code 2) or an
/// interruption stops it, since every later run would hit it too.
pub fn run(executor: &mut Executor, plan: &Plan, progress: &mut Progress) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    for run in &plan.runs {
        match execute_run(executor, run, progress) {
            Ok(RunStatus::Trained) => outcome.trained += 1,
            Ok(RunStatus::Cached) => outcome.cached += 1,
            Err(error) if error.exit_code() == 1 => {
                progress::log(&format!(
                    "{} seed {} failed: {error}",
                    run.row_name, run.seed
                ));
                outcome
                    .failed
                    .push(format!("{} seed {}", run.row_name, run.seed));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(outcome)
}

/// Every missing stage of `run`, each reported to `progress`.
fn execute_run(executor: &mut Executor, run: &Run, progress: &mut Progress) -> Result<RunStatus> {
    let mut status = RunStatus::Cached;
    for index in 0..run.stages.len() {
        let folder = super::graph::folder_of(run, index);
        progress.start(&folder);
        let result = executor.execute_stage(run, index);
        progress.end(&folder, result.is_ok());
        if result? {
            status = RunStatus::Trained;
        }
    }
    Ok(status)
}
