//! `metrics.csv`: long-format metrics, `stage,epoch,step,metric,value`, appended and flushed
//! row by row while a stage trains, read back by reports. A row with step 0 holds a value of an
//! epoch (epoch 0: of the stage as a whole); a row with a step (the steps taken so far, from 1)
//! holds that step's training loss, every `runtime.loss_every` steps. Every row is also a scalar
//! of the stage's TensorBoard event file ([`super::events`]).

use super::METRICS;
use super::events::{EventsFile, Scalar};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::spec::StageKind;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Appends rows `stage,epoch,step,metric,value` to `metrics.csv` and their scalars to the
/// stage's event file, flushing each call.
pub struct MetricsFile {
    path: PathBuf,
    file: std::fs::File,
    events: EventsFile,
}

impl MetricsFile {
    /// Creates (truncates) the file with its header, and an empty event file.
    pub fn create(dir: &Path) -> Result<MetricsFile> {
        let path = dir.join(METRICS);
        let mut file = std::fs::File::create(&path).map_err(Error::io(&path))?;
        writeln!(file, "stage,epoch,step,metric,value").map_err(Error::io(&path))?;
        let events = EventsFile::create(dir, &[])?;
        Ok(MetricsFile { path, file, events })
    }

    /// Opens the file of an interrupted attempt, cut back to its first `len` bytes (what a
    /// checkpoint recorded), for appending; the event file is written anew from those rows, so
    /// it holds each step once whatever the killed attempt wrote after its checkpoint.
    pub fn continue_at(dir: &Path, len: u64) -> Result<MetricsFile> {
        let path = dir.join(METRICS);
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        file.set_len(len).map_err(Error::io(&path))?;
        let scalars: Vec<Scalar> = read_metrics(dir)?.iter().map(MetricRow::scalar).collect();
        let events = EventsFile::create(dir, &scalars)?;
        Ok(MetricsFile { path, file, events })
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
        let name = stage.name();
        writeln!(self.file, "{name},{epoch},{step},{metric},{value}")
            .map_err(Error::io(&self.path))?;
        self.file.flush().map_err(Error::io(&self.path))?;
        let row = MetricRow {
            stage: name.to_owned(),
            epoch: epoch as u32,
            step: step as u64,
            metric: metric.key(),
            value,
        };
        self.events.scalar(&row.scalar())
    }
}

/// One row of a `metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Stage column (the stage kind's name).
    pub stage: String,
    /// 1-based epoch (0 for a value of the stage as a whole).
    pub epoch: u32,
    /// Steps taken when a per-step value was recorded; 0 for a value of an epoch or stage.
    pub step: u64,
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
        let [stage, epoch, step, metric, value] = fields[..] else {
            return Err(corrupt("expected 5 fields"));
        };
        rows.push(MetricRow {
            stage: stage.to_owned(),
            epoch: epoch.parse().map_err(|_| corrupt("bad epoch"))?,
            step: step.parse().map_err(|_| corrupt("bad step"))?,
            metric: metric.to_owned(),
            value: value.parse().map_err(|_| corrupt("bad value"))?,
        });
    }
    Ok(rows)
}

impl MetricRow {
    /// The row as TensorBoard shows it: `step/<metric>` against the steps taken, `epoch/<metric>`
    /// against the epoch, `stage/<metric>` (a value of the whole stage) at 0.
    pub fn scalar(&self) -> Scalar {
        let (group, step) = match (self.step, self.epoch) {
            (0, 0) => ("stage", 0),
            (0, epoch) => ("epoch", i64::from(epoch)),
            (step, _) => ("step", step as i64),
        };
        Scalar {
            tag: format!("{group}/{}", self.metric),
            step,
            value: self.value as f32,
        }
    }
}
