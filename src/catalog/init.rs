//! How a model's weights are drawn before training: a choice of a spec row (`init`),
//! independent of the architecture, each scheme named after the code whose initialisation it
//! follows. A model's default is the scheme of its reference implementation.

use super::model::{Architecture, ModelKind};
use serde::{Deserialize, Serialize};

/// An initialisation scheme. BatchNorm starts at γ = 1, β = 0 unless a scheme says otherwise;
/// "PyTorch's default" is `kaiming_uniform_(a=√5)` for weights and U(±1/√fan_in) for biases,
/// that is U(±1/√fan_in) for both (`torch/nn/modules/conv.py` and `linear.py`,
/// `reset_parameters`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum InitScheme {
    /// PyTorch's default for every convolution and linear layer: what a model gets when its
    /// code calls no initialiser (the SLR authors' LeNet-5, `SLR_Quant/lenet_org.py`, and
    /// VGG-16, `SLR-ADMM-cifar10/slr_quantization/models/vgg.py`).
    Pytorch,
    /// TensorFlow's LeNet-5 of the ADMM paper's code (KaiqiZhang/admm-pruning,
    /// `tensorflow-mnist-code/model.py` lines 15 and 21): weights `tf.truncated_normal(stddev=0.1)`
    /// (redrawn beyond two standard deviations), biases `tf.constant(0.1)`.
    Tensorflow,
    /// torchvision's ResNet loop (`torchvision/models/resnet.py`, `ResNet.__init__`, copied by
    /// the SLR authors' `slr_pruning/model/resnet.py` lines 141-146): convolutions
    /// `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, BatchNorm 1/0, linear layers
    /// PyTorch's default.
    Torchvision,
    /// Ultra-Fast-Lane-Detection (cfzd, `model/model.py`, `real_init_weights` lines 101-120):
    /// the torchvision backbone; the auxiliary segmentation convolutions
    /// `kaiming_normal_(nonlinearity="relu")` (fan-in) with zero biases; the classifier's linear
    /// weights N(0, 0.01) with PyTorch's default biases; `pool` PyTorch's default.
    Ufld,
    /// eriklindernoren/PyTorch-YOLOv3 (`pytorchyolo/utils/utils.py`, `weights_init_normal`,
    /// applied at `pytorchyolo/models.py` line 334): every convolution's weight N(0, 0.02), its
    /// bias PyTorch's default; BatchNorm γ N(1, 0.02), β 0.
    PytorchYolov3,
}

impl InitScheme {
    /// Every scheme, in spec spelling order.
    pub const ALL: [InitScheme; 5] = [
        InitScheme::Pytorch,
        InitScheme::Tensorflow,
        InitScheme::Torchvision,
        InitScheme::Ufld,
        InitScheme::PytorchYolov3,
    ];

    /// The name used in specs.
    pub fn name(self) -> &'static str {
        match self {
            InitScheme::Pytorch => "pytorch",
            InitScheme::Tensorflow => "tensorflow",
            InitScheme::Torchvision => "torchvision",
            InitScheme::Ufld => "ufld",
            InitScheme::PytorchYolov3 => "pytorch-yolov3",
        }
    }

    /// `Err` with the reason when the scheme names layers `model` does not have (UFLD's heads).
    pub fn check(self, model: ModelKind) -> Result<(), String> {
        let ufld = matches!(model.entry().architecture, Architecture::Ufld(_));
        if self == InitScheme::Ufld && !ufld {
            return Err(format!(
                "`ufld` initialises UFLD's heads, which {} does not have; allowed for it: {}",
                model.name(),
                InitScheme::ALL
                    .iter()
                    .filter(|s| **s != InitScheme::Ufld)
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }
}

impl ModelKind {
    /// The initialisation of the model's reference implementation, used when a row sets none.
    pub fn reference_init(self) -> InitScheme {
        match self {
            // The ADMM paper's TensorFlow LeNet-5, which `lenet5-relu` reproduces.
            ModelKind::Lenet5Relu => InitScheme::Tensorflow,
            // Caffe's LeNets as the pruning papers' PyTorch ports define them, and the authors'
            // VGG-16 (no initialiser called).
            ModelKind::Lenet5 | ModelKind::Lenet300100 | ModelKind::Vgg16Cifar => {
                InitScheme::Pytorch
            }
            ModelKind::Resnet18Cifar
            | ModelKind::Resnet18CifarNoPool
            | ModelKind::Resnet50Cifar
            | ModelKind::Resnet18Imagenet
            | ModelKind::Resnet50Imagenet => InitScheme::Torchvision,
            ModelKind::Yolov3 | ModelKind::Yolov3Tiny => InitScheme::PytorchYolov3,
            ModelKind::Ufld | ModelKind::UfldSmall => InitScheme::Ufld,
        }
    }
}
