//! The budget axis: one ADMM/SLR training keeps its model after chosen epochs, rows prune and
//! retrain those snapshots, and the claims give a verdict per training budget.

use super::common::{self, data_root, write};
use slr_repro::report::claims;
use slr_repro::report::collect::collect;
use slr_repro::report::frame::{floats, integers, strings};
use slr_repro::run::store;
use slr_repro::spec;

const SPEC: &str = r#"
[table]
id = "budgets"
title = "Budgets"

[defaults]
model = "lenet5"
dataset = "mnist"
seeds = [1, 2]
batch_size = 32
hardprune_every_epoch = true
data = { train_limit = 320, test_limit = 200 }
sparsity = { uniform = 0.9 }
pretrain = { epochs = 1, optimizer = { lr = 0.02, momentum = 0.9 } }
train = { epochs = 3, optimizer = { lr = 0.01, momentum = 0.5 } }
retrain = { epochs = 1 }

[[rows]]
name = "admm"
method = "admm"

[[rows]]
name = "e1-admm"
method = "admm"
prune_at_epoch = 1

[[rows]]
name = "slr"
method = "slr"

[[rows]]
name = "e1-slr"
method = "slr"
prune_at_epoch = 1

[[claim]]
id = "hardprune"
text = "SLR beats ADMM after hard pruning"
citation = "Test fixture, not a paper"
metric = "acc.hardprune"
better = "*slr"
than = "*admm"
"#;

#[test]
fn snapshots_give_the_cells_and_verdicts_of_every_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "budgets.toml", SPEC);
    let (runs, reports) = (tmp.path().join("runs"), tmp.path().join("reports"));
    common::reproduce(&path, &data_root(), &runs, &reports);

    // Two trainings per seed (ADMM, SLR), each keeping epoch 1 only: the one a row prunes.
    let mut trains: Vec<_> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("train-")
        })
        .collect();
    trains.sort();
    assert_eq!(trains.len(), 2);
    for train in &trains {
        let seed = train.join("seed-1");
        let summary = store::read_summary(&seed).unwrap().expect("finished");
        let kept: Vec<&String> = summary
            .files
            .keys()
            .filter(|f| f.starts_with("model-epoch-"))
            .collect();
        assert_eq!(kept, [&store::snapshot_file(1)], "hashed like every output");
    }

    let plan = spec::resolve(common::load_spec(&path, None), None);
    let results = collect(&plan, &runs, &data_root()).unwrap().results;
    let row = strings(&results, "row").unwrap();
    let budget = integers(&results, "train.epochs").unwrap();
    let hardprune = floats(&results, "acc.hardprune").unwrap();
    for i in 0..results.height() {
        let epoch = if row[i].starts_with("e1-") { 1 } else { 3 };
        assert_eq!(budget[i], Some(epoch), "{}", row[i]);
        // Pruning the kept model is the hard-pruned copy the training evaluated after that
        // epoch, bit for bit.
        let during = floats(&results, &format!("acc.hardprune@{epoch}")).unwrap();
        assert_eq!(hardprune[i], during[i], "{} seed {i}", row[i]);
    }
    // The snapshot is not the final model.
    let first = floats(&results, "acc.hardprune@1").unwrap();
    let last = floats(&results, "acc.hardprune@3").unwrap();
    assert!((0..results.height()).any(|i| first[i] != last[i]));

    // One verdict per budget, each over the 2 seeds, adjusted together (Holm, m = 2).
    let found = claims::evaluate(&plan.spec, &results).unwrap();
    assert_eq!(
        found.iter().map(|r| (r.budget, r.n)).collect::<Vec<_>>(),
        [(Some(1), 2), (Some(3), 2)]
    );
    let p: Vec<f64> = found.iter().map(|r| r.p.unwrap()).collect();
    let (low, high) = (p[0].min(p[1]), p[0].max(p[1]));
    let adjusted_low = (2.0 * low).min(1.0);
    for r in &found {
        let expected = if r.p == Some(low) {
            adjusted_low
        } else {
            adjusted_low.max(high)
        };
        assert_eq!(r.holm_p, Some(expected));
    }
    let rendered = claims::render(&plan.spec, &results).unwrap();
    assert!(
        rendered.contains("1 training epoch, same seed"),
        "{rendered}"
    );
    assert!(
        rendered.contains("3 training epochs, same seed"),
        "{rendered}"
    );
    // Against the budget, the two points. Each budget prunes at one compression only, so a
    // figure against compression would repeat them as lone points: it is left out.
    let figures = claims::figures(&plan.spec, &results).unwrap();
    let ids: Vec<&str> = figures.iter().map(|f| f.spec.id.as_str()).collect();
    assert_eq!(ids, ["claims-vs-budget"]);
    let xs: Vec<f64> = figures[0].series[0].points.iter().map(|p| p.x).collect();
    assert_eq!(xs, [1.0, 3.0]);
    assert!(reports.join("budgets/claims-vs-budget.svg").is_file());
    assert!(!reports.join("budgets/claims.svg").exists());
}

/// The Convergence section by hand: seed means after the last 2 epochs, their spread against
/// the rule's 0.5; rows pruning a snapshot are not trainings of their own.
#[test]
fn the_plateau_rule_by_hand() {
    use polars::df;
    let tmp = tempfile::tempdir().unwrap();
    let text = SPEC.replace(
        "[[claim]]",
        "[report]\nplateau = { metric = \"acc.hardprune\", epochs = 2, within = 0.5 }\n\n[[claim]]",
    );
    let spec = common::load_spec(&write(tmp.path(), "budgets.toml", &text), None);
    let results = df![
        "row" => ["admm", "admm", "e1-admm", "slr"],
        "row_index" => [0u32, 0, 1, 2],
        "status" => ["done"; 4],
        "acc.hardprune@1" => [50.0, 52.0, 50.0, 70.0],
        "acc.hardprune@2" => [60.0, 62.0, 60.0, 71.0],
        "acc.hardprune@3" => [61.0, 62.6, 61.0, 71.4],
    ]
    .unwrap();
    let rule = spec.raw.report.plateau.clone().unwrap();
    let found = slr_repro::report::plateau::evaluate(&spec, &rule, &results).unwrap();
    let summary: Vec<_> = found
        .iter()
        .map(|f| (f.row.as_str(), f.seeds, f.last_epoch, f.levelled))
        .collect();
    // admm: means 61 and 61.8, spread 0.8; slr: 71 and 71.4, spread 0.4.
    assert_eq!(summary, [("admm", 2, 3, false), ("slr", 1, 3, true)]);
    assert!((found[0].means[1] - 61.8).abs() < 1e-12);
    let section = slr_repro::report::plateau::render(&spec, &results).unwrap();
    assert!(
        section.contains("| admm | 2 | 3 | 2–3: 61.00, 61.80 | 0.80 | +0.80 | no |")
            && section.contains("| slr | 1 | 3 | 2–3: 71.00, 71.40 | 0.40 | +0.40 | yes |"),
        "{section}"
    );
    assert!(
        section.contains("Not levelled off by this rule: `admm`."),
        "{section}"
    );
}
