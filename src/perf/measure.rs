//! `slr perf`: what one training step costs on a backend, measured on a random batch (no data
//! set needed): dense step time and images/s, the ADMM and SLR step (penalty term) and one
//! Z/Λ update relative to it, the projection of the pruned layers, a gradient check against a
//! reference backend, and a determinism check. `scripts/torch_perf.py` measures the same
//! things in PyTorch; `scripts/gpu-check.sh` and `scripts/bench-torch-cpu.py` put both side
//! by side.

use super::batches::random_task_batch;
use crate::base::{Backend, host};
use crate::error::{Error, Result};
use crate::models::{Net, params};
use crate::prune::{Dense, Pruner, layers, train_pruner};
use crate::spec::{CountRule, MethodSpec, ModelKind, SgdSpec, derive_seed, layer_ratios};
use crate::train::optim::Sgd;
use crate::train::task::TaskBatch;
use crate::train::{ModelTask, Task, train_step};
use burn::tensor::Device;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub struct PerfOptions {
    /// Model.
    pub model: ModelKind,
    /// Training batch size.
    pub batch: usize,
    /// Untimed steps first (allocator, cuDNN algorithm choice).
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    /// Uniform prune ratio of the model's default prunable layers.
    pub ratio: f64,
    /// Seed of the weights and the batch.
    pub seed: u64,
    /// Backend the gradient check compares with (`None`: no check).
    pub reference: Option<Backend>,
    /// Batch size of the gradient check (small: the reference may be a slow CPU).
    pub check_batch: usize,
}

/// Everything `slr perf` measured.
#[derive(Debug, Clone, Serialize)]
pub struct PerfReport {
    /// Backend measured.
    pub backend: String,
    /// Model.
    pub model: String,
    /// Batch size.
    pub batch: usize,
    /// Timed steps per measurement.
    pub steps: usize,
    /// Dense SGD step, milliseconds.
    pub dense_step_ms: f64,
    /// Training images per second of the dense step.
    pub images_per_s: f64,
    /// Reads of tensor values back to the host per dense step (each one a host round trip
    /// on a GPU); the training loop adds one per [`crate::train::READ_EVERY`] steps for the
    /// losses.
    pub dense_step_reads: f64,
    /// Each training method at its default settings (ADMM, SLR), serialised flat as
    /// `<method>_step_ms` and `<method>_update_ms`, the keys `scripts/torch_perf.py` reads.
    #[serde(flatten, serialize_with = "method_keys")]
    pub methods: Vec<MethodPerf>,
    /// Projection of every pruned layer (keep the largest magnitudes), milliseconds.
    pub projection_ms: f64,
    /// Host reads of that projection.
    pub projection_reads: u64,
    /// Pruned layers.
    pub pruned_layers: usize,
    /// Weights in the pruned layers.
    pub pruned_weights: usize,
    /// Gradient check against the reference backend.
    pub grad_check: Option<GradCheck>,
    /// The same steps twice from the same seed.
    pub determinism: Determinism,
}

/// What one method's training costs.
#[derive(Debug, Clone)]
pub struct MethodPerf {
    /// The method's name (`admm`, `slr`).
    pub method: &'static str,
    /// Its step (CE + penalty), milliseconds.
    pub step_ms: f64,
    /// One update of its auxiliary variables (Z and U, or Z and Λ with the surrogate
    /// conditions), milliseconds.
    pub update_ms: f64,
    /// Host reads per step (the penalty and its gradient included).
    pub step_reads: f64,
    /// Host reads of one update (norms, the surrogate conditions, the projections).
    pub update_reads: u64,
}

fn method_keys<S: Serializer>(methods: &[MethodPerf], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(4 * methods.len()))?;
    for m in methods {
        map.serialize_entry(&format!("{}_step_ms", m.method), &m.step_ms)?;
        map.serialize_entry(&format!("{}_update_ms", m.method), &m.update_ms)?;
        map.serialize_entry(&format!("{}_step_reads", m.method), &m.step_reads)?;
        map.serialize_entry(&format!("{}_update_reads", m.method), &m.update_reads)?;
    }
    map.end()
}

/// One forward/backward on the same weights and batch on two backends.
#[derive(Debug, Clone, Serialize)]
pub struct GradCheck {
    /// Reference backend.
    pub reference: String,
    /// Batch size.
    pub batch: usize,
    /// Loss on the measured backend.
    pub loss: f64,
    /// Loss on the reference.
    pub loss_reference: f64,
    /// |loss − reference| / |reference|.
    pub loss_rel_err: f64,
    /// Largest ‖g − g_ref‖ / ‖g_ref‖ over the parameters.
    pub grad_rel_err_max: f64,
    /// The parameter with the largest error.
    pub grad_worst: String,
    /// Parameters compared.
    pub params: usize,
}

/// Differences between two identical runs of a few steps.
#[derive(Debug, Clone, Serialize)]
pub struct Determinism {
    /// Steps per run.
    pub steps: usize,
    /// |loss₁ − loss₂| of the last step.
    pub loss_abs_diff: f64,
    /// Largest |w₁ − w₂| over every parameter after the steps.
    pub weight_max_abs_diff: f64,
}

/// The paper's optimizer (SGD lr 0.01, momentum 0.5, Nesterov, weight decay 5e-4).
fn paper_sgd() -> SgdSpec {
    SgdSpec {
        lr: 0.01,
        momentum: 0.5,
        nesterov: true,
        weight_decay: 5e-4,
        ..SgdSpec::default()
    }
}

fn sync(device: &Device) -> Result<()> {
    device
        .sync()
        .map_err(|e| Error::Backend(format!("device synchronisation failed: {e:?}")))
}

/// Milliseconds of `f`, with the device idle before and after.
fn timed<T>(device: &Device, f: impl FnOnce() -> T) -> Result<(T, f64)> {
    sync(device)?;
    let started = Instant::now();
    let value = f();
    sync(device)?;
    Ok((value, started.elapsed().as_secs_f64() * 1e3))
}

/// The task of `model` and a random batch of it on `device` (the training device).
fn task_and_batch(
    model: ModelKind,
    batch: usize,
    seed: u64,
    device: &Device,
) -> Result<(ModelTask, TaskBatch)> {
    let task = ModelTask::of(model, device)?;
    let batch = random_task_batch(model, batch, seed, device)
        .ok_or_else(|| Error::Backend(format!("{}: no random batch for its task", model.name())))?;
    Ok((task, batch))
}

/// What [`run_steps`] measured.
pub(crate) struct Steps {
    /// The model after the steps.
    pub net: Net,
    /// The last step's loss.
    pub loss: f64,
    /// Mean milliseconds of the timed steps.
    pub ms: f64,
    /// Mean host reads of the timed steps.
    pub reads: f64,
}

/// Runs `warmup + steps` training steps and measures the timed ones.
pub(crate) fn run_steps(
    options: &PerfOptions,
    device: &Device,
    mut net: Net,
    pruner: &dyn Pruner,
    steps: usize,
    warmup: usize,
) -> Result<Steps> {
    let training = device.clone().autodiff();
    let (task, batch) = task_and_batch(options.model, options.batch, options.seed, &training)?;
    let mut sgd = Sgd::new(paper_sgd());
    let mut loss = None;
    for _ in 0..warmup {
        let (next, _, l) = train_step(net, batch.clone(), &task, pruner, &mut sgd, 0.01);
        (net, loss) = (next, Some(l));
    }
    let reads_before = host::reads();
    let (net, ms) = timed(device, || {
        for _ in 0..steps {
            let (next, _, l) = train_step(net, batch.clone(), &task, pruner, &mut sgd, 0.01);
            (net, loss) = (next, Some(l));
        }
        net
    })?;
    let steps = steps.max(1) as f64;
    let reads = (host::reads() - reads_before) as f64 / steps;
    let loss = loss.map_or(f64::NAN, host::scalar::<f64, 1, _>);
    Ok(Steps {
        net,
        loss,
        ms: ms / steps,
        reads,
    })
}

/// The model every measurement starts from: initialised as a run's pretrain stage would be.
fn initial_model(options: &PerfOptions, device: &Device) -> Net {
    let seed = derive_seed(options.seed, crate::spec::StageKind::Pretrain, "init");
    Net::seeded(options.model, device, seed)
}

/// Milliseconds of one dense training step alone (`options.warmup` untimed steps, then the
/// mean of `options.steps`): what `slr perf --step-only` runs under a profiler.
pub fn dense_step_ms(backend: Backend, options: &PerfOptions) -> Result<f64> {
    let device = backend.device();
    let net = initial_model(options, &device.clone().autodiff());
    let steps = run_steps(options, &device, net, &Dense, options.steps, options.warmup)?;
    Ok(steps.ms)
}

/// Measures `backend` as `options` say.
pub fn measure(backend: Backend, options: &PerfOptions) -> Result<PerfReport> {
    let device = backend.device();
    let training = device.clone().autodiff();
    let fresh = || initial_model(options, &training);
    let sparsity = crate::spec::SparsitySpec {
        uniform: Some(options.ratio),
        ..Default::default()
    };
    let ratios: BTreeMap<String, f64> = layer_ratios(options.model, &sparsity);
    let names: Vec<String> = ratios.keys().cloned().collect();

    let dense = run_steps(
        options,
        &device,
        fresh(),
        &Dense,
        options.steps,
        options.warmup,
    )?;

    let w0 = params::flat(&fresh(), &names);
    let rule = CountRule::Exact;
    let mut methods = Vec::new();
    // The projection below is timed on the last method's trained weights.
    let mut last = None;
    for method in MethodSpec::defaults()
        .into_iter()
        .filter(MethodSpec::trains)
    {
        let mut pruner = train_pruner(&method, &ratios, rule, &w0)?;
        let steps = run_steps(
            options,
            &device,
            fresh(),
            &*pruner,
            options.steps,
            options.warmup,
        )?;
        pruner.on_epoch_end(1, &steps.net, steps.loss)?;
        // Epoch 2 is the first update epoch (interval 1).
        let reads_before = host::reads();
        let (result, update_ms) = timed(&device, || pruner.on_epoch_start(2, &steps.net))?;
        result?;
        methods.push(MethodPerf {
            method: method.name().name(),
            step_ms: steps.ms,
            update_ms,
            step_reads: steps.reads,
            update_reads: host::reads() - reads_before,
        });
        last = Some(steps.net);
    }
    let net = last.unwrap_or_else(fresh);

    let weights = params::flat(&net, &names);
    let pruned_weights = weights.values().map(|w| w.dims()[0]).sum();
    // Once untimed: the first call may compile kernels or allocate.
    let _ = layers::masks(&weights, &ratios, rule);
    let reads_before = host::reads();
    let (_, projection_ms) = timed(&device, || layers::masks(&weights, &ratios, rule))?;
    let projection_reads = host::reads() - reads_before;

    let grad_check = match options.reference {
        Some(reference) => Some(grad_check(backend, reference, options)?),
        None => None,
    };
    let determinism = determinism(options, &device, &fresh)?;
    Ok(PerfReport {
        backend: backend.name(),
        model: options.model.name().into(),
        batch: options.batch,
        steps: options.steps,
        dense_step_ms: dense.ms,
        images_per_s: options.batch as f64 / dense.ms * 1e3,
        dense_step_reads: dense.reads,
        methods,
        projection_ms,
        projection_reads,
        pruned_layers: names.len(),
        pruned_weights,
        grad_check,
        determinism,
    })
}

/// Flattened gradients of every parameter after one forward/backward on `device`.
fn gradients(options: &PerfOptions, device: &Device) -> Result<(f64, BTreeMap<String, Vec<f64>>)> {
    let training = device.clone().autodiff();
    let net = initial_model(options, &training);
    let (task, batch) =
        task_and_batch(options.model, options.check_batch, options.seed, &training)?;
    let loss = task.loss(&net, batch);
    let grads = loss.backward();
    let loss: f64 = host::scalar(loss.inner());
    let flat = params::gradients(&net, &grads)
        .into_iter()
        .map(|(name, g)| (name, host::values::<f64, 1, _>(g)))
        .collect();
    Ok((loss, flat))
}

fn grad_check(backend: Backend, reference: Backend, options: &PerfOptions) -> Result<GradCheck> {
    let (loss, grads) = gradients(options, &backend.device())?;
    let (loss_reference, reference_grads) = gradients(options, &reference.device())?;
    let mut worst = (0.0f64, String::new());
    for (name, g) in &grads {
        let Some(r) = reference_grads.get(name) else {
            return Err(Error::Backend(format!(
                "no reference gradient for `{name}`"
            )));
        };
        let diff: f64 = g
            .iter()
            .zip(r)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let norm: f64 = r.iter().map(|b| b * b).sum::<f64>().sqrt();
        let error = if norm > 0.0 { diff / norm } else { diff };
        if error >= worst.0 {
            worst = (error, name.clone());
        }
    }
    Ok(GradCheck {
        reference: reference.name(),
        batch: options.check_batch,
        loss,
        loss_reference,
        loss_rel_err: (loss - loss_reference).abs() / loss_reference.abs().max(f64::MIN_POSITIVE),
        grad_rel_err_max: worst.0,
        grad_worst: worst.1,
        params: grads.len(),
    })
}

fn determinism(
    options: &PerfOptions,
    device: &Device,
    fresh: &dyn Fn() -> Net,
) -> Result<Determinism> {
    let steps = 3;
    let a = run_steps(options, device, fresh(), &Dense, steps, 0)?;
    let b = run_steps(options, device, fresh(), &Dense, steps, 0)?;
    let (a, loss_a, b, loss_b) = (a.net, a.loss, b.net, b.loss);
    let names: Vec<String> = params::shapes(&a).into_iter().map(|(n, _)| n).collect();
    let (wa, wb) = (params::flat(&a, &names), params::flat(&b, &names));
    let weight_max_abs_diff = names
        .iter()
        .map(|n| host::scalar::<f64, 1, _>((wa[n].clone() - wb[n].clone()).abs().max()))
        .fold(0.0, f64::max);
    Ok(Determinism {
        steps,
        loss_abs_diff: (loss_a - loss_b).abs(),
        weight_max_abs_diff,
    })
}

impl PerfReport {
    /// The report as a Markdown table.
    pub fn markdown(&self) -> String {
        let mut rows = vec![
            format!("| backend | {} |", self.backend),
            format!("| model, batch | {}, {} |", self.model, self.batch),
            format!(
                "| dense step | {:.2} ms ({:.0} images/s) |",
                self.dense_step_ms, self.images_per_s
            ),
        ];
        for m in &self.methods {
            rows.push(format!(
                "| {} step | {:.2} ms ({:+.1}%) |",
                m.method.to_uppercase(),
                m.step_ms,
                100.0 * (m.step_ms / self.dense_step_ms - 1.0)
            ));
        }
        let names: Vec<String> = self
            .methods
            .iter()
            .map(|m| m.method.to_uppercase())
            .collect();
        let join = |f: &dyn Fn(&MethodPerf) -> String| {
            self.methods.iter().map(f).collect::<Vec<_>>().join(" / ")
        };
        rows.push(format!(
            "| {} update | {} ms ({} dense steps) |",
            names.join(" / "),
            join(&|m| format!("{:.2}", m.update_ms)),
            join(&|m| format!("{:.2}", m.update_ms / self.dense_step_ms))
        ));
        rows.push(format!(
            "| projection | {:.2} ms ({} layers, {} weights) |",
            self.projection_ms, self.pruned_layers, self.pruned_weights
        ));
        // Host round trips: what stalls a GPU.
        rows.push(format!(
            "| host reads per step: dense / {} | {:.2} / {} (the loop adds 1 per {} steps for the losses) |",
            names.join(" / "),
            self.dense_step_reads,
            join(&|m| format!("{:.2}", m.step_reads)),
            crate::train::READ_EVERY
        ));
        rows.push(format!(
            "| host reads per update: {} / projection | {} / {} |",
            names.join(" / "),
            join(&|m| m.update_reads.to_string()),
            self.projection_reads
        ));
        if let Some(check) = &self.grad_check {
            rows.push(format!(
                "| vs {} (batch {}) | loss rel. err {:.2e}, max grad rel. err {:.2e} (`{}`) |",
                check.reference,
                check.batch,
                check.loss_rel_err,
                check.grad_rel_err_max,
                check.grad_worst
            ));
        }
        rows.push(format!(
            "| determinism ({} steps twice) | loss diff {:.2e}, max weight diff {:.2e} |",
            self.determinism.steps,
            self.determinism.loss_abs_diff,
            self.determinism.weight_max_abs_diff
        ));
        format!("| measure | value |\n|---|---|\n{}\n", rows.join("\n"))
    }
}
