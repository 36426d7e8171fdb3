//! Leaky ReLU of the YOLO models: on libtorch ATen's own kernels forward and backward
//! ([`crate::base::backend`]'s `torch_leaky`), elsewhere burn's `leaky_relu`, unchanged.

use burn::tensor::Tensor;

/// `x > 0 ? x : x * slope`, elementwise.
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    #[cfg(feature = "tch")]
    if crate::base::backend::torch_conv::is_libtorch(&x.device()) {
        return crate::base::backend::torch_leaky::leaky_relu(x, slope);
    }
    burn::tensor::activation::leaky_relu(x, slope)
}

#[cfg(all(test, feature = "tch"))]
mod tests {
    use crate::base::Backend;
    use burn::tensor::{Tensor, TensorData};

    /// On tch-cpu the fused path gives burn's composition's output and input gradient exactly,
    /// except the gradient at exactly 0, which is the slope as in PyTorch.
    #[test]
    fn libtorch_leaky_relu_equals_burns_and_takes_pytorchs_slope_at_zero() {
        let device = Backend::TchCpu.device().autodiff();
        let mut values: Vec<f32> = (0..64)
            .map(|i| ((i as f32 + 0.5) * 0.71).sin() * 3.0)
            .collect();
        values[5] = 0.0;
        let weight: Vec<f32> = (0..64).map(|i| 1.0 + i as f32 * 0.01).collect();
        let run = |ours: bool| {
            let x = Tensor::<2>::from_data(TensorData::new(values.clone(), [8, 8]), &device)
                .require_grad();
            let y = if ours {
                super::leaky_relu(x.clone(), 0.1)
            } else {
                burn::tensor::activation::leaky_relu(x.clone(), 0.1)
            };
            let weight = Tensor::<2>::from_data(TensorData::new(weight.clone(), [8, 8]), &device);
            let grads = (y.clone() * weight).sum().backward();
            (
                y.inner().into_data().to_vec::<f32>().unwrap(),
                x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap(),
            )
        };
        let ((out, grad), (out_burn, grad_burn)) = (run(true), run(false));
        assert_eq!(out, out_burn);
        for (i, (g, b)) in grad.iter().zip(&grad_burn).enumerate() {
            if i == 5 {
                // d/dx at 0: PyTorch's slope times the output gradient, burn's 1 times it.
                assert_eq!((*g, *b), (weight[5] * 0.1f32, weight[5]), "at 0");
            } else {
                assert_eq!(g, b, "element {i}");
            }
        }
    }
}
