//! The [`Task`] seam: what a model is trained to do, beside the [`Pruner`](crate::prune::Pruner)
//! seam for how it is pruned. A task owns its batch type, its loss and its evaluation; the
//! training loop asks it for each and names none.

use crate::base::rng;
use crate::catalog::{ModelKind, TaskKind};
use crate::data::batches::{self, PREFETCH_DEPTH, prefetched};
use crate::data::{Dataset, Examples};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::{Dropout, Net};
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
    /// Drop probability at the model's dropout site during training (0: none).
    dropout: f64,
}

impl Classification {
    /// The task with its loss on `device` (the training device), without dropout.
    pub fn new(device: &Device) -> Classification {
        Classification {
            loss: CrossEntropyLoss::new(None, device),
            dropout: 0.0,
        }
    }

    /// The same task training with dropout `p` at the model's dropout site.
    pub fn with_dropout(self, p: f64) -> Classification {
        Classification { dropout: p, ..self }
    }
}

/// A training batch of images and labels, with the seed of its random draws (dropout masks).
#[derive(Debug, Clone)]
pub struct LabelledBatch {
    /// Images `[batch, channels, h, w]`.
    pub images: Tensor<4>,
    /// Class indices.
    pub labels: Tensor<1, Int>,
    /// Seed of the batch's dropout masks.
    pub seed: u64,
}

/// A batch without its own seed (benchmarks, gradient checks): seed 0.
impl From<batches::Batch> for LabelledBatch {
    fn from((images, labels): batches::Batch) -> LabelledBatch {
        LabelledBatch {
            images,
            labels,
            seed: 0,
        }
    }
}

impl Task for Classification {
    type Batch = LabelledBatch;

    fn train_batch(data: &Dataset, indices: &[usize], augment_seed: u64) -> Result<Self::Batch> {
        let (images, labels) = data.train.batch(data.kind, indices, Some(augment_seed))?;
        Ok(LabelledBatch {
            images,
            labels,
            seed: augment_seed,
        })
    }

    fn loss(&self, model: &Net, batch: Self::Batch) -> Tensor<1> {
        let dropout = (self.dropout > 0.0).then(|| Dropout {
            p: self.dropout,
            seed: rng::stream(batch.seed, "dropout"),
        });
        self.loss
            .forward(model.forward_train(batch.images, dropout), batch.labels)
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
