//! 2-D convolutions on libtorch with libtorch's own gradients (feature `tch`).
//!
//! burn-tch 0.22.1 does not implement `conv2d_weight_backward`, so burn's autodiff falls back
//! to the generic weight gradient (burn-backend `ops/modules/conv.rs`,
//! `conv2d_weight_grad_no_groups`): a forward convolution of the input with batch and channels
//! swapped and the output gradient as its kernel, 416x416 for YOLOv3-tiny's first layer. On an
//! H200 that cost 152.8 ms of a 179 ms YOLOv3-tiny step where libtorch's weight gradients take
//! 2.1 ms (`scripts/gpu_diagnose.py`, reports/perf.md). This backend extension runs the forward
//! as `at::conv2d` recorded by libtorch's autograd and the backward through that graph, the
//! kernels PyTorch runs; other backends never reach it (see [`is_libtorch`]).
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

/// [`TorchConv::torch_conv2d`] with its gradients, on the backend that runs it.
pub trait TorchConvGrad: Backend {
    /// What the backward needs, kept from the forward.
    type Saved: Clone + Send + core::fmt::Debug + 'static;

    /// The convolution, keeping what its backward needs; `wanted`: whether the input's and the
    /// weight's gradients will be asked for.
    fn torch_conv2d_saved(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        wanted: [bool; 2],
    ) -> (FloatTensor<Self>, Self::Saved);

    /// Gradients of the input and of the weight (those `wanted` in the forward).
    fn torch_conv2d_grads(
        saved: Self::Saved,
        output_grad: FloatTensor<Self>,
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

/// A libtorch convolution recorded by libtorch's autograd.
#[derive(Clone, Debug)]
pub struct SavedConv {
    /// The forward's input and weight as burn holds them: kept so that burn-tch, which
    /// reuses a tensor in place when nothing else refers to it, never overwrites what
    /// libtorch's graph saved.
    inputs: [TchTensor; 2],
    /// The detached leaves whose gradients libtorch computes.
    leaves: [TchTensor; 2],
    /// The output with its libtorch graph.
    output: TchTensor,
    wanted: [bool; 2],
}

impl TorchConvGrad for LibTorch {
    type Saved = SavedConv;

    fn torch_conv2d_saved(
        x: TchTensor,
        weight: TchTensor,
        options: ConvOptions<2>,
        wanted: [bool; 2],
    ) -> (TchTensor, SavedConv) {
        tch::with_grad(|| {
            let leaves = [&x, &weight].map(|t| t.tensor.detach());
            for (leaf, wanted) in leaves.iter().zip(wanted) {
                let _ = leaf.set_requires_grad(wanted);
            }
            let output = TchTensor::new(tch::Tensor::conv2d(
                &leaves[0],
                &leaves[1],
                None::<tch::Tensor>,
                long(options.stride),
                long(options.padding_begin()),
                long(options.dilation),
                options.groups as i64,
            ));
            let saved = SavedConv {
                inputs: [x, weight],
                leaves: leaves.map(TchTensor::new),
                output: output.clone(),
                wanted,
            };
            (TchTensor::new(output.tensor.detach()), saved)
        })
    }

    /// tch 0.22 binds no `at::convolution_backward`, so libtorch's autograd runs it: the
    /// backward of `sum(y * output_grad)` hands the convolution's backward node `output_grad`
    /// exactly (times 1), and that node runs the kernels PyTorch's autograd runs (cuDNN's on a
    /// GPU), for the wanted gradients only.
    fn torch_conv2d_grads(saved: SavedConv, output_grad: TchTensor) -> [Option<TchTensor>; 2] {
        let SavedConv {
            inputs: _inputs,
            leaves,
            output,
            wanted,
        } = saved;
        tch::with_grad(|| {
            let objective = output
                .tensor
                .multiply(&output_grad.tensor)
                .sum(None::<tch::Kind>);
            let asked: Vec<&tch::Tensor> = leaves
                .iter()
                .zip(wanted)
                .filter_map(|(leaf, w)| w.then_some(&leaf.tensor))
                .collect();
            let mut grads = tch::Tensor::run_backward(&[objective], &asked, false, false)
                .into_iter()
                .map(TchTensor::new);
            wanted.map(|w| if w { grads.next() } else { None })
        })
    }
}

#[derive(Debug)]
struct TorchConvBackward;

impl<B: Backend + TorchConvGrad> Backward<B, 2> for TorchConvBackward {
    type State = B::Saved;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let output_grad = grads.consume::<B>(&ops.node);
        let [grad_x, grad_weight] = B::torch_conv2d_grads(ops.state, output_grad);
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
                let wanted = [x.is_tracked(), weight.is_tracked()];
                let (output, saved) = B::torch_conv2d_saved(
                    x.into_primitive(),
                    weight.into_primitive(),
                    options,
                    wanted,
                );
                prep.finish(saved, output)
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
