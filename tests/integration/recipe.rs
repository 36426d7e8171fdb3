//! The ingredients of the ADMM paper's TensorFlow LeNet-5 recipe (issue 13): step budgets and
//! step-clocked updates, seeded dropout, TensorFlow's initialisation, and the `published`
//! profile that combines them.

use super::common::{load_spec, mnist, root};
use burn::tensor::{Device, Tensor};
use slr_repro::error::Result;
use slr_repro::models::{Dropout, Net, params};
use slr_repro::prune::admm::Admm;
use slr_repro::prune::constrained::{Constrained, Method};
use slr_repro::prune::{Pruner, PrunerState};
use slr_repro::spec::{AdmmSpec, BudgetSpec, CountRule, MethodSpec, ModelKind};
use slr_repro::train::task::LabelledBatch;
use slr_repro::train::{self, Classification, EpochRecord, Observer, Snapshot, Task};
use std::collections::BTreeMap;

/// Records the step-clocked updates the loop asks for.
struct RoundRecorder {
    every: usize,
    rounds: Vec<(usize, f64)>,
}

impl Pruner for RoundRecorder {
    fn update_every_steps(&self) -> Option<usize> {
        Some(self.every)
    }
    fn on_round_end(&mut self, step: usize, _model: &Net, mean_ce: f64) -> Result<()> {
        self.rounds.push((step, mean_ce));
        Ok(())
    }
    fn save_state(&self) -> PrunerState {
        PrunerState::default()
    }
}

#[derive(Default)]
struct Epochs(Vec<EpochRecord>);

impl Observer for Epochs {
    fn epoch(&mut self, record: &EpochRecord, _model: &Net) -> Result<()> {
        self.0.push(record.clone());
        Ok(())
    }
    fn checkpoint(&mut self, _snapshot: Snapshot) -> Result<()> {
        Ok(())
    }
}

#[test]
fn a_step_budget_stops_inside_its_last_pass_and_updates_before_step_5000() {
    super::common::pin_threads();
    // 10 images in batches of 2: 5 steps per pass; 5,002 steps are 1,000 passes and 2 steps.
    let data = mnist(10, 10);
    let budget = BudgetSpec {
        steps: Some(5002),
        ..BudgetSpec::default()
    };
    let settings = train::TrainSettings {
        budget: &budget,
        batch_size: 2,
        test_batch_size: 10,
        shuffle_seed: 3,
        fixed_batches: false,
        label: "steps".into(),
    };
    let device = Device::flex().autodiff();
    let net = Net::seeded(ModelKind::Lenet300100, &device, 1);
    let mut pruner = RoundRecorder {
        every: 5000,
        rounds: Vec::new(),
    };
    let mut observer = Epochs::default();
    let task = Classification::new(&device);
    train::train(
        net,
        &data,
        &settings,
        &task,
        &mut pruner,
        &mut observer,
        None,
    )
    .unwrap();
    let epochs = &observer.0;
    assert_eq!(epochs.len(), 1001);
    // One update, before global step 5,000 (after the first 5,000 steps), with the mean task
    // loss of those steps: every pass saw all 10 images, so it is the mean of the passes' means.
    assert_eq!(pruner.rounds.len(), 1);
    let (step, mean) = pruner.rounds[0];
    assert_eq!(step, 5000);
    let expected = epochs[..1000].iter().map(|e| e.train_ce).sum::<f64>() / 1000.0;
    assert!(
        ((mean - expected) / expected).abs() < 1e-9,
        "round mean {mean} vs {expected}"
    );
    // The last pass ran 2 steps (4 images): its mean is over those, and it is finite.
    assert!(epochs[1000].train_ce.is_finite() && epochs[1000].train_ce > 0.0);
}

#[test]
fn admm_with_interval_steps_updates_on_rounds_not_epochs() {
    let device = Device::flex();
    let net = Net::seeded(ModelKind::Lenet5Relu, &device, 1);
    let ratios: BTreeMap<String, f64> = [("fc2.weight".to_owned(), 0.93)].into();
    let w0 = params::flat(&net, &["fc2.weight".to_owned()]);
    let spec = AdmmSpec {
        rho: 1e-4,
        interval_steps: Some(5000),
        ..AdmmSpec::default()
    };
    let admm = Admm::new(spec, ratios, CountRule::Percentile, &w0);
    let mut pruner = Constrained::new(Method::Admm(admm));
    assert_eq!(pruner.update_every_steps(), Some(5000));
    let updates = |p: &Constrained| match &p.method {
        Method::Admm(a) => a.updates,
        Method::Slr(_) => unreachable!(),
    };
    // An epoch start is no update for a step-clocked ADMM...
    pruner.on_epoch_start(2, &net).unwrap();
    assert_eq!(updates(&pruner), 0);
    // ...the end of a round is.
    pruner.on_round_end(5000, &net, 0.3).unwrap();
    assert_eq!(updates(&pruner), 1);
    // The default (epoch clock) has no step-clocked updates.
    let epoch_clock = Admm::new(
        AdmmSpec::default(),
        [("fc2.weight".to_owned(), 0.93)].into(),
        CountRule::Percentile,
        &w0,
    );
    assert_eq!(
        Constrained::new(Method::Admm(epoch_clock)).update_every_steps(),
        None
    );
}

#[test]
fn dropout_masks_follow_their_seed() {
    let device = Device::flex();
    let mask = |p: f64, seed: u64| -> Vec<f32> {
        Dropout { p, seed }
            .mask([40, 500], &device)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    let a = mask(0.5, 7);
    assert_eq!(a, mask(0.5, 7), "same seed, same mask");
    assert_ne!(a, mask(0.5, 8), "another seed, another mask");
    // Kept units are scaled by 1 / keep_prob = 2; about half are kept (20,000 draws: the
    // binomial standard deviation is 0.35%).
    assert!(a.iter().all(|&x| x == 0.0 || x == 2.0));
    let kept = a.iter().filter(|&&x| x == 2.0).count() as f64 / a.len() as f64;
    assert!((kept - 0.5).abs() < 0.015, "kept fraction {kept}");
    let b = mask(0.25, 7);
    assert!(b.iter().all(|&x| x == 0.0 || x == (1.0f32 / 0.75)));
}

#[test]
fn training_dropout_changes_the_loss_per_batch_seed_only() {
    let data = mnist(8, 8);
    let device = Device::flex().autodiff();
    let net = Net::seeded(ModelKind::Lenet5Relu, &device, 1);
    let indices: Vec<usize> = (0..8).collect();
    let batch = |seed: u64| -> LabelledBatch {
        Classification::train_batch(&data, &indices, seed, true).unwrap()
    };
    let value = |task: &Classification, seed: u64| -> f64 {
        let loss: Tensor<1> = task.loss(&net, batch(seed));
        loss.into_scalar::<f64>()
    };
    let plain = Classification::new(&device);
    let dropped = Classification::new(&device).with_dropout(0.5);
    // Without dropout the seed plays no part (MNIST has no augmentation).
    assert_eq!(value(&plain, 1), value(&plain, 2));
    assert_eq!(value(&dropped, 1), value(&dropped, 1));
    assert_ne!(value(&dropped, 1), value(&dropped, 2));
    assert_ne!(value(&dropped, 1), value(&plain, 1));
}

#[test]
fn lenet5_relu_starts_as_tensorflow_initialises_it() {
    let net = Net::seeded(ModelKind::Lenet5Relu, &Device::flex(), 1);
    let values = |name: &str| -> Vec<f32> {
        params::flat(&net, &[name.to_owned()])[name]
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    for bias in ["conv1.bias", "conv2.bias", "fc1.bias", "fc2.bias"] {
        assert!(values(bias).iter().all(|&b| b == 0.1), "{bias}");
    }
    // tf.truncated_normal(stddev=0.1): within 2 stddev, standard deviation
    // 0.1 * sqrt(1 - 2 * 2 * phi(2) / (2 * Phi(2) - 1)) = 0.087963.
    let w = values("fc1.weight");
    assert_eq!(w.len(), 400_000);
    assert!(w.iter().all(|x| x.abs() <= 0.2));
    let n = w.len() as f64;
    let mean = w.iter().map(|&x| x as f64).sum::<f64>() / n;
    let std = (w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 5e-4, "mean {mean}");
    assert!((std - 0.087963).abs() < 5e-4, "std {std}");
}

#[test]
fn the_published_profile_is_the_tensorflow_recipe() {
    let loaded = load_spec(
        &root().join("experiments/lenet5-mnist.toml"),
        Some("published"),
    );
    let row = |name: &str| loaded.rows.iter().find(|r| r.name == name).unwrap();
    let admm = row("admm-detached");
    assert_eq!(admm.model, ModelKind::Lenet5Relu);
    assert_eq!(admm.batch_size, 50);
    assert_eq!(admm.data.holdout_first, Some(5000));
    // 20,000 steps of 1,100 batches per pass start 19 passes; 150,000 start 137.
    assert_eq!(
        (admm.pretrain.steps, admm.pretrain.epochs),
        (Some(20_000), 19)
    );
    assert_eq!((admm.train.steps, admm.train.epochs), (Some(150_000), 137));
    assert_eq!(
        (admm.retrain.steps, admm.retrain.epochs),
        (Some(20_000), 19)
    );
    assert_eq!(
        (
            admm.pretrain.dropout,
            admm.train.dropout,
            admm.retrain.dropout
        ),
        (0.5, 0.0, 0.5)
    );
    assert_eq!(admm.pretrain.optimizer.l2, 5e-5);
    assert_eq!(admm.train.optimizer.l2, 5e-5);
    assert_eq!(admm.retrain.optimizer.l2, 0.0);
    match &admm.method {
        MethodSpec::Admm(a) => {
            assert_eq!((a.rho, a.interval_steps), (1e-4, Some(5000)));
        }
        other => panic!("admm-detached is {other:?}"),
    }
    assert_eq!(
        admm.sparsity.as_ref().map(|s| s.count_rule),
        Some(CountRule::Percentile)
    );
    // SLR gets the same budget and update clock.
    let slr = row("slr-reference");
    assert_eq!(slr.train.steps, Some(150_000));
    match &slr.method {
        MethodSpec::Slr(s) => assert_eq!(s.interval_steps, Some(5000)),
        other => panic!("slr-reference is {other:?}"),
    }
}
