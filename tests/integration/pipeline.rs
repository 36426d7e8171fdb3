//! The reference run: a tiny fixed-seed spec (dense, magnitude, ADMM, SLR; 2 seeds; 2 epochs
//! per stage on a real MNIST slice) end to end: bit-identical reruns, idempotence, and
//! snapshots of the resolved spec, the rendered table and every figure's points.

use super::common::{self, data_root, write};
use burn::module::Module;
use burn::tensor::Device;
use polars::prelude::{ParquetReader, SerReader};
use sha2::{Digest, Sha256};
use slr_repro::models::Net;
use slr_repro::models::params;
use slr_repro::run::store;
use slr_repro::spec::ModelKind;
use std::path::Path;

const TINY: &str = r#"
[table]
id = "tiny"
title = "Tiny LeNet-5 pipeline check"

[defaults]
model = "lenet5"
dataset = "mnist"
seeds = [1, 2]
batch_size = 32
data = { train_limit = 1500, test_limit = 500 }

[defaults.pretrain]
epochs = 2
optimizer = { lr = 0.02, momentum = 0.9 }

[defaults.retrain]
epochs = 2
optimizer = { lr = 0.01, momentum = 0.5, nesterov = true, weight_decay = 5e-4 }
schedule = { kind = "reference-cosine" }

[[rows]]
name = "dense"

[[rows]]
name = "magnitude"
method = "magnitude"
sparsity.per_layer = { "conv1.weight" = 0.8, "conv2.weight" = 0.92, "fc1.weight" = 0.991, "fc2.weight" = 0.93 }

[[rows]]
name = "admm"
method = "admm"
hardprune_every_epoch = true
sparsity.per_layer = { "conv1.weight" = 0.8, "conv2.weight" = 0.92, "fc1.weight" = 0.991, "fc2.weight" = 0.93 }

[[rows]]
name = "slr"
method = "slr"
hardprune_every_epoch = true
sparsity = { uniform = 0.9, count_rule = "percentile" }

[defaults.train]
epochs = 2
optimizer = { lr = 0.01, momentum = 0.5, nesterov = true, weight_decay = 5e-4 }

[report]
columns = ["method", "seeds", "target.compression", "acc.dense", "acc.hardprune", "acc.retrain@1", "acc.retrain@3", "acc.retrain", "compression.pruned_layers"]

[[published]]
label = "An invented number to exercise the renderer"
metric = "acc.hardprune"
value = 75.0
row = "admm"
citation = "Test fixture, not a paper"

[[figure]]
id = "hardprune"
kind = "epochs"
metric = "acc.hardprune"
rows = ["admm", "slr"]

[[figure]]
id = "w-minus-z"
kind = "epochs"
metric = "w_minus_z"
rows = ["admm", "slr"]
y_scale = "log"

[[figure]]
id = "retrain"
kind = "retrain"

[[figure]]
id = "tradeoff"
kind = "tradeoff"
metric = "acc.retrain"
x_scale = "log"
"#;

/// Figures of the spec, by id.
const FIGURES: [&str; 4] = ["hardprune", "w-minus-z", "retrain", "tradeoff"];

fn reproduce(spec: &Path, runs: &Path, reports: &Path) {
    common::reproduce(spec, &data_root(), runs, reports);
}

/// Every stage folder's metrics (as JSON), a SHA-256 of its weights' bits and the SHA-256 of
/// the weight file itself (its parameter ids derive from the names), by folder name.
fn outputs(runs: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(runs)
        .unwrap()
        .map(|stage| stage.unwrap())
        // The TensorBoard view holds links to the stages, not stages.
        .filter(|stage| stage.file_name() != store::events::DIR)
        .flat_map(|stage| std::fs::read_dir(stage.path()).unwrap())
    {
        let dir = dir.unwrap().path();
        let summary = store::read_summary(&dir).unwrap().expect("stage finished");
        let metrics = serde_json::to_string(&(summary.metrics, summary.sparsity)).unwrap();
        let model = Net::init(ModelKind::Lenet5, &Device::flex())
            .try_load_file(dir.join(store::MODEL))
            .unwrap();
        let names: Vec<String> = params::shapes(&model).into_iter().map(|(n, _)| n).collect();
        let mut hasher = Sha256::new();
        for (name, w) in params::flat(&model, &names) {
            hasher.update(name.as_bytes());
            for v in w.into_data().try_to_vec::<f32>().unwrap() {
                hasher.update(v.to_bits().to_le_bytes());
            }
        }
        let digest: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // The file's own bytes too: two runs of one stage write identical model files.
        let file = slr_repro::base::sha256_hex(&std::fs::read(dir.join(store::MODEL)).unwrap());
        let name = dir.strip_prefix(runs).unwrap().display().to_string();
        out.push((name, metrics, format!("{digest} {file}")));
    }
    out.sort();
    out
}

/// The report with what changes between machines and commits redacted: commit (and the words
/// for uncommitted changes, which a clean checkout lacks), version, dates and the spec's
/// temporary path.
fn redacted(report: &str, spec: &Path) -> String {
    let mut text = report
        .replace(
            " (with uncommitted changes: that commit alone may not give these numbers)",
            "",
        )
        .replace(", from a tree with uncommitted changes.", ".")
        .replace(&slr_repro::run::provenance::git_commit(), "<commit>")
        .replace(env!("CARGO_PKG_VERSION"), "<version>")
        .replace(&spec.display().to_string(), "<spec>");
    while let Some(at) = text.find("finished 2") {
        let start = at + "finished ".len();
        text.replace_range(start..start + 10, "<date>");
    }
    text
}

/// A figure's CSV with every number rounded to 2 decimals.
fn rounded_csv(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|line| {
            line.split(',')
                .map(|field| match field.parse::<f64>() {
                    Ok(v) if field.contains('.') => format!("{v:.2}"),
                    _ => field.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the snapshots pin: the redacted table and every figure's rounded points.
fn snapshot_material(reports: &Path, spec: &Path) -> Vec<(String, String)> {
    let mut out = vec![(
        "report".to_owned(),
        redacted(
            &std::fs::read_to_string(reports.join("tiny.md")).unwrap(),
            spec,
        ),
    )];
    for id in FIGURES {
        let dir = reports.join("tiny");
        out.push((id.to_owned(), rounded_csv(&dir.join(format!("{id}.csv")))));
        let png = std::fs::read(dir.join(format!("{id}.png"))).unwrap();
        assert_eq!(&png[1..4], b"PNG", "{id}.png is a PNG");
        let svg = std::fs::read_to_string(dir.join(format!("{id}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{id}.svg is an SVG");
    }
    out
}

#[test]
fn reference_run_is_bit_identical_idempotent_and_snapshotted() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "tiny.toml", TINY);
    let (runs_a, runs_b) = (tmp.path().join("runs-a"), tmp.path().join("runs-b"));
    let (reports_a, reports_b) = (tmp.path().join("reports-a"), tmp.path().join("reports-b"));

    reproduce(&spec, &runs_a, &reports_a);
    let first = outputs(&runs_a);
    // Per seed: one pretrain shared by all rows; prune + retrain for magnitude; train + prune
    // + retrain for ADMM and SLR.
    assert_eq!(first.len(), 2 * (1 + 2 + 3 + 3));

    // Same spec and seeds into fresh folders: bit-identical metrics and weights, and
    // identical snapshots.
    reproduce(&spec, &runs_b, &reports_b);
    assert_eq!(outputs(&runs_b), first);
    let material = snapshot_material(&reports_a, &spec);
    assert_eq!(snapshot_material(&reports_b, &spec), material);

    // A second invocation on the same folder trains nothing and rewrites the same report.
    let stamps = || -> Vec<_> {
        first
            .iter()
            .map(|(name, _, _)| {
                let summary = runs_a.join(name).join(store::SUMMARY);
                std::fs::metadata(summary).unwrap().modified().unwrap()
            })
            .collect()
    };
    let before = stamps();
    let report_a = std::fs::read_to_string(reports_a.join("tiny.md")).unwrap();
    reproduce(&spec, &runs_a, &reports_a);
    assert_eq!(stamps(), before, "no stage ran again");
    assert_eq!(
        std::fs::read_to_string(reports_a.join("tiny.md")).unwrap(),
        report_a
    );

    // The exported frames read back: one results row per run, tidy per-epoch rows.
    let frames = reports_a.join("tiny");
    let file = std::fs::File::open(frames.join("results.parquet")).unwrap();
    let results = ParquetReader::new(file).finish().unwrap();
    assert_eq!(results.height(), 4 * 2);
    let csv = std::fs::read_to_string(frames.join("epochs.csv")).unwrap();
    assert!(csv.starts_with("row,method,seed,stage,stage_id,epoch,metric,value\n"));

    // Golden numbers of this fixed-seed CPU run.
    let loaded = common::load_spec(&spec, None);
    let resolved =
        serde_json::to_string_pretty(&(&loaded.rows, &loaded.raw.report, &loaded.raw.figure))
            .unwrap();
    insta::assert_snapshot!("tiny_resolved_spec", resolved);
    for (name, text) in material {
        insta::assert_snapshot!(format!("tiny_{name}"), text);
    }

    // Achieved sparsity equals the targets.
    let retrain = first
        .iter()
        .find(|(n, _, _)| n.starts_with("retrain") && n.ends_with("seed-1"))
        .unwrap();
    let summary = store::read_summary(&runs_a.join(&retrain.0))
        .unwrap()
        .unwrap();
    let sparsity = summary.sparsity.unwrap();
    assert_eq!(sparsity.per_layer["fc1.weight"], 0.991);
    assert!((sparsity.compression_pruned_layers - 430_500.0 / 6_050.0).abs() < 1e-9);
    assert_eq!(
        summary.metrics.keys().cloned().collect::<Vec<_>>(),
        vec!["acc.retrain", "acc.retrain@1", "acc.retrain@2"]
    );
}

#[test]
fn an_interrupted_stage_is_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(
        tmp.path(),
        "tiny.toml",
        &TINY
            .replace("seeds = [1, 2]", "seeds = [1]")
            .replace("epochs = 2", "epochs = 1")
            .replace("train_limit = 1500", "train_limit = 300"),
    );
    let runs = tmp.path().join("runs");
    let reports = tmp.path().join("reports");
    reproduce(&spec, &runs, &reports);
    let before = outputs(&runs);
    // Simulate a kill during the retrain stage: its summary is gone, a partial file remains.
    let retrain = before
        .iter()
        .find(|(n, _, _)| n.starts_with("retrain"))
        .unwrap();
    let dir = runs.join(&retrain.0);
    std::fs::remove_file(dir.join(store::SUMMARY)).unwrap();
    std::fs::write(dir.join(store::METRICS), "stage,epoch\ntruncated").unwrap();
    reproduce(&spec, &runs, &reports);
    assert_eq!(
        outputs(&runs),
        before,
        "the redone stage reproduces the lost one exactly"
    );
}
