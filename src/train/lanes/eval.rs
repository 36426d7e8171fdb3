//! TuSimple's lane metric as its official `LaneEval` computes it (`evaluation/tusimple/lane.py`
//! of cfzd/Ultra-Fast-Lane-Detection, a copy of the benchmark's script): per image, every
//! ground-truth lane is matched to the prediction that agrees with it at the most row samples
//! (within 20 px, widened by the lane's slope); accuracy is the mean of those best agreements,
//! a lane below 85% agreement is a miss (FN), a prediction not matched is an FP.

use crate::base::fit::least_squares;
use crate::error::{Error, Result};

/// x of one lane at each of the image's row samples (`h_samples`); negative: no point there.
pub type Lane = Vec<f64>;

/// `LaneEval.pixel_thresh`: pixels between prediction and ground truth at a row sample.
pub const PIXEL_THRESHOLD: f64 = 20.0;
/// `LaneEval.pt_thresh`: share of agreeing row samples for a lane to count as detected.
pub const POINT_THRESHOLD: f64 = 0.85;
/// Predictions slower than this (ms) score as nothing found.
pub const MAX_RUN_TIME_MS: f64 = 200.0;

/// One image's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaneScore {
    /// Mean best agreement of the ground-truth lanes (the lowest dropped when there are more
    /// than 4), in [0, 1].
    pub accuracy: f64,
    /// Unmatched predictions / predictions (0 without predictions).
    pub fp: f64,
    /// Missed ground-truth lanes / min(lanes, 4) (one miss forgiven with more than 4 lanes).
    pub fn_: f64,
}

/// The slope angle of a lane: `atan(k)` of the least-squares line x = k y + b through its
/// points (0 with fewer than two points), as scikit-learn's `LinearRegression` fits it.
pub fn lane_angle(xs: &[f64], y_samples: &[f64]) -> f64 {
    // x as a line in y, through the lane's points.
    let points: Vec<(f64, f64)> = xs
        .iter()
        .zip(y_samples)
        .filter(|(x, _)| **x >= 0.0)
        .map(|(x, y)| (*y, *x))
        .collect();
    // Fewer than two points, or all on one row: scikit-learn's solution has slope 0.
    least_squares(&points).map_or(0.0, |line| line.slope).atan()
}

/// Share of row samples where `pred` and `gt` agree within `threshold`; absent points (any
/// negative x) count as x = -100, so two absent points agree.
pub fn line_accuracy(pred: &[f64], gt: &[f64], threshold: f64) -> f64 {
    let absent = |x: f64| if x >= 0.0 { x } else { -100.0 };
    let agreeing = pred
        .iter()
        .zip(gt)
        .filter(|(p, g)| (absent(**p) - absent(**g)).abs() < threshold)
        .count();
    agreeing as f64 / gt.len() as f64
}

/// `LaneEval.bench`: one image's score. A prediction with a different number of points than
/// `y_samples` is an error (the benchmark's "Format of lanes error").
pub fn bench(pred: &[Lane], gt: &[Lane], y_samples: &[f64], run_time_ms: f64) -> Result<LaneScore> {
    if let Some(bad) = pred.iter().find(|p| p.len() != y_samples.len()) {
        return Err(Error::RunFailed(format!(
            "a predicted lane has {} points for {} row samples",
            bad.len(),
            y_samples.len()
        )));
    }
    if run_time_ms > MAX_RUN_TIME_MS || gt.len() + 2 < pred.len() {
        return Ok(LaneScore {
            accuracy: 0.0,
            fp: 0.0,
            fn_: 1.0,
        });
    }
    let mut line_accs = Vec::with_capacity(gt.len());
    let (mut missed, mut matched) = (0.0f64, 0.0f64);
    for lane in gt {
        let threshold = PIXEL_THRESHOLD / lane_angle(lane, y_samples).cos();
        let best = pred
            .iter()
            .map(|p| line_accuracy(p, lane, threshold))
            .fold(0.0f64, f64::max);
        if best < POINT_THRESHOLD {
            missed += 1.0;
        } else {
            matched += 1.0;
        }
        line_accs.push(best);
    }
    // Several ground-truth lanes may match one prediction: the benchmark's FP can go negative.
    let fp = pred.len() as f64 - matched;
    if gt.len() > 4 && missed > 0.0 {
        missed -= 1.0;
    }
    let mut sum: f64 = line_accs.iter().sum();
    if gt.len() > 4 {
        sum -= line_accs.iter().copied().fold(f64::INFINITY, f64::min);
    }
    let lanes = (gt.len() as f64).clamp(1.0, 4.0);
    Ok(LaneScore {
        accuracy: sum / lanes,
        fp: if pred.is_empty() {
            0.0
        } else {
            fp / pred.len() as f64
        },
        fn_: missed / lanes,
    })
}

/// The benchmark's totals: the mean of the images' scores.
pub fn mean_score(scores: &[LaneScore]) -> LaneScore {
    let n = scores.len().max(1) as f64;
    LaneScore {
        accuracy: scores.iter().map(|s| s.accuracy).sum::<f64>() / n,
        fp: scores.iter().map(|s| s.fp).sum::<f64>() / n,
        fn_: scores.iter().map(|s| s.fn_).sum::<f64>() / n,
    }
}
