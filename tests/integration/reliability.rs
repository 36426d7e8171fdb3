//! Faults a real user meets: two runners on one runs folder, damaged run files, targets that
//! cannot be met. Each runs the binary as a child process.

use super::common::{root, write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// One seed of a dense model, its magnitude pruning and retraining, a few seconds each.
const SMALL: &str = r#"
[table]
id = "small"
title = "Small"

[defaults]
model = "lenet-300-100"
dataset = "mnist"
seeds = [1]
data = { train_limit = 512, test_limit = 200 }
pretrain = { epochs = 2, optimizer = { lr = 0.05, momentum = 0.9 } }
retrain = { epochs = 1 }

[[rows]]
name = "magnitude"
method = "magnitude"
sparsity = { uniform = 0.8 }
"#;

fn reproduce(spec: &Path, runs: &Path, reports: &Path) -> Command {
    super::common::reproduce_command(spec, runs, reports)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The report without its provenance footer (which names times).
fn table(reports: &Path) -> String {
    let text = std::fs::read_to_string(reports.join("small.md")).unwrap();
    text.split("\n---\n").next().unwrap().to_owned()
}

/// Lines of a child's stderr that report a finished training epoch of `stage`.
fn epochs_trained(err: &str, stage: &str) -> usize {
    err.lines()
        .filter(|l| l.contains(&format!(" {stage} seed 1 epoch ")))
        .count()
}

#[test]
fn two_runners_on_one_runs_folder_both_succeed_training_each_stage_once() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "small.toml", SMALL);
    let runs = tmp.path().join("runs");
    let (reports_a, reports_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let spawn = |reports: &Path| {
        reproduce(&spec, &runs, reports)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(&reports_a), spawn(&reports_b));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    let both = stderr(&a) + &stderr(&b);
    assert_eq!(epochs_trained(&both, "pretrain"), 2, "{both}");
    assert_eq!(epochs_trained(&both, "retrain"), 1, "{both}");
    assert_eq!(table(&reports_a), table(&reports_b));
}

#[test]
fn a_stage_with_a_damaged_file_is_redone_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "small.toml", SMALL);
    let runs = tmp.path().join("runs");
    let reports = tmp.path().join("reports");
    let first = reproduce(&spec, &runs, &reports).output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let reference = table(&reports);
    let pretrain = super::common::stage_seed_1(&runs, "pretrain");
    // Each fault in turn: an altered model (one byte), a truncated metrics file, a missing
    // provenance file, garbage in the summary.
    let model = pretrain.join("model.bpk");
    type Damage<'a> = Box<dyn Fn() + 'a>;
    let faults: Vec<(&str, Damage)> = vec![
        (
            "model.bpk",
            Box::new(|| {
                let mut bytes = std::fs::read(&model).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 0x80;
                std::fs::write(&model, bytes).unwrap();
            }),
        ),
        (
            "metrics.csv",
            Box::new(|| {
                let path = pretrain.join("metrics.csv");
                let bytes = std::fs::read(&path).unwrap();
                std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
            }),
        ),
        (
            "provenance.json",
            Box::new(|| std::fs::remove_file(pretrain.join("provenance.json")).unwrap()),
        ),
        (
            "summary.json",
            Box::new(|| std::fs::write(pretrain.join("summary.json"), "{ not json").unwrap()),
        ),
    ];
    for (file, damage) in faults {
        damage();
        // A report never uses the damaged stage.
        let report = Command::new(env!("CARGO_BIN_EXE_slr"))
            .current_dir(root())
            .args(["report", spec.to_str().unwrap(), "--runs-root"])
            .arg(&runs)
            .args([
                "--set",
                &format!("runtime.reports_root={:?}", reports.display().to_string()),
            ])
            .output()
            .unwrap();
        assert!(report.status.success(), "{}", stderr(&report));
        assert!(
            stderr(&report).contains(file),
            "{file}: {}",
            stderr(&report)
        );
        assert!(table(&reports).contains("pending"), "{file}");
        // A rerun trains it again, warning with the file's name, and gets the same numbers.
        let rerun = reproduce(&spec, &runs, &reports).output().unwrap();
        assert!(rerun.status.success(), "{}", stderr(&rerun));
        let err = stderr(&rerun);
        assert!(
            err.contains("warning:") && err.contains(file),
            "{file}: {err}"
        );
        assert_eq!(epochs_trained(&err, "pretrain"), 2, "{file}: {err}");
        assert_eq!(table(&reports), reference, "{file}");
    }
}

#[test]
fn a_ratio_that_keeps_no_weight_of_a_layer_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // fc3 of LeNet-300-100 has 1,000 weights: 0.9999 keeps round(0.1) = 0 of them.
    let text = SMALL.replace(
        "sparsity = { uniform = 0.8 }",
        "sparsity.per_layer = { \"fc3.weight\" = 0.9999 }",
    );
    let spec = write(tmp.path(), "small.toml", &text);
    let out = Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .args(["plan", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out).replace(&tmp.path().display().to_string(), "<dir>");
    insta::assert_snapshot!("ratio_keeps_no_weight", err);
}

#[test]
fn status_names_the_process_that_runs_a_stage_and_reads_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "small.toml", SMALL);
    let runs = tmp.path().join("runs");
    let plan_of = || {
        let loaded = super::common::load_spec(&spec, None);
        let mut plan = slr_repro::spec::resolve(loaded, None);
        plan.spec.raw.runtime.runs_root = runs.clone();
        plan
    };
    let plan = plan_of();
    let text = slr_repro::run::status::status_text(&plan);
    assert!(text.contains("magnitude seed 1: pending\n"), "{text}");
    assert!(!runs.exists(), "status creates nothing");
    let first = slr_repro::run::store::stage_dir(&runs, &plan.runs[0], 0);
    let lock = slr_repro::run::store::StageLock::acquire(&first).unwrap();
    let text = slr_repro::run::status::status_text(&plan);
    assert!(
        text.contains(&format!(
            "magnitude seed 1: running pretrain (process {}",
            std::process::id()
        )),
        "{text}"
    );
    drop(lock);
    let text = slr_repro::run::status::status_text(&plan_of());
    assert!(text.contains("magnitude seed 1: pending\n"), "{text}");
    assert!(text.contains("0 of 1 runs done"), "{text}");
}

#[test]
fn a_lock_of_another_host_is_respected_while_its_heartbeat_is_fresh() {
    use slr_repro::run::store::StageLock;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pretrain-x").join("seed-1");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let lock = dir.with_extension("lock");
    // A node whose flock this one cannot see holds it, heartbeat just now.
    std::fs::write(&lock, "pid 4242\nhost another-node\n").unwrap();
    let err = StageLock::acquire(&dir).unwrap_err().to_string();
    assert!(
        err.contains("is being run by process 4242 on another-node"),
        "{err}"
    );
    // `slr status` sees it too (no local flock shows it).
    let holder = slr_repro::run::store::holder(&dir).expect("a holder on another host");
    assert_eq!(holder.host.as_deref(), Some("another-node"));
    // Its clock runs five minutes ahead of ours: still fresh.
    let set_heartbeat = |at: std::time::SystemTime| {
        std::fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(at)
            .unwrap()
    };
    let now = std::time::SystemTime::now();
    set_heartbeat(now + std::time::Duration::from_secs(300));
    let err = StageLock::acquire(&dir).unwrap_err().to_string();
    assert!(
        err.contains("is being run by process 4242 on another-node"),
        "{err}"
    );
    // A day ahead is no clock skew but a wrong clock: taken over (with a warning saying so).
    set_heartbeat(now + std::time::Duration::from_secs(86_400));
    drop(StageLock::acquire(&dir).unwrap());
    std::fs::write(&lock, "pid 4242\nhost another-node\n").unwrap();
    // Its last heartbeat an hour ago: nobody holds it, and it is taken over.
    set_heartbeat(std::time::SystemTime::now() - std::time::Duration::from_secs(3600));
    assert_eq!(slr_repro::run::store::holder(&dir), None);
    let taken = StageLock::acquire(&dir).unwrap();
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(
        text.starts_with(&format!("pid {}\n", std::process::id())),
        "{text}"
    );
    drop(taken);
    assert!(!lock.exists(), "released locks leave no file");
}

/// A stage computed by other code (its summary's code fingerprint differs from this build's)
/// is stale: `plan` and `status` say so, `reproduce` uses it with a warning and the report
/// marks the cells it feeds, and `reproduce --rerun-stale` trains exactly those stages again,
/// to the same numbers here (the code did not really change).
#[test]
fn stages_computed_by_other_code_are_stale_until_rerun() {
    use slr_repro::run::store;
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "small.toml", SMALL);
    let runs = tmp.path().join("runs");
    let reports = tmp.path().join("reports");
    let first = reproduce(&spec, &runs, &reports).output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let reference = table(&reports);
    assert!(!reference.contains("stale"), "{reference}");
    let slr = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_slr"))
            .current_dir(root())
            .args(args)
            .args([
                spec.to_str().unwrap(),
                "--runs-root",
                runs.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    // The retrain stage as an older build would have left it.
    let retrain = super::common::stage_seed_1(&runs, "retrain");
    let mut summary = store::read_summary(&retrain).unwrap().unwrap();
    summary.code = "0123456789ab".into();
    store::write_summary(&retrain, &summary).unwrap();

    let plan = String::from_utf8_lossy(&slr(&["plan"]).stdout).into_owned();
    assert_eq!(plan.matches("cached, stale").count(), 1, "{plan}");
    assert!(
        plan.contains("cached, stale (computed by other code"),
        "{plan}"
    );
    let status = String::from_utf8_lossy(&slr(&["status"]).stdout).into_owned();
    assert!(status.contains("magnitude seed 1: done, stale"), "{status}");
    assert!(status.contains("1 of 1 runs done"), "{status}");

    let used = reproduce(&spec, &runs, &reports).output().unwrap();
    assert!(used.status.success(), "{}", stderr(&used));
    assert!(
        stderr(&used).contains("1 cached stages were computed by other code (stale)"),
        "{}",
        stderr(&used)
    );
    assert_eq!(epochs_trained(&stderr(&used), "retrain"), 0);
    let marked = table(&reports);
    assert!(marked.contains("(1 seed), 1 stale"), "{marked}");

    let mut rerun = reproduce(&spec, &runs, &reports);
    let rerun = rerun.arg("--rerun-stale").output().unwrap();
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    assert!(
        stderr(&rerun).contains("computed by other code; training it again"),
        "{}",
        stderr(&rerun)
    );
    assert_eq!(epochs_trained(&stderr(&rerun), "retrain"), 1);
    assert_eq!(epochs_trained(&stderr(&rerun), "pretrain"), 0);
    assert_eq!(table(&reports), reference);
}
