//! `slr reproduce`: every missing stage of a spec, in this process or in `--jobs N` worker
//! processes (`slr run-stage`, also Slurm's task), then the report.

use super::args::SpecArgs;
use crate::base::backend::{self, Backend};
use crate::data::fetch;
use crate::error::{Error, Result};
use crate::report;
use crate::run::progress::Progress;
use crate::run::{Executor, graph, parallel, serial, signals, store};
use crate::spec::{DatasetKind, Plan};
use std::collections::BTreeSet;

pub(crate) fn reproduce(
    args: &SpecArgs,
    auto_fetch: bool,
    jobs: usize,
    devices: &[Backend],
    rerun_stale: bool,
) -> Result<()> {
    let plan = args.plan()?;
    let runtime = plan.spec.raw.runtime.clone();
    let stale = graph::stale_stages(&plan);
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
    crate::run::snapshots::prepare(&plan)?;
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
    signals::install();
    if jobs > 1 {
        return reproduce_parallel(args, &plan, jobs, devices);
    }
    let mut executor = Executor::new(&runtime);
    let serial::Outcome {
        trained,
        cached,
        failed,
    } = serial::run(&mut executor, &plan, &mut Progress::of_plan(&plan))?;
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

/// Links the plan's stages for TensorBoard (`<runs>/tensorboard/<spec>/...`); a failure costs
/// only the view, so it is a warning.
pub(crate) fn link_tensorboard(runs_root: &std::path::Path, plan: &Plan) {
    let spec = report::report_stem(&plan.spec);
    if let Err(e) = store::events::link_views(runs_root, &spec, &plan.runs) {
        eprintln!("warning: TensorBoard view not linked: {e}");
    }
}

/// `reproduce --jobs N`: every pending stage in its own worker process, N at once.
fn reproduce_parallel(
    args: &SpecArgs,
    plan: &Plan,
    jobs: usize,
    devices: &[Backend],
) -> Result<()> {
    let runtime = &plan.spec.raw.runtime;
    let nodes = graph::graph(plan, &runtime.runs_root);
    // Deterministic results need a fixed thread count: the spec's, else the cores split.
    let threads = runtime.threads.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / jobs).max(1)
    });
    let exe = std::env::current_exe().map_err(|e| Error::RunFailed(format!("own path: {e}")))?;
    let command = |node: &graph::Node, slot: usize| {
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
    let mut progress = Progress::of_plan(plan);
    let outcome = parallel::run(&nodes, jobs, &command, &mut progress)?;
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

/// `run-stage`: one stage of the plan, by folder.
pub(crate) fn run_stage(args: &SpecArgs, folder: &str) -> Result<()> {
    let plan = args.plan()?;
    let runtime = plan.spec.raw.runtime.clone();
    backend::set_threads(runtime.threads);
    signals::install();
    let nodes = graph::graph(&plan, &runtime.runs_root);
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
