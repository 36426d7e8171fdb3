//! The [`Task`] seam: what a model is trained to do, beside the [`Pruner`](crate::prune::Pruner)
//! seam for how it is pruned. A task owns its batch type, its loss and its evaluation; the
//! training loop asks it for each and names none.

use crate::catalog::{ModelKind, TaskKind};
use crate::data::batches::{self, PREFETCH_DEPTH, prefetched};
use crate::data::{Dataset, Examples};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::Net;
use burn::nn::loss::CrossEntropyLoss;
use burn::tensor::{Device, Int, Tensor};

/// What a model is trained to do.
pub trait Task {
    /// One training batch, built on the prefetch thread.
    type Batch: Send;

    /// The training batch of the examples at `indices`, augmented from `augment_seed`. An
    /// associated function, not a method: it runs on the prefetch thread, which gets only
    /// the data set.
    fn train_batch(data: &Dataset, indices: &[usize], augment_seed: u64) -> Result<Self::Batch>
    where
        Self: Sized;

    /// The batch's loss (with autodiff), before any pruning penalty.
    fn loss(&self, model: &Net, batch: Self::Batch) -> Tensor<1>;

    /// The metric [`Task::evaluate`] measures.
    fn score_metric(&self) -> Metric;

    /// The evaluation score of `model` (without autodiff) on a split.
    fn evaluate(&self, model: &Net, split: &Examples, batch_size: usize) -> Result<f64>;

    /// The score as progress lines show it, e.g. `test acc 98.10%`.
    fn describe_score(&self, score: f64) -> String;
}

/// Image classification: cross-entropy on logits, top-1 accuracy (%).
#[derive(Debug)]
pub struct Classification {
    loss: CrossEntropyLoss,
}

impl Classification {
    /// The task with its loss on `device` (the training device).
    pub fn new(device: &Device) -> Classification {
        Classification {
            loss: CrossEntropyLoss::new(None, device),
        }
    }
}

impl Task for Classification {
    type Batch = batches::Batch;

    fn train_batch(data: &Dataset, indices: &[usize], augment_seed: u64) -> Result<Self::Batch> {
        data.train.batch(data.kind, indices, Some(augment_seed))
    }

    fn loss(&self, model: &Net, (images, labels): Self::Batch) -> Tensor<1> {
        self.loss.forward(model.forward(images), labels)
    }

    fn score_metric(&self) -> Metric {
        Metric::AccTest
    }

    fn evaluate(&self, model: &Net, split: &Examples, batch_size: usize) -> Result<f64> {
        accuracy(model, split, batch_size)
    }

    fn describe_score(&self, score: f64) -> String {
        format!("test acc {score:.2}%")
    }
}

/// The classification task of `model` on `device`; the detection and lane tasks of Tables 3
/// and 4 have no implementation yet.
pub fn classification(model: ModelKind, device: &Device) -> Result<Classification> {
    match model.entry().task {
        TaskKind::Classification => Ok(Classification::new(device)),
        other => Err(Error::RunFailed(format!(
            "{}: no training task for {other:?} yet",
            model.name()
        ))),
    }
}

/// Top-1 accuracy (%) of `model` (without autodiff) on a split.
pub fn accuracy(model: &Net, split: &Examples, batch_size: usize) -> Result<f64> {
    let n = split.len();
    let batches = n.div_ceil(batch_size);
    let mut correct = 0i64;
    prefetched(
        batches,
        PREFETCH_DEPTH,
        |i| split.range(i * batch_size, ((i + 1) * batch_size).min(n)),
        |_, (images, labels)| {
            let count = labels.dims()[0];
            let predicted: Tensor<1, Int> = model.forward(images).argmax(1).reshape([count]);
            correct += predicted.equal(labels).int().sum().into_scalar::<i64>();
            Ok(())
        },
    )?;
    Ok(100.0 * correct as f64 / n as f64)
}
