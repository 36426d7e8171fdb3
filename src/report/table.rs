//! The Markdown table of a spec, rendered from the `results` frame with fixed decimals (never
//! Polars' Display, whose layout depends on environment variables).
//!
//! Measured cells are mean ± sample std over the finished seeds with n shown; published numbers
//! appear only with their citation (a footnote) and the difference to our mean; cells that have
//! not run say `pending`, cells that cannot run say `not run: <reason>`.

use super::collect::Status;
use super::frame::{floats, integers, strings};
use crate::catalog::TaskKind;
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::spec::{Column, Loaded, MethodName, PublishedCell};
use polars::prelude::DataFrame;
use std::collections::BTreeMap;
use std::fmt::Write;

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

/// What the table needs of one run (one row of the results frame).
#[derive(Debug, Clone)]
struct RunView {
    status: Status,
    reason: String,
    method: String,
    method_label: String,
    model: String,
    dataset: String,
    group: String,
    seeds_planned: usize,
    target: Option<f64>,
    retrain_epochs: Option<u64>,
    train_epochs: Option<u64>,
    /// Computed (in part) by other code than this build (frames without the column: no).
    stale: bool,
}

/// The runs of each spec row, in row order.
struct Rows {
    names: Vec<String>,
    runs: Vec<Vec<(usize, RunView)>>,
}

fn rows_of(spec: &Loaded, results: &DataFrame) -> Result<Rows> {
    let row_index = integers(results, "row_index")?;
    let status = strings(results, "status")?;
    let reason = strings(results, "reason")?;
    let method = strings(results, "method")?;
    let label = strings(results, "method_label")?;
    let model = strings(results, "model")?;
    let dataset = strings(results, "dataset")?;
    let group = strings(results, "group")?;
    let planned = integers(results, "seeds_planned")?;
    let target = floats(results, "target.compression")?;
    let retrain = integers(results, "retrain.epochs")?;
    let train = integers(results, "train.epochs")?;
    let stale = integers(results, "stale")?;
    let mut runs = vec![Vec::new(); spec.rows.len()];
    for i in 0..results.height() {
        let row = row_index[i].unwrap_or(0) as usize;
        runs[row].push((
            i,
            RunView {
                status: Status::parse(&status[i]).ok_or_else(|| {
                    Error::RunFailed(format!("results frame: unknown status `{}`", status[i]))
                })?,
                reason: reason[i].clone(),
                method: method[i].clone(),
                method_label: label[i].clone(),
                model: model[i].clone(),
                dataset: dataset[i].clone(),
                group: group[i].clone(),
                seeds_planned: planned[i].unwrap_or(0) as usize,
                target: target[i],
                retrain_epochs: retrain[i],
                train_epochs: train[i],
                stale: stale[i] == Some(1),
            },
        ));
    }
    Ok(Rows {
        names: spec.rows.iter().map(|r| r.name.clone()).collect(),
        runs,
    })
}

/// Renders the table of `spec` from `results`; `footer` is the provenance paragraph.
pub fn render(spec: &Loaded, results: &DataFrame, footer: &str) -> Result<String> {
    let meta = &spec.raw.table;
    let columns: Vec<Column> = spec
        .raw
        .report
        .columns
        .iter()
        .map(|name| {
            Column::parse(name).ok_or_else(|| {
                Error::spec(
                    &spec.path,
                    format!("key `report.columns`: unknown `{name}`"),
                )
            })
        })
        .collect::<Result<_>>()?;
    let rows = rows_of(spec, results)?;
    let published = numbered_published(&spec.raw.published);

    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", meta.title);
    if let Some(citation) = &meta.citation {
        let _ = writeln!(out, "Experiment from: {citation}.\n");
    }
    let profile = spec.profile.as_deref().unwrap_or("(none)");
    let _ = writeln!(out, "Spec `{}`, profile `{profile}`.\n", meta.id);
    if let Some(note) = &meta.note {
        let _ = writeln!(out, "{note}\n");
    }

    let mut header = vec!["Row".to_owned()];
    let mut definitions: Vec<(String, String)> = Vec::new();
    // Accuracy is top-1 for classification; a table of lane models scores TuSimple's, one of
    // detection models COCO's mAP@0.5.
    let all = |task: TaskKind| spec.rows.iter().all(|r| r.model.entry().task == task);
    let score_name = if all(TaskKind::LaneDetection) {
        Some("TuSimple lane accuracy")
    } else if all(TaskKind::Detection) {
        Some("COCO box mAP@0.5")
    } else {
        None
    };
    for column in &columns {
        let mut text = column.header();
        if let Some((label, definition)) = column.definition() {
            let _ = write!(text, "[^{label}]");
            if !definitions.iter().any(|(l, _)| *l == label) {
                let definition = match score_name {
                    Some(name) => definition.replace("top-1 test accuracy", name),
                    None => definition.to_owned(),
                };
                definitions.push((label.to_owned(), definition));
            }
        }
        header.push(text);
    }
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    // Rows the profile does not select are named under the table, not shown as rows.
    let mut left_out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (row, runs) in rows.runs.iter().enumerate() {
        let name = &rows.names[row];
        let spec_row = &spec.rows[row];
        if !spec.row_selected(spec_row) {
            left_out
                .entry(spec_row.group.as_str())
                .or_default()
                .push(name.as_str());
            continue;
        }
        let mut cells = vec![name.clone()];
        let not_run = runs
            .iter()
            .all(|(_, r)| r.status == Status::NotRun)
            .then(|| runs.first().map(|(_, r)| r.reason.clone()))
            .flatten();
        let mut reason_shown = false;
        for column in &columns {
            let first = runs.first().map(|(_, r)| r);
            let text = match (column, first) {
                (_, None) => "–".to_owned(),
                (Column::Model, Some(r)) => r.model.clone(),
                (Column::Dataset, Some(r)) => r.dataset.clone(),
                (Column::Method, Some(r)) => r.method_label.clone(),
                (Column::Group, Some(r)) => r.group.clone(),
                (Column::Seeds, Some(r)) => format!(
                    "{}/{}",
                    runs.iter()
                        .filter(|(_, r)| r.status == Status::Done)
                        .count(),
                    r.seeds_planned
                ),
                (Column::TargetCompression, Some(r)) => {
                    r.target.map_or_else(|| "–".into(), |t| format!("{t:.2}x"))
                }
                (Column::RetrainEpochs, Some(r)) => r
                    .retrain_epochs
                    .map_or_else(|| "–".into(), |e| e.to_string()),
                (Column::TrainEpochs, Some(r)) => {
                    r.train_epochs.map_or_else(|| "–".into(), |e| e.to_string())
                }
                (Column::Measured(metric), Some(r)) => {
                    if let Some(reason) = &not_run {
                        if reason_shown {
                            "–".into()
                        } else {
                            reason_shown = true;
                            format!("not run: {}", one_line(reason))
                        }
                    } else if r.method == MethodName::Dense.name() && *metric != Metric::AccDense {
                        "–".into()
                    } else if let Some(budget) = metric
                        .retrain_epoch()
                        .and_then(|n| r.retrain_epochs.filter(|e| (*e as usize) < n))
                    {
                        format!("– (budget {budget})")
                    } else {
                        let key = metric.key();
                        let column = floats(results, &key)?;
                        let mut text = measured_cell(&column, runs, *metric);
                        for (number, cell) in &published {
                            if cell.row.as_deref() == Some(name) && cell.metric == key {
                                let _ = write!(text, "; published {}[^p{number}]", cell.value);
                                if let Some(delta) = mean_of(&column, runs) {
                                    let _ = write!(text, " (Δ {:+.2})", delta - cell.value);
                                }
                            }
                        }
                        text
                    }
                }
            };
            cells.push(text);
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push_str(
        "\nMeasured cells: mean ± sample standard deviation over the finished seeds (n); \
         \"1 seed\" marks a single run.\n",
    );
    for (group, names) in &left_out {
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let _ = writeln!(
            out,
            "\nNot in profile `{profile}` (group `{group}` not selected): {}.",
            names.join(", ")
        );
    }

    if !published.is_empty() {
        out.push_str("\nPublished numbers (cited, not measured here):\n\n");
        out.push_str("| What | Metric | Published | Ours (row) | Ours − published |\n");
        out.push_str("|---|---|---|---|---|\n");
        for (number, cell) in &published {
            let ours = match cell.row.as_deref() {
                Some(row_name) => {
                    let index = rows.names.iter().position(|n| n == row_name);
                    let runs = index.map_or(&[][..], |i| &rows.runs[i][..]);
                    let selected = index.is_none_or(|i| spec.row_selected(&spec.rows[i]));
                    match mean_of(&floats(results, &cell.metric)?, runs) {
                        _ if !selected => {
                            (format!("not in this profile (`{row_name}`)"), "–".into())
                        }
                        Some(mean) => (
                            format!("{mean:.2} (`{row_name}`)"),
                            format!("{:+.2}", mean - cell.value),
                        ),
                        None => (format!("pending (`{row_name}`)"), "–".into()),
                    }
                }
                None => ("– (no row given)".into(), "–".into()),
            };
            let compression = cell
                .compression
                .map_or_else(String::new, |c| format!(" at {c}x"));
            let _ = writeln!(
                out,
                "| {}{compression} | `{}` | {}[^p{number}] | {} | {} |",
                cell.label, cell.metric, cell.value, ours.0, ours.1
            );
        }
    }

    out.push('\n');
    for (label, definition) in &definitions {
        let _ = writeln!(out, "[^{label}]: {definition}");
    }
    for (number, cell) in &published {
        let _ = writeln!(out, "[^p{number}]: {}", cell.citation);
    }
    out.push_str(&super::plateau::render(spec, results)?);
    out.push_str(&super::claims::render(spec, results)?);
    let _ = write!(out, "\n---\n\n{footer}\n");
    Ok(out)
}

fn numbered_published(cells: &[PublishedCell]) -> Vec<(usize, &PublishedCell)> {
    cells.iter().enumerate().map(|(i, c)| (i + 1, c)).collect()
}

/// The finished values of a results column over `runs`.
fn values_of(column: &[Option<f64>], runs: &[(usize, RunView)]) -> Vec<f64> {
    runs.iter()
        // A diverged run's numbers from before it diverged (its dense accuracy, say) count; its
        // non-finite ones, and those it never reached, are the cells the failure marks.
        .filter_map(|(i, _)| column[*i].filter(|v| v.is_finite()))
        .collect()
}

fn mean_of(column: &[Option<f64>], runs: &[(usize, RunView)]) -> Option<f64> {
    mean_std(&values_of(column, runs)).map(|(m, _)| m)
}

/// "98.12 ± 0.05 (n=3)", "98.12 (1 seed)", "pending", "failed (1 of 3): why", with what is
/// missing appended.
fn measured_cell(column: &[Option<f64>], runs: &[(usize, RunView)], metric: Metric) -> String {
    let values = values_of(column, runs);
    let (decimals, unit) = metric.format();
    // Keyed by status name: the order of the appended counts is alphabetical.
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, run) in runs {
        if !column[*i].is_some_and(f64::is_finite) {
            *missing.entry(run.status.name()).or_default() += 1;
            reasons.entry(run.status.name()).or_insert(&run.reason);
        }
    }
    let expected = runs.len();
    let mut text = match mean_std(&values) {
        None => {
            // Nothing measured: say why, worst first.
            for status in [Status::Diverged, Status::Failed, Status::NotRun] {
                if let Some(count) = missing.get(status.name()) {
                    let reason = one_line(reasons[status.name()]);
                    return if status == Status::NotRun {
                        format!("not run: {reason}")
                    } else {
                        format!("{} ({count} of {expected}): {reason}", status.name())
                    };
                }
            }
            return "pending".into();
        }
        Some((mean, _)) if values.len() == 1 => format!("{mean:.decimals$}{unit} (1 seed)"),
        Some((mean, std)) => format!(
            "{mean:.decimals$}{unit} ± {std:.decimals$} (n={})",
            values.len()
        ),
    };
    for (status, count) in &missing {
        let word = match *status {
            "not-run" => "not run",
            "done" => "missing",
            other => other,
        };
        let _ = write!(text, ", {count} {word}");
    }
    // Runs computed by other code are never averaged in silently.
    let stale = runs
        .iter()
        .filter(|(i, run)| run.stale && column[*i].is_some_and(f64::is_finite))
        .count();
    if stale > 0 {
        let _ = write!(text, ", {stale} stale");
    }
    text
}

/// The first line of a message, without table-breaking characters.
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().replace('|', "/")
}
