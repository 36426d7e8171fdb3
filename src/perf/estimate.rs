//! What a plan costs before it runs: training FLOPs of each stage from the model's per-image
//! forward FLOPs (a training image costs about 3 forward passes, an evaluated one 1), and a
//! short measured calibration of the backend's training throughput per model.

use super::measure::{PerfOptions, run_steps};
use crate::base::Backend;
use crate::error::Result;
use crate::models::Net;
use crate::prune::Dense;
use crate::spec::{BudgetSpec, DataSpec, ModelKind, Run, Stage, StageConfig};

/// FLOPs of one stage of `run`: training passes, per-epoch test evaluations (two with the
/// per-epoch hard-prune evaluation) and the prune stage's evaluation.
pub fn stage_flops(run: &Run, stage: &Stage) -> f64 {
    let forward = run.model.forward_flops_on(run.dataset);
    // Images trained on and evaluated over a budget, `evals` test passes per epoch.
    let training = |data: &DataSpec, budget: &BudgetSpec, batch: usize, evals: usize| {
        let (train, test) = data.split_sizes(run.dataset);
        let images = budget
            .steps
            .map_or(budget.epochs * train, |steps| steps * batch);
        (images, budget.epochs * test * evals)
    };
    let (images, evals) = match &stage.config {
        StageConfig::Pretrain(c) => training(&c.data, &c.budget, c.batch_size, 1),
        StageConfig::Retrain(c) => training(&c.data, &c.budget, c.batch_size, 1),
        StageConfig::Train(c) => {
            let per_epoch = if c.hardprune_every_epoch { 2 } else { 1 };
            training(&c.data, &c.budget, c.batch_size, per_epoch)
        }
        StageConfig::Import(c) => (0, c.data.split_sizes(run.dataset).1),
        StageConfig::Prune(_) => (0, run.dataset.split_sizes().1),
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
    let step_ms = run_steps(
        &options,
        &device,
        net,
        &Dense,
        options.steps,
        options.warmup,
    )?
    .ms;
    Ok(options.batch as f64 * 3.0 * model.forward_flops() / (step_ms / 1e3))
}
