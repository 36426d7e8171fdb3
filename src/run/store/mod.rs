//! The run-folder layout, in one place: where a stage's folder is
//! (`<runs>/<kind>-<id>/seed-<seed>/`) and what it holds: `spec.toml`, `provenance.json`,
//! `metrics.csv` (written here, read here), `model.bpk`, `failed.txt` after a failed attempt,
//! and `summary.json`, written last and atomically; its presence means "done". Folders inside
//! it (`checkpoint/`, `tensorboard/`) are not the stage's outputs and its summary does not hash
//! them.

pub mod checkpoint;
pub mod events;
mod lock;
mod metrics_file;

pub use lock::{Holder, StageLock, holder};
pub use metrics_file::{MetricRow, MetricsFile, read_metrics};

use super::provenance::Provenance;
use crate::base::files::is_temporary;
use crate::base::{sha256_hex, write_atomic};
use crate::error::{Error, Result};
use crate::prune::stats::SparsityReport;
use crate::spec::Run;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// The model a training stage kept after `epoch` (`train.snapshots`), beside its final
/// `model.bpk`; hashed into the summary like every file of the folder.
pub fn snapshot_file(epoch: usize) -> String {
    format!("model-epoch-{epoch}.bpk")
}

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
    let text = render_stage_spec(run, index)?;
    write_atomic(&dir.join(SPEC), text.as_bytes())
}

/// The text of a stage's `spec.toml`.
pub fn render_stage_spec(run: &Run, index: usize) -> Result<String> {
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
    toml::to_string_pretty(&table)
        .map_err(|e| Error::RunFailed(format!("cannot render stage config: {e}")))
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
    #[serde(with = "crate::base::float::map")]
    pub metrics: BTreeMap<String, f64>,
    /// Sparsity of the stage's output model, for pruning stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparsity: Option<SparsityReport>,
    /// Mean seconds per training epoch (0 when the stage does not train).
    #[serde(with = "crate::base::float")]
    pub seconds_per_epoch: f64,
    /// SHA-256 of every other file the stage wrote, by name (filled in by [`write_summary`];
    /// empty in summaries written before files were recorded).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// SHA-256 of the summary's own text with this value replaced by [`DIGEST_PLACEHOLDER`]
    /// (filled in by [`write_summary`]; empty in summaries written before summaries hashed
    /// themselves), so an edited summary is caught. The text, not a re-serialisation, is
    /// hashed: a float read back need not print the same.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Fingerprint of the code that computed it (`provenance::code_fingerprint`); empty in
    /// summaries written before it was recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code: String,
}

impl Summary {
    /// Whether other code than this build's computed it for a stage of `model` (or it does not
    /// say which).
    pub fn is_stale(&self, model: crate::catalog::ModelKind) -> bool {
        self.code != crate::run::provenance::code_fingerprint(model)
    }

    /// Why its numbers cannot be right, if they cannot: a percentage outside [0, 100] or not a
    /// number, negative seconds.
    fn implausible(&self) -> Option<String> {
        for (key, value) in &self.metrics {
            let percent = crate::metrics::Metric::parse(key).is_some_and(|m| m.is_percent());
            if percent && !(0.0..=100.0).contains(value) {
                return Some(format!("metric `{key}` is {value}, not a percentage"));
            }
        }
        if self.seconds_per_epoch.is_nan() || self.seconds_per_epoch < 0.0 {
            return Some(format!(
                "seconds_per_epoch is {}, not a duration",
                self.seconds_per_epoch
            ));
        }
        None
    }
}

/// What a summary's digest stands in for while it is hashed (64 zeros: no SHA-256 a summary
/// holds elsewhere is likely to be it).
const DIGEST_PLACEHOLDER: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a stage folder holds.
#[derive(Debug, Clone, PartialEq)]
pub enum StageState {
    /// Finished, every recorded file intact.
    Done(Summary),
    /// Not finished (no summary).
    Missing,
    /// A summary that cannot be trusted: unreadable, or a file it records is missing or
    /// differs from what the stage wrote. The reason names the file.
    Damaged(String),
}

/// Reads and verifies a stage folder.
pub fn stage_state(dir: &Path) -> StageState {
    let path = dir.join(SUMMARY);
    let text = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return StageState::Missing,
        Err(e) => return StageState::Damaged(format!("{SUMMARY} cannot be read ({e})")),
    };
    let summary: Summary = match serde_json::from_slice(&text) {
        Ok(summary) => summary,
        Err(e) => return StageState::Damaged(format!("{SUMMARY} is unreadable ({e})")),
    };
    if summary.files.is_empty() {
        // Written before summaries recorded their files: nothing proves its outputs.
        return StageState::Damaged(format!(
            "{SUMMARY} records no file hashes (an earlier release wrote it), so its outputs \
             cannot be verified"
        ));
    }
    let text = String::from_utf8_lossy(&text);
    if !summary.digest.is_empty()
        && sha256_hex(
            text.replacen(&summary.digest, DIGEST_PLACEHOLDER, 1)
                .as_bytes(),
        ) != summary.digest
    {
        return StageState::Damaged(format!(
            "{SUMMARY} was changed after the stage wrote it (its digest differs)"
        ));
    }
    if let Some(why) = summary.implausible() {
        return StageState::Damaged(format!("{SUMMARY}: {why}"));
    }
    for (name, expected) in &summary.files {
        match std::fs::read(dir.join(name)) {
            Ok(bytes) if sha256_hex(&bytes) == *expected => {}
            Ok(_) => {
                return StageState::Damaged(format!(
                    "{name} differs from what the stage wrote (SHA-256 mismatch)"
                ));
            }
            Err(e) => return StageState::Damaged(format!("{name} cannot be read ({e})")),
        }
    }
    StageState::Done(summary)
}

/// Refuses (exit 2, naming the path and what to do) a stage folder or its parent that is a
/// file, or a lock path that is a folder: slr never makes them, nothing it could do with them
/// is safe, and left alone they failed every rerun.
pub fn check_stage_paths(dir: &Path) -> Result<()> {
    let lock = lock::lock_path(dir);
    let wrong = |path: &Path, is: &str, should: &str| Error::Corrupt {
        path: path.to_owned(),
        message: format!(
            "is {is} where slr keeps {should}; move or remove it, then run the same command again"
        ),
    };
    if let Some(parent) = dir.parent()
        && parent.is_file()
    {
        return Err(wrong(parent, "a file", "a stage's folder"));
    }
    if dir.is_file() {
        return Err(wrong(dir, "a file", "the stage's folder for one seed"));
    }
    if lock.is_dir() {
        return Err(wrong(&lock, "a folder", "the stage's lock file"));
    }
    Ok(())
}

/// Stage states, each folder read and verified once: a plan lists a shared stage (the dense
/// pretrain) in every run that consumes it, and verifying a stage hashes all its files.
#[derive(Debug, Default)]
pub struct StageStates(std::collections::HashMap<PathBuf, StageState>);

impl StageStates {
    /// The state of the stage folder `dir`, read on first use.
    pub fn of(&mut self, dir: &Path) -> &StageState {
        self.0
            .entry(dir.to_owned())
            .or_insert_with(|| stage_state(dir))
    }
}

/// Reads a finished stage's verified summary; `None` when the stage has not finished, an
/// error naming the file when it is damaged.
pub fn read_summary(dir: &Path) -> Result<Option<Summary>> {
    match stage_state(dir) {
        StageState::Done(summary) => Ok(Some(summary)),
        StageState::Missing => Ok(None),
        StageState::Damaged(why) => Err(Error::Corrupt {
            path: dir.to_owned(),
            message: format!("{why}; `slr reproduce` trains the stage again"),
        }),
    }
}

/// Writes the summary last, atomically, with the SHA-256 of every other file in `dir`; a
/// temporary file left by a killed write is removed, never hashed.
pub fn write_summary(dir: &Path, summary: &Summary) -> Result<()> {
    let mut summary = summary.clone();
    summary.files.clear();
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_temporary(&name) {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        if name == SUMMARY || name == FAILED || !entry.path().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(Error::io(entry.path()))?;
        summary.files.insert(name, sha256_hex(&bytes));
    }
    summary.digest = DIGEST_PLACEHOLDER.into();
    let json = serde_json::to_string_pretty(&summary).expect("summaries serialise");
    let digest = sha256_hex(json.as_bytes());
    let json = json.replacen(DIGEST_PLACEHOLDER, &digest, 1);
    write_atomic(&dir.join(SUMMARY), json.as_bytes())
}
