//! Models with stable parameter names (`conv1.weight`, `fc1.bias`, ...).

pub mod flops;
mod import;
mod init;
mod lenet;
mod resnet;
mod vgg;

pub use import::import_pytorch;
pub use init::initialise;

pub use lenet::{LeNet5, LeNet300100};
pub use resnet::{ResNet, ResNetConfig};
pub use vgg::Vgg16;

use crate::spec::ModelKind;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Every model the harness trains. Parameter names never include the variant.
// Variants differ in size, but a model is moved a few times per step, never stored in bulk.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Net {
    /// LeNet-5, Caffe variant.
    LeNet5(LeNet5),
    /// LeNet-300-100.
    LeNet300100(LeNet300100),
    /// ResNet-18/50, CIFAR or ImageNet.
    ResNet(ResNet),
    /// VGG-16 with BatchNorm.
    Vgg16(Vgg16),
}

impl Net {
    /// A model initialised from `seed` with the harness's own generator (bit-identical on
    /// every run and backend).
    pub fn seeded(kind: ModelKind, device: &Device, seed: u64) -> Net {
        initialise(Net::init(kind, device), seed)
    }

    /// A model with burn's default initialisation (its global RNG): only as a shape to load
    /// weights into.
    pub fn init(kind: ModelKind, device: &Device) -> Net {
        match kind {
            ModelKind::Lenet5 => Net::LeNet5(LeNet5::new(device)),
            ModelKind::Lenet300100 => Net::LeNet300100(LeNet300100::new(device)),
            ModelKind::Vgg16Cifar => Net::Vgg16(Vgg16::new(device, 10)),
            resnet => Net::ResNet(ResNet::new(
                device,
                resnet_config(resnet).expect("every other kind is a ResNet"),
            )),
        }
    }

    /// Logits `[batch, classes]` for images `[batch, channels, h, w]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Net::LeNet5(m) => m.forward(images),
            Net::LeNet300100(m) => m.forward(images),
            Net::ResNet(m) => m.forward(images),
            Net::Vgg16(m) => m.forward(images),
        }
    }
}

/// Whether the harness can build and train `kind` (the detection and lane models of Tables 3
/// and 4 are declared but not implemented yet).
pub fn implemented(kind: ModelKind) -> bool {
    !matches!(
        kind,
        ModelKind::Yolov3 | ModelKind::Yolov3Tiny | ModelKind::Ufld
    )
}

/// Depth, stem and classes of the ResNet kinds.
pub fn resnet_config(kind: ModelKind) -> Option<ResNetConfig> {
    let (blocks, bottleneck) = match kind {
        ModelKind::Resnet18Cifar | ModelKind::Resnet18CifarNoPool | ModelKind::Resnet18Imagenet => {
            ([2, 2, 2, 2], false)
        }
        ModelKind::Resnet50Cifar | ModelKind::Resnet50Imagenet => ([3, 4, 6, 3], true),
        _ => return None,
    };
    let imagenet = matches!(
        kind,
        ModelKind::Resnet18Imagenet | ModelKind::Resnet50Imagenet
    );
    Some(ResNetConfig {
        blocks,
        bottleneck,
        imagenet_stem: imagenet,
        stem_pool: kind != ModelKind::Resnet18CifarNoPool,
        classes: if imagenet { 1000 } else { 10 },
    })
}

/// Input images `[channels, height, width]` a model expects.
pub fn input_shape(kind: ModelKind) -> [usize; 3] {
    match kind {
        ModelKind::Lenet5 | ModelKind::Lenet300100 => [1, 28, 28],
        ModelKind::Resnet18Imagenet | ModelKind::Resnet50Imagenet => [3, 224, 224],
        ModelKind::Yolov3 | ModelKind::Yolov3Tiny => [3, 416, 416],
        ModelKind::Ufld => [3, 288, 800],
        _ => [3, 32, 32],
    }
}

/// Names of the weights that may be pruned (conv and fc weights), in model order.
pub fn prunable_candidates(kind: ModelKind) -> Vec<String> {
    let names: Vec<String> = match kind {
        ModelKind::Lenet5 => ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]
            .map(String::from)
            .to_vec(),
        ModelKind::Lenet300100 => ["fc1.weight", "fc2.weight", "fc3.weight"]
            .map(String::from)
            .to_vec(),
        ModelKind::Yolov3 | ModelKind::Yolov3Tiny | ModelKind::Ufld => Vec::new(),
        ModelKind::Vgg16Cifar => (0..13)
            .map(|i| format!("features.{i}.conv.weight"))
            .chain(["classifier.weight".to_owned()])
            .collect(),
        resnet => {
            let config = resnet_config(resnet).expect("every other kind is a ResNet");
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
    };
    names
}

/// Layers `sparsity.uniform` applies to when the spec names none (method.md section 7).
pub fn default_prunable(kind: ModelKind) -> Vec<String> {
    match kind {
        // The ADMM paper prunes every layer of the LeNets.
        ModelKind::Lenet5 | ModelKind::Lenet300100 => vec!["*.weight".to_owned()],
        // Every conv except the first; the classifier, BN and biases stay dense.
        ModelKind::Vgg16Cifar => (1..13)
            .map(|i| format!("features.{i}.conv.weight"))
            .collect(),
        // The convolutions inside the residual blocks; stem, 1x1 downsample convs and the
        // classifier stay dense (the authors' ResNet-18 configs).
        _ => prunable_candidates(kind)
            .into_iter()
            .filter(|n| n.starts_with("layer") && !n.contains("downsample"))
            .collect(),
    }
}
