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

#[test]
fn slurm_scripts_run_each_level_as_an_array_after_the_one_before() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "graph.toml", SPEC);
    let runs = tmp.path().join("runs");
    let slurm = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_slr"))
            .current_dir(root())
            .args(["slurm", spec.to_str().unwrap(), "--runs-root"])
            .arg(&runs)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = slurm(&[
        "--partition",
        "gpu",
        "--gres",
        "gpu:1",
        "--time",
        "04:00:00",
        "--extra",
        "#SBATCH --qos=normal",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = runs.join("slurm/graph");
    let redact = |text: String| {
        text.replace(&tmp.path().display().to_string(), "<tmp>")
            .replace(&root().display().to_string(), "<repo>")
            .replace(env!("CARGO_BIN_EXE_slr"), "<slr>")
    };
    let mut all = String::new();
    for name in [
        "level-0.txt",
        "level-0.sbatch",
        "level-1.txt",
        "level-1.sbatch",
        "level-3.sbatch",
        "report.sbatch",
        "submit.sh",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        all.push_str(&format!("==> {name}\n{}", redact(text)));
    }
    insta::assert_snapshot!("slurm_scripts", all);
    assert!(dir.join("shared-folder.probe").is_file());
    // A node that does not see the probe (runs folder not shared) refuses with exit 2.
    std::fs::remove_file(dir.join("shared-folder.probe")).unwrap();
    let job = Command::new("bash")
        .arg(dir.join("level-0.sbatch"))
        .env("SLURM_ARRAY_TASK_ID", "0")
        .output()
        .unwrap();
    assert_eq!(job.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&job.stderr).contains("the runs folder must be shared"),
        "{}",
        String::from_utf8_lossy(&job.stderr)
    );

    // Bad input: an `--extra` line that is not an #SBATCH line; --submit without sbatch.
    let bad = slurm(&["--extra", "--qos=normal"]);
    assert_eq!(bad.status.code(), Some(2));
    let no_sbatch = Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .env("PATH", "/nonexistent")
        .args(["slurm", spec.to_str().unwrap(), "--submit", "--runs-root"])
        .arg(&runs)
        .output()
        .unwrap();
    assert_eq!(no_sbatch.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&no_sbatch.stderr).contains("`sbatch` is not on PATH"),
        "{}",
        String::from_utf8_lossy(&no_sbatch.stderr)
    );
}

/// A stand-in for `sbatch` that runs a job script at once, every array index in turn (no real
/// scheduler: it checks that the generated scripts run the stages and the report).
const SBATCH_SHIM: &str = r#"#!/usr/bin/env bash
set -euo pipefail
script="${@: -1}"
range=$(sed -n 's/^#SBATCH --array=\(.*\)$/\1/p' "$script")
if [ -n "$range" ]; then
  for i in $(seq "${range%-*}" "${range#*-}"); do SLURM_ARRAY_TASK_ID=$i bash "$script" >&2; done
else
  bash "$script" >&2
fi
echo $RANDOM
"#;

#[test]
fn the_slurm_scripts_run_every_stage_and_the_report() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "graph.toml", SPEC);
    let runs = tmp.path().join("runs");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = write(&bin, "sbatch", SBATCH_SHIM);
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .env("PATH", path)
        .args(["slurm", spec.to_str().unwrap(), "--submit", "--data-root"])
        .arg(data_root())
        .arg("--runs-root")
        .arg(&runs)
        .args([
            "--set",
            "runtime.threads=1",
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
    assert!(tmp.path().join("reports/graph.md").is_file());
    // Resubmitting finds nothing pending: only the report job remains.
    let again = Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .args(["slurm", spec.to_str().unwrap(), "--runs-root"])
        .arg(&runs)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 of 8 stages pending"));
    assert!(!runs.join("slurm/graph/level-0.sbatch").exists());
    let submit = std::fs::read_to_string(runs.join("slurm/graph/submit.sh")).unwrap();
    assert!(!submit.contains("level-"), "{submit}");
}

/// On a real Slurm (`scripts/slurm-local.sh run ...` starts a one-node one; `just test` runs
/// this test through it when it can): the tiny spec's arrays run to completion and give the
/// local run's stages and table.
#[test]
#[ignore = "needs a running Slurm: just test runs it through scripts/slurm-local.sh"]
fn real_slurm_runs_the_arrays_to_the_local_results() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "graph.toml", SPEC);
    let (cluster, local) = (tmp.path().join("cluster"), tmp.path().join("local"));
    let common = |runs: &std::path::Path, reports: &str| -> Vec<String> {
        vec![
            "--data-root".into(),
            data_root().display().to_string(),
            "--runs-root".into(),
            runs.display().to_string(),
            "--set".into(),
            "runtime.threads=1".into(),
            "--set".into(),
            format!(
                "runtime.reports_root={:?}",
                tmp.path().join(reports).display().to_string()
            ),
        ]
    };
    let submit = Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .args(["slurm", spec.to_str().unwrap(), "--submit"])
        .args(common(&cluster, "cluster-reports"))
        .output()
        .unwrap();
    assert!(
        submit.status.success(),
        "{}",
        String::from_utf8_lossy(&submit.stderr)
    );
    // Wait for the queue to drain (the report job is last).
    let started = std::time::Instant::now();
    loop {
        let queue = Command::new("squeue").args(["-h"]).output().unwrap();
        if queue.stdout.is_empty() {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 600,
            "Slurm jobs still queued after 10 min"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let run_local = Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .args(["reproduce", spec.to_str().unwrap(), "--no-fetch"])
        .args(common(&local, "local-reports"))
        .output()
        .unwrap();
    assert!(
        run_local.status.success(),
        "{}",
        String::from_utf8_lossy(&run_local.stderr)
    );
    assert_eq!(
        super::resume::fingerprint(&cluster),
        super::resume::fingerprint(&local)
    );
    let table = |dir: &str| {
        let text = std::fs::read_to_string(tmp.path().join(dir).join("graph.md"))
            .unwrap_or_else(|e| panic!("{dir}/graph.md: {e}"));
        text.split("\n---\n").next().unwrap().to_owned()
    };
    assert_eq!(table("cluster-reports"), table("local-reports"));
}
