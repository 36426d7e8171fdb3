//! The provenance footer of a report: which binary, commit and backend measured the runs, when
//! the last of them finished, and what rendered the report. Dates come from the runs, not the
//! clock, so re-rendering unchanged runs gives the same bytes.

use super::collect::Status;
use super::frame::{integers, strings};
use crate::error::Result;
use crate::spec::Loaded;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;
use std::fmt::Write;

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn utc_date(unix: u64) -> String {
    // Days to civil date (H. Hinnant's algorithm), valid for every date after 1970.
    let days = (unix / 86_400) as i64 + 719_468;
    let era = days / 146_097;
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `words` when `commit` (or one of several, `+`-joined) had uncommitted changes (`-dirty`).
fn uncommitted<'a>(commit: &str, words: &'a str) -> &'a str {
    if commit.split('+').any(|c| c.ends_with("-dirty")) {
        words
    } else {
        ""
    }
}

/// The footer paragraph.
pub fn render(spec: &Loaded, results: &DataFrame, rendered_by_commit: &str) -> Result<String> {
    let version = strings(results, "version")?;
    let commit = strings(results, "commit")?;
    let backend = strings(results, "backend")?;
    let finished = integers(results, "finished_unix")?;
    let status = strings(results, "status")?;
    // Per producer: runs with a finished stage, and how many of those are still pending (a
    // shared dense model measured, their own stages not yet).
    let mut producers: BTreeMap<(String, String, String), (usize, usize)> = BTreeMap::new();
    for i in 0..results.height() {
        if finished[i].is_some() {
            let counts = producers
                .entry((version[i].clone(), commit[i].clone(), backend[i].clone()))
                .or_default();
            counts.0 += 1;
            counts.1 += usize::from(status[i] == Status::Pending.name());
        }
    }
    let mut out = String::from("Provenance: ");
    if producers.is_empty() {
        out.push_str("no run has finished yet. ");
    } else {
        let list: Vec<String> = producers
            .iter()
            .map(|((v, c, b), (n, pending))| {
                format!(
                    "{n} run{} by slr {v} at commit `{c}`{} on {b}{}",
                    if *n == 1 { "" } else { "s" },
                    uncommitted(
                        c,
                        " (with uncommitted changes: that commit alone may not give these numbers)"
                    ),
                    match pending {
                        0 => String::new(),
                        p => format!(", {p} of them in part (still pending)"),
                    }
                )
            })
            .collect();
        let _ = write!(out, "measured {}", list.join("; "));
        if let Some(last) = finished.iter().flatten().max() {
            let _ = write!(out, "; last run finished {} (UTC)", utc_date(*last));
        }
        out.push_str(". ");
    }
    let profile = spec.profile.as_deref().unwrap_or("(none)");
    let _ = write!(
        out,
        "Spec `{}` ({}), profile `{profile}`; rendered by slr {} at commit \
         `{rendered_by_commit}`{}.",
        spec.raw.table.id,
        spec.path.display(),
        env!("CARGO_PKG_VERSION"),
        uncommitted(rendered_by_commit, ", from a tree with uncommitted changes"),
    );
    Ok(out)
}
