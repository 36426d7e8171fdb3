//! Models with stable parameter names (`conv1.weight`, `fc1.bias`, ...).

mod init;
mod lenet;

pub use init::initialise;

pub use lenet::{LeNet5, LeNet300100};

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
        }
    }

    /// Logits `[batch, 10]` for images `[batch, 1, 28, 28]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Net::LeNet5(m) => m.forward(images),
            Net::LeNet300100(m) => m.forward(images),
        }
    }
}

/// Names of the weights that may be pruned (conv and fc weights), in model order.
pub fn prunable_candidates(kind: ModelKind) -> &'static [&'static str] {
    match kind {
        ModelKind::Lenet5 => &["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"],
        ModelKind::Lenet300100 => &["fc1.weight", "fc2.weight", "fc3.weight"],
    }
}

/// Layer patterns that `sparsity.uniform` applies to when the spec names none.
pub fn default_prunable(kind: ModelKind) -> &'static [&'static str] {
    match kind {
        // The ADMM paper prunes every layer of the LeNets.
        ModelKind::Lenet5 | ModelKind::Lenet300100 => &["*.weight"],
    }
}
