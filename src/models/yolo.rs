//! YOLOv3 and YOLOv3-tiny as Darknet's `yolov3.cfg` / `yolov3-tiny.cfg` define them: the layer
//! list is the cfg's, in its order, and every convolution is named by its cfg index
//! (`layers.<i>.conv`, `layers.<i>.bn`), so Darknet `.weights` files (read in cfg order) and
//! PyTorch ports that number `module_list.<i>` map one to one.
//!
//! Convolutions with BatchNorm have no bias and a leaky ReLU (0.1); the three (two) detection
//! convolutions before each `[yolo]` layer are linear with a bias. `maxpool` with stride 1
//! pads right and bottom with zeros, as the PyTorch ports do (PyTorch-YOLOv3 models.py 78-81,
//! `ZeroPad2d((0, 1, 0, 1))`; ultralytics/yolov3 likewise), not with Darknet's max over the
//! in-image window: where a window's in-image values are all negative the ports give 0.

use super::{activation, conv, norm};
use crate::catalog::YoloConfig;
use crate::catalog::darknet::{Layer, channels, layers_of, source};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor};

/// A convolution with its BatchNorm (no bias, leaky ReLU) or a linear detection output.
#[derive(Module, Debug)]
pub struct ConvLayer {
    conv: Conv2d,
    bn: Option<BatchNorm>,
}

impl ConvLayer {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv::forward(&self.conv, x);
        match &self.bn {
            Some(bn) => activation::leaky_relu(norm::forward(bn, x), 0.1),
            None => x,
        }
    }
}

/// YOLOv3 or YOLOv3-tiny.
#[derive(Module, Debug)]
pub struct Yolo {
    /// One entry per cfg layer; convolutions only.
    layers: Vec<Option<ConvLayer>>,
    /// Tiny or full, and the classes.
    tiny: bool,
    classes: usize,
    width_divisor: usize,
}

impl Yolo {
    /// A new model on `device`.
    pub fn new(device: &Device, config: YoloConfig) -> Self {
        let layers = layers_of(config);
        let inputs = {
            let out = channels(&layers);
            (0..layers.len())
                .map(|i| if i == 0 { 3 } else { out[i - 1] })
                .collect::<Vec<_>>()
        };
        let layers = layers
            .iter()
            .zip(inputs)
            .map(|(layer, input)| match *layer {
                Layer::Conv {
                    filters,
                    size,
                    stride,
                    bn,
                } => {
                    let p = size / 2;
                    Some(ConvLayer {
                        conv: Conv2dConfig::new([input, filters], [size, size])
                            .with_stride([stride, stride])
                            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                            .with_bias(!bn)
                            .init(device),
                        bn: bn.then(|| BatchNormConfig::new(filters).init(device)),
                    })
                }
                _ => None,
            })
            .collect();
        Yolo {
            layers,
            tiny: config.tiny,
            classes: config.classes,
            width_divisor: config.width_divisor,
        }
    }

    /// The raw maps of the detection outputs, coarsest first: `[batch, 3 (classes + 5), h, w]`
    /// at strides 32, 16 (and 8).
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let layers = layers_of(YoloConfig {
            tiny: self.tiny,
            classes: self.classes,
            width_divisor: self.width_divisor,
        });
        // Keep only the outputs a later route or shortcut reads.
        let mut kept = vec![false; layers.len()];
        for (i, layer) in layers.iter().enumerate() {
            match layer {
                Layer::Shortcut(from) => kept[source(i, *from)] = true,
                Layer::Route(from) => from.iter().for_each(|f| kept[source(i, *f)] = true),
                _ => {}
            }
        }
        let mut saved: Vec<Option<Tensor<4>>> = vec![None; layers.len()];
        let mut outputs = Vec::new();
        let mut x = x;
        for (i, layer) in layers.iter().enumerate() {
            let read = |j: usize, saved: &[Option<Tensor<4>>]| {
                saved[j]
                    .clone()
                    .expect("a route or shortcut reads a kept output")
            };
            x = match layer {
                Layer::Conv { .. } => self.layers[i].as_ref().expect("a conv layer").forward(x),
                Layer::Shortcut(from) => x + read(source(i, *from), &saved),
                Layer::Route(from) => {
                    let parts: Vec<Tensor<4>> = from
                        .iter()
                        .map(|f| {
                            let j = source(i, *f);
                            if j + 1 == i {
                                x.clone()
                            } else {
                                read(j, &saved)
                            }
                        })
                        .collect();
                    Tensor::cat(parts, 1)
                }
                Layer::Upsample => upsample2(x),
                Layer::MaxPool(size, stride) => max_pool(x, *size, *stride),
                Layer::Yolo => {
                    outputs.push(x.clone());
                    x
                }
            };
            if kept[i] {
                saved[i] = Some(x.clone());
            }
        }
        outputs
    }

    /// The convolutions in cfg order with their layer index (Darknet's weight-file order).
    pub fn convolutions(&self) -> impl Iterator<Item = (usize, &Conv2d, Option<&BatchNorm>)> {
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.as_ref().map(|l| (i, &l.conv, l.bn.as_ref())))
    }
}

/// Nearest-neighbour upsampling by 2.
fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1])
        .repeat_dim(3, 2)
        .repeat_dim(5, 2)
        .reshape([n, c, 2 * h, 2 * w])
}

/// `[maxpool]`: with stride 1 the window runs over the right and bottom edges, which are
/// padded with zeros as PyTorch-YOLOv3 does (the step-for-step trace found the difference from
/// Darknet's edge rule, reports/fidelity.md).
fn max_pool(x: Tensor<4>, size: usize, stride: usize) -> Tensor<4> {
    let pool: MaxPool2d = MaxPool2dConfig::new([size, size])
        .with_strides([stride, stride])
        .init();
    if stride == 1 {
        pool.forward(x.pad((0, size - 1, 0, size - 1), PadMode::Constant(0.0)))
    } else {
        pool.forward(x)
    }
}
