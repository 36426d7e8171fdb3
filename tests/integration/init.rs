//! Initialisation schemes: each model's first weights against its reference implementation's
//! (per-parameter mean and standard deviation drawn in PyTorch by scripts/init_reference.py).

use super::common::root;
use burn::tensor::Device;
use serde_json::Value;
use slr_repro::catalog::{InitScheme, ModelKind};
use slr_repro::models::{Net, params};
use std::collections::BTreeSet;

/// Spreads (standard deviations across the reference's draws) a single draw of ours may lie
/// from the reference's average: one draw against the average of `draws`.
const SPREADS: f64 = 5.0;

fn model(name: &str) -> ModelKind {
    *ModelKind::ALL.iter().find(|k| k.name() == name).unwrap()
}

fn scheme(name: &str) -> InitScheme {
    *InitScheme::ALL.iter().find(|s| s.name() == name).unwrap()
}

/// Mean and (population) standard deviation of a tensor's values.
fn moments(values: &[f32]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

/// Every model at its reference scheme (and `lenet5-relu` at the SLR authors' PyTorch
/// defaults): the same parameters, and each one's mean and standard deviation within
/// [`SPREADS`] of the reference's; constants (BatchNorm 1/0, TensorFlow's biases 0.1, UFLD's
/// zero biases) exactly.
#[test]
fn initial_statistics_match_the_reference_implementations() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/init_stats.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let draws = fixture["draws"].as_f64().unwrap();
    let stats = fixture["stats"].as_object().unwrap();
    assert_eq!(stats.len(), 11, "cases in the fixture");
    let widen = (1.0 + 1.0 / draws).sqrt();
    let mut failures = Vec::new();
    for (case, reference) in stats {
        let (model_name, scheme_name) = case.split_once('/').unwrap();
        let kind = model(model_name);
        let net = Net::seeded_with(kind, scheme(scheme_name), &Device::flex(), 1);
        // Parameters only: BatchNorm's running statistics are buffers no scheme draws.
        let names: Vec<String> = params::shapes(&net)
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| !n.ends_with(".running_mean") && !n.ends_with(".running_var"))
            .collect();
        let reference = reference.as_object().unwrap();
        assert_eq!(
            names.iter().cloned().collect::<BTreeSet<_>>(),
            reference.keys().cloned().collect::<BTreeSet<_>>(),
            "{case}: parameter names"
        );
        let values = params::flat(&net, &names);
        for (name, expected) in reference {
            let data: Vec<f32> = values[name].clone().into_data().try_to_vec().unwrap();
            assert_eq!(
                data.len() as u64,
                expected["n"].as_u64().unwrap(),
                "{case} {name}"
            );
            let (mean, std) = moments(&data);
            for (what, ours, key) in [("mean", mean, "mean"), ("std", std, "std")] {
                let want = expected[key].as_f64().unwrap();
                let spread = expected[format!("{key}_spread").as_str()].as_f64().unwrap();
                let tolerance = if spread == 0.0 {
                    1e-7 * want.abs().max(1.0)
                } else {
                    SPREADS * spread * widen
                };
                if (ours - want).abs() > tolerance {
                    failures.push(format!(
                        "{case} {name} {what}: ours {ours:.6}, reference {want:.6} \
                         (tolerance {tolerance:.2e})"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The SLR authors' PyTorch LeNet-5 starts where `lenet5` does: PyTorch's default draws the
/// same values whatever the convolutions' activation, and differs from TensorFlow's.
#[test]
fn an_init_scheme_is_independent_of_the_architecture() {
    let device = Device::flex();
    let names = vec!["conv1.weight".to_owned(), "fc2.bias".to_owned()];
    let flat = |kind, scheme| {
        let net = Net::seeded_with(kind, scheme, &device, 3);
        params::flat(&net, &names)
            .into_values()
            .map(|t| t.into_data().try_to_vec::<f32>().unwrap())
            .collect::<Vec<_>>()
    };
    let relu_pytorch = flat(ModelKind::Lenet5Relu, InitScheme::Pytorch);
    assert_eq!(relu_pytorch, flat(ModelKind::Lenet5, InitScheme::Pytorch));
    assert_ne!(
        relu_pytorch,
        flat(ModelKind::Lenet5Relu, InitScheme::Tensorflow)
    );
    // `Net::seeded` draws the model's reference scheme.
    let default: Vec<Vec<f32>> =
        params::flat(&Net::seeded(ModelKind::Lenet5Relu, &device, 3), &names)
            .into_values()
            .map(|t| t.into_data().try_to_vec::<f32>().unwrap())
            .collect();
    assert_eq!(default, flat(ModelKind::Lenet5Relu, InitScheme::Tensorflow));
}
