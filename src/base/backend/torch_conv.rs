//! 2-D convolutions on libtorch with libtorch's own gradients (feature `tch`).
//!
//! burn-tch 0.22.1 does not implement `conv2d_weight_backward`, so burn's autodiff falls back
//! to the generic weight gradient (burn-backend `ops/modules/conv.rs`,
//! `conv2d_weight_grad_no_groups`): a forward convolution of the input with batch and channels
//! swapped and the output gradient as its kernel, 416x416 for YOLOv3-tiny's first layer. On an
//! H200 that cost 152.8 ms of a 179 ms YOLOv3-tiny step where libtorch's weight gradients take
//! 2.1 ms (`scripts/gpu_diagnose.py`, reports/perf.md). This backend extension runs the forward
//! as `at::conv2d` and the backward through libtorch's autograd, the kernels PyTorch runs;
//! other backends never reach it (see [`is_libtorch`]).
#![allow(deprecated)] // burn-tch is deprecated in burn 0.22; this is one of its two users.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::libtorch::TchTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, LibTorch, backend_extension};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

/// A convolution without bias whose gradients are libtorch's.
#[backend_extension(LibTorch, Autodiff)]
pub trait TorchConv: Backend {
    /// `x` `[batch, in, h, w]` convolved with `weight` `[out, in / groups, kh, kw]` under
    /// symmetric padding.
    fn torch_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

/// The gradients of [`TorchConv::torch_conv2d`] on the backend that runs it.
pub trait TorchConvGrad: Backend {
    /// Gradients of the input and of the weight (each only where asked for).
    fn torch_conv2d_grads(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
        wanted: [bool; 2],
    ) -> [Option<FloatTensor<Self>>; 2];
}

fn long<const N: usize>(values: [usize; N]) -> [i64; N] {
    values.map(|v| v as i64)
}

impl TorchConv for LibTorch {
    fn torch_conv2d(x: TchTensor, weight: TchTensor, options: ConvOptions<2>) -> TchTensor {
        TchTensor::new(tch::Tensor::conv2d(
            &x.tensor,
            &weight.tensor,
            None::<tch::Tensor>,
            long(options.stride),
            long(options.padding_begin()),
            long(options.dilation),
            options.groups as i64,
        ))
    }
}

impl TorchConvGrad for LibTorch {
    /// tch 0.22 binds no `at::convolution_backward`, so libtorch's autograd computes the
    /// gradients: the convolution again on detached leaves, then the backward of
    /// `sum(y * output_grad)`, which hands the convolution's backward `output_grad` exactly
    /// (times 1) and runs the kernels PyTorch's autograd runs (cuDNN's on a GPU). The extra
    /// forward convolution costs far less than the generic weight gradient it replaces.
    fn torch_conv2d_grads(
        x: TchTensor,
        weight: TchTensor,
        output_grad: TchTensor,
        options: ConvOptions<2>,
        wanted: [bool; 2],
    ) -> [Option<TchTensor>; 2] {
        tch::with_grad(|| {
            let x = x.tensor.detach().set_requires_grad(wanted[0]);
            let weight = weight.tensor.detach().set_requires_grad(wanted[1]);
            let y = tch::Tensor::conv2d(
                &x,
                &weight,
                None::<tch::Tensor>,
                long(options.stride),
                long(options.padding_begin()),
                long(options.dilation),
                options.groups as i64,
            );
            let objective = y.multiply(&output_grad.tensor).sum(None::<tch::Kind>);
            let inputs: Vec<&tch::Tensor> = [&x, &weight]
                .into_iter()
                .zip(wanted)
                .filter_map(|(t, w)| w.then_some(t))
                .collect();
            let mut grads = tch::Tensor::run_backward(&[objective], &inputs, false, false)
                .into_iter()
                .map(TchTensor::new);
            wanted.map(|w| if w { grads.next() } else { None })
        })
    }
}

#[derive(Debug)]
struct TorchConvBackward;

impl<B: Backend + TorchConvGrad> Backward<B, 2> for TorchConvBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, ConvOptions<2>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let output_grad = grads.consume::<B>(&ops.node);
        let (x, weight, options) = ops.state;
        let [grad_x, grad_weight] = B::torch_conv2d_grads(
            x,
            weight,
            output_grad,
            options,
            [node_x.is_some(), node_weight.is_some()],
        );
        if let (Some(node), Some(grad)) = (node_x, grad_x) {
            grads.register::<B>(node.id, grad);
        }
        if let (Some(node), Some(grad)) = (node_weight, grad_weight) {
            grads.register::<B>(node.id, grad);
        }
    }
}

impl<B: Backend + TorchConv + TorchConvGrad, C: CheckpointStrategy> TorchConv for Autodiff<B, C> {
    fn torch_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match TorchConvBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (x, weight) = (x.into_primitive(), weight.into_primitive());
                let output = B::torch_conv2d(x.clone(), weight.clone(), options.clone());
                prep.finish((x, weight, options), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::torch_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }
}

/// Whether tensors on `device` live on libtorch (with or without autodiff).
pub fn is_libtorch(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::LibTorch(_)
    )
}

/// [`TorchConv::torch_conv2d`] on tensors; both must be on libtorch ([`is_libtorch`]).
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as TorchConv>::torch_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ))
}
