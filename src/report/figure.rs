//! Figures declared by a spec's `[[figure]]` entries, built from the result frames: the points
//! (mean, min and max over seeds) go to `<id>.csv`, the plot to `<id>.svg` and `<id>.png`.
//!
//! Text is drawn with the DejaVu Sans font compiled into the binary (through ab_glyph), so
//! PNGs render identically on a machine without any font packages.

use super::collect::Status;
use super::frame::{floats, integers, strings};
use crate::base::{glob_match, write_atomic};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::spec::{
    AxisScale, FigureKind, FigureSpec, LegendPosition, Loaded, MethodName, StageKind,
};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use polars::prelude::DataFrame;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Pixel size of every figure.
const SIZE: (u32, u32) = (960, 600);

/// One plotted point: the mean over seeds and the band around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// x value.
    pub x: f64,
    /// Mean over the seeds that have a value.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Number of seeds.
    pub n: usize,
}

/// One line of a figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Points in increasing x.
    pub points: Vec<Point>,
}

/// Everything drawn in one figure.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The spec's declaration.
    pub spec: FigureSpec,
    /// Title.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

impl Figure {
    /// The plotted points as CSV: `series,x,mean,min,max,n`, 6 decimals.
    pub fn csv(&self) -> String {
        let mut out = String::from("series,x,mean,min,max,n\n");
        for series in &self.series {
            for p in &series.points {
                let _ = writeln!(
                    out,
                    "\"{}\",{:.6},{:.6},{:.6},{:.6},{}",
                    series.label.replace('"', "'"),
                    p.x,
                    p.mean,
                    p.min,
                    p.max,
                    p.n
                );
            }
        }
        out
    }
}

/// Builds the figures of `spec` from the frames: each over the rows of its patterns that the
/// profile runs, none for a figure of rows the profile leaves out (e.g. a converged profile's
/// own rows in the paper profile).
pub fn build(spec: &Loaded, results: &DataFrame, epochs: &DataFrame) -> Result<Vec<Figure>> {
    build_where(spec, results, epochs, &|_| true)
}

/// The figures of `spec` that the results frame alone holds the data of: the trade-offs, and
/// the per-epoch figures of a metric the results record per epoch (`acc.hardprune@N`, which a
/// training's summary holds for each of its epochs). The retraining curves and the other
/// per-epoch metrics need the runs.
pub fn build_from_results(spec: &Loaded, results: &DataFrame) -> Result<Vec<Figure>> {
    let epochs = epochs_from_results(results)?;
    let recorded = strings(&epochs, "metric")?;
    build_where(spec, results, &epochs, &|declared| match declared.kind {
        FigureKind::Tradeoff => true,
        FigureKind::Epochs => declared
            .metric
            .as_ref()
            .is_some_and(|m| recorded.iter().any(|r| r == m)),
        FigureKind::Retrain => false,
    })
}

/// The tidy per-epoch frame (`row`, `seed`, `stage`, `epoch`, `metric`, `value`) of the
/// training metrics the results record per epoch, from their `<metric>@<epoch>` columns
/// (`acc.hardprune@N`; `acc.retrain@N` belongs to the retraining stage, not the training).
fn epochs_from_results(results: &DataFrame) -> Result<DataFrame> {
    let rows = strings(results, "row")?;
    let seeds = integers(results, "seed")?;
    let (mut row, mut seed, mut epoch, mut metric, mut value) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for name in results.get_column_names() {
        let Some(Metric::AccHardpruneAt(n)) = Metric::parse(name) else {
            continue;
        };
        for (i, v) in floats(results, name)?.into_iter().enumerate() {
            if let (Some(v), Some(s)) = (v, seeds[i]) {
                row.push(rows[i].clone());
                seed.push(s);
                epoch.push(n as u64);
                metric.push(Metric::AccHardprune.key());
                value.push(v);
            }
        }
    }
    let stage = vec![StageKind::Train.name().to_owned(); row.len()];
    use polars::prelude::{Column, NamedFrom, Series as Values};
    DataFrame::new_infer_height(vec![
        Column::from(Values::new("row".into(), row)),
        Column::from(Values::new("seed".into(), seed)),
        Column::from(Values::new("stage".into(), stage)),
        Column::from(Values::new("epoch".into(), epoch)),
        Column::from(Values::new("metric".into(), metric)),
        Column::from(Values::new("value".into(), value)),
    ])
    .map_err(super::collect::frame_error)
}

/// [`build`] of the declared figures `wanted` accepts.
fn build_where(
    spec: &Loaded,
    results: &DataFrame,
    epochs: &DataFrame,
    wanted: &dyn Fn(&FigureSpec) -> bool,
) -> Result<Vec<Figure>> {
    spec.raw
        .figure
        .iter()
        .filter(|declared| wanted(declared))
        .filter_map(|declared| {
            let rows: Vec<&str> = spec
                .rows
                .iter()
                .filter(|r| spec.row_selected(r))
                .map(|r| r.name.as_str())
                .filter(|name| {
                    declared.rows.is_empty() || declared.rows.iter().any(|p| glob_match(p, name))
                })
                .collect();
            (!rows.is_empty()).then(|| figure_of(spec, declared, &rows, results, epochs))
        })
        .collect()
}

/// Figure `declared` over `rows`.
fn figure_of(
    spec: &Loaded,
    declared: &FigureSpec,
    rows: &[&str],
    results: &DataFrame,
    epochs: &DataFrame,
) -> Result<Figure> {
    let metric = declared
        .metric
        .clone()
        .unwrap_or_else(|| Metric::AccTest.key());
    let (series, title, x_label) = match declared.kind {
        FigureKind::Epochs => {
            let x_label = format!("{} training epoch", training_methods(spec, rows));
            (
                epoch_series(epochs, rows, StageKind::Train.name(), &metric, &|_| None)?,
                format!("{} per {x_label}", metric_label(&metric)),
                x_label,
            )
        }
        FigureKind::Retrain => {
            // Epoch 0 is the hard-pruned model before any retraining.
            let start = start_points(results)?;
            (
                epoch_series(
                    epochs,
                    rows,
                    StageKind::Retrain.name(),
                    &Metric::AccTest.key(),
                    &|key| start.get(&key).copied(),
                )?,
                "Test accuracy vs masked-retraining epochs".to_owned(),
                "Masked-retraining epochs (0 = hard prune, no retraining)".to_owned(),
            )
        }
        FigureKind::Tradeoff => (
            tradeoff_series(results, rows, &metric)?,
            format!("{} vs compression", metric_label(&metric)),
            "Compression of the pruned layers (x)".to_owned(),
        ),
    };
    let y_label = if declared.kind == FigureKind::Retrain {
        "Test accuracy (%)".to_owned()
    } else {
        metric_label(&metric)
    };
    // A stand-in's numbers must never pass for the real data set's.
    let title = declared.title.clone().unwrap_or(title);
    let title = if uses_standin(results, rows)? {
        format!("[STAND-IN DATA] {title}")
    } else {
        title
    };
    Ok(Figure {
        title,
        x_label: declared.x_label.clone().unwrap_or(x_label),
        y_label: declared.y_label.clone().unwrap_or(y_label),
        spec: declared.clone(),
        series,
    })
}

/// Whether any of `rows` runs on a stand-in data set.
fn uses_standin(results: &DataFrame, rows: &[&str]) -> Result<bool> {
    let row = strings(results, "row")?;
    let dataset = strings(results, "dataset")?;
    Ok((0..results.height()).any(|i| {
        rows.contains(&row[i].as_str())
            && dataset[i] == crate::spec::DatasetKind::FashionMnistCifarStandin.name()
    }))
}

/// (row, seed) -> hard-prune accuracy, the retrain curve's epoch 0.
fn start_points(results: &DataFrame) -> Result<BTreeMap<(String, u64), f64>> {
    let rows = strings(results, "row")?;
    let seeds = integers(results, "seed")?;
    let hardprune = floats(results, &Metric::AccHardprune.key())?;
    Ok((0..results.height())
        .filter_map(|i| Some(((rows[i].clone(), seeds[i]?), hardprune[i]?)))
        .collect())
}

/// One series per row: `metric` of `stage` against the epoch, over seeds; `start` gives an
/// epoch-0 value per (row, seed).
fn epoch_series(
    epochs: &DataFrame,
    rows: &[&str],
    stage: &str,
    metric: &str,
    start: &dyn Fn((String, u64)) -> Option<f64>,
) -> Result<Vec<Series>> {
    let row = strings(epochs, "row")?;
    let seed = integers(epochs, "seed")?;
    let stages = strings(epochs, "stage")?;
    let metrics = strings(epochs, "metric")?;
    let epoch = integers(epochs, "epoch")?;
    let value = floats(epochs, "value")?;
    let mut by_row: BTreeMap<&str, BTreeMap<u64, BTreeMap<u64, f64>>> = BTreeMap::new();
    for i in 0..epochs.height() {
        if stages[i] != stage || metrics[i] != metric || !rows.contains(&row[i].as_str()) {
            continue;
        }
        if let (Some(s), Some(e), Some(v)) = (seed[i], epoch[i], value[i]) {
            let per_epoch = by_row.entry(row[i].as_str()).or_default();
            per_epoch.entry(e).or_default().insert(s, v);
            if let Some(v0) = start((row[i].clone(), s)) {
                per_epoch.entry(0).or_default().insert(s, v0);
            }
        }
    }
    Ok(rows
        .iter()
        .filter_map(|name| {
            let per_epoch = by_row.get(name)?;
            let points = per_epoch
                .iter()
                .filter_map(|(x, seeds)| point(*x as f64, seeds.values().copied()))
                .collect();
            Some(Series {
                label: (*name).to_owned(),
                points,
            })
        })
        .collect())
}

/// Axis label of a metric: its own for a known metric, else the name as written.
fn metric_label(metric: &str) -> String {
    Metric::parse(metric).map_or_else(|| metric.to_owned(), Metric::axis_label)
}

/// "ADMM/SLR": the methods with a training stage among `rows`, in method order.
fn training_methods(spec: &Loaded, rows: &[&str]) -> String {
    let used: Vec<MethodName> = spec
        .rows
        .iter()
        .filter(|r| rows.contains(&r.name.as_str()) && r.method.trains())
        .map(|r| r.method.name())
        .collect();
    let names: Vec<String> = MethodName::ALL
        .into_iter()
        .filter(|m| used.contains(m))
        .map(|m| m.name().to_uppercase())
        .collect();
    names.join("/")
}

/// One series per method: `metric` against achieved compression, one point per row.
fn tradeoff_series(results: &DataFrame, rows: &[&str], metric: &str) -> Result<Vec<Series>> {
    let row = strings(results, "row")?;
    let label = strings(results, "method_label")?;
    let status = strings(results, "status")?;
    let achieved = floats(results, &Metric::CompressionPrunedLayers.key())?;
    let target = floats(results, "target.compression")?;
    let value = floats(results, metric)?;
    // Runs by method (in spec order), then by row: one point per row.
    let mut methods: Vec<(&str, Vec<&str>)> = Vec::new();
    for i in 0..results.height() {
        let slot = match methods.iter().position(|(m, _)| *m == label[i]) {
            Some(p) => p,
            None => {
                methods.push((&label[i], Vec::new()));
                methods.len() - 1
            }
        };
        if rows.contains(&row[i].as_str()) && !methods[slot].1.contains(&row[i].as_str()) {
            methods[slot].1.push(&row[i]);
        }
    }
    Ok(methods
        .into_iter()
        .filter(|(_, method_rows)| !method_rows.is_empty())
        .map(|(method, method_rows)| {
            let mut points: Vec<Point> = method_rows
                .iter()
                .filter_map(|name| {
                    let runs: Vec<usize> = (0..results.height())
                        .filter(|&i| row[i] == *name && status[i] == Status::Done.name())
                        .filter(|&i| achieved[i].or(target[i]).is_some() && value[i].is_some())
                        .collect();
                    let xs: Vec<f64> = runs
                        .iter()
                        .filter_map(|&i| achieved[i].or(target[i]))
                        .collect();
                    let x = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
                    point(x, runs.iter().filter_map(|&i| value[i]))
                })
                .collect();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            Series {
                label: method.to_owned(),
                points,
            }
        })
        .collect())
}

/// Mean, min and max of the finite values; `None` when there are none.
fn point(x: f64, values: impl Iterator<Item = f64>) -> Option<Point> {
    let values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    Some(Point {
        x,
        mean: values.iter().sum::<f64>() / values.len() as f64,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        n: values.len(),
    })
}

/// Registers the bundled font once; plotters looks fonts up by family name.
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and valid; a failure here would be a packaging bug.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// Writes `<dir>/<id>.csv`, `.svg` and `.png`; returns the paths.
pub fn write(figure: &Figure, dir: &Path) -> Result<Vec<PathBuf>> {
    register_font();
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let stem = &figure.spec.id;
    let csv = dir.join(format!("{stem}.csv"));
    write_atomic(&csv, figure.csv().as_bytes())?;
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let fail = |path: &Path| {
        let path = path.to_owned();
        move |message: String| Error::Figure { path, message }
    };
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        draw(&root, figure).map_err(fail(&svg))?;
        root.present().map_err(|e| fail(&svg)(e.to_string()))?;
    }
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        draw(&root, figure).map_err(fail(&png))?;
        root.present().map_err(|e| fail(&png)(e.to_string()))?;
    }
    Ok(vec![csv, svg, png])
}

/// Colours that stay distinguishable (Tableau 10).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let points: Vec<&Point> = figure.series.iter().flat_map(|s| &s.points).collect();
    let log_x = figure.spec.x_scale == AxisScale::Log;
    let log_y = figure.spec.y_scale == AxisScale::Log;
    let xs = points.iter().map(|p| p.x).filter(|x| !log_x || *x > 0.0);
    let ys = points
        .iter()
        .flat_map(|p| [p.min, p.max])
        .filter(|y| !log_y || *y > 0.0);
    let (Some(x_range), Some(y_range)) = (span(xs, log_x, 0.02), span(ys, log_y, 0.06)) else {
        // Nothing measured yet: an honest empty frame instead of a missing file.
        let style = ("sans-serif", 22).into_font().color(&BLACK);
        root.draw_text(&figure.title, &style, (40, 30))
            .map_err(err)?;
        root.draw_text(
            "No data yet: its runs are pending, or they do not record this metric.",
            &("sans-serif", 18).into_font().color(&BLACK),
            (40, 80),
        )
        .map_err(err)?;
        return Ok(());
    };
    // Log axes get 1-2-5 ticks: plotters' own log key points leave whole decades unlabelled.
    let log = |r: std::ops::Range<f64>| {
        let ticks = log_ticks(&r);
        r.log_scale().with_key_points(ticks)
    };
    match (log_x, log_y) {
        (false, false) => plot(root, figure, x_range, y_range),
        (true, false) => plot(root, figure, log(x_range), y_range),
        (false, true) => plot(root, figure, x_range, log(y_range)),
        (true, true) => plot(root, figure, log(x_range), log(y_range)),
    }
}

/// Tick values 1, 2, 5 x 10^k inside `range` (every integer multiple when that gives fewer
/// than four).
fn log_ticks(range: &std::ops::Range<f64>) -> Vec<f64> {
    let (lo, hi) = (
        range.start.log10().floor() as i32,
        range.end.log10().ceil() as i32,
    );
    let within = |multipliers: &[f64]| -> Vec<f64> {
        (lo..=hi)
            .flat_map(|k| multipliers.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| range.contains(v))
            .collect()
    };
    let ticks = within(&[1.0, 2.0, 5.0]);
    if ticks.len() >= 4 {
        ticks
    } else {
        within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }
}

/// The padded data range, multiplicative on a log axis.
fn span(values: impl Iterator<Item = f64>, log: bool, pad: f64) -> Option<std::ops::Range<f64>> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    Some(if log {
        let (l, h) = (lo.log10(), hi.log10());
        let d = ((h - l) * pad).max(0.02);
        10f64.powf(l - d)..10f64.powf(h + d)
    } else {
        let d = ((hi - lo) * pad).max(if hi == lo { 0.5 } else { 0.0 });
        lo - d..hi + d
    })
}

/// The corner whose legend box covers the fewest drawn values (means, interval ends and the
/// lines between them), for figures whose data decide where there is room: preferred in the
/// order upper left, upper right, lower left, lower right when several are as empty.
pub fn emptiest_corner(series: &[Series], log_x: bool) -> LegendPosition {
    let at = |x: f64| if log_x { x.log10() } else { x };
    // Every drawn value as (x, lowest y, highest y): each point's interval, and 8 steps along
    // each line and band between two points.
    let mut marks: Vec<(f64, f64, f64)> = Vec::new();
    for s in series {
        let points: Vec<&Point> = s.points.iter().filter(|p| !log_x || p.x > 0.0).collect();
        for p in &points {
            marks.push((at(p.x), p.min.min(p.mean), p.max.max(p.mean)));
        }
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            for k in 1..8 {
                let t = f64::from(k) / 8.0;
                let mix = |u: f64, v: f64| u + t * (v - u);
                marks.push((
                    mix(at(a.x), at(b.x)),
                    mix(a.min.min(a.mean), b.min.min(b.mean)),
                    mix(a.max.max(a.mean), b.max.max(b.mean)),
                ));
            }
        }
    }
    // Marks as shares of the data's extent (already on the log scale, so `span` is linear
    // here), computed once for the four corners.
    let (Some(xs), Some(ys)) = (
        span(marks.iter().map(|m| m.0), false, 0.0),
        span(marks.iter().flat_map(|m| [m.1, m.2]), false, 0.0),
    ) else {
        return LegendPosition::UpperLeft;
    };
    let share = |v: f64, r: &std::ops::Range<f64>| (v - r.start) / (r.end - r.start);
    let shares: Vec<(f64, f64, f64)> = marks
        .iter()
        .map(|&(x, lo, hi)| (share(x, &xs), share(lo, &ys), share(hi, &ys)))
        .collect();
    // The legend's share of the plot area at SIZE: about 7.5 px per label character plus the
    // line sample and margins over ~850 px of width; ~20 px per series over ~470 px of height.
    let longest = series
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(0);
    let width = ((longest as f64 * 7.5 + 60.0) / 850.0).min(1.0);
    let height = ((series.len() as f64 * 20.0 + 24.0) / 470.0).min(1.0);
    let covered = |left: bool, upper: bool| {
        let (bx0, bx1) = if left {
            (0.0, width)
        } else {
            (1.0 - width, 1.0)
        };
        let (by0, by1) = if upper {
            (1.0 - height, 1.0)
        } else {
            (0.0, height)
        };
        shares
            .iter()
            .filter(|&&(x, lo, hi)| x >= bx0 && x <= bx1 && hi >= by0 && lo <= by1)
            .count()
    };
    [
        (LegendPosition::UpperLeft, true, true),
        (LegendPosition::UpperRight, false, true),
        (LegendPosition::LowerLeft, true, false),
        (LegendPosition::LowerRight, false, false),
    ]
    .into_iter()
    .min_by_key(|&(_, left, upper)| covered(left, upper))
    .map_or(LegendPosition::UpperLeft, |(corner, _, _)| corner)
}

/// Tick labels: few significant digits, no exponent notation for the ranges plotted here.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        trim(format!("{v:.1}"))
    } else if a >= 0.1 {
        trim(format!("{v:.2}"))
    } else {
        format!("{v:.1e}")
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn plot<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
    x: X,
    y: Y,
) -> std::result::Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    // Epoch axes: as many labels as whole epochs (up to 12), so none falls between two.
    let x_labels = match figure.spec.kind {
        FigureKind::Tradeoff => 10,
        _ => {
            let last = figure
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.x as usize))
                .max()
                .unwrap_or(0);
            (last + 1).min(12)
        }
    };
    let mut chart = ChartBuilder::on(root)
        .caption(&figure.title, ("sans-serif", 22))
        .margin(18)
        .x_label_area_size(55)
        .y_label_area_size(75)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(&figure.x_label)
        .y_desc(&figure.y_label)
        .axis_desc_style(("sans-serif", 17))
        .label_style(("sans-serif", 14))
        .x_labels(x_labels)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let log_x = figure.spec.x_scale == AxisScale::Log;
    let log_y = figure.spec.y_scale == AxisScale::Log;
    let visible = |p: &&Point| (!log_x || p.x > 0.0) && (!log_y || p.min > 0.0);
    for (index, series) in figure.series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let points: Vec<&Point> = series.points.iter().filter(visible).collect();
        if points.iter().any(|p| p.n > 1) {
            // min-max band over seeds.
            let band: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (p.x, p.max))
                .chain(points.iter().rev().map(|p| (p.x, p.min)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    color.mix(0.18).filled(),
                )))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.x, p.mean)),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(&series.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
            });
        chart
            .draw_series(
                points
                    .iter()
                    .map(|p| Circle::new((p.x, p.mean), 3, color.filled())),
            )
            .map_err(err)?;
    }
    let position = match figure.spec.legend.unwrap_or(if log_y {
        LegendPosition::UpperRight
    } else {
        LegendPosition::LowerRight
    }) {
        LegendPosition::UpperLeft => SeriesLabelPosition::UpperLeft,
        LegendPosition::UpperRight => SeriesLabelPosition::UpperRight,
        LegendPosition::LowerLeft => SeriesLabelPosition::LowerLeft,
        LegendPosition::LowerRight => SeriesLabelPosition::LowerRight,
    };
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .margin(12)
        .draw()
        .map_err(err)?;
    Ok(())
}
