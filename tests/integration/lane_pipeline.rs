//! The lane path end to end: a TuSimple-format data set fetched (checked and linked) or drawn,
//! UFLD trained, pruned with SLR and retrained through the runner, and a report with TuSimple's
//! accuracy, FP and FN columns.

use super::common::{reproduce, write};
use slr_repro::data::fetch::{Source, fetch};
use slr_repro::data::synthetic_lanes::{TEST_LABELS, TRAIN_LABELS, generate};
use slr_repro::spec::DatasetKind;
use std::path::Path;

/// A tiny TuSimple copy: synthetic frames under TuSimple's label file names.
fn tusimple_copy(dir: &Path) {
    generate(dir, 3, 2, 9).unwrap();
    std::fs::rename(dir.join(TRAIN_LABELS), dir.join("label_data_0313.json")).unwrap();
    // TuSimple's other two training files may hold any number of frames, none here.
    std::fs::write(dir.join("label_data_0531.json"), "").unwrap();
    std::fs::write(dir.join("label_data_0601.json"), "").unwrap();
    assert!(dir.join(TEST_LABELS).is_file());
}

#[test]
fn a_tusimple_copy_is_checked_then_linked() {
    let tmp = tempfile::tempdir().unwrap();
    let (copy, data) = (tmp.path().join("copy"), tmp.path().join("data"));
    tusimple_copy(&copy);
    // Without --from there is nothing to get it from: the hint names the files.
    let err = fetch(&data, DatasetKind::Tusimple, None).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("label_data_0313.json"), "{err}");
    assert_eq!(
        fetch(&data, DatasetKind::Tusimple, Some(&copy)).unwrap(),
        Source::Local(copy.clone())
    );
    let linked = data.join("tusimple");
    assert!(std::fs::symlink_metadata(&linked).unwrap().is_symlink());
    assert!(linked.join("label_data_0313.json").is_file());
    // A frame that does not decode is refused, naming it; the link is left as it was.
    std::fs::write(copy.join("clips/synthetic/1.jpg"), b"not a jpeg").unwrap();
    let err = fetch(&data, DatasetKind::Tusimple, Some(&copy)).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("clips/synthetic/1.jpg: cannot decode"),
        "{err}"
    );
    // A malformed label line: the file and line.
    std::fs::write(copy.join("label_data_0531.json"), "{\"raw_file\": 3}\n").unwrap();
    let err = fetch(&data, DatasetKind::Tusimple, Some(&copy)).unwrap_err();
    assert!(
        err.to_string()
            .contains("label_data_0531.json:1: not a TuSimple label"),
        "{err}"
    );
    // The synthetic set is drawn, never copied.
    let err = fetch(&data, DatasetKind::SyntheticLanes, Some(&copy)).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

const LANE_SPEC: &str = r#"
[table]
id = "lanes"
title = "Lanes"

[report]
columns = [
  "method", "acc.dense", "acc.hardprune", "lanes.fp.hardprune", "lanes.fn.hardprune",
  "acc.retrain", "lanes.fp.retrain", "lanes.fn.retrain", "compression.pruned_layers",
]

[defaults]
model = "ufld-small"
dataset = "synthetic-lanes"
# UFLD's augmentation through the runner (the data set's default, spelled out).
data = { augment = true }
seeds = [1]
batch_size = 2
test_batch_size = 2

[defaults.pretrain]
steps = 2

[defaults.train]
steps = 2

[defaults.retrain]
steps = 1

[[rows]]
name = "dense"

[[rows]]
name = "slr"
method = "slr"
sparsity = { uniform = 0.8 }
"#;

#[test]
fn ufld_trains_prunes_and_reports_tusimple_rates_through_the_runner() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // A small stand-in for `slr data fetch synthetic-lanes` (which draws 240 frames).
    generate(&data.join("synthetic-lanes"), 4, 2, 3).unwrap();
    let spec = write(tmp.path(), "lanes.toml", LANE_SPEC);
    let (runs, reports) = (tmp.path().join("runs"), tmp.path().join("reports"));
    reproduce(&spec, &data, &runs, &reports);
    let report = std::fs::read_to_string(reports.join("lanes.md")).unwrap();
    for header in [
        "FP rate, hard prune (%)",
        "FN rate, hard prune (%)",
        "FP rate after retraining (%)",
        "FN rate after retraining (%)",
    ] {
        assert!(report.contains(header), "{header}:\n{report}");
    }
    // The accuracy footnotes say which accuracy a lane table holds.
    assert!(
        report.contains("TuSimple lane accuracy (%) right after hard pruning"),
        "{report}"
    );
    assert!(!report.contains("top-1"), "{report}");
    let slr = report
        .lines()
        .find(|l| l.starts_with("| slr "))
        .expect("the slr row");
    let cells: Vec<&str> = slr.split('|').map(str::trim).collect();
    insta::assert_snapshot!(cells[2..].join(" | "));
}
