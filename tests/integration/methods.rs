//! SLR and ADMM as a specification (method.md sections 2 to 6). Expected values are computed
//! by hand or, for multi-step sequences, by an independent transcription of method.md's
//! equations (numbers quoted in comments).

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use slr_repro::models::Net;
use slr_repro::models::params;
use slr_repro::prune::admm::Admm;
use slr_repro::prune::constrained::{Constrained, Method};
use slr_repro::prune::layers::Layers;
use slr_repro::prune::slr::{Slr, alpha};
use slr_repro::prune::{Pruner, projection};
use slr_repro::spec::{AdmmSpec, CountRule, ModelKind, MultiplierGrad, SlrSpec, SlrVariant};
use std::collections::BTreeMap;

fn t(values: &[f32]) -> Tensor<1> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len()]),
        &Device::flex(),
    )
}

fn v(x: &Tensor<1>) -> Vec<f32> {
    x.clone().into_data().try_to_vec::<f32>().unwrap()
}

fn close(actual: &[f32], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        // Compare in f32, the tensors' precision: tol 0 means exactly the f32 nearest `e`.
        assert!(
            ((a - *e as f32).abs() as f64) <= tol,
            "[{i}] {a} vs {e} (all: {actual:?})"
        );
    }
}

fn layers(entries: &[(&str, &[f32])]) -> Layers {
    entries.iter().map(|(n, x)| (n.to_string(), t(x))).collect()
}

fn ratios(entries: &[(&str, f64)]) -> BTreeMap<String, f64> {
    entries.iter().map(|(n, r)| (n.to_string(), *r)).collect()
}

#[test]
fn alpha_values() {
    // α(k) = 1 − 1/(M k^(1 − 1/k^r)), M = 300, r = 0.1 (method.md section 4).
    for (k, expected) in [
        (1, 0.996667),
        (2, 0.996818),
        (10, 0.997924),
        (100, 0.999391),
    ] {
        let a = alpha(k, 300.0, 0.1);
        assert!((a - expected).abs() < 5e-7, "alpha({k}) = {a}");
    }
}

#[test]
fn percentile_rule_counts_and_ties() {
    // n = 36,864, p = 0.9: position 0.9 x 36,863 = 33,176.7, so 33,177 entries fall below the
    // interpolated percentile; the exact rule zeroes round(0.9 n) = 33,178.
    assert_eq!(
        36_864 - projection::percentile_keep_count(36_864, 0.9),
        33_177
    );
    let device = Device::flex();
    device.seed(11);
    let x: Tensor<1> = Tensor::random([36_864], Distribution::Normal(0.0, 1.0), &device);
    let zeros = |m: Tensor<1>| 36_864 - projection::count_nonzero(&m);
    assert_eq!(
        zeros(projection::mask(&x, 0.9, CountRule::Percentile)),
        33_177
    );
    assert_eq!(zeros(projection::mask(&x, 0.9, CountRule::Exact)), 33_178);
    // |x| = 1 2 3 4 5, p = 0.3: position 1.2, q = 2 + 0.2 (3 − 2) = 2.2, two entries < q.
    let x = t(&[5.0, -1.0, 3.0, 2.0, -4.0]);
    assert_eq!(
        v(&projection::mask(&x, 0.3, CountRule::Percentile)),
        vec![1.0, 0.0, 1.0, 0.0, 1.0]
    );
    // p = 0.5: integer position 2, q = 3, entries strictly below 3 are zeroed.
    assert_eq!(
        v(&projection::mask(&x, 0.5, CountRule::Percentile)),
        vec![1.0, 0.0, 1.0, 0.0, 1.0]
    );
    // Ties: |x| = 1 1 1 2, p = 0.5: q = 1, nothing is strictly below it, all four are kept.
    let ties = t(&[1.0, -1.0, 1.0, 2.0]);
    assert_eq!(
        v(&projection::mask(&ties, 0.5, CountRule::Percentile)),
        vec![1.0; 4]
    );
    // The exact rule keeps round(0.5 x 4) = 2: the 2, then the first 1.
    assert_eq!(
        v(&projection::mask(&ties, 0.5, CountRule::Exact)),
        vec![1.0, 0.0, 0.0, 1.0]
    );
}

#[test]
fn selection_matches_a_full_sort_on_a_large_layer() {
    let device = Device::flex();
    device.seed(12);
    let x: Tensor<1> = Tensor::random([100_000], Distribution::Normal(0.0, 1.0), &device);
    let mut magnitudes: Vec<f32> = v(&x).iter().map(|a| a.abs()).collect();
    magnitudes.sort_by(|a, b| b.total_cmp(a));
    for k in [1, 2, 777, 50_000, 99_999, 100_000] {
        assert_eq!(
            projection::kth_largest(&x.clone().abs(), k),
            magnitudes[k - 1],
            "k = {k}"
        );
    }
}

#[test]
fn admm_one_update() {
    // Layer a: W⁰ = [1, −2, 3, −4, 5, −6] (2x3 flattened), p = 0.5 keeps 3: Z⁰ = [0, 0, 0, −4, 5, −6].
    // Layer b: W⁰ = [.5, .1, −.2, .3, −.4, .6], p = 2/3 keeps 2: Z⁰ = [.5, 0, 0, 0, 0, .6].
    let w0 = layers(&[
        ("a", &[1.0, -2.0, 3.0, -4.0, 5.0, -6.0]),
        ("b", &[0.5, 0.1, -0.2, 0.3, -0.4, 0.6]),
    ]);
    let mut admm = Admm::new(
        AdmmSpec::default(),
        ratios(&[("a", 0.5), ("b", 2.0 / 3.0)]),
        CountRule::Exact,
        &w0,
    );
    close(&v(&admm.z["a"]), &[0.0, 0.0, 0.0, -4.0, 5.0, -6.0], 0.0);
    close(&v(&admm.z["b"]), &[0.5, 0.0, 0.0, 0.0, 0.0, 0.6], 0.0);
    assert!(
        !admm.updates_at(1) && admm.updates_at(2),
        "never before epoch 2"
    );
    // After training, a: W = [1.5, −2, 2, −4, 4, −1] (b unchanged). With U = 0:
    // Z_a = Π(W) keeps 4, 4 and the first of the tied 2s: [0, −2, 0, −4, 4, 0];
    // U_a = W − Z = [1.5, 0, 2, 0, 0, −1]; U_b = W_b − Z_b = [0, .1, −.2, .3, −.4, 0].
    let w1 = layers(&[
        ("a", &[1.5, -2.0, 2.0, -4.0, 4.0, -1.0]),
        ("b", &[0.5, 0.1, -0.2, 0.3, -0.4, 0.6]),
    ]);
    let update = admm.update(&w1);
    close(&v(&admm.z["a"]), &[0.0, -2.0, 0.0, -4.0, 4.0, 0.0], 0.0);
    close(&v(&admm.u["a"]), &[1.5, 0.0, 2.0, 0.0, 0.0, -1.0], 0.0);
    close(&v(&admm.u["b"]), &[0.0, 0.1, -0.2, 0.3, -0.4, 0.0], 1e-7);
    // Σ‖W − Z‖ = √7.25 + √0.3 = 2.6925824 + 0.5477226; Σ‖Z − Z_old‖ = √41 + 0 = 6.4031242.
    assert!((update.w_minus_z - 3.2403050).abs() < 1e-6, "{update:?}");
    assert!((update.z_change - 6.4031242).abs() < 1e-6, "{update:?}");
    assert_eq!(admm.updates, 1);
}

/// A LeNet-300-100 on an autodiff device and its `fc3.weight` (1,000 weights).
fn model_and_fc3(seed: u64) -> (Net, Layers) {
    let device = Device::flex().autodiff();
    let net = Net::seeded(ModelKind::Lenet300100, &device, seed);
    let w = params::flat(&net, &["fc3.weight".to_owned()]);
    (net, w)
}

/// The autodiff gradient of the pruner's penalty with respect to `fc3.weight`.
fn penalty_grad(pruner: &Constrained, net: &Net) -> Vec<f32> {
    let grads = pruner.penalty(net).expect("a penalty").backward();
    let mut out = Vec::new();
    struct Grab<'a>(&'a burn::tensor::Gradients, &'a mut Vec<f32>);
    impl burn::module::ModuleVisitor for Grab<'_> {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let value = param.val();
            if D == 2 && value.dims()[0] == 100 && value.dims()[1] == 10 {
                let g = value.grad(self.0).expect("fc3 has a gradient");
                *self.1 = g.into_data().try_to_vec::<f32>().unwrap();
            }
        }
    }
    burn::module::Module::visit(net, &mut Grab(&grads, &mut out));
    out
}

#[test]
fn penalty_gradient_detached_and_through() {
    let (net, w) = model_and_fc3(21);
    let r = ratios(&[("fc3.weight", 0.7)]);
    let spec = |grad| AdmmSpec {
        multiplier_grad: grad,
        ..AdmmSpec::default()
    };
    let mut admm = Admm::new(
        spec(MultiplierGrad::Detached),
        r.clone(),
        CountRule::Exact,
        &w,
    );
    // Give U a value: one update with W itself makes U = W − Π(W).
    admm.update(&w);
    let residual: Vec<f64> = {
        let wv = v(&w["fc3.weight"]);
        let z = v(&admm.z["fc3.weight"]);
        let u = v(&admm.u["fc3.weight"]);
        (0..wv.len())
            .map(|i| 0.1 * (wv[i] as f64 - z[i] as f64 + u[i] as f64))
            .collect()
    };
    // detached: ∂/∂W ρ/2‖W − Z + U‖² = ρ(W − Z + U).
    let detached = Constrained::new(Method::Admm(admm.clone()));
    close(&penalty_grad(&detached, &net), &residual, 1e-6);
    // through, after n = 3 updates: (1 + 3) ρ(W − Z + U), the measured factor of the authors' code.
    let mut through = admm.clone();
    through.spec.multiplier_grad = MultiplierGrad::Through;
    through.updates = 3;
    let through = Constrained::new(Method::Admm(through));
    assert_eq!(through.grad_scale(), 4.0);
    let scaled: Vec<f64> = residual.iter().map(|g| 4.0 * g).collect();
    close(&penalty_grad(&through, &net), &scaled, 1e-6);
    // The penalty's value does not change with the scale.
    let value = |p: &Constrained| p.penalty(&net).unwrap().inner().into_scalar::<f64>();
    assert!((value(&detached) - value(&through)).abs() < 1e-9);
}

#[test]
fn slr_through_scale() {
    // 1 + Σ s_j / ρ after two accepted updates with s = 0.01 and 0.0098514 (ρ = 0.1): 1.198514,
    // the factor measured in the authors' code after epoch 2.
    let (net, w) = model_and_fc3(22);
    let mut slr = Slr::new(
        SlrSpec::default(),
        ratios(&[("fc3.weight", 0.7)]),
        CountRule::Exact,
        &w,
    );
    slr.accepted_s = 0.01 + 0.0098514;
    assert!((slr.grad_scale() - 1.198514).abs() < 1e-12);
    let mut detached = slr.clone();
    detached.spec.variant = SlrVariant::Paper;
    assert_eq!(
        detached.grad_scale(),
        1.0,
        "the paper variant detaches its multipliers"
    );
    let g_through = penalty_grad(&Constrained::new(Method::Slr(slr)), &net);
    let g_detached = penalty_grad(&Constrained::new(Method::Slr(detached)), &net);
    let ratio: Vec<f64> = g_through
        .iter()
        .zip(&g_detached)
        .filter(|(_, d)| d.abs() > 1e-6)
        .map(|(a, d)| *a as f64 / *d as f64)
        .collect();
    assert!(!ratio.is_empty());
    for r in ratio {
        assert!((r - 1.198514).abs() < 1e-4, "{r}");
    }
}

/// W at the start of epochs 2..5 and the epoch-mean CE of epochs 1..4 of the scripted run.
const W0: [f32; 4] = [0.8, -0.1, 0.5, -0.3];
const W: [[f32; 4]; 4] = [
    [0.7, -0.2, 0.45, -0.35],
    [0.65, -0.25, 0.3, -0.4],
    [0.6, -0.3, 0.2, -0.45],
    [0.62, -0.28, 0.1, -0.5],
];
const CE: [f64; 4] = [0.9, 0.7, 0.75, 0.6];

struct Expected {
    cond1: bool,
    cond2: bool,
    k: u64,
    s: f64,
    alpha: f64,
    lambda: [f64; 4],
    z: [f64; 4],
}

fn run_scripted(variant: SlrVariant, expected: &[Expected]) {
    let spec = SlrSpec {
        variant,
        ..SlrSpec::default()
    };
    let w0 = layers(&[("w", &W0)]);
    let mut slr = Slr::new(spec, ratios(&[("w", 0.5)]), CountRule::Exact, &w0);
    // Z⁰ = Π(W⁰) keeps 0.8 and 0.5.
    close(&v(&slr.z["w"]), &[0.8, 0.0, 0.5, 0.0], 0.0);
    for (step, e) in expected.iter().enumerate() {
        let epoch = step + 2;
        let ce = CE[epoch - 2];
        let ce_prev = if epoch >= 3 { CE[epoch - 3] } else { 0.0 };
        let update = slr.update(&layers(&[("w", &W[step])]), ce, ce_prev);
        let at = format!("{variant:?} epoch {epoch}");
        assert_eq!((update.cond1, update.cond2), (e.cond1, e.cond2), "{at}");
        assert_eq!(update.k, e.k, "{at}");
        assert!(
            (update.s - e.s).abs() < 1e-9,
            "{at}: s {} vs {}",
            update.s,
            e.s
        );
        assert!(
            (update.alpha - e.alpha).abs() < 1e-9,
            "{at}: alpha {}",
            update.alpha
        );
        close(&v(&slr.lambda["w"]), &e.lambda, 1e-8);
        close(&v(&slr.z["w"]), &e.z, 1e-7);
    }
}

#[test]
fn slr_reference_scripted_sequence() {
    // Epoch 2 by hand: condition 1 fails (0.9 + P(W, 0) against 0 + P(0, 0) = 0; recorded as
    // the authors' `condition1` records it) and k = 1 forces the update anyway; n1 = ‖W_prev − Z_prev‖ = ‖0 − 0‖ = 0 leaves
    // s = 0.01; Λ = s (W − 0) = 0.01 W = [.007, −.002, .0045, −.0035], so U = Λ/ρ = 0.1 W;
    // Z_prev ← Z⁰. Z = Π(W + 0.1 W) = [.77, 0, .495, 0]. Condition 2 compares
    // ce + P(W, Z) = 0.9 + ... with ce_prev + P(W, Z_prev) = 0 + ..., and fails: Λ, s, k stay.
    // Later epochs: the independent transcription of method.md 4.1.
    run_scripted(
        SlrVariant::Reference,
        &[
            Expected {
                cond1: false,
                cond2: false,
                k: 2,
                s: 0.01,
                alpha: 0.9966666667,
                lambda: [0.007, -0.002, 0.0045, -0.0035],
                z: [0.77, 0.0, 0.495, 0.0],
            },
            Expected {
                cond1: true,
                cond2: true,
                k: 4,
                s: 0.0129817485,
                alpha: 0.9968178572,
                lambda: [0.0047901574, -0.0077374818, 0.0064008888, -0.0065152927],
                z: [0.7050477321, 0.0, 0.0, -0.4748727143],
            },
            // Condition 1 fails (ce 0.75 > ce_prev 0.7, W_prev aliases W); Z still moves.
            Expected {
                cond1: false,
                cond2: false,
                k: 4,
                s: 0.0129817485,
                alpha: 0.9972142482,
                lambda: [0.0047901574, -0.0077374818, 0.0064008888, -0.0065152927],
                z: [0.647901574, 0.0, 0.0, -0.5151529269],
            },
            Expected {
                cond1: true,
                cond2: true,
                k: 6,
                s: 0.0125629095,
                alpha: 0.9972142482,
                lambda: [0.0032256984, -0.0148798601, 0.0089517382, -0.0059812042],
                z: [0.656891648, 0.0, 0.0, -0.5684058009],
            },
        ],
    );
}

#[test]
fn slr_paper_scripted_sequence() {
    // The paper variant differs from epoch 2 on: condition 2 compares the penalties alone
    // (f(W) and −ρ/2‖U‖² are equal on both sides) and holds, so k = 3 and s changes; at epoch 4
    // the true copy of W_prev makes condition 1 fail while condition 2 holds.
    run_scripted(
        SlrVariant::Paper,
        &[
            Expected {
                cond1: false,
                cond2: true,
                k: 3,
                s: 0.0101308547,
                alpha: 0.9966666667,
                lambda: [0.0062908402, -0.0040261709, 0.0040441115, -0.0070457991],
                z: [0.77, 0.0, 0.495, 0.0],
            },
            Expected {
                cond1: true,
                cond2: true,
                k: 5,
                s: 0.0101823997,
                alpha: 0.9970267028,
                lambda: [0.0047956535, -0.0085540943, 0.0055526192, -0.0091771283],
                z: [0.7033932492, 0.0, 0.0, -0.5021751664],
            },
            Expected {
                cond1: false,
                cond2: true,
                k: 6,
                s: 0.0110232158,
                alpha: 0.9973759639,
                lambda: [0.0042670183, -0.011861059, 0.0077572623, -0.0081655136],
                z: [0.6479565351, 0.0, 0.0, -0.5417712826],
            },
            Expected {
                cond1: true,
                cond2: true,
                k: 8,
                s: 0.0133039202,
                alpha: 0.9975155522,
                lambda: [0.0033677895, -0.0194163588, 0.0104555837, -0.0065837974],
                z: [0.6588459264, 0.0, 0.0, -0.5759411199],
            },
        ],
    );
}

#[test]
fn paper_variant_rolls_z_back_when_condition_2_fails() {
    // Π(W + U) is the best sparse fit of W + U, so condition 2 fails only on a tie. Build one:
    // U = 0, W = [1, .5, .5, 0], Z_prev = [1, 0, .5, 0]; Π(W) keeps 1 and the first .5:
    // Z_new = [1, .5, 0, 0], and P(W, Z_new) = P(W, Z_prev) = ρ/2 · 0.25. With ce = ce_prev and
    // W_prev = W condition 1 fails too, so nothing else moves.
    for (variant, z_after) in [
        (SlrVariant::Paper, [1.0, 0.0, 0.5, 0.0]),
        (SlrVariant::Reference, [1.0, 0.5, 0.0, 0.0]),
    ] {
        let spec = SlrSpec {
            variant,
            ..SlrSpec::default()
        };
        let w = layers(&[("w", &[1.0, 0.5, 0.5, 0.0])]);
        let mut slr = Slr::new(spec, ratios(&[("w", 0.5)]), CountRule::Exact, &w);
        slr.k = 3;
        slr.aliased = true;
        slr.w_prev = w.clone();
        slr.z_prev = layers(&[("w", &[1.0, 0.0, 0.5, 0.0])]);
        slr.z = slr.z_prev.clone();
        let update = slr.update(&w, 0.5, 0.5);
        assert!(!update.cond1 && !update.cond2, "{variant:?}: {update:?}");
        assert_eq!((update.k, update.s), (3, 0.01));
        close(&v(&slr.z["w"]), &z_after, 0.0);
    }
}

#[test]
fn compression_reference_of_resnet18_layer_sizes() {
    // The authors' CIFAR ResNet-18 non-bias parameters (conv + fc weights and BN γ), p = 0.9 on
    // the 16 3x3 convs of the residual blocks (method.md sections 6-8):
    // stem 3·64·9 = 1,728; block convs: 64→64 x4 (36,864 each), 64→128 (73,728),
    // 128→128 x3 (147,456), 128→256 (294,912), 256→256 x3 (589,824), 256→512 (1,179,648),
    // 512→512 x3 (2,359,296); downsample 1x1: 8,192 + 32,768 + 131,072; fc 5,120;
    // BN γ: 64 (stem) + 2x(64 x2 + 128 x2 + 256 x2 + 512 x2) + 128 + 256 + 512 (downsample).
    let block: [usize; 16] = [
        36_864, 36_864, 36_864, 36_864, 73_728, 147_456, 147_456, 147_456, 294_912, 589_824,
        589_824, 589_824, 1_179_648, 2_359_296, 2_359_296, 2_359_296,
    ];
    let other = 1_728
        + 8_192
        + 32_768
        + 131_072
        + 5_120
        + (64 + 2 * (128 + 256 + 512 + 1024) + 128 + 256 + 512);
    let pruned: usize = block.iter().sum();
    let kept: usize = block
        .iter()
        .map(|n| projection::exact_keep_count(*n, 0.9))
        .sum();
    let reference = (pruned + other) as f64 / (kept + other) as f64;
    assert!((reference - 8.711).abs() < 5e-4, "{reference}");
    assert!((pruned as f64 / kept as f64 - 10.0).abs() < 1e-3);
}

#[test]
fn a_restored_slr_pruner_reports_its_update_as_the_original_does() {
    let (net, w0) = model_and_fc3(3);
    let rule = CountRule::Exact;
    let slr = Slr::new(
        SlrSpec::default(),
        ratios(&[("fc3.weight", 0.9)]),
        rule,
        &w0,
    );
    let mut original = Constrained::new(Method::Slr(slr.clone()));
    original.on_epoch_end(1, &net, 0.5).unwrap();
    // Epoch 2 updates: k, s, α, both conditions and the change of Z, in that order.
    original.on_epoch_start(2, &net).unwrap();
    let mut restored = Constrained::new(Method::Slr(slr));
    restored.load_state(&original.save_state()).unwrap();
    let keys = |p: &Constrained| -> Vec<(String, u64)> {
        p.epoch_metrics(&net)
            .into_iter()
            .map(|(m, value)| (m.key(), value.to_bits()))
            .collect()
    };
    let expected = keys(&original);
    let names: Vec<&str> = expected.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "w_minus_z",
            "grad_scale",
            "slr.k",
            "slr.s",
            "slr.alpha",
            "slr.cond1",
            "slr.cond2",
            "slr.z_change"
        ]
    );
    assert_eq!(keys(&restored), expected);
}
