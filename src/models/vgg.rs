//! VGG-16 for CIFAR as the authors define it: 3x3 convolutions with bias, each followed by
//! BatchNorm and ReLU, 2x2 max-pools, a 512 -> 10 classifier. Parameter names are
//! `features.<i>.conv.*`, `features.<i>.bn.*` (i counts convolutions) and `classifier.*`.

use super::{conv, norm};
use crate::catalog::VGG16_CHANNELS;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Output channels of each convolution; `0` marks a 2x2 max-pool.
const CONFIG: [usize; 18] = VGG16_CHANNELS;

/// Position of each convolution in the authors' `features` nn.Sequential (conv, bn, relu per
/// layer, one module per max-pool); its BatchNorm is the next position.
pub(crate) fn sequential_indices() -> Vec<usize> {
    let mut position = 0;
    let mut indices = Vec::new();
    for &channels in &CONFIG {
        if channels == 0 {
            position += 1;
        } else {
            indices.push(position);
            position += 3;
        }
    }
    indices
}

/// Convolution + BatchNorm (+ ReLU in the forward pass).
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

/// VGG-16 with BatchNorm, for 32x32 inputs.
#[derive(Module, Debug)]
pub struct Vgg16 {
    features: Vec<ConvBn>,
    pool: MaxPool2d,
    classifier: Linear,
}

impl Vgg16 {
    /// A new model on `device`.
    pub fn new(device: &Device, classes: usize) -> Self {
        Vgg16::with_width(device, classes, 64)
    }

    /// The same layout with every width scaled by `base` / 64 (the fidelity traces use fewer
    /// channels than the paper's 64 in the first layer).
    pub fn with_width(device: &Device, classes: usize, base: usize) -> Self {
        let mut input = 3;
        let mut features = Vec::new();
        for output in CONFIG.iter().filter(|&&c| c != 0).map(|c| c * base / 64) {
            features.push(ConvBn {
                conv: Conv2dConfig::new([input, output], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
                bn: BatchNormConfig::new(output).init(device),
            });
            input = output;
        }
        Vgg16 {
            features,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            classifier: LinearConfig::new(8 * base, classes).init(device),
        }
    }

    /// Logits for `[batch, 3, 32, 32]` images.
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<2> {
        let mut layers = self.features.iter();
        for &channels in &CONFIG {
            if channels == 0 {
                x = self.pool.forward(x);
            } else if let Some(layer) = layers.next() {
                x = relu(norm::forward(&layer.bn, conv::forward(&layer.conv, x)));
            }
        }
        self.classifier.forward(x.flatten(1, 3))
    }
}
