//! The texts of `slr plan` (stages, folders, states, FLOPs, a calibrated time estimate),
//! `slr plan --json` (the stage graph) and `slr status` (where each run stands).

use super::graph;
use super::store::{self, checkpoint};
use crate::base::backend::Backend;
use crate::error::Result;
use crate::perf::estimate;
use crate::spec::{self, ModelKind, Plan};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// "spec <id> (<file>), profile <p>: <n> runs<suffix>", then a line per row that does not run
/// (the head of `slr plan` and `slr status`).
fn plan_heading(plan: &Plan, suffix: &str) -> String {
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
    let runs_root = &plan.spec.raw.runtime.runs_root;
    let mut out = plan_heading(plan, "");
    // Pending stage folders (shared stages once) with their model and FLOPs.
    let mut pending: BTreeMap<PathBuf, (ModelKind, f64)> = BTreeMap::new();
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
                super::progress::duration(flops / rate)
            );
        }
        let _ = writeln!(
            out,
            "estimated time on {}: {}",
            backend.name(),
            super::progress::duration(seconds)
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
    let stages: Vec<serde_json::Value> = graph::graph(plan, runs_root)
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
fn run_state(run: &spec::Run, runs_root: &Path, states: &mut store::StageStates) -> String {
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
                    let kind = failure_name(failure.kind);
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
