//! UFLD's training losses for TuSimple (`utils/loss.py` and `utils/factory.py` of
//! cfzd/Ultra-Fast-Lane-Detection, `configs/tusimple.py`): softmax focal loss (gamma 2) on the
//! head, the similarity ("relation") loss between adjacent row anchors (weight `sim_loss_w` =
//! 1.0), cross-entropy on the auxiliary segmentation (weight 1.0). The shape loss
//! (`ParsingRelationDis`) has weight `shp_loss_w` = 0.0 for TuSimple and is left out.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor};

/// `SoftmaxFocalLoss(2)`: the mean over (image, row anchor, lane) of
/// `-(1 - p_y)^gamma log p_y`, with `p` the softmax over the cells (dim 1) of `logits`
/// `[batch, cells, rows, lanes]` and `y` the target cell `[batch, rows, lanes]`.
pub fn softmax_focal_loss(logits: Tensor<4>, labels: Tensor<3, Int>, gamma: f64) -> Tensor<1> {
    let scores = softmax(logits.clone(), 1);
    let factor = scores.neg().add_scalar(1.0).powf_scalar(gamma);
    let weighted = log_softmax(logits, 1) * factor;
    let picked = weighted.gather(1, labels.unsqueeze_dim::<4>(1));
    picked.mean().neg()
}

/// `ParsingRelationLoss`: smooth L1 (beta 1) of the differences between the logits of
/// adjacent row anchors, averaged over every element.
pub fn relation_loss(logits: Tensor<4>) -> Tensor<1> {
    let [batch, cells, rows, lanes] = logits.dims();
    let upper = logits
        .clone()
        .slice([0..batch, 0..cells, 0..rows - 1, 0..lanes]);
    let lower = logits.slice([0..batch, 0..cells, 1..rows, 0..lanes]);
    let diff = (upper - lower).abs();
    // |d| < 1: d^2 / 2, else |d| - 1/2.
    let small = diff.clone().lower_elem(1.0);
    let quadratic = diff.clone().powf_scalar(2.0).mul_scalar(0.5);
    let linear = diff.sub_scalar(0.5);
    linear.mask_where(small, quadratic).mean()
}

/// `nn.CrossEntropyLoss()` of segmentation logits `[batch, classes, h, w]` against the
/// per-pixel classes `[batch, h, w]`, averaged over pixels.
pub fn segmentation_loss(logits: Tensor<4>, labels: Tensor<3, Int>) -> Tensor<1> {
    let log_p = log_softmax(logits, 1);
    log_p.gather(1, labels.unsqueeze_dim::<4>(1)).mean().neg()
}

/// The TuSimple training loss: focal + 1.0 x relation + 1.0 x auxiliary segmentation.
pub fn tusimple_loss(
    cls: Tensor<4>,
    cls_labels: Tensor<3, Int>,
    aux: Tensor<4>,
    seg_labels: Tensor<3, Int>,
) -> Tensor<1> {
    softmax_focal_loss(cls.clone(), cls_labels, 2.0)
        + relation_loss(cls)
        + segmentation_loss(aux, seg_labels)
}
