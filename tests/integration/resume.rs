//! Interrupted runs continue where they stopped: SIGKILL at points spread over every stage
//! kind, and SIGTERM mid-epoch, each followed by a rerun, give the same stages bit for bit as
//! an uninterrupted run (wall-clock seconds aside).

use super::common::{root, write};
use burn::module::Module;
use burn::tensor::Device;
use sha2::{Digest, Sha256};
use slr_repro::models::{Net, params};
use slr_repro::spec::ModelKind;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Pretraining, ADMM and SLR training, pruning and retraining of LeNet-300-100 on a slice of
/// MNIST: 32 steps per epoch, two epochs per training stage.
pub(super) const SPEC: &str = r#"
[table]
id = "resume"
title = "Resume"

[defaults]
model = "lenet-300-100"
dataset = "mnist"
seeds = [1]
batch_size = 32
data = { train_limit = 1024, test_limit = 200 }
pretrain = { epochs = 2, optimizer = { lr = 0.05, momentum = 0.9 } }
train = { epochs = 2 }
retrain = { epochs = 2 }

[[rows]]
name = "admm"
method = "admm"
hardprune_every_epoch = true
sparsity = { uniform = 0.8 }

[[rows]]
name = "slr"
method = "slr"
sparsity = { uniform = 0.8 }
"#;

fn command(spec: &Path, runs: &Path) -> Command {
    let mut cmd = super::common::reproduce_command(spec, runs, &runs.join("reports"));
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

fn run_to_end(spec: &Path, runs: &Path) -> String {
    let out = command(spec, runs).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    err
}

/// Every finished stage: its metrics (seconds removed), final metrics and model bytes.
pub(super) fn fingerprint(runs: &Path) -> Vec<(String, String)> {
    let mut stages: Vec<_> = std::fs::read_dir(runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.join("seed-1").is_dir())
        .collect();
    stages.sort();
    let mut out = Vec::new();
    for stage in stages {
        let dir = stage.join("seed-1");
        let name = stage.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !dir.join("checkpoint").exists(),
            "{name}: checkpoint left behind"
        );
        let metrics: String = std::fs::read_to_string(dir.join("metrics.csv"))
            .unwrap()
            .lines()
            .filter(|l| !l.contains(",seconds,"))
            .map(|l| format!("{l}\n"))
            .collect();
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        // The thread count it ran on (`runtime.threads=1`) is part of its provenance.
        let provenance: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("provenance.json")).unwrap())
                .unwrap();
        assert_eq!(provenance["threads"], 1, "{name}: {provenance}");
        // The weights' values.
        let net = Net::init(ModelKind::Lenet300100, &Device::flex())
            .try_load_file(dir.join("model.bpk"))
            .unwrap();
        let names: Vec<String> = params::shapes(&net).into_iter().map(|(n, _)| n).collect();
        let mut hasher = Sha256::new();
        for (name, values) in params::flat(&net, &names) {
            hasher.update(name.as_bytes());
            hasher.update(values.into_data().as_bytes());
        }
        let model = hasher.finalize();
        out.push((
            name,
            format!(
                "{metrics}{}\n{}\n{model:x}",
                summary["metrics"], summary["sparsity"]
            ),
        ));
    }
    out
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn killed_runs_continue_to_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "resume.toml", SPEC);
    let reference_runs = tmp.path().join("reference");
    let started = Instant::now();
    run_to_end(&spec, &reference_runs);
    let full = started.elapsed();
    let reference = fingerprint(&reference_runs);
    assert_eq!(reference.len(), 7, "pretrain, 2 x (train, prune, retrain)");

    // Twelve kills, three in each stage kind: right after its folder appears, and (for the
    // kinds that train) at a fixed pseudo-random delay after its first checkpoint appears, so
    // every kind is hit before, at and after an epoch boundary.
    let mut resumed = 0;
    let mut delays = [3u64, 0, 23, 11, 5, 37, 0, 7, 19, 2, 1, 31].into_iter();
    for kind in ["pretrain", "train", "prune", "retrain"] {
        for case in 0..3 {
            let delay = Duration::from_millis(delays.next().unwrap());
            // Prune stages do not train: no checkpoint to wait for.
            let marker = if case == 0 || kind == "prune" {
                "seed-1"
            } else {
                "seed-1/checkpoint"
            };
            let runs = tmp.path().join(format!("kill-{kind}-{case}"));
            let mut child = command(&spec, &runs).spawn().unwrap();
            let began = Instant::now();
            let hit = loop {
                if child.try_wait().unwrap().is_some() || began.elapsed() > full * 3 {
                    break false;
                }
                let reached = std::fs::read_dir(&runs).is_ok_and(|entries| {
                    entries.filter_map(|e| e.ok()).any(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        name.starts_with(&format!("{kind}-")) && e.path().join(marker).exists()
                    })
                });
                if reached {
                    break true;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            assert!(hit, "the {kind} stage never reached {marker}");
            std::thread::sleep(delay);
            let _ = child.kill();
            child.wait().unwrap();
            let rerun = run_to_end(&spec, &runs);
            resumed += usize::from(rerun.contains("continuing from its checkpoint"));
            assert_eq!(
                fingerprint(&runs),
                reference,
                "killed {delay:?} after the first {kind} stage's {marker} appeared"
            );
        }
    }
    // Most kills land after a checkpoint: those reruns continued from it.
    assert!(
        resumed >= 3,
        "only {resumed} reruns continued from a checkpoint"
    );
}

#[test]
fn sigterm_checkpoints_mid_epoch_and_the_rerun_continues_there() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "resume.toml", SPEC);
    let reference_runs = tmp.path().join("reference");
    let started = Instant::now();
    run_to_end(&spec, &reference_runs);
    let full = started.elapsed();
    let reference = fingerprint(&reference_runs);

    let mut mid_epoch = false;
    for attempt in 1..=8u32 {
        let runs = tmp.path().join(format!("term-{attempt}"));
        let child = command(&spec, &runs).spawn().unwrap();
        std::thread::sleep(full * attempt / 10);
        signal(&child, "TERM");
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            // It finished before the signal arrived.
            continue;
        }
        assert_eq!(out.status.code(), Some(130), "{err}");
        assert!(err.contains("interrupted:"), "{err}");
        assert!(err.contains("run the same command again"), "{err}");
        let status = Command::new(env!("CARGO_BIN_EXE_slr"))
            .current_dir(root())
            .args(["status", spec.to_str().unwrap(), "--runs-root"])
            .arg(&runs)
            .output()
            .unwrap();
        let status = String::from_utf8_lossy(&status.stdout).into_owned();
        assert!(
            status.contains("at epoch") && status.contains("(a rerun continues there)"),
            "{status}"
        );
        let rerun = run_to_end(&spec, &runs);
        mid_epoch |= rerun
            .lines()
            .any(|l| l.contains("continuing from its checkpoint") && !l.contains(" step 0)"));
        assert_eq!(
            fingerprint(&runs),
            reference,
            "SIGTERM at {attempt}/10: {rerun}"
        );
        if mid_epoch {
            break;
        }
    }
    assert!(mid_epoch, "no SIGTERM landed inside an epoch");
}

/// SIGTERM to the whole process group of a parallel run (Slurm at a time limit, `scancel`,
/// `pkill`): each worker gets it twice within milliseconds, from the sender and forwarded by the
/// runner. That is one request: every worker checkpoints at its next batch boundary instead of
/// stopping at once, the run exits 130, and the rerun ends as an uninterrupted run.
#[test]
fn a_group_sigterm_is_one_request_to_every_worker() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "resume.toml", SPEC);
    let reference_runs = tmp.path().join("reference");
    run_to_end(&spec, &reference_runs);
    let reference = fingerprint(&reference_runs);

    let runs = tmp.path().join("group");
    let child = command(&spec, &runs)
        .args(["--jobs", "2"])
        .process_group(0)
        .spawn()
        .unwrap();
    // The ADMM and SLR trainings run side by side once the pretraining is done.
    let started = Instant::now();
    let trainings = || {
        std::fs::read_dir(&runs).map_or(0, |entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("train-"))
                .filter(|e| e.path().join("seed-1").is_dir())
                .count()
        })
    };
    while trainings() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the two trainings never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let group = format!("-{}", child.id());
    let status = Command::new("kill")
        .args(["-TERM", "--", &group])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(!err.contains("second signal"), "{err}");
    for worker in ["[1]", "[2]"] {
        assert!(
            err.contains(&format!("{worker} signal received: checkpointing")),
            "{worker}: {err}"
        );
    }
    run_to_end(&spec, &runs);
    assert_eq!(fingerprint(&runs), reference);
}

/// Spec text of [`SPEC`] with a row that prunes the ADMM training's model after epoch 1.
fn with_snapshot_row() -> String {
    format!(
        "{SPEC}\n[[rows]]\nname = \"admm-e1\"\nmethod = \"admm\"\nhardprune_every_epoch = true\nprune_at_epoch = 1\nsparsity = {{ uniform = 0.8 }}\n"
    )
}

/// The folder name of row `row`'s training stage in spec `text`.
fn train_folder(text: &str, row: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let loaded = super::common::load_spec(&write(tmp.path(), "spec.toml", text), None);
    let plan = slr_repro::spec::resolve(loaded, None);
    let run = plan.runs.iter().find(|r| r.row_name == row).unwrap();
    run.stages
        .iter()
        .find(|s| s.kind == slr_repro::spec::StageKind::Train)
        .unwrap()
        .folder_name()
}

/// The ADMM training killed after its first epoch, which it kept for the `admm-e1` row (the
/// snapshot is written before the epoch's checkpoint), continues; the row that prunes the
/// snapshot gets what an uninterrupted run gives.
#[test]
fn a_killed_training_keeps_its_snapshots() {
    let text = with_snapshot_row();
    let folder = train_folder(&text, "admm");
    let rerun = killed_then_rerun(&text, &text, &folder, |dir| {
        assert!(
            dir.join("model-epoch-1.bpk").is_file(),
            "kept before the checkpoint"
        );
    });
    assert!(rerun.contains("continuing from its checkpoint"), "{rerun}");
}

/// A training interrupted after epoch 1 without keeping it, rerun when a row asks for epoch 1,
/// starts afresh (its checkpoint cannot give the snapshot) and ends as a run that kept it.
#[test]
fn a_training_past_a_wanted_epoch_starts_afresh() {
    let text = with_snapshot_row();
    let folder = train_folder(SPEC, "admm");
    assert_eq!(
        folder,
        train_folder(&text, "admm"),
        "snapshots rename nothing"
    );
    let rerun = killed_then_rerun(SPEC, &text, &folder, |_| {});
    assert!(
        rerun.contains("whose model it did not keep; starting the training afresh"),
        "{rerun}"
    );
}

/// A finished training cannot gain a snapshot: the rerun that asks for one stops before
/// anything runs, naming the folder (exit 2).
#[test]
fn a_finished_training_without_a_wanted_snapshot_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    run_to_end(&write(tmp.path(), "resume.toml", SPEC), &runs);
    let spec = write(tmp.path(), "resume.toml", &with_snapshot_row());
    let out = command(&spec, &runs).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let folder = train_folder(SPEC, "admm");
    assert!(err.contains(&format!("{folder}/seed-1 (epoch 1)")), "{err}");
    assert!(err.contains("delete these folders"), "{err}");
}

/// Runs `text` to the end once for reference, then again killed (SIGKILL) as soon as a stage
/// whose folder starts with `stage_prefix` has written its first checkpoint, then reruns it:
/// the rerun must continue from that checkpoint and give the reference bit for bit.
fn killed_at_first_checkpoint_continues_bit_for_bit(text: &str, stage_prefix: &str) {
    let rerun = killed_at_first_checkpoint(text, stage_prefix, |_| {});
    assert!(rerun.contains("continuing from its checkpoint"), "{rerun}");
}

/// Runs `text` to the end for reference, then again killed (SIGKILL) once a stage whose folder
/// starts with `stage_prefix` has checkpointed; `damage` is applied to that stage's seed folder,
/// then the run is completed: its stages must equal the reference bit for bit. Returns the
/// rerun's stderr.
fn killed_at_first_checkpoint(text: &str, stage_prefix: &str, damage: impl Fn(&Path)) -> String {
    killed_then_rerun(text, text, stage_prefix, damage)
}

/// [`killed_at_first_checkpoint`] with the rerun (and the reference) on `rerun_text`.
fn killed_then_rerun(
    text: &str,
    rerun_text: &str,
    stage_prefix: &str,
    damage: impl Fn(&Path),
) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let reference_spec = write(tmp.path(), "reference.toml", rerun_text);
    let reference_runs = tmp.path().join("reference");
    run_to_end(&reference_spec, &reference_runs);
    let reference = fingerprint(&reference_runs);
    let spec = write(tmp.path(), "resume.toml", text);
    let runs = tmp.path().join("killed");
    let mut child = command(&spec, &runs).spawn().unwrap();
    let began = Instant::now();
    let stage = loop {
        let checkpointed = std::fs::read_dir(&runs).ok().and_then(|entries| {
            entries.filter_map(|e| e.ok()).find(|e| {
                e.file_name().to_string_lossy().starts_with(stage_prefix)
                    && e.path().join("seed-1/checkpoint").exists()
            })
        });
        if let Some(entry) = checkpointed {
            break Some(entry.path().join("seed-1"));
        }
        if began.elapsed() > Duration::from_secs(60) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let _ = child.kill();
    child.wait().unwrap();
    damage(&stage.expect("the stage checkpointed within 60 s"));
    let spec = write(tmp.path(), "resume.toml", rerun_text);
    let rerun = run_to_end(&spec, &runs);
    assert_eq!(fingerprint(&runs), reference, "{rerun}");
    rerun
}

/// An interrupted stage whose `metrics.csv` is gone, or shorter than its checkpoint recorded,
/// starts afresh with a warning naming the file (it was stuck with exit 1, or padded with NUL
/// bytes), and ends as the uninterrupted run does.
#[test]
fn an_interrupted_stage_with_missing_or_cut_metrics_starts_afresh() {
    let text = SPEC.replace("epochs = 2 }\nretrain", "epochs = 3 }\nretrain");
    let rerun = killed_at_first_checkpoint(&text, "train-", |dir| {
        std::fs::remove_file(dir.join("metrics.csv")).unwrap()
    });
    assert!(
        rerun.contains("metrics.csv: cannot be read")
            && rerun.contains("starting the stage afresh"),
        "{rerun}"
    );
    let rerun = killed_at_first_checkpoint(&text, "train-", |dir| {
        let file = std::fs::File::options()
            .write(true)
            .open(dir.join("metrics.csv"))
            .unwrap();
        file.set_len(10).unwrap();
    });
    assert!(
        rerun.contains("metrics.csv: holds 10 bytes where its checkpoint recorded"),
        "{rerun}"
    );
}

#[test]
fn an_adam_stage_continues_from_its_checkpoint_bit_for_bit() {
    let text = SPEC.replace(
        "pretrain = { epochs = 2, optimizer = { lr = 0.05, momentum = 0.9 } }",
        "pretrain = { epochs = 3, optimizer = { kind = \"adam\", lr = 1e-3, l2 = 5e-5, decoupled_weight_decay = 1e-4 } }",
    );
    assert_ne!(text, SPEC);
    // Killed once the pretrain stage's first checkpoint exists (Adam's moments and step count).
    killed_at_first_checkpoint_continues_bit_for_bit(&text, "pretrain-");
}

#[test]
fn a_step_clocked_stage_continues_mid_round_bit_for_bit() {
    // 32 steps per pass; 80 steps are passes of 32, 32 and 16, and updates every 24 steps
    // (before steps 24, 48, 72) put a round across each checkpoint at a pass's end; each
    // pass records its last update's `round.ce`, which a lost round sum would change.
    let text = SPEC.replace(
        "\ntrain = { epochs = 2 }",
        "\ntrain = { steps = 80 }\nadmm = { interval_steps = 24 }\nslr = { interval_steps = 24 }",
    );
    assert_ne!(text, SPEC);
    // Killed once a training stage has checkpointed the end of its first pass (step 32, in
    // the middle of the round from step 24 to 48).
    killed_at_first_checkpoint_continues_bit_for_bit(&text, "train-");
}

/// A runner waiting for a stage another process holds stops at once on SIGTERM (exit 130,
/// naming the stage and its holder) instead of ignoring the signal until the lock frees.
#[test]
fn sigterm_stops_a_runner_waiting_for_a_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "resume.toml", SPEC);
    let runs = tmp.path().join("runs");
    let loaded = super::common::load_spec(&spec, None);
    let plan = slr_repro::spec::resolve(loaded, None);
    let first = slr_repro::run::store::stage_dir(&runs, &plan.runs[0], 0);
    let _held = slr_repro::run::store::StageLock::acquire(&first).unwrap();
    let mut child = command(&spec, &runs).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Read until the runner says it waits (then it is in the wait loop).
    let mut seen = Vec::new();
    let waiting = loop {
        let mut byte = [0u8; 1];
        match std::io::Read::read(&mut stderr, &mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => break false,
        }
        if String::from_utf8_lossy(&seen).contains("waiting for it") {
            break true;
        }
    };
    assert!(waiting, "{}", String::from_utf8_lossy(&seen));
    let signalled = Instant::now();
    signal(&child, "TERM");
    // A runner that ignored the signal would wait forever: killed after 20 s, it fails below.
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    });
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?}",
        signalled.elapsed()
    );
    assert!(
        rest.contains("a signal ended the wait for")
            && rest.contains(&format!("held by process {}", std::process::id())),
        "{rest}"
    );
}

/// A checkpoint whose optimizer and pruner state was emptied after the kill is not resumed:
/// the stage starts afresh with a warning naming the file, and ends as the uninterrupted run.
#[test]
fn a_damaged_checkpoint_is_never_resumed() {
    let text = SPEC.replace("epochs = 2 }\nretrain", "epochs = 3 }\nretrain");
    let rerun = killed_at_first_checkpoint(&text, "train-", |dir| {
        std::fs::write(
            dir.join("checkpoint/tensors.bin"),
            b"SLRTENS1\0\0\0\0\0\0\0\0",
        )
        .unwrap()
    });
    assert!(
        rerun.contains("tensors.bin: differs from what the checkpoint recorded")
            && rerun.contains("starting the stage afresh")
            && !rerun.contains("continuing from its checkpoint"),
        "{rerun}"
    );
}
