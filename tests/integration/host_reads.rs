//! Host round trips: every read of tensor values goes through `base::host` (so it is counted),
//! the training loop reads at most once between two steps (its batched loss read), and the
//! ADMM/SLR penalty and step read nothing.

use super::common::{mnist, pin_threads, root, rust_files};
use burn::tensor::Device;
use slr_repro::base::host;
use slr_repro::error::Result;
use slr_repro::models::{Net, params};
use slr_repro::prune::train_pruner;
use slr_repro::spec::{BudgetSpec, CountRule, MethodSpec, ModelKind, SparsitySpec, layer_ratios};
use slr_repro::train::{
    self, Classification, EpochRecord, Observer, READ_EVERY, Snapshot, StepView,
};

/// Calls that read tensor values back to the host.
const READS: [&str; 7] = [
    "into_scalar",
    "into_data(",
    "to_data(",
    "into_data_as",
    "to_data_as",
    "into_data_dtype",
    "to_data_dtype",
];

#[test]
fn every_read_of_tensor_values_in_the_library_goes_through_base_host() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut offenders = Vec::new();
    for file in &files {
        if file.ends_with("base/host.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            // Test modules sit at the end of a file and may read as they like.
            if line.trim_start().starts_with("#[cfg(") && line.contains("test") {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            if READS.iter().any(|r| code.contains(r)) && !code.contains("host::counting") {
                offenders.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "reads outside base::host (route them through it so they are counted):\n{}",
        offenders.join("\n")
    );
    // The scan sees the reads it must: base::host itself uses them.
    let host = std::fs::read_to_string(src.join("base/host.rs")).unwrap();
    assert!(READS[..2].iter().all(|r| host.contains(r)));
}

/// Host reads counted at every step and epoch.
#[derive(Default)]
struct ReadLog {
    /// (epoch, step, reads so far) after each step.
    steps: Vec<(usize, usize, u64)>,
    epochs: usize,
}

impl Observer for ReadLog {
    fn step(&mut self, view: StepView) -> Result<()> {
        self.steps.push((view.epoch, view.step, host::reads()));
        Ok(())
    }
    fn epoch(&mut self, _record: &EpochRecord, _model: &Net) -> Result<()> {
        self.epochs += 1;
        Ok(())
    }
    fn checkpoint(&mut self, _snapshot: Snapshot) -> Result<()> {
        Ok(())
    }
}

/// LeNet-5 on 640 MNIST images in batches of 32 (20 steps per epoch), 2 epochs, dense, ADMM
/// and SLR at their defaults: between two steps of an epoch the loop reads once after every
/// 16th step (the batched losses) and never otherwise, so the step itself (forward, loss,
/// penalty, backward, optimizer, the pruner's after-step) reads nothing. The pruners' updates
/// at the epoch's start do read (norms, conditions, projections) and are not counted here.
#[test]
fn a_training_step_reads_nothing_and_the_loop_reads_once_per_16_steps() {
    pin_threads();
    let data = mnist(640, 100);
    let budget = BudgetSpec {
        epochs: 2,
        ..BudgetSpec::default()
    };
    let settings = train::TrainSettings {
        budget: &budget,
        batch_size: 32,
        test_batch_size: 100,
        shuffle_seed: 5,
        fixed_batches: false,
        label: "reads".into(),
    };
    let device = Device::flex().autodiff();
    let model = ModelKind::Lenet5;
    let sparsity = SparsitySpec {
        uniform: Some(0.8),
        ..Default::default()
    };
    let ratios = layer_ratios(model, &sparsity);
    let names: Vec<String> = ratios.keys().cloned().collect();
    assert_eq!(READ_EVERY, 16);
    for method in std::iter::once(MethodSpec::Dense).chain(
        MethodSpec::defaults()
            .into_iter()
            .filter(MethodSpec::trains),
    ) {
        let net = Net::seeded(model, &device, 1);
        let w0 = params::flat(&net, &names);
        let mut pruner = train_pruner(&method, &ratios, CountRule::Exact, &w0).unwrap();
        let mut log = ReadLog::default();
        let task = Classification::new(&device);
        train::train(net, &data, &settings, &task, &mut *pruner, &mut log, None).unwrap();
        assert_eq!(log.epochs, 2);
        assert_eq!(log.steps.len(), 40);
        let name = method.name().name();
        for epoch in 1..=2 {
            let steps: Vec<_> = log.steps.iter().filter(|s| s.0 == epoch).collect();
            for pair in steps.windows(2) {
                let (step, reads) = (pair[1].1, pair[1].2 - pair[0].2);
                // Step 16 (0-based) follows the read of steps 0..15.
                let expected = u64::from(step == READ_EVERY);
                assert_eq!(
                    reads, expected,
                    "{name}: epoch {epoch}, reads between steps {} and {step}",
                    pair[0].1
                );
            }
        }
    }
}
