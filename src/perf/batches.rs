//! Random training batches of every task, built on the host from a seed so every backend sees
//! the same values: `slr perf`, the plan's throughput calibration and `just bench` measure
//! steps without a data set.

use crate::base::rng::SplitMix64;
use crate::catalog::{Architecture, ModelKind, TaskKind};
use crate::data::detection::Target;
use crate::train::detection::task::DetectionBatch;
use crate::train::lanes::task::LaneBatch;
use crate::train::task::TaskBatch;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Boxes per image of a random detection batch (COCO averages about 7; a few suffice to
/// exercise every part of the loss).
pub const BOXES_PER_IMAGE: usize = 4;

/// Images of `shape` with pixels uniform in `[low, high)` from `rng` (drawn in f64, then
/// rounded once).
fn images(
    rng: &mut SplitMix64,
    shape: [usize; 4],
    [low, high]: [f64; 2],
    device: &Device,
) -> Tensor<4> {
    let pixels: Vec<f32> = (0..shape.iter().product())
        .map(|_| (rng.next_f64() * (high - low) + low) as f32)
        .collect();
    Tensor::from_data(TensorData::new(pixels, shape), device)
}

/// Integers of `shape` uniform in `0..bound` from `rng`.
fn integers<const D: usize>(
    rng: &mut SplitMix64,
    shape: [usize; D],
    bound: usize,
    device: &Device,
) -> Tensor<D, Int> {
    let values: Vec<i64> = (0..shape.iter().product())
        .map(|_| rng.below(bound as u64) as i64)
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A batch of uniform [-1, 1) images and labels from `seed`.
pub fn random_batch(
    kind: ModelKind,
    batch: usize,
    seed: u64,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let [c, h, w] = kind.input_shape();
    let mut rng = SplitMix64::new(seed);
    let images = images(&mut rng, [batch, c, h, w], [-1.0, 1.0], device);
    (images, integers(&mut rng, [batch], kind.classes(), device))
}

/// The boxes of a random detection batch: [`BOXES_PER_IMAGE`] per image, box `j` (counted over
/// the batch) of class `j mod classes` with its centre in [0.15, 0.85) and sides in
/// [0.04, 0.34) of the input, spread by the fractional parts of multiples of irrational
/// numbers. A formula rather than a generator, so `scripts/torch_perf.py` builds the same
/// boxes.
pub fn detection_targets(batch: usize, classes: usize) -> Vec<(usize, Target)> {
    let spread = |step: f64, j: usize| (step * (j + 1) as f64).fract();
    (0..batch * BOXES_PER_IMAGE)
        .map(|j| {
            let image = j / BOXES_PER_IMAGE;
            let centre = [0.618_033_988_7, 0.754_877_666_2].map(|s| 0.15 + 0.7 * spread(s, j));
            let sides = [0.569_840_291_0, 0.430_159_709_0].map(|s| 0.04 + 0.3 * spread(s, j));
            (
                image,
                (j % classes, [centre[0], centre[1], sides[0], sides[1]]),
            )
        })
        .collect()
}

/// A training batch of `kind`'s task from `seed`: labelled images for classification,
/// uniform [0, 1) letterboxed images with [`detection_targets`] for detection, frames with
/// uniform row-anchor cells and segmentation classes for lanes. `None` for a task without a
/// random batch.
pub fn random_task_batch(
    kind: ModelKind,
    batch: usize,
    seed: u64,
    device: &Device,
) -> Option<TaskBatch> {
    let entry = kind.entry();
    let [c, h, w] = entry.input;
    let mut rng = SplitMix64::new(seed);
    match (entry.task, entry.architecture) {
        (TaskKind::Classification, _) => Some(TaskBatch::Labelled(
            random_batch(kind, batch, seed, device).into(),
        )),
        (TaskKind::Detection, Architecture::Yolo(config)) => {
            Some(TaskBatch::Detection(DetectionBatch {
                images: images(&mut rng, [batch, c, h, w], [0.0, 1.0], device),
                targets: detection_targets(batch, config.classes),
                input: h,
            }))
        }
        // Cell `griding_num` is "no lane"; segmentation class 0 is background.
        (TaskKind::LaneDetection, Architecture::Ufld(config)) => {
            Some(TaskBatch::Lanes(LaneBatch {
                images: images(&mut rng, [batch, c, h, w], [-1.0, 1.0], device),
                cells: integers(
                    &mut rng,
                    [batch, config.row_anchors, config.lanes],
                    config.griding_num + 1,
                    device,
                ),
                segmentation: integers(&mut rng, [batch, h / 8, w / 8], config.lanes + 1, device),
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boxes `scripts/torch_perf.py` rebuilds: the first three by hand from the formula.
    #[test]
    fn detection_targets_follow_the_formula() {
        let targets = detection_targets(2, 80);
        assert_eq!(targets.len(), 2 * BOXES_PER_IMAGE);
        let (image, (class, [cx, cy, w, h])) = targets[0];
        assert_eq!((image, class), (0, 0));
        // j = 0: fract(0.6180339887) etc.
        assert!((cx - (0.15 + 0.7 * 0.618_033_988_7)).abs() < 1e-12);
        assert!((cy - (0.15 + 0.7 * 0.754_877_666_2)).abs() < 1e-12);
        assert!((w - (0.04 + 0.3 * 0.569_840_291_0)).abs() < 1e-12);
        assert!((h - (0.04 + 0.3 * 0.430_159_709_0)).abs() < 1e-12);
        // j = 1: fract(2 * 0.6180339887) = 0.2360679774.
        let (_, (class, [cx, ..])) = targets[1];
        assert_eq!(class, 1);
        assert!((cx - (0.15 + 0.7 * 0.236_067_977_4)).abs() < 1e-9);
        // j = 4 is the second image's first box.
        assert_eq!(targets[4].0, 1);
        assert_eq!(targets[4].1.0, 4);
    }

    /// A lane batch has UFLD's target shapes, cells up to "no lane" and classes up to the
    /// last lane.
    #[test]
    fn lane_batches_have_the_heads_shapes_and_ranges() {
        let device = Device::flex();
        let Some(TaskBatch::Lanes(batch)) = random_task_batch(ModelKind::UfldSmall, 2, 7, &device)
        else {
            panic!("ufld-small gets a lane batch");
        };
        assert_eq!(batch.images.dims(), [2, 3, 64, 160]);
        assert_eq!(batch.cells.dims(), [2, 56, 4]);
        assert_eq!(batch.segmentation.dims(), [2, 8, 20]);
        let cells = batch
            .cells
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        assert_eq!(cells.iter().min(), Some(&0));
        assert_eq!(cells.iter().max(), Some(&25));
        let classes = batch
            .segmentation
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        assert_eq!(
            (classes.iter().min(), classes.iter().max()),
            (Some(&0), Some(&4))
        );
        let pixels = batch.images.into_data().try_to_vec::<f32>().unwrap();
        assert!(pixels.iter().all(|p| (-1.0..1.0).contains(p)));
    }
}
