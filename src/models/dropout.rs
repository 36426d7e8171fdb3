//! Training dropout with masks drawn from our own generator, so a seed gives the same mask on
//! every run and backend (burn's dropout draws from the backend's global RNG).

use crate::base::rng::SplitMix64;
use burn::tensor::{Device, Tensor, TensorData};

/// One dropout draw: drop probability and the seed of the mask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// Probability of dropping a unit, in [0, 1).
    pub p: f64,
    /// Seed of the mask.
    pub seed: u64,
}

impl Dropout {
    /// The mask for `shape`: each entry is `1 / (1 - p)` with probability `1 - p`, else 0
    /// (`tf.nn.dropout(x, keep_prob)`: `x / keep * floor(keep + U[0, 1))`).
    pub fn mask(&self, shape: [usize; 2], device: &Device) -> Tensor<2> {
        let keep = 1.0 - self.p;
        let scale = (1.0 / keep) as f32;
        let mut rng = SplitMix64::new(self.seed);
        let values: Vec<f32> = (0..shape[0] * shape[1])
            .map(|_| if rng.next_f64() < keep { scale } else { 0.0 })
            .collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// `x` with the mask applied.
    pub fn apply(&self, x: Tensor<2>) -> Tensor<2> {
        let mask = self.mask(x.dims(), &x.device());
        x * mask
    }
}
