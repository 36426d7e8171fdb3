//! `metrics.csv`: long-format per-epoch metrics, `stage,epoch,step,metric,value`, appended and
//! flushed row by row while a stage trains, read back by reports.

use super::METRICS;
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::spec::StageKind;
use std::io::Write;
use std::path::{Path, PathBuf};

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

    /// Opens the file of an interrupted attempt, cut back to its first `len` bytes (what a
    /// checkpoint recorded), for appending.
    pub fn continue_at(dir: &Path, len: u64) -> Result<MetricsFile> {
        let path = dir.join(METRICS);
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        file.set_len(len).map_err(Error::io(&path))?;
        Ok(MetricsFile { path, file })
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(Error::io(&self.path))
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
