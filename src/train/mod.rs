//! The one training loop. Methods plug in through [`Pruner`], tasks through [`Task`]; the
//! loop names neither.

pub mod optim;
pub mod schedule;
pub mod task;

pub use task::{Classification, Task, accuracy};

use crate::base::rng;
use crate::data::Dataset;
use crate::data::batches::{PREFETCH_DEPTH, prefetched};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::Net;
use crate::prune::Pruner;
use crate::spec::BudgetSpec;
use burn::module::Module;
use burn::tensor::Tensor;
use indicatif::{ProgressBar, ProgressStyle};
use optim::Sgd;
use std::time::Instant;

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Mean pre-penalty task loss (cross-entropy for classification) over the epoch's batches
    /// (weighted by batch size).
    pub train_ce: f64,
    /// Mean of task loss + penalty.
    pub train_loss: f64,
    /// The task's evaluation score on the test split after the epoch.
    pub test_acc: f64,
    /// Wall-clock seconds of the epoch (training and evaluation).
    pub seconds: f64,
    /// The pruner's own metrics of the epoch (e.g. `w_minus_z`, `slr.k`).
    pub extra: Vec<(Metric, f64)>,
}

/// Settings of one training call.
#[derive(Debug, Clone)]
pub struct TrainSettings<'a> {
    /// Epochs, optimizer, schedule.
    pub budget: &'a BudgetSpec,
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size.
    pub test_batch_size: usize,
    /// Seed of the per-epoch shuffles.
    pub shuffle_seed: u64,
    /// Label of the progress bar, e.g. `pretrain seed 1`.
    pub label: String,
}

/// Trains `model` (on an autodiff device) at `task` for the budget; `on_epoch` sees every
/// epoch's record.
pub fn train<T: Task>(
    mut model: Net,
    data: &Dataset,
    settings: &TrainSettings,
    task: &T,
    pruner: &mut dyn Pruner,
    on_epoch: &mut dyn FnMut(&EpochRecord, &Net) -> Result<()>,
) -> Result<Net> {
    let budget = settings.budget;
    let n = data.train.len();
    let steps = n.div_ceil(settings.batch_size);
    let mut sgd = Sgd::new(budget.optimizer.clone());
    for epoch in 1..=budget.epochs {
        let started = Instant::now();
        pruner.on_epoch_start(epoch, &model)?;
        let order = rng::permutation(
            n,
            rng::stream(settings.shuffle_seed, &format!("epoch {epoch}")),
        );
        let chunks: Vec<&[usize]> = order.chunks(settings.batch_size).collect();
        let bar = progress_bar(
            steps,
            format!("{} epoch {epoch}/{}", settings.label, budget.epochs),
        );
        let mut losses = StepLosses::default();
        let mut lr = budget.optimizer.lr;
        // Batches (gather, augmentation, decoding) are built on a second thread while this one
        // trains; each depends only on its indices and seed.
        let produce = |step: usize| {
            let seed = rng::stream(settings.shuffle_seed, &format!("augment {epoch} {step}"));
            T::train_batch(data, chunks[step], seed)
        };
        // The model moves through the step (no second reference, so the optimizer can update
        // parameters in place).
        let mut slot = Some(model);
        let result = prefetched(steps, PREFETCH_DEPTH, produce, |step, batch| {
            let net = slot.take().expect("the model is back after every step");
            lr = schedule::lr_at(
                budget.optimizer.lr,
                &budget.schedule,
                epoch - 1,
                step,
                budget.epochs,
                steps,
            );
            let (net, ce, loss) = train_step(net, batch, task, &*pruner, &mut sgd, lr);
            slot = Some(net);
            losses.push(step, chunks[step].len(), ce, loss);
            bar.inc(1);
            if losses.pending.len() == READ_EVERY || step + 1 == steps {
                losses.read().map_err(|(step, loss)| Error::Diverged {
                    label: settings.label.clone(),
                    epoch,
                    step,
                    loss,
                })?;
                bar.set_message(format!("ce {:.4}", losses.ce_sum / losses.count as f64));
            }
            Ok(())
        });
        if let Err(error) = result {
            bar.abandon();
            return Err(error);
        }
        model = slot.expect("every step returns the model");
        let (ce_sum, loss_sum) = (losses.ce_sum, losses.loss_sum);
        let train_ce = ce_sum / n as f64;
        let test_acc = task.evaluate(&model.valid(), &data.test, settings.test_batch_size)?;
        let summary = format!("ce {train_ce:.4} {}", task.describe_score(test_acc));
        if bar.is_hidden() {
            // No terminal (a log file, CI): one line per epoch instead of a bar.
            eprintln!(
                "{} epoch {epoch}/{}: {summary}",
                settings.label, budget.epochs
            );
        }
        bar.finish_with_message(summary);
        pruner.on_epoch_end(epoch, &model, train_ce)?;
        let extra = pruner.epoch_metrics(&model);
        on_epoch(
            &EpochRecord {
                epoch,
                lr,
                train_ce,
                train_loss: loss_sum / n as f64,
                test_acc,
                seconds: started.elapsed().as_secs_f64(),
                extra,
            },
            &model,
        )?;
    }
    Ok(model)
}

/// Steps between reads of the losses: reading a value from the device waits for it, so the
/// loop reads a batch of them at once instead of stalling every step.
const READ_EVERY: usize = 16;

/// One SGD step on a batch: forward, the task's loss plus the pruner's penalty, backward, the
/// optimizer update and the pruner's after-step. Returns the new model and the batch's task
/// loss and total loss (detached, still on the device: reading them waits for the device).
pub fn train_step<T: Task>(
    net: Net,
    batch: T::Batch,
    task: &T,
    pruner: &dyn Pruner,
    sgd: &mut Sgd,
    lr: f64,
) -> (Net, Tensor<1>, Tensor<1>) {
    let ce = task.loss(&net, batch);
    let loss = match pruner.penalty(&net) {
        Some(penalty) => ce.clone() + penalty,
        None => ce.clone(),
    };
    let grads = loss.backward();
    let net = pruner.after_step(sgd.step(net, &grads, lr, pruner));
    (net, ce.inner(), loss.inner())
}

/// Per-step losses not read yet, and the weighted sums of those read.
#[derive(Default)]
struct StepLosses {
    /// (step, batch size, CE, loss) still on the device.
    pending: Vec<(usize, usize, Tensor<1>, Tensor<1>)>,
    ce_sum: f64,
    loss_sum: f64,
    count: usize,
}

impl StepLosses {
    fn push(&mut self, step: usize, count: usize, ce: Tensor<1>, loss: Tensor<1>) {
        self.pending.push((step, count, ce, loss));
    }

    /// Reads every pending value in one transfer and adds them in step order; the first
    /// non-finite one is returned as (step, loss).
    fn read(&mut self) -> std::result::Result<(), (usize, f64)> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let values: Vec<Tensor<1>> = pending
            .iter()
            .flat_map(|(_, _, ce, loss)| [ce.clone(), loss.clone()])
            .collect();
        let values: Vec<f64> = Tensor::cat(values, 0)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("f64 after convert");
        for ((step, count, _, _), pair) in pending.iter().zip(values.chunks_exact(2)) {
            let (ce, loss) = (pair[0], pair[1]);
            if !ce.is_finite() || !loss.is_finite() {
                return Err((*step, loss));
            }
            self.ce_sum += ce * *count as f64;
            self.loss_sum += loss * *count as f64;
            self.count += count;
        }
        Ok(())
    }
}

fn progress_bar(len: usize, prefix: String) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} (ETA {eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}
