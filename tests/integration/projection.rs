//! Exact-count projection, masks through optimizer steps, schedules.

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use slr_repro::models::Net;
use slr_repro::models::params;
use slr_repro::prune::{self, MaskedRetrain, Pruner, projection};
use slr_repro::spec::{ModelKind, ScheduleKind, ScheduleSpec, SgdSpec};
use slr_repro::train::{optim::Sgd, schedule::lr_at};

fn tensor(values: &[f32]) -> Tensor<1> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len()]),
        &Device::flex(),
    )
}

fn values(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn exact_rule_counts() {
    // round((1 - p) n): 36,864 weights at p = 0.9 keep round(3686.4) = 3686 (zero 33,178).
    assert_eq!(projection::exact_keep_count(36_864, 0.9), 3686);
    // The ADMM paper's LeNet-5 layers: 500 x 20% = 100, 25,000 x 8% = 2,000,
    // 400,000 x 0.9% = 3,600, 5,000 x 7% = 350.
    assert_eq!(projection::exact_keep_count(500, 0.8), 100);
    assert_eq!(projection::exact_keep_count(25_000, 0.92), 2000);
    assert_eq!(projection::exact_keep_count(400_000, 0.991), 3600);
    assert_eq!(projection::exact_keep_count(5_000, 0.93), 350);
    assert_eq!(projection::exact_keep_count(10, 0.0), 10);
}

#[test]
fn ties_go_to_the_lower_index() {
    let x = tensor(&[3.0, -1.0, 2.0, -3.0, 0.5, 2.0]);
    // |x| = 3 1 2 3 0.5 2: the two 3s, then the first 2 (index 2).
    assert_eq!(
        values(projection::top_k_mask(&x, 3)),
        vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(
        values(projection::top_k_mask(&x, 4)),
        vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    );
    assert_eq!(values(projection::top_k_mask(&x, 6)), vec![1.0; 6]);
    assert_eq!(values(projection::top_k_mask(&x, 0)), vec![0.0; 6]);
    let equal = tensor(&[1.0, -1.0, 1.0, -1.0]);
    assert_eq!(
        values(projection::top_k_mask(&equal, 2)),
        vec![1.0, 1.0, 0.0, 0.0]
    );
}

#[test]
fn every_pruned_magnitude_is_at_most_every_kept_one() {
    let device = Device::flex();
    device.seed(7);
    let x: Tensor<1> = Tensor::random([10_000], Distribution::Normal(0.0, 1.0), &device);
    let mask = projection::top_k_mask(&x, 1234);
    assert_eq!(projection::count_nonzero(&mask), 1234);
    let x = values(x);
    let mask = values(mask);
    let kept_min = x
        .iter()
        .zip(&mask)
        .filter(|(_, m)| **m == 1.0)
        .map(|(v, _)| v.abs())
        .fold(f32::INFINITY, f32::min);
    let pruned_max = x
        .iter()
        .zip(&mask)
        .filter(|(_, m)| **m == 0.0)
        .map(|(v, _)| v.abs())
        .fold(0.0, f32::max);
    assert!(pruned_max <= kept_min, "{pruned_max} > {kept_min}");
}

/// The device selection (top-k, no reads; what a GPU runs) gives the host selection's masks
/// (bisection with reads; what a CPU runs) exactly, under both count rules, with ties at the
/// threshold, from either end of the top-k, and reads nothing.
#[test]
fn the_device_selection_gives_the_host_selections_masks_without_a_read() {
    use projection::Selection;
    use slr_repro::base::host;
    let device = Device::flex();
    device.seed(11);
    let normal: Tensor<1> = Tensor::random([5_003], Distribution::Normal(0.0, 1.0), &device);
    // Rounded to quarters: many ties at every threshold.
    let tied = normal.clone().mul_scalar(4.0).round().div_scalar(4.0);
    let hand = tensor(&[3.0, -1.0, 2.0, -3.0, 0.5, 2.0, 0.0, -2.0]);
    for x in [normal, tied, hand] {
        let n = x.dims()[0];
        for ratio in [0.0, 0.2, 0.5, 0.8, 0.9, 0.991] {
            let keep = projection::exact_keep_count(n, ratio);
            let host = values(projection::top_k_mask_by(&x, keep, Selection::Host));
            let before = host::reads();
            let on_device = projection::top_k_mask_by(&x, keep, Selection::Device);
            assert_eq!(host::reads(), before, "top-k mask read a value");
            assert_eq!(values(on_device), host, "exact rule, n {n}, ratio {ratio}");
            let host = values(projection::percentile_mask_by(&x, ratio, Selection::Host));
            let before = host::reads();
            let on_device = projection::percentile_mask_by(&x, ratio, Selection::Device);
            assert_eq!(host::reads(), before, "percentile mask read a value");
            assert_eq!(
                values(on_device),
                host,
                "percentile rule, n {n}, ratio {ratio}"
            );
        }
    }
    // On the CPU the projection bisects with reads.
    let x = tensor(&[3.0, -1.0, 2.0]);
    assert_eq!(Selection::of(&x), Selection::Host);
}

/// numpy's `percentile` (linear, `_lerp` from the nearer end), by hand: position p (n − 1).
#[test]
fn percentile_value_is_numpys_and_the_gradient_mask_is_strictly_above_it() {
    let x = tensor(&[0.1, -0.4, 0.2, 0.9]);
    // Ascending |x| = 0.1, 0.2, 0.4, 0.9; 30%: position 0.9, 0.2 − 0.1 x 0.1 = 0.19.
    let q = projection::percentile_value(&x, 0.3);
    assert!((q - 0.19).abs() < 1e-7, "{q}");
    // 50%: position 1.5 between 0.2 and 0.4.
    assert!((projection::percentile_value(&x, 0.5) - 0.3).abs() < 1e-7);
    let y = tensor(&[0.0, 3.0, 0.0, -1.0, 0.0, 2.0, 0.0]);
    // Position 0.5 x 6 = 3: the percentile is the 4th smallest |y|, 0, then 1 at 4/6.
    assert_eq!(projection::percentile_value(&y, 0.5), 0.0);
    assert_eq!(
        values(projection::above_percentile_mask(&y, 0.5)),
        [0., 1., 0., 1., 0., 1., 0.]
    );
    assert_eq!(projection::percentile_value(&y, 4.0 / 6.0), 1.0);
    assert_eq!(
        values(projection::above_percentile_mask(&y, 4.0 / 6.0)),
        [0., 1., 0., 0., 0., 1., 0.]
    );
}

/// The authors' masked retraining (`retrain_mask = "reference"`) withholds the gradient of a
/// kept weight at the percentile; the hard-prune mask trains it. fc3 (1,000 weights) at 0.9:
/// position 899.1; with 899 zeros the percentile lies between the two smallest kept
/// magnitudes, so the smallest (index 899) is frozen.
#[test]
fn reference_retraining_freezes_the_kept_weight_at_the_percentile() {
    let device = Device::flex().autodiff();
    let model = Net::init(ModelKind::Lenet300100, &device);
    let weights: Vec<f32> = (0..1000)
        .map(|i| {
            if i < 899 {
                0.0
            } else {
                (i - 898) as f32 * if i % 2 == 0 { 0.01 } else { -0.01 }
            }
        })
        .collect();
    let model = params::map_flat(model, |name, _| {
        (name == "fc3.weight")
            .then(|| Tensor::from_data(TensorData::new(weights.clone(), [1000]), &device))
    });
    let names = vec!["fc3.weight".to_owned()];
    let ones = || Tensor::<1>::ones([1000], &device);
    let hard = MaskedRetrain::from_model(&model, &names);
    let trained = values(hard.adjust_grad("fc3.weight", ones()));
    assert_eq!(trained.iter().filter(|v| **v == 1.0).count(), 101);
    let ratios = [("fc3.weight".to_owned(), 0.9)].into_iter().collect();
    let mut reference = MaskedRetrain::from_model(&model, &names).freezing_at_percentile(ratios);
    reference.on_epoch_start(1, &model).unwrap();
    let trained = values(reference.adjust_grad("fc3.weight", ones()));
    assert_eq!(trained.iter().filter(|v| **v == 1.0).count(), 100);
    assert_eq!((trained[898], trained[899], trained[900]), (0.0, 0.0, 1.0));
    // A resumed epoch keeps the epoch's gradient masks.
    let mut resumed = MaskedRetrain::from_model(&model, &names);
    resumed.load_state(&reference.save_state()).unwrap();
    assert_eq!(values(resumed.adjust_grad("fc3.weight", ones())), trained);
}

#[test]
fn masked_retraining_keeps_pruned_weights_at_zero() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let model = Net::init(ModelKind::Lenet300100, &device);
    let names = vec!["fc1.weight".to_owned(), "fc2.weight".to_owned()];
    let ratios = names.iter().map(|n| (n.clone(), 0.9)).collect();
    let masks = prune::Magnitude {
        ratios,
        rule: slr_repro::spec::CountRule::Exact,
    }
    .masks(&model)
    .unwrap();
    let mut model = prune::apply_masks(model, &masks);
    let pruner = MaskedRetrain::from_model(&model, &names);
    let mut sgd = Sgd::new(SgdSpec {
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        weight_decay: 0.01,
        ..SgdSpec::default()
    });
    let images: Tensor<4> =
        Tensor::random([16, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let labels = Tensor::<1, burn::tensor::Int>::from_data(
        TensorData::new((0..16i64).map(|i| i % 10).collect::<Vec<_>>(), [16]),
        &device,
    );
    let before = params::flat(&model, &names);
    for _ in 0..3 {
        let loss = burn::nn::loss::CrossEntropyLoss::new(None, &device)
            .forward(model.forward(images.clone()), labels.clone());
        let grads = loss.backward();
        model = sgd.step(model, &grads, 0.1, &pruner);
        model = pruner.after_step(model);
    }
    let after = params::flat(&model, &names);
    for name in &names {
        let b = values(before[name].clone());
        let a = values(after[name].clone());
        let zeros_before = b.iter().filter(|v| **v == 0.0).count();
        // 90% of 235,200 (fc1) or 30,000 (fc2) weights were pruned.
        assert_eq!(
            zeros_before,
            if name == "fc1.weight" {
                211_680
            } else {
                27_000
            }
        );
        for (x, y) in b.iter().zip(&a) {
            if *x == 0.0 {
                assert_eq!(*y, 0.0, "{name}: a pruned weight moved");
            }
        }
        assert_ne!(a, b, "{name}: kept weights should train");
    }
}

#[test]
fn sgd_matches_pytorch_update_rule() {
    // One LeNet-300-100 parameter checked against the rule by hand: with momentum m, Nesterov,
    // weight decay wd, the first step is d = g + wd w; buf = d; w' = w - lr (d + m buf).
    let device = Device::flex().autodiff();
    device.seed(5);
    let model = Net::init(ModelKind::Lenet300100, &device);
    let images: Tensor<4> = Tensor::random([4, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let labels = Tensor::<1, burn::tensor::Int>::from_data(
        TensorData::new(vec![1i64, 2, 3, 4], [4]),
        &device,
    );
    let loss =
        burn::nn::loss::CrossEntropyLoss::new(None, &device).forward(model.forward(images), labels);
    let grads = loss.backward();
    let name = vec!["fc3.bias".to_owned()];
    let w = values(params::flat(&model, &name)["fc3.bias"].clone());
    // Gradient of the bias by hand is not needed: recover it from a plain SGD step (lr 1).
    let mut plain = Sgd::new(SgdSpec {
        lr: 1.0,
        momentum: 0.0,
        nesterov: false,
        weight_decay: 0.0,
        ..SgdSpec::default()
    });
    let stepped = plain.step(model.clone(), &grads, 1.0, &prune::Dense);
    let g: Vec<f32> = w
        .iter()
        .zip(values(params::flat(&stepped, &name)["fc3.bias"].clone()))
        .map(|(a, b)| a - b)
        .collect();
    let (lr, m, wd) = (0.1f32, 0.9f32, 0.01f32);
    let mut nesterov = Sgd::new(SgdSpec {
        lr: lr as f64,
        momentum: m as f64,
        nesterov: true,
        weight_decay: wd as f64,
        ..SgdSpec::default()
    });
    let updated = values(
        params::flat(
            &nesterov.step(model, &grads, lr as f64, &prune::Dense),
            &name,
        )["fc3.bias"]
            .clone(),
    );
    for i in 0..w.len() {
        let d = g[i] + wd * w[i];
        let expected = w[i] - lr * (d + m * d);
        assert!(
            (updated[i] - expected).abs() < 1e-6,
            "{i}: {} vs {expected}",
            updated[i]
        );
    }
}

#[test]
fn schedules() {
    let spec = |kind| ScheduleSpec {
        kind,
        step_size: 2,
        gamma: 0.5,
        period_epochs: None,
    };
    assert_eq!(
        lr_at(0.1, &spec(ScheduleKind::Constant), 7, 3, 100, 1000),
        0.1
    );
    // Step: 0.1 x 0.5^(5 / 2) = 0.1 x 0.25.
    assert!((lr_at(0.1, &spec(ScheduleKind::Step), 5, 0, 100, 1000) - 0.025).abs() < 1e-15);
    // Cosine per step: halfway through 10 x 100 steps the rate is half the base.
    assert!((lr_at(0.1, &spec(ScheduleKind::Cosine), 5, 0, 100, 1000) - 0.05).abs() < 1e-15);
    // Reference cosine: T_max = 1000 steps but stepped once before each epoch, so 0-based
    // epoch 5 runs at t = 6: 4e-8 + 0.5 (0.1 - 4e-8)(1 + cos(6 pi / 1000)), with
    // cos(0.018849556) = 1 - 1.77652879e-4 + 5.2601e-9: 0.0999911176...
    let reference = lr_at(0.1, &spec(ScheduleKind::ReferenceCosine), 5, 42, 100, 1000);
    let expected = 4e-8 + 0.5 * (0.1 - 4e-8) * (2.0 - 1.776_528_79e-4 + 5.2601e-9);
    assert!(
        (reference - expected).abs() < 1e-12,
        "{reference} {expected}"
    );
    // With the period of another stage (the authors' retraining: T_max from the 10 training
    // epochs of 100 steps while it runs 2): epoch 0 runs at t = 1 of 1000.
    let period = ScheduleSpec {
        period_epochs: Some(10),
        ..spec(ScheduleKind::ReferenceCosine)
    };
    let first = lr_at(0.1, &period, 0, 0, 100, 200);
    let expected = 4e-8 + 0.5 * (0.1 - 4e-8) * (1.0 + (std::f64::consts::PI / 1000.0).cos());
    assert!((first - expected).abs() < 1e-15, "{first} {expected}");
}

#[test]
fn one_adam_step_with_coupled_l2_by_hand() {
    use slr_repro::spec::OptimizerKind;
    use slr_repro::train::optim::adam_update;
    let device = burn::tensor::Device::flex();
    let tensor = |v: [f32; 4]| burn::tensor::Tensor::<1>::from_floats(v, &device);
    // A 2x2 weight, flattened, its gradient, and the coupled L2 term 5e-5 · W added to it:
    // d = [0.10005, 0.1999, -0.299975, 0.0002]. First step (t = 1): m = 0.1 d,
    // v = 0.001 d², lr_t = 1e-3 · √0.001 / 0.1 = 3.16227766e-4, w - lr_t · m / (√v + 1e-8).
    let spec = SgdSpec {
        kind: OptimizerKind::Adam,
        lr: 1e-3,
        l2: 5e-5,
        ..SgdSpec::default()
    };
    let w = tensor([1.0, -2.0, 0.5, 4.0]);
    let d = tensor([0.1, 0.2, -0.3, 0.0]) + w.clone().mul_scalar(spec.l2);
    let (w1, m, v) = adam_update(w, d, None, None, 1, spec.lr, &spec);
    let values = |t: burn::tensor::Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
    let expected = [
        0.999_000_003_2,
        -2.000_999_998_4,
        0.500_999_998_9,
        3.999_001_578_6,
    ];
    for (got, want) in values(w1).into_iter().zip(expected) {
        assert!((got as f64 - want).abs() < 1e-6, "{got} vs {want}");
    }
    for (got, want) in values(m)
        .into_iter()
        .zip([0.010005, 0.01999, -0.0299975, 0.00002])
    {
        assert!((got as f64 - want).abs() < 1e-8, "{got} vs {want}");
    }
    let v = values(v);
    assert!((v[3] as f64 - 4.0e-11).abs() < 1e-15, "{v:?}");
}

/// `adam-torch` against `torch.optim.Adam(lr=1e-3)` itself (torch 2.11, float64, two steps of
/// the gradients below; the values it printed): ε after the bias correction, so a gradient of
/// 1e-7 moves its weight by 9.09e-4 at the first step, where TensorFlow's form (`adam`) moves it
/// by 2.4e-4.
#[test]
fn two_torch_adam_steps_equal_torch_optim_adams() {
    use slr_repro::spec::OptimizerKind;
    use slr_repro::train::optim::adam_update;
    let device = burn::tensor::Device::flex();
    let tensor = |v: [f32; 4]| burn::tensor::Tensor::<1>::from_floats(v, &device);
    let values = |t: &burn::tensor::Tensor<1>| t.clone().into_data().try_to_vec::<f32>().unwrap();
    let torch = SgdSpec {
        kind: OptimizerKind::AdamTorch,
        lr: 1e-3,
        ..SgdSpec::default()
    };
    let w = tensor([0.0, 0.5, -0.25, 0.0]);
    let d1 = tensor([1e-7, 0.2, -0.3, 0.0]);
    let (w1, m, v) = adam_update(w.clone(), d1.clone(), None, None, 1, 1e-3, &torch);
    let (w2, m, v) = adam_update(
        w1.clone(),
        tensor([1e-7, -0.1, 0.3, 1e-3]),
        Some(m),
        Some(v),
        2,
        1e-3,
        &torch,
    );
    let close = |got: Vec<f32>, want: [f64; 4], tolerance: f64| {
        for (got, want) in got.into_iter().zip(want) {
            assert!(
                (got as f64 - want).abs() <= tolerance * want.abs().max(1e-3),
                "{got} vs {want}"
            );
        }
    };
    close(
        values(&w1),
        [-9.0909090909e-04, 4.9900000005e-01, -2.4900000003e-01, 0.0],
        1e-6,
    );
    close(
        values(&w2),
        [
            -1.8181818182e-03,
            4.9873366303e-01,
            -2.4905263161e-01,
            -7.4412630266e-04,
        ],
        1e-6,
    );
    close(values(&m), [1.9e-08, 8.0e-03, 3.0e-03, 1.0e-04], 1e-6);
    let v = values(&v);
    assert!(
        (v[0] as f64 - 1.999e-17).abs() < 1e-22 && (v[3] as f64 - 1e-9).abs() < 1e-15,
        "{v:?}"
    );
    // TensorFlow's form from the same start: ε before the bias correction.
    let tensorflow = SgdSpec {
        kind: OptimizerKind::Adam,
        ..torch
    };
    let (tf1, _, _) = adam_update(w, d1, None, None, 1, 1e-3, &tensorflow);
    let expected = -1e-3 * 0.001f64.sqrt() / 0.1 * 1e-8 / (0.001f64.sqrt() * 1e-7 + 1e-8);
    close(
        values(&tf1),
        [expected, 4.9900000005e-01, -2.4900000003e-01, 0.0],
        1e-6,
    );
}
