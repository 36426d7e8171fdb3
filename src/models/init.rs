//! Deterministic initialisation from our own generator: PyTorch's default for conv and linear
//! layers, uniform in +-1/sqrt(fan_in) for weights and biases, except the ResNets' convolutions,
//! which are Kaiming-normal (fan_out, ReLU) as torchvision initialises them, and TensorFlow's
//! LeNet-5 (`lenet5-relu`), initialised as its `model.py` does. BatchNorm keeps
//! burn's γ = 1, β = 0. Each parameter draws from its own stream (seed, name), so adding a
//! layer never changes the others.

use super::{Net, params};
use crate::base::rng::{SplitMix64, stream};
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

/// `tf.truncated_normal(shape, stddev=0.1)` and `tf.constant(0.1)` of TensorFlow's LeNet-5.
const TF_STDDEV: f64 = 0.1;
const TF_BIAS: f32 = 0.1;

/// One Box-Muller draw as (radius, angle): `r cos t` and `r sin t` are two standard normals.
fn box_muller(rng: &mut SplitMix64) -> (f64, f64) {
    let u1 = 1.0 - rng.next_f64();
    let u2 = rng.next_f64();
    ((-2.0 * u1.ln()).sqrt(), std::f64::consts::TAU * u2)
}

/// `n` draws from a normal with standard deviation `std`, redrawn while outside two standard
/// deviations (`tf.truncated_normal`); Box-Muller.
fn truncated_normal(rng: &mut SplitMix64, n: usize, std: f64) -> Vec<f32> {
    let mut values = Vec::with_capacity(n);
    while values.len() < n {
        let (r, t) = box_muller(rng);
        for z in [r * t.cos(), r * t.sin()] {
            if z.abs() <= 2.0 && values.len() < n {
                values.push((z * std) as f32);
            }
        }
    }
    values
}

/// `n` draws from a normal with standard deviation `std`, in Box-Muller pairs.
fn normal(rng: &mut SplitMix64, n: usize, std: f64) -> Vec<f32> {
    (0..n.div_ceil(2))
        .flat_map(|_| {
            let (r, t) = box_muller(rng);
            let r = r * std;
            [(r * t.cos()) as f32, (r * t.sin()) as f32]
        })
        .take(n)
        .collect()
}

/// Re-initialises every weight and bias of `net` from `seed`.
pub fn initialise(net: Net, seed: u64) -> Net {
    let shapes: BTreeMap<String, Vec<usize>> = params::shapes(&net).into_iter().collect();
    let ufld = matches!(net, Net::Ufld(_));
    let kaiming_convs = matches!(net, Net::ResNet(_)) || ufld;
    // TensorFlow's LeNet-5 (`model.py`): truncated normal weights, constant biases.
    let tensorflow = matches!(net, Net::LeNet5Relu(_));
    params::map_flat(net, |name, value| {
        let layer = name.rsplit_once('.').map_or("", |(layer, _)| layer);
        // Only parameters of layers with a `weight` (conv, linear); BatchNorm has gamma/beta.
        let weight = shapes.get(&format!("{layer}.weight"))?;
        let n = value.dims()[0];
        let is_weight = name.ends_with(".weight");
        let mut rng = SplitMix64::new(stream(seed, name));
        let values: Vec<f32> = if tensorflow {
            if is_weight {
                truncated_normal(&mut rng, n, TF_STDDEV)
            } else {
                vec![TF_BIAS; n]
            }
        } else if ufld && name.starts_with("aux_") {
            // UFLD's `real_init_weights`: kaiming_normal_ (fan-in, ReLU), biases 0.
            if is_weight {
                normal(&mut rng, n, (2.0 / fan_in(weight) as f64).sqrt())
            } else {
                vec![0.0; n]
            }
        } else if ufld && name.starts_with("cls.") && is_weight {
            // `m.weight.data.normal_(0.0, std=0.01)`; the biases keep PyTorch's default.
            normal(&mut rng, n, 0.01)
        } else if kaiming_convs && weight.len() == 4 && is_weight && !name.starts_with("pool.") {
            // torchvision: std = sqrt(2 / fan_out), fan_out = out x kh x kw.
            normal(
                &mut rng,
                n,
                (2.0 / (weight[0] * weight[2] * weight[3]) as f64).sqrt(),
            )
        } else {
            let bound = 1.0 / (fan_in(weight) as f64).sqrt();
            (0..n)
                .map(|_| ((2.0 * rng.next_f64() - 1.0) * bound) as f32)
                .collect()
        };
        Some(Tensor::from_data(
            TensorData::new(values, [n]),
            &value.device(),
        ))
    })
}
