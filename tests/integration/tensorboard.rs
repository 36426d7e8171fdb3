//! TensorBoard's own reader (PyPI's `tensorboard`, through `scripts/tensorboard_read.py`) sees
//! every value of every stage's `metrics.csv` under `<runs>/tensorboard/<spec>/<row>/seed-<n>/
//! <stage>`, and after a SIGKILL and a rerun it sees each step once, with the values of an
//! uninterrupted run.
//!
//! Needs that reader: `just test` makes its venv (`just tensorboard-venv`) and runs this test
//! with `--ignored`; `SLR_TB_PYTHON` names another Python that has `tensorboard`.

use super::common::{reproduce_command, root, write};
use slr_repro::run::store::{self, events};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// (tag, step) -> value of one TensorBoard run.
type Curves = BTreeMap<(String, i64), f32>;

fn python() -> PathBuf {
    std::env::var_os("SLR_TB_PYTHON").map_or_else(
        || PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/slr-tb-venv/bin/python"),
        PathBuf::from,
    )
}

/// Every run TensorBoard finds under `logdir`, read by TensorBoard itself.
fn read_with_tensorboard(logdir: &Path) -> BTreeMap<String, Curves> {
    let python = python();
    let out = std::process::Command::new(&python)
        .arg(root().join("scripts/tensorboard_read.py"))
        .arg(logdir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; `just tensorboard-venv` makes it (or set SLR_TB_PYTHON)",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: BTreeMap<String, BTreeMap<String, Vec<(i64, f64)>>> =
        serde_json::from_slice(&out.stdout).unwrap();
    json.into_iter()
        .map(|(run, tags)| {
            let mut curves = Curves::new();
            for (tag, points) in tags {
                for (step, value) in points {
                    let before = curves.insert((tag.clone(), step), value as f32);
                    assert!(before.is_none(), "{run}: {tag} step {step} twice");
                }
            }
            (run, curves)
        })
        .collect()
}

/// What a stage folder's `metrics.csv` says TensorBoard should show.
fn expected(stage_dir: &Path) -> Curves {
    store::read_metrics(stage_dir)
        .unwrap()
        .iter()
        .map(|row| {
            let scalar = row.scalar();
            ((scalar.tag, scalar.step), scalar.value)
        })
        .collect()
}

/// Each TensorBoard run against the `metrics.csv` its link leads to; returns the runs with
/// wall-clock seconds left out.
fn check_against_metrics(runs: &Path) -> BTreeMap<String, Curves> {
    let logdir = runs.join(events::DIR).join("resume");
    let seen = read_with_tensorboard(&logdir);
    let mut names: Vec<&String> = seen.keys().collect();
    names.sort();
    // Both rows, each with its four stages (the pretrain shared, linked under each row).
    assert_eq!(
        names,
        [
            "admm/seed-1/pretrain",
            "admm/seed-1/prune",
            "admm/seed-1/retrain",
            "admm/seed-1/train",
            "slr/seed-1/pretrain",
            "slr/seed-1/prune",
            "slr/seed-1/retrain",
            "slr/seed-1/train",
        ]
    );
    let mut out = BTreeMap::new();
    for (name, curves) in seen {
        let linked = logdir.join(&name).canonicalize().unwrap();
        let stage_dir = linked.parent().unwrap();
        assert_eq!(curves, expected(stage_dir), "{name}");
        // The Rust reader agrees with TensorBoard's.
        let ours: Curves = events::read_scalars(&events::path(stage_dir))
            .unwrap()
            .into_iter()
            .map(|s| ((s.tag, s.step), s.value))
            .collect();
        assert_eq!(ours, curves, "{name}");
        let without_seconds = curves
            .into_iter()
            .filter(|((tag, _), _)| !tag.ends_with("/seconds"))
            .collect();
        out.insert(name, without_seconds);
    }
    out
}

#[test]
#[ignore = "needs PyPI's tensorboard; `just test` runs it"]
fn tensorboard_reads_what_every_stage_wrote_also_after_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "resume.toml", super::resume::SPEC);
    let command = |runs: &Path| {
        let mut cmd = reproduce_command(&spec, runs, &runs.join("reports"));
        // 64 steps per training stage: a loss at 8, 16, ..., 64.
        cmd.args(["--set", "runtime.loss_every=8"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    };
    let reference_runs = tmp.path().join("reference");
    let out = command(&reference_runs).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = check_against_metrics(&reference_runs);
    let train = &reference["admm/seed-1/train"];
    let steps: Vec<i64> = train
        .keys()
        .filter(|(tag, _)| tag == "step/train.loss")
        .map(|(_, step)| *step)
        .collect();
    assert_eq!(steps, [8, 16, 24, 32, 40, 48, 56, 64]);
    assert!(train.contains_key(&("epoch/acc.test".to_owned(), 2)));
    assert!(reference["admm/seed-1/prune"].contains_key(&("stage/acc.hardprune".to_owned(), 0)));

    // Killed once a training stage checkpointed (it may have written steps past the
    // checkpoint), then run again: each step once, the same values.
    let runs = tmp.path().join("killed");
    let mut child = command(&runs).spawn().unwrap();
    let began = Instant::now();
    let checkpointed = loop {
        let found = std::fs::read_dir(&runs).ok().is_some_and(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| {
                e.file_name().to_string_lossy().starts_with("train-")
                    && e.path().join("seed-1/checkpoint").exists()
            })
        });
        if found || began.elapsed() > Duration::from_secs(60) {
            break found;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let _ = child.kill();
    child.wait().unwrap();
    assert!(checkpointed, "no training stage checkpointed within 60 s");
    let out = command(&runs).output().unwrap();
    let rerun = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{rerun}");
    assert!(rerun.contains("continuing from its checkpoint"), "{rerun}");
    assert_eq!(check_against_metrics(&runs), reference);
}
