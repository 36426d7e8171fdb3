//! Forward FLOPs per image of each model (2 per multiply-add, convolutions and linear layers;
//! BatchNorm, activations and pooling are small and left out), computed from the layer shapes.

use super::model::{Architecture, ModelEntry, RESNET18_IMAGENET, ResNetConfig, VGG16_CHANNELS};

/// `2 x cin x cout x k x k x hout x wout` of a convolution with padding `k / 2` (or `pad`),
/// and the output side.
fn conv(cin: usize, cout: usize, k: usize, stride: usize, pad: usize, side: usize) -> (f64, usize) {
    let out = (side + 2 * pad - k) / stride + 1;
    (2.0 * (cin * cout * k * k * out * out) as f64, out)
}

/// [`conv`] on an `[h, w]` input.
fn conv_hw(
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    [h, w]: [usize; 2],
) -> (f64, [usize; 2]) {
    let out = |side: usize| (side + 2 * pad - k) / stride + 1;
    let (oh, ow) = (out(h), out(w));
    (2.0 * (cin * cout * k * k * oh * ow) as f64, [oh, ow])
}

/// FLOPs of a ResNet's stem and residual stages on an `[h, w]` image, with the channels and
/// size of the last stage's output.
fn resnet_features(config: ResNetConfig, input: [usize; 2]) -> (f64, usize, [usize; 2]) {
    let base = config.width;
    let (mut flops, mut size) = if config.imagenet_stem {
        conv_hw(3, base, 7, 2, 3, input)
    } else {
        conv_hw(3, base, 3, 1, 1, input)
    };
    if config.stem_pool {
        size = size.map(|side| (side + 2 - 3) / 2 + 1);
    }
    let expansion = if config.bottleneck { 4 } else { 1 };
    let mut cin = base;
    for (stage, (&width, &count)) in [base, 2 * base, 4 * base, 8 * base]
        .iter()
        .zip(&config.blocks)
        .enumerate()
    {
        for block in 0..count {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let cout = width * expansion;
            let start = size;
            if config.bottleneck {
                flops += conv_hw(cin, width, 1, 1, 0, size).0;
                let (f, s) = conv_hw(width, width, 3, stride, 1, size);
                flops += f + conv_hw(width, cout, 1, 1, 0, s).0;
                size = s;
            } else {
                let (f, s) = conv_hw(cin, width, 3, stride, 1, size);
                flops += f + conv_hw(width, width, 3, 1, 1, s).0;
                size = s;
            }
            if stride != 1 || cin != cout {
                flops += conv_hw(cin, cout, 1, stride, 0, start).0;
            }
            cin = cout;
        }
    }
    (flops, cin, size)
}

/// Forward FLOPs of one image of a model.
pub fn forward_flops(model: ModelEntry) -> f64 {
    match model.architecture {
        // The ReLUs are not counted (comparisons, no multiply-adds).
        Architecture::LeNet5 { .. } => {
            let (c1, s) = conv(1, 20, 5, 1, 0, 28);
            let (c2, _) = conv(20, 50, 5, 1, 0, s / 2);
            c1 + c2 + 2.0 * (800 * 500 + 500 * 10) as f64
        }
        Architecture::LeNet300100 => 2.0 * (784 * 300 + 300 * 100 + 100 * 10) as f64,
        // Not implemented: no estimate rather than a made-up one.
        Architecture::NotImplemented => f64::NAN,
        Architecture::Vgg16 => {
            let (mut flops, mut side, mut cin) = (0.0, 32, 3);
            for channels in VGG16_CHANNELS {
                if channels == 0 {
                    side /= 2;
                } else {
                    flops += conv(cin, channels, 3, 1, 1, side).0;
                    cin = channels;
                }
            }
            flops + 2.0 * (512 * model.classes) as f64
        }
        Architecture::ResNet(config) => {
            let side = if config.imagenet_stem { 224 } else { 32 };
            let (flops, channels, _) = resnet_features(config, [side, side]);
            flops + 2.0 * (channels * config.classes) as f64
        }
        // Every convolution of the cfg at the model's input size (square).
        Architecture::Yolo(config) => {
            let layers = super::darknet::layers_of(config);
            let channels = super::darknet::channels(&layers);
            let mut sizes: Vec<usize> = Vec::with_capacity(layers.len());
            let mut flops = 0.0;
            for (i, layer) in layers.iter().enumerate() {
                let side = if i == 0 { model.input[1] } else { sizes[i - 1] };
                let cin = if i == 0 { 3 } else { channels[i - 1] };
                sizes.push(match *layer {
                    super::darknet::Layer::Conv {
                        filters,
                        size,
                        stride,
                        ..
                    } => {
                        let (f, out) = conv(cin, filters, size, stride, size / 2, side);
                        flops += f;
                        out
                    }
                    super::darknet::Layer::Route(from) => sizes[super::darknet::source(i, from[0])],
                    super::darknet::Layer::Upsample => side * 2,
                    super::darknet::Layer::MaxPool(_, stride) => side / stride,
                    _ => side,
                });
            }
            flops
        }
        // Inference: backbone, `pool` and the head (the auxiliary branch trains only).
        Architecture::Ufld(head) => {
            let [_, h, w] = model.input;
            let (flops, channels, [fh, fw]) = resnet_features(RESNET18_IMAGENET, [h, w]);
            let pooled = 8 * fh * fw;
            let cells = (head.griding_num + 1) * head.row_anchors * head.lanes;
            flops + 2.0 * (channels * 8 * fh * fw + pooled * 2048 + 2048 * cells) as f64
        }
    }
}
