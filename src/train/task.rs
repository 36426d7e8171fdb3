//! The [`Task`] seam: what a model is trained to do, beside the [`Pruner`](crate::prune::Pruner)
//! seam for how it is pruned. A task owns its batch type, its loss and its evaluation; the
//! training loop asks it for each and names none.

use crate::base::{host, rng};
use crate::catalog::{Architecture, ModelKind, TaskKind};
use crate::data::batches::{self, PREFETCH_DEPTH, prefetched};
use crate::data::{Dataset, Examples};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::{Dropout, Net};
use crate::train::detection::task::{DetectionBatch, ObjectDetection};
use crate::train::lanes::task::{LaneBatch, LaneDetection};
use burn::nn::loss::CrossEntropyLoss;
use burn::tensor::{Device, Int, Tensor};

/// What a model is trained to do.
pub trait Task {
    /// One training batch, built on the prefetch thread.
    type Batch: Send;

    /// The training batch of the examples at `indices`, with the data set's augmentation drawn
    /// from `seed` when `augment` (the batch's other random draws, e.g. dropout, come from
    /// `seed` either way). An associated function, not a method: it runs on the prefetch
    /// thread, which gets only the data set.
    fn train_batch(
        data: &Dataset,
        indices: &[usize],
        seed: u64,
        augment: bool,
    ) -> Result<Self::Batch>
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

    /// [`Task::evaluate`] with the task's further rates, where it has them (lanes: TuSimple's
    /// false-positive and false-negative rates), for the stages' final records.
    fn evaluate_detail(
        &self,
        model: &Net,
        split: &Examples,
        batch_size: usize,
    ) -> Result<Evaluation> {
        Ok(Evaluation {
            score: self.evaluate(model, split, batch_size)?,
            false_rates: None,
            map_50_95: None,
        })
    }
}

/// An evaluation's score and the task's further rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// The task's score ([`Task::score_metric`]).
    pub score: f64,
    /// False-positive and false-negative rates (%), for tasks that count them.
    pub false_rates: Option<(f64, f64)>,
    /// COCO's mAP@0.5:0.95 (%), for detection (whose score is mAP@0.5).
    pub map_50_95: Option<f64>,
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

    fn train_batch(
        data: &Dataset,
        indices: &[usize],
        seed: u64,
        augment: bool,
    ) -> Result<Self::Batch> {
        let (images, labels) = data
            .train
            .batch(data.kind, indices, augment.then_some(seed))?;
        Ok(LabelledBatch {
            images,
            labels,
            seed,
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

/// The task a run's model is trained at, from its catalog entry: the one task type the
/// runner's stages train and evaluate with.
// One task per training stage, built once: boxing the loss would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ModelTask {
    /// Image classification.
    Classification(Classification),
    /// Lane detection (UFLD on TuSimple-format data).
    Lanes(LaneDetection),
    /// Object detection (YOLOv3 on COCO-format data).
    Detection(ObjectDetection),
}

/// A training batch of a [`ModelTask`].
#[derive(Debug, Clone)]
pub enum TaskBatch {
    /// Images and labels.
    Labelled(LabelledBatch),
    /// Frames with row-anchor and segmentation targets.
    Lanes(LaneBatch),
    /// Letterboxed images with their boxes.
    Detection(DetectionBatch),
}

impl ModelTask {
    /// The task of `model`, its loss on `device`.
    pub fn of(model: ModelKind, device: &Device) -> Result<ModelTask> {
        match (model.entry().task, model.entry().architecture) {
            (TaskKind::Classification, _) => {
                Ok(ModelTask::Classification(Classification::new(device)))
            }
            (TaskKind::LaneDetection, _) => Ok(ModelTask::Lanes(LaneDetection)),
            (TaskKind::Detection, Architecture::Yolo(config)) => {
                Ok(ModelTask::Detection(ObjectDetection::new(config)))
            }
            (other, _) => Err(Error::RunFailed(format!(
                "{}: no training task for {} with this architecture",
                model.name(),
                other.name()
            ))),
        }
    }

    /// The same task training with dropout `p` at the model's dropout site (the loader
    /// refuses dropout for models without one, so only classification models get it).
    pub fn with_dropout(self, p: f64) -> ModelTask {
        match self {
            ModelTask::Classification(task) => ModelTask::Classification(task.with_dropout(p)),
            other => other,
        }
    }
}

impl Task for ModelTask {
    type Batch = TaskBatch;

    /// The data set's kind of batch: lane sets give lane batches, detection sets detection
    /// batches, the others labelled images (the loader refuses a model whose task is not its
    /// data set's).
    fn train_batch(
        data: &Dataset,
        indices: &[usize],
        seed: u64,
        augment: bool,
    ) -> Result<TaskBatch> {
        match data.train {
            Examples::Lanes(_) => {
                LaneDetection::train_batch(data, indices, seed, augment).map(TaskBatch::Lanes)
            }
            Examples::Detection(_) => {
                ObjectDetection::train_batch(data, indices, seed, augment).map(TaskBatch::Detection)
            }
            _ => Classification::train_batch(data, indices, seed, augment).map(TaskBatch::Labelled),
        }
    }

    fn loss(&self, model: &Net, batch: TaskBatch) -> Tensor<1> {
        match (self, batch) {
            (ModelTask::Classification(task), TaskBatch::Labelled(batch)) => {
                task.loss(model, batch)
            }
            (ModelTask::Lanes(task), TaskBatch::Lanes(batch)) => task.loss(model, batch),
            (ModelTask::Detection(task), TaskBatch::Detection(batch)) => task.loss(model, batch),
            (task, _) => unreachable!("{task:?} got another task's batch"),
        }
    }

    fn score_metric(&self) -> Metric {
        match self {
            ModelTask::Classification(task) => task.score_metric(),
            ModelTask::Lanes(task) => task.score_metric(),
            ModelTask::Detection(task) => task.score_metric(),
        }
    }

    fn evaluate(&self, model: &Net, split: &Examples, batch_size: usize) -> Result<f64> {
        match self {
            ModelTask::Classification(task) => task.evaluate(model, split, batch_size),
            ModelTask::Lanes(task) => task.evaluate(model, split, batch_size),
            ModelTask::Detection(task) => task.evaluate(model, split, batch_size),
        }
    }

    fn describe_score(&self, score: f64) -> String {
        match self {
            ModelTask::Classification(task) => task.describe_score(score),
            ModelTask::Lanes(task) => task.describe_score(score),
            ModelTask::Detection(task) => task.describe_score(score),
        }
    }

    fn evaluate_detail(
        &self,
        model: &Net,
        split: &Examples,
        batch_size: usize,
    ) -> Result<Evaluation> {
        match self {
            ModelTask::Classification(task) => task.evaluate_detail(model, split, batch_size),
            ModelTask::Lanes(task) => task.evaluate_detail(model, split, batch_size),
            ModelTask::Detection(task) => task.evaluate_detail(model, split, batch_size),
        }
    }
}

/// Top-1 accuracy (%) of `model` (without autodiff) on a split.
pub fn accuracy(model: &Net, split: &Examples, batch_size: usize) -> Result<f64> {
    let n = split.len();
    let batches = n.div_ceil(batch_size);
    // Counted on the device and read once: a read per batch would stall a GPU per batch.
    let mut correct: Option<Tensor<1, Int>> = None;
    prefetched(
        batches,
        PREFETCH_DEPTH,
        |i| split.range(i * batch_size, ((i + 1) * batch_size).min(n)),
        |_, (images, labels)| {
            let count = labels.dims()[0];
            let predicted: Tensor<1, Int> = model.forward(images).argmax(1).reshape([count]);
            let hits = predicted.equal(labels).int().sum();
            correct = Some(match correct.take() {
                Some(sum) => sum + hits,
                None => hits,
            });
            Ok(())
        },
    )?;
    let correct: i64 = correct.map_or(0, host::scalar);
    Ok(100.0 * correct as f64 / n as f64)
}
