//! Rows x seeds -> runs made of stages with content-addressed ids.
//!
//! A stage's id hashes its canonical config (sorted keys, fields at their default omitted, so
//! adding a defaulted field never renames old runs), the id of the stage it consumes and the
//! data set's checksum. Seeds, backend and threads are not part of it: the seed is a folder
//! (`seed-<n>`), the backend goes to provenance.

use super::load::Loaded;
use super::stage::*;
use super::types::*;
use crate::base::glob_match;
use crate::catalog::{InitScheme, ModelKind};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

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
    keep_snapshots_of_every_row(&mut runs);
    Plan { spec, runs }
}

/// A training stage shared by several rows keeps every snapshot any of them asks for (its id
/// leaves snapshots out, so rows with different lists share one folder).
fn keep_snapshots_of_every_row(runs: &mut [Run]) {
    let mut wanted: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for stage in runs.iter().flat_map(|r| &r.stages) {
        if let StageConfig::Train(train) = &stage.config {
            wanted
                .entry(stage.id.clone())
                .or_default()
                .extend(&train.snapshots);
        }
    }
    for stage in runs.iter_mut().flat_map(|r| &mut r.stages) {
        if let StageConfig::Train(train) = &mut stage.config {
            train.snapshots = wanted[&stage.id].clone();
        }
    }
}

fn row_stages(row: &RowSpec, imports: &BTreeMap<PathBuf, String>) -> Vec<Stage> {
    let data_checksum = row.dataset.checksum_id();
    let dense = match &row.import {
        Some(checkpoint) => make_stage(
            StageConfig::Import(ImportConfig {
                model: row.model,
                dataset: row.dataset,
                data: row.data.clone(),
                checkpoint: checkpoint.clone(),
                checkpoint_sha256: imports
                    .get(checkpoint)
                    .cloned()
                    .expect("load hashes every selected row's import"),
            }),
            "",
            data_checksum,
        ),
        None => make_stage(
            StageConfig::Pretrain(PretrainConfig {
                model: row.model,
                init: row.init_scheme(),
                dataset: row.dataset,
                data: row.data.clone(),
                batch_size: row.batch_size,
                budget: row.pretrain.clone(),
            }),
            "",
            data_checksum,
        ),
    };
    let mut stages = vec![dense];
    if !row.method.prunes() {
        return stages;
    }
    let sparsity = row.sparsity.clone().unwrap_or_default();
    let ratios = layer_ratios(row.model, &sparsity);
    let consumes = |stages: &[Stage]| stages.last().expect("a dense stage exists").id.clone();
    // Pruning after the last epoch is pruning the final model: no snapshot, same id as before.
    let from_epoch = row.pruned_snapshot();
    if row.method.trains() {
        let snapshots = row
            .train
            .snapshots
            .iter()
            .chain(&from_epoch)
            .copied()
            .filter(|&e| e < row.train.epochs)
            .collect();
        let train = StageConfig::Train(TrainConfig {
            method: row.method.clone(),
            ratios: ratios.clone(),
            count_rule: sparsity.count_rule,
            data: row.data.clone(),
            batch_size: row.batch_size,
            budget: row.train.clone(),
            hardprune_every_epoch: row.hardprune_every_epoch,
            snapshots,
        });
        stages.push(make_stage(train, &consumes(&stages), data_checksum));
    }
    let prune = StageConfig::Prune(PruneConfig {
        method: row.method.name().name(),
        ratios: ratios.clone(),
        count_rule: sparsity.count_rule,
        from_epoch,
        data: row.data.clone(),
    });
    let prune = make_stage(prune, &consumes(&stages), data_checksum);
    let retrain = StageConfig::Retrain(RetrainConfig {
        data: row.data.clone(),
        batch_size: row.batch_size,
        budget: row.retrain.clone(),
        mask: row.retrain_mask,
        ratios,
        count_rule: sparsity.count_rule,
    });
    let retrain = make_stage(retrain, &prune.id, data_checksum);
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
            .unwrap_or_else(|| model.default_prunable());
        for name in model.prunable_candidates() {
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

fn make_stage(config: StageConfig, consumes: &str, data_checksum: &str) -> Stage {
    let kind = config.kind();
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
    let mut value = serde_json::to_value(config).expect("stage configs serialise");
    let mut defaults = vec![(
        "budget",
        serde_json::to_value(BudgetSpec::default()).expect("serialises"),
    )];
    if let StageConfig::Train(train) = config
        && let Some((_, method_defaults)) = train.method.settings_json()
    {
        defaults.push((train.method.name().name(), method_defaults));
    }
    if let Value::Object(map) = &mut value {
        for (key, default) in defaults {
            if let Some(entry) = map.get_mut(key) {
                strip_defaults(entry, &default);
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
        if let StageConfig::Pretrain(pretrain) = config
            && pretrain.init == init_before_the_key(pretrain.model)
        {
            map.remove("init");
        }
    }
    value
}

/// The scheme a model was drawn with before `init` was a key of a row: ids of stages drawn that
/// way stay as they were, and a pretraining drawn otherwise (YOLO's reference scheme, which it
/// did not have then) gets a new one.
fn init_before_the_key(model: ModelKind) -> InitScheme {
    match model {
        ModelKind::Yolov3 | ModelKind::Yolov3Tiny => InitScheme::Pytorch,
        _ => model.reference_init(),
    }
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
