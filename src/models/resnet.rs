//! ResNets with torchvision's layout and names (`conv1`, `bn1`, `layerX.Y.convZ`, `fc`):
//! the authors' CIFAR variants (3x3 stem, optionally followed by a 3x3/2 max-pool) and the
//! ImageNet definitions (7x7/2 stem + max-pool). BatchNorm parameters are burn's `gamma`/`beta`
//! (torchvision's `weight`/`bias`); a downsample is `downsample.conv` / `downsample.bn`
//! (torchvision's `downsample.0` / `downsample.1`).

use super::{conv, norm};
use crate::catalog::ResNetConfig;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A bias-free `k x k` convolution with stride `s` and padding `k / 2`.
fn conv(device: &Device, input: usize, output: usize, k: usize, s: usize) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([input, output], [k, k])
        .with_stride([s, s])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(false)
        .init(device)
}

fn bn(device: &Device, channels: usize) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// 1x1 convolution + BN that matches a block's input to its output.
#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
}

impl Downsample {
    fn new(device: &Device, input: usize, output: usize, stride: usize) -> Option<Self> {
        (stride != 1 || input != output).then(|| Downsample {
            conv: conv(device, input, output, 1, stride),
            bn: bn(device, output),
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        norm::forward(&self.bn, conv::forward(&self.conv, x))
    }
}

/// Two 3x3 convolutions (ResNet-18/34).
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    downsample: Option<Downsample>,
}

/// 1x1, 3x3, 1x1 convolutions with 4x expansion (ResNet-50 and deeper).
#[derive(Module, Debug)]
pub struct Bottleneck {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Conv2d,
    bn3: BatchNorm,
    downsample: Option<Downsample>,
}

/// A residual block of either kind (transparent in parameter names).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Block {
    /// ResNet-18 block.
    Basic(BasicBlock),
    /// ResNet-50 block.
    Bottleneck(Bottleneck),
}

impl Block {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Block::Basic(b) => {
                let identity = match &b.downsample {
                    Some(d) => d.forward(x.clone()),
                    None => x.clone(),
                };
                let out = relu(norm::forward(&b.bn1, conv::forward(&b.conv1, x)));
                let out = norm::forward(&b.bn2, conv::forward(&b.conv2, out));
                relu(out + identity)
            }
            Block::Bottleneck(b) => {
                let identity = match &b.downsample {
                    Some(d) => d.forward(x.clone()),
                    None => x.clone(),
                };
                let out = relu(norm::forward(&b.bn1, conv::forward(&b.conv1, x)));
                let out = relu(norm::forward(&b.bn2, conv::forward(&b.conv2, out)));
                let out = norm::forward(&b.bn3, conv::forward(&b.conv3, out));
                relu(out + identity)
            }
        }
    }
}

/// A ResNet.
#[derive(Module, Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: Option<MaxPool2d>,
    layer1: Vec<Block>,
    layer2: Vec<Block>,
    layer3: Vec<Block>,
    layer4: Vec<Block>,
    avgpool: AdaptiveAvgPool2d,
    fc: Linear,
}

/// The four stages of residual blocks of `config` (torchvision's `layer1` .. `layer4`).
pub(super) fn stages(device: &Device, config: ResNetConfig) -> [Vec<Block>; 4] {
    let expansion = if config.bottleneck { 4 } else { 1 };
    let base = config.width;
    let mut input = base;
    let mut stages = Vec::new();
    for (stage, (&width, &count)) in [base, 2 * base, 4 * base, 8 * base]
        .iter()
        .zip(&config.blocks)
        .enumerate()
    {
        let mut blocks = Vec::new();
        for index in 0..count {
            let stride = if stage > 0 && index == 0 { 2 } else { 1 };
            let output = width * expansion;
            let downsample = Downsample::new(device, input, output, stride);
            blocks.push(if config.bottleneck {
                Block::Bottleneck(Bottleneck {
                    conv1: conv(device, input, width, 1, 1),
                    bn1: bn(device, width),
                    conv2: conv(device, width, width, 3, stride),
                    bn2: bn(device, width),
                    conv3: conv(device, width, output, 1, 1),
                    bn3: bn(device, output),
                    downsample,
                })
            } else {
                Block::Basic(BasicBlock {
                    conv1: conv(device, input, width, 3, stride),
                    bn1: bn(device, width),
                    conv2: conv(device, width, width, 3, 1),
                    bn2: bn(device, width),
                    downsample,
                })
            });
            input = output;
        }
        stages.push(blocks);
    }
    stages.try_into().expect("four stages")
}

/// The ImageNet stem: 7x7/2 convolution, BN (ReLU in the forward) and the 3x3/2 max-pool.
pub(super) fn imagenet_stem(device: &Device) -> (Conv2d, BatchNorm, MaxPool2d) {
    (conv(device, 3, 64, 7, 2), bn(device, 64), stem_pool())
}

fn stem_pool() -> MaxPool2d {
    MaxPool2dConfig::new([3, 3])
        .with_strides([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init()
}

/// Runs `blocks` in order.
pub(super) fn run_blocks(blocks: &[Block], mut x: Tensor<4>) -> Tensor<4> {
    for block in blocks {
        x = block.forward(x);
    }
    x
}

impl ResNet {
    /// A new model on `device` (burn's initialisation; `models::initialise` replaces it).
    pub fn new(device: &Device, config: ResNetConfig) -> Self {
        let base = config.width;
        let conv1 = if config.imagenet_stem {
            conv(device, 3, base, 7, 2)
        } else {
            conv(device, 3, base, 3, 1)
        };
        let expansion = if config.bottleneck { 4 } else { 1 };
        let [layer1, layer2, layer3, layer4] = stages(device, config);
        ResNet {
            conv1,
            bn1: bn(device, base),
            maxpool: config.stem_pool.then(stem_pool),
            layer1,
            layer2,
            layer3,
            layer4,
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(8 * base * expansion, config.classes).init(device),
        }
    }

    /// Logits for `[batch, 3, h, w]` images.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = relu(norm::forward(&self.bn1, conv::forward(&self.conv1, x)));
        if let Some(pool) = &self.maxpool {
            x = pool.forward(x);
        }
        for layer in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            x = run_blocks(layer, x);
        }
        let x: Tensor<2> = self.avgpool.forward(x).flatten(1, 3);
        self.fc.forward(x)
    }
}
