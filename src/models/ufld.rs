//! Ultra-Fast-Lane-Detection (cfzd/Ultra-Fast-Lane-Detection, `model/model.py`,
//! `parsingNet` with a ResNet-18 backbone): torchvision's ResNet-18 without its classifier,
//! a 1x1 `pool` convolution to 8 channels, the classification head `cls` over
//! (griding cells + 1) x row anchors x lanes, and the auxiliary segmentation branch
//! (`aux_header2/3/4`, `aux_combine`) used only in training.
//!
//! Names: the backbone's are torchvision's at the top level (the authors' `model.` prefix is a
//! checkpoint wrapper the importer strips); `cls.0` / `cls.1` are their `cls.0` / `cls.2` and
//! `aux_out` their `aux_combine.4` (burn numbers a list without the ReLU between).

use super::resnet::{Block, imagenet_stem, run_blocks, stages};
use super::{conv, norm};
use crate::catalog::{RESNET18_IMAGENET, UfldConfig};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

/// `conv_bn_relu` of `model.py`: a bias-free convolution, BatchNorm, ReLU.
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBnRelu {
    fn new(device: &Device, input: usize, output: usize, padding: usize, dilation: usize) -> Self {
        let p = padding;
        ConvBnRelu {
            conv: Conv2dConfig::new([input, output], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .with_dilation([dilation, dilation])
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(output).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(norm::forward(&self.bn, conv::forward(&self.conv, x)))
    }
}

fn chain(layers: &[ConvBnRelu], mut x: Tensor<4>) -> Tensor<4> {
    for layer in layers {
        x = layer.forward(x);
    }
    x
}

/// The lane model.
#[derive(Module, Debug)]
pub struct Ufld {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: MaxPool2d,
    layer1: Vec<Block>,
    layer2: Vec<Block>,
    layer3: Vec<Block>,
    layer4: Vec<Block>,
    pool: Conv2d,
    cls: Vec<Linear>,
    aux_header2: Vec<ConvBnRelu>,
    aux_header3: Vec<ConvBnRelu>,
    aux_header4: Vec<ConvBnRelu>,
    aux_combine: Vec<ConvBnRelu>,
    aux_out: Conv2d,
    /// (griding cells + 1, row anchors, lanes): the shape of the head's output per image.
    cls_dim: [usize; 3],
}

/// What the lane model outputs for a batch.
pub struct LaneOutput {
    /// Logits `[batch, griding cells + 1, row anchors, lanes]`.
    pub cls: Tensor<4>,
    /// Segmentation logits `[batch, lanes + 1, h / 8, w / 8]`, when asked for (training).
    pub aux: Option<Tensor<4>>,
}

impl Ufld {
    /// A new model on `device` for `[3, height, width]` inputs (multiples of 32).
    pub fn new(device: &Device, config: UfldConfig, input: [usize; 3]) -> Self {
        let (conv1, bn1, maxpool) = imagenet_stem(device);
        let [layer1, layer2, layer3, layer4] = stages(device, RESNET18_IMAGENET);
        let cls_dim = [config.griding_num + 1, config.row_anchors, config.lanes];
        let features = 8 * (input[1] / 32) * (input[2] / 32);
        let block = |input: usize, n: usize| -> Vec<ConvBnRelu> {
            std::iter::once(ConvBnRelu::new(device, input, 128, 1, 1))
                .chain((1..n).map(|_| ConvBnRelu::new(device, 128, 128, 1, 1)))
                .collect()
        };
        Ufld {
            conv1,
            bn1,
            maxpool,
            layer1,
            layer2,
            layer3,
            layer4,
            pool: Conv2dConfig::new([512, 8], [1, 1]).init(device),
            cls: vec![
                LinearConfig::new(features, 2048).init(device),
                LinearConfig::new(2048, cls_dim.iter().product()).init(device),
            ],
            aux_header2: block(128, 4),
            aux_header3: block(256, 3),
            aux_header4: block(512, 2),
            aux_combine: vec![
                ConvBnRelu::new(device, 384, 256, 2, 2),
                ConvBnRelu::new(device, 256, 128, 2, 2),
                ConvBnRelu::new(device, 128, 128, 2, 2),
                ConvBnRelu::new(device, 128, 128, 4, 4),
            ],
            aux_out: Conv2dConfig::new([128, config.lanes + 1], [1, 1]).init(device),
            cls_dim,
        }
    }

    /// The head's logits and, with `aux`, the segmentation branch's.
    pub fn forward(&self, x: Tensor<4>, aux: bool) -> LaneOutput {
        let x = relu(norm::forward(&self.bn1, conv::forward(&self.conv1, x)));
        let x = run_blocks(&self.layer1, self.maxpool.forward(x));
        let x2 = run_blocks(&self.layer2, x);
        let x3 = run_blocks(&self.layer3, x2.clone());
        let fea = run_blocks(&self.layer4, x3.clone());
        let aux = aux.then(|| {
            let a2 = chain(&self.aux_header2, x2);
            let a3 = upsample(chain(&self.aux_header3, x3), 2);
            let a4 = upsample(chain(&self.aux_header4, fea.clone()), 4);
            let combined = chain(&self.aux_combine, Tensor::cat(vec![a2, a3, a4], 1));
            conv::forward(&self.aux_out, combined)
        });
        let batch = fea.dims()[0];
        let pooled: Tensor<2> = conv::forward(&self.pool, fea).reshape([batch as i32, -1]);
        let hidden = relu(self.cls[0].forward(pooled));
        let [cells, rows, lanes] = self.cls_dim;
        let cls = self.cls[1]
            .forward(hidden)
            .reshape([batch, cells, rows, lanes]);
        LaneOutput { cls, aux }
    }
}

/// `F.interpolate(x, scale_factor=factor, mode='bilinear')` (align_corners False).
fn upsample(x: Tensor<4>, factor: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(false)
            .with_output_size([h * factor, w * factor]),
    )
}
