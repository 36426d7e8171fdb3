//! Runs stages in order, skipping those whose `summary.json` exists, so a rerun completes what
//! is missing and redoes nothing. Each stage kind is one function of its own config.

use super::provenance::{Provenance, git_commit, now_unix};
use super::signals;
use super::store::checkpoint::{self, Checkpoint, RecorderState};
use super::store::{self, MetricsFile, StageState, Summary};
use crate::base::{Backend, progress, sha256_hex};
use crate::data::{self, Dataset};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::{self, Net, params};
use crate::prune::{self, Dense, Magnitude, MaskedRetrain, Pruner, stats};
use crate::spec::{
    BudgetSpec, DataSpec, DatasetKind, ImportConfig, PretrainConfig, PruneConfig, RetrainConfig,
    RetrainMask, Run, Runtime, Stage, StageConfig, StageKind, TrainConfig, derive_seed,
};
use crate::train::task::{ModelTask, Task};
use crate::train::{self, EpochRecord, Observer, Resume, Snapshot, StepLoss, TrainSettings};
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
    loss_every: usize,
}

/// What a stage records while it runs: per-epoch rows of `metrics.csv`, final metrics for the
/// summary and epoch times.
struct Recorder {
    stage: StageKind,
    file: MetricsFile,
    finals: BTreeMap<String, f64>,
    seconds: Vec<f64>,
}

impl Recorder {
    fn create(stage: StageKind, dir: &Path) -> Result<Recorder> {
        Ok(Recorder {
            stage,
            file: MetricsFile::create(dir)?,
            finals: BTreeMap::new(),
            seconds: Vec::new(),
        })
    }

    /// Continues what a checkpoint recorded; rows written after it are dropped.
    fn resume(stage: StageKind, dir: &Path, state: &RecorderState) -> Result<Recorder> {
        Ok(Recorder {
            stage,
            file: MetricsFile::continue_at(dir, state.metrics_len)?,
            finals: state.finals.clone(),
            seconds: state.seconds.clone(),
        })
    }

    /// What a checkpoint keeps of it.
    fn state(&self) -> Result<RecorderState> {
        Ok(RecorderState {
            finals: self.finals.clone(),
            seconds: self.seconds.clone(),
            metrics_len: self.file.bytes_written()?,
        })
    }

    /// A final metric of the stage (its summary).
    fn set(&mut self, metric: Metric, value: f64) {
        self.finals.insert(metric.key(), value);
    }

    /// A per-epoch value (`metrics.csv`; epoch 0: the stage as a whole).
    fn row(&mut self, epoch: usize, metric: Metric, value: f64) -> Result<()> {
        self.file.record(self.stage, epoch, 0, metric, value)
    }

    /// The training loss of one step (`taken` steps so far), for TensorBoard.
    fn step_loss(&mut self, epoch: usize, taken: usize, loss: f64) -> Result<()> {
        self.file
            .record(self.stage, epoch, taken, Metric::TrainLoss, loss)
    }

    /// Every value of one training epoch.
    fn epoch(&mut self, record: &EpochRecord) -> Result<()> {
        self.seconds.push(record.seconds);
        for (metric, value) in [
            (Metric::Lr, record.lr),
            (Metric::TrainCe, record.train_ce),
            (Metric::TrainLoss, record.train_loss),
            (Metric::AccTest, record.test_acc),
            (Metric::Seconds, record.seconds),
        ]
        .into_iter()
        .chain(record.extra.iter().copied())
        {
            self.row(record.epoch, metric, value)?;
        }
        Ok(())
    }

    fn seconds_per_epoch(&self) -> f64 {
        if self.seconds.is_empty() {
            0.0
        } else {
            self.seconds.iter().sum::<f64>() / self.seconds.len() as f64
        }
    }
}

impl Executor {
    /// An executor on `runtime`'s backend, writing under its runs root and reading data from
    /// its data root.
    pub fn new(runtime: &Runtime) -> Executor {
        Executor {
            backend: runtime.backend,
            device: runtime.backend.device(),
            data_root: runtime.data_root.clone(),
            runs_root: runtime.runs_root.clone(),
            datasets: HashMap::new(),
            git_commit: git_commit(),
            loss_every: runtime.loss_every,
        }
    }

    /// The runs root.
    pub fn runs_root(&self) -> &Path {
        &self.runs_root
    }

    /// Runs stage `index` of `run` unless it is done (its dependency must be done); returns
    /// whether it trained.
    pub fn execute_stage(&mut self, run: &Run, index: usize) -> Result<bool> {
        let dir = store::stage_dir(&self.runs_root, run, index);
        if matches!(store::stage_state(&dir), StageState::Done(_)) {
            return Ok(false);
        }
        store::check_stage_paths(&dir)?;
        let _lock = store::StageLock::wait(
            &dir,
            |holder| {
                progress::log(&format!(
                    "{} is being run by {}: waiting for it",
                    dir.display(),
                    holder.describe()
                ));
            },
            super::signals::stop_requested,
        )?;
        // Checked again under the lock: another runner may have finished it meanwhile.
        match store::stage_state(&dir) {
            StageState::Done(_) => return Ok(false),
            StageState::Damaged(why) => {
                progress::log(&format!(
                    "warning: {}: {why}; training the stage again",
                    dir.display()
                ));
            }
            StageState::Missing => {}
        }
        let label = format!(
            "{} {} seed {}",
            run.row_name,
            stage_name(run, index),
            run.seed
        );
        if signals::stop_requested() {
            return Err(Error::Interrupted {
                label,
                epoch: 1,
                step: 0,
            });
        }
        let started = now_unix();
        let checkpoint = self.checkpoint_of(run, index, &dir);
        if let Some(c) = &checkpoint {
            let p = c.resume.position;
            progress::log(&format!(
                "{label}: continuing from its checkpoint (epoch {} step {})",
                p.epoch, p.step
            ));
        } else {
            // A folder without a verified summary or a usable checkpoint is a failed or
            // damaged attempt: start it afresh.
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(Error::io(&dir))?;
            }
            std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
            store::write_stage_spec(&dir, run, index)?;
        }
        let summary = match self.run_stage(run, index, &dir, checkpoint) {
            Ok(summary) => summary,
            Err(error @ Error::Interrupted { .. }) => return Err(error),
            Err(error) => {
                // Best effort: the error itself is what the caller must see.
                let _ = store::write_failure(&dir, &error);
                return Err(error);
            }
        };
        let provenance = Provenance {
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: self.git_commit.clone(),
            backend: self.backend.name(),
            threads: rayon::current_num_threads(),
            dataset: run.dataset.name().into(),
            data_checksum: run.dataset.checksum_id().into(),
            started_unix: started,
            finished_unix: now_unix(),
        };
        store::write_provenance(&dir, &provenance)?;
        debug_assert_eq!(summary.id, run.stages[index].id);
        store::write_summary(&dir, &summary)?;
        // Only now: a crash before the summary still finds the checkpoint.
        checkpoint::remove(&dir)?;
        Ok(true)
    }

    /// The checkpoint an interrupted attempt of the stage left, if it is usable: same stage
    /// config, readable files. An unusable one is reported and ignored.
    fn checkpoint_of(&self, run: &Run, index: usize, dir: &Path) -> Option<Checkpoint> {
        if !checkpoint::exists(dir) {
            return None;
        }
        let same_config = store::render_stage_spec(run, index)
            .ok()
            .zip(std::fs::read_to_string(dir.join(store::SPEC)).ok())
            .is_some_and(|(expected, found)| expected == found);
        if !same_config {
            progress::log(&format!(
                "warning: {}: its checkpoint is of another config; starting the stage afresh",
                dir.display()
            ));
            return None;
        }
        let device = self.device.clone().autodiff();
        let found = match checkpoint::read(dir, &owner(run, index), run.model, &device) {
            Ok(found) => found?,
            Err(e) => {
                progress::log(&format!("warning: {e}; starting the stage afresh"));
                return None;
            }
        };
        // The metrics it continues must all be there: a missing or cut `metrics.csv` would
        // leave the stage stuck or padded with NUL bytes.
        let metrics = dir.join(store::METRICS);
        let have = std::fs::metadata(&metrics).map(|m| m.len());
        let want = found.recorder.metrics_len;
        if !have.as_ref().is_ok_and(|&len| len >= want) {
            let what = match have {
                Ok(len) => format!("holds {len} bytes where its checkpoint recorded {want}"),
                Err(e) => format!("cannot be read ({e})"),
            };
            progress::log(&format!(
                "warning: {}: {what}; starting the stage afresh",
                metrics.display()
            ));
            return None;
        }
        Some(found)
    }

    fn dataset(&mut self, kind: DatasetKind, limits: &DataSpec) -> Result<Dataset> {
        let key = (kind, format!("{limits:?}"));
        if !self.datasets.contains_key(&key) {
            let loaded = data::load(&self.data_root, kind, limits, &self.device)?;
            self.datasets.insert(key.clone(), loaded);
        }
        Ok(self.datasets[&key].clone())
    }

    /// Runs stage `index` of `run` in `dir` and saves its model; the summary is the caller's
    /// to write.
    fn run_stage(
        &mut self,
        run: &Run,
        index: usize,
        dir: &Path,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Summary> {
        let stage = &run.stages[index];
        let (mut recorder, resume) = match checkpoint {
            Some(c) => (
                Recorder::resume(stage.kind, dir, &c.recorder)?,
                Some(c.resume),
            ),
            None => (Recorder::create(stage.kind, dir)?, None),
        };
        let mut out = StageOut {
            recorder: &mut recorder,
            dir,
            owner: owner(run, index),
            loss_every: self.loss_every,
        };
        let model = match &stage.config {
            StageConfig::Pretrain(config) => self.pretrain(run, stage, config, &mut out, resume)?,
            StageConfig::Import(config) => self.import(run, config, out.recorder)?,
            StageConfig::Train(config) => self.train(run, index, config, &mut out, resume)?,
            StageConfig::Prune(config) => self.prune(run, index, config, out.recorder)?,
            StageConfig::Retrain(config) => self.retrain(run, index, config, &mut out, resume)?,
        };
        let sparsity = stage
            .config
            .pruned_ratios()
            .map(|(ratios, _)| stats::measure(&model, ratios));
        let path = dir.join(store::MODEL);
        models::save(model.valid(), &path)?;
        Ok(Summary {
            stage: stage.kind.name().into(),
            id: stage.id.clone(),
            seed: run.seed,
            seconds_per_epoch: recorder.seconds_per_epoch(),
            metrics: recorder.finals,
            sparsity,
            files: BTreeMap::new(),
            digest: String::new(),
            code: super::provenance::code_fingerprint(run.model),
        })
    }

    /// Dense training from the seeded initialisation.
    fn pretrain(
        &mut self,
        run: &Run,
        stage: &Stage,
        config: &PretrainConfig,
        out: &mut StageOut,
        resume: Option<Resume>,
    ) -> Result<Net> {
        let init_seed = derive_seed(run.seed, StageKind::Pretrain, "init");
        let net = Net::seeded_with(
            config.model,
            config.init,
            &self.device.clone().autodiff(),
            init_seed,
        );
        let data = self.dataset(config.dataset, &config.data)?;
        let task = task_of(run, &data)?.with_dropout(config.budget.dropout);
        let settings = train_settings(run, stage, &config.budget, config.batch_size);
        let mut observer = out.observer(|_: &mut Recorder, _: &EpochRecord, _: &Net| Ok(()));
        let net = train::train(
            net,
            &data,
            &settings,
            &task,
            &mut Dense,
            &mut observer,
            resume,
        )?;
        out.recorder.set(
            Metric::AccDense,
            task.evaluate(&net.valid(), &data.test, run.test_batch_size)?,
        );
        Ok(net)
    }

    /// Dense weights from a PyTorch checkpoint.
    fn import(&mut self, run: &Run, config: &ImportConfig, recorder: &mut Recorder) -> Result<Net> {
        // Checked against the hash the stage id was made from: the file may have changed since
        // the spec was loaded.
        let checkpoint = &config.checkpoint;
        let bytes = std::fs::read(checkpoint).map_err(Error::io(checkpoint))?;
        if sha256_hex(&bytes) != config.checkpoint_sha256 {
            return Err(Error::Import {
                path: checkpoint.clone(),
                message: "changed while the spec was running; run again".into(),
            });
        }
        let net = models::import_pytorch(
            Net::init(config.model, &self.device.clone().autodiff()),
            config.model,
            checkpoint,
        )?;
        let data = self.dataset(config.dataset, &config.data)?;
        let task = task_of(run, &data)?;
        recorder.set(
            Metric::AccDense,
            task.evaluate(&net.valid(), &data.test, run.test_batch_size)?,
        );
        Ok(net)
    }

    /// The method's training towards sparsity, through the pruner the registry builds.
    fn train(
        &mut self,
        run: &Run,
        index: usize,
        config: &TrainConfig,
        out: &mut StageOut,
        resume: Option<Resume>,
    ) -> Result<Net> {
        let stage = &run.stages[index];
        let net = self.load_model(run, index - 1)?;
        let names: Vec<String> = config.ratios.keys().cloned().collect();
        let w0 = params::flat(&net, &names);
        let mut pruner =
            prune::train_pruner(&config.method, &config.ratios, config.count_rule, &w0)?;
        let data = self.dataset(run.dataset, &config.data)?;
        let task = task_of(run, &data)?.with_dropout(config.budget.dropout);
        let settings = train_settings(run, stage, &config.budget, config.batch_size);
        let projector = Magnitude {
            ratios: config.ratios.clone(),
            rule: config.count_rule,
        };
        let dir = out.dir.to_path_buf();
        let mut observer = out.observer(
            |recorder: &mut Recorder, record: &EpochRecord, model: &Net| {
                // Before the epoch's checkpoint: a resume from it finds the snapshot written
                // (and one from before rewrites the same bytes).
                if config.snapshots.contains(&record.epoch) {
                    models::save(model.valid(), &dir.join(store::snapshot_file(record.epoch)))?;
                }
                if config.hardprune_every_epoch {
                    // A hard-pruned copy; the model itself trains on untouched.
                    let copy = model.valid();
                    let masks = projector.masks(&copy)?;
                    let acc = task.evaluate(
                        &prune::apply_masks(copy, &masks),
                        &data.test,
                        run.test_batch_size,
                    )?;
                    recorder.set(Metric::AccHardpruneAt(record.epoch), acc);
                    recorder.row(record.epoch, Metric::AccHardprune, acc)?;
                }
                Ok(())
            },
        );
        let net = train::train(
            net,
            &data,
            &settings,
            &task,
            &mut *pruner,
            &mut observer,
            resume,
        )?;
        out.recorder.set(
            Metric::AccSoft,
            task.evaluate(&net.valid(), &data.test, run.test_batch_size)?,
        );
        Ok(net)
    }

    /// Hard pruning of the consumed weights (dense for magnitude pruning, the trained W for
    /// methods with a train stage, whose auxiliary variables are ignored) and its evaluation.
    fn prune(
        &mut self,
        run: &Run,
        index: usize,
        config: &PruneConfig,
        recorder: &mut Recorder,
    ) -> Result<Net> {
        let net = match config.from_epoch {
            None => self.load_model(run, index - 1)?,
            Some(epoch) => self.load_snapshot(run, index - 1, epoch)?,
        };
        let masks = Magnitude {
            ratios: config.ratios.clone(),
            rule: config.count_rule,
        }
        .masks(&net)?;
        let net = prune::apply_masks(net, &masks);
        stats::check_targets(
            &net,
            &config.ratios,
            config.count_rule,
            "after hard pruning",
        )?;
        let data = self.dataset(run.dataset, &config.data)?;
        let task = task_of(run, &data)?;
        let eval = task.evaluate_detail(&net.valid(), &data.test, run.test_batch_size)?;
        recorder.set(Metric::AccHardprune, eval.score);
        recorder.row(0, Metric::AccHardprune, eval.score)?;
        if let Some((fp, fn_)) = eval.false_rates {
            recorder.set(Metric::LaneFpHardprune, fp);
            recorder.set(Metric::LaneFnHardprune, fn_);
        }
        if let Some(map) = eval.map_50_95 {
            recorder.set(Metric::MapHardprune, map);
        }
        Ok(net)
    }

    /// Masked retraining of the pruned model.
    fn retrain(
        &mut self,
        run: &Run,
        index: usize,
        config: &RetrainConfig,
        out: &mut StageOut,
        resume: Option<Resume>,
    ) -> Result<Net> {
        let stage = &run.stages[index];
        let net = self.load_model(run, index - 1)?;
        let names: Vec<String> = config.ratios.keys().cloned().collect();
        let mut pruner = MaskedRetrain::from_model(&net, &names);
        if config.mask == RetrainMask::Reference {
            pruner = pruner.freezing_at_percentile(config.ratios.clone());
        }
        let data = self.dataset(run.dataset, &config.data)?;
        let task = task_of(run, &data)?.with_dropout(config.budget.dropout);
        let settings = train_settings(run, stage, &config.budget, config.batch_size);
        let net = train::train(
            net,
            &data,
            &settings,
            &task,
            &mut pruner,
            &mut out.observer(|recorder: &mut Recorder, record: &EpochRecord, _: &Net| {
                recorder.set(Metric::AccRetrainAt(record.epoch), record.test_acc);
                Ok(())
            }),
            resume,
        )?;
        stats::check_targets(
            &net,
            &config.ratios,
            config.count_rule,
            "after masked retraining",
        )?;
        let eval = task.evaluate_detail(&net.valid(), &data.test, run.test_batch_size)?;
        out.recorder.set(Metric::AccRetrain, eval.score);
        if let Some((fp, fn_)) = eval.false_rates {
            out.recorder.set(Metric::LaneFpRetrain, fp);
            out.recorder.set(Metric::LaneFnRetrain, fn_);
        }
        if let Some(map) = eval.map_50_95 {
            out.recorder.set(Metric::MapRetrain, map);
        }
        Ok(net)
    }

    /// Loads the output model of stage `index` of `run` onto the training device.
    fn load_model(&self, run: &Run, index: usize) -> Result<Net> {
        let path = store::stage_dir(&self.runs_root, run, index).join(store::MODEL);
        self.load_file(run, &path)
    }

    /// Loads the model training stage `index` of `run` kept after `epoch`.
    fn load_snapshot(&self, run: &Run, index: usize, epoch: usize) -> Result<Net> {
        let dir = store::stage_dir(&self.runs_root, run, index);
        let path = dir.join(store::snapshot_file(epoch));
        if !path.exists() {
            // Its summary verified every file it wrote, so the snapshot was never kept: it was
            // asked for after the stage had passed that epoch.
            return Err(Error::Corrupt {
                path: dir,
                message: format!(
                    "the training stage finished without keeping epoch {epoch} (a row asked for \
                     the snapshot after the stage had passed it); delete the folder to train it \
                     again with the snapshot"
                ),
            });
        }
        self.load_file(run, &path)
    }

    fn load_file(&self, run: &Run, path: &Path) -> Result<Net> {
        Net::init(run.model, &self.device.clone().autodiff())
            .try_load_file(path)
            .map_err(|e| Error::Corrupt {
                path: path.to_path_buf(),
                message: format!("cannot load model ({e}); delete the stage folder to rerun it"),
            })
    }
}

/// Where a training stage records: its recorder and folder, and whose checkpoints it writes.
struct StageOut<'a> {
    recorder: &'a mut Recorder,
    dir: &'a Path,
    owner: checkpoint::Owner,
    /// Steps between training losses recorded for TensorBoard (0: none).
    loss_every: usize,
}

impl StageOut<'_> {
    /// An observer that records each epoch, runs `after_epoch` on it and keeps checkpoints.
    fn observer<F>(&mut self, after_epoch: F) -> StageObserver<'_, F>
    where
        F: FnMut(&mut Recorder, &EpochRecord, &Net) -> Result<()>,
    {
        StageObserver {
            recorder: self.recorder,
            dir: self.dir,
            owner: &self.owner,
            loss_every: self.loss_every,
            after_epoch,
        }
    }
}

/// A training stage's [`Observer`].
struct StageObserver<'a, F> {
    recorder: &'a mut Recorder,
    dir: &'a Path,
    owner: &'a checkpoint::Owner,
    loss_every: usize,
    after_epoch: F,
}

impl<F> Observer for StageObserver<'_, F>
where
    F: FnMut(&mut Recorder, &EpochRecord, &Net) -> Result<()>,
{
    /// Every `loss_every` steps, the step's loss, from the loop's own batched reads (no read
    /// of its own).
    fn losses(&mut self, read: &[StepLoss]) -> Result<()> {
        if self.loss_every == 0 {
            return Ok(());
        }
        for step in read
            .iter()
            .filter(|s| s.taken.is_multiple_of(self.loss_every))
        {
            self.recorder.step_loss(step.epoch, step.taken, step.loss)?;
        }
        Ok(())
    }

    fn epoch(&mut self, record: &EpochRecord, model: &Net) -> Result<()> {
        self.recorder.epoch(record)?;
        (self.after_epoch)(self.recorder, record, model)
    }

    fn checkpoint(&mut self, snapshot: Snapshot) -> Result<()> {
        checkpoint::write(self.dir, self.owner, &snapshot, &self.recorder.state()?)
    }

    fn stop_requested(&self) -> bool {
        signals::stop_requested()
    }
}

/// Whose checkpoints stage `index` of `run` writes and resumes.
fn owner(run: &Run, index: usize) -> checkpoint::Owner {
    checkpoint::Owner {
        stage: stage_name(run, index).to_owned(),
        id: run.stages[index].id.clone(),
        seed: run.seed,
    }
}

fn stage_name(run: &Run, index: usize) -> &'static str {
    run.stages[index].kind.name()
}

/// The task `run`'s model is trained at, its loss on the data's device.
fn task_of(run: &Run, data: &Dataset) -> Result<ModelTask> {
    ModelTask::of(run.model, &data.train.device())
}

/// Training settings of `stage`, shuffling from (seed, stage, "shuffle").
fn train_settings<'a>(
    run: &Run,
    stage: &Stage,
    budget: &'a BudgetSpec,
    batch_size: usize,
) -> TrainSettings<'a> {
    TrainSettings {
        budget,
        batch_size,
        test_batch_size: run.test_batch_size,
        shuffle_seed: derive_seed(run.seed, stage.kind, "shuffle"),
        fixed_batches: false,
        label: format!("{} {} seed {}", run.row_name, stage.kind.name(), run.seed),
    }
}
