//! What a stage folder holds: `spec.toml`, `provenance.json`, `metrics.csv`, `model.bpk` and
//! `summary.json`, written last and atomically; its presence means "done".

use crate::error::{Error, Result};
use crate::prune::stats::SparsityReport;
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

/// Why the last attempt of a stage failed, if it did and has not been redone since.
pub fn read_failure(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(FAILED)).ok()
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

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&tmp).map_err(Error::io(&tmp))?;
        file.write_all(bytes).map_err(Error::io(&tmp))?;
        file.sync_all().map_err(Error::io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(Error::io(path))
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
        stage: &str,
        epoch: usize,
        step: usize,
        metric: &str,
        value: f64,
    ) -> Result<()> {
        writeln!(self.file, "{stage},{epoch},{step},{metric},{value}")
            .map_err(Error::io(&self.path))?;
        self.file.flush().map_err(Error::io(&self.path))
    }
}
