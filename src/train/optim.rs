//! The optimizers, state keyed by parameter name so it can be reset (fresh optimizer for
//! retraining), inspected and checkpointed.
//!
//! SGD with PyTorch's semantics: d = g + wd w; buf = m buf + d (buf = d at the first step);
//! d = d + m buf (Nesterov) or buf; w = w - lr d.
//! Adam (`adam`) as TensorFlow 1 computes it: m = β1 m + (1 − β1) d, v = β2 v + (1 − β2) d²,
//! w = w − lr √(1 − β2ᵗ)/(1 − β1ᵗ) · m / (√v + ε); `adam-torch` as `torch.optim.Adam`
//! (torch/optim/adam.py, `_single_tensor_adam`): m = m + (1 − β1)(d − m) (its `lerp`),
//! v = β2 v + (1 − β2) d², w = w − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε).
//! Both add `l2 · W` to the gradients of `*.weight` tensors (coupled L2 in the loss) and may
//! shrink every parameter by `lr · decoupled_weight_decay` first (AdamW).

use crate::models::Net;
use crate::models::params::{PathStack, restore};
use crate::prune::Pruner;
use crate::spec::{OptimizerKind, SgdSpec};
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Gradients, Tensor};
use std::collections::{BTreeMap, HashMap};

/// The optimizer and its state: SGD's momentum buffers (by parameter name) or Adam's moments
/// (`m/<name>`, `v/<name>`) and step count.
#[derive(Debug)]
pub struct Sgd {
    spec: SgdSpec,
    buffers: HashMap<String, Tensor<1>>,
    steps: u64,
}

impl Sgd {
    /// A fresh optimizer (no momentum state).
    pub fn new(spec: SgdSpec) -> Sgd {
        Sgd {
            spec,
            buffers: HashMap::new(),
            steps: 0,
        }
    }

    /// The momentum buffers by parameter name (for a checkpoint).
    pub fn buffers(&self) -> BTreeMap<String, Tensor<1>> {
        self.buffers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// An optimizer continuing from `buffers` (what [`Sgd::buffers`] returned) after `steps`
    /// steps.
    pub fn with_buffers(spec: SgdSpec, buffers: BTreeMap<String, Tensor<1>>, steps: u64) -> Sgd {
        Sgd {
            spec,
            buffers: buffers.into_iter().collect(),
            steps,
        }
    }

    /// One update of every parameter that has a gradient. The pruner may transform each
    /// gradient first (masks, penalty-gradient scaling).
    pub fn step(&mut self, model: Net, grads: &Gradients, lr: f64, pruner: &dyn Pruner) -> Net {
        self.steps += 1;
        let mut mapper = StepMapper {
            path: PathStack::default(),
            grads,
            lr,
            sgd: self,
            pruner,
        };
        model.map(&mut mapper)
    }
}

struct StepMapper<'a> {
    path: PathStack,
    grads: &'a Gradients,
    lr: f64,
    sgd: &'a mut Sgd,
    pruner: &'a dyn Pruner,
}

impl ModuleMapper for StepMapper<'_> {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.path.enter(name, container);
    }
    fn exit_module(&mut self, _name: &str, container: &str) {
        self.path.exit(container);
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = tensor.grad(self.grads) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let name = self.path.name("");
        let dims = tensor.dims();
        let n = dims.iter().product::<usize>();
        let weight = tensor.inner().reshape([n]);
        let mut d = self.pruner.adjust_grad(&name, grad.inner().reshape([n]));
        let spec = self.sgd.spec.clone();
        if spec.weight_decay != 0.0 {
            d = d + weight.clone().mul_scalar(spec.weight_decay);
        }
        if spec.l2 != 0.0 && name.ends_with(".weight") {
            d = d + weight.clone().mul_scalar(spec.l2);
        }
        let weight = if spec.decoupled_weight_decay != 0.0 {
            weight.mul_scalar(1.0 - self.lr * spec.decoupled_weight_decay)
        } else {
            weight
        };
        if spec.kind.is_adam() {
            let (m, v) = (
                self.sgd.buffers.remove(&format!("m/{name}")),
                self.sgd.buffers.remove(&format!("v/{name}")),
            );
            let (updated, m, v) = adam_update(weight, d, m, v, self.sgd.steps, self.lr, &spec);
            self.sgd.buffers.insert(format!("m/{name}"), m);
            self.sgd.buffers.insert(format!("v/{name}"), v);
            let updated = restore(updated.reshape(dims), true, true);
            return Param::from_mapped_value(id, updated, mapper);
        }
        if spec.momentum != 0.0 {
            let buf = match self.sgd.buffers.remove(&name) {
                Some(buf) => buf.mul_scalar(spec.momentum) + d.clone(),
                None => d.clone(),
            };
            d = if spec.nesterov {
                d + buf.clone().mul_scalar(spec.momentum)
            } else {
                buf.clone()
            };
            self.sgd.buffers.insert(name, buf);
        }
        let updated = weight - d.mul_scalar(self.lr);
        let updated = restore(updated.reshape(dims), true, true);
        Param::from_mapped_value(id, updated, mapper)
    }
}

/// One Adam update of `w` with gradient `d` at step `t` (1-based), in the form `spec.kind`
/// names (TensorFlow 1's for `adam`, PyTorch's for `adam-torch`): the new weights and first
/// and second moments (`None`: zero before the first step).
pub fn adam_update(
    w: Tensor<1>,
    d: Tensor<1>,
    m: Option<Tensor<1>>,
    v: Option<Tensor<1>>,
    t: u64,
    lr: f64,
    spec: &SgdSpec,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let (b1, b2) = (spec.beta1, spec.beta2);
    let torch = spec.kind == OptimizerKind::AdamTorch;
    let m = match m {
        // PyTorch's `exp_avg.lerp_(grad, 1 - beta1)`: m + w (d − m) for a weight under 0.5.
        Some(m) if torch => m.clone() + (d.clone() - m).mul_scalar(1.0 - b1),
        Some(m) => m.mul_scalar(b1) + d.clone().mul_scalar(1.0 - b1),
        None => d.clone().mul_scalar(1.0 - b1),
    };
    let squared = d.clone() * d;
    let v = match v {
        Some(v) => v.mul_scalar(b2) + squared.mul_scalar(1.0 - b2),
        None => squared.mul_scalar(1.0 - b2),
    };
    let t = t.max(1) as i32;
    let (correction1, correction2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
    let updated = if torch {
        let denominator = (v.clone().sqrt() / correction2.sqrt()).add_scalar(spec.eps);
        w - (m.clone() / denominator).mul_scalar(lr / correction1)
    } else {
        let step = m.clone() / (v.clone().sqrt().add_scalar(spec.eps));
        w - step.mul_scalar(lr * correction2.sqrt() / correction1)
    };
    (updated, m, v)
}
