//! `slr plan --json`: the stage graph other schedulers drive.

use super::common::{data_root, root, write};
use std::process::Command;

const SPEC: &str = r#"
[table]
id = "graph"
title = "Graph"

[defaults]
model = "lenet-300-100"
dataset = "mnist"
seeds = [1, 2]
data = { train_limit = 256, test_limit = 100 }
pretrain = { epochs = 1 }
train = { epochs = 1 }
retrain = { epochs = 1 }

[[rows]]
name = "dense"

[[rows]]
name = "admm"
method = "admm"
sparsity = { uniform = 0.5 }
"#;

fn plan_json(spec: &std::path::Path, runs: &std::path::Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .args(["plan", spec.to_str().unwrap(), "--json", "--runs-root"])
        .arg(runs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_stage_graph_lists_each_stage_once_with_its_dependency() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "graph.toml", SPEC);
    let runs = tmp.path().join("runs");
    let graph = plan_json(&spec, &runs);
    let stages = graph["stages"].as_array().unwrap();
    // Per seed: one pretrain shared by both rows, then ADMM's train, prune, retrain.
    assert_eq!(stages.len(), 8, "{graph:#}");
    let seed1: Vec<&serde_json::Value> = stages.iter().filter(|s| s["seed"] == 1).collect();
    assert_eq!(seed1.len(), 4);
    let pretrain = seed1[0];
    assert_eq!(pretrain["kind"], "pretrain");
    assert_eq!(pretrain["rows"], serde_json::json!(["dense", "admm"]));
    assert_eq!(pretrain["depends_on"], serde_json::Value::Null);
    assert_eq!(pretrain["status"], "pending");
    let kinds: Vec<&str> = seed1[1..]
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["train", "prune", "retrain"]);
    for (level, pair) in seed1.windows(2).enumerate() {
        assert_eq!(pair[1]["depends_on"], pair[0]["folder"]);
        assert_eq!(pair[1]["level"], level + 1);
    }
    assert!(stages.iter().all(|s| s["flops"].as_f64().unwrap() > 0.0));

    let out = Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .args([
            "reproduce",
            spec.to_str().unwrap(),
            "--no-fetch",
            "--data-root",
        ])
        .arg(data_root())
        .arg("--runs-root")
        .arg(&runs)
        .args([
            "--set",
            &format!(
                "runtime.reports_root={:?}",
                tmp.path().join("reports").display().to_string()
            ),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let graph = plan_json(&spec, &runs);
    assert!(
        graph["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "cached"),
        "{graph:#}"
    );
}
