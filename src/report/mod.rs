//! Run folders -> Polars frames -> Markdown table, figures and exported frames.
//!
//! `collect` reads every run of a spec into two frames; `table` and `figure` render only from
//! those frames; `frame` exports them as CSV and Parquet for pandas/polars users. Outputs:
//! `reports/<spec>.md` and, under `reports/<spec>/`, `results.{csv,parquet}`,
//! `epochs.{csv,parquet}` and `<figure>.{csv,svg,png}`.

pub mod claims;
pub mod collect;
pub mod figure;
pub mod footer;
pub mod frame;
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
    if let Some(figure) = claims::figure(&plan.spec, &collected.results)? {
        written.extend(figure::write(&figure, &dir)?);
    }
    Ok(written)
}
