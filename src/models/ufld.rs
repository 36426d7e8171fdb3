//! Ultra-Fast-Lane-Detection (cfzd/Ultra-Fast-Lane-Detection, `model/model.py`,
//! `parsingNet` with a ResNet-18 backbone): torchvision's ResNet-18 without its classifier,
//! a 1x1 `pool` convolution to 8 channels, the classification head `cls` over
//! (griding cells + 1) x row anchors x lanes, and the auxiliary segmentation branch
//! (`aux_header2/3/4`, `aux_combine`) used only in training.
//!
//! `UfldConfig::width` and `hidden` narrow it (64 and 2048: the reference): the backbone as
//! `ResNetConfig::width` narrows a ResNet, the auxiliary branch's 128 channels (layer 2's) to
//! 2 x width and its 384 / 256 to 6 / 4 x width, the head's 2048 hidden units to `hidden`;
//! `pool` keeps its 8 outputs.
//!
//! Names: the backbone's are torchvision's at the top level (the authors' `model.` prefix is a
//! checkpoint wrapper the importer strips); `cls.0` / `cls.1` are their `cls.0` / `cls.2` and
//! `aux_out` their `aux_combine.4` (burn numbers a list without the ReLU between).

use super::resnet::{Block, imagenet_stem, run_blocks, stages};
use super::{conv, norm};
use crate::catalog::{RESNET18_IMAGENET, ResNetConfig, UfldConfig};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
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

/// torchvision's ImageNet stem with `width` channels: 7x7/2 convolution, BN (ReLU in the
/// forward) and the 3x3/2 max-pool; `resnet::imagenet_stem` itself at 64.
fn stem(device: &Device, width: usize) -> (Conv2d, BatchNorm, MaxPool2d) {
    if width == RESNET18_IMAGENET.width {
        return imagenet_stem(device);
    }
    (
        Conv2dConfig::new([3, width], [7, 7])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
            .with_bias(false)
            .init(device),
        BatchNormConfig::new(width).init(device),
        MaxPool2dConfig::new([3, 3])
            .with_strides([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(),
    )
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
        let width = config.width;
        let (conv1, bn1, maxpool) = stem(device, width);
        let [layer1, layer2, layer3, layer4] = stages(
            device,
            ResNetConfig {
                width,
                ..RESNET18_IMAGENET
            },
        );
        let cls_dim = [config.griding_num + 1, config.row_anchors, config.lanes];
        let features = 8 * (input[1] / 32) * (input[2] / 32);
        // The auxiliary branch's width: 128 (layer 2's channels) at width 64.
        let aux = 2 * width;
        let block = |input: usize, n: usize| -> Vec<ConvBnRelu> {
            std::iter::once(ConvBnRelu::new(device, input, aux, 1, 1))
                .chain((1..n).map(|_| ConvBnRelu::new(device, aux, aux, 1, 1)))
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
            pool: Conv2dConfig::new([8 * width, 8], [1, 1]).init(device),
            cls: vec![
                LinearConfig::new(features, config.hidden).init(device),
                LinearConfig::new(config.hidden, cls_dim.iter().product()).init(device),
            ],
            aux_header2: block(2 * width, 4),
            aux_header3: block(4 * width, 3),
            aux_header4: block(8 * width, 2),
            aux_combine: vec![
                ConvBnRelu::new(device, 3 * aux, 2 * aux, 2, 2),
                ConvBnRelu::new(device, 2 * aux, aux, 2, 2),
                ConvBnRelu::new(device, aux, aux, 2, 2),
                ConvBnRelu::new(device, aux, aux, 4, 4),
            ],
            aux_out: Conv2dConfig::new([aux, config.lanes + 1], [1, 1]).init(device),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::backend::Backend;
    use crate::catalog::{Architecture, ModelKind};
    use crate::models::{Net, params};

    fn parameters(config: UfldConfig, input: [usize; 3]) -> Vec<(String, Vec<usize>)> {
        let device = Backend::Cpu.device();
        params::shapes(&Net::Ufld(Ufld::new(&device, config, input)))
    }

    fn count(shapes: &[(String, Vec<usize>)]) -> usize {
        shapes
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// The catalog's models keep the reference's widths (64, 2048): parsingNet's float tensors
    /// (parameters and BatchNorm statistics, `scripts/fidelity_trace_ufld.py`'s mirror at width
    /// 64) at 288x800 with 100 cells and at 64x160 with 25.
    #[test]
    fn the_catalogs_ufld_models_keep_the_reference_widths() {
        for (kind, expected) in [
            (ModelKind::Ufld, 64_634_541),
            (ModelKind::UfldSmall, 26_688_781),
        ] {
            let entry = kind.entry();
            let Architecture::Ufld(config) = entry.architecture else {
                panic!("{} is a UFLD", kind.name());
            };
            assert_eq!((config.width, config.hidden), (64, 2048));
            assert_eq!(count(&parameters(config, entry.input)), expected);
        }
    }

    /// Narrowed as `scripts/fidelity_trace_ufld.py` narrows parsingNet: the trace's tensors
    /// (its final weights' index: our names, BatchNorm statistics included) are the model's,
    /// name for name and size for size.
    #[test]
    fn a_narrow_ufld_has_the_fidelity_traces_tensors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fidelity/ufld-small.json"
        );
        let trace: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("the UFLD trace"))
                .expect("JSON");
        let entry = ModelKind::UfldSmall.entry();
        let Architecture::Ufld(config) = entry.architecture else {
            panic!("ufld-small is a UFLD");
        };
        let narrow = UfldConfig {
            width: trace["base"].as_u64().unwrap() as usize,
            hidden: trace["hidden"].as_u64().unwrap() as usize,
            ..config
        };
        let ours: Vec<(String, usize)> = parameters(narrow, entry.input)
            .into_iter()
            .map(|(name, shape)| (name, shape.iter().product()))
            .collect();
        let theirs: Vec<(String, usize)> = trace["runs"]["admm"]["final_weights"]["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t[0].as_str().unwrap().to_owned(),
                    t[1].as_u64().unwrap() as usize,
                )
            })
            .collect();
        let sorted = |mut v: Vec<(String, usize)>| {
            v.sort();
            v
        };
        assert_eq!(sorted(ours), sorted(theirs));
        // Its initial weights, in the reference's names, load through the importer.
        let device = Backend::Cpu.device();
        let net = Net::Ufld(Ufld::new(&device, narrow, entry.input));
        let pt = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fidelity/ufld-small.pt"
        );
        crate::models::import_pytorch(net, ModelKind::UfldSmall, std::path::Path::new(pt))
            .expect("the trace's initial weights load");
    }
}
