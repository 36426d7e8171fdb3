//! Projection onto the sparse set of one layer (method.md section 2): keep the largest
//! magnitudes, zero the rest. Two count rules: `exact` and `percentile` (numpy's linear
//! interpolation, strict `<`).
//!
//! Selection is O(n) on the tensor backend: the k-th largest magnitude is found by bisection
//! over the bit patterns of non-negative f32 values (their integer order is their numeric
//! order), at most 32 counting passes, with no sort.

use crate::spec::CountRule;
use burn::tensor::Tensor;

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
    magnitude
        .clone()
        .greater_equal_elem(threshold)
        .int()
        .sum()
        .into_scalar::<i64>() as usize
}

/// The k-th largest value (1-based) of non-negative `magnitude`, k in 1..=n.
pub fn kth_largest(magnitude: &Tensor<1>, k: usize) -> f32 {
    let max = magnitude.clone().max().into_scalar::<f32>();
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

/// 0/1 mask keeping the `keep` largest-magnitude entries of `x`; among equal magnitudes at the
/// threshold the lower flat index is kept.
pub fn top_k_mask(x: &Tensor<1>, keep: usize) -> Tensor<1> {
    let n = x.dims()[0];
    if keep >= n {
        return x.ones_like();
    }
    if keep == 0 {
        return x.zeros_like();
    }
    let magnitude = x.clone().abs();
    let threshold = kth_largest(&magnitude, keep);
    let above = magnitude.clone().greater_elem(threshold);
    let at = magnitude.equal_elem(threshold);
    let n_above = above.clone().int().sum().into_scalar::<i64>();
    let ties_needed = keep as i64 - n_above;
    // Rank ties by flat index and keep the first `ties_needed` of them.
    let tie_rank = at.clone().int().cumsum(0);
    let ties_kept = tie_rank.lower_equal_elem(ties_needed).bool_and(at);
    above.bool_or(ties_kept).float()
}

/// The authors' rule: q = numpy's linearly interpolated percentile of |x| at 100 p (position
/// p (n - 1) in the ascending magnitudes); keep every entry with |x| >= q.
pub fn percentile_mask(x: &Tensor<1>, ratio: f64) -> Tensor<1> {
    let n = x.dims()[0];
    let magnitude = x.clone().abs();
    let position = ratio * (n - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    // The ascending i-th value (0-based) is the (n - i)-th largest.
    let v_lo = kth_largest(&magnitude, n - lo) as f64;
    let v_hi = kth_largest(&magnitude, n - hi) as f64;
    let q = v_lo + (v_hi - v_lo) * (position - lo as f64);
    magnitude.greater_equal_elem(q as f32).float()
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
    let at = |i: usize| ascending.clone().slice(i..i + 1).into_scalar::<f64>();
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
    x.clone()
        .not_equal_elem(0.0)
        .int()
        .sum()
        .into_scalar::<i64>() as usize
}
