//! SGD with PyTorch's semantics: d = g + wd w; buf = m buf + d (buf = d at the first step);
//! d = d + m buf (Nesterov) or buf; w = w - lr d. State is keyed by parameter name so it can be
//! reset (fresh optimizer for retraining) and inspected.

use crate::models::Net;
use crate::models::params::{PathStack, restore};
use crate::prune::Pruner;
use crate::spec::SgdSpec;
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Gradients, Tensor};
use std::collections::{BTreeMap, HashMap};

/// The optimizer and its momentum buffers.
#[derive(Debug)]
pub struct Sgd {
    spec: SgdSpec,
    buffers: HashMap<String, Tensor<1>>,
}

impl Sgd {
    /// A fresh optimizer (no momentum state).
    pub fn new(spec: SgdSpec) -> Sgd {
        Sgd {
            spec,
            buffers: HashMap::new(),
        }
    }

    /// The momentum buffers by parameter name (for a checkpoint).
    pub fn buffers(&self) -> BTreeMap<String, Tensor<1>> {
        self.buffers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// An optimizer continuing from `buffers` (what [`Sgd::buffers`] returned).
    pub fn with_buffers(spec: SgdSpec, buffers: BTreeMap<String, Tensor<1>>) -> Sgd {
        Sgd {
            spec,
            buffers: buffers.into_iter().collect(),
        }
    }

    /// One update of every parameter that has a gradient. The pruner may transform each
    /// gradient first (masks, penalty-gradient scaling).
    pub fn step(&mut self, model: Net, grads: &Gradients, lr: f64, pruner: &dyn Pruner) -> Net {
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
        let spec = &self.sgd.spec;
        if spec.weight_decay != 0.0 {
            d = d + weight.clone().mul_scalar(spec.weight_decay);
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
