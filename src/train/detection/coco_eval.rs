//! Box mAP as COCO's evaluator computes it (`pycocotools.cocoeval.COCOeval`, `iouType="bbox"`,
//! default parameters, area range "all", 100 detections per image): per category and image the
//! highest-scoring detections are matched greedily to the best unmatched ground truth at each
//! IoU threshold 0.50, 0.55, ..., 0.95 (crowd boxes match many detections and are ignored);
//! precision is made monotone and read at 101 recall points; mAP averages over thresholds,
//! recall points and the categories that have ground truth.

use std::collections::BTreeMap;

/// One ground-truth box.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    /// Image id.
    pub image: u64,
    /// Category id.
    pub category: u64,
    /// Box `[x, y, width, height]`.
    pub bbox: [f64; 4],
    /// A crowd region: never a false negative, matched by any number of detections, which
    /// are then ignored.
    pub iscrowd: bool,
}

/// One detection.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Image id.
    pub image: u64,
    /// Category id.
    pub category: u64,
    /// Box `[x, y, width, height]`.
    pub bbox: [f64; 4],
    /// Confidence.
    pub score: f64,
}

/// COCO's two headline numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CocoMap {
    /// AP averaged over IoU 0.50:0.95 (`stats[0]`); -1 without ground truth.
    pub map: f64,
    /// AP at IoU 0.50 (`stats[1]`).
    pub map50: f64,
}

const MAX_DETECTIONS: usize = 100;

/// `np.linspace(start, stop, n)`: `i * step + start`, the last value exactly `stop`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    (0..n)
        .map(|i| {
            if i == n - 1 {
                stop
            } else {
                i as f64 * step + start
            }
        })
        .collect()
}

/// `maskUtils.iou` of two `[x, y, w, h]` boxes; against a crowd box, over the detection's
/// area only.
fn iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[0] + d[2]).min(g[0] + g[2]) - d[0].max(g[0]);
    let h = (d[1] + d[3]).min(g[1] + g[3]) - d[1].max(g[1]);
    if w <= 0.0 || h <= 0.0 {
        return 0.0;
    }
    let inter = w * h;
    let union = if crowd {
        d[2] * d[3]
    } else {
        d[2] * d[3] + g[2] * g[3] - inter
    };
    inter / union
}

/// What one (image, category) contributes: detection scores, per threshold whether each
/// detection matched and whether it is ignored, and the count of non-crowd ground truths.
struct ImageEval {
    scores: Vec<f64>,
    matched: Vec<Vec<bool>>,
    ignored: Vec<Vec<bool>>,
    counted_gt: usize,
}

fn evaluate_image(gts: &[&GroundTruth], dts: &[&Detection], thresholds: &[f64]) -> ImageEval {
    // Ground truth: ignored (crowd) last, stably; detections: highest score first, stably.
    let mut gts: Vec<&GroundTruth> = gts.to_vec();
    gts.sort_by_key(|g| g.iscrowd);
    let mut dts: Vec<&Detection> = dts.to_vec();
    dts.sort_by(|a, b| b.score.total_cmp(&a.score));
    dts.truncate(MAX_DETECTIONS);
    let ious: Vec<Vec<f64>> = dts
        .iter()
        .map(|d| {
            gts.iter()
                .map(|g| iou(&d.bbox, &g.bbox, g.iscrowd))
                .collect()
        })
        .collect();
    let mut matched = vec![vec![false; dts.len()]; thresholds.len()];
    let mut ignored = vec![vec![false; dts.len()]; thresholds.len()];
    for (t, &threshold) in thresholds.iter().enumerate() {
        let mut gt_taken = vec![false; gts.len()];
        for d in 0..dts.len() {
            let mut best = threshold.min(1.0 - 1e-10);
            let mut m: Option<usize> = None;
            for g in 0..gts.len() {
                if gt_taken[g] && !gts[g].iscrowd {
                    continue;
                }
                // Matched to a regular box already: crowd boxes (sorted last) cannot win.
                if m.is_some_and(|m| !gts[m].iscrowd) && gts[g].iscrowd {
                    break;
                }
                if ious[d][g] < best {
                    continue;
                }
                best = ious[d][g];
                m = Some(g);
            }
            if let Some(m) = m {
                ignored[t][d] = gts[m].iscrowd;
                matched[t][d] = true;
                gt_taken[m] = true;
            }
        }
    }
    ImageEval {
        scores: dts.iter().map(|d| d.score).collect(),
        matched,
        ignored,
        counted_gt: gts.iter().filter(|g| !g.iscrowd).count(),
    }
}

/// COCO box mAP of `detections` against `ground_truth` (the categories evaluated are those
/// with any ground truth; images without ground truth contribute their detections only if
/// they appear in `images`, as COCO evaluates the ground-truth file's images).
pub fn coco_map(ground_truth: &[GroundTruth], detections: &[Detection], images: &[u64]) -> CocoMap {
    let thresholds = linspace(0.5, 0.95, 10);
    let recalls = linspace(0.0, 1.0, 101);
    let mut categories: Vec<u64> = ground_truth.iter().map(|g| g.category).collect();
    categories.sort_unstable();
    categories.dedup();
    let mut images: Vec<u64> = images.to_vec();
    images.sort_unstable();
    images.dedup();
    let key = |image: u64, category: u64| (image, category);
    let mut gts: BTreeMap<(u64, u64), Vec<&GroundTruth>> = BTreeMap::new();
    for g in ground_truth {
        gts.entry(key(g.image, g.category)).or_default().push(g);
    }
    let mut dts: BTreeMap<(u64, u64), Vec<&Detection>> = BTreeMap::new();
    for d in detections {
        dts.entry(key(d.image, d.category)).or_default().push(d);
    }
    // precision[t][k][r], -1 for categories without counted ground truth.
    let mut precision =
        vec![vec![vec![-1.0f64; recalls.len()]; categories.len()]; thresholds.len()];
    for (k, &category) in categories.iter().enumerate() {
        let evals: Vec<ImageEval> = images
            .iter()
            .filter_map(|&image| {
                let g = gts
                    .get(&key(image, category))
                    .map_or(&[][..], Vec::as_slice);
                let d = dts
                    .get(&key(image, category))
                    .map_or(&[][..], Vec::as_slice);
                (!g.is_empty() || !d.is_empty()).then(|| evaluate_image(g, d, &thresholds))
            })
            .collect();
        let counted: usize = evals.iter().map(|e| e.counted_gt).sum();
        if counted == 0 {
            continue;
        }
        // All images' detections by score, stably (mergesort over the concatenation).
        let mut order: Vec<(usize, usize)> = evals
            .iter()
            .enumerate()
            .flat_map(|(i, e)| (0..e.scores.len()).map(move |d| (i, d)))
            .collect();
        order.sort_by(|a, b| evals[b.0].scores[b.1].total_cmp(&evals[a.0].scores[a.1]));
        for (t, row) in precision.iter_mut().enumerate() {
            let (mut tp, mut fp) = (0.0f64, 0.0f64);
            let mut rc = Vec::with_capacity(order.len());
            let mut pr = Vec::with_capacity(order.len());
            for &(i, d) in &order {
                if evals[i].ignored[t][d] {
                    // Ignored detections still take a place in the cumulative sums.
                } else if evals[i].matched[t][d] {
                    tp += 1.0;
                } else {
                    fp += 1.0;
                }
                rc.push(tp / counted as f64);
                pr.push(tp / (fp + tp + f64::EPSILON));
            }
            for i in (1..pr.len()).rev() {
                if pr[i] > pr[i - 1] {
                    pr[i - 1] = pr[i];
                }
            }
            let q = &mut row[k];
            for (r, &threshold) in recalls.iter().enumerate() {
                // np.searchsorted(rc, threshold, side="left"): the first recall >= threshold.
                let at = rc.partition_point(|&x| x < threshold);
                q[r] = if at < pr.len() { pr[at] } else { 0.0 };
            }
        }
    }
    let mean = |rows: &[Vec<Vec<f64>>]| {
        let values: Vec<f64> = rows
            .iter()
            .flatten()
            .flatten()
            .copied()
            .filter(|v| *v > -1.0)
            .collect();
        if values.is_empty() {
            -1.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }
    };
    CocoMap {
        map: mean(&precision),
        map50: mean(&precision[..1]),
    }
}
