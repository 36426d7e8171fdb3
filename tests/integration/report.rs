//! The table renderer on hand-built result frames: pending, not-run, failed, single-seed and
//! published-delta cells; the footer's dates.

use super::common::write;
use polars::df;
use polars::prelude::DataFrame;
use slr_repro::report::{footer, frame, table};
use slr_repro::spec;
use std::process::Command;

const SPEC: &str = r#"
[table]
id = "hand"
title = "Hand-built frame"

[report]
columns = ["method", "seeds", "target.compression", "acc.dense", "acc.hardprune", "acc.retrain@1", "acc.retrain@3"]

[defaults]
model = "lenet5"
dataset = "mnist"
seeds = [1, 2, 3]
pretrain = { epochs = 1 }
retrain = { epochs = 2 }

[[rows]]
name = "dense"

[[rows]]
name = "admm"
method = "admm"
sparsity = { uniform = 0.9 }

[[rows]]
name = "slr"
method = "slr"
seeds = [1]
sparsity = { uniform = 0.9 }

[[rows]]
name = "mag"
method = "magnitude"
seeds = [1]
sparsity = { uniform = 0.9 }

[[rows]]
name = "boom"
method = "slr"
seeds = [1, 2]
sparsity = { uniform = 0.9 }

[[published]]
label = "ADMM, invented for the test"
metric = "acc.hardprune"
value = 97.0
row = "admm"
citation = "Test fixture, not a paper"
"#;

/// One results row per run, as `report::collect` builds them.
fn frame() -> DataFrame {
    let method = [
        "dense",
        "dense",
        "dense",
        "admm",
        "admm",
        "admm",
        "slr",
        "magnitude",
        "slr",
        "slr",
    ];
    df![
        "row" => ["dense", "dense", "dense", "admm", "admm", "admm", "slr", "mag", "boom", "boom"],
        "row_index" => [0u32, 0, 0, 1, 1, 1, 2, 3, 4, 4],
        "group" => ["main"; 10],
        "model" => ["lenet5"; 10],
        "dataset" => ["mnist"; 10],
        "method" => method,
        "method_label" => method,
        "seed" => [1u64, 2, 3, 1, 2, 3, 1, 1, 1, 2],
        "seeds_planned" => [3u32, 3, 3, 3, 3, 3, 1, 1, 2, 2],
        "status" => ["done", "done", "done", "done", "done", "pending", "done", "not-run", "diverged", "failed"],
        "reason" => ["", "", "", "", "", "", "", "data set `mnist` not in /nowhere (slr data fetch mnist)", "train: diverged at epoch 1 step 3 (loss NaN)", "sparsity check failed"],
        "target.compression" => [None, None, None, Some(10.0), Some(10.0), Some(10.0), Some(10.0), Some(10.0), Some(10.0), Some(10.0)],
        "retrain.epochs" => [None, None, None, Some(2u32), Some(2), Some(2), Some(2), Some(2), Some(2), Some(2)],
        "version" => ["0.1.0"; 10],
        "commit" => ["abc", "abc", "abc", "abc", "abc", "abc", "def", "", "abc", "abc"],
        "backend" => ["cpu"; 10],
        "finished_unix" => [Some(951782400u64), Some(951782400), Some(951782400), Some(951782400), Some(951782400), Some(951782400), Some(1795824000), None, Some(951782400), Some(951782400)],
        "acc.dense" => [Some(98.0), Some(98.2), Some(98.4), Some(98.0), Some(98.2), Some(98.4), Some(98.0), None, Some(98.0), Some(98.2)],
        "acc.hardprune" => [None, None, None, Some(96.0), Some(96.5), None, Some(95.1), None, None, None],
        "acc.retrain@1" => [None, None, None, Some(97.0), Some(97.5), None, Some(96.0), None, None, None],
    ]
    .unwrap()
}

fn loaded(dir: &std::path::Path) -> spec::Loaded {
    super::common::load_spec(&write(dir, "hand.toml", SPEC), None)
}

#[test]
fn renderer_cells_on_a_hand_built_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = loaded(tmp.path());
    let results = frame();
    let text = table::render(&spec, &results, "FOOTER").unwrap();
    let line = |row: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("| {row} |")))
            .unwrap_or_else(|| panic!("no line for {row} in\n{text}"))
            .to_owned()
    };
    // Mean ± sample std (n - 1): 98.0, 98.2, 98.4 -> 98.20 ± 0.20.
    assert!(line("dense").contains("| 98.20 ± 0.20 (n=3) |"), "{text}");
    // Two of three seeds: 96.0, 96.5 -> 96.25 ± 0.35, the third pending; published 97.0
    // with its footnote and our mean minus it.
    assert!(
        line("admm").contains("| 96.25 ± 0.35 (n=2), 1 pending; published 97[^p1] (Δ -0.75) |"),
        "{text}"
    );
    // The retrain budget is 2 epochs: the 3-epoch column says so.
    assert!(line("admm").contains("| – (budget 2) |"), "{text}");
    assert!(line("slr").contains("| 95.10 (1 seed) |"), "{text}");
    assert!(line("slr").contains("| 1/1 |"), "{text}");
    assert!(
        line("mag")
            .contains("| not run: data set `mnist` not in /nowhere (slr data fetch mnist) | – |"),
        "{text}"
    );
    // Worst status first in the cells the divergence affects; the dense accuracy it reached
    // before diverging is a measurement like any other (98.0 and 98.2 -> 98.10 ± 0.14).
    assert!(
        line("boom")
            .contains("| diverged (1 of 2): train: diverged at epoch 1 step 3 (loss NaN) |"),
        "{text}"
    );
    assert!(line("boom").contains("| 98.10 ± 0.14 (n=2) |"), "{text}");
    assert!(text.contains("[^p1]: Test fixture, not a paper"), "{text}");
    assert!(text.contains("[^hardprune]: `acc.hardprune`:"), "{text}");
    insta::assert_snapshot!("hand_built_table", text);
}

#[test]
fn footer_names_producers_and_the_last_date() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = loaded(tmp.path());
    let text = footer::render(&spec, &frame(), "xyz").unwrap();
    assert!(
        text.starts_with(
            "Provenance: measured 8 runs by slr 0.1.0 at commit `abc` on cpu, 1 of them in part \
             (still pending); \
             1 run by slr 0.1.0 at commit `def` on cpu; last run finished 2026-11-28 (UTC). \
             Spec `hand` ("
        ),
        "{text}"
    );
    assert!(text.ends_with("profile `(none)`; rendered by slr 0.1.0 at commit `xyz`."));
}

/// A profile's table leaves out the rows it does not select and names them in one line under
/// it; a published cell of such a row says so.
#[test]
fn rows_a_profile_does_not_select_are_named_under_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let text =
        SPEC.replace(
            "[[rows]]\nname = \"slr\"",
            "[[rows]]\nname = \"slr\"\ngroup = \"extra\"",
        )
        .replace(
            "[[rows]]\nname = \"admm\"",
            "[[rows]]\nname = \"admm\"\ngroup = \"extra\"",
        ) + "\n[profile.lean]\ngroups = [\"main\"]\n";
    let spec = super::common::load_spec(&write(tmp.path(), "hand.toml", &text), Some("lean"));
    let table = table::render(&spec, &frame(), "FOOTER").unwrap();
    let rows: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.split(" |").next())
        .collect();
    assert_eq!(
        rows[..5],
        ["Row", "dense", "mag", "boom", "What"],
        "{table}"
    );
    assert!(
        table.contains("| dense |") && table.contains("| mag |"),
        "{table}"
    );
    assert!(
        table.contains("\nNot in profile `lean` (group `extra` not selected): `admm`, `slr`.\n"),
        "{table}"
    );
    assert!(
        table.contains("| not in this profile (`admm`) | – |"),
        "{table}"
    );
}

/// A figure is drawn over the rows its profile runs; one whose rows the profile leaves out is
/// not drawn at all (no empty frame saying its runs are pending).
#[test]
fn figures_of_rows_a_profile_does_not_select_are_left_out() {
    use slr_repro::report::figure;
    let tmp = tempfile::tempdir().unwrap();
    let text = SPEC.replace(
        "[[rows]]\nname = \"mag\"",
        "[[rows]]\nname = \"mag\"\ngroup = \"extra\"",
    ) + "\n[[figure]]\nid = \"all\"\nkind = \"tradeoff\"\nmetric = \"acc.hardprune\"\n\
         \n[[figure]]\nid = \"extra-only\"\nkind = \"tradeoff\"\nmetric = \"acc.hardprune\"\nrows = [\"mag\"]\n\
         \n[profile.lean]\ngroups = [\"main\"]\n";
    let path = write(tmp.path(), "hand.toml", &text);
    let epochs = df!["row" => [""; 0], "seed" => [0u64; 0], "stage" => [""; 0], "metric" => [""; 0], "epoch" => [0u64; 0], "value" => [0f64; 0]].unwrap();
    let drawn = |profile| {
        let spec = super::common::load_spec(&path, profile);
        figure::build(&spec, &frame(), &epochs)
            .unwrap()
            .into_iter()
            .map(|f| {
                let labels: Vec<String> = f.series.iter().map(|s| s.label.clone()).collect();
                format!("{}: {}", f.spec.id, labels.join(", "))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        drawn(None),
        ["all: dense, admm, slr, magnitude", "extra-only: magnitude"]
    );
    assert_eq!(drawn(Some("lean")), ["all: dense, admm, slr"]);
}

/// Runs or a rendering from a tree with uncommitted changes are said to be so in words.
#[test]
fn the_footer_says_when_code_had_uncommitted_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = loaded(tmp.path());
    let mut results = frame();
    let dirty = vec!["abc-dirty"; results.height()];
    results
        .with_column(polars::prelude::Column::new("commit".into(), dirty))
        .unwrap();
    let text = footer::render(&spec, &results, "xyz-dirty").unwrap();
    assert!(
        text.contains(
            "9 runs by slr 0.1.0 at commit `abc-dirty` (with uncommitted changes: that commit \
             alone may not give these numbers) on cpu, 1 of them in part (still pending)"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("at commit `xyz-dirty`, from a tree with uncommitted changes."),
        "{text}"
    );
}

#[test]
fn utc_dates() {
    assert_eq!(footer::utc_date(0), "1970-01-01");
    assert_eq!(footer::utc_date(951_782_400), "2000-02-29");
    assert_eq!(footer::utc_date(1_795_824_000), "2026-11-28");
    assert_eq!(footer::utc_date(1_798_675_199), "2026-12-30");
}

/// Committed reports whose runs are still those of uncommitted code, each with why: a report
/// leaves this list when it is rendered again from runs of committed code, and the test below
/// fails if one listed here no longer needs to be (so the list only shrinks).
const NOT_YET_RERUN: [(&str, &str); 1] = [(
    "lenet5-mnist.published",
    "runs at the clean commits 7e2b2ac and b7fa0f0 (tch-cpu), from before stages recorded \
         their code fingerprint; a rerun takes about 3 h on two cores",
)];

/// Every run behind a committed report was computed by committed code (a clean commit, no
/// `-dirty`, for each of its stages) and records its code fingerprint, one per model: the
/// report's numbers can be regenerated by checking out that commit.
#[test]
fn committed_reports_come_from_committed_code() {
    use polars::prelude::{CsvReadOptions, SerReader};
    let root = super::common::root();
    let mut checked = 0;
    let mut dirty_reports = Vec::new();
    // The committed ones: other profiles' reports are local (git-ignored).
    let listed = Command::new("git")
        .current_dir(&root)
        .args(["ls-files", "reports/*/results.csv"])
        .output()
        .unwrap();
    assert!(listed.status.success());
    for csv in String::from_utf8_lossy(&listed.stdout).lines() {
        let csv = root.join(csv);
        let dir = csv.parent().unwrap().to_owned();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // Every column as text: a commit of digits only is not a number.
        let results = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(csv.clone()))
            .unwrap()
            .finish()
            .unwrap();
        let column = |key: &str| {
            frame::strings(&results, key).unwrap_or_else(|_| vec![String::new(); results.height()])
        };
        let (commits, codes, models) = (column("commit"), column("code"), column("model"));
        let mut problems = std::collections::BTreeSet::new();
        let mut code_of_model = std::collections::BTreeMap::new();
        for ((commit, code), model) in commits.iter().zip(&codes).zip(&models) {
            // A run with no finished stage has no commit.
            if commit.is_empty() {
                continue;
            }
            for one in commit.split('+') {
                let clean = one.len() == 12 && one.chars().all(|c| c.is_ascii_hexdigit());
                if !clean {
                    problems.insert(format!("commit `{one}`"));
                }
            }
            if code.is_empty() || code.contains('+') {
                problems.insert(format!("code fingerprint `{code}`"));
            } else if code_of_model.entry(model).or_insert(code) != &code {
                problems.insert(format!("two code fingerprints for `{model}`"));
            }
        }
        let listed = NOT_YET_RERUN.iter().any(|(n, _)| *n == name);
        if listed {
            assert!(
                !problems.is_empty(),
                "{name} is clean now: take it off NOT_YET_RERUN"
            );
        } else if !problems.is_empty() {
            let problems: Vec<_> = problems.into_iter().collect();
            dirty_reports.push(format!("{name}: {}", problems.join(", ")));
        }
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} committed reports found");
    assert!(
        dirty_reports.is_empty(),
        "reports from uncommitted or unrecorded code (render them again from runs of a clean \
         checkout): {dirty_reports:#?}"
    );
}
