//! What the harness knows about each model and each data set, one entry apiece: the facts
//! that specs are validated against, data is read with, models are built from and costs are
//! estimated with. Nothing here trains or reads files.

pub mod darknet;
pub mod dataset;
mod flops;
pub mod init;
pub mod model;

pub use dataset::{
    CIFAR10_TEST_FILE, CIFAR10_TEST20, CIFAR10_TRAIN_FILES, COCO2014_FILES, DataFile, DatasetEntry,
    DatasetKind, DetectionFiles, FASHION_MNIST_FILES, Fetch, IMAGENET_NORM, LaneFiles, MNIST_FILES,
    Registry, SYNTHETIC_COCO_FILES, SYNTHETIC_COCO_SIZES, SYNTHETIC_LANES_FILES,
    SYNTHETIC_LANES_SIZES, Storage, TUSIMPLE_FILES, UNIT_NORM,
};
pub use init::InitScheme;
pub use model::{
    Architecture, ModelEntry, ModelKind, RESNET18_IMAGENET, ResNetConfig, TaskKind, UfldConfig,
    VGG16_CHANNELS, YoloConfig,
};
