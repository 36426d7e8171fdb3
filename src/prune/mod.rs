//! Pruning: the [`Pruner`] trait that plugs methods into the one training loop, the
//! [`registry`] that builds a method's pruner from its spec, projection, masks, and
//! sparsity/compression metrics.

pub mod admm;
pub mod constrained;
pub mod layers;
pub mod projection;
pub mod registry;
pub mod slr;
pub mod stats;
pub mod targets;

pub use registry::train_pruner;

use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::{Net, params};
use crate::spec::CountRule;
use burn::tensor::Tensor;
use layers::Layers;
use std::collections::BTreeMap;

/// 0/1 masks by parameter name, flattened.
pub type Masks = BTreeMap<String, Tensor<1>>;

/// Everything a pruner carries between steps, for a checkpoint: flattened tensors and
/// scalars by name. Restoring it continues the method bit for bit.
#[derive(Debug, Clone, Default)]
pub struct PrunerState {
    /// Tensors (Z, U, Λ, ...), e.g. `z/fc1.weight`.
    pub tensors: BTreeMap<String, Tensor<1>>,
    /// Scalars (ρ, s, k, ...).
    pub scalars: BTreeMap<String, f64>,
}

impl PrunerState {
    /// The tensors under `prefix/`, by the rest of their name.
    pub fn group(&self, prefix: &str) -> Layers {
        let prefix = format!("{prefix}/");
        self.tensors
            .iter()
            .filter_map(|(name, t)| Some((name.strip_prefix(&prefix)?.to_owned(), t.clone())))
            .collect()
    }

    /// Stores `layers` under `prefix/`.
    pub fn put_group(&mut self, prefix: &str, layers: &Layers) {
        for (name, t) in layers {
            self.tensors.insert(format!("{prefix}/{name}"), t.clone());
        }
    }

    /// A scalar, or an error naming it.
    pub fn scalar(&self, name: &str) -> Result<f64> {
        self.scalars
            .get(name)
            .copied()
            .ok_or_else(|| Error::RunFailed(format!("checkpoint lacks pruner value `{name}`")))
    }
}

/// A pruning method as seen by the training loop. The loop never names a method: it asks the
/// pruner for a loss penalty, lets it shape gradients and weights around each optimizer step,
/// tells it when epochs start and end, and finally asks for the masks.
pub trait Pruner {
    /// Called before the first batch of every epoch (1-based); methods that update auxiliary
    /// variables at the first batch of an epoch do it here.
    fn on_epoch_start(&mut self, _epoch: usize, _model: &Net) -> Result<()> {
        Ok(())
    }
    /// A penalty added to the batch's task loss (with autodiff), if any.
    fn penalty(&self, _model: &Net) -> Option<Tensor<1>> {
        None
    }
    /// Transforms the flattened gradient of parameter `name` before the optimizer uses it.
    fn adjust_grad(&self, _name: &str, grad: Tensor<1>) -> Tensor<1> {
        grad
    }
    /// Called after every optimizer step.
    fn after_step(&self, model: Net) -> Net {
        model
    }
    /// Steps between the pruner's updates when they follow the global step count instead of
    /// epochs (`interval_steps`); `None`: no step-clocked updates.
    fn update_every_steps(&self) -> Option<usize> {
        None
    }
    /// Called before the 0-based global step `step` whenever it is a positive multiple of
    /// [`Pruner::update_every_steps`], with the mean task loss of the round just finished.
    fn on_round_end(&mut self, _step: usize, _model: &Net, _mean_ce: f64) -> Result<()> {
        Ok(())
    }
    /// Called after each epoch with the mean over its batches of their training task loss
    /// (cross-entropy for classification), penalty excluded: the reference's unweighted mean.
    fn on_epoch_end(&mut self, _epoch: usize, _model: &Net, _mean_ce: f64) -> Result<()> {
        Ok(())
    }
    /// Extra per-epoch metrics (recorded in the run's metrics file after each epoch).
    fn epoch_metrics(&self, _model: &Net) -> Vec<(Metric, f64)> {
        Vec::new()
    }
    /// The masks of the pruned layers after training (empty for dense training).
    fn masks(&self, _model: &Net) -> Result<Masks> {
        Ok(Masks::new())
    }
    /// Its state for a checkpoint (nothing, for stateless pruners).
    fn save_state(&self) -> PrunerState {
        PrunerState::default()
    }
    /// Continues from a state [`Pruner::save_state`] returned.
    fn load_state(&mut self, _state: &PrunerState) -> Result<()> {
        Ok(())
    }
}

/// Plain dense training.
#[derive(Debug, Default)]
pub struct Dense;

impl Pruner for Dense {}

/// One-shot magnitude pruning: the masks keep the largest weights of each layer.
#[derive(Debug, Clone)]
pub struct Magnitude {
    /// Prune ratio per parameter name.
    pub ratios: BTreeMap<String, f64>,
    /// Count rule of the projection.
    pub rule: CountRule,
}

impl Pruner for Magnitude {
    fn masks(&self, model: &Net) -> Result<Masks> {
        let names: Vec<String> = self.ratios.keys().cloned().collect();
        let weights = params::flat(model, &names);
        if let Some(missing) = names.iter().find(|n| !weights.contains_key(*n)) {
            return Err(Error::RunFailed(format!(
                "model has no parameter `{missing}`"
            )));
        }
        Ok(layers::masks(&weights, &self.ratios, self.rule))
    }
}

/// Masked retraining: gradients of pruned layers are multiplied by the mask and the mask is
/// re-applied after every step, so pruned weights stay exactly zero whatever momentum or
/// weight decay does. With [`MaskedRetrain::freezing_at_percentile`], gradients are masked
/// as the authors' code masks them ([`RetrainMask::Reference`](crate::spec::RetrainMask)).
#[derive(Debug, Clone)]
pub struct MaskedRetrain {
    /// The fixed masks of the hard-pruned model.
    pub masks: Masks,
    /// The authors' rule: each layer's ratio, from which the gradient masks are recomputed at
    /// every epoch's start; `None`: gradients take the fixed masks.
    percentile_ratios: Option<BTreeMap<String, f64>>,
    /// The gradient masks of the current epoch under the authors' rule.
    gradient_masks: Masks,
}

/// Prefix of the authors' gradient masks in a checkpoint (a resumed epoch keeps its masks).
const GRADIENT_MASK: &str = "gradient_mask";

impl MaskedRetrain {
    /// Masks from the non-zero pattern of the named layers of a hard-pruned model.
    pub fn from_model(model: &Net, names: &[String]) -> MaskedRetrain {
        let masks = params::flat(model, names)
            .into_iter()
            .map(|(name, w)| (name, w.not_equal_elem(0.0).float()))
            .collect();
        MaskedRetrain {
            masks,
            percentile_ratios: None,
            gradient_masks: Masks::new(),
        }
    }

    /// The authors' gradient masks (SLR-ADMM-cifar10 admm.py 1071-1076): at each epoch's start
    /// |w| > numpy's percentile of the layer's |w| at 100 p, so a kept weight sitting exactly
    /// at the percentile gets no gradient that epoch. Their epoch-start `weight_pruning` also
    /// zeroes |w| below it, which after hard pruning is already zero (the fixed masks keep it
    /// so here).
    pub fn freezing_at_percentile(mut self, ratios: BTreeMap<String, f64>) -> MaskedRetrain {
        self.percentile_ratios = Some(ratios);
        self
    }
}

impl Pruner for MaskedRetrain {
    fn on_epoch_start(&mut self, _epoch: usize, model: &Net) -> Result<()> {
        if let Some(ratios) = &self.percentile_ratios {
            let names: Vec<String> = ratios.keys().cloned().collect();
            self.gradient_masks = params::flat(model, &names)
                .into_iter()
                .map(|(name, w)| {
                    let mask = projection::above_percentile_mask(&w, ratios[&name]);
                    (name, mask)
                })
                .collect();
        }
        Ok(())
    }
    fn adjust_grad(&self, name: &str, grad: Tensor<1>) -> Tensor<1> {
        match self.gradient_masks.get(name).or(self.masks.get(name)) {
            Some(mask) => grad * mask.clone(),
            None => grad,
        }
    }
    fn after_step(&self, model: Net) -> Net {
        apply_masks(model, &self.masks)
    }
    fn masks(&self, _model: &Net) -> Result<Masks> {
        Ok(self.masks.clone())
    }
    fn save_state(&self) -> PrunerState {
        let mut state = PrunerState::default();
        state.put_group(GRADIENT_MASK, &self.gradient_masks);
        state
    }
    fn load_state(&mut self, state: &PrunerState) -> Result<()> {
        self.gradient_masks = state.group(GRADIENT_MASK);
        Ok(())
    }
}

/// Hard pruning: multiplies every masked parameter by its mask.
pub fn apply_masks(model: Net, masks: &Masks) -> Net {
    params::map_flat(model, |name, w| masks.get(name).map(|m| w * m.clone()))
}
