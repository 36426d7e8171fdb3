//! Claim verdicts computed by hand: the t quantile, paired intervals, pairing by compression
//! and seed on a built frame, the rendered section, and bad claims refused.

use super::common::write;
use polars::df;
use slr_repro::report::claims::{self, Verdict, t_quantile_975, verdict_of};

#[test]
fn t_quantiles_match_the_tables() {
    // Two-sided 95% quantiles of Student's t (any statistics table).
    for (df, expected) in [
        (1, 12.7062),
        (2, 4.3027),
        (4, 2.7764),
        (9, 2.2622),
        (29, 2.0452),
        (1000, 1.9623),
    ] {
        let t = t_quantile_975(df);
        assert!((t - expected).abs() < 5e-4, "df {df}: {t} vs {expected}");
    }
}

#[test]
fn verdicts_of_paired_differences_by_hand() {
    // Mean 2.5, s = 0.5, n = 3: half-width 4.3027 * 0.5 / sqrt(3) = 1.2421.
    let (mean, interval, verdict) = verdict_of(&[2.0, 2.5, 3.0]);
    let (low, high) = interval.unwrap();
    assert_eq!(mean, 2.5);
    assert!(
        (low - 1.2579).abs() < 1e-3 && (high - 3.7421).abs() < 1e-3,
        "{low} {high}"
    );
    assert_eq!(verdict, Verdict::Supported);
    // Mean 2, s = 1: half-width 2.4841, the interval holds 0.
    assert_eq!(verdict_of(&[1.0, 2.0, 3.0]).2, Verdict::Inconclusive);
    assert_eq!(verdict_of(&[-2.0, -2.5, -3.0]).2, Verdict::Contradicted);
    // One pair: a mean, no interval, no verdict.
    assert_eq!(verdict_of(&[4.0]), (4.0, None, Verdict::Inconclusive));
}

#[test]
fn p_values_and_holm_by_hand() {
    // df = 2: P(|T| >= t) = 1 − t / √(2 + t²). [2, 2.5, 3]: t = 2.5 / (0.5 / √3) = 8.6603.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    let p = claims::p_value(&[2.0, 2.5, 3.0]).unwrap();
    assert!(close(p, 1.0 - 8.660_254 / 77f64.sqrt()), "{p}");
    // [1, 2, 3]: t = 2 / (1 / √3) = 3.4641; 0.0742 > 0.05, as the interval holds 0.
    let p = claims::p_value(&[1.0, 2.0, 3.0]).unwrap();
    assert!(close(p, 1.0 - 12f64.sqrt() / 14f64.sqrt()), "{p}");
    // df = 1 is Cauchy: [1, 3] has t = 2, p = 1 − (2/π) atan 2.
    let p = claims::p_value(&[1.0, 3.0]).unwrap();
    assert!(
        close(p, 1.0 - 2.0 / std::f64::consts::PI * 2f64.atan()),
        "{p}"
    );
    assert_eq!(claims::p_value(&[4.0]), None);
    assert_eq!(claims::p_value(&[1.5, 1.5]), Some(0.0));
    assert_eq!(claims::p_value(&[0.0, 0.0]), Some(1.0));
    // Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> 0.06 (the
    // running maximum), back in the input order.
    let adjusted = claims::holm(&[0.01, 0.04, 0.03, 0.005]);
    let expected = [0.03, 0.06, 0.06, 0.02];
    assert!(
        adjusted.iter().zip(expected).all(|(a, e)| close(*a, e)),
        "{adjusted:?}"
    );
    assert_eq!(claims::holm(&[0.6, 0.7]), [1.0, 1.0], "capped at 1");
}

const SPEC: &str = r#"
[table]
id = "claims"
title = "Claims on a built frame"

[defaults]
model = "lenet5"
dataset = "mnist"
seeds = [1, 2, 3]

[[rows]]
name = "slr-10x"
method = "slr"
sparsity = { uniform = 0.9 }

[[rows]]
name = "admm-10x"
method = "admm"
sparsity = { uniform = 0.9 }

[[rows]]
name = "slr-20x"
method = "slr"
sparsity = { uniform = 0.95 }

[[rows]]
name = "admm-20x"
method = "admm"
sparsity = { uniform = 0.95 }

[[claim]]
id = "hardprune"
text = "SLR keeps higher accuracy after hard pruning"
citation = "Test fixture, not a paper"
metric = "acc.hardprune"
better = "slr-*"
than = "admm-*"
"#;

#[test]
fn claims_pair_runs_by_compression_and_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = super::common::load_spec(&write(tmp.path(), "claims.toml", SPEC), None);
    // At 10x: differences 2.0, 2.5, 3.0 (supported). At 20x: one pair (seed 3 of ADMM
    // failed), difference -1.0 (inconclusive).
    let results = df![
        "row" => ["slr-10x", "slr-10x", "slr-10x", "admm-10x", "admm-10x", "admm-10x",
                  "slr-20x", "slr-20x", "admm-20x", "admm-20x"],
        "seed" => [1u64, 2, 3, 3, 2, 1, 1, 3, 1, 3],
        "status" => ["done", "done", "done", "done", "done", "done", "done", "done", "done", "failed"],
        "target.compression" => [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 20.0, 20.0, 20.0],
        "acc.hardprune" => [Some(92.0), Some(93.5), Some(94.0), Some(91.0), Some(91.0), Some(90.0),
                            Some(80.0), Some(81.0), Some(81.0), None],
    ]
    .unwrap();
    let found = claims::evaluate(&spec, &results).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].compression, Some(10.0));
    assert_eq!((found[0].n, found[0].mean), (3, 2.5));
    assert_eq!(found[0].verdict, Verdict::Supported);
    assert_eq!(found[1].compression, Some(20.0));
    assert_eq!(
        (found[1].n, found[1].mean, found[1].interval),
        (1, -1.0, None)
    );
    assert_eq!(found[1].verdict, Verdict::Inconclusive);
    insta::assert_snapshot!("claims_section", claims::render(&spec, &results).unwrap());
}

#[test]
fn bad_claims_are_refused_naming_the_key() {
    let cases = [
        ("metric = \"acc.hardprune\"", "metric = \"acc.best\""),
        ("better = \"slr-*\"", "better = \"sgd-*\""),
        ("than = \"admm-*\"", "than = \"*-10x\""),
        (
            "citation = \"Test fixture, not a paper\"",
            "citation = \"\"",
        ),
        ("metric = \"acc.hardprune\"", "metric = \"sparsity.global\""),
    ];
    let mut all = String::new();
    for (from, to) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let path = write(tmp.path(), "claims.toml", &SPEC.replace(from, to));
        let error = slr_repro::spec::load(&path, &Default::default()).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        let message = error
            .to_string()
            .replace(&tmp.path().display().to_string(), "<dir>");
        all.push_str(&format!("{to}: {message}\n"));
    }
    insta::assert_snapshot!("claim_validation", all);
}

/// Every committed report (each `reports/*/results.csv` found) is what the committed code
/// renders from its committed results (`slr report --from-results`): the table, the notes and
/// the claims word for word (the provenance line after them names the commit that rendered
/// it), and the claims figure's points, so the numbers, the verdicts and the code cannot drift
/// apart.
#[test]
fn the_committed_reports_are_rendered_from_their_results() {
    use slr_repro::report::table;
    let root = super::common::root();
    // Every committed frame: `reports/<spec>[.<profile>]/results.csv` (no profile: `paper`).
    let mut committed: Vec<String> = std::fs::read_dir(root.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("results.csv").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    for stem in ["lenet5-fashion", "lenet5-mnist", "lenet5-mnist.published"] {
        assert!(committed.iter().any(|c| c == stem), "{stem}: {committed:?}");
    }
    for stem in &committed {
        let (spec, profile) = stem.split_once('.').unwrap_or((stem, "paper"));
        let spec = super::common::load_spec(
            &root.join(format!("experiments/{spec}.toml")),
            Some(profile),
        );
        let csv = root.join(format!("reports/{stem}/results.csv"));
        let results = slr_repro::report::read_results(&spec, &csv).unwrap();
        let rendered = table::render(&spec, &results, "").unwrap();
        let committed = std::fs::read_to_string(root.join(format!("reports/{stem}.md"))).unwrap();
        let body = |text: &str| text.split("\n---\n").next().unwrap().to_owned();
        assert_eq!(body(&committed), body(&rendered), "reports/{stem}.md");
        let figures = claims::figures(&spec, &results).unwrap();
        let committed =
            std::fs::read_to_string(root.join(format!("reports/{stem}/claims.csv"))).unwrap();
        assert_eq!(committed, figures[0].csv(), "reports/{stem}/claims.csv");
    }
}

/// `slr report --from-results` refuses a missing frame and one whose rows the spec lacks,
/// naming the file (exit 2).
#[test]
fn a_results_frame_is_checked_before_rendering() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = super::common::load_spec(&write(tmp.path(), "claims.toml", SPEC), None);
    let missing = tmp.path().join("results.csv");
    let err = slr_repro::report::read_results(&spec, &missing).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("no such results frame"), "{err}");
    let root = super::common::root();
    let other = root.join("reports/lenet5-fashion/results.csv");
    let err = slr_repro::report::read_results(&spec, &other).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("row `dense` is not a row of spec"),
        "{err}"
    );
    // The paper profile's frame under the published profile, which runs other seeds and rows.
    let published = super::common::load_spec(
        &root.join("experiments/lenet5-mnist.toml"),
        Some("published"),
    );
    let paper = root.join("reports/lenet5-mnist/results.csv");
    let err = slr_repro::report::read_results(&published, &paper).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("that profile `published` does not run"),
        "{err}"
    );
}

#[test]
fn the_claims_figure_plots_each_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = super::common::load_spec(&write(tmp.path(), "claims.toml", SPEC), None);
    let results = df![
        "row" => ["slr-10x", "slr-10x", "admm-10x", "admm-10x"],
        "seed" => [1u64, 2, 1, 2],
        "status" => ["done"; 4],
        "target.compression" => [10.0; 4],
        "acc.hardprune" => [92.0, 93.0, 91.0, 91.0],
    ]
    .unwrap();
    let figures = claims::figures(&spec, &results).unwrap();
    assert_eq!(figures.len(), 1, "one budget: no figure against the budget");
    let written = slr_repro::report::figure::write(&figures[0], tmp.path()).unwrap();
    assert_eq!(written.len(), 3, "{written:?}");
    // Differences 1 and 2: mean 1.5, s = 0.7071, t(0.975, 1) = 12.7062 -> ±6.3531.
    let csv = std::fs::read_to_string(tmp.path().join("claims.csv")).unwrap();
    assert_eq!(
        csv,
        "series,x,mean,min,max,n\n\"hardprune (acc.hardprune)\",10.000000,1.500000,-4.853102,7.853102,2\n"
    );
}

#[test]
fn reports_of_other_profiles_do_not_overwrite_the_paper_report() {
    let root = super::common::root();
    let path = root.join("experiments/lenet5-fashion.toml");
    let stem = |profile: Option<&str>| {
        slr_repro::report::report_stem(&super::common::load_spec(&path, profile))
    };
    assert_eq!(stem(None), "lenet5-fashion");
    assert_eq!(stem(Some("paper")), "lenet5-fashion");
    assert_eq!(stem(Some("smoke")), "lenet5-fashion.smoke");
    assert_eq!(stem(Some("long")), "lenet5-fashion.long");
    assert_eq!(stem(Some("converged")), "lenet5-fashion.converged");
}

/// Pairs by training budget: a `better` side that does not train (budget null) pairs with the
/// `than` run of every budget, one line per budget; two training sides pair at equal budgets.
#[test]
fn claims_pair_by_training_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = super::common::load_spec(&write(tmp.path(), "claims.toml", SPEC), None);
    // Seed 1: slr-10x at budgets 10 and 20, each paired with admm-10x's run of that budget;
    // seed 2: an slr-10x run with no budget (as a row that does not train), paired with
    // admm-10x's run at each budget.
    let results = df![
        "row" => ["slr-10x", "slr-10x", "slr-10x", "admm-10x", "admm-10x", "admm-10x", "admm-10x"],
        "seed" => [1u64, 1, 2, 1, 1, 2, 2],
        "status" => ["done"; 7],
        "target.compression" => [10.0; 7],
        "train.epochs" => [Some(10u32), Some(20), None, Some(10), Some(20), Some(10), Some(20)],
        "acc.hardprune" => [90.0, 92.0, 95.0, 89.0, 90.0, 91.0, 94.0],
    ]
    .unwrap();
    let found = claims::evaluate(&spec, &results).unwrap();
    let lines: Vec<_> = found
        .iter()
        .filter(|r| r.claim == "hardprune")
        .map(|r| (r.budget, r.n, r.mean))
        .collect();
    // Budget 10: 90 − 89 and 95 − 91; budget 20: 92 − 90 and 95 − 94.
    assert_eq!(lines, [(Some(10), 2, 2.5), (Some(20), 2, 1.5)]);
}

#[test]
fn a_lone_budget_point_is_drawn_against_the_budget_only() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = super::common::load_spec(&write(tmp.path(), "claims.toml", SPEC), None);
    // 10x at budgets 10 and 20, 20x at budget 10 only.
    let results = df![
        "row" => ["slr-10x", "slr-10x", "admm-10x", "admm-10x", "slr-20x", "admm-20x"],
        "seed" => [1u64, 1, 1, 1, 1, 1],
        "status" => ["done"; 6],
        "target.compression" => [10.0, 10.0, 10.0, 10.0, 20.0, 20.0],
        "train.epochs" => [10u32, 20, 10, 20, 10, 10],
        "acc.hardprune" => [90.0, 92.0, 89.0, 90.0, 80.0, 81.0],
    ]
    .unwrap();
    let figures = claims::figures(&spec, &results).unwrap();
    let drawn: Vec<String> = figures
        .iter()
        .flat_map(|f| {
            f.series.iter().map(|s| {
                let xs: Vec<f64> = s.points.iter().map(|p| p.x).collect();
                format!("{}: {} {xs:?}", f.spec.id, s.label)
            })
        })
        .collect();
    // Budget 20's lone 10x point is the budget figure's second point, not a line of its own.
    assert_eq!(
        drawn,
        [
            "claims: hardprune (acc.hardprune), 10 epochs [10.0, 20.0]",
            "claims-vs-budget: hardprune (acc.hardprune) at 10.00x [10.0, 20.0]",
        ]
    );
}

#[test]
fn the_legend_goes_to_the_emptiest_corner() {
    use slr_repro::report::figure::{Point, Series, emptiest_corner};
    use slr_repro::spec::LegendPosition;
    let series = |label: &str, points: &[(f64, f64)]| Series {
        label: label.into(),
        points: points
            .iter()
            .map(|&(x, y)| Point {
                x,
                mean: y,
                min: y,
                max: y,
                n: 1,
            })
            .collect(),
    };
    // Rising from lower left to upper right: both other corners are free, upper left first.
    let rising = [series("a", &[(1.0, 0.0), (100.0, 10.0)])];
    assert_eq!(emptiest_corner(&rising, true), LegendPosition::UpperLeft);
    // Falling: the upper left is drawn over.
    let falling = [series("a", &[(1.0, 10.0), (100.0, 0.0)])];
    assert_eq!(emptiest_corner(&falling, true), LegendPosition::UpperRight);
    // Along the top with a point in the lower right: only the lower left is free.
    let top = [
        series("a", &[(1.0, 10.0), (100.0, 10.0)]),
        series("b", &[(100.0, 0.0)]),
    ];
    assert_eq!(emptiest_corner(&top, true), LegendPosition::LowerLeft);
    // Falling from 3 with a point at 1: on a log axis 3 is a quarter of the way from 1 to
    // 100, clear of a legend box a twelfth of the width; on a linear one it is under it.
    let from_three = [
        series("a", &[(3.0, 10.0), (100.0, 0.0)]),
        series("b", &[(1.0, 0.0)]),
    ];
    assert_eq!(
        emptiest_corner(&from_three, true),
        LegendPosition::UpperLeft
    );
    assert_eq!(
        emptiest_corner(&from_three, false),
        LegendPosition::UpperRight
    );
}
