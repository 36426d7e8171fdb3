//! Surrogate Lagrangian relaxation (method.md section 4), both variants.
//!
//! Once per update epoch, before the first batch: a multiplier half-update gated by surrogate
//! condition 1, the Z projection, and a second multiplier update gated by condition 2. The step
//! size shrinks by α(k) = 1 − 1/(M k^(1 − 1/k^r)) times a ratio of sums of per-layer norms.

use super::layers::{self, Layers, norm};
use crate::spec::{CountRule, MultiplierGrad, SlrSpec, SlrVariant};
use std::collections::BTreeMap;

/// α(k) = 1 − 1 / (M · k^(1 − 1/k^r)).
pub fn alpha(k: u64, m: f64, r: f64) -> f64 {
    let k = k as f64;
    1.0 - 1.0 / (m * k.powf(1.0 - 1.0 / k.powf(r)))
}

/// What one SLR update did.
#[derive(Debug, Clone, PartialEq)]
pub struct SlrUpdate {
    /// α used by the first multiplier step (α(k) with k before it).
    pub alpha: f64,
    /// Condition 1 held (the comparison itself, as the authors' `condition1` records it; at
    /// k = 1 the update is taken whatever it says).
    pub cond1: bool,
    /// Condition 2 held.
    pub cond2: bool,
    /// k after the update.
    pub k: u64,
    /// s after the update.
    pub s: f64,
    /// Σ‖W − Z‖ after the update.
    pub w_minus_z: f64,
    /// Σ‖Z − Z_before‖ of this update.
    pub z_change: f64,
}

/// SLR's state.
#[derive(Debug, Clone)]
pub struct Slr {
    /// Settings.
    pub spec: SlrSpec,
    /// Prune ratio per layer.
    pub ratios: BTreeMap<String, f64>,
    /// Count rule of Π.
    pub rule: CountRule,
    /// Multipliers Λ.
    pub lambda: Layers,
    /// Sparse copy Z.
    pub z: Layers,
    /// Z of the last accepted multiplier update (0 at first).
    pub z_prev: Layers,
    /// W of the last accepted update (0 at first). In the reference variant it aliases the live
    /// weights after the first accepted update, see [`Slr::w_prev_effective`].
    pub w_prev: Layers,
    /// Whether a multiplier update was accepted yet (reference aliasing).
    pub aliased: bool,
    /// Step size s.
    pub s: f64,
    /// Iteration counter k (starts at 1).
    pub k: u64,
    /// Σ of accepted step sizes (for the `through` gradient scale).
    pub accepted_s: f64,
}

impl Slr {
    /// Initial state: Z = Π(W⁰), Λ = 0, Z_prev = W_prev = 0, s = s₀, k = 1.
    pub fn new(spec: SlrSpec, ratios: BTreeMap<String, f64>, rule: CountRule, w0: &Layers) -> Slr {
        Slr {
            s: spec.s0,
            z: layers::project(w0, &ratios, rule),
            lambda: layers::zeros_like(w0),
            z_prev: layers::zeros_like(w0),
            w_prev: layers::zeros_like(w0),
            spec,
            ratios,
            rule,
            aliased: false,
            k: 1,
            accepted_s: 0.0,
        }
    }

    /// U = Λ / ρ.
    pub fn u(&self) -> Layers {
        layers::scale(&self.lambda, 1.0 / self.spec.rho)
    }

    /// Whether epoch `epoch` (1-based) starts with an update.
    pub fn updates_at(&self, epoch: usize) -> bool {
        super::layers::updates_at(epoch, self.spec.interval)
    }

    /// W_prev as the variant sees it: the authors' code stores a reference to the live weights,
    /// so after the first accepted update W_prev is always the current W.
    fn w_prev_effective<'a>(&'a self, w: &'a Layers) -> &'a Layers {
        match (self.spec.variant, self.aliased) {
            (SlrVariant::Reference, true) => w,
            _ => &self.w_prev,
        }
    }

    /// An accepted multiplier update with `z_new` (Z_prev in step 1, the new Z in step 2):
    /// s ← a s Σ‖W_prev − Z_prev‖ / Σ‖W − z_new‖ (skipped when either sum is 0),
    /// Λ ← Λ + s (W − z_new), k ← k + 1, W_prev ← W.
    fn accept(&mut self, w: &Layers, z_new: &Layers, a: f64) {
        let n1 = layers::sum_norm_diff(self.w_prev_effective(w), &self.z_prev);
        let n2 = layers::sum_norm_diff(w, z_new);
        if n1 != 0.0 && n2 != 0.0 {
            self.s *= a * n1 / n2;
        }
        self.lambda = layers::add(&self.lambda, &layers::scale(&layers::sub(w, z_new), self.s));
        self.accepted_s += self.s;
        self.k += 1;
        self.w_prev = w.clone();
        self.aliased = true;
    }

    /// One outer iteration with the epoch-mean CE of the last epoch (`ce`) and of the one
    /// before (`ce_prev`, 0 if none).
    pub fn update(&mut self, w: &Layers, ce: f64, ce_prev: f64) -> SlrUpdate {
        let rho = self.spec.rho;
        let paper = self.spec.variant == SlrVariant::Paper;
        let z_before = self.z.clone();

        // Step 1: half-update of the multipliers with W − Z_prev.
        let a1 = alpha(self.k, self.spec.m, self.spec.r);
        let u = self.u();
        let lhs = ce + layers::penalty_value(rho, w, &self.z_prev, &u);
        let rhs = ce_prev + layers::penalty_value(rho, self.w_prev_effective(w), &self.z_prev, &u);
        let cond1 = lhs < rhs;
        // At k = 1 both sides hold nothing comparable yet; the first update is always taken.
        if cond1 || self.k == 1 {
            let z_prev = self.z_prev.clone();
            self.accept(w, &z_prev, a1);
            self.z_prev = self.z.clone();
        }

        // Step 2: Z ← Π(W + U), then the second multiplier update with W − Z.
        let u = self.u();
        let z_new = layers::project(&layers::add(w, &u), &self.ratios, self.rule);
        let cond2 = if paper {
            // L(W, Z, U) < L(W, Z_prev, U): f(W) and −ρ/2‖U‖² are equal on both sides.
            layers::penalty_value(rho, w, &z_new, &u)
                < layers::penalty_value(rho, w, &self.z_prev, &u)
        } else {
            ce + layers::penalty_value(rho, w, &z_new, &u)
                < ce_prev + layers::penalty_value(rho, w, &self.z_prev, &u)
        };
        if cond2 {
            let a2 = alpha(self.k, self.spec.m, self.spec.r);
            self.accept(w, &z_new, a2);
            self.z_prev = z_new.clone();
            self.z = z_new;
        } else if paper {
            // The paper rolls Z back when the surrogate condition fails.
            self.z = self.z_prev.clone();
        } else {
            self.z = z_new;
        }
        SlrUpdate {
            alpha: a1,
            cond1,
            cond2,
            k: self.k,
            s: self.s,
            w_minus_z: layers::sum_norm_diff(w, &self.z),
            z_change: self
                .z
                .iter()
                .map(|(name, z)| norm(&(z.clone() - z_before[name].clone())))
                .sum(),
        }
    }

    /// Factor on the penalty gradient: 1 + Σ s_j / ρ with `through`, 1 with `detached`.
    pub fn grad_scale(&self) -> f64 {
        match self.spec.multiplier_grad() {
            MultiplierGrad::Through => 1.0 + self.accepted_s / self.spec.rho,
            MultiplierGrad::Detached => 1.0,
        }
    }
}
