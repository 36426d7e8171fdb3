//! Non-maximum suppression as torchvision computes it (`torchvision.ops.nms` and
//! `batched_nms`): boxes `[x1, y1, x2, y2]` by descending score, each kept box removing every
//! later one whose IoU with it exceeds the threshold; per class, by offsetting each class's
//! boxes beyond all others.

/// IoU of two `[x1, y1, x2, y2]` boxes (areas without a +1).
pub fn iou_xyxy(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

/// Indices of the boxes kept, highest score first.
pub fn nms(boxes: &[[f64; 4]], scores: &[f64], iou_threshold: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut removed = vec![false; boxes.len()];
    let mut kept = Vec::new();
    for (rank, &i) in order.iter().enumerate() {
        if removed[i] {
            continue;
        }
        kept.push(i);
        for &j in &order[rank + 1..] {
            if !removed[j] && iou_xyxy(&boxes[i], &boxes[j]) > iou_threshold {
                removed[j] = true;
            }
        }
    }
    kept
}

/// `batched_nms`: suppression only among boxes of the same class.
pub fn batched_nms(
    boxes: &[[f64; 4]],
    scores: &[f64],
    classes: &[usize],
    iou_threshold: f64,
) -> Vec<usize> {
    if boxes.is_empty() {
        return Vec::new();
    }
    let max = boxes.iter().flatten().copied().fold(f64::MIN, f64::max);
    let shifted: Vec<[f64; 4]> = boxes
        .iter()
        .zip(classes)
        .map(|(b, &c)| {
            let offset = c as f64 * (max + 1.0);
            [b[0] + offset, b[1] + offset, b[2] + offset, b[3] + offset]
        })
        .collect();
    nms(&shifted, scores, iou_threshold)
}
