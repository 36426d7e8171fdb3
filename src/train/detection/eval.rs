//! Detections from the raw YOLO maps and their COCO mAP, as the reference evaluates
//! (eriklindernoren/PyTorch-YOLOv3, commit 1d621c8): `YOLOLayer`'s inference decoding
//! (`(sigmoid(t_xy) + cell) * stride`, `exp(t_wh) * anchor`, sigmoid on objectness and classes),
//! `non_max_suppression` (objectness above the confidence threshold, score = objectness x class
//! probability for every class above it, per-class NMS, at most 300 per image) with `test.py`'s
//! thresholds (confidence 0.01, NMS IoU 0.4), `rescale_boxes` back to the original image, then
//! COCO's evaluator (`coco_eval`) against the annotations.

use super::coco_eval::{CocoMap, Detection, GroundTruth, coco_map};
use super::nms::batched_nms;
use crate::base::host;
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;

/// `test.py`'s `--conf_thres`.
pub const CONF_THRESHOLD: f64 = 0.01;
/// `test.py`'s `--nms_thres`.
pub const NMS_THRESHOLD: f64 = 0.4;
/// `non_max_suppression`'s `max_det`.
pub const MAX_DETECTIONS: usize = 300;

/// One candidate before suppression: `[x1, y1, x2, y2]` in input pixels, score, class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Corners in input pixels.
    pub xyxy: [f64; 4],
    /// Objectness x class probability.
    pub score: f64,
    /// Class index.
    pub class: usize,
}

/// The decoded maps of a batch: per image, every anchor and cell as `[x, y, w, h, obj,
/// classes...]` in input pixels and probabilities.
pub fn decode(
    outputs: Vec<Tensor<4>>,
    anchors: &[[[f64; 2]; 3]],
    input: usize,
) -> Vec<Vec<Vec<f32>>> {
    let batch = outputs[0].dims()[0];
    let mut images: Vec<Vec<Vec<f32>>> = vec![Vec::new(); batch];
    for (output, anchors) in outputs.into_iter().zip(anchors) {
        let [_, channels, h, w] = output.dims();
        let fields = channels / 3;
        let stride = (input / w) as f32;
        let p = output
            .reshape([batch, 3, fields, h, w])
            .permute([0, 1, 3, 4, 2]);
        let xy = sigmoid(p.clone().slice([0..batch, 0..3, 0..h, 0..w, 0..2]));
        let wh = p.clone().slice([0..batch, 0..3, 0..h, 0..w, 2..4]).exp();
        let rest = sigmoid(p.slice([0..batch, 0..3, 0..h, 0..w, 4..fields]));
        let values: Vec<f32> = host::values(Tensor::cat(vec![xy, wh, rest], 4));
        for (i, image) in images.iter_mut().enumerate() {
            for (a, anchor) in anchors.iter().enumerate() {
                for gy in 0..h {
                    for gx in 0..w {
                        let at = (((i * 3 + a) * h + gy) * w + gx) * fields;
                        let mut row = values[at..at + fields].to_vec();
                        row[0] = (row[0] + gx as f32) * stride;
                        row[1] = (row[1] + gy as f32) * stride;
                        row[2] *= anchor[0] as f32;
                        row[3] *= anchor[1] as f32;
                        image.push(row);
                    }
                }
            }
        }
    }
    images
}

/// `non_max_suppression` for one image's decoded rows.
pub fn suppress(rows: &[Vec<f32>], conf_threshold: f64, iou_threshold: f64) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for row in rows {
        let objectness = f64::from(row[4]);
        if objectness <= conf_threshold {
            continue;
        }
        let (x, y, w, h) = (
            f64::from(row[0]),
            f64::from(row[1]),
            f64::from(row[2]),
            f64::from(row[3]),
        );
        let xyxy = [x - w / 2.0, y - h / 2.0, x + w / 2.0, y + h / 2.0];
        let classes = &row[5..];
        if classes.len() > 1 {
            // Multi-label: every class whose score passes.
            for (class, &p) in classes.iter().enumerate() {
                let score = f64::from(p) * objectness;
                if score > conf_threshold {
                    candidates.push(Candidate { xyxy, score, class });
                }
            }
        } else {
            let score = f64::from(classes[0]) * objectness;
            if score > conf_threshold {
                candidates.push(Candidate {
                    xyxy,
                    score,
                    class: 0,
                });
            }
        }
    }
    let boxes: Vec<[f64; 4]> = candidates.iter().map(|c| c.xyxy).collect();
    let scores: Vec<f64> = candidates.iter().map(|c| c.score).collect();
    let classes: Vec<usize> = candidates.iter().map(|c| c.class).collect();
    batched_nms(&boxes, &scores, &classes, iou_threshold)
        .into_iter()
        .take(MAX_DETECTIONS)
        .map(|i| candidates[i])
        .collect()
}

/// `rescale_boxes`: `[x1, y1, x2, y2]` in the letterboxed input of side `input` back to the
/// original `[width, height]` image.
pub fn rescale(xyxy: [f64; 4], input: usize, [width, height]: [u32; 2]) -> [f64; 4] {
    let (w, h, dim) = (f64::from(width), f64::from(height), input as f64);
    let longest = w.max(h);
    let pad_x = (h - w).max(0.0) * (dim / longest);
    let pad_y = (w - h).max(0.0) * (dim / longest);
    let (unpad_w, unpad_h) = (dim - pad_x, dim - pad_y);
    let (half_x, half_y) = ((pad_x / 2.0).floor(), (pad_y / 2.0).floor());
    [
        (xyxy[0] - half_x) / unpad_w * w,
        (xyxy[1] - half_y) / unpad_h * h,
        (xyxy[2] - half_x) / unpad_w * w,
        (xyxy[3] - half_y) / unpad_h * h,
    ]
}

/// One evaluated image: its id, size and ground truth.
#[derive(Debug, Clone)]
pub struct EvalImage<'a> {
    /// COCO image id.
    pub id: u64,
    /// Original `[width, height]`.
    pub size: [u32; 2],
    /// Ground truth (crowd regions included).
    pub boxes: &'a [crate::data::coco::CocoBox],
}

/// Accumulates detections over batches and scores them with COCO's evaluator.
#[derive(Debug, Default)]
pub struct MapAccumulator {
    ground_truth: Vec<GroundTruth>,
    detections: Vec<Detection>,
    images: Vec<u64>,
}

impl MapAccumulator {
    /// Adds one image's ground truth and its suppressed candidates; `categories[class]` is
    /// the COCO category id.
    pub fn add(
        &mut self,
        image: &EvalImage,
        candidates: &[Candidate],
        input: usize,
        categories: &[u64],
    ) {
        self.images.push(image.id);
        self.ground_truth
            .extend(image.boxes.iter().map(|b| GroundTruth {
                image: image.id,
                category: categories[b.class],
                bbox: b.bbox,
                iscrowd: b.crowd,
            }));
        self.detections.extend(candidates.iter().map(|c| {
            let [x1, y1, x2, y2] = rescale(c.xyxy, input, image.size);
            Detection {
                image: image.id,
                category: categories.get(c.class).copied().unwrap_or(u64::MAX),
                bbox: [x1, y1, x2 - x1, y2 - y1],
                score: c.score,
            }
        }));
    }

    /// COCO's mAP@0.5 and mAP@0.5:0.95 of everything added.
    pub fn finish(&self) -> CocoMap {
        coco_map(&self.ground_truth, &self.detections, &self.images)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_undoes_the_letterbox() {
        // A 200x100 image in a 416 input: scaled by 2.08, padded 104 above and below.
        let [x1, y1, x2, y2] = rescale([0.0, 104.0, 416.0, 312.0], 416, [200, 100]);
        assert!((x1 - 0.0).abs() < 1e-9 && (x2 - 200.0).abs() < 1e-9);
        assert!((y1 - 0.0).abs() < 1e-9 && (y2 - 100.0).abs() < 1e-9);
    }

    #[test]
    fn suppression_scores_every_passing_class_and_keeps_the_best_per_class() {
        let row = |x: f32, obj: f32, p0: f32, p1: f32| vec![x, 50.0, 20.0, 20.0, obj, p0, p1];
        let rows = [
            row(50.0, 0.9, 0.8, 0.5),
            row(52.0, 0.8, 0.9, 0.005),
            row(200.0, 0.005, 1.0, 1.0),
        ];
        let kept = suppress(&rows, 0.01, 0.4);
        // Class 0: 0.72 (first) and 0.72 (second, IoU 0.82 > 0.4, removed by the first);
        // class 1: 0.45 only (the second's 0.004 fails); the third fails objectness.
        assert_eq!(kept.len(), 2);
        assert_eq!((kept[0].class, kept[1].class), (0, 1));
        assert!((kept[0].score - 0.72).abs() < 1e-6 && (kept[1].score - 0.45).abs() < 1e-6);
        assert_eq!(kept[0].xyxy, [40.0, 40.0, 60.0, 60.0]);
    }
}
