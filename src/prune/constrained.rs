//! ADMM and SLR as [`Pruner`]s: both add Σ ρ/2 ‖W − Z + U‖² to the loss, update their
//! auxiliary variables before the first batch of an update epoch, and prune by projecting W.

use super::admm::Admm;
use super::layers::{self, Layers};
use super::slr::Slr;
use super::{Masks, Pruner, PrunerState};
use crate::error::Result;
use crate::metrics::Metric;
use crate::models::{Net, params};
use burn::tensor::Tensor;

/// The method inside a [`Constrained`] pruner.
#[derive(Debug, Clone)]
pub enum Method {
    /// ADMM.
    Admm(Admm),
    /// SLR.
    Slr(Slr),
}

/// ADMM or SLR training as seen by the training loop.
#[derive(Debug, Clone)]
pub struct Constrained {
    /// The method's state.
    pub method: Method,
    /// Epoch-mean CE of the last finished epoch and of the one before (0 if none).
    ce: (f64, f64),
    /// Metrics of the current epoch's update, if one ran.
    update_metrics: Vec<(Metric, f64)>,
    /// U as of the last update (SLR derives it from Λ; kept so every batch need not).
    u: Layers,
}

impl Constrained {
    /// Wraps a method's initial state.
    pub fn new(method: Method) -> Constrained {
        let mut constrained = Constrained {
            method,
            ce: (0.0, 0.0),
            update_metrics: Vec::new(),
            u: Layers::new(),
        };
        constrained.u = constrained.current_u();
        constrained
    }

    fn names(&self) -> Vec<String> {
        self.z().keys().cloned().collect()
    }

    /// The current Z.
    pub fn z(&self) -> &Layers {
        match &self.method {
            Method::Admm(a) => &a.z,
            Method::Slr(s) => &s.z,
        }
    }

    /// The current U.
    fn current_u(&self) -> Layers {
        match &self.method {
            Method::Admm(a) => a.u.clone(),
            Method::Slr(s) => s.u(),
        }
    }

    fn rho(&self) -> f64 {
        match &self.method {
            Method::Admm(a) => a.rho,
            Method::Slr(s) => s.spec.rho,
        }
    }

    /// Factor on the penalty gradient (`multiplier_grad`).
    pub fn grad_scale(&self) -> f64 {
        match &self.method {
            Method::Admm(a) => a.grad_scale(),
            Method::Slr(s) => s.grad_scale(),
        }
    }
}

impl Constrained {
    /// Steps between updates, if the method counts steps instead of epochs.
    fn interval_steps(&self) -> Option<usize> {
        match &self.method {
            Method::Admm(a) => a.spec.interval_steps,
            Method::Slr(s) => s.spec.interval_steps,
        }
    }

    /// One update of the method's auxiliary variables from the current weights.
    fn update(&mut self, model: &Net) {
        let w = params::flat(model, &self.names());
        let (ce, ce_prev) = self.ce;
        self.update_metrics = match &mut self.method {
            Method::Admm(admm) => {
                let update = admm.update(&w);
                vec![
                    (Metric::AdmmZChange, update.z_change),
                    (Metric::AdmmRho, update.rho),
                    (Metric::AdmmUpdates, admm.updates as f64),
                ]
            }
            Method::Slr(slr) => {
                let update = slr.update(&w, ce, ce_prev);
                vec![
                    (Metric::SlrK, update.k as f64),
                    (Metric::SlrS, update.s),
                    (Metric::SlrAlpha, update.alpha),
                    (Metric::SlrCond1, update.cond1 as u8 as f64),
                    (Metric::SlrCond2, update.cond2 as u8 as f64),
                    (Metric::SlrZChange, update.z_change),
                ]
            }
        };
        self.u = self.current_u();
    }
}

impl Pruner for Constrained {
    fn on_epoch_start(&mut self, epoch: usize, model: &Net) -> Result<()> {
        self.update_metrics.clear();
        let due = match &self.method {
            _ if self.interval_steps().is_some() => false,
            Method::Admm(admm) => admm.updates_at(epoch),
            Method::Slr(slr) => slr.updates_at(epoch),
        };
        if due {
            self.update(model);
        }
        Ok(())
    }

    fn update_every_steps(&self) -> Option<usize> {
        self.interval_steps()
    }

    fn on_round_end(&mut self, _step: usize, model: &Net, mean_ce: f64) -> Result<()> {
        self.ce = (mean_ce, self.ce.0);
        self.update(model);
        self.update_metrics.push((Metric::RoundCe, mean_ce));
        Ok(())
    }

    fn penalty(&self, model: &Net) -> Option<Tensor<1>> {
        let rho = self.rho();
        let scale = self.grad_scale();
        let u = &self.u;
        let z = self.z();
        let tracked = params::tracked(model, &self.names());
        tracked
            .into_iter()
            .map(|(name, w)| {
                // Value W, gradient scale·ρ(W − Z + U): the authors' autograd link through the
                // multipliers as a factor instead of a growing graph.
                let w = if scale == 1.0 {
                    w
                } else {
                    w.clone().mul_scalar(scale) - w.detach().mul_scalar(scale - 1.0)
                };
                let residual = w - z[&name].clone() + u[&name].clone();
                residual.square().sum().mul_scalar(0.5 * rho)
            })
            .reduce(|a, b| a + b)
    }

    fn on_epoch_end(&mut self, _epoch: usize, _model: &Net, mean_ce: f64) -> Result<()> {
        // Step-clocked methods compare the losses of rounds, not of epochs.
        if self.interval_steps().is_none() {
            self.ce = (mean_ce, self.ce.0);
        }
        Ok(())
    }

    fn epoch_metrics(&self, model: &Net) -> Vec<(Metric, f64)> {
        let w = params::flat(model, &self.names());
        let mut metrics = vec![
            (Metric::WMinusZ, layers::sum_norm_diff(&w, self.z())),
            (Metric::GradScale, self.grad_scale()),
        ];
        metrics.extend(self.update_metrics.iter().cloned());
        metrics
    }

    fn save_state(&self) -> PrunerState {
        let mut state = PrunerState::default();
        let (ce, ce_prev) = self.ce;
        state.scalars.insert("ce".into(), ce);
        state.scalars.insert("ce_prev".into(), ce_prev);
        // Numbered, so they come back in the order the update wrote them.
        for (i, (metric, value)) in self.update_metrics.iter().enumerate() {
            state
                .scalars
                .insert(format!("update/{i:02}/{metric}"), *value);
        }
        match &self.method {
            Method::Admm(a) => {
                state.put_group("z", &a.z);
                state.put_group("u", &a.u);
                state.scalars.insert("rho".into(), a.rho);
                state.scalars.insert("updates".into(), a.updates as f64);
            }
            Method::Slr(s) => {
                state.put_group("z", &s.z);
                state.put_group("lambda", &s.lambda);
                state.put_group("z_prev", &s.z_prev);
                state.put_group("w_prev", &s.w_prev);
                state.scalars.insert("s".into(), s.s);
                state.scalars.insert("k".into(), s.k as f64);
                state.scalars.insert("accepted_s".into(), s.accepted_s);
                state
                    .scalars
                    .insert("aliased".into(), if s.aliased { 1.0 } else { 0.0 });
            }
        }
        state
    }

    fn load_state(&mut self, state: &PrunerState) -> Result<()> {
        self.ce = (state.scalar("ce")?, state.scalar("ce_prev")?);
        self.update_metrics = state
            .scalars
            .iter()
            .filter_map(|(name, value)| {
                let (_, metric) = name.strip_prefix("update/")?.split_once('/')?;
                Some((Metric::parse(metric)?, *value))
            })
            .collect();
        match &mut self.method {
            Method::Admm(a) => {
                a.z = state.group("z");
                a.u = state.group("u");
                a.rho = state.scalar("rho")?;
                a.updates = state.scalar("updates")? as usize;
            }
            Method::Slr(s) => {
                s.z = state.group("z");
                s.lambda = state.group("lambda");
                s.z_prev = state.group("z_prev");
                s.w_prev = state.group("w_prev");
                s.s = state.scalar("s")?;
                s.k = state.scalar("k")? as u64;
                s.accepted_s = state.scalar("accepted_s")?;
                s.aliased = state.scalar("aliased")? != 0.0;
            }
        }
        self.u = self.current_u();
        Ok(())
    }

    fn masks(&self, model: &Net) -> Result<Masks> {
        let w = params::flat(model, &self.names());
        let (ratios, rule) = match &self.method {
            Method::Admm(a) => (&a.ratios, a.rule),
            Method::Slr(s) => (&s.ratios, s.rule),
        };
        Ok(layers::masks(&w, ratios, rule))
    }
}
