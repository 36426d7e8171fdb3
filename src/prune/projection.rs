//! Projection onto the sparse set of one layer (method.md section 2): keep the largest
//! magnitudes, zero the rest. Two count rules: `exact` and `percentile` (numpy's linear
//! interpolation, strict `<`).
//!
//! Selection runs on the tensor backend in one of two ways that give the same masks
//! ([`Selection`]): on a CPU the k-th largest magnitude is found by bisection over the bit
//! patterns of non-negative f32 values (their integer order is their numeric order), at most
//! 32 counting passes with no sort, each pass a read of one count; on a GPU, where every read
//! stalls the device, the backend's top-k finds it and no value leaves the device.

use crate::base::{backend, host};
use crate::spec::CountRule;
use burn::tensor::{FloatDType, Int, Tensor};

/// How a projection finds its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Bisection with a read per counting pass: the fastest where reads cost only a copy.
    Host,
    /// The backend's top-k; the threshold and the tie count stay on the device.
    Device,
}

impl Selection {
    /// The selection for the device `x` lives on.
    pub fn of(x: &Tensor<1>) -> Selection {
        if backend::reads_stall(&x.device()) {
            Selection::Device
        } else {
            Selection::Host
        }
    }
}

/// Entries kept by the `exact` rule: round((1 - p) n).
pub fn exact_keep_count(n: usize, ratio: f64) -> usize {
    (((1.0 - ratio) * n as f64).round() as usize).min(n)
}

/// Entries kept by the `percentile` rule when magnitudes are distinct: the position
/// p (n − 1) in the ascending magnitudes is fractional, so floor(p (n − 1)) + 1 entries fall
/// below the interpolated percentile (one fewer zero than `exact` for n = 36,864, p = 0.9);
/// at an integer position, p (n − 1) entries do.
pub fn percentile_keep_count(n: usize, ratio: f64) -> usize {
    let position = ratio * (n - 1) as f64;
    let below = if position.fract() == 0.0 {
        position as usize
    } else {
        position.floor() as usize + 1
    };
    n - below
}

/// Entries a projection keeps under `rule` (for distinct magnitudes).
pub fn keep_count(n: usize, ratio: f64, rule: CountRule) -> usize {
    match rule {
        CountRule::Exact => exact_keep_count(n, ratio),
        CountRule::Percentile => percentile_keep_count(n, ratio),
    }
}

/// Count of entries with `magnitude >= threshold`.
fn count_at_least(magnitude: &Tensor<1>, threshold: f32) -> usize {
    host::scalar::<i64, 1, _>(magnitude.clone().greater_equal_elem(threshold).int().sum()) as usize
}

/// The k-th largest value (1-based) of non-negative `magnitude`, k in 1..=n.
pub fn kth_largest(magnitude: &Tensor<1>, k: usize) -> f32 {
    let max: f32 = host::scalar(magnitude.clone().max());
    // Largest bit pattern t with count(>= t) >= k; the answer lies in [0, bits(max)].
    let (mut lo, mut hi) = (0u32, max.to_bits());
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if count_at_least(magnitude, f32::from_bits(mid)) >= k {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    f32::from_bits(lo)
}

/// The k-th largest value (1-based) of `magnitude` as a one-element tensor, by the backend's
/// top-k from whichever end is shorter (negation is exact).
pub fn kth_largest_on_device(magnitude: &Tensor<1>, k: usize) -> Tensor<1> {
    let n = magnitude.dims()[0];
    if k <= n / 2 {
        magnitude.clone().topk(k, 0).slice(k - 1..k)
    } else {
        // The k-th largest is the (n - k + 1)-th smallest.
        let from_below = n - k + 1;
        magnitude
            .clone()
            .neg()
            .topk(from_below, 0)
            .slice(from_below - 1..from_below)
            .neg()
    }
}

/// 0/1 mask keeping the `keep` largest-magnitude entries of `x`; among equal magnitudes at the
/// threshold the lower flat index is kept.
pub fn top_k_mask(x: &Tensor<1>, keep: usize) -> Tensor<1> {
    top_k_mask_by(x, keep, Selection::of(x))
}

/// [`top_k_mask`] with the threshold found by `selection`.
pub fn top_k_mask_by(x: &Tensor<1>, keep: usize, selection: Selection) -> Tensor<1> {
    let n = x.dims()[0];
    if keep >= n {
        return x.ones_like();
    }
    if keep == 0 {
        return x.zeros_like();
    }
    let magnitude = x.clone().abs();
    let (above, at, ties_needed): (_, _, Tensor<1, Int>) = match selection {
        Selection::Host => {
            let threshold = kth_largest(&magnitude, keep);
            let above = magnitude.clone().greater_elem(threshold);
            let at = magnitude.equal_elem(threshold);
            let n_above: i64 = host::scalar(above.clone().int().sum());
            let ties_needed = keep as i64 - n_above;
            let ties_needed = Tensor::<1, Int>::from_ints([ties_needed], &x.device());
            (above, at, ties_needed)
        }
        Selection::Device => {
            let threshold = kth_largest_on_device(&magnitude, keep).expand([n]);
            let above = magnitude.clone().greater(threshold.clone());
            let at = magnitude.equal(threshold);
            let ties_needed = above
                .clone()
                .int()
                .sum()
                .mul_scalar(-1)
                .add_scalar(keep as i64);
            (above, at, ties_needed)
        }
    };
    // Rank ties by flat index and keep the first `ties_needed` of them.
    let tie_rank = at.clone().int().cumsum(0);
    let ties_kept = tie_rank.lower_equal(ties_needed.expand([n])).bool_and(at);
    above.bool_or(ties_kept).float()
}

/// The authors' rule: q = numpy's linearly interpolated percentile of |x| at 100 p (position
/// p (n - 1) in the ascending magnitudes); keep every entry with |x| >= q.
pub fn percentile_mask(x: &Tensor<1>, ratio: f64) -> Tensor<1> {
    percentile_mask_by(x, ratio, Selection::of(x))
}

/// [`percentile_mask`] with the order statistics found by `selection`.
pub fn percentile_mask_by(x: &Tensor<1>, ratio: f64, selection: Selection) -> Tensor<1> {
    let n = x.dims()[0];
    let magnitude = x.clone().abs();
    let position = ratio * (n - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    let fraction = position - lo as f64;
    // The ascending i-th value (0-based) is the (n - i)-th largest.
    match selection {
        Selection::Host => {
            let v_lo = kth_largest(&magnitude, n - lo) as f64;
            let v_hi = kth_largest(&magnitude, n - hi) as f64;
            let q = v_lo + (v_hi - v_lo) * fraction;
            magnitude.greater_equal_elem(q as f32).float()
        }
        Selection::Device => {
            // The same float64 arithmetic as the host's, then rounded to float32 as `as f32`
            // rounds, and widened back to the tensor's own type.
            let dtype = magnitude.dtype();
            let v_lo = kth_largest_on_device(&magnitude, n - lo).cast(FloatDType::F64);
            let v_hi = kth_largest_on_device(&magnitude, n - hi).cast(FloatDType::F64);
            let q = (v_hi - v_lo.clone()).mul_scalar(fraction) + v_lo;
            let q = q.cast(FloatDType::F32).cast(dtype).expand([n]);
            magnitude.greater_equal(q).float()
        }
    }
}

/// numpy's `percentile(|x|, 100 p)` (linear interpolation, numpy's `_lerp`) in the tensor's
/// own precision: the ascending magnitudes come from a backend sort, so in float64 the value
/// is exact (the bisection of [`kth_largest`] works on float32 bit patterns). For what runs
/// once per epoch, not for projections at every update.
pub fn percentile_value(x: &Tensor<1>, ratio: f64) -> f64 {
    let n = x.dims()[0];
    let ascending = x.clone().abs().sort(0);
    let position = ratio * (n - 1) as f64;
    let lo = position.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let at = |i: usize| host::scalar::<f64, 1, _>(ascending.clone().slice(i..i + 1));
    let (a, b, t) = (at(lo), at(hi), position - lo as f64);
    // numpy's `_lerp` measures from the nearer end.
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

/// The gradient mask of the authors' masked retraining: 1 where |x| is strictly above
/// [`percentile_value`] (admm.py's `above_threshold`).
pub fn above_percentile_mask(x: &Tensor<1>, ratio: f64) -> Tensor<1> {
    let q = percentile_value(x, ratio);
    x.clone().abs().greater_elem(q).float()
}

/// The projection's mask of one layer under `rule`.
pub fn mask(x: &Tensor<1>, ratio: f64, rule: CountRule) -> Tensor<1> {
    match rule {
        CountRule::Exact => top_k_mask(x, exact_keep_count(x.dims()[0], ratio)),
        CountRule::Percentile => percentile_mask(x, ratio),
    }
}

/// Π(x): `x` on the kept support, zero elsewhere.
pub fn project(x: &Tensor<1>, ratio: f64, rule: CountRule) -> Tensor<1> {
    x.clone() * mask(x, ratio, rule)
}

/// Count of non-zero entries.
pub fn count_nonzero(x: &Tensor<1>) -> usize {
    host::scalar::<i64, 1, _>(x.clone().not_equal_elem(0.0).int().sum()) as usize
}
