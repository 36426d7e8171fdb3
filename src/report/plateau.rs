//! The Convergence section: whether each ADMM/SLR training has levelled off by the spec's
//! `[report] plateau` rule, from the per-epoch values its runs recorded (`acc.hardprune@N`).
//! Rendered from the `results` frame only.

use super::collect::Status;
use super::frame::{floats, integers, strings};
use crate::error::Result;
use crate::spec::{Loaded, PlateauRule};
use polars::prelude::DataFrame;
use std::fmt::Write;

/// One training row judged by the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Levelling {
    /// The row's name.
    pub row: String,
    /// Finished seeds whose every judged epoch has a value.
    pub seeds: usize,
    /// The training's last epoch.
    pub last_epoch: usize,
    /// Seed means after each of the judged epochs, in order (empty when there are fewer
    /// epochs than the rule compares).
    pub means: Vec<f64>,
    /// Whether their spread is within the rule's.
    pub levelled: bool,
}

/// Judges every selected row that trains and prunes its final model, and whose finished runs
/// recorded the rule's metric after every epoch.
pub fn evaluate(spec: &Loaded, rule: &PlateauRule, results: &DataFrame) -> Result<Vec<Levelling>> {
    let row_index = integers(results, "row_index")?;
    let status = strings(results, "status")?;
    let mut out = Vec::new();
    for (index, row) in spec.rows.iter().enumerate() {
        // A row pruning an earlier snapshot shares a training judged on its own row.
        if !row.method.trains() || row.pruned_snapshot().is_some() || !spec.row_selected(row) {
            continue;
        }
        let runs: Vec<usize> = (0..results.height())
            .filter(|&i| row_index[i] == Some(index as u64) && status[i] == Status::Done.name())
            .collect();
        if runs.is_empty() {
            continue;
        }
        // The epochs recorded: <metric>@1 .. <metric>@E.
        let mut columns = Vec::new();
        loop {
            let values = floats(results, &format!("{}@{}", rule.metric, columns.len() + 1))?;
            if runs.iter().all(|&i| values[i].is_none()) {
                break;
            }
            columns.push(values);
        }
        let last_epoch = columns.len();
        if last_epoch == 0 {
            // Not recorded per epoch (no `hardprune_every_epoch`): nothing to judge.
            continue;
        }
        if last_epoch < rule.epochs {
            out.push(Levelling {
                row: row.name.clone(),
                seeds: runs.len(),
                last_epoch,
                means: Vec::new(),
                levelled: false,
            });
            continue;
        }
        let judged = &columns[last_epoch - rule.epochs..];
        let complete: Vec<usize> = runs
            .into_iter()
            .filter(|&i| judged.iter().all(|c| c[i].is_some_and(f64::is_finite)))
            .collect();
        if complete.is_empty() {
            continue;
        }
        let means: Vec<f64> = judged
            .iter()
            .map(|c| {
                complete
                    .iter()
                    .map(|&i| c[i].expect("complete"))
                    .sum::<f64>()
                    / complete.len() as f64
            })
            .collect();
        let spread = spread(&means);
        out.push(Levelling {
            row: row.name.clone(),
            seeds: complete.len(),
            last_epoch,
            levelled: spread <= rule.within,
            means,
        });
    }
    Ok(out)
}

/// Least-squares slope of `means` against their epochs (one apart): whether a spread beyond the
/// rule is a trend or epoch-to-epoch noise.
fn trend(means: &[f64]) -> f64 {
    let n = means.len() as f64;
    let x_mean = (n - 1.0) / 2.0;
    let y_mean = means.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (x, y) in means.iter().enumerate() {
        let dx = x as f64 - x_mean;
        num += dx * (y - y_mean);
        den += dx * dx;
    }
    num / den
}

fn spread(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    max - min
}

/// The report's "Convergence" section (empty without a `[report] plateau` rule).
pub fn render(spec: &Loaded, results: &DataFrame) -> Result<String> {
    let Some(rule) = &spec.raw.report.plateau else {
        return Ok(String::new());
    };
    let found = evaluate(spec, rule, results)?;
    let mut out = String::from("\n## Convergence\n\n");
    let _ = writeln!(
        out,
        "A training has levelled off when the seed mean of `{}` after each of its last {} \
         epochs spans at most {} (`[report] plateau`).\n",
        rule.metric, rule.epochs, rule.within
    );
    if found.is_empty() {
        let _ = writeln!(
            out,
            "No finished training has recorded `{}` after every epoch \
             (`hardprune_every_epoch = true`).",
            rule.metric
        );
        return Ok(out);
    }
    out.push_str(
        "| Row | Seeds | Epochs | Seed means over the last epochs | Spread | Trend per epoch[^trend] | Levelled off |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for found in &found {
        let (means, spread, trend) = if found.means.is_empty() {
            (
                format!("– (fewer than {} epochs)", rule.epochs),
                "–".to_owned(),
                "–".to_owned(),
            )
        } else {
            let first = found.last_epoch + 1 - found.means.len();
            let values: Vec<String> = found.means.iter().map(|m| format!("{m:.2}")).collect();
            (
                format!("{first}–{}: {}", found.last_epoch, values.join(", ")),
                format!("{:.2}", spread(&found.means)),
                format!("{:+.2}", trend(&found.means)),
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {means} | {spread} | {trend} | {} |",
            found.row,
            found.seeds,
            found.last_epoch,
            if found.levelled { "yes" } else { "no" }
        );
    }
    let not: Vec<String> = found
        .iter()
        .filter(|f| !f.levelled)
        .map(|f| format!("`{}`", f.row))
        .collect();
    if not.is_empty() {
        out.push_str("\nEvery training has levelled off by this rule.\n");
    } else {
        let _ = writeln!(out, "\nNot levelled off by this rule: {}.", not.join(", "));
    }
    out.push_str(
        "\n[^trend]: Least-squares slope of those seed means against the epoch: a spread \
         beyond the rule with a slope near 0 is epoch-to-epoch noise, one with a slope of its \
         size is a trend. The rule judges the spread only.\n",
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::trend;

    /// Slope of 1, 2, 2, 3, 5 at epochs 0..4: Σ(x − 2)(y − 2.6) / Σ(x − 2)² = 9 / 10.
    #[test]
    fn trend_by_hand() {
        assert!((trend(&[1.0, 2.0, 2.0, 3.0, 5.0]) - 0.9).abs() < 1e-12);
        assert_eq!(trend(&[4.0, 4.0, 4.0]), 0.0);
    }
}
