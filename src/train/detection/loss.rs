//! The YOLOv3 training loss of eriklindernoren/PyTorch-YOLOv3 (commit 1d621c8,
//! `pytorchyolo/utils/loss.py`, itself after ultralytics/yolov3):
//!
//! - target assignment (`build_targets`): every box is paired with each of a layer's three
//!   anchors whose width and height ratios to the box are all within 4x, in the cell holding
//!   its centre; several boxes may share a cell and anchor;
//! - box: `1 - CIoU` of the predicted box (`sigmoid(t_xy)` in the cell, `exp(t_wh) * anchor`)
//!   and the target, averaged over the assigned pairs;
//! - objectness: binary cross-entropy with logits over every anchor and cell, the target being
//!   the (detached, non-negative) CIoU at assigned cells and 0 elsewhere; where several pairs
//!   share a cell the last one (anchor-major order) sets it, as PyTorch's index assignment does
//!   on the CPU;
//! - class: binary cross-entropy with logits against one-hot classes at the assigned pairs;
//! - total: `0.05 * box + 1.0 * objectness + 0.5 * class`, each summed over the layers.
//!
//! The assignment runs on the host (the boxes are there already); the loss stays on the tensor
//! backend.

use crate::data::detection::Target;
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData};

/// The loss weights of the reference (`lbox *= 0.05`, `lobj *= 1.0`, `lcls *= 0.5`).
const BOX_WEIGHT: f64 = 0.05;
const OBJECT_WEIGHT: f64 = 1.0;
const CLASS_WEIGHT: f64 = 0.5;
/// Largest ratio of box to anchor size (either way, either axis) for an assignment.
const ANCHOR_RATIO: f32 = 4.0;
/// `bbox_iou`'s epsilon.
const EPS: f64 = 1e-9;

/// The assigned (box, anchor) pairs of one detection layer, in the reference's order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LayerTargets {
    /// Row of each pair in the layer's flattened `[batch * 3 * h * w, 5 + classes]` output.
    pub rows: Vec<i64>,
    /// 1 for the pair that sets its cell's objectness target, 0 for the ones overwritten.
    pub last: Vec<f32>,
    /// Target `(x, y)` offsets in the cell and `(w, h)`, in cells, per pair.
    pub boxes: Vec<[f32; 4]>,
    /// The pair's anchor `(w, h)` in cells.
    pub anchors: Vec<[f32; 2]>,
    /// The pair's class.
    pub classes: Vec<usize>,
}

/// `build_targets` for one layer of grid `[h, w]` whose anchors are `anchors` (input pixels)
/// at input size `input`: `targets` are `(image, (class, [cx, cy, w, h]))` relative to the
/// input. Computed in f32 as the reference is.
pub fn assign(
    targets: &[(usize, Target)],
    [h, w]: [usize; 2],
    anchors: &[[f64; 2]; 3],
    input: usize,
) -> LayerTargets {
    let stride = (input / w) as f32;
    let mut out = LayerTargets::default();
    let mut cells: Vec<i64> = Vec::new();
    // Anchor-major, as `targets.repeat(na, 1, 1)` masked by the ratio test lays them out.
    for (a, anchor) in anchors.iter().enumerate() {
        let anchor = [anchor[0] as f32 / stride, anchor[1] as f32 / stride];
        for &(image, (class, [cx, cy, bw, bh])) in targets {
            let (gx, gy) = (cx as f32 * w as f32, cy as f32 * h as f32);
            let (gw, gh) = (bw as f32 * w as f32, bh as f32 * h as f32);
            let (rw, rh) = (gw / anchor[0], gh / anchor[1]);
            if rw.max(1.0 / rw).max(rh.max(1.0 / rh)) >= ANCHOR_RATIO {
                continue;
            }
            let (gi, gj) = (gx as i64, gy as i64);
            let (ci, cj) = (gi.clamp(0, w as i64 - 1), gj.clamp(0, h as i64 - 1));
            let row = (((image * 3 + a) as i64 * h as i64 + cj) * w as i64) + ci;
            out.rows.push(row);
            cells.push(row);
            // The reference clamps the cell indices in place before taking the offsets.
            out.boxes.push([gx - ci as f32, gy - cj as f32, gw, gh]);
            out.anchors.push(anchor);
            out.classes.push(class);
        }
    }
    out.last = (0..cells.len())
        .map(|k| f32::from(!cells[k + 1..].contains(&cells[k])))
        .collect();
    out
}

/// `BCEWithLogitsLoss` (mean): `max(x, 0) - x t + log(1 + exp(-|x|))`.
fn bce_with_logits<const D: usize>(logits: Tensor<D>, targets: Tensor<D>) -> Tensor<1> {
    let stable = logits.clone().abs().neg().exp().log1p();
    (logits.clone().clamp_min(0.0) - logits * targets + stable).mean()
}

/// `bbox_iou(.., x1y1x2y2=False, CIoU=True)` of `[n, 4]` `(x, y, w, h)` boxes, pairwise by
/// row; the trade-off factor `alpha` is detached, as the reference computes it under
/// `no_grad`.
pub fn ciou(predicted: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    let [n, _] = predicted.dims();
    let col = |t: &Tensor<2>, i: usize| t.clone().slice([0..n, i..i + 1]).reshape([n]);
    let corners = |t: &Tensor<2>| {
        let (x, y, w, h) = (col(t, 0), col(t, 1), col(t, 2), col(t, 3));
        let (hw, hh) = (w.div_scalar(2.0), h.div_scalar(2.0));
        (
            x.clone() - hw.clone(),
            y.clone() - hh.clone(),
            x + hw,
            y + hh,
        )
    };
    let (b1x1, b1y1, b1x2, b1y2) = corners(&predicted);
    let (b2x1, b2y1, b2x2, b2y2) = corners(&target);
    let inter = (b1x2.clone().min_pair(b2x2.clone()) - b1x1.clone().max_pair(b2x1.clone()))
        .clamp_min(0.0)
        * (b1y2.clone().min_pair(b2y2.clone()) - b1y1.clone().max_pair(b2y1.clone()))
            .clamp_min(0.0);
    let (w1, h1) = (
        b1x2.clone() - b1x1.clone(),
        (b1y2.clone() - b1y1.clone()).add_scalar(EPS),
    );
    let (w2, h2) = (
        b2x2.clone() - b2x1.clone(),
        (b2y2.clone() - b2y1.clone()).add_scalar(EPS),
    );
    let union = (w1.clone() * h1.clone() + w2.clone() * h2.clone() - inter.clone()).add_scalar(EPS);
    let iou = inter / union;
    let cw = b1x2.clone().max_pair(b2x2.clone()) - b1x1.clone().min_pair(b2x1.clone());
    let ch = b1y2.clone().max_pair(b2y2.clone()) - b1y1.clone().min_pair(b2y1.clone());
    let c2 = (cw.powf_scalar(2.0) + ch.powf_scalar(2.0)).add_scalar(EPS);
    let rho2 = ((b2x1 + b2x2 - b1x1 - b1x2).powf_scalar(2.0)
        + (b2y1 + b2y2 - b1y1 - b1y2).powf_scalar(2.0))
    .div_scalar(4.0);
    let v = ((w2 / h2).atan() - (w1 / h1).atan())
        .powf_scalar(2.0)
        .mul_scalar(4.0 / std::f64::consts::PI.powi(2));
    let alpha = (v.clone() / (iou.clone().neg().add_scalar(1.0 + EPS) + v.clone())).detach();
    iou - (rho2 / c2 + v * alpha)
}

/// The loss of the raw detection maps `outputs` (coarsest first, `[batch, 3 (5 + classes), h,
/// w]`) against `targets` (per image, relative to the input of side `input`), with the
/// layers' `anchors` (input pixels).
pub fn yolo_loss(
    outputs: Vec<Tensor<4>>,
    targets: &[(usize, Target)],
    anchors: &[[[f64; 2]; 3]],
    input: usize,
) -> Tensor<1> {
    let device = outputs[0].device();
    let zero = || Tensor::<1>::zeros([1], &device);
    let (mut lbox, mut lobj, mut lcls) = (zero(), zero(), zero());
    for (output, anchors) in outputs.into_iter().zip(anchors) {
        let [batch, channels, h, w] = output.dims();
        let fields = channels / 3;
        let cells = batch * 3 * h * w;
        let flat = output
            .reshape([batch, 3, fields, h, w])
            .permute([0, 1, 3, 4, 2])
            .reshape([cells, fields]);
        let assigned = assign(targets, [h, w], anchors, input);
        let n = assigned.rows.len();
        let objectness = flat.clone().slice([0..cells, 4..5]).reshape([cells]);
        let mut tobj = Tensor::<1>::zeros([cells], &device);
        if n > 0 {
            let rows = Tensor::<1, Int>::from_data(TensorData::new(assigned.rows, [n]), &device);
            let picked = flat.select(0, rows.clone());
            let floats = |values: Vec<f32>, width: usize| {
                Tensor::<2>::from_data(TensorData::new(values, [n, width]), &device)
            };
            let anchor = floats(assigned.anchors.concat(), 2);
            let target = floats(assigned.boxes.concat(), 4);
            let xy = burn::tensor::activation::sigmoid(picked.clone().slice([0..n, 0..2]));
            let wh = picked.clone().slice([0..n, 2..4]).exp() * anchor;
            let iou = ciou(Tensor::cat(vec![xy, wh], 1), target);
            lbox = lbox + iou.clone().neg().add_scalar(1.0).mean();
            let last = Tensor::<1>::from_data(TensorData::new(assigned.last, [n]), &device);
            tobj = tobj.select_assign(
                0,
                rows,
                iou.detach().clamp_min(0.0) * last,
                IndexingUpdateOp::Add,
            );
            let classes = fields - 5;
            if classes > 1 {
                let mut one_hot = vec![0.0f32; n * classes];
                for (k, &c) in assigned.classes.iter().enumerate() {
                    one_hot[k * classes + c] = 1.0;
                }
                let logits = picked.slice([0..n, 5..fields]);
                lcls = lcls + bce_with_logits(logits, floats(one_hot, classes));
            }
        }
        lobj = lobj + bce_with_logits(objectness, tobj);
    }
    lbox.mul_scalar(BOX_WEIGHT) + lobj.mul_scalar(OBJECT_WEIGHT) + lcls.mul_scalar(CLASS_WEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// The loss and its gradient against PyTorch (`scripts/yolo_loss_reference.py`, committed
    /// output): two layers of a YOLOv3-tiny-like head, 3 classes, boxes sharing a cell and
    /// one matching no anchor.
    #[test]
    fn loss_and_gradient_match_the_pytorch_reference() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/yolo_loss.json");
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let number = |key: &str| fixture[key].as_f64().unwrap();
        let input = fixture["input"].as_u64().unwrap() as usize;
        let classes = fixture["classes"].as_u64().unwrap() as usize;
        let targets: Vec<(usize, Target)> = fixture["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let v: Vec<f64> = t
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect();
                (v[0] as usize, (v[1] as usize, [v[2], v[3], v[4], v[5]]))
            })
            .collect();
        let device = Device::flex().autodiff();
        let outputs: Vec<Tensor<4>> = fixture["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(fixture["grids"].as_array().unwrap())
            .map(|(values, grid)| {
                let g = grid.as_u64().unwrap() as usize;
                let values: Vec<f32> = values
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect();
                Tensor::<4>::from_data(
                    TensorData::new(values, [2, 3 * (classes + 5), g, g]),
                    &device,
                )
                .require_grad()
            })
            .collect();
        let anchors = crate::catalog::darknet::yolo_anchors(true);
        let loss = yolo_loss(outputs.clone(), &targets, &anchors, input);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        assert!(
            (value - number("loss")).abs() < 1e-5,
            "{value} vs {}",
            number("loss")
        );
        let grads = loss.backward();
        for (output, expected) in outputs
            .iter()
            .zip(fixture["grad_sum_abs"].as_array().unwrap())
        {
            let grad = output.grad(&grads).unwrap();
            let sum = f64::from(grad.abs().sum().into_scalar::<f32>());
            let expected = expected.as_f64().unwrap();
            assert!(
                (sum - expected).abs() < 1e-5 * expected.max(1.0),
                "{sum} vs {expected}"
            );
        }
    }

    #[test]
    fn assignment_follows_the_ratio_test_and_the_centre_cell() {
        // A 13x13 grid at input 416 (stride 32): anchors 116x90, 156x198, 373x326 are
        // 3.625x2.8125, 4.875x6.1875, 11.656x10.1875 cells. A box 0.25 x 0.5 of the input is
        // 3.25 x 6.5 cells: ratios to the three anchors 1.12/2.31, 1.5/1.05, 3.59/1.57: all
        // within 4. A tiny box (0.01) matches none.
        let anchors = [[116.0, 90.0], [156.0, 198.0], [373.0, 326.0]];
        let targets = [
            (1, (5, [0.5, 0.25, 0.25, 0.5])),
            (0, (2, [0.1, 0.1, 0.01, 0.01])),
        ];
        let out = assign(&targets, [13, 13], &anchors, 416);
        // Centre (6.5, 3.25): cell (6, 3); rows ((1 * 3 + a) * 13 + 3) * 13 + 6.
        assert_eq!(
            out.rows,
            (0..3)
                .map(|a| ((3 + a) * 13 + 3) * 13 + 6)
                .collect::<Vec<i64>>()
        );
        assert_eq!(out.boxes[0], [0.5, 0.25, 3.25, 6.5]);
        assert_eq!(out.anchors[1], [156.0 / 32.0, 198.0 / 32.0]);
        assert_eq!(out.classes, vec![5, 5, 5]);
        assert_eq!(out.last, vec![1.0, 1.0, 1.0]);
        // Two boxes in one cell and anchor: only the later one sets the objectness target.
        let same = [
            (0, (0, [0.5, 0.5, 0.25, 0.25])),
            (0, (1, [0.51, 0.51, 0.26, 0.26])),
        ];
        let out = assign(&same, [13, 13], &anchors, 416);
        assert_eq!(out.rows[0], out.rows[1]);
        assert_eq!(&out.last[0..2], &[0.0, 1.0]);
    }
}
