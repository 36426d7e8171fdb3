//! The Markdown table of a spec, rendered from its run folders: measured cells are mean +- std
//! over seeds (n shown), missing ones say "pending", published ones appear only with their
//! citation. Small on purpose: the full reporting layer replaces it.

use crate::error::Result;
use crate::run::store;
use crate::spec::{MethodKind, Plan, StageConfig};
use std::fmt::Write;
use std::path::Path;

/// Mean and sample standard deviation (n - 1) of `values`.
pub fn mean_std(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Some((mean, std))
}

/// "98.12 ± 0.05 (n=3)", "98.12 (1 seed)", or "pending (2 of 3 seeds missing)".
fn cell(values: &[f64], expected: usize, decimals: usize) -> String {
    let missing = expected - values.len();
    match mean_std(values) {
        None => "pending".into(),
        Some((mean, _)) if values.len() == 1 => {
            let mut s = format!("{mean:.decimals$} (1 seed)");
            if missing > 0 {
                let _ = write!(s, ", {missing} pending");
            }
            s
        }
        Some((mean, std)) => {
            let mut s = format!("{mean:.decimals$} ± {std:.decimals$} (n={})", values.len());
            if missing > 0 {
                let _ = write!(s, ", {missing} pending");
            }
            s
        }
    }
}

/// Renders the table of `plan` from the summaries under `runs_root`.
pub fn render(plan: &Plan, runs_root: &Path, backend: &str) -> Result<String> {
    let meta = &plan.spec.raw.table;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", meta.title);
    if let Some(citation) = &meta.citation {
        let _ = writeln!(out, "Experiment from: {citation}.\n");
    }
    let profile = plan.spec.profile.as_deref().unwrap_or("(none)");
    let _ = writeln!(
        out,
        "Spec `{}`, profile `{profile}`, backend {backend}.\n",
        meta.id
    );
    if let Some(note) = &meta.note {
        let _ = writeln!(out, "{note}\n");
    }
    let retrain_epochs = &plan.spec.raw.report.retrain_epochs;
    let mut header = vec![
        "Row".to_owned(),
        "Method".into(),
        "Target compression".into(),
        "Dense acc. (%)".into(),
        "Hard-prune acc., no retraining (%)".into(),
    ];
    header.extend(retrain_epochs.iter().map(|e| {
        format!(
            "After {e} retraining epoch{} (%)",
            if *e == 1 { "" } else { "s" }
        )
    }));
    header.extend([
        "Retrained acc. (%)".to_owned(),
        "Retrain epochs".into(),
        "Achieved compression".into(),
    ]);
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for (index, row) in plan.spec.rows.iter().enumerate() {
        if !plan.spec.row_selected(row) {
            let reason = format!(
                "not run: group `{}` not selected by profile `{profile}`",
                row.group
            );
            let mut cells = vec![row.name.clone(), method_label(row), reason];
            cells.resize(header.len(), "–".to_owned());
            let _ = writeln!(out, "| {} |", cells.join(" | "));
            continue;
        }
        let runs: Vec<_> = plan.runs.iter().filter(|r| r.row == index).collect();
        let expected = runs.len();
        // Every metric of every finished stage of each run, by name (names are unique across
        // a run's stages).
        let mut per_run = Vec::new();
        let mut achieved = Vec::new();
        let mut failures = Vec::new();
        for run in &runs {
            let mut metrics = std::collections::BTreeMap::new();
            for i in 0..run.stages.len() {
                let dir = run.stage_dir(runs_root, i);
                if let Some(reason) = store::read_failure(&dir) {
                    failures.push(reason);
                }
                if let Some(summary) = store::read_summary(&dir)? {
                    if let (StageConfig::Retrain { .. }, Some(s)) =
                        (&run.stages[i].config, &summary.sparsity)
                    {
                        achieved.push(s.compression_pruned_layers);
                    }
                    metrics.extend(summary.metrics);
                }
            }
            per_run.push(metrics);
        }
        let values = |name: &str| -> Vec<f64> {
            per_run
                .iter()
                .filter_map(|m| m.get(name).copied())
                .collect()
        };
        let stages: &[_] = runs.first().map_or(&[], |r| &r.stages);
        let target = stages.iter().find_map(|s| match &s.config {
            StageConfig::Prune {
                ratios, count_rule, ..
            } => Some(target_compression(plan, index, ratios, *count_rule)),
            _ => None,
        });
        let retrain_budget = stages.iter().find_map(|s| match &s.config {
            StageConfig::Retrain { budget, .. } => Some(budget.epochs),
            _ => None,
        });
        let pruned = row.method != MethodKind::Dense;
        let dash = || "–".to_owned();
        let mut cells = vec![
            row.name.clone(),
            method_label(row),
            target.map_or_else(dash, |t| format!("{t:.2}x")),
            cell(&values("acc.dense"), expected, 2),
            if pruned {
                cell(&values("acc.hardprune"), expected, 2)
            } else {
                dash()
            },
        ];
        for epoch in retrain_epochs {
            cells.push(match retrain_budget {
                Some(budget) if *epoch <= budget => {
                    cell(&values(&format!("acc.retrain@{epoch}")), expected, 2)
                }
                Some(_) => "– (budget)".into(),
                None => dash(),
            });
        }
        cells.push(if pruned {
            cell(&values("acc.retrain"), expected, 2)
        } else {
            dash()
        });
        cells.push(retrain_budget.map_or_else(dash, |e| e.to_string()));
        cells.push(if pruned {
            mean_std(&achieved).map_or_else(|| "pending".into(), |(m, _)| format!("{m:.2}x"))
        } else {
            dash()
        });
        if let Some(reason) = failures.first() {
            // Cells still pending are those of the failed runs.
            let failed = format!(
                "failed ({} of {expected}): {}",
                failures.len(),
                one_line(reason)
            );
            for cell in cells.iter_mut().skip(3) {
                if cell.starts_with("pending") {
                    *cell = failed.clone();
                } else if cell.contains(" pending") {
                    *cell = cell.replace(" pending", " failed");
                }
            }
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    if !plan.spec.raw.published.is_empty() {
        out.push_str("\nPublished numbers (cited, not measured here):\n\n");
        out.push_str("| What | Metric | Value | Compression | Source |\n|---|---|---|---|---|\n");
        for cell in &plan.spec.raw.published {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell.label,
                cell.metric,
                cell.value,
                cell.compression
                    .map_or_else(|| "–".into(), |c| format!("{c}x")),
                cell.citation
            );
        }
    }
    out.push_str(
        "\nDefinitions: `acc.dense` test accuracy of the dense pretrained model; \
`acc.hardprune` test accuracy right after hard pruning, no retraining; \
`acc.retrain` test accuracy after masked retraining for the listed epochs; \
`compression.pruned_layers` weights / non-zero weights over the pruned layers \
(target: the spec's per-layer ratios under the row's count rule). \
Cells are mean ± sample std over n seeds.\n",
    );
    Ok(out)
}

/// The first line of an error, without table-breaking characters.
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().replace('|', "/")
}

/// "slr (reference, through)": the method with the settings that change its behaviour.
fn method_label(row: &crate::spec::RowSpec) -> String {
    match row.method {
        MethodKind::Admm => format!(
            "admm (ρ {}, {})",
            row.admm.rho,
            row.admm.multiplier_grad.name()
        ),
        MethodKind::Slr => format!(
            "slr ({}, {})",
            row.slr.variant.name(),
            row.slr.multiplier_grad().name()
        ),
        other => other.name().to_owned(),
    }
}

/// Target `compression.pruned_layers` from the layer sizes and ratios.
fn target_compression(
    plan: &Plan,
    row: usize,
    ratios: &std::collections::BTreeMap<String, f64>,
    rule: crate::spec::CountRule,
) -> f64 {
    let model = plan.spec.rows[row].model;
    let net = crate::models::Net::init(model, &burn::tensor::Device::flex());
    let shapes = crate::prune::params::shapes(&net);
    let (mut total, mut kept) = (0usize, 0usize);
    for (name, shape) in shapes {
        if let Some(ratio) = ratios.get(&name) {
            let n: usize = shape.iter().product();
            total += n;
            kept += crate::prune::projection::keep_count(n, *ratio, rule);
        }
    }
    if kept == 0 {
        f64::INFINITY
    } else {
        total as f64 / kept as f64
    }
}

/// Writes `reports_root/<id>.md`.
pub fn write(
    plan: &Plan,
    runs_root: &Path,
    reports_root: &Path,
    backend: &str,
) -> Result<std::path::PathBuf> {
    let text = render(plan, runs_root, backend)?;
    std::fs::create_dir_all(reports_root).map_err(crate::error::Error::io(reports_root))?;
    let path = reports_root.join(format!("{}.md", plan.spec.raw.table.id));
    store::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}
