//! `slr perf`: one training step of a model on a backend, timed (criterion-free, for a
//! quick look; `just bench` for the benchmarks), with an optional gradient check against
//! another backend; with `--input`, a data set's training pipeline instead.

use super::{parse_backend, parse_dataset, parse_model};
use crate::base::backend::{self, Backend};
use crate::error::{Error, Result};
use crate::perf;
use crate::spec::{DatasetKind, ModelKind};
use std::path::PathBuf;

/// Options of `slr perf`.
#[derive(Debug, clap::Args)]
pub struct PerfArgs {
    /// Backend to measure: cpu, tch-cpu, tch-cuda[:i].
    #[arg(long, default_value = "cpu", value_parser = parse_backend)]
    pub backend: Backend,
    /// Model.
    #[arg(long, default_value = "resnet18-cifar", value_parser = parse_model)]
    pub model: ModelKind,
    /// Training batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Untimed steps before timing.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Uniform prune ratio of the default prunable layers (ADMM, SLR, projection).
    #[arg(long, default_value_t = 0.8)]
    pub ratio: f64,
    /// Compare loss and gradients of one forward/backward with this backend.
    #[arg(long, value_parser = parse_backend)]
    pub reference: Option<Backend>,
    /// Batch size of the gradient check.
    #[arg(long, default_value_t = 16)]
    pub check_batch: usize,
    /// Worker threads of the CPU backends (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run and time only the dense training steps (for a profiler: `just profile-step`).
    #[arg(long)]
    pub step_only: bool,
    /// Also write the measurements as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Time this data set's training pipeline (decoding, augmentation, the copy onto the
    /// backend) instead of a training step; `--batch`, `--warmup`, `--batches` and `--workers`
    /// apply.
    #[arg(long, value_parser = parse_dataset)]
    pub input: Option<DatasetKind>,
    /// Data root of `--input` (default: `SLR_DATA_ROOT`, else `data`).
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Timed batches per thread count of `--input`.
    #[arg(long, default_value_t = 8)]
    pub batches: usize,
    /// Decoding thread counts of `--input`, comma-separated (default: 1, 2 and all cores).
    #[arg(long, value_delimiter = ',')]
    pub workers: Vec<usize>,
}

/// Measures and prints the table (and writes the JSON).
pub(super) fn run(args: PerfArgs) -> Result<()> {
    if !(0.0..1.0).contains(&args.ratio) {
        return Err(Error::Usage(format!(
            "--ratio {}: must be in [0, 1)",
            args.ratio
        )));
    }
    if args.batch == 0 || args.steps == 0 || args.check_batch == 0 {
        return Err(Error::Usage(
            "--batch, --steps and --check-batch must be at least 1".into(),
        ));
    }
    if let Some(dataset) = args.input {
        return input(dataset, args);
    }
    if !args.model.buildable() {
        return Err(Error::Usage(format!(
            "--model {}: `slr perf` measures the implemented models",
            args.model.name()
        )));
    }
    backend::set_threads(args.threads);
    let options = perf::PerfOptions {
        model: args.model,
        batch: args.batch,
        warmup: args.warmup,
        steps: args.steps,
        ratio: args.ratio,
        seed: 1,
        reference: args.reference,
        check_batch: args.check_batch,
    };
    if args.step_only {
        let ms = perf::dense_step_ms(args.backend, &options)?;
        println!(
            "{} on {}, batch {}: {ms:.2} ms per dense step (mean of {})",
            args.model.name(),
            args.backend.name(),
            args.batch,
            args.steps
        );
        return Ok(());
    }
    let report = perf::measure(args.backend, &options)?;
    print!("{}", report.markdown());
    write_json(args.json, &report)
}

/// Writes `report` as JSON to `path`, when one is given.
fn write_json(path: Option<PathBuf>, report: &impl serde::Serialize) -> Result<()> {
    if let Some(path) = path {
        let text = serde_json::to_string_pretty(report).expect("serialises");
        std::fs::write(&path, text).map_err(Error::io(&path))?;
    }
    Ok(())
}

/// `slr perf --input`: the data set's training pipeline with each thread count.
fn input(dataset: DatasetKind, args: PerfArgs) -> Result<()> {
    let workers = if args.workers.is_empty() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut workers = vec![1, 2, cores];
        workers.sort_unstable();
        workers.dedup();
        workers
    } else {
        args.workers
    };
    let options = perf::InputOptions {
        dataset,
        data_root: super::data_root(args.data_root),
        backend: args.backend,
        batch: args.batch,
        warmup: args.warmup,
        batches: args.batches,
        workers,
        seed: 1,
    };
    let report = perf::measure_input(&options)?;
    print!("{}", report.markdown());
    write_json(args.json, &report)
}
