//! The one training loop. Methods plug in through [`Pruner`], tasks through [`Task`]; the
//! loop names neither.

pub mod detection;
pub mod lanes;
pub mod optim;
pub mod schedule;
pub mod task;

pub use task::{Classification, ModelTask, Task, accuracy};

use crate::base::{host, progress, rng};
use crate::data::Dataset;
use crate::data::batches::{PREFETCH_DEPTH, prefetched};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::Net;
use crate::prune::{Pruner, PrunerState};
use crate::spec::BudgetSpec;
use burn::module::Module;
use burn::tensor::Tensor;
use optim::Sgd;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// Replays a reference trace: every epoch takes the training split in its own order,
    /// without augmentation (the fidelity traces compare arithmetic, not random draws).
    pub fixed_batches: bool,
    /// Label of the progress bar, e.g. `pretrain seed 1`.
    pub label: String,
}

/// Where a training call stands: the next step to run and what the current epoch has summed
/// so far. With the model, the optimizer's buffers and the pruner's state it continues the
/// training bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// 1-based epoch of the next step.
    pub epoch: usize,
    /// 0-based step within that epoch (0: the epoch has not started).
    pub step: usize,
    /// Weighted sum of the epoch's task losses so far.
    pub ce_sum: f64,
    /// Weighted sum of the epoch's total losses so far.
    pub loss_sum: f64,
    /// Examples summed so far.
    pub count: usize,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Seconds the epoch ran before the checkpoint.
    pub seconds: f64,
    /// Weighted sum of the task losses since the pruner's last step-clocked update.
    pub round_ce_sum: f64,
    /// Examples summed into `round_ce_sum`.
    pub round_count: usize,
    /// Unweighted sum of the epoch's batch task losses so far (the pruner's epoch CE).
    pub batch_ce_sum: f64,
    /// Batches summed into `batch_ce_sum`.
    pub batches: usize,
}

impl Position {
    /// Epochs finished before this position.
    pub fn epochs_done(&self) -> usize {
        self.epoch - 1
    }
}

/// What a checkpoint holds (see [`Position`]).
pub struct Snapshot<'a> {
    /// The model (autodiff device).
    pub model: &'a Net,
    /// Where training stands.
    pub position: Position,
    /// The optimizer's momentum buffers.
    pub optimizer: BTreeMap<String, Tensor<1>>,
    /// The pruner's state.
    pub pruner: PrunerState,
}

/// A checkpoint to continue from.
pub struct Resume {
    /// The model as checkpointed.
    pub model: Net,
    /// Where training stood.
    pub position: Position,
    /// The optimizer's momentum buffers.
    pub optimizer: BTreeMap<String, Tensor<1>>,
    /// The pruner's state.
    pub pruner: PrunerState,
}

/// One optimizer step as an [`Observer`] sees it, right after the step.
pub struct StepView<'a> {
    /// 1-based epoch.
    pub epoch: usize,
    /// 0-based step within the epoch.
    pub step: usize,
    /// Steps taken since the stage began, this one included.
    pub taken: usize,
    /// Learning rate of the step.
    pub lr: f64,
    /// The batch's task loss (detached, on the device: reading it waits for the device).
    pub ce: &'a Tensor<1>,
    /// Task loss plus penalty, likewise.
    pub loss: &'a Tensor<1>,
    /// The model after the step.
    pub model: &'a Net,
    /// The pruner after the step (its state through [`Pruner::save_state`]).
    pub pruner: &'a dyn Pruner,
}

/// One step's losses, as read from the device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLoss {
    /// 1-based epoch.
    pub epoch: usize,
    /// Steps taken since the stage began, this one included.
    pub taken: usize,
    /// The batch's task loss.
    pub ce: f64,
    /// Task loss plus penalty.
    pub loss: f64,
}

/// What a training call reports to, and asks of, its caller.
pub trait Observer {
    /// After every optimizer step. The runner's observers ignore it (reading values would
    /// stall the device every step); the fidelity replays record each step here.
    fn step(&mut self, _view: StepView) -> Result<()> {
        Ok(())
    }
    /// Each time the loop reads the pending losses from the device (one read for up to
    /// [`READ_EVERY`] steps, and at every epoch's end), those steps' values in step order:
    /// observers log losses from here without a read of their own.
    fn losses(&mut self, _read: &[StepLoss]) -> Result<()> {
        Ok(())
    }
    /// After every epoch, with its record and the model.
    fn epoch(&mut self, record: &EpochRecord, model: &Net) -> Result<()>;
    /// After [`Observer::epoch`], and at the batch boundary where a stop was requested: a
    /// checkpoint to keep.
    fn checkpoint(&mut self, snapshot: Snapshot) -> Result<()>;
    /// Whether to stop at the next batch boundary (a signal arrived).
    fn stop_requested(&self) -> bool {
        false
    }
}

/// Trains `model` (on an autodiff device) at `task` for the budget, or continues the
/// training `resume` checkpointed; `observer` sees every epoch and keeps the checkpoints.
/// A requested stop ends it with [`Error::Interrupted`] after a checkpoint.
pub fn train<T: Task>(
    model: Net,
    data: &Dataset,
    settings: &TrainSettings,
    task: &T,
    pruner: &mut dyn Pruner,
    observer: &mut dyn Observer,
    resume: Option<Resume>,
) -> Result<Net> {
    let budget = settings.budget;
    let n = data.train.len();
    let steps = n.div_ceil(settings.batch_size);
    let total_steps = budget.total_steps(steps);
    // A step budget ends inside its last pass.
    let epochs = total_steps.div_ceil(steps);
    let update_every = pruner.update_every_steps();
    let mut losses = StepLosses::default();
    let (mut model, mut sgd, mut position) = match resume {
        Some(resume) => {
            pruner.load_state(&resume.pruner)?;
            // Steps taken so far: the optimizer's step count (Adam's bias correction).
            let p = resume.position;
            let taken = ((p.epoch - 1) * steps + p.step) as u64;
            let sgd = Sgd::with_buffers(budget.optimizer.clone(), resume.optimizer, taken);
            (resume.model, sgd, Some(resume.position))
        }
        None => (model, Sgd::new(budget.optimizer.clone()), None),
    };
    let first_epoch = position.map_or(1, |p| p.epoch);
    let mut resumed_round = position;
    for epoch in first_epoch..=epochs {
        let epoch_steps = steps.min(total_steps - (epoch - 1) * steps);
        let started = Instant::now();
        // A checkpoint inside this epoch: its start (pruner updates) already happened.
        let within = position.take().filter(|p| p.epoch == epoch && p.step > 0);
        if within.is_none() {
            pruner.on_epoch_start(epoch, &model)?;
        }
        let first_step = within.map_or(0, |p| p.step);
        let earlier_seconds = within.map_or(0.0, |p| p.seconds);
        let order = if settings.fixed_batches {
            (0..n).collect()
        } else {
            rng::permutation(
                n,
                rng::stream(settings.shuffle_seed, &format!("epoch {epoch}")),
            )
        };
        let chunks: Vec<&[usize]> = order.chunks(settings.batch_size).collect();
        let bar = progress::epoch_bar(
            epoch_steps,
            format!("{} epoch {epoch}/{epochs}", settings.label),
        );
        bar.set_position(first_step as u64);
        losses.start_epoch();
        let mut lr = budget.optimizer.lr;
        if let Some(p) = within {
            (losses.ce_sum, losses.loss_sum, losses.count, lr) =
                (p.ce_sum, p.loss_sum, p.count, p.lr);
            (losses.batch_ce_sum, losses.batches) = (p.batch_ce_sum, p.batches);
        }
        if let Some(p) = resumed_round.take() {
            (losses.round_ce_sum, losses.round_count) = (p.round_ce_sum, p.round_count);
        }
        // Batches (gather, augmentation, decoding) are built on a second thread while this one
        // trains; each depends only on its indices and seed.
        let produce = |i: usize| {
            let step = first_step + i;
            let seed = rng::stream(settings.shuffle_seed, &format!("augment {epoch} {step}"));
            T::train_batch(data, chunks[step], seed, !settings.fixed_batches)
        };
        // The model moves through the step (no second reference, so the optimizer can update
        // parameters in place).
        let mut slot = Some(model);
        let result = prefetched(
            epoch_steps - first_step,
            PREFETCH_DEPTH,
            produce,
            |i, batch| {
                let step = first_step + i;
                let global = (epoch - 1) * steps + step;
                if let Some(every) = update_every
                    && global > 0
                    && global.is_multiple_of(every)
                {
                    // The round's mean task loss needs every value of the round read.
                    read_losses(&mut losses, settings, epoch, observer)?;
                    let mean = losses.round_ce_sum / losses.round_count.max(1) as f64;
                    let model = slot.as_ref().expect("the model is back");
                    pruner.on_round_end(global, model, mean)?;
                    (losses.round_ce_sum, losses.round_count) = (0.0, 0);
                }
                let net = slot.take().expect("the model is back after every step");
                lr = schedule::lr_at(
                    budget.optimizer.lr,
                    &budget.schedule,
                    epoch - 1,
                    step,
                    steps,
                    total_steps,
                );
                let (net, ce, loss) = train_step(net, batch, task, &*pruner, &mut sgd, lr);
                observer.step(StepView {
                    epoch,
                    step,
                    taken: global + 1,
                    lr,
                    ce: &ce,
                    loss: &loss,
                    model: &net,
                    pruner: &*pruner,
                })?;
                slot = Some(net);
                losses.push(step, global + 1, chunks[step].len(), ce, loss);
                bar.inc(1);
                let stop = observer.stop_requested() && step + 1 < epoch_steps;
                if losses.pending.len() == READ_EVERY || step + 1 == epoch_steps || stop {
                    read_losses(&mut losses, settings, epoch, observer)?;
                    bar.set_message(format!("ce {:.4}", losses.ce_sum / losses.count as f64));
                }
                if stop {
                    let position = Position {
                        epoch,
                        step: step + 1,
                        ce_sum: losses.ce_sum,
                        loss_sum: losses.loss_sum,
                        count: losses.count,
                        lr,
                        seconds: earlier_seconds + started.elapsed().as_secs_f64(),
                        round_ce_sum: losses.round_ce_sum,
                        round_count: losses.round_count,
                        batch_ce_sum: losses.batch_ce_sum,
                        batches: losses.batches,
                    };
                    let model = slot.as_ref().expect("the model is back");
                    observer.checkpoint(Snapshot {
                        model,
                        position,
                        optimizer: sgd.buffers(),
                        pruner: pruner.save_state(),
                    })?;
                    return Err(interrupted(settings, position));
                }
                Ok(())
            },
        );
        if let Err(error) = result {
            bar.abandon();
            return Err(error);
        }
        model = slot.expect("every step returns the model");
        // Examples of the pass (all `n`, except in a step budget's last pass).
        let (ce_sum, loss_sum, seen) = (losses.ce_sum, losses.loss_sum, losses.count as f64);
        let train_ce = ce_sum / seen;
        let test_acc = task.evaluate(&model.valid(), &data.test, settings.test_batch_size)?;
        let summary = format!("ce {train_ce:.4} {}", task.describe_score(test_acc));
        // The bar becomes one line per epoch (above the live bars, or in the log).
        bar.finish_and_clear();
        progress::log(&format!(
            "{} epoch {epoch}/{epochs}: {summary}",
            settings.label
        ));
        // The reference's epoch CE is the mean over batches, not examples (SLR-ADMM-cifar10
        // slr_pruning/main.py 141 and 190: total_ce / ctr); they differ when the last batch is
        // short.
        let batch_mean_ce = losses.batch_ce_sum / losses.batches.max(1) as f64;
        pruner.on_epoch_end(epoch, &model, batch_mean_ce)?;
        let extra = pruner.epoch_metrics(&model);
        let seconds = earlier_seconds + started.elapsed().as_secs_f64();
        observer.epoch(
            &EpochRecord {
                epoch,
                lr,
                train_ce,
                train_loss: loss_sum / seen,
                test_acc,
                seconds,
                extra,
            },
            &model,
        )?;
        let next = Position {
            epoch: epoch + 1,
            step: 0,
            ce_sum: 0.0,
            loss_sum: 0.0,
            count: 0,
            lr,
            seconds: 0.0,
            round_ce_sum: losses.round_ce_sum,
            round_count: losses.round_count,
            batch_ce_sum: 0.0,
            batches: 0,
        };
        observer.checkpoint(Snapshot {
            model: &model,
            position: next,
            optimizer: sgd.buffers(),
            pruner: pruner.save_state(),
        })?;
        if observer.stop_requested() && epoch < epochs {
            return Err(interrupted(settings, next));
        }
    }
    Ok(model)
}

/// Reads the pending losses and shows the finite ones to `observer`; a non-finite one ends
/// training as diverged.
fn read_losses(
    losses: &mut StepLosses,
    settings: &TrainSettings,
    epoch: usize,
    observer: &mut dyn Observer,
) -> Result<()> {
    let (read, diverged) = losses.read(epoch);
    observer.losses(&read)?;
    match diverged {
        Some((step, loss)) => Err(Error::Diverged {
            label: settings.label.clone(),
            epoch,
            step,
            loss,
        }),
        None => Ok(()),
    }
}

fn interrupted(settings: &TrainSettings, position: Position) -> Error {
    Error::Interrupted {
        label: settings.label.clone(),
        epoch: position.epoch,
        step: position.step,
    }
}

/// Steps between reads of the losses: reading a value from the device waits for it, so the
/// loop reads a batch of them at once instead of stalling every step.
pub const READ_EVERY: usize = 16;

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

/// Per-step losses not read yet, and the weighted sums of those read: of the epoch, and of
/// the round since the pruner's last step-clocked update.
#[derive(Default)]
struct StepLosses {
    /// Steps whose losses are still on the device.
    pending: Vec<Pending>,
    ce_sum: f64,
    loss_sum: f64,
    count: usize,
    batch_ce_sum: f64,
    batches: usize,
    round_ce_sum: f64,
    round_count: usize,
}

impl StepLosses {
    /// Clears the epoch's sums (the round's carry over).
    fn start_epoch(&mut self) {
        (self.ce_sum, self.loss_sum, self.count) = (0.0, 0.0, 0);
        (self.batch_ce_sum, self.batches) = (0.0, 0);
    }

    fn push(&mut self, step: usize, taken: usize, count: usize, ce: Tensor<1>, loss: Tensor<1>) {
        self.pending.push(Pending {
            step,
            taken,
            count,
            ce,
            loss,
        });
    }

    /// Reads every pending value in one transfer and adds them in step order. Returns the
    /// steps read up to the first non-finite one, and that one as (step, loss).
    fn read(&mut self, epoch: usize) -> (Vec<StepLoss>, Option<(usize, f64)>) {
        let mut read = Vec::new();
        if self.pending.is_empty() {
            return (read, None);
        }
        let pending = std::mem::take(&mut self.pending);
        let values: Vec<Tensor<1>> = pending
            .iter()
            .flat_map(|p| [p.ce.clone(), p.loss.clone()])
            .collect();
        let values: Vec<f64> = host::values(Tensor::cat(values, 0));
        for (p, pair) in pending.iter().zip(values.chunks_exact(2)) {
            let (ce, loss, count) = (pair[0], pair[1], p.count);
            if !ce.is_finite() || !loss.is_finite() {
                return (read, Some((p.step, loss)));
            }
            read.push(StepLoss {
                epoch,
                taken: p.taken,
                ce,
                loss,
            });
            self.ce_sum += ce * count as f64;
            self.loss_sum += loss * count as f64;
            self.count += count;
            self.batch_ce_sum += ce;
            self.batches += 1;
            self.round_ce_sum += ce * count as f64;
            self.round_count += count;
        }
        (read, None)
    }
}

/// One step whose losses are still on the device.
struct Pending {
    /// 0-based step within the epoch.
    step: usize,
    /// Steps taken since the stage began, this one included.
    taken: usize,
    /// Batch size.
    count: usize,
    ce: Tensor<1>,
    loss: Tensor<1>,
}
