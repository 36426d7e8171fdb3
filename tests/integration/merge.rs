//! `slr report --from-results A --from-results B`: a profile measured in parts (other machines,
//! later sessions) merged into one report, and the figures a results frame alone can draw.

use super::common::{load_spec, root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The fields of one CSV line (quoted fields may hold commas; none of ours holds a newline or
/// an escaped quote).
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut field, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                field.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

/// `line` as the record of a run not finished yet: status `pending` and no metrics (the
/// columns after `finished_unix`), as a runs folder that has not trained it reports it.
fn pending(header: &[String], line: &str) -> String {
    let status = header.iter().position(|h| h == "status").unwrap();
    let last = header.iter().position(|h| h == "finished_unix").unwrap();
    let mut f = fields(line);
    f[status] = "pending".into();
    for value in f.iter_mut().skip(last + 1) {
        value.clear();
    }
    f.join(",")
}

fn write_frame(dir: &Path, name: &str, header: &str, lines: &[String]) -> PathBuf {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    let path = dir.join(name).join("results.csv");
    let mut text = format!("{header}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// `slr report <spec> --profile <profile> --from-results F...` into the reports folder
/// `reports`.
fn report_merging(spec: &str, profile: &str, frames: &[&Path], reports: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slr"));
    cmd.args(["report", spec, "--profile", profile]);
    for frame in frames {
        cmd.arg("--from-results").arg(frame);
    }
    cmd.arg("--set")
        .arg(format!("runtime.reports_root={}", reports.display()));
    cmd.current_dir(root()).output().unwrap()
}

/// The committed Fashion-MNIST converged frame cut in two, each part also holding the other's
/// runs as pending (in the wrong order, too): merged, the two give the committed frame byte for
/// byte, its table and its claims.
#[test]
fn two_parts_of_a_committed_frame_merge_into_it() {
    let stem = "lenet5-fashion.converged";
    let committed =
        std::fs::read_to_string(root().join(format!("reports/{stem}/results.csv"))).unwrap();
    let mut lines: Vec<String> = committed.lines().map(str::to_owned).collect();
    let header = lines.remove(0);
    let names = fields(&header);
    let (first, second): (Vec<_>, Vec<_>) = lines.iter().enumerate().partition(|(i, _)| i % 3 == 0);
    let part = |mine: &[(usize, &String)], theirs: &[(usize, &String)]| -> Vec<String> {
        let mut out: Vec<String> = theirs.iter().map(|(_, l)| pending(&names, l)).collect();
        out.extend(mine.iter().map(|(_, l)| (*l).clone()));
        out
    };
    let tmp = tempfile::tempdir().unwrap();
    let a = write_frame(tmp.path(), "a", &header, &part(&first, &second));
    let b = write_frame(tmp.path(), "b", &header, &part(&second, &first));
    let reports = tmp.path().join("reports");
    let out = report_merging("lenet5-fashion", "converged", &[&a, &b], &reports);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = std::fs::read_to_string(reports.join(format!("{stem}/results.csv"))).unwrap();
    assert_eq!(merged, committed, "merged results.csv");
    let body = |text: &str| text.split("\n---\n").next().unwrap().to_owned();
    let table = std::fs::read_to_string(reports.join(format!("{stem}.md"))).unwrap();
    let expected = std::fs::read_to_string(root().join(format!("reports/{stem}.md"))).unwrap();
    assert_eq!(body(&table), body(&expected));
    for figure in ["claims.csv", "claims-vs-budget.csv"] {
        assert_eq!(
            std::fs::read_to_string(reports.join(stem).join(figure)).unwrap(),
            std::fs::read_to_string(root().join(format!("reports/{stem}/{figure}"))).unwrap(),
            "{figure}"
        );
    }
}

/// Two finished records of one run that disagree: exit 2, naming both files, the run and the
/// metric, and nothing written.
#[test]
fn finished_records_that_disagree_are_refused() {
    let committed =
        std::fs::read_to_string(root().join("reports/lenet5-mnist/results.csv")).unwrap();
    let mut lines: Vec<String> = committed.lines().map(str::to_owned).collect();
    let header = lines.remove(0);
    let names = fields(&header);
    let hardprune = names.iter().position(|h| h == "acc.hardprune").unwrap();
    let row = names.iter().position(|h| h == "row").unwrap();
    let at = lines
        .iter()
        .position(|l| !fields(l)[hardprune].is_empty())
        .unwrap();
    let mut changed = lines.clone();
    let mut f = fields(&changed[at]);
    let (name, was) = (f[row].clone(), f[hardprune].clone());
    f[hardprune] = "12.5".into();
    changed[at] = f.join(",");
    let tmp = tempfile::tempdir().unwrap();
    let a = write_frame(tmp.path(), "a", &header, &lines);
    let b = write_frame(tmp.path(), "b", &header, &changed);
    let reports = tmp.path().join("reports");
    let out = report_merging("lenet5-mnist", "paper", &[&a, &b], &reports);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for part in [
        a.display().to_string(),
        b.display().to_string(),
        format!("row `{name}` seed"),
        format!("disagree on `acc.hardprune` ({was} against 12.5)"),
    ] {
        assert!(err.contains(&part), "{part}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!reports.exists(), "nothing written");
}

/// Every committed figure that the results hold the data of (trade-offs, hard-prune accuracy
/// per epoch) is what the results frame alone draws, point for point, so a merged report's
/// figures are the ones its runs would give.
#[test]
fn the_figures_of_the_results_are_the_committed_ones() {
    let root = root();
    let mut checked = Vec::new();
    for stem in [
        "lenet5-mnist",
        "lenet5-fashion",
        "lenet5-mnist.converged",
        "lenet5-fashion.converged",
    ] {
        let (spec, profile) = stem.split_once('.').unwrap_or((stem, "paper"));
        let spec = load_spec(
            &root.join(format!("experiments/{spec}.toml")),
            Some(profile),
        );
        let csv = root.join(format!("reports/{stem}/results.csv"));
        let results = slr_repro::report::read_results(&spec, &csv).unwrap();
        for figure in slr_repro::report::figure::build_from_results(&spec, &results).unwrap() {
            let id = &figure.spec.id;
            let committed =
                std::fs::read_to_string(root.join(format!("reports/{stem}/{id}.csv"))).unwrap();
            assert_eq!(figure.csv(), committed, "reports/{stem}/{id}.csv");
            checked.push(format!("{stem}/{id}"));
        }
    }
    for expected in [
        "lenet5-fashion/hardprune-vs-epoch",
        "lenet5-fashion/tradeoff-retrain1",
        "lenet5-fashion.converged/hardprune-vs-epoch-80",
        "lenet5-mnist.converged/hardprune-vs-epoch",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected}: {checked:?}"
        );
    }
    assert!(
        !checked
            .iter()
            .any(|c| c.ends_with("w-minus-z") || c.ends_with("retrain-curve")),
        "{checked:?}"
    );
}
