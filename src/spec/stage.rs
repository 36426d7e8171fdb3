//! Stages: what one step of a run does, fully resolved, in a config of its own per kind.
//!
//! The serialised config is the stage's identity (its canonical JSON is hashed into the id).
//! Fields marked `#[serde(skip)]` are derived from stages the stage consumes (whose ids are
//! already part of its hash) and are carried only so the stage needs nothing but its config.

use super::method::MethodSpec;
use super::types::{BudgetSpec, CountRule, DataSpec, RetrainMask};
use crate::catalog::{DatasetKind, InitScheme, ModelKind};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The stages of a run, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum StageKind {
    /// Dense training from a seeded initialisation.
    Pretrain,
    /// Dense weights imported from a PyTorch checkpoint (instead of pretraining).
    Import,
    /// The method's own training of the dense model towards sparsity (ADMM, SLR).
    Train,
    /// Pruning of the consumed model and hard-prune evaluation.
    Prune,
    /// Masked retraining of the pruned model.
    Retrain,
}

impl StageKind {
    /// Folder-name prefix and metrics-file stage column.
    pub fn name(self) -> &'static str {
        match self {
            StageKind::Pretrain => "pretrain",
            StageKind::Import => "import",
            StageKind::Train => "train",
            StageKind::Prune => "prune",
            StageKind::Retrain => "retrain",
        }
    }
}

/// Dense training.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PretrainConfig {
    /// Architecture.
    pub model: ModelKind,
    /// How its weights are drawn.
    pub init: InitScheme,
    /// Data set.
    pub dataset: DatasetKind,
    /// Data subsets.
    pub data: DataSpec,
    /// Batch size.
    pub batch_size: usize,
    /// Epochs, optimizer, schedule.
    pub budget: BudgetSpec,
}

/// Dense weights from a PyTorch checkpoint, evaluated on the test split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportConfig {
    /// Architecture.
    pub model: ModelKind,
    /// Data set it is evaluated on.
    pub dataset: DatasetKind,
    /// Data subsets.
    pub data: DataSpec,
    /// The checkpoint as the spec names it (not part of the stage id).
    pub checkpoint: PathBuf,
    /// SHA-256 of the checkpoint's bytes (its identity).
    pub checkpoint_sha256: String,
}

/// The method's training towards per-layer ratios.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainConfig {
    /// The method and its settings (`method` plus its settings table).
    #[serde(flatten)]
    pub method: MethodSpec,
    /// Resolved ratio per parameter name.
    pub ratios: BTreeMap<String, f64>,
    /// Count rule of the projections.
    pub count_rule: CountRule,
    /// Data subsets.
    pub data: DataSpec,
    /// Batch size.
    pub batch_size: usize,
    /// Epochs, optimizer, schedule.
    pub budget: BudgetSpec,
    /// Evaluate a hard-pruned copy after every epoch.
    pub hardprune_every_epoch: bool,
    /// Epochs (before the last) after which the model is kept for pruning: every snapshot
    /// that the rows sharing this stage ask for. Not part of the id, so asking for more
    /// renames nothing.
    #[serde(skip)]
    pub snapshots: BTreeSet<usize>,
}

/// Pruning to per-layer ratios and the hard-prune evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PruneConfig {
    /// The row's method (by name: pruning itself is the same projection for all).
    pub method: &'static str,
    /// Resolved ratio per parameter name.
    pub ratios: BTreeMap<String, f64>,
    /// Count rule.
    pub count_rule: CountRule,
    /// The consumed training stage's snapshot pruned (after this epoch), instead of its final
    /// model; part of the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_epoch: Option<usize>,
    /// The row's data subsets, which the evaluation uses.
    #[serde(skip)]
    pub data: DataSpec,
}

/// Masked retraining.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrainConfig {
    /// Data subsets.
    pub data: DataSpec,
    /// Batch size.
    pub batch_size: usize,
    /// Epochs, optimizer, schedule.
    pub budget: BudgetSpec,
    /// Which weights are trained (left out of the stage id when it is the default).
    #[serde(skip_serializing_if = "RetrainMask::is_hard_prune")]
    pub mask: RetrainMask,
    /// The ratios the consumed prune stage pruned to (checked again after retraining).
    #[serde(skip)]
    pub ratios: BTreeMap<String, f64>,
    /// Its count rule.
    #[serde(skip)]
    pub count_rule: CountRule,
}

/// What a stage does, fully resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StageConfig {
    /// Dense training.
    Pretrain(PretrainConfig),
    /// Dense weights from a checkpoint.
    Import(ImportConfig),
    /// The method's training.
    Train(TrainConfig),
    /// Pruning.
    Prune(PruneConfig),
    /// Masked retraining.
    Retrain(RetrainConfig),
}

impl StageConfig {
    /// Which stage kind this config is of.
    pub fn kind(&self) -> StageKind {
        match self {
            StageConfig::Pretrain(_) => StageKind::Pretrain,
            StageConfig::Import(_) => StageKind::Import,
            StageConfig::Train(_) => StageKind::Train,
            StageConfig::Prune(_) => StageKind::Prune,
            StageConfig::Retrain(_) => StageKind::Retrain,
        }
    }

    /// The ratios the stage prunes to or keeps (prune, retrain), if it does.
    pub fn pruned_ratios(&self) -> Option<(&BTreeMap<String, f64>, CountRule)> {
        match self {
            StageConfig::Prune(c) => Some((&c.ratios, c.count_rule)),
            StageConfig::Retrain(c) => Some((&c.ratios, c.count_rule)),
            _ => None,
        }
    }
}

/// One stage of a run.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Which stage.
    pub kind: StageKind,
    /// 12 hex digits of the stage's content hash.
    pub id: String,
    /// The canonical JSON that was hashed (without the consumed id).
    pub canonical: Value,
    /// What it does.
    pub config: StageConfig,
}

impl Stage {
    /// `<kind>-<id>`: the folder under the runs root.
    pub fn folder_name(&self) -> String {
        format!("{}-{}", self.kind.name(), self.id)
    }
}

/// One row at one seed.
#[derive(Debug, Clone)]
pub struct Run {
    /// Index of the row in the spec.
    pub row: usize,
    /// The row's name.
    pub row_name: String,
    /// The spec seed.
    pub seed: u64,
    /// Stages in order; each consumes the one before it.
    pub stages: Vec<Stage>,
    /// Model (for loading checkpoints).
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Evaluation batch size.
    pub test_batch_size: usize,
}
