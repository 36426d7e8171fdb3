//! A paper's claims tested on the runs: for each `[[claim]]` and each pairing group, the paired
//! differences of the claim's metric between its `better` and `than` rows, their mean, a 95%
//! Student-t interval and a verdict. Rendered from the `results` frame only.

use super::collect::Status;
use super::figure::{Figure, Point, Series, emptiest_corner};
use super::frame::{floats, integers, strings};
use crate::base::glob_match;
use crate::error::Result;
use crate::metrics::{Direction, Metric};
use crate::spec::{AxisScale, ClaimDirection, ClaimSpec, FigureKind, FigureSpec, Loaded, PairBy};
use polars::prelude::DataFrame;
use std::fmt::Write;

/// What the paired differences say about a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The whole 95% interval favours the claim.
    Supported,
    /// The whole 95% interval goes against it.
    Contradicted,
    /// The interval contains 0, or there are fewer than 2 pairs.
    Inconclusive,
}

impl Verdict {
    /// Its word in the report.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// One claim at one pairing group.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimResult {
    /// The claim's id.
    pub claim: String,
    /// The group's target compression (`None`: pairs by seed only).
    pub compression: Option<f64>,
    /// The group's training budget: epochs of the method's training before pruning (`None`:
    /// the results do not record it, or neither side trains).
    pub budget: Option<u32>,
    /// Pairs found.
    pub n: usize,
    /// Mean difference, signed so that positive favours the claim.
    pub mean: f64,
    /// 95% interval of the mean difference (`None` with fewer than 2 pairs).
    pub interval: Option<(f64, f64)>,
    /// What it says.
    pub verdict: Verdict,
    /// Two-sided p-value of the paired t-test (`None` with fewer than 2 pairs).
    pub p: Option<f64>,
    /// `p` after Holm's step-down adjustment over every tested line of the report.
    pub holm_p: Option<f64>,
    /// The verdict at the 5% level of `holm_p`.
    pub holm_verdict: Verdict,
}

/// Mean, 95% interval and verdict of paired differences (positive favours the claim).
pub fn verdict_of(differences: &[f64]) -> (f64, Option<(f64, f64)>, Verdict) {
    let n = differences.len();
    if n == 0 {
        return (f64::NAN, None, Verdict::Inconclusive);
    }
    let mean = differences.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None, Verdict::Inconclusive);
    }
    let half = t_quantile_975(n - 1) * standard_error(differences, mean);
    let (low, high) = (mean - half, mean + half);
    (mean, Some((low, high)), verdict_of_sign(low, high))
}

fn verdict_of_sign(low: f64, high: f64) -> Verdict {
    if low > 0.0 {
        Verdict::Supported
    } else if high < 0.0 {
        Verdict::Contradicted
    } else {
        Verdict::Inconclusive
    }
}

/// s / √n of the differences.
fn standard_error(differences: &[f64], mean: f64) -> f64 {
    let n = differences.len() as f64;
    let variance = differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (variance / n).sqrt()
}

/// Two-sided p-value of the one-sample t-test of mean 0 (`None` with fewer than 2 values):
/// P(|T| >= |t|) = I_{df/(df+t²)}(df/2, 1/2) with t = mean / (s / √n), df = n − 1.
pub fn p_value(differences: &[f64]) -> Option<f64> {
    let n = differences.len();
    if n < 2 {
        return None;
    }
    let mean = differences.iter().sum::<f64>() / n as f64;
    let se = standard_error(differences, mean);
    if se == 0.0 {
        // Identical differences: certain, unless they are all 0.
        return Some(if mean == 0.0 { 1.0 } else { 0.0 });
    }
    let t = mean / se;
    let df = (n - 1) as f64;
    Some(incomplete_beta(df / (df + t * t), 0.5 * df, 0.5))
}

/// Holm's step-down adjustment of `p` (family-wise error over all of them): the k-th smallest
/// becomes max over j <= k of min(1, (m − j + 1) p_(j)). Order is kept.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// A pairing group: target compression (unless pairing by seed) and training budget.
type Group = (Option<f64>, Option<u32>);

/// Tests every claim of `spec` on `results`; every line with a p-value is Holm-adjusted over
/// all of them.
pub fn evaluate(spec: &Loaded, results: &DataFrame) -> Result<Vec<ClaimResult>> {
    let row = strings(results, "row")?;
    let status = strings(results, "status")?;
    let seed = floats(results, "seed")?;
    let target = floats(results, "target.compression")?;
    let budget: Vec<Option<u32>> = integers(results, "train.epochs")?
        .into_iter()
        .map(|b| b.map(|b| b as u32))
        .collect();
    let done: Vec<bool> = status.iter().map(|s| s == Status::Done.name()).collect();
    let mut out = Vec::new();
    for claim in &spec.raw.claim {
        let value = floats(results, &claim.metric)?;
        let sign = if higher_is_better(claim) { 1.0 } else { -1.0 };
        let usable = |i: usize, pattern: &str| {
            done[i] && glob_match(pattern, &row[i]) && value[i].is_some_and(f64::is_finite)
        };
        // (group, difference) for every `better` run with a `than` partner.
        let mut pairs: Vec<(Group, f64)> = Vec::new();
        for i in (0..results.height()).filter(|&i| usable(i, &claim.better)) {
            let compression = match claim.pair_by {
                PairBy::CompressionAndSeed => target[i],
                PairBy::Seed => None,
            };
            let candidates: Vec<usize> = (0..results.height())
                .filter(|&j| {
                    usable(j, &claim.than)
                        && seed[j] == seed[i]
                        && match claim.pair_by {
                            PairBy::CompressionAndSeed => same(target[j], target[i]),
                            PairBy::Seed => true,
                        }
                })
                .collect();
            // A side that does not train (e.g. magnitude pruning) pairs at every budget of the
            // other: one partner per budget.
            let mut partners: Vec<usize> = Vec::new();
            for &j in &candidates {
                let fits = budget[i].is_none() || budget[j].is_none() || budget[j] == budget[i];
                if fits && !partners.iter().any(|&k| budget[k] == budget[j]) {
                    partners.push(j);
                }
            }
            if budget[i].is_some() {
                // One partner: the same budget first, else one that does not train.
                partners.sort_by_key(|&j| budget[j] != budget[i]);
                partners.truncate(1);
            }
            for j in partners {
                let difference = sign * (value[i].expect("usable") - value[j].expect("usable"));
                pairs.push(((compression, budget[i].or(budget[j])), difference));
            }
        }
        let mut groups: Vec<Group> = Vec::new();
        for (group, _) in &pairs {
            if !groups.iter().any(|g| same_group(*g, *group)) {
                groups.push(*group);
            }
        }
        groups.sort_by(|a, b| {
            a.0.unwrap_or(0.0)
                .total_cmp(&b.0.unwrap_or(0.0))
                .then(a.1.cmp(&b.1))
        });
        if groups.is_empty() {
            out.push(ClaimResult {
                claim: claim.id.clone(),
                compression: None,
                budget: None,
                n: 0,
                mean: f64::NAN,
                interval: None,
                verdict: Verdict::Inconclusive,
                p: None,
                holm_p: None,
                holm_verdict: Verdict::Inconclusive,
            });
        }
        for group in groups {
            let differences: Vec<f64> = pairs
                .iter()
                .filter(|(g, _)| same_group(*g, group))
                .map(|(_, d)| *d)
                .collect();
            let (mean, interval, verdict) = verdict_of(&differences);
            out.push(ClaimResult {
                claim: claim.id.clone(),
                compression: group.0,
                budget: group.1,
                n: differences.len(),
                mean,
                interval,
                verdict,
                p: p_value(&differences),
                holm_p: None,
                holm_verdict: Verdict::Inconclusive,
            });
        }
    }
    let tested: Vec<usize> = (0..out.len()).filter(|&i| out[i].p.is_some()).collect();
    let p: Vec<f64> = tested.iter().map(|&i| out[i].p.expect("tested")).collect();
    for (&i, adjusted) in tested.iter().zip(holm(&p)) {
        let result = &mut out[i];
        result.holm_p = Some(adjusted);
        if adjusted < 0.05 {
            result.holm_verdict = verdict_of_sign(result.mean, result.mean);
        }
    }
    Ok(out)
}

fn same_group(a: Group, b: Group) -> bool {
    same(a.0, b.0) && a.1 == b.1
}

/// Equal target compressions (both absent, or within rounding of the ratio arithmetic).
fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        _ => false,
    }
}

fn higher_is_better(claim: &ClaimSpec) -> bool {
    match claim.direction {
        Some(ClaimDirection::Higher) => true,
        Some(ClaimDirection::Lower) => false,
        None => Metric::parse(&claim.metric).map(Metric::direction) != Some(Direction::Lower),
    }
}

/// "1 epoch", "10 epochs" (with `noun` in the singular).
fn epochs_text(count: u32, noun: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {noun}{plural}")
}

/// A p-value as the report prints it: 3 decimals, 4 below 0.01, "< 0.0001" below that.
fn p_text(p: Option<f64>) -> String {
    match p {
        None => "–".to_owned(),
        Some(p) if p < 1e-4 => "< 0.0001".to_owned(),
        Some(p) if p < 0.01 => format!("{p:.4}"),
        Some(p) => format!("{p:.3}"),
    }
}

/// The report's "Claims" section (empty when the spec has no claims).
pub fn render(spec: &Loaded, results: &DataFrame) -> Result<String> {
    if spec.raw.claim.is_empty() {
        return Ok(String::new());
    }
    let found = evaluate(spec, results)?;
    let mut out = String::from("\n## Claims\n\n");
    out.push_str(
        "| Claim | Metric (better − than) | Pairs at | n | Mean difference | 95% interval[^claims] \
         | Verdict | p | Holm p[^holm] | Verdict, Holm |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for claim in &spec.raw.claim {
        let sign = if higher_is_better(claim) {
            ""
        } else {
            ", lower is better"
        };
        for result in found.iter().filter(|r| r.claim == claim.id) {
            let budget = result
                .budget
                .map(|b| format!("{}, ", epochs_text(b, "training epoch")))
                .unwrap_or_default();
            let at = match (claim.pair_by, result.compression) {
                (PairBy::Seed, _) => format!("{budget}same seed"),
                (_, Some(c)) => format!("{c:.2}x, {budget}same seed"),
                (_, None) => "–".to_owned(),
            };
            let mean = if result.n == 0 {
                "no pairs yet".to_owned()
            } else {
                format!("{:+.2}", result.mean)
            };
            let interval = result
                .interval
                .map_or_else(|| "–".to_owned(), |(l, h)| format!("[{l:+.2}, {h:+.2}]"));
            let _ = writeln!(
                out,
                "| {}[^claim-{}] | `{}` (`{}` − `{}`{sign}) | {at} | {} | {mean} | {interval} | {} | {} | {} | {} |",
                claim.text,
                claim.id,
                claim.metric,
                claim.better,
                claim.than,
                result.n,
                result.verdict.name(),
                p_text(result.p),
                p_text(result.holm_p),
                result.holm_verdict.name()
            );
        }
    }
    let tested = found.iter().filter(|r| r.p.is_some()).count();
    out.push_str(
        "\n[^claims]: Each `better` run is paired with the `than` run of the same seed (and, \
         unless `pair_by = \"seed\"`, the same target compression, so both prune the same dense \
         model; where the results record it, the same training budget, so both trained as \
         long before pruning); the difference is signed so that positive favours the claim. \
         95% interval: mean ± t(0.975, n − 1) · s / √n, Student t over the paired \
         differences. Supported when the interval lies above 0, contradicted when below, \
         inconclusive when it contains 0 or with fewer than 2 pairs. p: two-sided paired \
         t-test of a zero mean difference (p < 0.05 exactly when the interval excludes 0).\n",
    );
    let _ = writeln!(
        out,
        "[^holm]: Holm's step-down adjustment of the p-values over every line of this report \
         with at least 2 pairs ({tested} here: all claims, compressions and budgets together), \
         which holds the chance of any false verdict among them at 5%; \"Verdict, Holm\" is \
         the verdict at adjusted p < 0.05. With many lines some unadjusted verdicts come out \
         by chance; the adjusted ones keep that chance at 5% for the whole report."
    );
    for claim in &spec.raw.claim {
        let _ = writeln!(out, "[^claim-{}]: {}", claim.id, claim.citation);
    }
    Ok(out)
}

/// The claims figures: `claims` (each claim's mean paired difference with its interval
/// against target compression, a line per claim and training budget) and, where a
/// compression has several budgets, `claims-vs-budget` (the same against the budget, a line
/// per claim and compression). A budget measured at one compression only, which the budget
/// figure shows, is no lone point against compression; `claims` is left out when that leaves
/// it empty. Each legend sits in the corner with the fewest drawn values. Empty without claims.
pub fn figures(spec: &Loaded, results: &DataFrame) -> Result<Vec<Figure>> {
    if spec.raw.claim.is_empty() {
        return Ok(Vec::new());
    }
    let found = evaluate(spec, results)?;
    let tested: Vec<&ClaimResult> = found.iter().filter(|r| r.n > 0).collect();
    let point = |r: &ClaimResult, x: f64| {
        let (min, max) = r.interval.unwrap_or((r.mean, r.mean));
        Point {
            x,
            mean: r.mean,
            min,
            max,
            n: r.n,
        }
    };
    let mut by_compression = Vec::new();
    let mut by_budget = Vec::new();
    for claim in &spec.raw.claim {
        let of_claim: Vec<&ClaimResult> = tested
            .iter()
            .copied()
            .filter(|r| r.claim == claim.id)
            .collect();
        let label = format!("{} ({})", claim.id, claim.metric);
        // Against the budget: one line per compression measured at several budgets.
        let mut compressions: Vec<Option<f64>> = Vec::new();
        for r in &of_claim {
            if !compressions.iter().any(|c| same(*c, r.compression)) {
                compressions.push(r.compression);
            }
        }
        let mut on_budget_axis: Vec<Option<f64>> = Vec::new();
        for compression in compressions {
            let points: Vec<Point> = of_claim
                .iter()
                .filter(|r| same(r.compression, compression))
                .filter_map(|r| r.budget.map(|b| point(r, f64::from(b))))
                .collect();
            if points.len() > 1 {
                on_budget_axis.push(compression);
                by_budget.push(Series {
                    label: match compression {
                        Some(c) => format!("{label} at {c:.2}x"),
                        None => label.clone(),
                    },
                    points,
                });
            }
        }
        // Against compression: one line per budget, but not a lone point the budget figure
        // already shows (a budget measured at one compression only).
        let mut budgets: Vec<Option<u32>> = of_claim.iter().map(|r| r.budget).collect();
        budgets.sort();
        budgets.dedup();
        for budget in &budgets {
            let at_budget: Vec<&ClaimResult> = of_claim
                .iter()
                .copied()
                .filter(|r| r.budget == *budget)
                .collect();
            if let [lone] = at_budget[..]
                && on_budget_axis.iter().any(|c| same(*c, lone.compression))
            {
                continue;
            }
            let points: Vec<Point> = at_budget
                .iter()
                .map(|r| point(r, r.compression.unwrap_or(1.0)))
                .collect();
            by_compression.push(Series {
                label: match budget {
                    Some(b) if budgets.len() > 1 => {
                        format!("{label}, {}", epochs_text(*b, "epoch"))
                    }
                    _ => label.clone(),
                },
                points,
            });
        }
    }
    let figure = |id: &str, x_scale: AxisScale, x_label: &str, series: Vec<Series>| Figure {
        spec: FigureSpec {
            id: id.into(),
            kind: FigureKind::Tradeoff,
            rows: Vec::new(),
            metric: None,
            title: None,
            x_label: None,
            y_label: None,
            x_scale,
            y_scale: AxisScale::Linear,
            legend: Some(emptiest_corner(&series, x_scale == AxisScale::Log)),
        },
        title: "Claims: mean paired difference (better − than) with its 95% interval".into(),
        x_label: x_label.into(),
        y_label: "Paired difference (positive favours the claim)".into(),
        series,
    };
    let [against_compression, against_budget] = crate::spec::CLAIMS_FIGURE_IDS;
    let mut figures = Vec::new();
    // Without budgets this is the only figure, drawn even before any pair exists.
    if !by_compression.is_empty() || by_budget.is_empty() {
        figures.push(figure(
            against_compression,
            AxisScale::Log,
            "Target compression of the pruned layers (x)",
            by_compression,
        ));
    }
    if !by_budget.is_empty() {
        figures.push(figure(
            against_budget,
            AxisScale::Linear,
            "Epochs of ADMM/SLR training before hard pruning",
            by_budget,
        ));
    }
    Ok(figures)
}

/// t(0.975, df): the two-sided 95% quantile of Student's t, by bisection on its CDF.
pub fn t_quantile_975(df: usize) -> f64 {
    let df = df.max(1) as f64;
    let (mut low, mut high) = (0.0f64, 1000.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if t_cdf(mid, df) < 0.975 {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

/// CDF of Student's t with `df` degrees of freedom at `t >= 0`:
/// 1 − I_{df/(df+t²)}(df/2, 1/2) / 2.
fn t_cdf(t: f64, df: f64) -> f64 {
    1.0 - 0.5 * incomplete_beta(df / (df + t * t), 0.5 * df, 0.5)
}

/// The regularized incomplete beta function I_x(a, b) (continued fraction, Lentz's method).
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    // The fraction converges fast for x < (a + 1) / (a + b + 2); else use the symmetry.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    }
}

fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9).
fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}
