//! The one place a method's spec becomes its pruner: the training loop, the stage runner and
//! `slr perf` ask here and never name a method.

use super::admm::Admm;
use super::constrained::{Constrained, Method};
use super::layers::Layers;
use super::slr::Slr;
use super::{Dense, Pruner};
use crate::error::{Error, Result};
use crate::spec::{CountRule, MethodSpec};
use std::collections::BTreeMap;

/// The pruner of a `train` stage: `method` trains the dense weights `w0` towards the per-layer
/// `ratios` (projections by `rule`). Dense training gets [`Dense`]; a method without a
/// training phase (magnitude pruning) is an error, as resolution never gives it a train stage.
pub fn train_pruner(
    method: &MethodSpec,
    ratios: &BTreeMap<String, f64>,
    rule: CountRule,
    w0: &Layers,
) -> Result<Box<dyn Pruner>> {
    let state = match method {
        MethodSpec::Dense => return Ok(Box::new(Dense)),
        MethodSpec::Admm(spec) => Method::Admm(Admm::new(spec.clone(), ratios.clone(), rule, w0)),
        MethodSpec::Slr(spec) => Method::Slr(Slr::new(spec.clone(), ratios.clone(), rule, w0)),
        MethodSpec::Magnitude => {
            return Err(Error::RunFailed(format!(
                "no training towards sparsity for method `{}`",
                method.name().name()
            )));
        }
    };
    Ok(Box::new(Constrained::new(state)))
}
