//! Rows x seeds -> runs made of stages with content-addressed ids.
//!
//! A stage's id hashes its canonical config (sorted keys, fields at their default omitted, so
//! adding a defaulted field never renames old runs), the id of the stage it consumes and the
//! data set's checksum. Seeds, backend and threads are not part of it: the seed is a folder
//! (`seed-<n>`), the backend goes to provenance.

use super::load::Loaded;
use super::types::*;
use crate::data;
use crate::models;
use crate::prune::params::glob_match;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The stages of a run, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum StageKind {
    /// Dense training from a seeded initialisation.
    Pretrain,
    /// Dense weights imported from a PyTorch checkpoint (instead of pretraining).
    Import,
    /// Constrained (ADMM or SLR) training of the dense model.
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

/// What a stage does, fully resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StageConfig {
    /// Dense training.
    Pretrain {
        /// Architecture.
        model: ModelKind,
        /// Data set.
        dataset: DatasetKind,
        /// Data subsets.
        data: DataSpec,
        /// Batch size.
        batch_size: usize,
        /// Epochs, optimizer, schedule.
        budget: BudgetSpec,
    },
    /// Dense weights from a PyTorch checkpoint, evaluated on the test split.
    Import {
        /// Architecture.
        model: ModelKind,
        /// Data set it is evaluated on.
        dataset: DatasetKind,
        /// Data subsets.
        data: DataSpec,
        /// The checkpoint as the spec names it (not part of the stage id).
        checkpoint: PathBuf,
        /// SHA-256 of the checkpoint's bytes (its identity).
        checkpoint_sha256: String,
    },
    /// ADMM or SLR training towards per-layer ratios.
    Train {
        /// Method (`admm` or `slr`).
        method: MethodKind,
        /// Resolved ratio per parameter name.
        ratios: BTreeMap<String, f64>,
        /// Count rule of the projections.
        count_rule: CountRule,
        /// ADMM settings (method `admm`).
        #[serde(skip_serializing_if = "Option::is_none")]
        admm: Option<AdmmSpec>,
        /// SLR settings (method `slr`).
        #[serde(skip_serializing_if = "Option::is_none")]
        slr: Option<SlrSpec>,
        /// Data subsets.
        data: DataSpec,
        /// Batch size.
        batch_size: usize,
        /// Epochs, optimizer, schedule.
        budget: BudgetSpec,
        /// Evaluate a hard-pruned copy after every epoch.
        hardprune_every_epoch: bool,
    },
    /// Pruning to per-layer ratios.
    Prune {
        /// Method.
        method: MethodKind,
        /// Resolved ratio per parameter name.
        ratios: BTreeMap<String, f64>,
        /// Count rule.
        count_rule: CountRule,
    },
    /// Masked retraining.
    Retrain {
        /// Data subsets.
        data: DataSpec,
        /// Batch size.
        batch_size: usize,
        /// Epochs, optimizer, schedule.
        budget: BudgetSpec,
    },
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

impl Run {
    /// Folder of stage `index` for this run's seed.
    pub fn stage_dir(&self, runs_root: &std::path::Path, index: usize) -> PathBuf {
        runs_root
            .join(self.stages[index].folder_name())
            .join(format!("seed-{}", self.seed))
    }
}

/// Every run of a spec.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The loaded spec.
    pub spec: Loaded,
    /// Runs, row by row, seed by seed.
    pub runs: Vec<Run>,
}

/// Resolves every row x seed into runs. `seeds` replaces each row's seeds when given.
pub fn resolve(spec: Loaded, seeds: Option<&[u64]>) -> Plan {
    let mut runs = Vec::new();
    for (index, row) in spec.rows.iter().enumerate() {
        if spec.why_not_run(row).is_some() {
            continue;
        }
        let stages = row_stages(row, &spec.imports);
        let row_seeds = seeds
            .map(<[u64]>::to_vec)
            .unwrap_or_else(|| row.seeds.clone());
        for seed in row_seeds {
            runs.push(Run {
                row: index,
                row_name: row.name.clone(),
                seed,
                stages: stages.clone(),
                model: row.model,
                dataset: row.dataset,
                test_batch_size: row.test_batch_size,
            });
        }
    }
    Plan { spec, runs }
}

fn row_stages(row: &RowSpec, imports: &BTreeMap<PathBuf, String>) -> Vec<Stage> {
    let data_checksum = data::checksum_id(row.dataset);
    let dense = match &row.import {
        Some(checkpoint) => make_stage(
            StageKind::Import,
            StageConfig::Import {
                model: row.model,
                dataset: row.dataset,
                data: row.data.clone(),
                checkpoint: checkpoint.clone(),
                checkpoint_sha256: imports
                    .get(checkpoint)
                    .cloned()
                    .expect("load hashes every selected row's import"),
            },
            "",
            data_checksum,
        ),
        None => make_stage(
            StageKind::Pretrain,
            StageConfig::Pretrain {
                model: row.model,
                dataset: row.dataset,
                data: row.data.clone(),
                batch_size: row.batch_size,
                budget: row.pretrain.clone(),
            },
            "",
            data_checksum,
        ),
    };
    let mut stages = vec![dense];
    if row.method == MethodKind::Dense {
        return stages;
    }
    let sparsity = row.sparsity.clone().unwrap_or_default();
    let ratios = layer_ratios(row.model, &sparsity);
    if matches!(row.method, MethodKind::Admm | MethodKind::Slr) {
        let train = StageConfig::Train {
            method: row.method,
            ratios: ratios.clone(),
            count_rule: sparsity.count_rule,
            admm: (row.method == MethodKind::Admm).then(|| row.admm.clone()),
            slr: (row.method == MethodKind::Slr).then(|| row.slr.clone()),
            data: row.data.clone(),
            batch_size: row.batch_size,
            budget: row.train.clone(),
            hardprune_every_epoch: row.hardprune_every_epoch,
        };
        let consumed = stages[0].id.clone();
        stages.push(make_stage(
            StageKind::Train,
            train,
            &consumed,
            data_checksum,
        ));
    }
    let prune = StageConfig::Prune {
        method: row.method,
        ratios,
        count_rule: sparsity.count_rule,
    };
    let consumed = stages.last().expect("a dense stage exists").id.clone();
    let prune = make_stage(StageKind::Prune, prune, &consumed, data_checksum);
    let retrain = StageConfig::Retrain {
        data: row.data.clone(),
        batch_size: row.batch_size,
        budget: row.retrain.clone(),
    };
    let retrain = make_stage(StageKind::Retrain, retrain, &prune.id, data_checksum);
    stages.push(prune);
    stages.push(retrain);
    stages
}

/// Per-layer ratios: `uniform` on the layers its patterns select (default: the model's
/// prunable layers), then `per_layer` entries on top.
pub fn layer_ratios(model: ModelKind, sparsity: &SparsitySpec) -> BTreeMap<String, f64> {
    let mut ratios = BTreeMap::new();
    if let Some(ratio) = sparsity.uniform {
        let patterns = sparsity
            .layers
            .clone()
            .unwrap_or_else(|| models::default_prunable(model));
        for name in models::prunable_candidates(model) {
            if patterns.iter().any(|p| glob_match(p, &name)) {
                ratios.insert(name, ratio);
            }
        }
    }
    for (name, ratio) in &sparsity.per_layer {
        ratios.insert(name.clone(), *ratio);
    }
    ratios
}

fn make_stage(kind: StageKind, config: StageConfig, consumes: &str, data_checksum: &str) -> Stage {
    let canonical = canonical_json(&kind, &config);
    let mut hasher = Sha256::new();
    hasher.update(kind.name().as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(consumes.as_bytes());
    hasher.update(b"\n");
    hasher.update(data_checksum.as_bytes());
    let digest = hasher.finalize();
    let id = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Stage {
        kind,
        id,
        canonical,
        config,
    }
}

/// The config as JSON with sorted keys and every field equal to its built-in default removed.
fn canonical_json(kind: &StageKind, config: &StageConfig) -> Value {
    let value = serde_json::to_value(config).expect("stage configs serialise");
    let defaults = [
        ("budget", serde_json::to_value(BudgetSpec::default())),
        ("admm", serde_json::to_value(AdmmSpec::default())),
        ("slr", serde_json::to_value(SlrSpec::default())),
    ];
    let mut value = value;
    if let Value::Object(map) = &mut value {
        for (key, default) in defaults {
            if let Some(entry) = map.get_mut(key) {
                strip_defaults(entry, &default.expect("serialises"));
            }
        }
        if matches!(kind, StageKind::Prune | StageKind::Train)
            && map.get("count_rule") == Some(&Value::from("exact"))
        {
            map.remove("count_rule");
        }
        if map.get("data") == Some(&Value::Object(Default::default())) {
            map.remove("data");
        }
        // A checkpoint is identified by its content, wherever it lies.
        if matches!(kind, StageKind::Import) {
            map.remove("checkpoint");
        }
        if map.get("hardprune_every_epoch") == Some(&Value::Bool(false)) {
            map.remove("hardprune_every_epoch");
        }
    }
    value
}

/// Removes from `value` every key whose value equals the one in `default` (recursively).
fn strip_defaults(value: &mut Value, default: &Value) {
    let (Value::Object(map), Value::Object(defaults)) = (value, default) else {
        return;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let Some(default_value) = defaults.get(&key) else {
            continue;
        };
        let entry = map.get_mut(&key).expect("key listed");
        if entry == default_value {
            map.remove(&key);
        } else if entry.is_object() {
            strip_defaults(entry, default_value);
        }
    }
}

/// A seed for (spec seed, stage, purpose): the first 8 bytes of SHA-256 over the three.
pub fn derive_seed(spec_seed: u64, stage: StageKind, purpose: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(format!("{spec_seed}/{}/{purpose}", stage.name()).as_bytes());
    let digest = hasher.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}
