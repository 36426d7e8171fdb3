//! Runs stages in order, skipping those whose `summary.json` exists, so a rerun completes what
//! is missing and redoes nothing.

use super::backend::Backend;
use super::provenance::{Provenance, git_commit, now_unix};
use super::store::{self, MetricsFile, Summary};
use crate::data::{self, Dataset};
use crate::error::{Error, Result};
use crate::models::{self, Net};
use crate::prune::admm::Admm;
use crate::prune::constrained::{Constrained, Method};
use crate::prune::slr::Slr;
use crate::prune::{self, Dense, Magnitude, MaskedRetrain, Pruner, params, stats};
use crate::spec::{
    BudgetSpec, CountRule, DataSpec, DatasetKind, MethodKind, Run, Stage, StageConfig, StageKind,
    derive_seed,
};
use crate::train::{self, EpochRecord, TrainSettings};
use burn::module::Module;
use burn::tensor::Device;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Whether a run did any work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Every stage was already done.
    Cached,
    /// At least one stage ran now.
    Trained,
}

/// Executes runs on one backend, caching loaded data sets.
pub struct Executor {
    backend: Backend,
    device: Device,
    data_root: PathBuf,
    runs_root: PathBuf,
    datasets: HashMap<(DatasetKind, String), Dataset>,
    git_commit: String,
}

impl Executor {
    /// An executor writing under `runs_root` and reading data from `data_root`.
    pub fn new(backend: Backend, data_root: &Path, runs_root: &Path) -> Executor {
        Executor {
            backend,
            device: backend.device(),
            data_root: data_root.to_owned(),
            runs_root: runs_root.to_owned(),
            datasets: HashMap::new(),
            git_commit: git_commit(),
        }
    }

    /// The runs root.
    pub fn runs_root(&self) -> &Path {
        &self.runs_root
    }

    /// Runs every missing stage of `run`.
    pub fn execute(&mut self, run: &Run) -> Result<RunStatus> {
        let mut status = RunStatus::Cached;
        for index in 0..run.stages.len() {
            let dir = run.stage_dir(&self.runs_root, index);
            if store::read_summary(&dir)?.is_some() {
                continue;
            }
            status = RunStatus::Trained;
            let _lock = store::StageLock::acquire(&dir)?;
            // A folder without a summary is an interrupted or failed attempt: start it afresh.
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(Error::io(&dir))?;
            }
            std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
            let started = now_unix();
            write_stage_spec(&dir, run, index)?;
            let summary = match self.run_stage(run, index, &dir) {
                Ok(summary) => summary,
                Err(error) => {
                    // Kept for the report ("failed: ..."); the next attempt starts afresh.
                    let _ = std::fs::write(dir.join(store::FAILED), error.to_string());
                    return Err(error);
                }
            };
            let stage = &run.stages[index];
            let provenance = Provenance {
                version: env!("CARGO_PKG_VERSION").into(),
                git_commit: self.git_commit.clone(),
                backend: self.backend.name(),
                dataset: run.dataset.name().into(),
                data_checksum: data::checksum_id(run.dataset).into(),
                started_unix: started,
                finished_unix: now_unix(),
            };
            let json = serde_json::to_string_pretty(&provenance).expect("serialises");
            store::write_atomic(&dir.join("provenance.json"), json.as_bytes())?;
            debug_assert_eq!(summary.id, stage.id);
            store::write_summary(&dir, &summary)?;
        }
        Ok(status)
    }

    fn dataset(&mut self, kind: DatasetKind, limits: &DataSpec) -> Result<&Dataset> {
        let key = (kind, format!("{limits:?}"));
        if !self.datasets.contains_key(&key) {
            let loaded = data::load(&self.data_root, kind, limits, &self.device)?;
            self.datasets.insert(key.clone(), loaded);
        }
        Ok(&self.datasets[&key])
    }

    fn run_stage(&mut self, run: &Run, index: usize, dir: &Path) -> Result<Summary> {
        let stage = &run.stages[index];
        let label = format!("{} {} seed {}", run.row_name, stage.kind.name(), run.seed);
        let mut metrics_file = MetricsFile::create(dir)?;
        let mut metrics = BTreeMap::new();
        let mut seconds = Vec::new();
        let training_device = self.device.clone().autodiff();
        let model = match &stage.config {
            StageConfig::Pretrain {
                model,
                dataset,
                data,
                batch_size,
                budget,
            } => {
                let init_seed = derive_seed(run.seed, StageKind::Pretrain, "init");
                let net = Net::seeded(*model, &training_device, init_seed);
                let data = self.dataset(*dataset, data)?.clone();
                let settings = train_settings(run, stage, budget, *batch_size, label);
                let net = train::train(net, &data, &settings, &mut Dense, &mut |record, _| {
                    record_epoch(&mut metrics_file, stage, record, &mut seconds)
                })?;
                let acc = train::accuracy(&net.valid(), &data.test, run.test_batch_size)?;
                metrics.insert("acc.dense".to_owned(), acc);
                net
            }
            StageConfig::Import {
                model,
                dataset,
                data,
                checkpoint,
                checkpoint_sha256,
            } => {
                // Checked against the hash the stage id was made from: the file may have
                // changed since the spec was loaded.
                let bytes = std::fs::read(checkpoint).map_err(Error::io(checkpoint))?;
                if crate::data::idx::sha256_hex(&bytes) != *checkpoint_sha256 {
                    return Err(Error::Import {
                        path: checkpoint.clone(),
                        message: "changed while the spec was running; run again".into(),
                    });
                }
                let net = models::import_pytorch(
                    Net::init(*model, &training_device),
                    *model,
                    checkpoint,
                )?;
                let data = self.dataset(*dataset, data)?.clone();
                let acc = train::accuracy(&net.valid(), &data.test, run.test_batch_size)?;
                metrics.insert("acc.dense".to_owned(), acc);
                net
            }
            StageConfig::Train {
                method,
                ratios,
                count_rule,
                admm,
                slr,
                data,
                batch_size,
                budget,
                hardprune_every_epoch,
            } => {
                let net = self.load_model(run, index - 1, &training_device)?;
                let names: Vec<String> = ratios.keys().cloned().collect();
                let w0 = params::flat(&net, &names);
                let state = match (method, admm, slr) {
                    (MethodKind::Admm, Some(spec), _) => {
                        Method::Admm(Admm::new(spec.clone(), ratios.clone(), *count_rule, &w0))
                    }
                    (MethodKind::Slr, _, Some(spec)) => {
                        Method::Slr(Slr::new(spec.clone(), ratios.clone(), *count_rule, &w0))
                    }
                    _ => {
                        return Err(Error::RunFailed(format!(
                            "no constrained training for method `{}`",
                            method.name()
                        )));
                    }
                };
                let mut pruner = Constrained::new(state);
                let data = self.dataset(run.dataset, data)?.clone();
                let settings = train_settings(run, stage, budget, *batch_size, label);
                let projector = Magnitude {
                    ratios: ratios.clone(),
                    rule: *count_rule,
                };
                let net =
                    train::train(net, &data, &settings, &mut pruner, &mut |record, model| {
                        record_epoch(&mut metrics_file, stage, record, &mut seconds)?;
                        if *hardprune_every_epoch {
                            // A hard-pruned copy; the model itself trains on untouched.
                            let copy = model.valid();
                            let masks = projector.masks(&copy)?;
                            let acc = train::accuracy(
                                &prune::apply_masks(copy, &masks),
                                &data.test,
                                run.test_batch_size,
                            )?;
                            metrics.insert(format!("acc.hardprune@{}", record.epoch), acc);
                            metrics_file.record(
                                stage.kind.name(),
                                record.epoch,
                                0,
                                "acc.hardprune",
                                acc,
                            )?;
                        }
                        Ok(())
                    })?;
                let acc = train::accuracy(&net.valid(), &data.test, run.test_batch_size)?;
                metrics.insert("acc.soft".to_owned(), acc);
                net
            }
            StageConfig::Prune {
                ratios, count_rule, ..
            } => {
                // Hard pruning projects the consumed weights (dense for magnitude pruning, the
                // constrained-trained W for ADMM and SLR, whose U is ignored).
                let net = self.load_model(run, index - 1, &training_device)?;
                let masks = Magnitude {
                    ratios: ratios.clone(),
                    rule: *count_rule,
                }
                .masks(&net)?;
                let net = prune::apply_masks(net, &masks);
                stats::check_targets(&net, ratios, *count_rule, "after hard pruning")?;
                let data = self.dataset(run.dataset, &row_data(run))?.clone();
                let acc = train::accuracy(&net.valid(), &data.test, run.test_batch_size)?;
                metrics.insert("acc.hardprune".to_owned(), acc);
                metrics_file.record(stage.kind.name(), 0, 0, "acc.hardprune", acc)?;
                net
            }
            StageConfig::Retrain {
                data,
                batch_size,
                budget,
            } => {
                let (ratios, count_rule) = prune_ratios(run, index)?;
                let net = self.load_model(run, index - 1, &training_device)?;
                let names: Vec<String> = ratios.keys().cloned().collect();
                let mut pruner = MaskedRetrain::from_model(&net, &names);
                let data = self.dataset(run.dataset, data)?.clone();
                let settings = train_settings(run, stage, budget, *batch_size, label);
                let net = train::train(net, &data, &settings, &mut pruner, &mut |record, _| {
                    metrics.insert(format!("acc.retrain@{}", record.epoch), record.test_acc);
                    record_epoch(&mut metrics_file, stage, record, &mut seconds)
                })?;
                stats::check_targets(&net, &ratios, count_rule, "after masked retraining")?;
                let acc = train::accuracy(&net.valid(), &data.test, run.test_batch_size)?;
                metrics.insert("acc.retrain".to_owned(), acc);
                net
            }
        };
        let sparsity = match &stage.config {
            StageConfig::Prune { .. } | StageConfig::Retrain { .. } => {
                Some(stats::measure(&model, &prune_ratios(run, index)?.0))
            }
            _ => None,
        };
        let path = dir.join(store::MODEL);
        model
            .valid()
            .save_file(&path)
            .map_err(|e| Error::RunFailed(format!("cannot save {}: {e}", path.display())))?;
        Ok(Summary {
            stage: stage.kind.name().into(),
            id: stage.id.clone(),
            seed: run.seed,
            metrics,
            sparsity,
            seconds_per_epoch: if seconds.is_empty() {
                0.0
            } else {
                seconds.iter().sum::<f64>() / seconds.len() as f64
            },
        })
    }

    /// Loads the output model of stage `index` of `run` onto `device`.
    fn load_model(&self, run: &Run, index: usize, device: &Device) -> Result<Net> {
        let path = run.stage_dir(&self.runs_root, index).join(store::MODEL);
        Net::init(run.model, device)
            .try_load_file(&path)
            .map_err(|e| Error::Corrupt {
                path: path.clone(),
                message: format!("cannot load model ({e}); delete the stage folder to rerun it"),
            })
    }
}

/// The data limits of a run's first stage (the row's, which every stage evaluates on).
fn row_data(run: &Run) -> DataSpec {
    match &run.stages[0].config {
        StageConfig::Pretrain { data, .. } | StageConfig::Import { data, .. } => data.clone(),
        _ => DataSpec::default(),
    }
}

/// The ratios and count rule of the prune stage at or before `index`.
fn prune_ratios(run: &Run, index: usize) -> Result<(BTreeMap<String, f64>, CountRule)> {
    run.stages[..=index]
        .iter()
        .rev()
        .find_map(|s| match &s.config {
            StageConfig::Prune {
                ratios, count_rule, ..
            } => Some((ratios.clone(), *count_rule)),
            _ => None,
        })
        .ok_or_else(|| Error::RunFailed("no prune stage before this stage".into()))
}

/// Training settings of `stage`, shuffling from (seed, stage, "shuffle").
fn train_settings<'a>(
    run: &Run,
    stage: &Stage,
    budget: &'a BudgetSpec,
    batch_size: usize,
    label: String,
) -> TrainSettings<'a> {
    TrainSettings {
        budget,
        batch_size,
        test_batch_size: run.test_batch_size,
        shuffle_seed: derive_seed(run.seed, stage.kind, "shuffle"),
        label,
    }
}

fn record_epoch(
    file: &mut MetricsFile,
    stage: &Stage,
    record: &EpochRecord,
    seconds: &mut Vec<f64>,
) -> Result<()> {
    let name = stage.kind.name();
    seconds.push(record.seconds);
    for (metric, value) in [
        ("lr", record.lr),
        ("train.ce", record.train_ce),
        ("train.loss", record.train_loss),
        ("acc.test", record.test_acc),
        ("seconds", record.seconds),
    ] {
        file.record(name, record.epoch, 0, metric, value)?;
    }
    for (metric, value) in &record.extra {
        file.record(name, record.epoch, 0, metric, *value)?;
    }
    Ok(())
}

/// `spec.toml`: the stage's resolved config, the id it consumes and the seed.
fn write_stage_spec(dir: &Path, run: &Run, index: usize) -> Result<()> {
    let stage = &run.stages[index];
    let mut table = toml::Table::new();
    table.insert("stage".into(), stage.kind.name().into());
    table.insert("id".into(), stage.id.clone().into());
    table.insert("seed".into(), toml::Value::Integer(run.seed as i64));
    if index > 0 {
        table.insert(
            "consumes".into(),
            run.stages[index - 1].folder_name().into(),
        );
    }
    let config = toml::Value::try_from(&stage.config)
        .map_err(|e| Error::RunFailed(format!("cannot render stage config: {e}")))?;
    table.insert("config".into(), config);
    let text = toml::to_string_pretty(&table)
        .map_err(|e| Error::RunFailed(format!("cannot render stage config: {e}")))?;
    store::write_atomic(&dir.join("spec.toml"), text.as_bytes())
}
