//! End to end on a real MNIST slice: bit-identical reruns, idempotence, the rendered table.

use super::common::{data_root, pin_threads, write};
use burn::module::Module;
use burn::tensor::Device;
use clap::Parser;
use sha2::{Digest, Sha256};
use slr_repro::cli::{Cli, run};
use slr_repro::models::Net;
use slr_repro::prune::params;
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
seeds = [1]
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
retrain_epochs = [1, 3]
"#;

fn reproduce(spec: &Path, runs: &Path, reports: &Path) {
    pin_threads();
    let cli = Cli::parse_from([
        "slr".to_owned(),
        "reproduce".to_owned(),
        spec.display().to_string(),
        "--no-fetch".to_owned(),
        "--data-root".to_owned(),
        data_root().display().to_string(),
        "--runs-root".to_owned(),
        runs.display().to_string(),
        "--set".to_owned(),
        format!("runtime.reports_root={:?}", reports.display().to_string()),
    ]);
    run(cli).expect("reproduce succeeds");
}

/// Every stage folder's metrics (as JSON) and a SHA-256 of its weights' bits, by folder name.
/// (The weight file itself also stores burn's random parameter ids, so its bytes differ.)
fn outputs(runs: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for stage in std::fs::read_dir(runs).unwrap() {
        let dir = stage.unwrap().path().join("seed-1");
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
        out.push((
            dir.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            metrics,
            digest,
        ));
    }
    out.sort();
    out
}

#[test]
fn tiny_spec_end_to_end_is_bit_identical_and_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "tiny.toml", TINY);
    let (runs_a, runs_b) = (tmp.path().join("runs-a"), tmp.path().join("runs-b"));
    let reports = tmp.path().join("reports");

    reproduce(&spec, &runs_a, &reports);
    let report_a = std::fs::read_to_string(reports.join("tiny.md")).unwrap();
    let first = outputs(&runs_a);
    // One pretrain shared by all rows; prune + retrain for magnitude; train + prune + retrain
    // for ADMM and SLR.
    assert_eq!(first.len(), 1 + 2 + 3 + 3);

    // Same spec and seed into a fresh folder: bit-identical metrics and weights.
    reproduce(&spec, &runs_b, &reports);
    assert_eq!(outputs(&runs_b), first);

    // A second invocation on the same folder trains nothing and rewrites the same report.
    let stamps = || -> Vec<_> {
        first
            .iter()
            .map(|(name, _, _)| {
                let summary = runs_a.join(name).join("seed-1").join(store::SUMMARY);
                std::fs::metadata(summary).unwrap().modified().unwrap()
            })
            .collect()
    };
    let before = stamps();
    reproduce(&spec, &runs_a, &reports);
    assert_eq!(stamps(), before, "no stage ran again");
    assert_eq!(
        std::fs::read_to_string(reports.join("tiny.md")).unwrap(),
        report_a
    );

    // Golden numbers of this fixed-seed CPU run.
    insta::assert_snapshot!("tiny_report", report_a);

    // Achieved sparsity equals the targets.
    let retrain = first
        .iter()
        .find(|(n, _, _)| n.starts_with("retrain"))
        .unwrap();
    let dir = runs_a.join(&retrain.0).join("seed-1");
    let summary = store::read_summary(&dir).unwrap().unwrap();
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
    let dir = runs.join(&retrain.0).join("seed-1");
    std::fs::remove_file(dir.join(store::SUMMARY)).unwrap();
    std::fs::write(dir.join(store::METRICS), "stage,epoch\ntruncated").unwrap();
    reproduce(&spec, &runs, &reports);
    assert_eq!(
        outputs(&runs),
        before,
        "the redone stage reproduces the lost one exactly"
    );
}
