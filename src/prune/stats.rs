//! Sparsity and compression, with the names reports use (method.md section 6).

use super::projection::{count_nonzero, keep_count};
use crate::error::{Error, Result};
use crate::models::{Net, params};
use crate::spec::CountRule;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sizes and non-zero counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparsityReport {
    /// `sparsity.per_layer`: fraction of zeros of each pruned layer.
    #[serde(with = "crate::base::float::map")]
    pub per_layer: BTreeMap<String, f64>,
    /// `sparsity.global`: fraction of zeros over all pruned layers together.
    #[serde(with = "crate::base::float")]
    pub global: f64,
    /// `compression.pruned_layers`: entries / non-zeros over the pruned layers (∞ when every
    /// weight is zero; written as `"inf"`).
    #[serde(with = "crate::base::float")]
    pub compression_pruned_layers: f64,
    /// `compression.reference`: over every non-bias parameter (conv and fc weights, BN gamma),
    /// pruned or not, as the authors' code prints it.
    #[serde(with = "crate::base::float")]
    pub compression_reference: f64,
}

/// Measures the model's sparsity on the layers named in `ratios`.
pub fn measure(model: &Net, ratios: &BTreeMap<String, f64>) -> SparsityReport {
    let all: Vec<String> = params::shapes(model)
        .into_iter()
        .map(|(name, _)| name)
        // Conv and fc weights and BatchNorm gamma; biases, beta and running stats excluded.
        .filter(|name| name.ends_with(".weight") || name.ends_with(".gamma"))
        .collect();
    let flat = params::flat(model, &all);
    let mut per_layer = BTreeMap::new();
    let (mut pruned_total, mut pruned_nonzero) = (0usize, 0usize);
    let (mut ref_total, mut ref_nonzero) = (0usize, 0usize);
    for (name, w) in &flat {
        let n = w.dims()[0];
        let nonzero = count_nonzero(w);
        ref_total += n;
        ref_nonzero += nonzero;
        if ratios.contains_key(name) {
            pruned_total += n;
            pruned_nonzero += nonzero;
            per_layer.insert(name.clone(), (n - nonzero) as f64 / n as f64);
        }
    }
    let ratio = |total: usize, nonzero: usize| {
        if nonzero == 0 {
            f64::INFINITY
        } else {
            total as f64 / nonzero as f64
        }
    };
    SparsityReport {
        per_layer,
        global: if pruned_total == 0 {
            0.0
        } else {
            (pruned_total - pruned_nonzero) as f64 / pruned_total as f64
        },
        compression_pruned_layers: ratio(pruned_total, pruned_nonzero),
        compression_reference: ratio(ref_total, ref_nonzero),
    }
}

/// Fails unless every pruned layer keeps exactly the count its ratio allows.
pub fn check_targets(
    model: &Net,
    ratios: &BTreeMap<String, f64>,
    rule: CountRule,
    when: &str,
) -> Result<()> {
    let names: Vec<String> = ratios.keys().cloned().collect();
    let flat = params::flat(model, &names);
    for (name, ratio) in ratios {
        let w = &flat[name];
        let n = w.dims()[0];
        let expected = keep_count(n, *ratio, rule);
        let actual = count_nonzero(w);
        // The percentile rule's interpolated threshold is rounded to f32, the weights' type:
        // where it rounds onto the magnitude just below it, strict `<` keeps that entry too.
        let slack = match rule {
            CountRule::Exact => 0,
            CountRule::Percentile => 1,
        };
        if !(expected..=expected + slack).contains(&actual) {
            return Err(Error::RunFailed(format!(
                "{when}: layer {name} keeps {actual} of {n} weights, target {expected} (ratio {ratio})"
            )));
        }
    }
    Ok(())
}
