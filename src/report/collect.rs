//! Run folders -> two Polars frames: `results` (one row per run = spec row x seed, with a
//! status, so missing and failed runs are rows, not gaps) and `epochs` (tidy per-epoch metrics
//! of every finished stage). Tables and figures are rendered from these frames only.

use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::{Net, params};
use crate::prune::projection;
use crate::run::provenance::Provenance;
use crate::run::store::{self, FailureKind, StageState, StageStates};
use crate::spec::{CountRule, ModelKind, Plan, RowSpec, Run, StageConfig};
use polars::prelude::{Column as PlColumn, DataFrame, NamedFrom, Series};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// What happened to one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every stage finished.
    Done,
    /// Some stages have not run yet.
    Pending,
    /// A stage failed (see the reason).
    Failed,
    /// Training produced a non-finite loss or metric.
    Diverged,
    /// The run cannot run in this setting (see the reason).
    NotRun,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 5] = [
        Status::Done,
        Status::Pending,
        Status::Failed,
        Status::Diverged,
        Status::NotRun,
    ];

    /// The status of a frame name.
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Its name in the frame.
    pub fn name(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Pending => "pending",
            Status::Failed => "failed",
            Status::Diverged => "diverged",
            Status::NotRun => "not-run",
        }
    }
}

/// The two frames of a spec's runs.
#[derive(Debug, Clone)]
pub struct Collected {
    /// One row per run: identity, status, reason, provenance and every final metric.
    pub results: DataFrame,
    /// Columns `row, method, seed, stage, stage_id, epoch, metric, value`.
    pub epochs: DataFrame,
}

/// Final metric columns of `results` that are not named by summaries.
pub const SPARSITY_COLUMNS: [Metric; 3] = [
    Metric::CompressionPrunedLayers,
    Metric::CompressionReference,
    Metric::SparsityGlobal,
];

/// One (row, seed)'s findings before they become a frame row.
struct RunRecord {
    row: usize,
    seed: u64,
    status: Status,
    reason: String,
    target: Option<f64>,
    retrain_epochs: Option<u32>,
    /// Epochs of the method's training before pruning (`None`: the method does not train).
    train_epochs: Option<u32>,
    metrics: BTreeMap<String, f64>,
    provenance: Option<Provenance>,
    /// The distinct commits and code fingerprints of its finished stages, in stage order: a run
    /// whose stages came from different code shows each.
    commits: Vec<String>,
    codes: Vec<String>,
    /// A finished stage of it was computed by other code than this build.
    stale: bool,
}

/// Per-epoch rows, column by column.
#[derive(Default)]
struct EpochColumns {
    row: Vec<String>,
    method: Vec<String>,
    seed: Vec<u64>,
    stage: Vec<String>,
    stage_id: Vec<String>,
    epoch: Vec<u32>,
    metric: Vec<String>,
    value: Vec<f64>,
}

/// Reads every run of `plan` from `runs_root`; `data_root` decides which unfinished runs
/// cannot run (data set absent). Rows the profile does not select are `not-run` rows.
pub fn collect(plan: &Plan, runs_root: &Path, data_root: &Path) -> Result<Collected> {
    let mut targets = TargetCompression::default();
    let mut states = StageStates::default();
    let mut records = Vec::new();
    let mut epochs = EpochColumns::default();
    for (index, row) in plan.spec.rows.iter().enumerate() {
        if let Some(reason) = plan.spec.why_not_run(row) {
            // Not resolved into runs: one not-run row per seed, from the spec alone.
            let shapes_known = row.model.buildable();
            for &seed in &row.seeds {
                records.push(RunRecord {
                    row: index,
                    seed,
                    status: Status::NotRun,
                    reason: reason.clone(),
                    target: row
                        .sparsity
                        .as_ref()
                        .filter(|_| shapes_known)
                        .map(|sparsity| {
                            let ratios = crate::spec::layer_ratios(row.model, sparsity);
                            targets.of(row.model, &ratios, sparsity.count_rule)
                        }),
                    retrain_epochs: row.method.prunes().then_some(row.retrain.epochs as u32),
                    train_epochs: row.train_budget().map(|e| e as u32),
                    metrics: BTreeMap::new(),
                    provenance: None,
                    commits: Vec::new(),
                    codes: Vec::new(),
                    stale: false,
                });
            }
            continue;
        }
        for run in plan.runs.iter().filter(|r| r.row == index) {
            records.push(read_run(
                run,
                row,
                runs_root,
                data_root,
                &mut targets,
                &mut epochs,
                &mut states,
            )?);
        }
    }

    let metric_names: BTreeSet<String> = records
        .iter()
        .flat_map(|r| r.metrics.keys().cloned())
        .collect();
    let rows = |f: &dyn Fn(&RowSpec) -> String| -> Vec<String> {
        records.iter().map(|r| f(&plan.spec.rows[r.row])).collect()
    };
    let provenance = |f: &dyn Fn(&Provenance) -> String| -> Vec<Option<String>> {
        records
            .iter()
            .map(|r| r.provenance.as_ref().map(f))
            .collect()
    };
    let of = |f: &dyn Fn(&RunRecord) -> String| -> Vec<String> { records.iter().map(f).collect() };
    // Null for a run with no finished stage.
    let joined = |f: &dyn Fn(&RunRecord) -> &Vec<String>| -> Vec<Option<String>> {
        records
            .iter()
            .map(|r| r.provenance.as_ref().map(|_| f(r).join("+")))
            .collect()
    };
    let mut columns = vec![
        col("row", rows(&|r| r.name.clone())),
        col(
            "row_index",
            records.iter().map(|r| r.row as u32).collect::<Vec<_>>(),
        ),
        col("group", rows(&|r| r.group.clone())),
        col("model", rows(&|r| r.model.name().to_owned())),
        col("dataset", rows(&|r| r.dataset.name().to_owned())),
        col("method", rows(&|r| r.method.name().name().to_owned())),
        col("method_label", rows(&|r| r.method.label())),
        col("seed", records.iter().map(|r| r.seed).collect::<Vec<_>>()),
        col(
            "seeds_planned",
            records
                .iter()
                .map(|r| plan.spec.rows[r.row].seeds.len() as u32)
                .collect::<Vec<_>>(),
        ),
        col("status", of(&|r| r.status.name().to_owned())),
        col("reason", of(&|r| r.reason.clone())),
        col(
            "stale",
            records
                .iter()
                .map(|r| u32::from(r.stale))
                .collect::<Vec<_>>(),
        ),
        col(
            "target.compression",
            records.iter().map(|r| r.target).collect::<Vec<_>>(),
        ),
        col(
            "retrain.epochs",
            records.iter().map(|r| r.retrain_epochs).collect::<Vec<_>>(),
        ),
        col(
            "train.epochs",
            records.iter().map(|r| r.train_epochs).collect::<Vec<_>>(),
        ),
        col("version", provenance(&|p| p.version.clone())),
        col("commit", joined(&|r| &r.commits)),
        col("code", joined(&|r| &r.codes)),
        col("backend", provenance(&|p| p.backend.clone())),
        col(
            "finished_unix",
            records
                .iter()
                .map(|r| r.provenance.as_ref().map(|p| p.finished_unix))
                .collect::<Vec<_>>(),
        ),
    ];
    for name in &metric_names {
        let values: Vec<Option<f64>> = records
            .iter()
            .map(|r| r.metrics.get(name).copied())
            .collect();
        columns.push(col(name, values));
    }
    let results = DataFrame::new_infer_height(columns).map_err(frame_error)?;
    let epochs = DataFrame::new_infer_height(vec![
        col("row", epochs.row),
        col("method", epochs.method),
        col("seed", epochs.seed),
        col("stage", epochs.stage),
        col("stage_id", epochs.stage_id),
        col("epoch", epochs.epoch),
        col("metric", epochs.metric),
        col("value", epochs.value),
    ])
    .map_err(frame_error)?;
    Ok(Collected { results, epochs })
}

/// The state, final metrics and per-epoch metrics of one resolved run.
fn read_run(
    run: &Run,
    row: &RowSpec,
    runs_root: &Path,
    data_root: &Path,
    targets: &mut TargetCompression,
    epochs: &mut EpochColumns,
    states: &mut StageStates,
) -> Result<RunRecord> {
    let mut record = RunRecord {
        row: run.row,
        seed: run.seed,
        status: Status::Done,
        reason: String::new(),
        target: None,
        retrain_epochs: None,
        train_epochs: row.train_budget().map(|e| e as u32),
        metrics: BTreeMap::new(),
        provenance: None,
        commits: Vec::new(),
        codes: Vec::new(),
        stale: false,
    };
    for stage in &run.stages {
        match &stage.config {
            StageConfig::Prune(c) => {
                record.target = Some(targets.of(run.model, &c.ratios, c.count_rule))
            }
            StageConfig::Retrain(c) => record.retrain_epochs = Some(c.budget.epochs as u32),
            _ => {}
        }
    }
    let label = row.method.label();
    let mut finished = 0;
    for (index, stage) in run.stages.iter().enumerate() {
        let dir = store::stage_dir(runs_root, run, index);
        let summary = match states.of(&dir) {
            StageState::Done(summary) => {
                record.stale |= summary.is_stale(run.model);
                summary.clone()
            }
            StageState::Damaged(why) => {
                let why = why.clone();
                // Never used: reported as pending, and `reproduce` trains it again.
                eprintln!(
                    "warning: {}: {why}; not used (`slr reproduce` trains the stage again)",
                    dir.display()
                );
                record.reason = format!("damaged stage: {why}");
                break;
            }
            StageState::Missing => {
                if let Some(failure) = store::read_failure(&dir) {
                    record.status = match failure.kind {
                        FailureKind::Diverged => Status::Diverged,
                        FailureKind::Failed => Status::Failed,
                    };
                    record.reason = failure.reason;
                }
                break;
            }
        };
        finished += 1;
        if let Some(s) = &summary.sparsity {
            let values = [
                s.compression_pruned_layers,
                s.compression_reference,
                s.global,
            ];
            for (metric, value) in SPARSITY_COLUMNS.into_iter().zip(values) {
                record.metrics.insert(metric.key(), value);
            }
        }
        record.metrics.extend(summary.metrics);
        let provenance = store::read_provenance(&dir)?;
        push_distinct(&mut record.commits, &provenance.git_commit);
        push_distinct(&mut record.codes, &summary.code);
        record.provenance = Some(provenance);
        read_epochs(&dir, run, &label, &stage.id, epochs)?;
    }
    if let Some(epoch) = row.pruned_snapshot() {
        // The shared training's summary describes its last epoch; this run pruned an earlier
        // one, so what the training measured after it is not this run's.
        record.metrics.retain(|key, _| match Metric::parse(key) {
            Some(Metric::AccSoft) => false,
            Some(Metric::AccHardpruneAt(n)) => n <= epoch,
            _ => true,
        });
    }
    if finished < run.stages.len() && record.status == Status::Done {
        record.status = Status::Pending;
        if let Some(reason) = run.dataset.unavailable(data_root) {
            record.status = Status::NotRun;
            record.reason = reason;
        }
    }
    if record.status == Status::Done && record.metrics.values().any(|v| !v.is_finite()) {
        record.status = Status::Diverged;
        record.reason = "a final metric is not finite".into();
    }
    Ok(record)
}

/// Appends `value` unless it is already the list's.
fn push_distinct(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_owned());
    }
}

fn col<T, P: ?Sized>(name: &str, values: T) -> PlColumn
where
    Series: NamedFrom<T, P>,
{
    PlColumn::from(Series::new(name.into(), values))
}

/// A Polars error, which only a bug can cause here (columns are built with equal lengths).
pub fn frame_error(e: polars::prelude::PolarsError) -> Error {
    Error::RunFailed(format!("building a result frame: {e}"))
}

/// Appends a finished stage's `metrics.csv` rows of epochs and stages (the per-step losses are
/// for TensorBoard).
fn read_epochs(
    dir: &Path,
    run: &Run,
    label: &str,
    stage_id: &str,
    out: &mut EpochColumns,
) -> Result<()> {
    for row in store::read_metrics(dir)?
        .into_iter()
        .filter(|r| r.step == 0)
    {
        out.row.push(run.row_name.clone());
        out.method.push(label.to_owned());
        out.seed.push(run.seed);
        out.stage.push(row.stage);
        out.stage_id.push(stage_id.to_owned());
        out.epoch.push(row.epoch);
        out.metric.push(row.metric);
        out.value.push(row.value);
    }
    Ok(())
}

/// Target `compression.pruned_layers` of a run's prune stage, from the layer sizes of its
/// model (one throw-away model per architecture).
#[derive(Default)]
struct TargetCompression {
    shapes: HashMap<ModelKind, Vec<(String, Vec<usize>)>>,
}

impl TargetCompression {
    fn of(&mut self, model: ModelKind, ratios: &BTreeMap<String, f64>, rule: CountRule) -> f64 {
        let shapes = self
            .shapes
            .entry(model)
            .or_insert_with(|| params::shapes(&Net::init(model, &burn::tensor::Device::flex())));
        target_compression(shapes, ratios, rule)
    }
}

fn target_compression(
    shapes: &[(String, Vec<usize>)],
    ratios: &BTreeMap<String, f64>,
    rule: CountRule,
) -> f64 {
    let (mut total, mut kept) = (0usize, 0usize);
    for (name, shape) in shapes {
        if let Some(ratio) = ratios.get(name) {
            let n: usize = shape.iter().product();
            total += n;
            kept += projection::keep_count(n, *ratio, rule);
        }
    }
    if kept == 0 {
        f64::INFINITY
    } else {
        total as f64 / kept as f64
    }
}
