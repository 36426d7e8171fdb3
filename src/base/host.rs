//! Every read of tensor values back to the host. On a GPU each one waits until the device has
//! finished everything queued before it (a host round trip, the device idles while the host
//! catches up), so the library reads only through these functions and they count the reads
//! per thread: `slr perf` reports them per training step, and the tests hold the training
//! step to at most one read and the ADMM/SLR penalty to none. A test of the source tree
//! (tests/integration/host_reads.rs) keeps every other read out of `src/`.

use burn::tensor::kind::Basic;
use burn::tensor::{Element, Tensor, TensorData};
use std::cell::Cell;

thread_local! {
    static READS: Cell<u64> = const { Cell::new(0) };
}

/// Reads this thread has made so far (compare two values around the code measured).
pub fn reads() -> u64 {
    READS.with(Cell::get)
}

fn counted() {
    READS.with(|reads| reads.set(reads.get() + 1));
}

/// The value of a one-element tensor.
#[track_caller]
pub fn scalar<E: Element, const D: usize, K: Basic>(tensor: Tensor<D, K>) -> E {
    counted();
    tensor.into_scalar()
}

/// Every value of a tensor, as stored.
#[track_caller]
pub fn data<const D: usize, K: Basic>(tensor: Tensor<D, K>) -> TensorData {
    counted();
    tensor.into_data()
}

/// Every value of a tensor converted to `E`, in row-major order (`let v: Vec<f32> =
/// host::values(t)`).
#[track_caller]
pub fn values<E: Element, const D: usize, K: Basic>(tensor: Tensor<D, K>) -> Vec<E> {
    data(tensor)
        .convert::<E>()
        .try_to_vec::<E>()
        .expect("the element type converted to")
}

/// A read made through another API (a module snapshot's bytes through `burn::store`),
/// counted like the others.
pub fn counting<T>(read: impl FnOnce() -> T) -> T {
    counted();
    read()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Int};

    #[test]
    fn each_read_counts_once_on_its_own_thread() {
        let device = Device::flex();
        let before = reads();
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.5], &device);
        let sum: f64 = scalar(x.clone().sum());
        assert_eq!(sum, 6.5);
        assert_eq!(values::<f32, 1, _>(x.clone()), vec![1.0, 2.0, 3.5]);
        assert_eq!(values::<f64, 1, _>(x.clone() * 2.0), vec![2.0, 4.0, 7.0]);
        let i: Tensor<1, Int> = x.clone().int();
        assert_eq!(values::<i64, 1, _>(i), vec![1, 2, 3]);
        // Building and computing read nothing.
        let _ = (x.clone() + 1.0).exp();
        assert_eq!(reads() - before, 4);
        let other = std::thread::spawn(reads).join().unwrap();
        assert_eq!(other, 0);
    }
}
