//! From the head's logits to TuSimple lanes, as UFLD's evaluation writes them
//! (`generate_tusimple_lines` in `evaluation/eval_wrapper.py`): per row anchor and lane, "no
//! lane" when the last cell has the largest logit, else the expected cell under the softmax
//! over the other cells, mapped to x at 1280 px.

use super::eval::Lane;

/// TuSimple's row samples (`h_samples`, y at 720 px): 160, 170, ..., 710, one per row anchor.
pub fn tusimple_h_samples() -> Vec<f64> {
    (0..56).map(|i| 160.0 + 10.0 * i as f64).collect()
}

/// The lanes of one image from its logits `[cells, rows, lanes]` in row-major order
/// (`cells` = griding cells + 1): `lanes` lanes of `rows` x values (-2: no point).
pub fn tusimple_lanes(logits: &[f32], cells: usize, rows: usize, lanes: usize) -> Vec<Lane> {
    assert_eq!(
        logits.len(),
        cells * rows * lanes,
        "logits of [cells, rows, lanes]"
    );
    let griding = cells - 1;
    let at = |c: usize, r: usize, l: usize| logits[(c * rows + r) * lanes + l] as f64;
    (0..lanes)
        .map(|l| {
            (0..rows)
                .map(|r| {
                    // numpy's argmax: the first of equal maxima.
                    let best =
                        (0..cells).fold(0, |b, c| if at(c, r, l) > at(b, r, l) { c } else { b });
                    if best == griding {
                        return -2.0;
                    }
                    let max = (0..griding).map(|c| at(c, r, l)).fold(f64::MIN, f64::max);
                    let weights: Vec<f64> =
                        (0..griding).map(|c| (at(c, r, l) - max).exp()).collect();
                    let total: f64 = weights.iter().sum();
                    let loc: f64 = weights
                        .iter()
                        .enumerate()
                        .map(|(c, w)| c as f64 * w)
                        .sum::<f64>()
                        / total;
                    // Python 3's round: halves to even.
                    ((loc + 0.5) * 1280.0 / (griding - 1) as f64).round_ties_even()
                })
                .collect()
        })
        .collect()
}
