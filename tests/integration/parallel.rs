//! `reproduce --jobs N`: worker processes over the stage graph, bit-identical to one process;
//! a failed stage fails only its dependants; bad options exit 2.

use super::common::write;
use super::resume::{SPEC, fingerprint};
use std::path::Path;
use std::process::Output;

fn reproduce(spec: &Path, runs: &Path, extra: &[&str]) -> Output {
    super::common::reproduce_command(spec, runs, &runs.join("reports"))
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn two_workers_give_the_results_of_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "resume.toml", SPEC);
    let (serial, parallel) = (tmp.path().join("serial"), tmp.path().join("parallel"));
    let one = reproduce(&spec, &serial, &[]);
    assert!(one.status.success(), "{}", stderr(&one));
    let two = reproduce(&spec, &parallel, &["--jobs", "2"]);
    let err = stderr(&two);
    assert!(two.status.success(), "{err}");
    // The shared pretrain ran once, before both dependants; both workers were used.
    assert!(
        err.contains("7 stages trained, 0 cached, 0 failed"),
        "{err}"
    );
    assert_eq!(err.matches("pretrain seed 1 epoch 2/2").count(), 1, "{err}");
    assert!(err.contains("[2] "), "{err}");
    assert_eq!(fingerprint(&parallel), fingerprint(&serial));
    let read = |dir: &Path| std::fs::read_to_string(dir.join("reports/resume.md")).unwrap();
    let table = |text: String| text.split("\n---\n").next().unwrap().to_owned();
    assert_eq!(table(read(&parallel)), table(read(&serial)));
    // A rerun finds everything done.
    let again = reproduce(&spec, &parallel, &["--jobs", "2"]);
    assert!(
        stderr(&again).contains("0 stages trained, 7 cached"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn a_failed_stage_fails_only_its_dependants() {
    let tmp = tempfile::tempdir().unwrap();
    let text = SPEC.replace(
        "[[rows]]\nname = \"slr\"",
        "[[rows]]\nname = \"boom\"\nmethod = \"magnitude\"\npretrain = { epochs = 1, optimizer = { lr = 1e30 } }\nsparsity = { uniform = 0.5 }\n\n[[rows]]\nname = \"slr\"",
    );
    let spec = write(tmp.path(), "resume.toml", &text);
    let runs = tmp.path().join("runs");
    let out = reproduce(&spec, &runs, &["--jobs", "2"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // boom's own pretrain diverges; its prune and retrain never start.
    assert!(err.contains("3 stages failed: pretrain-"), "{err}");
    assert_eq!(err.matches(", which failed)").count(), 2, "{err}");
    // The other rows' 7 stages all finished.
    assert!(err.contains("7 stages trained"), "{err}");
    // The overall line counts the failed stage and its two dependants as failed.
    let last = err.lines().rfind(|l| l.starts_with("stages: ")).unwrap();
    assert!(
        last.starts_with("stages: 7 done (0 cached), 0 running, 0 pending, 3 failed of 10; "),
        "{err}"
    );
    // `plan --json` says which stage diverged (and why); its dependants stay pending.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(super::common::root())
        .args(["plan", spec.to_str().unwrap(), "--json", "--runs-root"])
        .arg(&runs)
        .output()
        .unwrap();
    let graph: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<(String, String)> = graph["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["rows"].as_array().unwrap().iter().any(|r| r == "boom"))
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let owned = |v: [(&str, &str); 3]| v.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec();
    assert_eq!(
        statuses,
        owned([
            ("pretrain", "diverged"),
            ("prune", "pending"),
            ("retrain", "pending")
        ])
    );
    let diverged = graph["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "diverged")
        .unwrap();
    assert!(
        diverged["reason"].as_str().unwrap().contains("diverged"),
        "{diverged}"
    );
}

#[test]
fn bad_parallel_options_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write(tmp.path(), "resume.toml", SPEC);
    let runs = tmp.path().join("runs");
    for (args, message) in [
        (vec!["--jobs", "0"], "--jobs 0: give at least 1"),
        (
            vec!["--jobs", "2", "--devices", "gpu:0"],
            "unknown device `gpu:0`",
        ),
        (
            vec!["--jobs", "2", "--devices", "cuda:0"],
            "is not compiled into this binary",
        ),
    ] {
        let out = reproduce(&spec, &runs, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    assert!(!runs.exists(), "nothing ran");
}
