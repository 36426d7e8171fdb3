//! The float32 replays of the reference traces (tests/fidelity_replay): ResNet-18 (CIFAR-10)
//! through dense, SLR, ADMM, hard prune and masked retraining, and why ResNet-50 and VGG-16
//! are replayed in float64 instead (tests/fidelity64). With `SLR_FIDELITY_WRITE=1`
//! (`just fidelity`) the measured table is rendered into reports/fidelity.md.

use crate::fidelity_replay::*;
use burn::tensor::{Device, FloatDType};
use serde_json::Value;
use slr_repro::data;
use slr_repro::error::Result;
use slr_repro::models::{Net, params};
use slr_repro::prune::Pruner;
use slr_repro::train::{self, Classification, Task};

/// The float32 traces: the families whose first steps hold no ReLU decision within float32's
/// reach of 0 (scripts/fidelity_trace.py, FAMILIES).
const FLOAT32_FAMILIES: [&str; 1] = ["resnet18-cifar"];

#[test]
fn resnet18_cifar_dense_steps_match_the_authors_code() {
    assert_matches("resnet18-cifar", "dense");
}

#[test]
fn resnet18_cifar_slr_reference_matches_the_authors_code_through_retraining() {
    assert_matches("resnet18-cifar", "slr");
}

#[test]
fn resnet18_cifar_admm_through_matches_the_authors_code_through_retraining() {
    assert_matches("resnet18-cifar", "admm");
}

#[test]
fn reports_fidelity_md_holds_what_the_float32_replays_measure() {
    check_report_section(
        FloatDType::F32,
        render_table(&FLOAT32_FAMILIES, FloatDType::F32),
    );
}

/// Records the epoch CE the loop hands a pruner.
#[derive(Default)]
struct EpochCe(Vec<f64>);

impl Pruner for EpochCe {
    fn on_epoch_end(&mut self, _epoch: usize, _model: &Net, mean_ce: f64) -> Result<()> {
        self.0.push(mean_ce);
        Ok(())
    }
}

/// The authors' `ADMM.ce` is `total_ce / ctr` (slr_pruning/main.py 141 and 190): the mean of the
/// batches' CE, not of the examples'. With 20 images in batches of 8 (8, 8, 4) the two differ,
/// and SLR's surrogate conditions compare exactly this value between epochs.
#[test]
fn a_pruner_sees_the_epoch_ce_as_the_mean_over_batches() {
    let device = Device::flex().autodiff();
    let trace = trace("resnet18-cifar");
    let ratios = ratios(&trace);
    let net = model(&trace, "resnet18-cifar.pt", &device);
    let budget = budget(&trace, &Value::Null, 1, 1);
    let mut spy = EpochCe::default();
    let mut recording = Recording::new(&ratios, Vec::new(), 0.1);
    train::train(
        net,
        &images(&device),
        &settings(&budget, 8),
        &Classification::new(&device),
        &mut spy,
        &mut recording,
        None,
    )
    .unwrap();
    let ce: Vec<f64> = recording.steps.iter().map(|s| s.ce).collect();
    assert_eq!(ce.len(), 3);
    let batch_mean = (ce[0] + ce[1] + ce[2]) / 3.0;
    let example_mean = (8.0 * ce[0] + 8.0 * ce[1] + 4.0 * ce[2]) / 20.0;
    assert_eq!(spy.0, [batch_mean]);
    assert!(
        (batch_mean - example_mean).abs() > 1e-3,
        "{batch_mean} {example_mean}"
    );
}

/// Why the ResNet-50 replay leaves its trace (reports/fidelity.md, "Open"): our gradients of the
/// first batch are PyTorch's with one ReLU decision flipped, at an activation of 1.3e-5
/// (scripts/fidelity_tie.py), not PyTorch's own.
#[test]
fn resnet50_cifar_first_gradients_are_pytorchs_with_one_relu_tie_decided_the_other_way() {
    let path = fixtures().join("resnet50-cifar.tie.json");
    let tie: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let device = Device::flex().autodiff();
    let net = model(&trace("resnet50-cifar"), "resnet50-cifar.pt", &device);
    let data = images(&device);
    let data::Examples::Tensors(split) = &data.train else {
        panic!("CIFAR is held as tensors")
    };
    let (images, labels) = split.range(0, split.len);
    let task = Classification::new(&device);
    let batch = train::task::LabelledBatch {
        images,
        labels,
        seed: 0,
    };
    let grads = task.loss(&net, batch).backward();
    let ours = params::gradients(&net, &grads);
    let largest_error = |reference: &Value| {
        reference
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, value)| relative(norm(&ours[name]), value.as_f64().unwrap()))
            .fold(0.0, f64::max)
    };
    let flipped = largest_error(&tie["flipped"]);
    let plain = largest_error(&tie["plain"]);
    assert!(
        flipped < 1e-4,
        "ours against the flipped gradients: {flipped:.2e}"
    );
    assert!(plain > 1e-3, "ours against PyTorch's own: {plain:.2e}");
}
