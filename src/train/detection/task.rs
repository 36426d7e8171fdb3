//! Object detection as a [`Task`]: YOLOv3's loss on letterboxed, augmented batches, and COCO's
//! mAP@0.5 (%) of the suppressed detections on the evaluation split (mAP@0.5:0.95 beside it).

use super::eval::{CONF_THRESHOLD, EvalImage, MapAccumulator, NMS_THRESHOLD, decode, suppress};
use super::loss::yolo_loss;
use crate::catalog::YoloConfig;
use crate::catalog::darknet::yolo_anchors;
use crate::data::detection::{Target, batch_data};
use crate::data::{Dataset, DetectionSplit, Examples};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::Net;
use crate::train::Task;
use crate::train::task::Evaluation;
use burn::tensor::{Tensor, TensorData};

/// One detection batch: images on the device, targets on the host (assignment runs there).
#[derive(Debug, Clone)]
pub struct DetectionBatch {
    /// Letterboxed images `[n, 3, s, s]` in [0, 1].
    pub images: Tensor<4>,
    /// `(image in batch, (class, [cx, cy, w, h]))` relative to the input.
    pub targets: Vec<(usize, Target)>,
    /// The input side.
    pub input: usize,
}

/// YOLOv3 or YOLOv3-tiny on COCO-format data.
#[derive(Debug, Clone)]
pub struct ObjectDetection {
    /// Anchors of each detection layer (input pixels), coarsest first.
    anchors: Vec<[[f64; 2]; 3]>,
}

impl ObjectDetection {
    /// The task of a YOLO model.
    pub fn new(config: YoloConfig) -> ObjectDetection {
        ObjectDetection {
            anchors: yolo_anchors(config.tiny),
        }
    }
}

fn detection(split: &Examples) -> Result<&DetectionSplit> {
    match split {
        Examples::Detection(split) => Ok(split),
        _ => Err(Error::RunFailed(
            "the detection task needs a detection data set".into(),
        )),
    }
}

/// The batch of `split`'s images at `indices`, augmented from `augment_seed` when given.
pub fn detection_batch(
    split: &DetectionSplit,
    indices: &[usize],
    augment_seed: Option<u64>,
) -> Result<DetectionBatch> {
    let items: Vec<_> = indices.iter().map(|&i| &split.items[i]).collect();
    let s = split.input;
    let data = batch_data(&items, s, augment_seed)?;
    Ok(DetectionBatch {
        images: Tensor::from_data(
            TensorData::new(data.images, [items.len(), 3, s, s]),
            &split.device,
        ),
        targets: data.targets,
        input: s,
    })
}

impl Task for ObjectDetection {
    type Batch = DetectionBatch;

    /// The reference's `DefaultAug` where the data set trains with it.
    fn train_batch(
        data: &Dataset,
        indices: &[usize],
        seed: u64,
        augment: bool,
    ) -> Result<DetectionBatch> {
        let split = detection(&data.train)?;
        detection_batch(split, indices, (split.augment && augment).then_some(seed))
    }

    fn loss(&self, model: &Net, batch: DetectionBatch) -> Tensor<1> {
        let outputs = model
            .forward_detection(batch.images)
            .expect("the detection task trains a detection model");
        yolo_loss(outputs, &batch.targets, &self.anchors, batch.input)
    }

    fn score_metric(&self) -> Metric {
        Metric::AccTest
    }

    fn evaluate(&self, model: &Net, split: &Examples, batch_size: usize) -> Result<f64> {
        Ok(self.evaluate_detail(model, split, batch_size)?.score)
    }

    /// COCO's mAP@0.5 (%) as the score, mAP@0.5:0.95 (%) beside it.
    fn evaluate_detail(
        &self,
        model: &Net,
        split: &Examples,
        batch_size: usize,
    ) -> Result<Evaluation> {
        let split = detection(split)?;
        let mut map = MapAccumulator::default();
        let indices: Vec<usize> = (0..split.items.len()).collect();
        for chunk in indices.chunks(batch_size.max(1)) {
            let batch = detection_batch(split, chunk, None)?;
            let outputs = model
                .forward_detection(batch.images)
                .ok_or_else(|| Error::RunFailed("the detection task needs a YOLO model".into()))?;
            for (rows, &i) in decode(outputs, &self.anchors, split.input)
                .iter()
                .zip(chunk)
            {
                let item = &split.items[i];
                let kept = suppress(rows, CONF_THRESHOLD, NMS_THRESHOLD);
                let image = EvalImage {
                    id: item.id,
                    size: item.size,
                    boxes: &item.boxes,
                };
                map.add(&image, &kept, split.input, &split.categories);
            }
        }
        let scores = map.finish();
        // COCO's -1 (no ground truth at all) stays visible as a negative score.
        let percent = |v: f64| if v < 0.0 { v } else { 100.0 * v };
        Ok(Evaluation {
            score: percent(scores.map50),
            false_rates: None,
            map_50_95: Some(percent(scores.map)),
        })
    }

    fn describe_score(&self, score: f64) -> String {
        format!("mAP@0.5 {score:.2}%")
    }
}
