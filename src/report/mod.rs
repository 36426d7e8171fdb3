//! Run folders -> Polars frames -> Markdown table, figures and exported frames.
//!
//! `collect` reads every run of a spec into two frames; `table` and `figure` render only from
//! those frames; `frame` exports them as CSV and Parquet for pandas/polars users; `merge` joins
//! results frames of a profile measured in parts. Outputs:
//! `reports/<spec>.md` and, under `reports/<spec>/`, `results.{csv,parquet}`,
//! `epochs.{csv,parquet}` and `<figure>.{csv,svg,png}`.

pub mod claims;
pub mod collect;
pub mod figure;
pub mod footer;
pub mod frame;
pub mod merge;
pub mod plateau;
pub mod table;

pub use collect::{Collected, Status, collect};
pub use table::mean_std;

use crate::error::{Error, Result};
use crate::spec::Plan;
use std::path::PathBuf;

/// What `build` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    /// Table, frames and figures.
    All,
    /// Frames and figures only.
    Figures,
}

/// The name of a spec's report files: `<id>` for the `paper` profile (and no profile), which
/// the repository commits, `<id>.<profile>` for any other, so a smoke run never overwrites the
/// paper results.
pub fn report_stem(spec: &crate::spec::Loaded) -> String {
    let id = &spec.raw.table.id;
    match spec.profile.as_deref() {
        None | Some(PAPER_PROFILE) => id.clone(),
        Some(profile) => format!("{id}.{profile}"),
    }
}

/// The profile whose reports are `reports/<id>.md` and `reports/<id>/`.
pub const PAPER_PROFILE: &str = "paper";

/// Writes the report of `plan` from the run folders under the spec's runtime roots; returns
/// the files written.
pub fn build(plan: &Plan, parts: Parts) -> Result<Vec<PathBuf>> {
    let runtime = &plan.spec.raw.runtime;
    let collected = collect(plan, &runtime.runs_root, &runtime.data_root)?;
    let id = report_stem(&plan.spec);
    let dir = runtime.reports_root.join(&id);
    let mut written = Vec::new();
    if parts == Parts::All {
        let footer = footer::render(
            &plan.spec,
            &collected.results,
            &crate::run::provenance::git_commit(),
        )?;
        let text = table::render(&plan.spec, &collected.results, &footer)?;
        std::fs::create_dir_all(&runtime.reports_root).map_err(Error::io(&runtime.reports_root))?;
        let path = runtime.reports_root.join(format!("{id}.md"));
        crate::base::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    written.extend(frame::export(&collected.results, &dir, "results")?);
    written.extend(frame::export(&collected.epochs, &dir, "epochs")?);
    for figure in figure::build(&plan.spec, &collected.results, &collected.epochs)? {
        written.extend(figure::write(&figure, &dir)?);
    }
    written.extend(write_claims_figures(&plan.spec, &collected.results, &dir)?);
    Ok(written)
}

/// Rewrites `reports/<spec>.md`, the claims figures and the figures whose data the results
/// hold (trade-offs, and per-epoch figures of a metric recorded per epoch, such as
/// `acc.hardprune@N`) from results frames written earlier (`results.csv`), not from run
/// folders; returns the files written. Several frames are merged first ([`merge`]: a committed
/// report's frame and the runs finished elsewhere since); the frame rendered is written as the
/// report's `results.csv` unless it was read from there. Figures that need the runs' other
/// per-epoch metrics are left as they are.
pub fn rerender(spec: &crate::spec::Loaded, results_csvs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let sources = results_csvs
        .iter()
        .map(|path| {
            Ok(merge::Source {
                path: path.clone(),
                frame: read_results(spec, path)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let results = match sources.as_slice() {
        [one] => one.frame.clone(),
        _ => merge::merge(&sources)?,
    };
    let runtime = &spec.raw.runtime;
    let id = report_stem(spec);
    let footer = footer::render(spec, &results, &crate::run::provenance::git_commit())?;
    let text = table::render(spec, &results, &footer)?;
    std::fs::create_dir_all(&runtime.reports_root).map_err(Error::io(&runtime.reports_root))?;
    let path = runtime.reports_root.join(format!("{id}.md"));
    crate::base::write_atomic(&path, text.as_bytes())?;
    let mut written = vec![path];
    let dir = runtime.reports_root.join(&id);
    // The report's own results.csv always holds what its table shows: a merge, or a frame read
    // from elsewhere (a part measured in its own folder).
    let own = dir.join("results.csv");
    let same_file = |path: &PathBuf| match (path.canonicalize(), own.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !matches!(results_csvs, [one] if same_file(one)) {
        written.extend(frame::export(&results, &dir, "results")?);
    }
    for figure in figure::build_from_results(spec, &results)? {
        written.extend(figure::write(&figure, &dir)?);
    }
    written.extend(write_claims_figures(spec, &results, &dir)?);
    Ok(written)
}

/// Writes the claims figures into `dir`, removing a claims figure an earlier report wrote and
/// this one has not (no longer several budgets, or nothing left against compression).
fn write_claims_figures(
    spec: &crate::spec::Loaded,
    results: &polars::prelude::DataFrame,
    dir: &std::path::Path,
) -> Result<Vec<PathBuf>> {
    let figures = claims::figures(spec, results)?;
    let mut written = Vec::new();
    for figure in &figures {
        written.extend(figure::write(figure, dir)?);
    }
    for stem in crate::spec::CLAIMS_FIGURE_IDS {
        if !figures.iter().any(|f| f.spec.id == stem) {
            for ext in ["svg", "png", "csv"] {
                let stale = dir.join(format!("{stem}.{ext}"));
                if stale.is_file() {
                    std::fs::remove_file(&stale).map_err(Error::io(&stale))?;
                }
            }
        }
    }
    Ok(written)
}

/// A results frame written earlier (`results.csv`), its rows matched to `spec`'s by name: the
/// spec may have gained rows since.
pub fn read_results(
    spec: &crate::spec::Loaded,
    results_csv: &std::path::Path,
) -> Result<polars::prelude::DataFrame> {
    let mut results = frame::read_csv(results_csv)?;
    let names = frame::strings(&results, "row")?;
    let status = frame::strings(&results, "status")?;
    let seeds = frame::integers(&results, "seed")?;
    let mut index = Vec::with_capacity(names.len());
    for (at, name) in names.iter().enumerate() {
        let Some(i) = spec.rows.iter().position(|r| &r.name == name) else {
            return Err(Error::Corrupt {
                path: results_csv.to_owned(),
                message: format!(
                    "row `{name}` is not a row of spec {}; render it with the spec that \
                     wrote it",
                    spec.path.display()
                ),
            });
        };
        let row = &spec.rows[i];
        if status[at] == Status::Done.name()
            && (!spec.row_selected(row) || !seeds[at].is_some_and(|s| row.seeds.contains(&s)))
        {
            return Err(Error::Corrupt {
                path: results_csv.to_owned(),
                message: format!(
                    "it has a finished run of row `{name}` (seed {}) that profile `{}` does not \
                     run; render it with the profile that wrote it",
                    seeds[at].map_or_else(|| "?".to_owned(), |s| s.to_string()),
                    spec.profile.as_deref().unwrap_or("(none)")
                ),
            });
        }
        index.push(i as u32);
    }
    use polars::prelude::{Column, NamedFrom, Series};
    results
        .replace(
            "row_index",
            Column::from(Series::new("row_index".into(), index)),
        )
        .map_err(collect::frame_error)?;
    Ok(results)
}
