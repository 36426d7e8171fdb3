//! The detection path end to end: a COCO-format copy fetched (checked and linked) or drawn,
//! YOLOv3-tiny trained, pruned with SLR and retrained through the runner, and a report with
//! COCO's mAP@0.5 and mAP@0.5:0.95 columns.

use super::common::{reproduce, write};
use slr_repro::data::fetch::{Source, fetch};
use slr_repro::data::synthetic_coco::generate;
use slr_repro::spec::DatasetKind;
use std::path::Path;

/// A tiny COCO 2014 copy: synthetic images under COCO's folder and file names, with Darknet's
/// `5k.txt` naming one of the two `val2014` images.
fn coco_copy(dir: &Path) {
    generate(dir, 3, 2, 9).unwrap();
    std::fs::rename(dir.join("train"), dir.join("train2014")).unwrap();
    std::fs::rename(dir.join("val"), dir.join("val2014")).unwrap();
    let annotations = dir.join("annotations");
    for (from, to) in [("train", "train2014"), ("val", "val2014")] {
        std::fs::rename(
            annotations.join(format!("instances_{from}.json")),
            annotations.join(format!("instances_{to}.json")),
        )
        .unwrap();
    }
    std::fs::write(dir.join("5k.txt"), "/images/val2014/4.png\n").unwrap();
}

#[test]
fn a_coco_copy_is_checked_then_linked() {
    let tmp = tempfile::tempdir().unwrap();
    let (copy, data) = (tmp.path().join("copy"), tmp.path().join("data"));
    coco_copy(&copy);
    // Without --from there is nothing to get it from: the hint names the folders.
    let err = fetch(&data, DatasetKind::Coco2014, None).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("train2014/"), "{err}");
    assert_eq!(
        fetch(&data, DatasetKind::Coco2014, Some(&copy)).unwrap(),
        Source::Local(copy.clone())
    );
    let linked = data.join("coco2014");
    assert!(std::fs::symlink_metadata(&linked).unwrap().is_symlink());
    // The 5k list: 1 held-out image, the other val2014 image trains.
    let (train, test) =
        slr_repro::data::coco_splits(&linked, slr_repro::catalog::COCO2014_FILES).unwrap();
    assert_eq!((train.images.len(), test.images.len()), (4, 1));
    assert_eq!(test.images[0].id, 4);
    // An image that is not one: refused, naming it.
    std::fs::write(copy.join("val2014/3.png"), b"not a png").unwrap();
    let err = fetch(&data, DatasetKind::Coco2014, Some(&copy)).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("val2014/3.png: cannot read the image"),
        "{err}"
    );
    // Broken JSON: the file.
    let instances = copy.join("annotations/instances_val2014.json");
    std::fs::write(&instances, "{\"images\": [").unwrap();
    let err = fetch(&data, DatasetKind::Coco2014, Some(&copy)).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("instances_val2014.json: not a COCO instances file"),
        "{err}"
    );
    // A missing instances file.
    std::fs::remove_file(&instances).unwrap();
    let err = fetch(&data, DatasetKind::Coco2014, Some(&copy)).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(err.to_string().contains("instances_val2014.json"), "{err}");
    // The synthetic set is drawn, never copied.
    let err = fetch(&data, DatasetKind::SyntheticCoco, Some(&copy)).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

/// The cells of the report's row `name` (cell 0 is empty: the text before the first `|`).
fn row_cells<'a>(report: &'a str, name: &str) -> Vec<&'a str> {
    report
        .lines()
        .find(|l| l.starts_with(&format!("| {name} ")))
        .unwrap_or_else(|| panic!("the {name} row:\n{report}"))
        .split('|')
        .map(str::trim)
        .collect()
}

const DETECTION_SPEC: &str = r#"
[table]
id = "detection"
title = "Detection"

[report]
columns = [
  "method", "acc.dense", "acc.hardprune", "map.hardprune", "acc.retrain", "map.retrain",
  "compression.pruned_layers",
]

[defaults]
model = "yolov3-tiny"
# PyTorch's default initialisation, which the golden values were drawn with (YOLO's reference
# scheme, `pytorch-yolov3`, is the default since).
init = "pytorch"
dataset = "synthetic-coco"
# The reference's DefaultAug through the runner (the data set's default, spelled out).
data = { augment = true }
seeds = [1]
batch_size = 2
test_batch_size = 2

[defaults.pretrain]
steps = 2
optimizer = { kind = "adam", lr = 1e-3, momentum = 0.0 }
schedule = { kind = "constant" }

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
fn yolov3_tiny_trains_prunes_and_reports_map_through_the_runner() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // A small stand-in for `slr data fetch synthetic-coco` (which draws 400 images).
    generate(&data.join("synthetic-coco"), 4, 2, 3).unwrap();
    let spec = write(tmp.path(), "detection.toml", DETECTION_SPEC);
    let (runs, reports) = (tmp.path().join("runs"), tmp.path().join("reports"));
    reproduce(&spec, &data, &runs, &reports);
    let report = std::fs::read_to_string(reports.join("detection.md")).unwrap();
    for header in [
        "mAP@0.5:0.95, hard prune (%)",
        "mAP@0.5:0.95 after retraining (%)",
    ] {
        assert!(report.contains(header), "{header}:\n{report}");
    }
    // The accuracy footnotes say which score a detection table holds.
    assert!(
        report.contains("COCO box mAP@0.5 (%) right after hard pruning"),
        "{report}"
    );
    assert!(!report.contains("top-1"), "{report}");
    let cells = row_cells(&report, "slr");
    insta::assert_snapshot!(cells[2..].join(" | "));
}

const LEARNING_SPEC: &str = r#"
[table]
id = "learning"
title = "Learning"

[report]
columns = ["method", "acc.dense", "map.retrain"]

[defaults]
model = "yolov3-tiny"
# PyTorch's default initialisation, which the golden values were drawn with (YOLO's reference
# scheme, `pytorch-yolov3`, is the default since).
init = "pytorch"
dataset = "synthetic-coco"
data = { augment = false, train_limit = 128, test_limit = 32 }
seeds = [1]
batch_size = 8
test_batch_size = 16

[defaults.pretrain]
steps = 96
optimizer = { kind = "adam-torch", lr = 1e-3, momentum = 0.0 }
schedule = { kind = "constant" }

[[rows]]
name = "dense"
"#;

/// A real learning task: YOLOv3-tiny from scratch on 128 images of the synthetic COCO set
/// (`slr data fetch synthetic-coco`'s draw), 96 Adam steps of 8 (the smoke profile's
/// optimizer), scored with COCO's evaluator on 32 held-out images. An untrained model scores
/// 0; the fixed-seed run's score (the same in a release build) is the golden value.
#[test]
fn yolov3_tiny_learns_to_detect_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (train, test, seed) = slr_repro::catalog::SYNTHETIC_COCO_SIZES;
    generate(&data.join("synthetic-coco"), train, test, seed).unwrap();
    let spec = write(tmp.path(), "learning.toml", LEARNING_SPEC);
    let (runs, reports) = (tmp.path().join("runs"), tmp.path().join("reports"));
    reproduce(&spec, &data, &runs, &reports);
    let report = std::fs::read_to_string(reports.join("learning.md")).unwrap();
    let cells = row_cells(&report, "dense");
    let map: f64 = cells[3].split(' ').next().unwrap().parse().unwrap();
    assert!(map > 30.0, "mAP@0.5 {map}% after 96 steps:\n{report}");
    insta::assert_snapshot!(cells[3]);
}

/// A YOLOv3-tiny pretraining (convolutions, BatchNorm, leaky ReLU, the YOLO loss, Adam) writes
/// the same model file on 1 and on 2 CPU threads: results do not depend on the thread count
/// (each stage's provenance records it all the same).
#[test]
fn yolov3_tiny_weights_do_not_depend_on_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    generate(&data.join("synthetic-coco"), 8, 2, 5).unwrap();
    let spec = write(
        tmp.path(),
        "threads.toml",
        r#"
[table]
id = "threads"
title = "Threads"

[defaults]
model = "yolov3-tiny"
dataset = "synthetic-coco"
data = { augment = false }
seeds = [1]
batch_size = 4
test_batch_size = 2

[defaults.pretrain]
steps = 2
optimizer = { kind = "adam", lr = 1e-3, momentum = 0.0 }
schedule = { kind = "constant" }

[[rows]]
name = "dense"
"#,
    );
    let model = |threads: usize| {
        let runs = tmp.path().join(format!("runs-{threads}"));
        let reports = tmp.path().join("reports");
        let out = super::common::reproduce_command_on(&spec, &data, &runs, &reports, threads)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(super::common::stage_seed_1(&runs, "pretrain").join("model.bpk")).unwrap()
    };
    assert!(model(1) == model(2), "the model files differ");
}

#[test]
fn detection_batches_are_the_same_on_one_thread_and_on_several() {
    use slr_repro::data::coco::read_split;
    use slr_repro::data::detection::batch_data;
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 4, 1, 5).unwrap();
    let split = read_split(
        &tmp.path().join("annotations/instances_train.json"),
        &tmp.path().join("train"),
    )
    .unwrap();
    let refs: Vec<_> = split.images.iter().collect();
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| batch_data(&refs, 64, Some(7)).unwrap())
    };
    let (one, four) = (on(1), on(4));
    assert_eq!(one.images.len(), 4 * 3 * 64 * 64);
    assert!(!one.targets.is_empty());
    // Targets keep their image's place in the batch.
    assert!(one.targets.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(one, four);
}
