//! Per-layer flat tensors keyed by parameter name, and the sums over layers that ADMM and SLR
//! use (sums of per-layer Frobenius norms, never one global norm).

use super::projection;
use crate::base::host;
use crate::spec::CountRule;
use burn::tensor::Tensor;
use std::collections::BTreeMap;

/// Flat tensors by parameter name.
pub type Layers = BTreeMap<String, Tensor<1>>;

/// Whether ADMM or SLR updates before the first batch of `epoch` (1-based): every `interval`
/// epochs, never before epoch 2 (epochs 1 + interval, 1 + 2 interval, ...).
pub fn updates_at(epoch: usize, interval: usize) -> bool {
    epoch >= 2 && (epoch - 1).is_multiple_of(interval)
}

/// Frobenius norm of one layer.
pub fn norm(x: &Tensor<1>) -> f64 {
    host::scalar::<f64, 1, _>(x.clone().square().sum()).sqrt()
}

/// Σ_l ‖a_l − b_l‖.
pub fn sum_norm_diff(a: &Layers, b: &Layers) -> f64 {
    a.iter()
        .map(|(name, x)| norm(&(x.clone() - b[name].clone())))
        .sum()
}

/// Σ_l ρ/2 ‖w_l − z_l + u_l‖².
pub fn penalty_value(rho: f64, w: &Layers, z: &Layers, u: &Layers) -> f64 {
    w.iter()
        .map(|(name, x)| {
            let r = x.clone() - z[name].clone() + u[name].clone();
            0.5 * rho * host::scalar::<f64, 1, _>(r.square().sum())
        })
        .sum()
}

/// Element-wise a + b, layer by layer.
pub fn add(a: &Layers, b: &Layers) -> Layers {
    a.iter()
        .map(|(name, x)| (name.clone(), x.clone() + b[name].clone()))
        .collect()
}

/// Element-wise a − b, layer by layer.
pub fn sub(a: &Layers, b: &Layers) -> Layers {
    a.iter()
        .map(|(name, x)| (name.clone(), x.clone() - b[name].clone()))
        .collect()
}

/// a · c, layer by layer.
pub fn scale(a: &Layers, c: f64) -> Layers {
    a.iter()
        .map(|(name, x)| (name.clone(), x.clone().mul_scalar(c)))
        .collect()
}

/// Zeros shaped like `a`.
pub fn zeros_like(a: &Layers) -> Layers {
    a.iter()
        .map(|(name, x)| (name.clone(), x.zeros_like()))
        .collect()
}

/// Π of every layer at its ratio.
pub fn project(x: &Layers, ratios: &BTreeMap<String, f64>, rule: CountRule) -> Layers {
    x.iter()
        .map(|(name, v)| (name.clone(), projection::project(v, ratios[name], rule)))
        .collect()
}

/// Masks of Π of every layer.
pub fn masks(x: &Layers, ratios: &BTreeMap<String, f64>, rule: CountRule) -> Layers {
    x.iter()
        .map(|(name, v)| (name.clone(), projection::mask(v, ratios[name], rule)))
        .collect()
}
