//! Models with stable parameter names (`conv1.weight`, `fc1.bias`, ...), built from their
//! catalog entry, and named access to their parameters ([`params`]).

mod activation;
mod conv;
mod darknet;
mod dropout;
mod file;
mod import;
mod init;
mod lenet;
mod norm;
pub mod params;
mod resnet;
mod ufld;
mod vgg;
mod yolo;

pub use darknet::{read_weights as read_darknet, write_weights as write_darknet};
pub use dropout::Dropout;
pub use file::save;
pub use import::import_pytorch;
pub use init::initialise;

pub use lenet::{LeNet5, LeNet300100};
pub use resnet::ResNet;
pub use ufld::{LaneOutput, Ufld};
pub use vgg::Vgg16;
pub(crate) use vgg::sequential_indices as vgg_sequential_indices;
pub use yolo::Yolo;

use crate::catalog::{Architecture, InitScheme, ModelKind};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Every model the harness trains. Parameter names never include the variant.
// Variants differ in size, but a model is moved a few times per step, never stored in bulk.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Net {
    /// LeNet-5, Caffe variant.
    LeNet5(LeNet5),
    /// LeNet-5 with a ReLU after each convolution (same parameters).
    LeNet5Relu(LeNet5),
    /// LeNet-300-100.
    LeNet300100(LeNet300100),
    /// ResNet-18/50, CIFAR or ImageNet.
    ResNet(ResNet),
    /// VGG-16 with BatchNorm.
    Vgg16(Vgg16),
    /// Ultra-Fast-Lane-Detection.
    Ufld(Ufld),
    /// YOLOv3 or YOLOv3-tiny.
    Yolo(Yolo),
}

impl Net {
    /// A model initialised from `seed` by its reference implementation's scheme
    /// ([`ModelKind::reference_init`]) with the harness's own generator (bit-identical on
    /// every run and backend).
    pub fn seeded(kind: ModelKind, device: &Device, seed: u64) -> Net {
        Net::seeded_with(kind, kind.reference_init(), device, seed)
    }

    /// A model initialised from `seed` by `scheme`.
    pub fn seeded_with(kind: ModelKind, scheme: InitScheme, device: &Device, seed: u64) -> Net {
        initialise(Net::init(kind, device), scheme, seed)
    }

    /// A model with burn's default initialisation (its global RNG): only as a shape to load
    /// weights into.
    pub fn init(kind: ModelKind, device: &Device) -> Net {
        let entry = kind.entry();
        match entry.architecture {
            Architecture::LeNet5 { conv_relu: false } => Net::LeNet5(LeNet5::new(device)),
            Architecture::LeNet5 { conv_relu: true } => Net::LeNet5Relu(LeNet5::new(device)),
            Architecture::LeNet300100 => Net::LeNet300100(LeNet300100::new(device)),
            Architecture::Vgg16 => Net::Vgg16(Vgg16::new(device, entry.classes)),
            Architecture::ResNet(config) => Net::ResNet(ResNet::new(device, config)),
            Architecture::Ufld(config) => Net::Ufld(Ufld::new(device, config, entry.input)),
            Architecture::Yolo(config) => Net::Yolo(Yolo::new(device, config)),
            // Specs, `plan` and `perf` refuse unimplemented kinds before a model is built.
            Architecture::NotImplemented => {
                panic!("{} has no implementation to build", kind.name())
            }
        }
    }

    /// Training logits: [`Net::forward`] with `dropout` at the model's dropout site (the
    /// loader refuses dropout for models without one).
    pub fn forward_train(&self, images: Tensor<4>, dropout: Option<Dropout>) -> Tensor<2> {
        match (self, dropout) {
            (Net::LeNet5(m), Some(d)) => m.forward_dropout(images, false, Some(d)),
            (Net::LeNet5Relu(m), Some(d)) => m.forward_dropout(images, true, Some(d)),
            _ => self.forward(images),
        }
    }

    /// Logits `[batch, classes]` for images `[batch, channels, h, w]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Net::LeNet5(m) => m.forward(images, false),
            Net::LeNet5Relu(m) => m.forward(images, true),
            Net::LeNet300100(m) => m.forward(images),
            Net::ResNet(m) => m.forward(images),
            Net::Vgg16(m) => m.forward(images),
            // The lane head's logits, one row per image (the lane task reads them shaped).
            Net::Ufld(m) => {
                let cls = m.forward(images, false).cls;
                let batch = cls.dims()[0];
                cls.reshape([batch as i32, -1])
            }
            // The coarsest detection map, one row per image (the detection task reads all
            // maps through `forward_detection`).
            Net::Yolo(m) => {
                let map = m.forward(images).remove(0);
                let batch = map.dims()[0];
                map.reshape([batch as i32, -1])
            }
        }
    }
}

impl Net {
    /// The lane model's outputs, with the auxiliary segmentation when `aux`; `None` for the
    /// other models.
    pub fn forward_lanes(&self, images: Tensor<4>, aux: bool) -> Option<LaneOutput> {
        match self {
            Net::Ufld(m) => Some(m.forward(images, aux)),
            _ => None,
        }
    }
}

impl Net {
    /// YOLO's raw detection maps, coarsest first; `None` for the other models.
    pub fn forward_detection(&self, images: Tensor<4>) -> Option<Vec<Tensor<4>>> {
        match self {
            Net::Yolo(m) => Some(m.forward(images)),
            _ => None,
        }
    }
}
