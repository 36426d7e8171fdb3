//! The run-folder layout: failure records, typed and legacy.

use slr_repro::error::Error;
use slr_repro::run::store::{self, Failure, FailureKind};

#[test]
fn failures_are_read_back_with_their_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let diverged = Error::Diverged {
        label: "slr train seed 1".into(),
        epoch: 3,
        step: 7,
        loss: f64::NAN,
    };
    store::write_failure(dir, &diverged).unwrap();
    assert_eq!(
        store::read_failure(dir),
        Some(Failure {
            kind: FailureKind::Diverged,
            reason: "run failed: slr train seed 1: diverged at epoch 3 step 7 (loss NaN)".into(),
        })
    );
    store::write_failure(dir, &Error::RunFailed("layer fc1.weight misses".into())).unwrap();
    assert_eq!(
        store::read_failure(dir).map(|f| f.kind),
        Some(FailureKind::Failed)
    );
    // A failed.txt written before the kind line: the message alone.
    std::fs::write(
        dir.join(store::FAILED),
        "run failed: a: diverged at epoch 1 step 0 (loss inf)\nmore",
    )
    .unwrap();
    assert_eq!(
        store::read_failure(dir).map(|f| f.kind),
        Some(FailureKind::Diverged)
    );
    std::fs::remove_file(dir.join(store::FAILED)).unwrap();
    assert_eq!(store::read_failure(dir), None);
}

#[test]
fn summaries_round_trip_infinite_and_nan_values() {
    use slr_repro::prune::stats::SparsityReport;
    use slr_repro::run::store::Summary;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("model.bpk"), b"weights").unwrap();
    let summary = Summary {
        stage: "prune".into(),
        id: "abc".into(),
        seed: 1,
        // A loss may be NaN; an accuracy may not (see `summaries_prove_themselves`).
        metrics: [("train.loss".to_owned(), f64::NAN)].into(),
        sparsity: Some(SparsityReport {
            per_layer: [("fc1.weight".to_owned(), 1.0)].into(),
            global: 1.0,
            compression_pruned_layers: f64::INFINITY,
            compression_reference: 12.5,
        }),
        seconds_per_epoch: 0.0,
        files: Default::default(),
        digest: String::new(),
        code: String::new(),
    };
    store::write_summary(tmp.path(), &summary).unwrap();
    let text = std::fs::read_to_string(tmp.path().join(store::SUMMARY)).unwrap();
    assert!(
        text.contains("\"compression_pruned_layers\": \"inf\""),
        "{text}"
    );
    let back = store::read_summary(tmp.path()).unwrap().unwrap();
    let sparsity = back.sparsity.unwrap();
    assert_eq!(sparsity.compression_pruned_layers, f64::INFINITY);
    assert_eq!(sparsity.compression_reference, 12.5);
    assert!(back.metrics["train.loss"].is_nan());
    // The files the stage wrote are recorded with their SHA-256.
    assert_eq!(
        back.files["model.bpk"],
        slr_repro::base::sha256_hex(b"weights")
    );
}

/// A summary write killed before its rename leaves a temporary file: the rerun's summary
/// neither hashes nor keeps it (it hashed `summary.tmp` into its own summary before), and the
/// stage verifies as done.
#[test]
fn a_killed_summary_write_leaves_nothing_the_rerun_hashes() {
    use slr_repro::run::store::Summary;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("model.bpk"), b"weights").unwrap();
    let leftover = tmp.path().join(".summary.json.4242.0.tmp");
    std::fs::write(&leftover, b"{\"stage\": \"pre").unwrap();
    let summary = Summary {
        stage: "pretrain".into(),
        id: "abc".into(),
        seed: 1,
        metrics: [("acc.dense".to_owned(), 98.5)].into(),
        sparsity: None,
        seconds_per_epoch: 1.0,
        files: Default::default(),
        digest: String::new(),
        code: String::new(),
    };
    store::write_summary(tmp.path(), &summary).unwrap();
    assert!(!leftover.exists(), "the leftover is removed");
    let back = store::read_summary(tmp.path()).unwrap().unwrap();
    assert_eq!(back.files.keys().collect::<Vec<_>>(), ["model.bpk"]);
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

/// Two saves of the same weights write the same bytes (burn records parameter ids, which are
/// random unless `models::save` derives them from the names), and loading one back gives the
/// weights.
#[test]
fn equal_weights_save_to_equal_model_files() {
    use burn::module::Module;
    use burn::tensor::Device;
    use slr_repro::models::{Net, params};
    use slr_repro::spec::ModelKind;
    let tmp = tempfile::tempdir().unwrap();
    for kind in [ModelKind::Lenet300100, ModelKind::Resnet18CifarNoPool] {
        let files: Vec<Vec<u8>> = (0..2)
            .map(|i| {
                let net = Net::seeded(kind, &Device::flex(), 5);
                let path = tmp.path().join(format!("{}-{i}.bpk", kind.name()));
                slr_repro::models::save(net, &path).unwrap();
                std::fs::read(&path).unwrap()
            })
            .collect();
        assert!(
            files[0] == files[1],
            "{}: the two files differ",
            kind.name()
        );
        let path = tmp.path().join(format!("{}-0.bpk", kind.name()));
        let back = Net::init(kind, &Device::flex())
            .try_load_file(&path)
            .unwrap();
        let names: Vec<String> = params::shapes(&back).into_iter().map(|(n, _)| n).collect();
        let original = Net::seeded(kind, &Device::flex(), 5);
        for (name, value) in params::flat(&back, &names) {
            let want = params::flat(&original, std::slice::from_ref(&name))[&name].clone();
            assert_eq!(value.into_data(), want.into_data(), "{name}");
        }
    }
}

/// A summary proves itself: edited after the stage wrote it (its digest differs), holding a
/// percentage outside [0, 100] or a `null` where an accuracy belongs, or recording no file
/// hashes (an earlier release's), it is damaged, and the stage is trained again; one from the
/// release before summaries hashed themselves (files, no digest) is still verified by its files.
#[test]
fn summaries_prove_themselves() {
    use slr_repro::run::store::{StageState, Summary, stage_state};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("model.bpk"), b"weights").unwrap();
    let summary = Summary {
        stage: "prune".into(),
        id: "abc".into(),
        seed: 1,
        metrics: [("acc.hardprune".to_owned(), 43.8)].into(),
        sparsity: None,
        seconds_per_epoch: 0.0,
        files: Default::default(),
        digest: String::new(),
        code: String::new(),
    };
    store::write_summary(dir, &summary).unwrap();
    assert!(matches!(stage_state(dir), StageState::Done(_)));
    let path = dir.join(store::SUMMARY);
    let written = std::fs::read_to_string(&path).unwrap();
    let damaged = |text: &str| {
        std::fs::write(&path, text).unwrap();
        match stage_state(dir) {
            StageState::Damaged(why) => why,
            other => panic!("{text}\n{other:?}"),
        }
    };
    let why = damaged(&written.replace("43.8", "44.8"));
    assert!(
        why.contains("was changed after the stage wrote it"),
        "{why}"
    );
    // Without the digest (the release before), the range check still catches an impossible
    // accuracy and a null; the record as it was verifies by its files.
    let json: serde_json::Value = serde_json::from_str(&written).unwrap();
    let undigested = |value: serde_json::Value| {
        let mut json = json.clone();
        json.as_object_mut().unwrap().remove("digest");
        json["metrics"]["acc.hardprune"] = value;
        serde_json::to_string_pretty(&json).unwrap()
    };
    let why = damaged(&undigested(123.46.into()));
    assert!(
        why.contains("metric `acc.hardprune` is 123.46, not a percentage"),
        "{why}"
    );
    let why = damaged(&undigested(serde_json::Value::Null));
    assert!(why.contains("metric `acc.hardprune` is NaN"), "{why}");
    std::fs::write(&path, undigested(43.8.into())).unwrap();
    assert!(matches!(stage_state(dir), StageState::Done(_)));
    // No file hashes at all: nothing proves the outputs.
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("files");
    old.as_object_mut().unwrap().remove("digest");
    let why = damaged(&serde_json::to_string_pretty(&old).unwrap());
    assert!(why.contains("records no file hashes"), "{why}");
}

/// A checkpoint is resumed only by its own stage and seed, with every file as written: another
/// seed's, one with changed weights or emptied optimizer state, or an edited state file is
/// refused naming the file; a crash-left previous checkpoint is used when the latest fails.
#[test]
fn checkpoints_are_verified_against_their_manifest() {
    use burn::tensor::{Device, Tensor};
    use slr_repro::models::{Net, params};
    use slr_repro::prune::PrunerState;
    use slr_repro::run::store::checkpoint::{self, Owner, RecorderState};
    use slr_repro::spec::ModelKind;
    use slr_repro::train::{Position, Snapshot};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let device = Device::flex();
    let kind = ModelKind::Lenet300100;
    let net = Net::seeded(kind, &device, 3);
    let owner = Owner {
        stage: "train".into(),
        id: "abc".into(),
        seed: 1,
    };
    let position = Position {
        epoch: 2,
        step: 0,
        ce_sum: 0.0,
        loss_sum: 0.0,
        count: 0,
        lr: 0.01,
        seconds: 1.0,
        round_ce_sum: 0.0,
        round_count: 0,
        batch_ce_sum: 0.0,
        batches: 0,
    };
    let momentum = Tensor::<1>::from_floats([0.5, -0.25], &device);
    let snapshot = Snapshot {
        model: &net,
        position,
        optimizer: [("fc1.weight".to_owned(), momentum)].into(),
        pruner: PrunerState::default(),
    };
    checkpoint::write(dir, &owner, &snapshot, &RecorderState::default()).unwrap();
    let read = |who: &Owner| checkpoint::read(dir, who, kind, &device);
    let error = |who: &Owner| match read(who) {
        Ok(_) => panic!("resumed"),
        Err(e) => e.to_string(),
    };
    assert_eq!(read(&owner).unwrap().unwrap().resume.position, position);
    // Another seed's checkpoint.
    let seed2 = Owner {
        seed: 2,
        ..owner.clone()
    };
    let err = error(&seed2);
    assert!(
        err.contains("a checkpoint of train-abc seed 1, not of train-abc seed 2"),
        "{err}"
    );
    let folder = dir.join(checkpoint::CHECKPOINT);
    let pristine: Vec<(String, Vec<u8>)> = ["model.bpk", "tensors.bin", "state.json"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(folder.join(n)).unwrap()))
        .collect();
    let restore = || {
        for (name, bytes) in &pristine {
            std::fs::write(folder.join(name), bytes).unwrap();
        }
    };
    // Negated weights.
    let negated = params::map_flat(Net::seeded(kind, &device, 3), |_, w| Some(-w));
    slr_repro::models::save(negated, &folder.join("model.bpk")).unwrap();
    let err = error(&owner);
    assert!(
        err.contains("model.bpk: differs from what the checkpoint recorded"),
        "{err}"
    );
    restore();
    // Emptied optimizer state.
    std::fs::write(folder.join("tensors.bin"), b"SLRTENS1\0\0\0\0\0\0\0\0").unwrap();
    let err = error(&owner);
    assert!(
        err.contains("tensors.bin: differs from what the checkpoint recorded"),
        "{err}"
    );
    restore();
    // An edited position.
    let state = String::from_utf8(pristine[2].1.clone()).unwrap();
    std::fs::write(
        folder.join("state.json"),
        state.replace("\"epoch\":2", "\"epoch\":3"),
    )
    .unwrap();
    let err = error(&owner);
    assert!(
        err.contains("changed after the checkpoint was written"),
        "{err}"
    );
    // A crash between the swaps left the previous checkpoint: used when the latest fails.
    restore();
    copy_dir(&folder, &dir.join("checkpoint.old"));
    std::fs::write(folder.join("tensors.bin"), b"").unwrap();
    assert_eq!(read(&owner).unwrap().unwrap().resume.position, position);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
