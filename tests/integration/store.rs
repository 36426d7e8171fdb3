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
