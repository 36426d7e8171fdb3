//! `slr slurm` on a real one-node Slurm 22.05 (`scripts/slurm-local.sh run ...` starts one, with
//! finished jobs recorded by `jobcomp/filetxt`; `just test` runs these tests through it, one at
//! a time, when it can): each case ends with every unaffected stage done, the report written and
//! the results of a local run.

use super::common::{data_root, root, write};
use super::graph::{SPEC, plan_json};
use slr_repro::run::store;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where Slurm records how each job ended (`scripts/slurm-local.sh`).
const JOBCOMP: &str = "/var/log/slurm/jobcomp.log";

/// A spec file with its cluster and local runs and reports under one temporary folder.
struct Case {
    tmp: tempfile::TempDir,
    spec: PathBuf,
}

impl Case {
    fn new(spec: &str) -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let spec = write(tmp.path(), "graph.toml", spec);
        Case { tmp, spec }
    }

    fn runs(&self, which: &str) -> PathBuf {
        self.tmp.path().join(which).join("runs")
    }

    /// `slr <command> <spec> <args>` with `which`'s roots, one thread.
    fn slr(&self, command: &str, which: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_slr"))
            .current_dir(root())
            .args([command, self.spec.to_str().unwrap()])
            .args(args)
            .arg("--data-root")
            .arg(data_root())
            .arg("--runs-root")
            .arg(self.runs(which))
            .args([
                "--set",
                "runtime.threads=1",
                "--set",
                &format!(
                    "runtime.reports_root={:?}",
                    self.tmp
                        .path()
                        .join(which)
                        .join("reports")
                        .display()
                        .to_string()
                ),
            ])
            .output()
            .unwrap()
    }

    /// `slr slurm ... --submit`, which must succeed; its standard output.
    fn submit(&self, args: &[&str]) -> String {
        let mut all = vec!["--submit"];
        all.extend(args);
        let out = self.slr("slurm", "cluster", &all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The same spec run locally (`reproduce`), whatever its exit code.
    fn run_locally(&self, args: &[&str]) {
        let mut all = vec!["--no-fetch"];
        all.extend(args);
        self.slr("reproduce", "local", &all);
    }

    /// The table of a report, without its provenance footer.
    fn table(&self, which: &str) -> String {
        let path = self.tmp.path().join(which).join("reports/graph.md");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.split("\n---\n").next().unwrap().to_owned()
    }

    /// Cluster and local runs: the same stage folders with the same outcomes, the same table.
    fn assert_equals_local(&self) {
        assert_eq!(
            outcomes(&self.runs("cluster")),
            outcomes(&self.runs("local"))
        );
        assert_eq!(self.table("cluster"), self.table("local"));
    }

    /// The job ids every submission of the cluster runs recorded.
    fn job_ids(&self) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        let base = self.runs("cluster").join("slurm/graph");
        for sub in std::fs::read_dir(&base).unwrap() {
            let jobs = sub.unwrap().path().join("jobs.tsv");
            for line in std::fs::read_to_string(jobs).unwrap_or_default().lines() {
                ids.insert(line.split('\t').nth(1).unwrap().to_owned());
            }
        }
        ids
    }

    /// How Slurm saw this case's jobs end: `(job name, state, exit code)` of each finished job
    /// or array task, from the jobcomp log.
    fn endings(&self) -> Vec<(String, String, String)> {
        let ids = self.job_ids();
        let log = std::fs::read_to_string(JOBCOMP).unwrap_or_default();
        log.lines()
            .filter_map(|line| {
                let field = |key: &str| {
                    line.split(' ')
                        .find_map(|f| f.strip_prefix(&format!("{key}=")))
                        .unwrap_or_default()
                        .to_owned()
                };
                let array = field("ArrayJobId");
                let id = if array.is_empty() || array == "0" {
                    field("JobId")
                } else {
                    array
                };
                let state = field("JobState");
                (ids.contains(&id) && state != "PENDING")
                    .then(|| (field("Name"), state, field("ExitCode")))
            })
            .collect()
    }

    /// Slurm saw `jobs` jobs or tasks of the case end, each in `state` with `code`.
    fn assert_every_job_ended(&self, jobs: usize, state: &str, code: &str) {
        let endings = self.endings();
        assert_eq!(endings.len(), jobs, "{endings:?}");
        assert!(
            endings.iter().all(|(_, s, c)| s == state && c == code),
            "{endings:?}"
        );
    }
}

/// Every stage folder of a runs root with its outcome: the metrics and the model file's hash
/// of a done stage, the reason of a failed one.
fn outcomes(runs: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stage in std::fs::read_dir(runs).unwrap() {
        let stage = stage.unwrap().path();
        let name = stage.file_name().unwrap();
        if name == "slurm" || name == store::events::DIR || !stage.is_dir() {
            continue;
        }
        for seed in std::fs::read_dir(&stage).unwrap() {
            let dir = seed.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            let name = format!(
                "{}/{}",
                stage.file_name().unwrap().to_string_lossy(),
                dir.file_name().unwrap().to_string_lossy()
            );
            let outcome = match std::fs::read_to_string(dir.join("summary.json")) {
                Ok(text) => {
                    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
                    format!("{} {}", summary["metrics"], summary["files"]["model.bpk"])
                }
                Err(_) => std::fs::read_to_string(dir.join("failed.txt"))
                    .map(|f| format!("failed: {f}"))
                    .unwrap_or_else(|_| "unfinished".into()),
            };
            out.insert(name, outcome);
        }
    }
    out
}

/// Waits until Slurm has none of the case's jobs queued or running.
fn drain(case: &Case, limit_s: u64) {
    let started = std::time::Instant::now();
    loop {
        let ids = case.job_ids();
        let queue = Command::new("squeue")
            .args(["-h", "-o", "%F"])
            .output()
            .unwrap();
        let queued = String::from_utf8_lossy(&queue.stdout)
            .lines()
            .any(|l| ids.contains(l.trim()));
        if !queued {
            return;
        }
        assert!(
            started.elapsed().as_secs() < limit_s,
            "Slurm jobs still queued after {limit_s} s: {}",
            String::from_utf8_lossy(&queue.stdout)
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
#[ignore = "needs a running Slurm: just test runs it through scripts/slurm-local.sh"]
fn real_slurm_runs_the_arrays_to_the_local_results() {
    let case = Case::new(SPEC);
    case.submit(&[]);
    drain(&case, 600);
    case.run_locally(&[]);
    case.assert_equals_local();
    // Four levels of two tasks and the report.
    case.assert_every_job_ended(9, "COMPLETED", "0:0");
}

/// A row that diverges at level 1 fails only its own later stages (each refuses with exit 4);
/// every other row completes and the report is written.
#[test]
#[ignore = "needs a running Slurm: just test runs it through scripts/slurm-local.sh"]
fn real_slurm_keeps_a_failure_local() {
    let spec = format!(
        "{SPEC}\n[[rows]]\nname = \"boom\"\nmethod = \"admm\"\nsparsity = {{ uniform = 0.7 }}\ntrain = {{ epochs = 1, optimizer = {{ lr = 1e30 }} }}\n"
    );
    let case = Case::new(&spec);
    case.submit(&[]);
    drain(&case, 600);
    case.run_locally(&[]);
    case.assert_equals_local();
    let stages = plan_json(&case.spec, &case.runs("cluster"));
    for stage in stages["stages"].as_array().unwrap() {
        let boom = stage["rows"] == serde_json::json!(["boom"]);
        let done = stage["status"] == "cached";
        assert_eq!(done, !boom || stage["kind"] == "pretrain", "{stage}");
    }
    let endings = case.endings();
    let of = |name: &str| -> Vec<(String, String)> {
        endings
            .iter()
            .filter(|(n, _, _)| n.contains(name))
            .map(|(_, s, c)| (s.clone(), c.clone()))
            .collect()
    };
    let failed = |code: &str| vec![("FAILED".to_owned(), code.to_owned()); 2];
    assert_eq!(of("-train-boom-"), failed("1:0"), "{endings:?}");
    assert_eq!(of("-prune-boom-"), failed("4:0"), "{endings:?}");
    assert_eq!(of("-retrain-boom-"), failed("4:0"), "{endings:?}");
    assert_eq!(
        of("-report"),
        vec![("COMPLETED".to_owned(), "0:0".to_owned())],
        "{endings:?}"
    );
}

/// One dense stage of `epochs` epochs of all of MNIST (about 2 s each on one thread).
fn long_dense_spec(epochs: usize) -> String {
    SPEC.replace("seeds = [1, 2]", "seeds = [1]")
        .replace("train_limit = 256", "train_limit = 60000")
        .replace(
            "pretrain = { epochs = 1 }",
            &format!("pretrain = {{ epochs = {epochs} }}"),
        )
        .replace(
            "[[rows]]\nname = \"admm\"\nmethod = \"admm\"\nsparsity = { uniform = 0.5 }\n",
            "",
        )
}

/// A stage longer than its time limit: warned before the limit, the task checkpoints and
/// requeues itself, and the next attempt continues; the results are an uninterrupted run's.
#[test]
#[ignore = "needs a running Slurm: just test runs it through scripts/slurm-local.sh"]
fn real_slurm_requeues_a_task_at_its_time_limit() {
    // Longer than the first warning, which comes 15-30 s into the task.
    let case = Case::new(&long_dense_spec(30));
    // One minute, warned 45 s before it (Slurm's checks make that 15-30 s into the task).
    case.submit(&["--time", "1", "--warn-seconds", "45"]);
    // Each requeued attempt waits out Slurm's begin-time delay: about 600 s in all on an idle
    // 2-core machine, more when other work shares the cores (900 s was exceeded then).
    drain(&case, 1500);
    case.run_locally(&[]);
    case.assert_equals_local();
    let logs: Vec<String> = std::fs::read_dir(case.runs("cluster").join("slurm/graph/sub-1/logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("pretrain") && l.ends_with(".attempt-1.log")),
        "no second attempt: {logs:?}"
    );
    let first = logs
        .iter()
        .find(|l| l.contains("pretrain") && l.ends_with(".attempt-0.log"))
        .unwrap();
    let text = std::fs::read_to_string(
        case.runs("cluster")
            .join("slurm/graph/sub-1/logs")
            .join(first),
    )
    .unwrap();
    assert!(text.contains("requeueing"), "{text}");
}

/// The same stage with no warning: Slurm stops it at its limit (TIMEOUT), the task exits 130
/// with its checkpoint, the report still runs, and the next submission continues the stage to
/// an uninterrupted run's result.
#[test]
#[ignore = "needs a running Slurm: just test runs it through scripts/slurm-local.sh"]
fn real_slurm_a_timed_out_stage_continues_in_the_next_submission() {
    // Longer than the limit plus Slurm's 30-s check interval.
    let case = Case::new(&long_dense_spec(60));
    case.submit(&["--time", "1", "--warn-seconds", "0"]);
    drain(&case, 600);
    let endings = case.endings();
    assert!(
        endings
            .iter()
            .any(|(n, state, _)| n.contains("-pretrain-") && state == "TIMEOUT"),
        "{endings:?}"
    );
    assert!(
        endings
            .iter()
            .any(|(n, state, _)| n.ends_with("-report") && state == "COMPLETED"),
        "{endings:?}"
    );
    let stages = plan_json(&case.spec, &case.runs("cluster"));
    assert_eq!(stages["stages"][0]["status"], "pending", "{stages}");
    let again = case.submit(&[]);
    assert!(
        again.contains("1 of 1 stages pending: 1 in this submission"),
        "{again}"
    );
    drain(&case, 600);
    case.run_locally(&[]);
    case.assert_equals_local();
}

/// A second submission into the same runs folder while the first is queued: the stages the
/// first holds are left to it, the rest submitted, and both complete.
#[test]
#[ignore = "needs a running Slurm: just test runs it through scripts/slurm-local.sh"]
fn real_slurm_overlapping_submissions_both_complete() {
    let case = Case::new(SPEC);
    case.submit(&["--seeds", "1"]);
    let second = case.submit(&["--seeds", "1,2"]);
    assert!(
        !second.contains(" 0 left to jobs of earlier submissions"),
        "{second}"
    );
    // The second submission runs seed 2's stages only.
    let map =
        std::fs::read_to_string(case.runs("cluster").join("slurm/graph/sub-2/stages.tsv")).unwrap();
    assert_eq!(map.lines().count(), 5, "{map}");
    assert!(
        map.lines().skip(1).all(|l| l.contains("/seed-2\t")),
        "{map}"
    );
    drain(&case, 600);
    case.run_locally(&["--seeds", "1,2"]);
    case.slr("report", "cluster", &["--seeds", "1,2"]);
    case.assert_equals_local();
    let endings = case.endings();
    assert!(
        endings.iter().all(|(_, state, _)| state == "COMPLETED"),
        "{endings:?}"
    );
}

/// Jobs on a node that does not see the runs folder refuse with exit 3 before writing anything;
/// once it is visible, the same command completes the table.
#[test]
#[ignore = "needs a running Slurm: just test runs it through scripts/slurm-local.sh"]
fn real_slurm_refuses_on_a_node_without_the_runs_folder() {
    let case = Case::new(SPEC);
    let written = case.slr("slurm", "cluster", &[]);
    assert!(written.status.success());
    let sub = case.runs("cluster").join("slurm/graph/sub-1");
    // What a node without the shared folder sees.
    std::fs::remove_file(sub.join("shared-folder.probe")).unwrap();
    let status = Command::new("bash")
        .arg(sub.join("submit.sh"))
        .status()
        .unwrap();
    assert!(status.success());
    drain(&case, 300);
    case.assert_every_job_ended(9, "FAILED", "3:0");
    assert!(!sub.join("logs").exists());
    assert!(outcomes(&case.runs("cluster")).is_empty());
    case.submit(&[]);
    drain(&case, 600);
    case.run_locally(&[]);
    case.assert_equals_local();
}
