//! The run-folder layout, in one place: where a stage's folder is
//! (`<runs>/<kind>-<id>/seed-<seed>/`) and what it holds: `spec.toml`, `provenance.json`,
//! `metrics.csv` (written here, read here), `model.bpk`, `failed.txt` after a failed attempt,
//! and `summary.json`, written last and atomically; its presence means "done".

use super::provenance::Provenance;
use crate::base::write_atomic;
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::prune::stats::SparsityReport;
use crate::spec::{Run, StageKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File names inside a stage folder.
pub const SUMMARY: &str = "summary.json";
/// Weights of the stage's output model (burnpack).
pub const MODEL: &str = "model.bpk";
/// Long-format per-epoch metrics.
pub const METRICS: &str = "metrics.csv";
/// The error of a failed attempt (no summary then).
pub const FAILED: &str = "failed.txt";
/// The stage's resolved config.
pub const SPEC: &str = "spec.toml";
/// What produced the stage.
pub const PROVENANCE: &str = "provenance.json";

/// The folder of stage `index` of `run` under `runs_root`.
pub fn stage_dir(runs_root: &Path, run: &Run, index: usize) -> PathBuf {
    runs_root
        .join(run.stages[index].folder_name())
        .join(format!("seed-{}", run.seed))
}

/// How an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Training produced a non-finite loss.
    Diverged,
    /// Any other error.
    Failed,
}

/// Why the last attempt of a stage failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Its kind.
    pub kind: FailureKind,
    /// The error's first line.
    pub reason: String,
}

/// First line of `failed.txt`: the kind, so readers need not search the message.
const DIVERGED_TAG: &str = "kind: diverged";
const FAILED_TAG: &str = "kind: failed";

/// Records a failed attempt: its kind, then the error (kept for the report; the next attempt
/// starts afresh).
pub fn write_failure(dir: &Path, error: &Error) -> Result<()> {
    let tag = match error {
        Error::Diverged { .. } => DIVERGED_TAG,
        _ => FAILED_TAG,
    };
    let path = dir.join(FAILED);
    std::fs::write(&path, format!("{tag}\n{error}")).map_err(Error::io(&path))
}

/// Why the last attempt of a stage failed, if it did and has not been redone since. Files
/// written before the kind line existed hold only the message; a diverged run said so in it.
pub fn read_failure(dir: &Path) -> Option<Failure> {
    let text = std::fs::read_to_string(dir.join(FAILED)).ok()?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let (kind, reason) = match first {
        DIVERGED_TAG => (FailureKind::Diverged, lines.next().unwrap_or_default()),
        FAILED_TAG => (FailureKind::Failed, lines.next().unwrap_or_default()),
        legacy if legacy.contains("diverged") => (FailureKind::Diverged, legacy),
        legacy => (FailureKind::Failed, legacy),
    };
    Some(Failure {
        kind,
        reason: reason.to_owned(),
    })
}

/// Writes `provenance.json`.
pub fn write_provenance(dir: &Path, provenance: &Provenance) -> Result<()> {
    let json = serde_json::to_string_pretty(provenance).expect("serialises");
    write_atomic(&dir.join(PROVENANCE), json.as_bytes())
}

/// Reads `provenance.json` of a finished stage.
pub fn read_provenance(dir: &Path) -> Result<Provenance> {
    let path = dir.join(PROVENANCE);
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt {
        path,
        message: format!("unreadable provenance ({e}); delete the folder to rerun the stage"),
    })
}

/// Writes `spec.toml`: the stage's resolved config, the folder it consumes and the seed.
pub fn write_stage_spec(dir: &Path, run: &Run, index: usize) -> Result<()> {
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
    write_atomic(&dir.join(SPEC), text.as_bytes())
}

/// An exclusive claim on one stage folder (`<folder>.lock` beside it, holding the pid), so
/// two `slr` processes never train the same stage at once. Released on drop.
#[derive(Debug)]
pub struct StageLock(PathBuf);

impl StageLock {
    /// Claims `dir`; a lock left by a process that no longer exists is taken over.
    pub fn acquire(dir: &Path) -> Result<StageLock> {
        let path = dir.with_extension("lock");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(StageLock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let alive = holder
                        .trim()
                        .parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if alive {
                        return Err(Error::RunFailed(format!(
                            "{} is being run by process {} (lock {}); wait for it to finish",
                            dir.display(),
                            holder.trim(),
                            path.display()
                        )));
                    }
                    // Stale: its process died.
                    std::fs::remove_file(&path).map_err(Error::io(&path))?;
                }
                Err(e) => return Err(Error::io(&path)(e)),
            }
        }
        Err(Error::RunFailed(format!("cannot lock {}", path.display())))
    }
}

impl Drop for StageLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Final results of one stage at one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `pretrain`, `prune` or `retrain`.
    pub stage: String,
    /// Stage id.
    pub id: String,
    /// Spec seed.
    pub seed: u64,
    /// Named metrics, e.g. `acc.dense`, `acc.hardprune`, `acc.retrain@3`.
    pub metrics: BTreeMap<String, f64>,
    /// Sparsity of the stage's output model, for pruning stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparsity: Option<SparsityReport>,
    /// Mean seconds per training epoch (0 when the stage does not train).
    pub seconds_per_epoch: f64,
}

/// Reads a stage's summary; `None` when the stage has not finished.
pub fn read_summary(dir: &Path) -> Result<Option<Summary>> {
    let path = dir.join(SUMMARY);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Corrupt {
            path,
            message: format!("unreadable summary ({e}); delete the folder to rerun the stage"),
        })
}

/// Writes the summary last, atomically.
pub fn write_summary(dir: &Path, summary: &Summary) -> Result<()> {
    let json = serde_json::to_string_pretty(summary).expect("summaries serialise");
    write_atomic(&dir.join(SUMMARY), json.as_bytes())
}

/// Appends rows `stage,epoch,step,metric,value` to `metrics.csv`, flushing each call.
pub struct MetricsFile {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsFile {
    /// Creates (truncates) the file with its header.
    pub fn create(dir: &Path) -> Result<MetricsFile> {
        let path = dir.join(METRICS);
        let mut file = std::fs::File::create(&path).map_err(Error::io(&path))?;
        writeln!(file, "stage,epoch,step,metric,value").map_err(Error::io(&path))?;
        Ok(MetricsFile { path, file })
    }

    /// Appends one metric value.
    pub fn record(
        &mut self,
        stage: StageKind,
        epoch: usize,
        step: usize,
        metric: Metric,
        value: f64,
    ) -> Result<()> {
        let stage = stage.name();
        writeln!(self.file, "{stage},{epoch},{step},{metric},{value}")
            .map_err(Error::io(&self.path))?;
        self.file.flush().map_err(Error::io(&self.path))
    }
}

/// One row of a `metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Stage column (the stage kind's name).
    pub stage: String,
    /// 1-based epoch (0 for a value of the stage as a whole).
    pub epoch: u32,
    /// The metric's key.
    pub metric: String,
    /// Its value.
    pub value: f64,
}

/// Reads a finished stage's `metrics.csv`; stages that do not train may have none (empty).
pub fn read_metrics(dir: &Path) -> Result<Vec<MetricRow>> {
    let path = dir.join(METRICS);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    let mut rows = Vec::new();
    for (number, line) in text.lines().enumerate().skip(1) {
        let corrupt = |what: &str| Error::Corrupt {
            path: path.clone(),
            message: format!(
                "line {}: {what} in `{line}`; delete the stage folder to rerun it",
                number + 1
            ),
        };
        let fields: Vec<&str> = line.split(',').collect();
        let [stage, epoch, _step, metric, value] = fields[..] else {
            return Err(corrupt("expected 5 fields"));
        };
        rows.push(MetricRow {
            stage: stage.to_owned(),
            epoch: epoch.parse().map_err(|_| corrupt("bad epoch"))?,
            metric: metric.to_owned(),
            value: value.parse().map_err(|_| corrupt("bad value"))?,
        });
    }
    Ok(rows)
}
