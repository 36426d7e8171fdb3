//! Deterministic initialisation from our own generator, by the row's [`InitScheme`] (each
//! scheme's reference is cited on its variant). Each parameter draws from its own stream
//! (seed, name), so adding a layer never changes the others, and a scheme's draws do not depend
//! on the architecture beyond the layer names it singles out (UFLD's heads).

use super::{Net, params};
use crate::base::rng::{SplitMix64, stream};
use crate::catalog::InitScheme;
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

/// Re-initialises every weight and bias of `net` from `seed` by `scheme`.
pub fn initialise(net: Net, scheme: InitScheme, seed: u64) -> Net {
    let shapes: BTreeMap<String, Vec<usize>> = params::shapes(&net).into_iter().collect();
    params::map_flat(net, |name, value| {
        let (layer, leaf) = name.rsplit_once('.').unwrap_or(("", name));
        let n = value.dims()[0];
        let mut rng = SplitMix64::new(stream(seed, name));
        let values = match shapes.get(&format!("{layer}.weight")) {
            Some(weight) => weighted_layer(scheme, name, leaf == "weight", weight, n, &mut rng),
            // BatchNorm (gamma, beta): only PyTorch-YOLOv3 draws it; the rest keep 1 and 0.
            None if scheme == InitScheme::PytorchYolov3 && leaf == "gamma" => {
                normal(&mut rng, n, 0.02)
                    .into_iter()
                    .map(|z| 1.0 + z)
                    .collect()
            }
            None if scheme == InitScheme::PytorchYolov3 && leaf == "beta" => vec![0.0; n],
            None => return None,
        };
        Some(Tensor::from_data(
            TensorData::new(values, [n]),
            &value.device(),
        ))
    })
}

/// The `n` values of a convolution's or linear layer's parameter `name` (its weight when
/// `is_weight`, else its bias), whose weight has shape `weight`.
fn weighted_layer(
    scheme: InitScheme,
    name: &str,
    is_weight: bool,
    weight: &[usize],
    n: usize,
    rng: &mut SplitMix64,
) -> Vec<f32> {
    let conv_weight = is_weight && weight.len() == 4;
    match scheme {
        InitScheme::Tensorflow if is_weight => truncated_normal(rng, n, TF_STDDEV),
        InitScheme::Tensorflow => vec![TF_BIAS; n],
        // UFLD's `real_init_weights` on its auxiliary head: kaiming_normal_ (fan-in, ReLU),
        // biases 0.
        InitScheme::Ufld if name.starts_with("aux_") && is_weight => {
            normal(rng, n, (2.0 / fan_in(weight) as f64).sqrt())
        }
        InitScheme::Ufld if name.starts_with("aux_") => vec![0.0; n],
        // `m.weight.data.normal_(0.0, std=0.01)` on the classifier; its biases keep PyTorch's
        // default.
        InitScheme::Ufld if name.starts_with("cls.") && is_weight => normal(rng, n, 0.01),
        // torchvision's convolutions (UFLD's backbone too, but not its `pool`):
        // std = sqrt(2 / fan_out), fan_out = out x kh x kw.
        InitScheme::Torchvision | InitScheme::Ufld
            if conv_weight && !(scheme == InitScheme::Ufld && name.starts_with("pool.")) =>
        {
            normal(
                rng,
                n,
                (2.0 / (weight[0] * weight[2] * weight[3]) as f64).sqrt(),
            )
        }
        InitScheme::PytorchYolov3 if conv_weight => normal(rng, n, 0.02),
        _ => {
            let bound = 1.0 / (fan_in(weight) as f64).sqrt();
            (0..n)
                .map(|_| ((2.0 * rng.next_f64() - 1.0) * bound) as f32)
                .collect()
        }
    }
}
