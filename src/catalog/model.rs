//! One entry per model: its spec name, input, classes, task, architecture and the parameter
//! names that may be pruned. Adding a model starts here (then `models::Net` builds it).

use serde::{Deserialize, Serialize};

/// Models the harness knows.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// LeNet-5, Caffe variant (conv 20, pool, conv 50, pool, fc 500, fc 10).
    Lenet5,
    /// LeNet-5 with a ReLU after each convolution, as the ADMM paper's TensorFlow code builds
    /// it (same layers and parameter names as `lenet5`).
    #[serde(rename = "lenet5-relu")]
    Lenet5Relu,
    /// LeNet-300-100 (fc 300, fc 100, fc 10).
    #[serde(rename = "lenet-300-100")]
    Lenet300100,
    /// The authors' CIFAR ResNet-18: 3x3 stem, then a 3x3/2 max-pool (11,173,962 parameters).
    #[serde(rename = "resnet18-cifar")]
    Resnet18Cifar,
    /// CIFAR ResNet-18 without the stem max-pool.
    #[serde(rename = "resnet18-cifar-nopool")]
    Resnet18CifarNoPool,
    /// CIFAR ResNet-50 (Bottleneck [3, 4, 6, 3]) with the authors' stem.
    #[serde(rename = "resnet50-cifar")]
    Resnet50Cifar,
    /// CIFAR VGG-16 with BatchNorm.
    #[serde(rename = "vgg16-cifar")]
    Vgg16Cifar,
    /// torchvision ResNet-18 for ImageNet (11,689,512 parameters).
    #[serde(rename = "resnet18-imagenet")]
    Resnet18Imagenet,
    /// torchvision ResNet-50 for ImageNet (25,557,032 parameters).
    #[serde(rename = "resnet50-imagenet")]
    Resnet50Imagenet,
    /// YOLOv3 (Table 3; not implemented yet: its rows are reported as not run).
    Yolov3,
    /// YOLOv3-tiny (Table 3; not implemented yet).
    #[serde(rename = "yolov3-tiny")]
    Yolov3Tiny,
    /// Ultra-Fast-Lane-Detection (Table 4) at TuSimple's 288x800 input.
    Ufld,
    /// The same architecture at a 64x160 input with 25 griding cells: the lane pipeline's
    /// minutes-long smoke model (data set `synthetic-lanes`), never TuSimple numbers.
    UfldSmall,
}

/// What a model is trained to do; the task decides loss, evaluation and batches
/// (`train::Task`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Image classification: cross-entropy, top-1 accuracy, batches of images and labels.
    Classification,
    /// Object detection (Table 3; no task implementation yet).
    Detection,
    /// Lane detection (Table 4): UFLD's losses, TuSimple's accuracy.
    LaneDetection,
}

impl TaskKind {
    /// The task in words.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Classification => "classification",
            TaskKind::Detection => "detection",
            TaskKind::LaneDetection => "lane-detection",
        }
    }
}

/// Depth and stem of a ResNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResNetConfig {
    /// Blocks per stage, e.g. `[2, 2, 2, 2]`.
    pub blocks: [usize; 4],
    /// Bottleneck blocks (ResNet-50) instead of basic ones.
    pub bottleneck: bool,
    /// 7x7/2 stem for 224x224 ImageNet inputs; else the CIFAR 3x3/1 stem.
    pub imagenet_stem: bool,
    /// 3x3/2 max-pool after the stem (ImageNet, and the authors' CIFAR ResNet-18).
    pub stem_pool: bool,
    /// Output classes.
    pub classes: usize,
    /// Channels of the stem and the first stage (the stages have 1, 2, 4, 8 times as many):
    /// 64 in every model of the paper; the fidelity traces use fewer.
    pub width: usize,
}

/// The head of Ultra-Fast-Lane-Detection (TuSimple: 100 cells, 56 row anchors, 4 lanes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UfldConfig {
    /// Griding cells per row anchor (`griding_num`); the head has one more, "no lane".
    pub griding_num: usize,
    /// Row anchors per lane (`cls_num_per_lane`).
    pub row_anchors: usize,
    /// Lanes (`num_lanes`).
    pub lanes: usize,
    /// Channels of the backbone's stem and first stage (its stages have 1, 2, 4, 8 times as
    /// many; the auxiliary branch has 2 times as many, 128 at 64): 64 in every model of the
    /// paper; the fidelity trace uses fewer (`scripts/fidelity_trace_ufld.py`).
    pub width: usize,
    /// Hidden units of the classification head (`cls`, 2048 in `model.py`).
    pub hidden: usize,
}

/// YOLOv3 (Darknet-53, three scales) or YOLOv3-tiny (two scales).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YoloConfig {
    /// `yolov3-tiny.cfg` instead of `yolov3.cfg`.
    pub tiny: bool,
    /// Object classes (COCO: 80).
    pub classes: usize,
    /// Every convolution before a detection output has `filters / width_divisor` filters: 1
    /// in every catalog model; the fidelity trace narrows YOLOv3-tiny by 16.
    pub width_divisor: usize,
}

/// The ResNet-18 ImageNet backbone's layout (stem conv and max-pool, [2, 2, 2, 2] basic
/// blocks); `classes` unused by backbones.
pub const RESNET18_IMAGENET: ResNetConfig = ResNetConfig {
    blocks: [2, 2, 2, 2],
    bottleneck: false,
    imagenet_stem: true,
    stem_pool: true,
    classes: 1000,
    width: 64,
};

/// Output channels of VGG-16's convolutions; `0` marks a 2x2 max-pool.
pub const VGG16_CHANNELS: [usize; 18] = [
    64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
];

/// How a model is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// LeNet-5: the Caffe layers, with or without a ReLU after each convolution.
    LeNet5 {
        /// ReLU after each convolution (the TensorFlow variant).
        conv_relu: bool,
    },
    /// LeNet-300-100.
    LeNet300100,
    /// A ResNet.
    ResNet(ResNetConfig),
    /// VGG-16 with BatchNorm for 32x32 inputs.
    Vgg16,
    /// Ultra-Fast-Lane-Detection with a ResNet-18 backbone.
    Ufld(UfldConfig),
    /// YOLOv3 or YOLOv3-tiny.
    Yolo(YoloConfig),
    /// Declared by a paper table, not implemented yet.
    NotImplemented,
}

/// The facts of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelEntry {
    /// Input images `[channels, height, width]`.
    pub input: [usize; 3],
    /// Output classes.
    pub classes: usize,
    /// What it is trained for.
    pub task: TaskKind,
    /// How it is built.
    pub architecture: Architecture,
}

impl ModelKind {
    /// Every model, in spec order.
    pub const ALL: [ModelKind; 13] = [
        ModelKind::Lenet5,
        ModelKind::Lenet5Relu,
        ModelKind::Lenet300100,
        ModelKind::Resnet18Cifar,
        ModelKind::Resnet18CifarNoPool,
        ModelKind::Resnet50Cifar,
        ModelKind::Vgg16Cifar,
        ModelKind::Resnet18Imagenet,
        ModelKind::Resnet50Imagenet,
        ModelKind::Yolov3,
        ModelKind::Yolov3Tiny,
        ModelKind::Ufld,
        ModelKind::UfldSmall,
    ];

    /// The name used in specs.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Lenet5 => "lenet5",
            ModelKind::Lenet5Relu => "lenet5-relu",
            ModelKind::Lenet300100 => "lenet-300-100",
            ModelKind::Resnet18Cifar => "resnet18-cifar",
            ModelKind::Resnet18CifarNoPool => "resnet18-cifar-nopool",
            ModelKind::Resnet50Cifar => "resnet50-cifar",
            ModelKind::Vgg16Cifar => "vgg16-cifar",
            ModelKind::Resnet18Imagenet => "resnet18-imagenet",
            ModelKind::Resnet50Imagenet => "resnet50-imagenet",
            ModelKind::Yolov3 => "yolov3",
            ModelKind::Yolov3Tiny => "yolov3-tiny",
            ModelKind::Ufld => "ufld",
            ModelKind::UfldSmall => "ufld-small",
        }
    }

    /// The model's entry: the one place its facts are written.
    pub fn entry(self) -> ModelEntry {
        let classification = |input, classes, architecture| ModelEntry {
            input,
            classes,
            task: TaskKind::Classification,
            architecture,
        };
        let resnet = |input, blocks, bottleneck, imagenet_stem, stem_pool, classes| {
            classification(
                input,
                classes,
                Architecture::ResNet(ResNetConfig {
                    blocks,
                    bottleneck,
                    imagenet_stem,
                    stem_pool,
                    classes,
                    width: 64,
                }),
            )
        };
        let cifar = [3, 32, 32];
        let imagenet = [3, 224, 224];
        match self {
            ModelKind::Lenet5 => {
                classification([1, 28, 28], 10, Architecture::LeNet5 { conv_relu: false })
            }
            ModelKind::Lenet5Relu => {
                classification([1, 28, 28], 10, Architecture::LeNet5 { conv_relu: true })
            }
            ModelKind::Lenet300100 => classification([1, 28, 28], 10, Architecture::LeNet300100),
            ModelKind::Resnet18Cifar => resnet(cifar, [2, 2, 2, 2], false, false, true, 10),
            ModelKind::Resnet18CifarNoPool => resnet(cifar, [2, 2, 2, 2], false, false, false, 10),
            ModelKind::Resnet50Cifar => resnet(cifar, [3, 4, 6, 3], true, false, true, 10),
            ModelKind::Vgg16Cifar => classification(cifar, 10, Architecture::Vgg16),
            ModelKind::Resnet18Imagenet => resnet(imagenet, [2, 2, 2, 2], false, true, true, 1000),
            ModelKind::Resnet50Imagenet => resnet(imagenet, [3, 4, 6, 3], true, true, true, 1000),
            // Declared so Table 3 and 4 rows can say why they do not run.
            ModelKind::Yolov3 | ModelKind::Yolov3Tiny => ModelEntry {
                input: [3, 416, 416],
                classes: 80,
                task: TaskKind::Detection,
                architecture: Architecture::Yolo(YoloConfig {
                    tiny: self == ModelKind::Yolov3Tiny,
                    classes: 80,
                    width_divisor: 1,
                }),
            },
            // Lanes are cells of row anchors, not classes. The griding is the data set's
            // (`LaneFiles::griding_num`): tusimple 100, synthetic-lanes 25.
            ModelKind::Ufld | ModelKind::UfldSmall => {
                let small = self == ModelKind::UfldSmall;
                ModelEntry {
                    input: if small { [3, 64, 160] } else { [3, 288, 800] },
                    classes: 0,
                    task: TaskKind::LaneDetection,
                    architecture: Architecture::Ufld(UfldConfig {
                        griding_num: if small { 25 } else { 100 },
                        row_anchors: 56,
                        lanes: 4,
                        width: 64,
                        hidden: 2048,
                    }),
                }
            }
        }
    }

    /// Where training dropout acts, if the model has a dropout site: LeNet-5's fc1 output
    /// (TensorFlow's `h_fc1_drop`).
    pub fn dropout_site(self) -> Option<&'static str> {
        match self.entry().architecture {
            Architecture::LeNet5 { .. } => Some("fc1 output"),
            _ => None,
        }
    }

    /// Whether the harness can build it (its layers exist).
    pub fn buildable(self) -> bool {
        self.entry().architecture != Architecture::NotImplemented
    }

    /// Input images `[channels, height, width]`.
    pub fn input_shape(self) -> [usize; 3] {
        self.entry().input
    }

    /// Output classes.
    pub fn classes(self) -> usize {
        self.entry().classes
    }

    /// Names of the weights that may be pruned (conv and fc weights), in model order.
    pub fn prunable_candidates(self) -> Vec<String> {
        match self.entry().architecture {
            Architecture::LeNet5 { .. } => {
                ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]
                    .map(String::from)
                    .to_vec()
            }
            Architecture::LeNet300100 => ["fc1.weight", "fc2.weight", "fc3.weight"]
                .map(String::from)
                .to_vec(),
            Architecture::NotImplemented => Vec::new(),
            // Every convolution, in cfg order.
            Architecture::Yolo(config) => super::darknet::layers_of(config)
                .iter()
                .enumerate()
                .filter(|(_, l)| matches!(l, super::darknet::Layer::Conv { .. }))
                .map(|(i, _)| format!("layers.{i}.conv.weight"))
                .collect(),
            Architecture::Vgg16 => (0..13)
                .map(|i| format!("features.{i}.conv.weight"))
                .chain(["classifier.weight".to_owned()])
                .collect(),
            // The backbone's and the head's; the auxiliary branch trains only.
            Architecture::Ufld(_) => {
                let mut names = ModelKind::Resnet18Imagenet.prunable_candidates();
                names.pop();
                names.extend(["pool.weight", "cls.0.weight", "cls.1.weight"].map(String::from));
                names
            }
            Architecture::ResNet(config) => {
                let convs = if config.bottleneck { 3 } else { 2 };
                let mut names = vec!["conv1.weight".to_owned()];
                for (stage, count) in config.blocks.iter().enumerate() {
                    for block in 0..*count {
                        for c in 1..=convs {
                            names.push(format!("layer{}.{block}.conv{c}.weight", stage + 1));
                        }
                        // Every stage's first block changes width or stride (ResNet-18's first
                        // stage excepted).
                        if block == 0 && (stage > 0 || config.bottleneck) {
                            names.push(format!("layer{}.0.downsample.conv.weight", stage + 1));
                        }
                    }
                }
                names.push("fc.weight".to_owned());
                names
            }
        }
    }

    /// Layers `sparsity.uniform` applies to when the spec names none (method.md section 7).
    pub fn default_prunable(self) -> Vec<String> {
        match self.entry().architecture {
            // The ADMM paper prunes every layer of the LeNets.
            Architecture::LeNet5 { .. } | Architecture::LeNet300100 => {
                vec!["*.weight".to_owned()]
            }
            // Every conv except the first; the classifier, BN and biases stay dense.
            Architecture::Vgg16 => (1..13)
                .map(|i| format!("features.{i}.conv.weight"))
                .collect(),
            // Every convolution except the detection outputs (the 1x1 before each [yolo]).
            Architecture::Yolo(config) => super::darknet::layers_of(config)
                .iter()
                .enumerate()
                .filter(|(_, l)| matches!(l, super::darknet::Layer::Conv { bn: true, .. }))
                .map(|(i, _)| format!("layers.{i}.conv.weight"))
                .collect(),
            // The convolutions inside the residual blocks; stem, 1x1 downsample convs and the
            // classifier stay dense (the authors' ResNet-18 configs).
            _ => self
                .prunable_candidates()
                .into_iter()
                .filter(|n| n.starts_with("layer") && !n.contains("downsample"))
                .collect(),
        }
    }

    /// Forward FLOPs of one image (NaN when the model is not implemented).
    pub fn forward_flops(self) -> f64 {
        super::flops::forward_flops(self.entry())
    }

    /// Forward FLOPs of one image of `dataset`: YOLO is fully convolutional and runs at its
    /// data set's input (a 128x128 set costs (128/416)^2 of COCO's 416x416); the other models
    /// have one input size.
    pub fn forward_flops_on(self, dataset: super::DatasetKind) -> f64 {
        let mut entry = self.entry();
        if let Architecture::Yolo(_) = entry.architecture {
            entry.input = dataset.image_shape();
        }
        super::flops::forward_flops(entry)
    }
}
