//! TuSimple's lane metric on hand-computed fixtures: matched, missed, extra, partially
//! visible and slanted lanes, more than four lanes, and the benchmark's refusals.

use slr_repro::train::lanes::eval::{LaneScore, bench, lane_angle, line_accuracy, mean_score};

const Y: [f64; 4] = [160.0, 170.0, 180.0, 190.0];

fn vertical(x: f64) -> Vec<f64> {
    vec![x; 4]
}

fn score(pred: &[Vec<f64>], gt: &[Vec<f64>]) -> LaneScore {
    bench(pred, gt, &Y, 10.0).unwrap()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

#[test]
fn a_matched_lane_scores_one() {
    // The absent last point of both counts as agreeing (-100 against -100).
    let lane = vec![100.0, 100.0, 100.0, -2.0];
    let s = score(std::slice::from_ref(&lane), std::slice::from_ref(&lane));
    assert_eq!((s.accuracy, s.fp, s.fn_), (1.0, 0.0, 0.0));
}

#[test]
fn a_missed_lane_is_a_false_negative() {
    // Two lanes, one predicted: accuracy (1 + 0) / 2, FN 1 / 2, no FP.
    let s = score(&[vertical(100.0)], &[vertical(100.0), vertical(400.0)]);
    assert_eq!((s.accuracy, s.fp, s.fn_), (0.5, 0.0, 0.5));
}

#[test]
fn an_extra_prediction_is_a_false_positive() {
    // One lane, two predictions (one 300 px away): FP 1 / 2.
    let s = score(&[vertical(100.0), vertical(400.0)], &[vertical(100.0)]);
    assert_eq!((s.accuracy, s.fp, s.fn_), (1.0, 0.5, 0.0));
}

#[test]
fn a_partially_visible_lane_needs_its_absent_points_absent() {
    // Ground truth visible on 2 of 4 rows; a prediction that continues the lane agrees on
    // 2 of 4 (50% < 85%: missed, and its prediction unmatched).
    let gt = vec![100.0, 105.0, -2.0, -2.0];
    let s = score(&[vertical(100.0)], std::slice::from_ref(&gt));
    assert_eq!((s.accuracy, s.fp, s.fn_), (0.5, 1.0, 1.0));
    // Stopping where the lane stops agrees everywhere; 19 px off is still within 20 px.
    let s = score(&[vec![119.0, 90.0, -1.0, -5.0]], &[gt]);
    assert_eq!((s.accuracy, s.fp, s.fn_), (1.0, 0.0, 0.0));
}

#[test]
fn slanted_lanes_widen_the_threshold_by_their_angle() {
    // x = y - 60: slope 1, angle 45 degrees, threshold 20 / cos 45 = 28.28 px.
    let gt: Vec<f64> = Y.iter().map(|y| y - 60.0).collect();
    close(lane_angle(&gt, &Y), std::f64::consts::FRAC_PI_4);
    let shifted = |dx: f64| -> Vec<f64> { gt.iter().map(|x| x + dx).collect() };
    let s = score(&[shifted(25.0)], std::slice::from_ref(&gt));
    assert_eq!((s.accuracy, s.fp, s.fn_), (1.0, 0.0, 0.0));
    let s = score(&[shifted(30.0)], std::slice::from_ref(&gt));
    assert_eq!((s.accuracy, s.fp, s.fn_), (0.0, 1.0, 1.0));
    // Three of four rows within 20 px: 0.75 agreement, below 0.85.
    close(
        line_accuracy(&[100.0, 100.0, 100.0, 150.0], &vertical(110.0), 20.0),
        0.75,
    );
    // A lane with one point has angle 0.
    assert_eq!(lane_angle(&[-2.0, 50.0, -2.0, -2.0], &Y), 0.0);
}

#[test]
fn with_more_than_four_lanes_the_worst_is_forgiven() {
    // Five lanes, the four first found: the miss and the lowest accuracy are dropped.
    let gt: Vec<Vec<f64>> = (0..5).map(|i| vertical(100.0 + 200.0 * i as f64)).collect();
    let s = score(&gt[..4], &gt);
    assert_eq!((s.accuracy, s.fp, s.fn_), (1.0, 0.0, 0.0));
    // Two missed: one is forgiven, accuracy (3 + 0 + 0 - 0) / 4.
    let s = score(&gt[..3], &gt);
    assert_eq!((s.accuracy, s.fp, s.fn_), (0.75, 0.0, 0.25));
}

#[test]
fn too_many_or_too_slow_predictions_score_nothing() {
    let gt = [vertical(100.0)];
    let four: Vec<Vec<f64>> = (0..4).map(|i| vertical(100.0 + i as f64)).collect();
    let nothing = LaneScore {
        accuracy: 0.0,
        fp: 0.0,
        fn_: 1.0,
    };
    assert_eq!(bench(&four, &gt, &Y, 10.0).unwrap(), nothing);
    assert_eq!(bench(&four[..1], &gt, &Y, 250.0).unwrap(), nothing);
    // Three predictions for one lane are allowed (1 + 2), all three match it: FP (3 - 1) / 3.
    let s = score(&four[..3], &gt);
    assert_eq!(s.accuracy, 1.0);
    close(s.fp, 2.0 / 3.0);
    // No predictions: no FP, one miss.
    let s = score(&[], &gt);
    assert_eq!((s.accuracy, s.fp, s.fn_), (0.0, 0.0, 1.0));
}

#[test]
fn a_lane_with_the_wrong_number_of_points_is_refused() {
    let err = bench(&[vec![1.0, 2.0]], &[vertical(1.0)], &Y, 1.0).unwrap_err();
    assert!(
        err.to_string().contains("2 points for 4 row samples"),
        "{err}"
    );
}

#[test]
fn the_totals_are_means_over_images() {
    let a = score(&[vertical(100.0)], &[vertical(100.0)]);
    let b = score(&[vertical(100.0)], &[vertical(100.0), vertical(400.0)]);
    let m = mean_score(&[a, b]);
    assert_eq!((m.accuracy, m.fp, m.fn_), (0.75, 0.0, 0.25));
}

mod losses {
    use burn::tensor::{Device, Int, Tensor, TensorData};
    use slr_repro::train::lanes::loss::{relation_loss, segmentation_loss, softmax_focal_loss};

    /// Logits `[1, 3 cells, 2 rows, 1 lane]`: row 0 has cells (0, 1, 2), row 1 (1, 1, 1).
    fn logits() -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(vec![0.0f32, 1.0, 1.0, 1.0, 2.0, 1.0], [1, 3, 2, 1]),
            &Device::flex(),
        )
    }

    fn scalar(t: Tensor<1>) -> f64 {
        t.into_scalar::<f64>()
    }

    #[test]
    fn focal_loss_by_hand() {
        // Targets: cell 2 in row 0 (p = e^2 / (1 + e + e^2) = 0.665241), cell 0 in row 1
        // (p = 1/3): mean of -(1 - p)^2 ln p = (0.045678 + 0.488272) / 2 = 0.266975
        // (PyTorch's SoftmaxFocalLoss(2) in float64: 0.26697496363241136).
        let labels: Tensor<3, Int> =
            Tensor::from_data(TensorData::new(vec![2i64, 0], [1, 2, 1]), &Device::flex());
        let loss = scalar(softmax_focal_loss(logits(), labels, 2.0));
        assert!((loss - 0.266_974_963_632_411_4).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn relation_loss_by_hand() {
        // Row 0 minus row 1 per cell: (-1, 0, 1); smooth L1: (0.5, 0, 0.5), mean 1/3.
        let loss = scalar(relation_loss(logits()));
        assert!((loss - 1.0 / 3.0).abs() < 1e-7, "{loss}");
    }

    #[test]
    fn segmentation_loss_by_hand() {
        // Two pixels of 2 classes: logits (0.5, 0) with class 1: ln(1 + e^0.5) = 0.974077;
        // (-1, 2) with class 0: ln(1 + e^3) = 3.048587; mean 2.011332.
        let seg = Tensor::<4>::from_data(
            TensorData::new(vec![0.5f32, -1.0, 0.0, 2.0], [1, 2, 1, 2]),
            &Device::flex(),
        );
        let labels: Tensor<3, Int> =
            Tensor::from_data(TensorData::new(vec![1i64, 0], [1, 1, 2]), &Device::flex());
        let loss = scalar(segmentation_loss(seg, labels));
        assert!((loss - 2.011_332_167_876_924).abs() < 1e-6, "{loss}");
    }
}

mod decoding {
    use slr_repro::train::lanes::decode::{tusimple_h_samples, tusimple_lanes};

    #[test]
    fn the_head_becomes_tusimple_lanes() {
        // 4 cells (griding 3 + "no lane"), 2 rows, 1 lane; [cells, rows, lanes] row-major.
        // Row 0: cell logits (0, 0, 0, -5): uniform over cells 0..2, loc 1, x = 1.5 x 640 = 960.
        // Row 1: the last cell wins: no point (-2).
        let logits = [0.0f32, 1.0, 0.0, 1.0, 0.0, 1.0, -5.0, 9.0];
        let lanes = tusimple_lanes(&logits, 4, 2, 1);
        assert_eq!(lanes, vec![vec![960.0, -2.0]]);
        // Row 0 all on cell 0 (a large gap): loc ~ 0, x = round(0.5 x 640) = 320.
        let sharp = [30.0f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0];
        assert_eq!(tusimple_lanes(&sharp, 4, 2, 1)[0][0], 320.0);
        let h = tusimple_h_samples();
        assert_eq!((h.len(), h[0], h[55]), (56, 160.0, 710.0));
    }
}
