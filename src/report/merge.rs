//! Several results frames as one: a committed report's frame together with the runs that another
//! machine, a later session or a colleague finished since (`slr report --from-results A
//! --from-results B`), so a long profile can be measured in parts and reported whole.
//!
//! A run is a (row, seed). Its finished record wins over a pending or failed one; two finished
//! records of one run must agree on every metric (the same spec and seed give the same numbers;
//! if they do not, the frames were measured by different code or data and one of them is
//! wrong, which only the user can decide).

use super::collect::{Status, frame_error};
use super::frame::{TEXT_COLUMNS, floats, integers};
use crate::error::{Error, Result};
use polars::prelude::{Column, DataFrame, NamedFrom, Series};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Columns written as unsigned integers (the rest of the non-text columns are floats).
const INTEGER_COLUMNS: [&str; 7] = [
    "row_index",
    "seed",
    "seeds_planned",
    "stale",
    "retrain.epochs",
    "train.epochs",
    "finished_unix",
];

/// The last column that describes the run rather than a metric: `collect` writes the metrics
/// after it, sorted by name.
const LAST_RUN_COLUMN: &str = "finished_unix";

/// One results frame and the file it came from (for errors).
pub struct Source {
    /// The `results.csv` read.
    pub path: PathBuf,
    /// Its frame, rows matched to the spec (`read_results`).
    pub frame: DataFrame,
}

/// The frames of `sources` as one, a record per (row, seed) sorted by row then seed, with
/// the columns of all of them (metrics after the run columns, sorted by name, as `collect`
/// writes them).
pub fn merge(sources: &[Source]) -> Result<DataFrame> {
    let columns = column_order(sources);
    let chosen = choose(sources)?;
    let mut out = Vec::with_capacity(columns.len());
    for name in &columns {
        let column = if TEXT_COLUMNS.contains(&name.as_str()) {
            Series::new(
                name.into(),
                kept(sources, &chosen, |f| optional_strings(f, name))?,
            )
        } else if INTEGER_COLUMNS.contains(&name.as_str()) {
            Series::new(name.into(), kept(sources, &chosen, |f| integers(f, name))?)
        } else {
            Series::new(name.into(), kept(sources, &chosen, |f| floats(f, name))?)
        };
        out.push(Column::from(column));
    }
    DataFrame::new_infer_height(out).map_err(frame_error)
}

/// The kept record's value of one column per run, each source's column read by `read`.
fn kept<T: Clone>(
    sources: &[Source],
    chosen: &[(usize, usize)],
    read: impl Fn(&DataFrame) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let per_source = sources
        .iter()
        .map(|s| read(&s.frame))
        .collect::<Result<Vec<_>>>()?;
    Ok(chosen
        .iter()
        .map(|&(s, i)| per_source[s][i].clone())
        .collect())
}

/// Every source's columns: the run columns in the first source's order, then the metrics of
/// all of them sorted by name.
fn column_order(sources: &[Source]) -> Vec<String> {
    let mut metrics: BTreeSet<String> = Default::default();
    for source in sources {
        metrics.extend(metric_columns(&source.frame));
    }
    let mut columns: Vec<String> = Vec::new();
    for source in sources {
        for name in source.frame.get_column_names() {
            let name = name.to_string();
            if !metrics.contains(&name) && !columns.contains(&name) {
                columns.push(name);
            }
        }
    }
    columns.extend(metrics);
    columns
}

/// The metric columns of a results frame: those after its run columns.
fn metric_columns(frame: &DataFrame) -> Vec<String> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let Some(last) = names.iter().position(|n| n == LAST_RUN_COLUMN) else {
        return Vec::new();
    };
    names.into_iter().skip(last + 1).collect()
}

/// One source's metric columns, read once: `choose` counts what each record measured from
/// them and `agree` compares finished records through them, so no column is read twice.
type Metrics = BTreeMap<String, Vec<Option<f64>>>;

/// For each (row, seed) in row then seed order, the (source, position) of the record kept:
/// the first finished one (every other finished one must agree with it), else the first of
/// those that measured the most metrics (a run whose shared dense stage finished).
fn choose(sources: &[Source]) -> Result<Vec<(usize, usize)>> {
    let mut runs: BTreeMap<(u64, u64), Vec<(usize, usize)>> = BTreeMap::new();
    let mut metrics = Vec::with_capacity(sources.len());
    let mut measured = Vec::new();
    let mut done = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        let row_index = integers(&source.frame, "row_index")?;
        let seed = integers(&source.frame, "seed")?;
        let status = optional_strings(&source.frame, "status")?;
        let columns = metric_columns(&source.frame)
            .into_iter()
            .map(|name| Ok((name.clone(), floats(&source.frame, &name)?)))
            .collect::<Result<Metrics>>()?;
        let mut counts = vec![0usize; source.frame.height()];
        for values in columns.values() {
            for (count, value) in counts.iter_mut().zip(values) {
                *count += usize::from(value.is_some());
            }
        }
        metrics.push(columns);
        measured.push(counts);
        done.push(
            status
                .iter()
                .map(|v| v.as_deref() == Some(Status::Done.name()))
                .collect::<Vec<_>>(),
        );
        for i in 0..source.frame.height() {
            let key = (
                row_index[i].unwrap_or(u64::MAX),
                seed[i].unwrap_or(u64::MAX),
            );
            runs.entry(key).or_default().push((s, i));
        }
    }
    let mut chosen = Vec::with_capacity(runs.len());
    for records in runs.values() {
        let finished: Vec<(usize, usize)> = records
            .iter()
            .copied()
            .filter(|&(s, i)| done[s][i])
            .collect();
        for pair in finished.windows(2) {
            agree(sources, &metrics, pair[0], pair[1])?;
        }
        let fullest = records.iter().map(|&(s, i)| measured[s][i]).max();
        let kept = finished.first().copied().unwrap_or_else(|| {
            *records
                .iter()
                .find(|&&(s, i)| Some(measured[s][i]) == fullest)
                .unwrap_or(&records[0])
        });
        chosen.push(kept);
    }
    Ok(chosen)
}

/// Two finished records of one run: an error naming both files, the run and the first metric
/// they differ in, unless every metric either of them has is equal in both (a metric a
/// source lacks reads as unmeasured).
fn agree(
    sources: &[Source],
    metrics: &[Metrics],
    (a, i): (usize, usize),
    (b, j): (usize, usize),
) -> Result<()> {
    let names: BTreeSet<&String> = metrics[a].keys().chain(metrics[b].keys()).collect();
    let value = |s: usize, name: &String, k: usize| metrics[s].get(name).and_then(|v| v[k]);
    for name in names {
        let (x, y) = (value(a, name, i), value(b, name, j));
        // Bit-equal or both NaN: the same run computed twice.
        let same = match (x, y) {
            (Some(x), Some(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            (None, None) => true,
            _ => false,
        };
        if !same {
            let row = optional_strings(&sources[a].frame, "row")?[i].clone();
            let seed = integers(&sources[a].frame, "seed")?[i];
            let show = |v: Option<f64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
            return Err(Error::Usage(format!(
                "{} and {} both hold a finished run of row `{}` seed {} and disagree on `{name}` \
                 ({} against {}): the same run measured by different code, data or backend; \
                 merge only frames whose shared runs agree",
                sources[a].path.display(),
                sources[b].path.display(),
                row.unwrap_or_default(),
                seed.map_or_else(|| "?".to_owned(), |s| s.to_string()),
                show(x),
                show(y),
            )));
        }
    }
    Ok(())
}

/// A column as optional strings (absent -> all null; null stays null, unlike
/// [`super::frame::strings`], so an empty reason and an unknown commit keep their CSV forms).
fn optional_strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let Ok(column) = df.column(name) else {
        return Ok(vec![None; df.height()]);
    };
    let cast = column
        .cast(&polars::prelude::DataType::String)
        .map_err(frame_error)?;
    Ok(cast
        .str()
        .map_err(frame_error)?
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect())
}
