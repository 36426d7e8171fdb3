//! Projection onto the sparse set of one layer (method.md section 2), `exact` count rule.

use burn::tensor::Tensor;

/// Entries kept by the `exact` rule: round((1 - p) n).
pub fn exact_keep_count(n: usize, ratio: f64) -> usize {
    (((1.0 - ratio) * n as f64).round() as usize).min(n)
}

/// 0/1 mask keeping the `keep` largest-magnitude entries of `x`; among equal magnitudes at the
/// threshold the lower flat index is kept. Runs on the tensor backend.
pub fn top_k_mask(x: &Tensor<1>, keep: usize) -> Tensor<1> {
    let n = x.dims()[0];
    if keep >= n {
        return x.ones_like();
    }
    if keep == 0 {
        return x.zeros_like();
    }
    let magnitude = x.clone().abs();
    // The keep-th largest magnitude is the threshold.
    let threshold = magnitude
        .clone()
        .sort_descending(0)
        .slice(keep - 1..keep)
        .expand([n]);
    let above = magnitude.clone().greater(threshold.clone());
    let at = magnitude.equal(threshold);
    let n_above = above.clone().int().sum().into_scalar::<i64>() as usize;
    let ties_needed = (keep - n_above) as i64;
    // Rank ties by flat index and keep the first `ties_needed` of them.
    let tie_rank = at.clone().int().cumsum(0);
    let ties_kept = tie_rank.lower_equal_elem(ties_needed).bool_and(at);
    above.bool_or(ties_kept).float()
}

/// Count of non-zero entries.
pub fn count_nonzero(x: &Tensor<1>) -> usize {
    x.clone()
        .not_equal_elem(0.0)
        .int()
        .sum()
        .into_scalar::<i64>() as usize
}
