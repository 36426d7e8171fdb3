//! ADMM (method.md section 3): Z = Π(W⁰), U = 0; every `interval` epochs, at the first batch
//! (never before epoch 2): Z ← Π(W + U), U ← U + W − Z.

use super::layers::{self, Layers};
use crate::spec::{AdmmSpec, CountRule, MultiplierGrad};
use std::collections::BTreeMap;

/// What one update measured.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmmUpdate {
    /// Σ‖W − Z‖ after the update.
    pub w_minus_z: f64,
    /// Σ‖Z − Z_old‖.
    pub z_change: f64,
    /// ρ in force after the update.
    pub rho: f64,
}

/// ADMM's auxiliary variables.
#[derive(Debug, Clone)]
pub struct Admm {
    /// Settings.
    pub spec: AdmmSpec,
    /// Prune ratio per layer.
    pub ratios: BTreeMap<String, f64>,
    /// Count rule of Π.
    pub rule: CountRule,
    /// Sparse copy Z.
    pub z: Layers,
    /// Scaled dual U.
    pub u: Layers,
    /// Current ρ.
    pub rho: f64,
    /// Number of Z/U updates so far.
    pub updates: usize,
}

impl Admm {
    /// Initial state from the pretrained weights: Z = Π(W⁰), U = 0.
    pub fn new(
        spec: AdmmSpec,
        ratios: BTreeMap<String, f64>,
        rule: CountRule,
        w0: &Layers,
    ) -> Admm {
        Admm {
            rho: spec.rho,
            z: layers::project(w0, &ratios, rule),
            u: layers::zeros_like(w0),
            spec,
            ratios,
            rule,
            updates: 0,
        }
    }

    /// Whether epoch `epoch` (1-based) starts with an update: epochs 1 + j·interval, j ≥ 1.
    pub fn updates_at(&self, epoch: usize) -> bool {
        super::layers::updates_at(epoch, self.spec.interval)
    }

    /// Z ← Π(W + U); U ← U + W − Z; ρ grows by its factor up to its cap.
    pub fn update(&mut self, w: &Layers) -> AdmmUpdate {
        let z_old = std::mem::take(&mut self.z);
        self.z = layers::project(&layers::add(w, &self.u), &self.ratios, self.rule);
        self.u = layers::add(&self.u, &layers::sub(w, &self.z));
        self.updates += 1;
        if self.spec.rho_growth != 1.0 {
            self.rho = (self.rho * self.spec.rho_growth).min(self.spec.rho_max);
        }
        AdmmUpdate {
            w_minus_z: layers::sum_norm_diff(w, &self.z),
            z_change: layers::sum_norm_diff(&self.z, &z_old),
            rho: self.rho,
        }
    }

    /// Factor on the penalty gradient: 1 + n with `through`, 1 with `detached`.
    pub fn grad_scale(&self) -> f64 {
        match self.spec.multiplier_grad {
            MultiplierGrad::Through => 1.0 + self.updates as f64,
            MultiplierGrad::Detached => 1.0,
        }
    }
}
