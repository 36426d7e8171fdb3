//! Step-for-step replays of the reference traces that scripts/fidelity_trace.py writes under
//! tests/fixtures/fidelity/ (the SLR authors' CIFAR-10 code, mirrored in PyTorch): our training
//! loop, pruners, hard prune and masked retraining start from the trace's weights and batches
//! and are compared with every step. Shared by two test binaries: `integration` replays the
//! float32 traces, `fidelity64` the float64 ones (a device's float type is fixed per process).

use crate::common::root;
use burn::module::Module;
use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use serde_json::Value;
use slr_repro::base::backend::Backend;
use slr_repro::base::sha256_hex;
use slr_repro::catalog::{Architecture, ResNetConfig, UfldConfig, YoloConfig};
use slr_repro::data::{self, Dataset, Examples, LaneSplit, tusimple};
use slr_repro::error::Result;
use slr_repro::metrics::Metric;
use slr_repro::models::{Net, ResNet, Ufld, Vgg16, Yolo, import_pytorch, params};
use slr_repro::prune::{Magnitude, MaskedRetrain, Pruner, apply_masks, train_pruner};
use slr_repro::spec::{
    AdmmSpec, BudgetSpec, CountRule, DataSpec, DatasetKind, MethodSpec, ModelKind, OptimizerKind,
    ScheduleKind, ScheduleSpec, SgdSpec, SlrSpec,
};
use slr_repro::train::{
    self, EpochRecord, ModelTask, Observer, Snapshot, StepView, Task, TrainSettings,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Loss agreement per step on the `cpu` backend (relative), and of the final weights
/// (absolute, as a fraction of each tensor's largest magnitude).
const LOSS_TOLERANCE: f64 = 1e-4;
const WEIGHT_TOLERANCE: f64 = 1e-4;
/// Per-layer norms ‖W‖, ‖W − Z‖, ‖U‖ per step (relative), and BatchNorm running statistics
/// (relative to their magnitude, at least 0.01: running means start at 0).
const NORM_TOLERANCE: f64 = 1e-4;
const BN_TOLERANCE: f64 = 1e-3;

/// The backend the replays run on: `SLR_FIDELITY_BACKEND` (`just fidelity tch` sets
/// `tch-cpu`), the pure-Rust `cpu` by default.
pub fn backend() -> Backend {
    let name = std::env::var("SLR_FIDELITY_BACKEND").unwrap_or_else(|_| "cpu".into());
    Backend::parse(&name).expect("SLR_FIDELITY_BACKEND names a compiled backend")
}

/// Loss agreement per step: 1e-4 on burn's own kernels, 1e-5 on libtorch's (PyTorch's).
pub fn loss_tolerance() -> f64 {
    match backend() {
        Backend::Cpu => LOSS_TOLERANCE,
        _ => 1e-5,
    }
}

/// The floating-point type a trace ran in (its `dtype`, float32 when absent).
pub fn precision(trace: &Value) -> FloatDType {
    match trace["dtype"].as_str().unwrap_or("float32") {
        "float32" => FloatDType::F32,
        "float64" => FloatDType::F64,
        other => panic!("a trace in {other}: only float32 and float64 are replayed"),
    }
}

/// The replay backend's autodiff device with `dtype` as its float type. The type is fixed per
/// device for the life of a process (burn's device settings), so float64 traces replay in
/// their own test binary (`fidelity64`), which sets it before any tensor exists.
pub fn device(dtype: FloatDType) -> Device {
    let mut device = backend().device();
    if dtype != FloatDType::F32 {
        // Another test of the binary may have set it first: what counts is the outcome.
        let _ = device.configure(dtype);
    }
    let actual = device.settings().float_dtype;
    assert_eq!(
        actual,
        dtype,
        "this binary's {} device computes in {actual:?}: a {dtype:?} trace replays in `cargo test --test fidelity64`",
        backend().name()
    );
    device.autodiff()
}

pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures/fidelity")
}

pub fn trace(family: &str) -> Value {
    let path = fixtures().join(format!("{family}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/fidelity_trace.py writes it)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("a trace is JSON")
}

/// The model kind of a traced family.
pub fn kind_of(family: &str) -> ModelKind {
    match family {
        "resnet18-cifar" => ModelKind::Resnet18Cifar,
        "resnet50-cifar" => ModelKind::Resnet50Cifar,
        "vgg16-cifar" => ModelKind::Vgg16Cifar,
        "resnet18-imagenet" => ModelKind::Resnet18Imagenet,
        "resnet50-imagenet" => ModelKind::Resnet50Imagenet,
        "yolov3-tiny" => ModelKind::Yolov3Tiny,
        "ufld-small" => ModelKind::UfldSmall,
        other => panic!("no model for traced family {other}"),
    }
}

/// The family's model at the trace's width (and with its classes, where it has fewer than
/// the model's data set), with the weights of `file` (a state dict the trace script saved).
pub fn model(trace: &Value, file: &str, device: &Device) -> Net {
    let family = trace["family"].as_str().unwrap();
    let base = trace["base"].as_u64().unwrap_or(64) as usize;
    let kind = kind_of(family);
    let entry = kind.entry();
    let net = match entry.architecture {
        Architecture::ResNet(config) => Net::ResNet(ResNet::new(
            device,
            ResNetConfig {
                width: base,
                classes: trace["classes"]
                    .as_u64()
                    .map_or(config.classes, |c| c as usize),
                ..config
            },
        )),
        Architecture::Vgg16 => Net::Vgg16(Vgg16::with_width(device, entry.classes, base)),
        Architecture::Ufld(config) => Net::Ufld(Ufld::new(
            device,
            UfldConfig {
                width: base,
                hidden: trace["hidden"].as_u64().unwrap() as usize,
                ..config
            },
            entry.input,
        )),
        Architecture::Yolo(config) => Net::Yolo(Yolo::new(
            device,
            YoloConfig {
                width_divisor: trace["width_divisor"].as_u64().unwrap() as usize,
                ..config
            },
        )),
        _ => panic!("{family} has no narrow variant"),
    };
    import_pytorch(net, kind, &fixtures().join(file)).expect("the trace's weights load")
}

/// The 20 real CIFAR-10 images, the trace's training and test set.
pub fn images(device: &Device) -> Dataset {
    let data_root = root().join("data");
    data::load(
        &data_root,
        DatasetKind::Cifar10Test20,
        &DataSpec::default(),
        device,
    )
    .expect("data/cifar10-test20 (`cargo run -- data fetch cifar10-test20`; just test does)")
}

/// A trace's training and test set: the CIFAR-10 images, or the generated ImageNet stand-in
/// (tests/fixtures/fidelity/imagenet/, `train` and `val` the same images) through our
/// ImageFolder pipeline.
pub fn data_of(trace: &Value, device: &Device) -> Dataset {
    match trace["dataset"].as_str().unwrap_or("cifar10-test20") {
        "cifar10-test20" => images(device),
        "imagenet" => data::load(
            &fixtures(),
            DatasetKind::Imagenet,
            &DataSpec::default(),
            device,
        )
        .expect("tests/fixtures/fidelity/imagenet (scripts/fidelity_trace.py writes it)"),
        // Generated shapes at the model's input size, so that letterboxing is the identity
        // on both sides (scripts/fidelity_trace_yolo.py).
        "synthetic-coco" => data::load(
            &fixtures(),
            DatasetKind::SyntheticCoco,
            &DataSpec {
                augment: Some(false),
                ..DataSpec::default()
            },
            device,
        )
        .expect("tests/fixtures/fidelity/synthetic-coco (scripts/fidelity_trace_yolo.py)"),
        // TuSimple-format frames at 1280x720 (our loader reads labels in those coordinates),
        // resized to the input by both sides (scripts/fidelity_trace_ufld.py).
        "synthetic-lanes" => {
            let dir = fixtures().join(trace["data_root"].as_str().unwrap());
            let split = |file: &str| {
                let items = tusimple::read_split(&dir, &[file]).expect("the traced lanes");
                Examples::Lanes(LaneSplit {
                    items: std::sync::Arc::new(items),
                    input: [64, 160],
                    griding_num: trace["griding_num"].as_u64().unwrap() as usize,
                    augment: false,
                    device: device.clone(),
                })
            };
            Dataset {
                kind: DatasetKind::SyntheticLanes,
                train: split("label_data_synthetic.json"),
                test: split("test_label.json"),
            }
        }
        other => panic!("no traced data set {other}"),
    }
}

/// The optimizer and schedule of one run of a trace: the run's own where it names them (the
/// ImageNet traces' dense run: torchvision's recipe; the detection traces name every run's),
/// else the trace's optimizer under the reference cosine, T_max over `period` epochs (the
/// training phase's, which the authors' retraining keeps).
pub fn budget(trace: &Value, run: &Value, epochs: usize, period: usize) -> BudgetSpec {
    let o = if run["optimizer"].is_object() {
        &run["optimizer"]
    } else {
        &trace["optimizer"]
    };
    let s = &run["schedule"];
    let schedule = match s["kind"].as_str() {
        Some("step") => ScheduleSpec {
            kind: ScheduleKind::Step,
            step_size: s["step_size"].as_u64().unwrap() as usize,
            gamma: s["gamma"].as_f64().unwrap(),
            ..ScheduleSpec::default()
        },
        Some("constant") => ScheduleSpec::default(),
        None | Some("reference-cosine") => ScheduleSpec {
            kind: ScheduleKind::ReferenceCosine,
            period_epochs: Some(s["period_epochs"].as_u64().map_or(period, |p| p as usize)),
            ..ScheduleSpec::default()
        },
        Some(other) => panic!("no traced schedule {other}"),
    };
    let kind = match o["kind"].as_str() {
        None | Some("sgd") => OptimizerKind::Sgd,
        // The traces run `torch.optim.Adam`.
        Some("adam") => OptimizerKind::AdamTorch,
        Some(other) => panic!("no traced optimizer {other}"),
    };
    let mut optimizer = SgdSpec {
        kind,
        lr: o["lr"].as_f64().unwrap(),
        momentum: o["momentum"].as_f64().unwrap(),
        nesterov: o["nesterov"].as_bool().unwrap(),
        weight_decay: o["weight_decay"].as_f64().unwrap(),
        ..SgdSpec::default()
    };
    if kind.is_adam() {
        optimizer.beta1 = o["beta1"].as_f64().unwrap();
        optimizer.beta2 = o["beta2"].as_f64().unwrap();
        optimizer.eps = o["eps"].as_f64().unwrap();
    }
    BudgetSpec {
        epochs,
        optimizer,
        schedule,
        ..BudgetSpec::default()
    }
}

pub fn ratios(trace: &Value) -> BTreeMap<String, f64> {
    trace["ratios"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, r)| (name.clone(), r.as_f64().unwrap()))
        .collect()
}

/// First 16 hex digits of the SHA-256 of a tensor's non-zero pattern as 0/1 bytes.
pub fn digest(t: &Tensor<1>) -> String {
    let bits: Vec<u8> = t
        .clone()
        .not_equal_elem(0.0)
        .int()
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap()
        .into_iter()
        .map(|b| b as u8)
        .collect();
    sha256_hex(&bits)[..16].to_owned()
}

pub fn norm(t: &Tensor<1>) -> f64 {
    let v: Vec<f64> = t.clone().into_data().convert::<f64>().try_to_vec().unwrap();
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

pub fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f64>()
}

pub fn values(t: &Tensor<1>) -> Vec<f64> {
    t.clone().into_data().convert::<f64>().try_to_vec().unwrap()
}

/// (kept count, digest) of every layer of a group of masks or sparse tensors.
pub fn mask_summary(tensors: &BTreeMap<String, Tensor<1>>) -> BTreeMap<String, (usize, String)> {
    tensors
        .iter()
        .map(|(name, t)| {
            let kept = values(t).iter().filter(|v| **v != 0.0).count();
            (name.clone(), (kept, digest(t)))
        })
        .collect()
}

/// What a replay measured at one step.
#[derive(Debug, Default)]
pub struct Step {
    pub epoch: usize,
    pub lr: f64,
    pub ce: f64,
    pub loss: f64,
    /// Per pruned layer: ‖W‖, ‖W − Z‖, ‖U‖ (the last two only under ADMM or SLR).
    pub layers: BTreeMap<String, Vec<f64>>,
    /// Running mean and variance of the traced BatchNorm layers.
    pub bn: BTreeMap<String, Vec<f64>>,
}

/// What an update of the auxiliary variables did.
#[derive(Debug, Default)]
struct Update {
    epoch: usize,
    scalars: BTreeMap<&'static str, f64>,
    masks: BTreeMap<String, (usize, String)>,
}

/// Records every step of a training call.
pub struct Recording<'a> {
    ratios: &'a BTreeMap<String, f64>,
    bn_layers: Vec<String>,
    rho: f64,
    pub steps: Vec<Step>,
    updates: Vec<Update>,
    /// What the trace measures after each epoch: the loop's own test accuracy, or with
    /// `measure` (the detection traces) what it computes from the model.
    pub test_acc: Vec<f64>,
    measure: Option<&'a dyn Fn(&Net) -> f64>,
}

impl<'a> Recording<'a> {
    pub fn new(ratios: &'a BTreeMap<String, f64>, bn_layers: Vec<String>, rho: f64) -> Self {
        Recording {
            ratios,
            bn_layers,
            rho,
            steps: Vec::new(),
            updates: Vec::new(),
            test_acc: Vec::new(),
            measure: None,
        }
    }

    /// Records `measure` of the model after each epoch instead of the test accuracy.
    fn measuring(mut self, measure: Option<&'a dyn Fn(&Net) -> f64>) -> Self {
        self.measure = measure;
        self
    }
}

impl Observer for Recording<'_> {
    fn step(&mut self, view: StepView) -> Result<()> {
        let names: Vec<String> = self.ratios.keys().cloned().collect();
        let w = params::flat(view.model, &names);
        let state = view.pruner.save_state();
        let z = state.group("z");
        // ‖U‖ by layer: ADMM keeps U, SLR Λ = ρU.
        let u: BTreeMap<String, f64> = match state.group("u") {
            u if !u.is_empty() => u.iter().map(|(n, t)| (n.clone(), norm(t))).collect(),
            _ => state
                .group("lambda")
                .iter()
                .map(|(n, t)| (n.clone(), norm(t) / self.rho))
                .collect(),
        };
        let layers = names
            .iter()
            .map(|name| {
                let mut entry = vec![norm(&w[name])];
                if let Some(z) = z.get(name) {
                    entry.push(norm(&(w[name].clone() - z.clone())));
                    entry.push(u[name]);
                }
                (name.clone(), entry)
            })
            .collect();
        // BatchNorm keeps the last update of its running statistics pending until a sync
        // (burn's RunningState); `valid()` syncs them.
        let synced = view.model.valid();
        let bn = self
            .bn_layers
            .iter()
            .flat_map(|layer| ["running_mean", "running_var"].map(|s| format!("{layer}.{s}")))
            .map(|name| {
                let t = params::flat(&synced, std::slice::from_ref(&name));
                (name.clone(), values(&t[&name]))
            })
            .collect();
        if view.step == 0 && view.epoch > 1 && !z.is_empty() {
            let metrics = view.pruner.epoch_metrics(view.model);
            let get = |m: Metric| metrics.iter().find(|(k, _)| *k == m).map(|(_, v)| *v);
            let mut scalars = BTreeMap::new();
            for (key, metric) in [
                ("k", Metric::SlrK),
                ("s", Metric::SlrS),
                ("alpha", Metric::SlrAlpha),
                ("cond1", Metric::SlrCond1),
                ("cond2", Metric::SlrCond2),
            ] {
                if let Some(v) = get(metric) {
                    scalars.insert(key, v);
                }
            }
            self.updates.push(Update {
                epoch: view.epoch,
                scalars,
                masks: mask_summary(&z),
            });
        }
        self.steps.push(Step {
            epoch: view.epoch,
            lr: view.lr,
            ce: scalar(view.ce),
            loss: scalar(view.loss),
            layers,
            bn,
        });
        Ok(())
    }

    fn epoch(&mut self, record: &EpochRecord, model: &Net) -> Result<()> {
        self.test_acc.push(
            self.measure
                .map_or(record.test_acc, |measure| measure(model)),
        );
        Ok(())
    }

    fn checkpoint(&mut self, _snapshot: Snapshot) -> Result<()> {
        Ok(())
    }
}

/// How a replay compares with its trace.
#[derive(Debug, Default, Clone)]
pub struct Comparison {
    pub steps: usize,
    pub max_loss_error: f64,
    pub max_norm_error: f64,
    pub max_bn_error: f64,
    pub masks_compared: usize,
    pub masks_equal: usize,
    pub ties: usize,
    pub conditions_equal: bool,
    pub max_weight_error: f64,
    pub accuracies_equal: bool,
    pub problems: Vec<String>,
}

pub fn relative(ours: f64, reference: f64) -> f64 {
    (ours - reference).abs() / reference.abs().max(1e-12)
}

impl Comparison {
    fn new() -> Self {
        Comparison {
            conditions_equal: true,
            accuracies_equal: true,
            ..Comparison::default()
        }
    }

    /// Steps of one training call against the trace's `steps` array.
    fn steps(&mut self, label: &str, ours: &[Step], reference: &Value) {
        let reference = reference.as_array().unwrap();
        if ours.len() != reference.len() {
            self.problems.push(format!(
                "{label}: {} steps, the trace has {}",
                ours.len(),
                reference.len()
            ));
        }
        for (i, (o, r)) in ours.iter().zip(reference).enumerate() {
            self.steps += 1;
            let at = format!("{label} step {i} (epoch {})", o.epoch);
            let lr = r["lr"].as_f64().unwrap();
            if relative(o.lr, lr) > 1e-12 {
                self.problems
                    .push(format!("{at}: lr {} against {lr}", o.lr));
            }
            for (key, value) in [("ce", o.ce), ("loss", o.loss)] {
                let e = relative(value, r[key].as_f64().unwrap());
                self.max_loss_error = self.max_loss_error.max(e);
                if e > loss_tolerance() {
                    self.problems.push(format!(
                        "{at}: {key} {value} against {} (relative error {e:.2e})",
                        r[key]
                    ));
                }
            }
            for (name, norms) in &o.layers {
                let reference = &r["layers"][name];
                for (key, value) in ["w", "w_minus_z", "u"].iter().zip(norms) {
                    let expected = reference[key].as_f64().unwrap();
                    let e = (value - expected).abs() / expected.abs().max(1e-6);
                    self.max_norm_error = self.max_norm_error.max(e);
                    if e > NORM_TOLERANCE {
                        self.problems.push(format!(
                            "{at}: ‖{key}‖ of {name} {value} against {expected}"
                        ));
                    }
                }
            }
            for (name, values) in &o.bn {
                let (layer, stat) = name.rsplit_once('.').unwrap();
                let expected = r["bn"][layer][stat].as_array().unwrap();
                for (value, expected) in values.iter().zip(expected) {
                    let expected = expected.as_f64().unwrap();
                    let e = (value - expected).abs() / expected.abs().max(1e-2);
                    self.max_bn_error = self.max_bn_error.max(e);
                    if e > BN_TOLERANCE {
                        self.problems
                            .push(format!("{at}: {name} {value} against {expected}"));
                    }
                }
            }
        }
    }

    fn masks(&mut self, label: &str, ours: &BTreeMap<String, (usize, String)>, reference: &Value) {
        for (name, (kept, digest)) in ours {
            let r = &reference[name];
            self.masks_compared += 1;
            self.ties += r["ties"].as_u64().unwrap_or(0) as usize;
            if r["kept"].as_u64() == Some(*kept as u64) && r["digest"].as_str() == Some(digest) {
                self.masks_equal += 1;
            } else {
                self.problems.push(format!(
                    "{label}: mask of {name}: {kept} kept ({digest}), the trace {} ({})",
                    r["kept"], r["digest"]
                ));
            }
        }
    }

    /// A test accuracy (exactly), or a test loss (`loss`: within the loss tolerance).
    fn accuracy(&mut self, label: &str, ours: f64, reference: f64, loss: bool) {
        let off = if loss {
            relative(ours, reference) > loss_tolerance()
        } else {
            (ours - reference).abs() > 1e-9
        };
        if off {
            self.accuracies_equal = false;
            self.problems
                .push(format!("{label}: test accuracy {ours} against {reference}"));
        }
    }
}

/// A trace's test measure in `entry` (a step or the hard prune): its test accuracy, or the
/// total of its test loss (the detection traces).
fn trace_measure(entry: &Value) -> Option<f64> {
    entry["test_acc"]
        .as_f64()
        .or_else(|| entry["test_loss"]["total"].as_f64())
}

/// Test measures at the end of each epoch of a trace's steps.
pub fn trace_accuracies(steps: &Value) -> Vec<f64> {
    steps
        .as_array()
        .unwrap()
        .iter()
        .filter_map(trace_measure)
        .collect()
}

/// The task loss of the whole training set (the traces' test set too) in evaluation mode:
/// what a detection trace measures after each epoch, where mAP says little after a few
/// steps.
fn test_loss(task: &ModelTask, data: &Dataset, net: &Net) -> f64 {
    let all: Vec<usize> = (0..data.train.len()).collect();
    let batch = ModelTask::train_batch(data, &all, 0, false).expect("the test batch");
    scalar(&task.loss(&net.valid(), batch))
}

pub fn settings(budget: &BudgetSpec, batch: usize) -> TrainSettings<'_> {
    TrainSettings {
        budget,
        batch_size: batch,
        test_batch_size: 1000,
        shuffle_seed: 1,
        fixed_batches: true,
        label: "fidelity".into(),
    }
}

/// Replays the trace of `method` (`dense`, `slr` or `admm`) of `family` and compares.
pub fn replay(family: &str, method: &str) -> Comparison {
    // Each replay runs once per process: the report's table and the tests share it (the
    // detection and lane replays take a minute each).
    static DONE: std::sync::Mutex<BTreeMap<(String, String), Comparison>> =
        std::sync::Mutex::new(BTreeMap::new());
    let key = (family.to_owned(), method.to_owned());
    if let Some(done) = DONE.lock().unwrap().get(&key) {
        return done.clone();
    }
    let comparison = replay_once(family, method);
    DONE.lock().unwrap().insert(key, comparison.clone());
    comparison
}

fn replay_once(family: &str, method: &str) -> Comparison {
    let trace = trace(family);
    let run = &trace["runs"][method];
    let device = device(precision(&trace));
    let batch = trace["batch"].as_u64().unwrap() as usize;
    let ratios = ratios(&trace);
    let names: Vec<String> = ratios.keys().cloned().collect();
    let bn_layers: Vec<String> = trace["bn_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    let data = data_of(&trace, &device);
    let kind = kind_of(family);
    let task = ModelTask::of(kind, &device).expect("a task for the model");
    let net = model(&trace, &format!("{family}.pt"), &device);
    let loss_measured = trace_measure(&run["steps"][0]).is_none()
        && run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["test_loss"].is_object());
    let measure = |net: &Net| test_loss(&task, &data, net);
    let measure: Option<&dyn Fn(&Net) -> f64> = loss_measured.then_some(&measure);
    let epochs = run["epochs"].as_u64().unwrap() as usize;
    let train_budget = budget(&trace, run, epochs, epochs);
    let mut comparison = Comparison::new();
    let method_spec = match method {
        "dense" | "dense-adam" => MethodSpec::Dense,
        "slr" => MethodSpec::Slr(SlrSpec::default()),
        "admm" => MethodSpec::Admm(AdmmSpec::default()),
        other => panic!("no traced method {other}"),
    };
    let rho = 0.1;
    let w0 = params::flat(&net, &names);
    let mut pruner = train_pruner(&method_spec, &ratios, CountRule::Percentile, &w0).unwrap();
    if method != "dense" {
        let initial = mask_summary(&pruner.save_state().group("z"));
        comparison.masks("initial Z", &initial, &run["initial_masks"]);
    }
    let mut recording = Recording::new(&ratios, bn_layers.clone(), rho).measuring(measure);
    let net = train::train(
        net,
        &data,
        &settings(&train_budget, batch),
        &task,
        &mut *pruner,
        &mut recording,
        None,
    )
    .expect("the replay trains");
    comparison.steps(method, &recording.steps, &run["steps"]);
    for (o, r) in recording
        .test_acc
        .iter()
        .zip(trace_accuracies(&run["steps"]))
    {
        comparison.accuracy(&format!("{method} epoch"), *o, r, loss_measured);
    }
    if method.starts_with("dense") {
        return comparison;
    }
    let reference_updates = run["updates"].as_array().unwrap();
    if recording.updates.len() != reference_updates.len() {
        comparison.problems.push(format!(
            "{} updates, the trace has {}",
            recording.updates.len(),
            reference_updates.len()
        ));
    }
    for (o, r) in recording.updates.iter().zip(reference_updates) {
        let label = format!("update at epoch {}", o.epoch);
        for (key, value) in &o.scalars {
            let expected = r[*key].as_f64().unwrap();
            let exact = matches!(*key, "k" | "cond1" | "cond2");
            // s and α are f64 ratios of sums of f32 norms: 1e-8 covers the summation order.
            let off = if exact {
                *value != expected
            } else {
                relative(*value, expected) > 1e-8
            };
            if off {
                if exact {
                    comparison.conditions_equal = false;
                }
                comparison
                    .problems
                    .push(format!("{label}: {key} {value} against {expected}"));
            }
        }
        comparison.masks(&label, &o.masks, &r["masks"]);
    }
    // Hard prune: the percentile rule on the trained weights, U ignored.
    let masks = Magnitude {
        ratios: ratios.clone(),
        rule: CountRule::Percentile,
    }
    .masks(&net)
    .unwrap();
    let net = apply_masks(net, &masks);
    let pruned = mask_summary(&params::flat(&net, &names));
    comparison.masks("hard prune", &pruned, &run["hard_prune"]["masks"]);
    let hard = match measure {
        Some(measure) => measure(&net),
        None => task.evaluate(&net.valid(), &data.test, 1000).unwrap(),
    };
    comparison.accuracy(
        "hard prune",
        hard,
        trace_measure(&run["hard_prune"]).unwrap(),
        loss_measured,
    );
    // Masked retraining starts, as run.sh's second invocation does, from the saved model: the
    // reference's trained weights, pruned again. Not from ours: however close, a difference
    // grows step by step (ResNet-50's, from 1e-15 at the end of training to a ReLU decided
    // the other way four steps later), and each phase is compared on its own.
    let net = with_weights(net, &raw_weights(&run["trained_weights"]));
    let masks = Magnitude {
        ratios: ratios.clone(),
        rule: CountRule::Percentile,
    }
    .masks(&net)
    .unwrap();
    let net = apply_masks(net, &masks);
    // Masked retraining: fresh optimizer, the training phase's cosine period.
    let retrain = &run["retrain"];
    let retrain_epochs = retrain["epochs"].as_u64().unwrap() as usize;
    let retrain_budget = budget(&trace, retrain, retrain_epochs, epochs);
    // The authors' gradient masks, recomputed each epoch (`retrain_mask = "reference"`).
    let mut retrainer =
        MaskedRetrain::from_model(&net, &names).freezing_at_percentile(ratios.clone());
    let mut recording = Recording::new(&ratios, bn_layers, rho).measuring(measure);
    let net = train::train(
        net,
        &data,
        &settings(&retrain_budget, batch),
        &task,
        &mut retrainer,
        &mut recording,
        None,
    )
    .expect("the retraining replays");
    comparison.steps("retrain", &recording.steps, &retrain["steps"]);
    for (o, r) in recording
        .test_acc
        .iter()
        .zip(trace_accuracies(&retrain["steps"]))
    {
        comparison.accuracy("retrain epoch", *o, r, loss_measured);
    }
    // Final weights, every float tensor (BatchNorm statistics included).
    let index = raw_weights(&run["final_weights"]);
    let names: Vec<String> = index.iter().map(|(n, _)| n.clone()).collect();
    let ours = params::flat(&net.valid(), &names);
    for (name, expected) in &index {
        let Some(ours) = ours.get(name) else {
            comparison
                .problems
                .push(format!("final {name}: not a tensor of our model"));
            continue;
        };
        let largest = expected
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(1e-12);
        let error = values(ours)
            .iter()
            .zip(expected)
            .map(|(o, r)| (o - r).abs() / largest)
            .fold(0.0, f64::max);
        comparison.max_weight_error = comparison.max_weight_error.max(error);
        if error > WEIGHT_TOLERANCE {
            comparison.problems.push(format!(
                "final {name}: off by {error:.2e} of its largest magnitude"
            ));
        }
    }
    comparison
}

/// The tensors of a raw weight file a trace names (`{"file", "dtype", "tensors": [[name,
/// count], ...]}`), in our names, in order.
fn raw_weights(entry: &Value) -> Vec<(String, Vec<f64>)> {
    let path = fixtures().join(entry["file"].as_str().unwrap());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let floats: Vec<f64> = match entry["dtype"].as_str() {
        Some("float64") => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        _ => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
    };
    let mut offset = 0;
    let tensors = entry["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let count = e[1].as_u64().unwrap() as usize;
            offset += count;
            (
                e[0].as_str().unwrap().to_owned(),
                floats[offset - count..offset].to_vec(),
            )
        })
        .collect();
    assert_eq!(
        offset,
        floats.len(),
        "{}: size against its index",
        path.display()
    );
    tensors
}

/// `net` with every tensor `weights` names replaced by the given values (in the device's
/// float type); every tensor of the model must be named.
fn with_weights(net: Net, weights: &[(String, Vec<f64>)]) -> Net {
    let by_name: BTreeMap<&str, &Vec<f64>> = weights.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let mut replaced = 0;
    let net = params::map_flat(net, |name, old| {
        let values = by_name.get(name)?;
        replaced += 1;
        let device = old.device();
        Some(Tensor::<1>::from_data(
            TensorData::new(values.to_vec(), [values.len()]),
            &device,
        ))
    });
    assert_eq!(
        replaced,
        weights.len(),
        "every saved tensor is one of the model's"
    );
    net
}

/// Panics with every difference when the replay of `method` of `family` leaves its trace.
pub fn assert_matches(family: &str, method: &str) {
    let comparison = replay(family, method);
    assert!(
        comparison.problems.is_empty(),
        "{family} {method} on {} differs from its reference trace:\n{}",
        backend().name(),
        comparison.problems.join("\n")
    );
}

/// The runs a trace may hold, in the report's order (`dense-adam`: the detection and lane
/// smoke profiles' Adam pretraining).
pub const METHODS: [&str; 4] = ["dense", "dense-adam", "slr", "admm"];

/// One table of reports/fidelity.md, measured by replaying every method of `families` in
/// `dtype`.
pub fn render_table(families: &[&str], dtype: FloatDType) -> String {
    let precision = match dtype {
        FloatDType::F64 => "float64",
        _ => "float32",
    };
    let mut lines = vec![
        format!("Backend: {}, {precision}.", backend().name()),
        String::new(),
        "| Family | Method | Steps | Largest loss error (rel.) | Largest norm error (rel.) \
         | Largest BN-statistics error | Largest final-weight error (of max) | Masks equal \
         | Ties at a threshold | k, s, conditions equal | Accuracies equal | Verdict |"
            .into(),
        "|---|---|---|---|---|---|---|---|---|---|---|---|".into(),
    ];
    let yes = |b: bool| if b { "yes" } else { "**no**" };
    for (family, method) in families.iter().flat_map(|f| {
        let runs = trace(f)["runs"].clone();
        METHODS
            .into_iter()
            .filter(move |m| runs[*m].is_object())
            .map(move |m| (*f, m))
    }) {
        let c = replay(family, method);
        let masks = if c.masks_compared == 0 {
            "–".to_owned()
        } else {
            format!("{}/{}", c.masks_equal, c.masks_compared)
        };
        let (weights, conditions) = if method.starts_with("dense") {
            ("–".to_owned(), "–")
        } else {
            (
                format!("{:.1e}", c.max_weight_error),
                yes(c.conditions_equal),
            )
        };
        lines.push(format!(
            "| {family} | {method} | {} | {:.1e} | {:.1e} | {:.1e} | {weights} | {masks} | {} | {conditions} | {} | {} |",
            c.steps,
            c.max_loss_error,
            c.max_norm_error,
            c.max_bn_error,
            c.ties,
            yes(c.accuracies_equal),
            if c.problems.is_empty() {
                "matches".to_owned()
            } else {
                format!("**differs** from {}", c.problems[0])
            },
        ));
    }
    lines.join("\n")
}

/// reports/fidelity.md keeps one table per backend and precision between
/// `<!-- fidelity: NAME -->` and `<!-- end fidelity: NAME -->` (NAME: the backend, then
/// `-float64` for the float64 traces). With `SLR_FIDELITY_WRITE=1` (`just fidelity`) `table`
/// is written there; otherwise the committed table must be exactly `table`.
pub fn check_report_section(dtype: FloatDType, table: String) {
    let path = root().join("reports/fidelity.md");
    let text = std::fs::read_to_string(&path).expect("reports/fidelity.md is committed");
    let name = match dtype {
        FloatDType::F64 => format!("{}-float64", backend().spec_name()),
        _ => backend().spec_name().to_owned(),
    };
    let (open, close) = (
        format!("<!-- fidelity: {name} -->\n"),
        format!("<!-- end fidelity: {name} -->"),
    );
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("reports/fidelity.md has no `{}` section", open.trim()))
        + open.len();
    let end = start + text[start..].find(&close).expect("the section is closed");
    let table = table + "\n";
    if std::env::var("SLR_FIDELITY_WRITE").is_ok_and(|v| v == "1") {
        let updated = format!("{}{table}{}", &text[..start], &text[end..]);
        std::fs::write(&path, updated).expect("reports/fidelity.md is writable");
    } else {
        assert_eq!(
            text[start..end],
            table,
            "reports/fidelity.md is stale: regenerate it with `just fidelity`"
        );
    }
}
