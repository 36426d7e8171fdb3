//! The forward pass of every 2-D convolution of the models. On libtorch it runs through
//! [`crate::base::backend`]'s `torch_conv`, whose backward is libtorch's own (burn-tch's generic
//! weight gradient made a YOLOv3-tiny step 7.6x slower than PyTorch's on an H200,
//! reports/perf.md); on every other backend it is burn's `Conv2d::forward`, unchanged.

use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

/// `conv` applied to `x` (`[batch, channels, h, w]`).
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if let Some(options) = libtorch::options(conv, &x) {
        return libtorch::forward(conv, x, options);
    }
    conv.forward(x)
}

#[cfg(feature = "tch")]
mod libtorch {
    use crate::base::backend::{ConvGrad, torch_conv};
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2d;
    use burn::tensor::Tensor;
    use burn::tensor::ops::ConvOptions;

    /// The options of `conv` for libtorch's kernels, or `None` (burn's path) when `x` is not on
    /// libtorch, the padding is not symmetric or `SLR_TCH_CONV_GRAD=burn` asks for burn's
    /// gradients.
    pub(super) fn options(conv: &Conv2d, x: &Tensor<4>) -> Option<ConvOptions<2>> {
        let padding = symmetric_padding(&conv.padding)?;
        if ConvGrad::current() == ConvGrad::Burn || !torch_conv::is_libtorch(&x.device()) {
            return None;
        }
        Some(ConvOptions::new(
            conv.stride,
            padding,
            conv.dilation,
            conv.groups,
        ))
    }

    /// `conv` applied to `x` through libtorch's kernels with `options` (from [`options`]).
    pub(super) fn forward(conv: &Conv2d, x: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
        let out = torch_conv::conv2d(x, conv.weight.val(), options);
        match &conv.bias {
            Some(bias) => {
                let channels = bias.dims()[0];
                out + bias.val().reshape([1, channels, 1, 1])
            }
            None => out,
        }
    }

    /// `[top, left]` padding when it is the same on both sides (what every model here
    /// declares); `None` sends the convolution through burn's own path.
    fn symmetric_padding(padding: &PaddingConfig2d) -> Option<[usize; 2]> {
        match *padding {
            PaddingConfig2d::Valid => Some([0, 0]),
            PaddingConfig2d::Explicit(top, left, bottom, right)
                if top == bottom && left == right =>
            {
                Some([top, left])
            }
            _ => None,
        }
    }
}

#[cfg(all(test, feature = "tch"))]
mod tests {
    use crate::base::Backend;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::tensor::{Device, Tensor, TensorData};

    fn formula(shape: [usize; 4], phase: f32, device: &Device) -> Tensor<4> {
        let n = shape.iter().product::<usize>();
        let values: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37 + phase).sin()).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    fn largest_difference(a: Tensor<4>, b: Tensor<4>) -> (f32, f32) {
        let scale = b.clone().abs().max().into_scalar::<f32>();
        ((a - b).abs().max().into_scalar::<f32>(), scale)
    }

    /// Output, input gradient, weight gradient and bias gradient of the libtorch path equal
    /// burn's own `Conv2d::forward` (generic weight gradient) on tch-cpu, for a strided,
    /// padded convolution with bias and a 1x1 one without padding.
    #[test]
    fn libtorch_convolution_equals_burns_generic_one() {
        let device = Backend::TchCpu.device().autodiff();
        // Otherwise both sides would be burn's path and the test could not fail.
        assert!(crate::base::backend::torch_conv::is_libtorch(&device));
        assert!(!crate::base::backend::torch_conv::is_libtorch(
            &Backend::Cpu.device().autodiff()
        ));
        let configs = [
            Conv2dConfig::new([3, 8], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            Conv2dConfig::new([3, 5], [1, 1]).with_bias(false),
        ];
        for config in configs {
            let conv: Conv2d = config.init(&device);
            let run = |ours: bool| {
                let x = formula([2, 3, 9, 11], 0.5, &device).require_grad();
                let out = if ours {
                    super::forward(&conv, x.clone())
                } else {
                    conv.forward(x.clone())
                };
                let weight = formula(out.dims(), 1.5, &device);
                let grads = (out.clone() * weight).sum().backward();
                let bias = conv.bias.as_ref().map(|b| {
                    let g = b.grad(&grads).unwrap();
                    let channels = g.dims()[0];
                    g.reshape([1, channels, 1, 1])
                });
                (
                    out.inner(),
                    x.grad(&grads).unwrap(),
                    conv.weight.grad(&grads).unwrap(),
                    bias,
                )
            };
            let (ours, theirs) = (run(true), run(false));
            for (what, a, b) in [
                ("output", ours.0, theirs.0),
                ("input gradient", ours.1, theirs.1),
                ("weight gradient", ours.2, theirs.2),
            ]
            .into_iter()
            .chain(ours.3.zip(theirs.3).map(|(a, b)| ("bias gradient", a, b)))
            {
                let (diff, scale) = largest_difference(a, b);
                assert!(diff <= 1e-5 * scale, "{what}: {diff} (largest {scale})");
            }
        }
    }
}
