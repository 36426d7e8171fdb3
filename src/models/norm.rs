//! The forward pass of every BatchNorm of the models, with PyTorch's running statistics.
//!
//! burn 0.22's `BatchNorm` moves `running_var` towards the batch's biased variance (divided by
//! n); PyTorch's `nn.BatchNorm2d`, which every reference implementation trains with, towards the
//! unbiased one (divided by n − 1; torch/nn/functional.py batch_norm, ATen's
//! `batch_norm_update_stats`). The outputs are the same (both normalise by the biased
//! variance); the evaluated model is not. The fidelity trace of the authors' ResNet-18 found it
//! (tests/integration/fidelity.rs): a 2x2 layer-4 map with a batch of 10 has n = 40, so the
//! running variance moved 2.5% short of PyTorch's per update.

use burn::nn::BatchNorm;
use burn::tensor::Tensor;
use burn::tensor::module::batch_norm_train;

/// `bn` applied to `x` (`[batch, channels, ...]`): on a training device burn's batch statistics
/// and PyTorch's running-statistics update, otherwise burn's inference path, unchanged.
pub fn forward<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return bn.forward(x);
    }
    let dims = x.dims();
    let per_channel = dims.iter().product::<usize>() / dims[1];
    // n / (n − 1): PyTorch's unbiased correction (one value per channel: left biased, where
    // PyTorch refuses to train at all).
    let correction = per_channel as f64 / per_channel.saturating_sub(1).max(1) as f64;
    let device = x.device();
    let result = batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon);
    let momentum = bn.momentum;
    let running_mean = bn
        .running_mean
        .value_sync()
        .to_device(&device)
        .mul_scalar(1.0 - momentum)
        .add(result.mean.detach().mul_scalar(momentum));
    let running_var = bn
        .running_var
        .value_sync()
        .to_device(&device)
        .mul_scalar(1.0 - momentum)
        .add(result.variance.detach().mul_scalar(momentum * correction));
    bn.running_mean.update(running_mean.detach());
    bn.running_var.update(running_var.detach());
    result.output
}
