//! `slr plan --json`: the stage graph other schedulers drive.

use super::common::{data_root, root, write};
use std::process::Command;

pub(super) const SPEC: &str = r#"
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

pub(super) fn plan_json(spec: &std::path::Path, runs: &std::path::Path) -> serde_json::Value {
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
    // Without a terminal, the overall progress is logged once per finished stage, with the
    // time left from this run's pace once a stage has finished.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("stages: "))
        .collect();
    assert_eq!(lines.len(), 8, "{stderr}");
    assert!(
        lines[0].starts_with("stages: 1 done (0 cached), 0 running, 7 pending, 0 failed of 8; ")
            && lines[0].contains(" left"),
        "{stderr}"
    );
    assert!(
        lines[7].starts_with("stages: 8 done (0 cached), 0 running, 0 pending, 0 failed of 8; ")
            && lines[7].ends_with(" so far"),
        "{stderr}"
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
        "--time",
        "train=48:00:00",
        "--max-parallel",
        "2",
        "--mail-type",
        "END,FAIL",
        "--mail-user",
        "me@example.org",
        "--extra",
        "#SBATCH --qos=normal",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = runs.join("slurm/graph/sub-1");
    let redact = |text: String| {
        text.replace(&tmp.path().display().to_string(), "<tmp>")
            .replace(&root().display().to_string(), "<repo>")
            .replace(env!("CARGO_BIN_EXE_slr"), "<slr>")
    };
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let mut all = String::new();
    for name in [
        "stages.tsv",
        "L0-pretrain.sbatch",
        "L1-train.sbatch",
        "report.sbatch",
        "submit.sh",
    ] {
        all.push_str(&format!("==> {name}\n{}", redact(read(name))));
    }
    insta::assert_snapshot!("slurm_scripts", all);
    let scripts: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sbatch"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        scripts,
        [
            "L0-pretrain.sbatch",
            "L1-train.sbatch",
            "L2-prune.sbatch",
            "L3-retrain.sbatch",
            "report.sbatch"
        ]
    );

    // A second call is a new submission and leaves the first one as it was.
    let first: Vec<(String, String)> = ["L0-pretrain.sbatch", "stages.tsv", "submit.sh"]
        .iter()
        .map(|n| (n.to_string(), read(n)))
        .collect();
    assert!(slurm(&["--time", "1:00:00"]).status.success());
    assert!(runs.join("slurm/graph/sub-2/L0-pretrain.sbatch").is_file());
    for (name, text) in first {
        assert_eq!(read(&name), text, "{name} of sub-1 changed");
    }

    // A node that does not see the probe (runs folder not shared) refuses with exit 3, saying
    // why on stderr (Slurm's log in /tmp), before it writes anything into the runs folder.
    std::fs::remove_file(dir.join("shared-folder.probe")).unwrap();
    let job = Command::new("bash")
        .arg(dir.join("L0-pretrain.sbatch"))
        .env("SLURM_ARRAY_TASK_ID", "0")
        .env("SLURM_ARRAY_JOB_ID", "17")
        .output()
        .unwrap();
    assert_eq!(job.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&job.stderr).contains("the runs folder must be shared"),
        "{}",
        String::from_utf8_lossy(&job.stderr)
    );
    assert!(!dir.join("logs").exists());

    // Bad input, exit 2 and nothing written: an `--extra` line that is not an #SBATCH line or
    // sets what slr slurm sets, a time limit of no stage kind, --submit without sbatch.
    for (args, says) in [
        (
            &["--extra", "--qos=normal"][..],
            "must start with `#SBATCH `",
        ),
        (
            &["--extra", "#SBATCH --array=0-9%2"],
            "sets --array itself (from --max-parallel)",
        ),
        (&["--time", "tune=1:00:00"], "no stage kind `tune`"),
        (&["--time", "soon"], "--time `soon`"),
    ] {
        let bad = slurm(args);
        assert_eq!(bad.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(!runs.join("slurm/graph/sub-3").exists());
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
id=$RANDOM
range=$(sed -n 's/^#SBATCH --array=\([0-9-]*\).*$/\1/p' "$script")
export SLURM_ARRAY_JOB_ID=$id SLURM_JOB_ID=$id
if [ -n "$range" ]; then
  for i in $(seq "${range%-*}" "${range#*-}"); do SLURM_ARRAY_TASK_ID=$i bash "$script" >&2; done
else
  bash "$script" >&2
fi
echo $id
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
    // A stage whose input is not done refuses with exit 4, naming it.
    let graph = plan_json(&spec, &runs);
    let train = graph["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "train")
        .unwrap()
        .clone();
    let early = Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .args(["run-stage", spec.to_str().unwrap(), "--runs-root"])
        .arg(&runs)
        .args(["--stage", train["folder"].as_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(early.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(
        stderr.contains(&format!(
            "input not done: --stage {}: it consumes {}, which is not done",
            train["folder"].as_str().unwrap(),
            train["depends_on"].as_str().unwrap()
        )),
        "{stderr}"
    );
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
    let submit = std::fs::read_to_string(runs.join("slurm/graph/sub-2/submit.sh")).unwrap();
    assert!(!submit.contains(".sbatch \""), "{submit}");
    assert!(
        submit.contains("report=$(submit report.sbatch)"),
        "{submit}"
    );
    // Every task logged into the submission's logs/, one file per task and attempt.
    let logs = std::fs::read_dir(runs.join("slurm/graph/sub-1/logs"))
        .unwrap()
        .count();
    assert_eq!(logs, 9);
}
