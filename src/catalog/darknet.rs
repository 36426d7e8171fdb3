//! Darknet's cfg files of YOLOv3 and YOLOv3-tiny as data: the layer list in cfg order, from
//! which `models::yolo` builds the network, and the catalog its parameter names and FLOPs.

use super::model::YoloConfig;

/// One layer of a Darknet cfg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// `[convolutional]`: filters, size, stride; `batch_normalize=1` (leaky) or linear + bias.
    Conv {
        /// Output channels.
        filters: usize,
        /// Kernel size (padding size / 2).
        size: usize,
        /// Stride.
        stride: usize,
        /// BatchNorm and leaky ReLU (else linear with a bias: a detection output).
        bn: bool,
    },
    /// `[shortcut] from=-3`: the previous output plus layer `i + from`.
    Shortcut(isize),
    /// `[route] layers=...`: the channel concatenation of layers (negative: relative).
    Route(&'static [isize]),
    /// `[upsample] stride=2`: nearest neighbour.
    Upsample,
    /// `[maxpool]`: size, stride.
    MaxPool(usize, usize),
    /// `[yolo]`: a detection output (the previous layer's map).
    Yolo,
}

/// `[convolutional]` with `batch_normalize=1` and a leaky ReLU.
fn conv(filters: usize, size: usize, stride: usize) -> Layer {
    Layer::Conv {
        filters,
        size,
        stride,
        bn: true,
    }
}

/// The linear 1x1 convolution before a `[yolo]` layer: 3 anchors x (box, objectness, classes).
fn output(classes: usize) -> Layer {
    Layer::Conv {
        filters: 3 * (classes + 5),
        size: 1,
        stride: 1,
        bn: false,
    }
}

/// `yolov3.cfg` (Darknet-53 backbone, three scales) for `classes` classes.
pub fn yolov3_layers(classes: usize) -> Vec<Layer> {
    let out = output(classes);
    let mut layers = vec![conv(32, 3, 1)];
    for (filters, blocks) in [(64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)] {
        layers.push(conv(filters, 3, 2));
        for _ in 0..blocks {
            layers.extend([
                conv(filters / 2, 1, 1),
                conv(filters, 3, 1),
                Layer::Shortcut(-3),
            ]);
        }
    }
    // Layers 75..: three heads, each five 1x1/3x3 convolutions, a 3x3, the output and [yolo].
    for (scale, filters) in [512usize, 256, 128].into_iter().enumerate() {
        if scale > 0 {
            layers.extend([
                Layer::Route(&[-4]),
                conv(filters, 1, 1),
                Layer::Upsample,
                Layer::Route(if scale == 1 { &[-1, 61] } else { &[-1, 36] }),
            ]);
        }
        for _ in 0..3 {
            layers.extend([conv(filters, 1, 1), conv(filters * 2, 3, 1)]);
        }
        layers.extend([out, Layer::Yolo]);
    }
    layers
}

/// `yolov3-tiny.cfg` (two scales) for `classes` classes.
pub fn yolov3_tiny_layers(classes: usize) -> Vec<Layer> {
    let out = output(classes);
    let mut layers = Vec::new();
    for filters in [16, 32, 64, 128, 256] {
        layers.extend([conv(filters, 3, 1), Layer::MaxPool(2, 2)]);
    }
    layers.extend([
        conv(512, 3, 1),
        Layer::MaxPool(2, 1),
        conv(1024, 3, 1),
        conv(256, 1, 1),
        conv(512, 3, 1),
        out,
        Layer::Yolo,
        Layer::Route(&[-4]),
        conv(128, 1, 1),
        Layer::Upsample,
        Layer::Route(&[-1, 8]),
        conv(256, 3, 1),
        out,
        Layer::Yolo,
    ]);
    layers
}

/// The layers of a configuration: every convolution with BatchNorm has its cfg's filters
/// divided by `width_divisor`; the detection outputs keep 3 (5 + classes).
pub fn layers_of(config: YoloConfig) -> Vec<Layer> {
    let layers = if config.tiny {
        yolov3_tiny_layers(config.classes)
    } else {
        yolov3_layers(config.classes)
    };
    let divisor = config.width_divisor.max(1);
    layers
        .into_iter()
        .map(|layer| match layer {
            Layer::Conv {
                filters,
                size,
                stride,
                bn: true,
            } => Layer::Conv {
                filters: filters / divisor,
                size,
                stride,
                bn: true,
            },
            other => other,
        })
        .collect()
}

/// Output channels of every layer for a 3-channel input.
pub fn channels(layers: &[Layer]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let previous = if i == 0 { 3 } else { out[i - 1] };
        out.push(match layer {
            Layer::Conv { filters, .. } => *filters,
            Layer::Route(from) => from.iter().map(|&f| out[source(i, f)]).sum(),
            _ => previous,
        });
    }
    out
}

/// The layer a route or shortcut at `i` reads: relative when negative.
pub fn source(i: usize, from: isize) -> usize {
    if from < 0 {
        (i as isize + from) as usize
    } else {
        from as usize
    }
}

/// The anchors (width, height in input pixels) of both cfgs' `[yolo]` layers.
pub const ANCHORS: [[f64; 2]; 9] = [
    [10.0, 13.0],
    [16.0, 30.0],
    [33.0, 23.0],
    [30.0, 61.0],
    [62.0, 45.0],
    [59.0, 119.0],
    [116.0, 90.0],
    [156.0, 198.0],
    [373.0, 326.0],
];

/// `yolov3-tiny.cfg`'s anchors (its own six).
pub const TINY_ANCHORS: [[f64; 2]; 6] = [
    [10.0, 14.0],
    [23.0, 27.0],
    [37.0, 58.0],
    [81.0, 82.0],
    [135.0, 169.0],
    [344.0, 319.0],
];

/// The anchors of each `[yolo]` layer, coarsest (stride 32) first, as the cfgs' `mask` lines
/// pick them (`yolov3-tiny.cfg`'s second mask is `1,2,3`, as released).
pub fn yolo_anchors(tiny: bool) -> Vec<[[f64; 2]; 3]> {
    let pick = |all: &[[f64; 2]], mask: [usize; 3]| mask.map(|i| all[i]);
    if tiny {
        vec![
            pick(&TINY_ANCHORS, [3, 4, 5]),
            pick(&TINY_ANCHORS, [1, 2, 3]),
        ]
    } else {
        vec![
            pick(&ANCHORS, [6, 7, 8]),
            pick(&ANCHORS, [3, 4, 5]),
            pick(&ANCHORS, [0, 1, 2]),
        ]
    }
}
