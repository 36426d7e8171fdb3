//! Deterministic initialisation from our own generator: PyTorch's default for conv and linear
//! layers, uniform in +-1/sqrt(fan_in) for weights and biases. Each parameter draws from its own
//! stream (seed, name), so adding a layer never changes the others.

use super::Net;
use crate::prune::params;
use crate::rng::{SplitMix64, stream};
use burn::tensor::{Tensor, TensorData};
use std::collections::BTreeMap;

/// Fan-in of a weight: `in x kh x kw` for conv `[out, in, kh, kw]`, `in` for burn's linear
/// `[in, out]`.
fn fan_in(dims: &[usize]) -> usize {
    match dims.len() {
        4 => dims[1] * dims[2] * dims[3],
        2 => dims[0],
        _ => 1,
    }
}

/// Re-initialises every parameter of `net` from `seed`.
pub fn initialise(net: Net, seed: u64) -> Net {
    let shapes: BTreeMap<String, Vec<usize>> = params::shapes(&net).into_iter().collect();
    params::map_flat(net, |name, value| {
        let layer = name.rsplit_once('.').map_or("", |(layer, _)| layer);
        let weight = shapes.get(&format!("{layer}.weight"))?;
        let bound = 1.0 / (fan_in(weight) as f64).sqrt();
        let n = value.dims()[0];
        let mut rng = SplitMix64::new(stream(seed, name));
        let values: Vec<f32> = (0..n)
            .map(|_| ((2.0 * rng.next_f64() - 1.0) * bound) as f32)
            .collect();
        Some(Tensor::from_data(
            TensorData::new(values, [n]),
            &value.device(),
        ))
    })
}
