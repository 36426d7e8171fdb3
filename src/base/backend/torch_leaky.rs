//! Leaky ReLU on libtorch as PyTorch runs it: one kernel forward, one backward (feature `tch`).
//!
//! burn 0.22 composes `leaky_relu` from a comparison, a scalar product and a `mask_where`, and
//! its autodiff records each of them, so a YOLOv3 step on libtorch ran five to six full passes
//! over every 416x416 feature map where PyTorch runs two: `where` alone took 13% of a
//! YOLOv3-tiny tch-cpu step (`just profile-step yolov3-tiny tch-cpu 8 3`, reports/perf-cpu.md).
//! Here both directions are ATen's `leaky_relu_backward` kernel, `self > 0 ? grad : grad *
//! slope`: with `grad = self` it is the forward `x > 0 ? x : x * slope` (the same product as
//! `at::leaky_relu`), with the output gradient it is PyTorch's backward, which also gives the
//! slope at exactly 0 as PyTorch does (burn's composition gives 1 there). Other backends never
//! reach it (see [`super::torch_conv::is_libtorch`]).
#![allow(deprecated)] // burn-tch is deprecated in burn 0.22; this is one of its users.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::libtorch::TchTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, LibTorch, backend_extension};
use burn::tensor::Tensor;

/// Leaky ReLU in one libtorch kernel.
#[backend_extension(LibTorch, Autodiff)]
pub trait TorchLeaky: Backend {
    /// `x > 0 ? x : x * slope`, elementwise.
    fn torch_leaky_relu(x: FloatTensor<Self>, slope: f64) -> FloatTensor<Self>;
}

/// The backward of [`TorchLeaky::torch_leaky_relu`] on the backend that runs it.
pub trait TorchLeakyGrad: Backend {
    /// `x > 0 ? grad : grad * slope`, elementwise.
    fn torch_leaky_relu_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        slope: f64,
    ) -> FloatTensor<Self>;
}

impl TorchLeaky for LibTorch {
    fn torch_leaky_relu(x: TchTensor, slope: f64) -> TchTensor {
        TchTensor::new(x.tensor.leaky_relu_backward(&x.tensor, slope, false))
    }
}

impl TorchLeakyGrad for LibTorch {
    fn torch_leaky_relu_grad(x: TchTensor, grad: TchTensor, slope: f64) -> TchTensor {
        TchTensor::new(x.tensor.leaky_relu_backward(&grad.tensor, slope, false))
    }
}

#[derive(Debug)]
struct TorchLeakyBackward;

impl<B: Backend + TorchLeakyGrad> Backward<B, 1> for TorchLeakyBackward {
    /// The input and the slope.
    type State = (FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, slope) = ops.state;
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::torch_leaky_relu_grad(x, grad, slope));
        }
    }
}

impl<B: Backend + TorchLeaky + TorchLeakyGrad, C: CheckpointStrategy> TorchLeaky
    for Autodiff<B, C>
{
    fn torch_leaky_relu(x: FloatTensor<Self>, slope: f64) -> FloatTensor<Self> {
        match TorchLeakyBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let input = x.into_primitive();
                let output = B::torch_leaky_relu(input.clone(), slope);
                prep.finish((input, slope), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::torch_leaky_relu(x.into_primitive(), slope)),
        }
    }
}

/// [`TorchLeaky::torch_leaky_relu`] on a tensor on libtorch
/// ([`super::torch_conv::is_libtorch`]).
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as TorchLeaky>::torch_leaky_relu(
        x.into_dispatch(),
        slope,
    ))
}
