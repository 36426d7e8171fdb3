//! What a plan costs before it runs: training FLOPs of each stage from the model's per-image
//! forward FLOPs (a training image costs about 3 forward passes, an evaluated one 1), and a
//! short measured calibration of the backend's training throughput per model.

use super::backend::Backend;
use super::perf::{PerfOptions, run_steps};
use crate::data;
use crate::error::Result;
use crate::models::{self, Net};
use crate::prune::Dense;
use crate::spec::{DataSpec, DatasetKind, ModelKind, Run, Stage, StageConfig};

/// Images in the training and test splits after the spec's limits.
fn split_sizes(kind: DatasetKind, limits: &DataSpec) -> (usize, usize) {
    let (train, test) = data::split_sizes(kind);
    (
        limits.train_limit.map_or(train, |l| l.min(train)),
        limits.test_limit.map_or(test, |l| l.min(test)),
    )
}

/// FLOPs of one stage of `run`: training passes, per-epoch test evaluations (two with the
/// per-epoch hard-prune evaluation) and the prune stage's evaluation.
pub fn stage_flops(run: &Run, stage: &Stage) -> f64 {
    let forward = models::flops::forward_flops(run.model);
    let (images, evals) = match &stage.config {
        StageConfig::Pretrain { data, budget, .. } | StageConfig::Retrain { data, budget, .. } => {
            let (train, test) = split_sizes(run.dataset, data);
            (budget.epochs * train, budget.epochs * test)
        }
        StageConfig::Train {
            data,
            budget,
            hardprune_every_epoch,
            ..
        } => {
            let (train, test) = split_sizes(run.dataset, data);
            let per_epoch = if *hardprune_every_epoch { 2 } else { 1 };
            (budget.epochs * train, budget.epochs * test * per_epoch)
        }
        StageConfig::Import { data, .. } => (0, split_sizes(run.dataset, data).1),
        StageConfig::Prune { .. } => {
            let (_, test) = data::split_sizes(run.dataset);
            (0, test)
        }
    };
    forward * (3 * images + evals) as f64
}

/// Measured training throughput of `model` on `backend` in FLOP/s: one warm-up and three timed
/// SGD steps on a random batch of 16 images (the `slr perf` step loop).
pub fn calibrate(model: ModelKind, backend: Backend) -> Result<f64> {
    let options = PerfOptions {
        model,
        batch: 16,
        warmup: 1,
        steps: 3,
        ratio: 0.0,
        seed: 0,
        reference: None,
        check_batch: 1,
    };
    let device = backend.device();
    let net = Net::seeded(model, &device.clone().autodiff(), 0);
    let (_, _, step_ms) = run_steps(
        &options,
        &device,
        net,
        &Dense,
        options.steps,
        options.warmup,
    )?;
    Ok(options.batch as f64 * 3.0 * models::flops::forward_flops(model) / (step_ms / 1e3))
}
