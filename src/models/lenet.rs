//! LeNet-5 (Caffe variant) and LeNet-300-100; their initialisation is the row's `init`
//! (`models::init`).

use super::Dropout;
use super::conv;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// LeNet-5 as in Caffe: conv 20@5x5, max-pool 2, conv 50@5x5, max-pool 2, fc 500, ReLU, fc 10
/// (430,500 weights); optionally a ReLU after each convolution.
#[derive(Module, Debug)]
pub struct LeNet5 {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
    pool: MaxPool2d,
}

impl LeNet5 {
    /// A new model on `device`.
    pub fn new(device: &Device) -> Self {
        LeNet5 {
            conv1: Conv2dConfig::new([1, 20], [5, 5]).init(device),
            conv2: Conv2dConfig::new([20, 50], [5, 5]).init(device),
            fc1: LinearConfig::new(800, 500).init(device),
            fc2: LinearConfig::new(500, 10).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }

    /// Logits for `[batch, 1, 28, 28]` images; `conv_relu` adds a ReLU after each
    /// convolution (the TensorFlow variant).
    pub fn forward(&self, x: Tensor<4>, conv_relu: bool) -> Tensor<2> {
        self.forward_dropout(x, conv_relu, None)
    }

    /// [`LeNet5::forward`] with `dropout` on fc1's output (after its ReLU), where
    /// TensorFlow's LeNet-5 has `h_fc1_drop`.
    pub fn forward_dropout(
        &self,
        x: Tensor<4>,
        conv_relu: bool,
        dropout: Option<Dropout>,
    ) -> Tensor<2> {
        let activate = |x: Tensor<4>| if conv_relu { relu(x) } else { x };
        let x = self.pool.forward(activate(conv::forward(&self.conv1, x)));
        let x = self.pool.forward(activate(conv::forward(&self.conv2, x)));
        let x: Tensor<2> = x.flatten(1, 3);
        let hidden = relu(self.fc1.forward(x));
        let hidden = match dropout {
            Some(d) => d.apply(hidden),
            None => hidden,
        };
        self.fc2.forward(hidden)
    }
}

/// LeNet-300-100: fc 300, ReLU, fc 100, ReLU, fc 10.
#[derive(Module, Debug)]
pub struct LeNet300100 {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl LeNet300100 {
    /// A new model on `device`.
    pub fn new(device: &Device) -> Self {
        LeNet300100 {
            fc1: LinearConfig::new(784, 300).init(device),
            fc2: LinearConfig::new(300, 100).init(device),
            fc3: LinearConfig::new(100, 10).init(device),
        }
    }

    /// Logits for `[batch, 1, 28, 28]` images.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = x.flatten(1, 3);
        let x = relu(self.fc1.forward(x));
        let x = relu(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}
