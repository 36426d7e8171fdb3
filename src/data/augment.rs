//! The CIFAR training augmentation on the tensor backend: a random 32x32 crop of each image
//! zero-padded by 4 pixels, and a horizontal flip with probability 1/2, one draw per image from
//! the batch's seed (so reruns see identical batches).

use crate::base::rng::SplitMix64;
use burn::tensor::{Tensor, TensorData};

/// Padding on each side before the crop.
pub const PAD: usize = 4;

/// One image's draw: crop offsets `(dy, dx)` in `0..=2 * PAD` and whether to flip.
pub fn draws(n: usize, seed: u64) -> Vec<(usize, usize, bool)> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let dy = rng.below(2 * PAD as u64 + 1) as usize;
            let dx = rng.below(2 * PAD as u64 + 1) as usize;
            (dy, dx, rng.below(2) == 1)
        })
        .collect()
}

/// Augments a normalised batch `[n, c, h, w]`. Padding is black in pixel space, i.e.
/// `-mean / std` of each channel after normalisation (`norm[c] = (mean, std)`).
pub fn crop_flip(images: Tensor<4>, norm: &[(f32, f32)], seed: u64) -> Tensor<4> {
    let [n, c, h, w] = images.dims();
    let device = images.device();
    // Shift so black is 0, pad with zeros, crop and flip, shift back.
    let black: Vec<f32> = norm.iter().map(|(mean, std)| mean / std).collect();
    let shift = Tensor::<4>::from_data(TensorData::new(black, [1, c, 1, 1]), &device);
    let padded = (images + shift.clone()).pad((PAD, PAD, PAD, PAD), 0.0);
    let crops: Vec<Tensor<4>> = draws(n, seed)
        .into_iter()
        .enumerate()
        .map(|(i, (dy, dx, flip))| {
            let crop = padded
                .clone()
                .slice([i..i + 1, 0..c, dy..dy + h, dx..dx + w]);
            if flip { crop.flip([3]) } else { crop }
        })
        .collect();
    Tensor::cat(crops, 0) - shift
}
