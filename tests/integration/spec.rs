//! Spec layering, validation messages (snapshotted) and content-addressed ids.

use super::common::{load_spec, root, write};
use slr_repro::spec::{self, LoadOptions, StageKind};

const BASE: &str = r#"
[table]
id = "t"
title = "T"

[defaults]
model = "lenet5"
dataset = "mnist"
seeds = [1, 2]

[defaults.pretrain]
epochs = 4
optimizer = { lr = 0.01, momentum = 0.9 }

[[rows]]
name = "dense"

[[rows]]
name = "mag"
method = "magnitude"
sparsity = { uniform = 0.5 }

[profile.smoke.defaults]
seeds = [7]
pretrain = { epochs = 1 }
"#;

fn load(text: &str, profile: Option<&str>, sets: &[&str]) -> slr_repro::Result<spec::Loaded> {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "spec.toml", text);
    spec::load(
        &path,
        &LoadOptions {
            profile: profile.map(str::to_owned),
            sets: sets.iter().map(|s| s.to_string()).collect(),
            read_env: false,
        },
    )
}

/// The error text with the temporary path replaced.
fn error(text: &str, profile: Option<&str>, sets: &[&str]) -> String {
    let err = load(text, profile, sets).expect_err("expected an error");
    assert_eq!(err.exit_code(), 2, "bad input exits with 2: {err}");
    let message = err.to_string();
    let (_, rest) = message
        .split_once("spec.toml")
        .expect("message names the file");
    format!("<dir>/spec.toml{rest}")
}

#[test]
fn layers_apply_in_order() {
    let base = load(BASE, None, &[]).unwrap();
    assert_eq!(base.rows[0].seeds, vec![1, 2]);
    assert_eq!(base.rows[0].pretrain.epochs, 4);
    // The profile overlay merges into nested tables: epochs change, the optimizer stays.
    let smoke = load(BASE, Some("smoke"), &[]).unwrap();
    assert_eq!(smoke.rows[1].seeds, vec![7]);
    assert_eq!(smoke.rows[1].pretrain.epochs, 1);
    assert_eq!(smoke.rows[1].pretrain.optimizer.momentum, 0.9);
    // --set wins over the profile.
    let set = load(
        BASE,
        Some("smoke"),
        &["defaults.pretrain.epochs=3", "runtime.runs_root=elsewhere"],
    )
    .unwrap();
    assert_eq!(set.rows[0].pretrain.epochs, 3);
    assert_eq!(
        set.raw.runtime.runs_root,
        std::path::PathBuf::from("elsewhere")
    );
    // A row's own key wins over [defaults].
    let own = BASE.replace("name = \"dense\"", "name = \"dense\"\nseeds = [9]");
    assert_eq!(
        load(&own, Some("smoke"), &[]).unwrap().rows[0].seeds,
        vec![9]
    );
}

#[test]
fn validation_messages() {
    let cases: Vec<(&str, String, Option<&str>, Vec<&str>)> = vec![
        (
            "unknown_top_key",
            BASE.replace("[table]", "colour = 1\n[table]"),
            None,
            vec![],
        ),
        (
            "unknown_row_key",
            BASE.replace("name = \"mag\"", "name = \"mag\"\nratio = 0.5"),
            None,
            vec![],
        ),
        (
            "wrong_type",
            BASE.replace("epochs = 4", "epochs = \"four\""),
            None,
            vec![],
        ),
        (
            "ratio_one",
            BASE.replace("uniform = 0.5", "uniform = 1.0"),
            None,
            vec![],
        ),
        (
            "ratio_negative",
            BASE.replace("uniform = 0.5", "uniform = -0.1"),
            None,
            vec![],
        ),
        (
            "unknown_model",
            BASE.replace("model = \"lenet5\"", "model = \"resnet-1000\""),
            None,
            vec![],
        ),
        (
            "empty_row_name",
            BASE.replace("name = \"dense\"", "name = \"\""),
            None,
            vec![],
        ),
        (
            "empty_layers_list",
            BASE.replace("uniform = 0.5", "uniform = 0.5, layers = []"),
            None,
            vec![],
        ),
        (
            "unknown_init",
            BASE.replace("model = \"lenet5\"", "model = \"lenet5\"\ninit = \"keras\""),
            None,
            vec![],
        ),
        (
            "init_naming_layers_the_model_lacks",
            BASE.replace("model = \"lenet5\"", "model = \"lenet5\"\ninit = \"ufld\""),
            None,
            vec![],
        ),
        (
            "init_with_import",
            BASE.replace(
                "model = \"lenet5\"",
                "model = \"lenet5\"\ninit = \"pytorch\"\nimport = \"dense.pt\"",
            ),
            None,
            vec![],
        ),
        (
            "unknown_dataset",
            BASE.replace("dataset = \"mnist\"", "dataset = \"imagenet-22k\""),
            None,
            vec![],
        ),
        (
            "unknown_layer",
            BASE.replace("uniform = 0.5", "per_layer = { \"fc9.weight\" = 0.5 }"),
            None,
            vec![],
        ),
        (
            "pattern_matches_nothing",
            BASE.replace("uniform = 0.5", "uniform = 0.5, layers = [\"layer4.*\"]"),
            None,
            vec![],
        ),
        ("unknown_profile", BASE.to_owned(), Some("huge"), vec![]),
        (
            "duplicate_row",
            BASE.replace("name = \"mag\"", "name = \"dense\""),
            None,
            vec![],
        ),
        (
            "dense_with_sparsity",
            BASE.replace("method = \"magnitude\"", "method = \"dense\""),
            None,
            vec![],
        ),
        (
            "magnitude_without_sparsity",
            BASE.replace("sparsity = { uniform = 0.5 }", ""),
            None,
            vec![],
        ),
        (
            "unknown_method",
            BASE.replace("\"magnitude\"", "\"lottery\""),
            None,
            vec![],
        ),
        (
            "toml_syntax",
            BASE.replace("[table]", "[table"),
            None,
            vec![],
        ),
        (
            "set_bad_value",
            BASE.to_owned(),
            None,
            vec!["defaults.batch_size=-3"],
        ),
        (
            "zero_epochs",
            BASE.replace("epochs = 4", "epochs = 0"),
            None,
            vec![],
        ),
        (
            "missing_table",
            BASE.replace("[table]\nid = \"t\"\ntitle = \"T\"\n", ""),
            None,
            vec![],
        ),
        (
            "admm_negative_rho",
            BASE.replace(
                "method = \"magnitude\"",
                "method = \"admm\"\nadmm = { rho = -1.0 }",
            ),
            None,
            vec![],
        ),
        (
            "slr_bad_r",
            BASE.replace(
                "method = \"magnitude\"",
                "method = \"slr\"\nslr = { r = 1.5 }",
            ),
            None,
            vec![],
        ),
        (
            "slr_unknown_variant",
            BASE.replace(
                "method = \"magnitude\"",
                "method = \"slr\"\nslr = { variant = \"fast\" }",
            ),
            None,
            vec![],
        ),
        (
            "slr_zero_train_epochs",
            BASE.replace(
                "method = \"magnitude\"",
                "method = \"slr\"\ntrain = { epochs = 0 }",
            ),
            None,
            vec![],
        ),
        (
            "unknown_group",
            BASE.replace("[table]", "groups = [\"sweep\"]\n[table]"),
            None,
            vec![],
        ),
        (
            "model_needs_other_images",
            BASE.replace("model = \"lenet5\"", "model = \"resnet18-cifar\""),
            None,
            vec![],
        ),
        (
            "unknown_column",
            BASE.replace(
                "[table]",
                "[report]\ncolumns = [\"acc.dense\", \"acc.retrain@0\"]\n[table]",
            ),
            None,
            vec![],
        ),
        (
            "figure_unknown_kind",
            format!("{BASE}\n[[figure]]\nid = \"f\"\nkind = \"pie\"\n"),
            None,
            vec![],
        ),
        (
            "figure_epoch_metric_unknown",
            format!(
                "{BASE}\n[[figure]]\nid = \"f\"\nkind = \"epochs\"\nmetric = \"acc.hardprun\"\n"
            ),
            None,
            vec![],
        ),
        (
            "figure_tradeoff_metric_unknown",
            format!(
                "{BASE}\n[[figure]]\nid = \"f\"\nkind = \"tradeoff\"\nmetric = \"w_minus_z\"\n"
            ),
            None,
            vec![],
        ),
        (
            "figure_rows_match_nothing",
            format!("{BASE}\n[[figure]]\nid = \"f\"\nkind = \"retrain\"\nrows = [\"slr-*\"]\n"),
            None,
            vec![],
        ),
        (
            "figure_duplicate_id",
            format!(
                "{BASE}\n[[figure]]\nid = \"f\"\nkind = \"retrain\"\n[[figure]]\nid = \"f\"\nkind = \"retrain\"\n"
            ),
            None,
            vec![],
        ),
        (
            "figure_bad_id",
            format!("{BASE}\n[[figure]]\nid = \"../f\"\nkind = \"retrain\"\n"),
            None,
            vec![],
        ),
        (
            "published_unknown_row",
            format!(
                "{BASE}\n[[published]]\nlabel = \"x\"\nmetric = \"acc.dense\"\nvalue = 99.0\nrow = \"desne\"\ncitation = \"A, 2020\"\n"
            ),
            None,
            vec![],
        ),
        (
            "unknown_count_rule",
            BASE.replace("uniform = 0.5", "uniform = 0.5, count_rule = \"median\""),
            None,
            vec![],
        ),
        (
            "classifier_on_lane_data",
            BASE.replace("dataset = \"mnist\"", "dataset = \"synthetic-lanes\""),
            None,
            vec![],
        ),
        (
            "lane_model_on_another_input",
            BASE.replace("model = \"lenet5\"", "model = \"ufld\"")
                .replace("dataset = \"mnist\"", "dataset = \"synthetic-lanes\""),
            None,
            vec![],
        ),
        (
            "augment_off_lane_data",
            BASE.replace(
                "dataset = \"mnist\"",
                "dataset = \"mnist\"\ndata = { augment = true }",
            ),
            None,
            vec![],
        ),
        (
            "holdout_on_lane_data",
            BASE.replace("model = \"lenet5\"", "model = \"ufld-small\"")
                .replace(
                    "dataset = \"mnist\"",
                    "dataset = \"synthetic-lanes\"\ndata = { holdout_first = 10 }",
                ),
            None,
            vec![],
        ),
    ];
    let mut all = String::new();
    for (name, text, profile, sets) in cases {
        all.push_str(&format!("{name}: {}\n", error(&text, profile, &sets)));
    }
    insta::assert_snapshot!(all);
}

fn ids(text: &str) -> Vec<(StageKind, String)> {
    let plan = spec::resolve(load(text, None, &[]).unwrap(), None);
    plan.runs
        .iter()
        .flat_map(|r| r.stages.iter().map(|s| (s.kind, s.id.clone())))
        .collect()
}

#[test]
fn golden_ids_of_the_lenet5_spec() {
    let loaded = spec::load(
        &root().join("experiments/lenet5-mnist.toml"),
        &LoadOptions::default(),
    )
    .unwrap();
    let plan = spec::resolve(loaded, None);
    let magnitude = plan
        .runs
        .iter()
        .find(|r| r.row_name == "magnitude")
        .unwrap();
    let folders: Vec<String> = magnitude.stages.iter().map(|s| s.folder_name()).collect();
    insta::assert_snapshot!("golden_ids_lenet5", folders.join("\n"));
    // The dense row shares the pretrain stage of the pruned rows.
    let dense = plan.runs.iter().find(|r| r.row_name == "dense").unwrap();
    assert_eq!(dense.stages[0].id, magnitude.stages[0].id);
    assert_eq!(
        plan.runs.len(),
        6 * 3 + 18,
        "6 main rows x 3 seeds, 18 sweep rows x 1 seed"
    );
    // ADMM and SLR rows train from the same dense model and add a train stage.
    let slr = plan
        .runs
        .iter()
        .find(|r| r.row_name == "slr-reference")
        .unwrap();
    assert_eq!(slr.stages[0].id, magnitude.stages[0].id);
    assert_eq!(
        slr.stages.iter().map(|s| s.kind.name()).collect::<Vec<_>>(),
        ["pretrain", "train", "prune", "retrain"]
    );
}

#[test]
fn ids_ignore_spelling_and_defaulted_fields() {
    let reference = ids(BASE);
    // Key order and number spelling.
    let respelled = BASE.replace(
        "optimizer = { lr = 0.01, momentum = 0.9 }",
        "optimizer = { momentum = 9e-1, lr = 1e-2 }",
    );
    assert_eq!(ids(&respelled), reference);
    // A field written out at its default value.
    let explicit = BASE.replace(
        "epochs = 4",
        "epochs = 4\nschedule = { kind = \"constant\" }\noptimizer.nesterov = false",
    );
    let explicit = explicit.replace(
        "optimizer = { lr = 0.01, momentum = 0.9 }",
        "optimizer.lr = 0.01\noptimizer.momentum = 0.9",
    );
    assert_eq!(ids(&explicit), reference);
    // A row's `init` at the model's reference scheme (what it drew before `init` was a key).
    assert_eq!(
        ids(&BASE.replace(
            "dataset = \"mnist\"",
            "dataset = \"mnist\"\ninit = \"pytorch\""
        )),
        reference
    );
    let tensorflow = ids(&BASE.replace(
        "dataset = \"mnist\"",
        "dataset = \"mnist\"\ninit = \"tensorflow\"",
    ));
    assert_ne!(
        tensorflow[0], reference[0],
        "other weights, another pretraining"
    );
    // Seeds are folders, not identity.
    assert_eq!(
        ids(&BASE.replace("seeds = [1, 2]", "seeds = [3, 4]")),
        reference
    );
    // A changed field changes the id of its stage and of every stage after it.
    let changed = ids(&BASE.replace("epochs = 4", "epochs = 5"));
    assert_ne!(changed[0], reference[0]);
    let changed_ratio = ids(&BASE.replace("uniform = 0.5", "uniform = 0.6"));
    let mag = |v: &[(StageKind, String)]| v[v.len() - 3..].to_vec();
    assert_eq!(mag(&changed_ratio)[0], mag(&reference)[0], "same pretrain");
    assert_ne!(mag(&changed_ratio)[1], mag(&reference)[1]);
    assert_ne!(mag(&changed_ratio)[2], mag(&reference)[2]);
}

/// One long training, pruned at several of its epochs: snapshots leave the training stage's
/// id alone, the pruned epoch enters the prune stage's, and a training stage shared by rows
/// keeps what every one of them asks for.
#[test]
fn snapshots_and_the_pruned_epoch_in_stage_ids() {
    use slr_repro::spec::StageConfig;
    let trained = BASE.replace("method = \"magnitude\"", "method = \"admm\"")
        + "\n[defaults.train]\nepochs = 3\n";
    let plain = ids(&trained);
    let with_snapshots = ids(&trained.replace("epochs = 3\n", "epochs = 3\nsnapshots = [1, 2]\n"));
    assert_eq!(with_snapshots, plain, "snapshots rename nothing");
    // A row pruning the final epoch is the row without `prune_at_epoch`.
    let last = ids(&trained.replace("method = \"admm\"", "method = \"admm\"\nprune_at_epoch = 3"));
    assert_eq!(last, plain);
    let early = trained.replace("method = \"admm\"", "method = \"admm\"\nprune_at_epoch = 1");
    let at_1 = ids(&early);
    let train = |v: &[(StageKind, String)]| v[v.len() - 3].clone();
    assert_eq!(train(&at_1), train(&plain), "the same training");
    assert_ne!(
        at_1[at_1.len() - 2],
        plain[plain.len() - 2],
        "another prune stage"
    );
    assert_ne!(
        at_1[at_1.len() - 1],
        plain[plain.len() - 1],
        "and retrain stage"
    );
    // Two rows share the training; its config keeps the epoch either asks for.
    let two_rows = format!(
        "{early}\n[[rows]]\nname = \"admm-e2\"\nmethod = \"admm\"\nprune_at_epoch = 2\nsparsity = {{ uniform = 0.5 }}\n"
    );
    let plan = spec::resolve(load(&two_rows, None, &[]).unwrap(), None);
    let trains: Vec<_> = plan
        .runs
        .iter()
        .flat_map(|r| &r.stages)
        .filter_map(|s| match &s.config {
            StageConfig::Train(t) => Some((s.id.clone(), t.snapshots.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(trains.len(), 4, "2 rows x 2 seeds");
    assert!(trains.iter().all(|(id, _)| *id == trains[0].0));
    assert!(
        trains
            .iter()
            .all(|(_, snapshots)| snapshots.iter().copied().collect::<Vec<_>>() == [1, 2])
    );
}

/// `[group_defaults.<group>]` lies over `[defaults]` for that group's rows, under their own
/// keys, and profiles overlay it like any key.
#[test]
fn group_defaults_apply_to_their_group() {
    let text = BASE.replace(
        "[[rows]]\nname = \"mag\"",
        "[group_defaults.sweep]\nseeds = [3]\n\n[[rows]]\nname = \"mag\"\ngroup = \"sweep\"",
    ) + "\n[profile.wide.group_defaults.sweep]\nseeds = [3, 4, 5]\n";
    let seeds = |profile| {
        load(&text, profile, &[])
            .unwrap()
            .rows
            .iter()
            .map(|r| r.seeds.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(seeds(None), [vec![1, 2], vec![3]]);
    assert_eq!(seeds(Some("wide")), [vec![1, 2], vec![3, 4, 5]]);
    assert_eq!(
        seeds(Some("smoke")),
        [vec![7], vec![3]],
        "the group's own seeds win"
    );
}

/// A method named in `[group_defaults.<group>]` is the group's rows' method before
/// `[defaults]`'s, with its settings table: the tables kept are chosen in the order the layers
/// merge (row, group, spec).
#[test]
fn a_group_defaults_method_keeps_its_settings() {
    use slr_repro::spec::{MethodSpec, SlrVariant};
    let text = BASE.replace("[[rows]]\nname = \"dense\"", "").replace(
        "[[rows]]\nname = \"mag\"\nmethod = \"magnitude\"",
        "[defaults.admm]\nrho = 0.2\n\n[group_defaults.g]\nmethod = \"slr\"\nsparsity = { uniform = 0.5 }\nslr = { variant = \"paper\" }\n\n\
         [[rows]]\nname = \"in-group\"\ngroup = \"g\"\n\n\
         [[rows]]\nname = \"own-table\"\ngroup = \"g\"\nslr = { rho = 0.3 }\n\n\
         [[rows]]\nname = \"own-method\"\ngroup = \"g\"\nmethod = \"admm\"\n\n[[rows]]\nname = \"mag\"\nmethod = \"magnitude\"",
    )
    .replacen("[defaults]\n", "[defaults]\nmethod = \"admm\"\n", 1);
    let rows = load(&text, None, &[]).unwrap().rows;
    let method = |name: &str| rows.iter().find(|r| r.name == name).unwrap().method.clone();
    let MethodSpec::Slr(in_group) = method("in-group") else {
        panic!("{:?}", method("in-group"))
    };
    assert_eq!(in_group.variant, SlrVariant::Paper);
    let MethodSpec::Slr(own_table) = method("own-table") else {
        panic!("{:?}", method("own-table"))
    };
    assert_eq!((own_table.variant, own_table.rho), (SlrVariant::Paper, 0.3));
    let MethodSpec::Admm(own_method) = method("own-method") else {
        panic!("{:?}", method("own-method"))
    };
    assert_eq!(own_method.rho, 0.2);
}

#[test]
fn derived_seeds_depend_on_seed_stage_and_purpose() {
    let a = spec::derive_seed(1, StageKind::Pretrain, "init");
    assert_eq!(a, spec::derive_seed(1, StageKind::Pretrain, "init"));
    assert_ne!(a, spec::derive_seed(2, StageKind::Pretrain, "init"));
    assert_ne!(a, spec::derive_seed(1, StageKind::Retrain, "init"));
    assert_ne!(a, spec::derive_seed(1, StageKind::Pretrain, "shuffle"));
}

#[test]
fn table2_declares_the_paper_rows_and_says_why_they_cannot_run_here() {
    let load = |profile: &str| load_spec(&root().join("experiments/table2.toml"), Some(profile));
    // 3 models x (dense + 5 ratios x {ADMM, SLR}) + 2 pipeline-check rows.
    let paper = spec::resolve(load("paper"), None);
    assert_eq!(paper.spec.rows.len(), 3 * 11 + 2);
    assert_eq!(paper.runs.len(), 33);
    assert!(
        paper
            .runs
            .iter()
            .all(|r| r.dataset == slr_repro::spec::DatasetKind::Cifar10)
    );
    // Without CIFAR-10 on disk every paper row is `not-run`, with the way to get the data.
    let tmp = tempfile::tempdir().unwrap();
    let collected = slr_repro::report::collect(&paper, tmp.path(), tmp.path()).unwrap();
    let status = slr_repro::report::frame::strings(&collected.results, "status").unwrap();
    let reason = slr_repro::report::frame::strings(&collected.results, "reason").unwrap();
    assert_eq!(status.len(), 35);
    assert!(status.iter().all(|s| s == "not-run"), "{status:?}");
    assert!(
        reason[0].contains("slr data fetch cifar10"),
        "{}",
        reason[0]
    );
    assert!(
        reason[34].contains("not selected by profile `paper`"),
        "{}",
        reason[34]
    );
    // The smoke profile swaps in the stand-in and runs the check rows on real CIFAR pixels.
    let smoke = spec::resolve(load("smoke"), None);
    assert_eq!(smoke.runs.len(), 35);
    let standin = smoke
        .runs
        .iter()
        .filter(|r| r.dataset == slr_repro::spec::DatasetKind::FashionMnistCifarStandin)
        .count();
    assert_eq!(standin, 33);
    assert!(
        smoke
            .spec
            .raw
            .table
            .title
            .starts_with("STAND-IN, NOT CIFAR-10")
    );
}

#[test]
fn tables_1_3_4_declare_rows_that_report_why_they_cannot_run() {
    for (table, runs, rows, reason) in [
        ("table1", 22, 22, "data set `imagenet` not in"),
        ("table3", 22, 22, "data set `coco2014` not in"),
        ("table4", 12, 12, "data set `tusimple` not in"),
    ] {
        let loaded = load_spec(
            &root().join(format!("experiments/{table}.toml")),
            Some("paper"),
        );
        let plan = spec::resolve(loaded, None);
        assert_eq!(plan.runs.len(), runs, "{table}");
        let tmp = tempfile::tempdir().unwrap();
        let collected = slr_repro::report::collect(&plan, tmp.path(), tmp.path()).unwrap();
        let status = slr_repro::report::frame::strings(&collected.results, "status").unwrap();
        let why = slr_repro::report::frame::strings(&collected.results, "reason").unwrap();
        assert_eq!(status.len(), rows, "{table}");
        assert!(status.iter().all(|s| s == "not-run"), "{table}: {status:?}");
        assert!(why[0].contains(reason), "{table}: {}", why[0]);
    }
}

#[test]
fn a_row_takes_only_its_own_methods_settings() {
    let admm_row = "[[rows]]\nname = \"admm\"\nmethod = \"admm\"\nsparsity = { uniform = 0.5 }\n";
    // The other method's table on a row: refused, naming the row and the key.
    let foreign = format!("{BASE}\n{admm_row}slr = {{ rho = 0.2 }}\n");
    let message = error(&foreign, None, &[]);
    assert!(
        message.contains("rows[2]") && message.contains("slr"),
        "{message}"
    );
    // An unknown key inside the row's own table: refused, naming it.
    let unknown = format!("{BASE}\n{admm_row}admm = {{ rhoo = 0.2 }}\n");
    let message = error(&unknown, None, &[]);
    assert!(message.contains("rhoo"), "{message}");
    // [defaults] may hold every method's table; each row keeps its own method's.
    let defaults = BASE.replace(
        "[defaults.pretrain]",
        "[defaults.slr]\nrho = 0.3\n\n[defaults.admm]\nrho = 0.2\n\n[defaults.pretrain]",
    );
    let loaded = load(&format!("{defaults}\n{admm_row}"), None, &[]).unwrap();
    match &loaded.rows[2].method {
        spec::MethodSpec::Admm(admm) => assert_eq!(admm.rho, 0.2),
        other => panic!("expected ADMM, got {other:?}"),
    }
    assert!(matches!(loaded.rows[1].method, spec::MethodSpec::Magnitude));
}

#[test]
fn validation_gaps_are_refused() {
    let before_rows = BASE.split("[[rows]]").next().unwrap();
    let no_rows = format!("rows = []\n{before_rows}");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "weight_decay_nan",
            BASE.replace("momentum = 0.9 }", "momentum = 0.9, weight_decay = nan }"),
            vec![],
        ),
        (
            "weight_decay_negative",
            BASE.replace("momentum = 0.9 }", "momentum = 0.9, weight_decay = -1e-4 }"),
            vec![],
        ),
        (
            "lr_nan",
            BASE.replace("lr = 0.01", "lr = nan"),
            vec![],
        ),
        (
            "gamma_negative",
            BASE.replace(
                "optimizer = { lr = 0.01, momentum = 0.9 }",
                "optimizer = { lr = 0.01, momentum = 0.9 }\nschedule = { kind = \"step\", gamma = -0.5 }",
            ),
            vec![],
        ),
        (
            "duplicate_seeds",
            BASE.replace("seeds = [1, 2]", "seeds = [1, 1]"),
            vec![],
        ),
        (
            "absurd_epochs",
            BASE.replace("epochs = 4", "epochs = 1000000"),
            vec![],
        ),
        (
            "absurd_threads",
            BASE.to_owned(),
            vec!["runtime.threads=100000"],
        ),
        (
            "zero_threads_in_runtime",
            format!("{BASE}\n[runtime]\nthreads = 0\n"),
            vec![],
        ),
        ("no_rows", no_rows, vec![]),
        (
            "published_unknown_metric",
            format!(
                "{BASE}\n[[published]]\nlabel = \"x\"\nmetric = \"acc.best\"\nvalue = 99.0\nrow = \"mag\"\ncitation = \"A, 2020\"\n"
            ),
            vec![],
        ),
        ("table_id_empty", BASE.replace("id = \"t\"", "id = \"\""), vec![]),
        (
            "table_id_escapes",
            BASE.replace("id = \"t\"", "id = \"../../x\""),
            vec![],
        ),
        (
            "table_id_absolute",
            BASE.replace("id = \"t\"", "id = \"/tmp/x\""),
            vec![],
        ),
        (
            "table_id_separator",
            BASE.replace("id = \"t\"", "id = \"a/b\""),
            vec![],
        ),
        (
            "test_batch_size_zero",
            BASE.replace("seeds = [1, 2]", "seeds = [1, 2]\ntest_batch_size = 0"),
            vec![],
        ),
        (
            "set_path_of_wrong_shape",
            BASE.to_owned(),
            vec!["rows.0.seeds=[1]"],
        ),
        (
            "holdout_leaves_nothing",
            BASE.replace("seeds = [1, 2]", "seeds = [1, 2]\ndata = { holdout_first = 60000 }"),
            vec![],
        ),
        (
            "runtime_unknown_backend",
            format!("{BASE}\n[runtime]\nbackend = \"gpu\"\n"),
            vec![],
        ),
        ("steps_zero", BASE.to_owned(), vec!["defaults.pretrain.steps=0"]),
        (
            "dropout_one",
            BASE.to_owned(),
            vec!["defaults.pretrain.dropout=1.0"],
        ),
        (
            "dropout_without_a_site",
            BASE.replace("model = \"lenet5\"", "model = \"lenet-300-100\""),
            vec!["defaults.pretrain.dropout=0.5"],
        ),
        (
            "admm_interval_steps_zero",
            BASE.replace("method = \"magnitude\"", "method = \"admm\""),
            vec!["defaults.admm.interval_steps=0"],
        ),
        (
            "admm_two_update_clocks",
            BASE.replace("method = \"magnitude\"", "method = \"admm\""),
            vec!["defaults.admm.interval_steps=5000", "defaults.admm.interval=2"],
        ),
        (
            "slr_interval_steps_zero",
            BASE.replace("method = \"magnitude\"", "method = \"slr\""),
            vec!["defaults.slr.interval_steps=0"],
        ),
        (
            "prune_at_epoch_without_training",
            BASE.replace("method = \"magnitude\"", "method = \"magnitude\"\nprune_at_epoch = 1"),
            vec![],
        ),
        (
            "prune_at_epoch_beyond_training",
            BASE.replace("method = \"magnitude\"", "method = \"admm\"\nprune_at_epoch = 2"),
            vec![],
        ),
        (
            "snapshot_beyond_training",
            BASE.replace("method = \"magnitude\"", "method = \"slr\""),
            vec!["defaults.train.snapshots=[0]"],
        ),
        (
            "snapshots_of_pretraining",
            BASE.to_owned(),
            vec!["defaults.pretrain.snapshots=[1]"],
        ),
        (
            "group_defaults_setting_the_group",
            BASE.replace("[[rows]]\nname = \"mag\"", "[group_defaults.sweep]\ngroup = \"other\"\n\n[[rows]]\nname = \"mag\"\ngroup = \"sweep\""),
            vec![],
        ),
        (
            "group_defaults_of_no_group",
            BASE.replace("[[rows]]\nname = \"dense\"", "[group_defaults.sweep]\nseeds = [1]\n\n[[rows]]\nname = \"dense\""),
            vec![],
        ),
    ];
    let mut all = String::new();
    for (name, text, sets) in cases {
        all.push_str(&format!("{name}: {}\n", error(&text, None, &sets)));
    }
    insta::assert_snapshot!(all);
}

/// Every profile of every committed spec draws the initialisation of the code it follows: each
/// model's reference scheme, except where a profile names another (the SLR authors' PyTorch
/// LeNet-5 with its layers' defaults, the ADMM paper's TensorFlow one).
#[test]
fn every_profile_draws_the_initialisation_of_the_code_it_follows() {
    use slr_repro::catalog::{InitScheme, ModelKind};
    let reference = |model: ModelKind| match model {
        ModelKind::Lenet5Relu => InitScheme::Tensorflow,
        ModelKind::Lenet5 | ModelKind::Lenet300100 | ModelKind::Vgg16Cifar => InitScheme::Pytorch,
        ModelKind::Yolov3 | ModelKind::Yolov3Tiny => InitScheme::PytorchYolov3,
        ModelKind::Ufld | ModelKind::UfldSmall => InitScheme::Ufld,
        _ => InitScheme::Torchvision,
    };
    let cases: [(&str, &[Option<&str>]); 6] = [
        (
            "lenet5-mnist",
            &[
                None,
                Some("paper"),
                Some("long"),
                Some("smoke"),
                Some("published"),
                Some("authors"),
            ],
        ),
        (
            "lenet5-fashion",
            &[None, Some("paper"), Some("long"), Some("smoke")],
        ),
        ("table1", &[None, Some("paper")]),
        ("table2", &[None, Some("paper"), Some("smoke")]),
        ("table3", &[None, Some("paper"), Some("smoke")]),
        ("table4", &[None, Some("paper"), Some("smoke")]),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (spec, profiles) in cases {
        for &profile in profiles {
            let path = root().join(format!("experiments/{spec}.toml"));
            for row in load_spec(&path, profile).rows {
                let want = match profile {
                    Some("authors") => InitScheme::Pytorch,
                    Some("published") => InitScheme::Tensorflow,
                    _ => reference(row.model),
                };
                assert_eq!(
                    row.init_scheme(),
                    want,
                    "{spec} {profile:?} row {}",
                    row.name
                );
                seen.insert((row.model.name(), want.name()));
            }
        }
    }
    assert!(seen.contains(&("lenet5-relu", "pytorch")), "{seen:?}");
    assert!(seen.contains(&("lenet5-relu", "tensorflow")), "{seen:?}");
    assert!(
        seen.contains(&("yolov3-tiny", "pytorch-yolov3")),
        "{seen:?}"
    );
}

/// `period_epochs` (the reference cosine's own T_max): at least 1, and only on
/// `reference-cosine`; set, it is part of the stage's budget.
#[test]
fn a_cosine_period_is_validated() {
    let with = |schedule: &str| {
        BASE.replace(
            "optimizer = { lr = 0.01, momentum = 0.9 }",
            &format!("optimizer = {{ lr = 0.01, momentum = 0.9 }}\nschedule = {schedule}"),
        )
    };
    let zero = error(
        &with(r#"{ kind = "reference-cosine", period_epochs = 0 }"#),
        None,
        &[],
    );
    assert!(
        zero.contains("key `pretrain.schedule.period_epochs`: must be at least 1"),
        "{zero}"
    );
    let other = error(
        &with(r#"{ kind = "cosine", period_epochs = 10 }"#),
        None,
        &[],
    );
    assert!(
        other.contains("`pretrain.schedule.period_epochs`: only `reference-cosine`"),
        "{other}"
    );
    let loaded = load(
        &with(r#"{ kind = "reference-cosine", period_epochs = 10 }"#),
        None,
        &[],
    )
    .expect("a period on the reference cosine loads");
    let schedule = &loaded.rows[0].pretrain.schedule;
    assert_eq!(schedule.period_epochs, Some(10));
    let json = serde_json::to_string(schedule).unwrap();
    assert!(json.contains(r#""period_epochs":10"#), "{json}");
}
