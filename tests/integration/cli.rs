//! The binary: exit codes and messages for bad input, `plan` and `where`, environment layer.

use super::common::{data_root, root, write};
use std::path::Path;
use std::process::{Command, Output};

fn slr(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slr"));
    cmd.args(args).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run slr")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The commit a binary records is the one it was built from, also when it runs in another
/// checkout: a binary built in a clean clone and run from a working tree at another commit
/// (or with uncommitted changes) must not name that tree's commit.
#[test]
fn the_version_names_the_build_commit_wherever_it_runs() {
    let elsewhere = tempfile::tempdir().unwrap();
    let git = |dir: &Path, args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(elsewhere.path(), &["init", "-q"]);
    git(
        elsewhere.path(),
        &["commit", "-q", "--allow-empty", "-m", "another checkout"],
    );
    let other_head = git(elsewhere.path(), &["rev-parse", "--short=12", "HEAD"]);
    let out = Command::new(env!("CARGO_BIN_EXE_slr"))
        .arg("--version")
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let built = slr_repro::run::provenance::git_commit();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("slr {} (commit {built})\n", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        !built.starts_with(&other_head),
        "{built} is the other checkout's"
    );
    // Built in this repository: its HEAD, with `-dirty` only if sources changed since.
    let head = git(&root(), &["rev-parse", "--short=12", "HEAD"]);
    assert!(
        built == head || built == format!("{head}-dirty"),
        "built from {built}, repository at {head}: build.rs did not rerun after HEAD moved"
    );
}

#[test]
fn bad_spec_exits_2_naming_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("experiments/lenet5-mnist.toml"))
        .unwrap()
        .replace("\"fc2.weight\" = 0.93", "\"fc2.weight\" = 1.5");
    let path = write(tmp.path(), "bad.toml", &text);
    let out = slr(&["plan", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(
        err.contains("sparsity.per_layer.\"fc2.weight\"`: 1.5 is outside [0, 1)"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn duplicate_seeds_on_the_command_line_exit_2() {
    let out = slr(&["plan", "lenet5-mnist", "--seeds", "1,2,1"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--seeds: seed 1 appears twice (each seed is one run)"),
        "{err}"
    );
}

#[test]
fn bad_convolution_gradient_choice_exits_2_naming_the_variable() {
    let out = slr(&["plan", "lenet5-mnist"], &[("SLR_TCH_CONV_GRAD", "cudnn")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("SLR_TCH_CONV_GRAD=`cudnn`: allowed values are libtorch (default) and burn"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let out = slr(&["plan", "lenet5-mnist"], &[("SLR_TCH_CONV_GRAD", "burn")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn unknown_spec_backend_and_profile_exit_2() {
    let out = slr(&["plan", "no-such-spec"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("known specs: lenet5-fashion, lenet5-mnist, table1"),
        "{}",
        stderr(&out)
    );

    let out = slr(
        &[
            "reproduce",
            "lenet5-mnist",
            "--profile",
            "smoke",
            "--backend",
            "tch-cuda",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    if cfg!(feature = "tch") {
        assert!(!err.is_empty());
    } else {
        assert!(
            err.contains("backend `tch-cuda` is not compiled into this binary (compiled: cpu)"),
            "{err}"
        );
    }

    let out = slr(&["plan", "lenet5-mnist", "--profile", "nope"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("allowed values: authors, converged, long, paper, published, smoke"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_data_exits_2_with_the_fetch_command() {
    let tmp = tempfile::tempdir().unwrap();
    let out = slr(
        &[
            "reproduce",
            "lenet5-mnist",
            "--profile",
            "smoke",
            "--no-fetch",
            "--data-root",
            tmp.path().to_str().unwrap(),
            "--runs-root",
            tmp.path().join("runs").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("data set `mnist` is not available"), "{err}");
    assert!(err.contains("slr data fetch mnist"), "{err}");
}

#[test]
fn plan_and_where_use_the_environment_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("elsewhere");
    let env = [("SLR_RUNS_ROOT", runs.to_str().unwrap())];
    let out = slr(&["plan", "lenet5-mnist", "--profile", "smoke"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "spec lenet5-mnist (experiments/lenet5-mnist.toml), profile smoke: 15 runs"
        ),
        "{text}"
    );
    // Main rows: dense 1 stage, magnitude 3, two ADMM and two SLR rows 4 each; the coarse
    // sweep: 3 magnitude rows and 6 ADMM/SLR rows.
    assert_eq!(
        text.matches("  pending  ").count(),
        1 + 3 + 4 * 4 + 3 * 3 + 6 * 4,
        "{text}"
    );
    // Shared stages once: 1 pretrain; prune + retrain for 4 magnitude rows; train + prune +
    // retrain for 10 ADMM/SLR rows.
    assert!(text.contains("\npending: 39 stages, "), "{text}");
    let skipped = text
        .matches("not run (group `sweep` not selected by profile `smoke`)")
        .count();
    assert_eq!(skipped, 9, "{text}");

    let out = slr(
        &["where", "lenet5-mnist", "magnitude", "--profile", "smoke"],
        &env,
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim().starts_with(runs.to_str().unwrap()), "{text}");
    assert!(text.trim().ends_with("seed-1"), "{text}");
    assert!(text.contains("/retrain-"), "{text}");

    let out = slr(&["where", "lenet5-mnist", "nope"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("rows: dense, magnitude, admm-detached"));

    // Environment variables reach runtime keys only; others are ignored.
    let out = slr(
        &["plan", "lenet5-mnist", "--profile", "smoke"],
        &[("SLR_SEEDS", "[5]")],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("dense seed 1"));
}

#[test]
fn data_fetch_from_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let src = data_root().join("mnist");
    let out = slr(
        &[
            "data",
            "fetch",
            "mnist",
            "--from",
            src.to_str().unwrap(),
            "--data-root",
            tmp.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = slr(
        &[
            "data",
            "fetch",
            "mnist",
            "--from",
            tmp.path().to_str().unwrap(),
            "--data-root",
            tmp.path().join("x").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "a folder without the files");
    assert!(
        stderr(&out).contains("does not hold the mnist files"),
        "{}",
        stderr(&out)
    );
    let out = slr(&["data", "fetch", "cifar100"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_diverging_run_fails_alone_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(
        tmp.path(),
        "boom.toml",
        r#"
[table]
id = "boom"
title = "Divergence"

[defaults]
model = "lenet-300-100"
dataset = "mnist"
data = { train_limit = 256, test_limit = 100 }
pretrain = { epochs = 1, optimizer = { lr = 0.01 } }

[[rows]]
name = "ok"

[[rows]]
name = "boom"
pretrain = { epochs = 1, optimizer = { lr = 1e30 } }
"#,
    );
    let runs = tmp.path().join("runs");
    let reports = tmp.path().join("reports");
    let out = slr(
        &[
            "reproduce",
            spec.to_str().unwrap(),
            "--no-fetch",
            "--data-root",
            data_root().to_str().unwrap(),
            "--runs-root",
            runs.to_str().unwrap(),
            "--set",
            &format!("runtime.reports_root={:?}", reports.display().to_string()),
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("boom seed 1 failed: run failed: boom pretrain seed 1: diverged"),
        "{err}"
    );
    assert!(err.contains("1 runs trained, 0 cached, 1 failed"), "{err}");
    let report = std::fs::read_to_string(reports.join("boom.md")).unwrap();
    assert!(report.contains("| ok | dense | – | "), "{report}");
    assert!(
        report.contains(
            "| boom | dense | – | diverged (1 of 1): run failed: boom pretrain seed 1: diverged"
        ),
        "{report}"
    );
}

#[test]
fn stage_locks_exclude_a_second_process_and_expire_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pretrain-x").join("seed-1");
    let lock = slr_repro::run::store::StageLock::acquire(&dir).unwrap();
    // This process holds it: a second claim is refused with a clear message.
    let err = slr_repro::run::store::StageLock::acquire(&dir)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("is being run by process {}", std::process::id())),
        "{err}"
    );
    drop(lock);
    // A lock left by a process that no longer exists is taken over.
    std::fs::write(dir.with_extension("lock"), "4000000000").unwrap();
    let _lock = slr_repro::run::store::StageLock::acquire(&dir).unwrap();
}

/// `slr perf` with `args`, no warm-up, one timed step and a gradient check against `cpu`: its
/// Markdown table and its JSON report.
fn perf(args: &[&str]) -> (String, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("perf.json");
    let common = [
        "perf",
        "--warmup",
        "0",
        "--steps",
        "1",
        "--reference",
        "cpu",
    ];
    let json_args = ["--json", json.to_str().unwrap()];
    let all: Vec<&str> = common
        .iter()
        .chain(args)
        .chain(&json_args)
        .copied()
        .collect();
    let out = slr(&all, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), report)
}

#[test]
fn perf_measures_a_step_checks_gradients_and_determinism() {
    let (table, report) = perf(&["--model", "lenet5", "--batch", "8", "--threads", "2"]);
    assert!(table.contains("| dense step |"), "{table}");
    // LeNet-5's four weights: 20x1x5x5 + 50x20x5x5 + 800x500 + 500x10.
    assert_eq!(report["pruned_layers"], 4);
    assert_eq!(report["pruned_weights"], 500 + 25_000 + 400_000 + 5_000);
    // Weights and biases of the four layers; the CPU backend against itself, and twice from
    // one seed: exactly equal.
    assert_eq!(report["grad_check"]["params"], 8);
    assert_eq!(report["grad_check"]["loss_rel_err"], 0.0);
    assert_eq!(report["grad_check"]["grad_rel_err_max"], 0.0);
    assert_eq!(report["determinism"]["weight_max_abs_diff"], 0.0);
    assert!(report["dense_step_ms"].as_f64().unwrap() > 0.0);

    let bad = slr(&["perf", "--ratio", "1.0"], &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("--ratio 1: must be in [0, 1)"),
        "{}",
        stderr(&bad)
    );
}

/// `slr perf` on a detection model: random letterboxed images with boxes through YOLOv3's
/// loss, and the ADMM/SLR steps over its 11 batch-normalised convolutions.
#[test]
fn perf_measures_a_detection_step() {
    let (_, report) = perf(&[
        "--model",
        "yolov3-tiny",
        "--batch",
        "1",
        "--check-batch",
        "1",
    ]);
    assert_eq!(report["pruned_layers"], 11);
    // 3x3 convs 3-16-32-64-128-256-512-1024, 1x1 1024-256, 3x3 256-512, 1x1 256-128 and 3x3
    // (128 + 256)-256.
    let weights = 9 * (3 * 16 + 16 * 32 + 32 * 64 + 64 * 128 + 128 * 256 + 256 * 512)
        + 9 * 512 * 1024
        + 1024 * 256
        + 9 * 256 * 512
        + 256 * 128
        + 9 * 384 * 256;
    assert_eq!(report["pruned_weights"], weights);
    // Weight and BatchNorm scale and shift of the 11, weight and bias of the 2 outputs.
    assert_eq!(report["grad_check"]["params"], 11 * 3 + 2 * 2);
    assert_eq!(report["grad_check"]["grad_rel_err_max"], 0.0);
    assert_eq!(report["determinism"]["weight_max_abs_diff"], 0.0);
    assert!(report["slr_step_ms"].as_f64().unwrap() > 0.0);
}

/// A stage folder that is a file, or a lock path that is a folder, stops `reproduce` with exit 2
/// naming the path and what to do (it failed every rerun with exit 1 before); once moved away,
/// the same command runs.
#[test]
fn unusable_stage_paths_exit_2_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(
        tmp.path(),
        "paths.toml",
        r#"
[table]
id = "paths"
title = "Paths"

[defaults]
model = "lenet-300-100"
dataset = "mnist"
data = { train_limit = 64, test_limit = 32 }
batch_size = 32
pretrain = { epochs = 1 }

[[rows]]
name = "dense"
"#,
    );
    let runs = tmp.path().join("runs");
    let loaded = super::common::load_spec(&spec, None);
    let plan = slr_repro::spec::resolve(loaded, None);
    let dir = slr_repro::run::store::stage_dir(&runs, &plan.runs[0], 0);
    let reproduce = || {
        super::common::reproduce_command(&spec, &runs, &tmp.path().join("reports"))
            .output()
            .unwrap()
    };
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&dir, b"not a folder").unwrap();
    let out = reproduce();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{}: is a file where slr keeps the stage's folder for one seed; move or remove it",
            dir.display()
        )),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(&dir).unwrap();
    let lock = dir.with_extension("lock");
    std::fs::create_dir_all(&lock).unwrap();
    let out = reproduce();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is a folder where slr keeps the stage's lock file"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir(&lock).unwrap();
    let out = reproduce();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A ratio that keeps no weight of a layer, given through `--set`, is refused naming the
/// `--set` (the check needs the models' layer sizes, after the spec's own checks).
#[test]
fn a_set_that_keeps_no_weight_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(
        tmp.path(),
        "targets.toml",
        r#"
[table]
id = "targets"
title = "Targets"

[defaults]
model = "lenet-300-100"
dataset = "mnist"
method = "magnitude"
sparsity = { uniform = 0.9 }

[[rows]]
name = "mag"
"#,
    );
    let spec = spec.to_str().unwrap();
    let out = slr(&["plan", spec], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = slr(
        &[
            "plan",
            spec,
            "--set",
            "defaults.seeds=[4]",
            "--set",
            "defaults.sparsity.uniform=0.9999",
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("from `--set defaults.sparsity.uniform=0.9999`: row `mag` (rows[0]): key `sparsity`: ratio 0.9999 keeps none of the"),
        "{err}"
    );
}

#[test]
fn perf_input_times_a_training_pipeline_with_each_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("input.json");
    let root = data_root();
    let out = slr(
        &[
            "perf",
            "--input",
            "cifar10-test20",
            "--data-root",
            root.to_str().unwrap(),
            "--batch",
            "8",
            "--warmup",
            "1",
            "--batches",
            "2",
            "--workers",
            "1,2",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| threads | images/s | per thread |"),
        "{table}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["dataset"], "cifar10-test20");
    assert_eq!(report["image"], serde_json::json!([3, 32, 32]));
    assert_eq!(report["train_images"], 20);
    let rates = report["rates"].as_array().unwrap();
    let workers: Vec<u64> = rates
        .iter()
        .map(|r| r["workers"].as_u64().unwrap())
        .collect();
    assert_eq!(workers, [1, 2]);
    for rate in rates {
        let (total, per) = (
            rate["images_per_s"].as_f64().unwrap(),
            rate["per_worker"].as_f64().unwrap(),
        );
        assert!(total > 0.0, "{rate}");
        assert_eq!(per, total / rate["workers"].as_f64().unwrap());
    }

    // A data set that is not there: exit 2 with the fetch hint; no thread count of 0.
    let empty = tmp.path().join("empty");
    let missing = slr(
        &[
            "perf",
            "--input",
            "imagenet",
            "--data-root",
            empty.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("data set `imagenet` is not available"),
        "{}",
        stderr(&missing)
    );
    let zero = slr(
        &["perf", "--input", "cifar10-test20", "--workers", "0,1"],
        &[],
    );
    assert_eq!(zero.status.code(), Some(2), "{}", stderr(&zero));
    assert!(stderr(&zero).contains("--workers"), "{}", stderr(&zero));
}
