//! Lane detection as a [`Task`]: UFLD's TuSimple loss on lane batches, and TuSimple's
//! accuracy (%) of the decoded head on the evaluation split.

use super::decode::tusimple_lanes;
use super::eval::{bench, mean_score};
use super::loss::tusimple_loss;
use crate::base::host;
use crate::data::tusimple::{batch_data, frames};
use crate::data::{Dataset, Examples, LaneSplit};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::models::Net;
use crate::train::Task;
use crate::train::task::Evaluation;
use burn::tensor::{Int, Tensor, TensorData};

/// One lane batch on the device.
#[derive(Debug, Clone)]
pub struct LaneBatch {
    /// Normalised frames `[n, 3, h, w]`.
    pub images: Tensor<4>,
    /// Row-anchor cells `[n, 56, 4]`.
    pub cells: Tensor<3, Int>,
    /// Segmentation classes `[n, h / 8, w / 8]`.
    pub segmentation: Tensor<3, Int>,
}

/// UFLD on TuSimple-format data.
#[derive(Debug, Default)]
pub struct LaneDetection;

fn lanes(split: &Examples) -> Result<&LaneSplit> {
    match split {
        Examples::Lanes(lanes) => Ok(lanes),
        _ => Err(Error::RunFailed(
            "the lane task needs a lane data set".into(),
        )),
    }
}

/// The batch of `split`'s items at `indices`, on its device, augmented from `augment_seed`
/// when given.
pub fn lane_batch(
    split: &LaneSplit,
    indices: &[usize],
    augment_seed: Option<u64>,
) -> Result<LaneBatch> {
    let items: Vec<_> = indices.iter().map(|&i| &split.items[i]).collect();
    let [h, w] = split.input;
    let data = batch_data(&items, split.input, split.griding_num, augment_seed)?;
    let n = items.len();
    let device = &split.device;
    Ok(LaneBatch {
        images: Tensor::from_data(TensorData::new(data.images, [n, 3, h, w]), device),
        cells: Tensor::from_data(TensorData::new(data.cells, [n, 56, 4]), device),
        segmentation: Tensor::from_data(
            TensorData::new(data.segmentation, [n, h / 8, w / 8]),
            device,
        ),
    })
}

impl Task for LaneDetection {
    type Batch = LaneBatch;

    /// UFLD's augmentation (rotation, shifts) where the data set trains with it.
    fn train_batch(
        data: &Dataset,
        indices: &[usize],
        seed: u64,
        augment: bool,
    ) -> Result<LaneBatch> {
        let split = lanes(&data.train)?;
        lane_batch(split, indices, (split.augment && augment).then_some(seed))
    }

    fn loss(&self, model: &Net, batch: LaneBatch) -> Tensor<1> {
        let out = model
            .forward_lanes(batch.images, true)
            .expect("the lane task trains a lane model");
        tusimple_loss(
            out.cls,
            batch.cells,
            out.aux.expect("aux asked for"),
            batch.segmentation,
        )
    }

    fn score_metric(&self) -> Metric {
        Metric::AccTest
    }

    /// TuSimple accuracy (%) of the decoded lanes against the split's labels.
    fn evaluate(&self, model: &Net, split: &Examples, batch_size: usize) -> Result<f64> {
        Ok(self.evaluate_detail(model, split, batch_size)?.score)
    }

    /// TuSimple's accuracy with its FP and FN rates (%), as `LaneEval.bench_one_submit` gives
    /// them.
    fn evaluate_detail(
        &self,
        model: &Net,
        split: &Examples,
        batch_size: usize,
    ) -> Result<Evaluation> {
        let split = lanes(split)?;
        let mut scores = Vec::with_capacity(split.items.len());
        let indices: Vec<usize> = (0..split.items.len()).collect();
        let [h, w] = split.input;
        for chunk in indices.chunks(batch_size.max(1)) {
            // Frames only: evaluation needs no training targets.
            let items: Vec<_> = chunk.iter().map(|&i| &split.items[i]).collect();
            let images = Tensor::from_data(
                TensorData::new(frames(&items, split.input, None)?, [chunk.len(), 3, h, w]),
                &split.device,
            );
            let out = model
                .forward_lanes(images, false)
                .ok_or_else(|| Error::RunFailed("the lane task needs a lane model".into()))?;
            let [n, cells, rows, lanes] = out.cls.dims();
            let logits: Vec<f32> = host::values(out.cls);
            let per_image = cells * rows * lanes;
            for (k, &i) in chunk.iter().enumerate().take(n) {
                let predicted = tusimple_lanes(
                    &logits[k * per_image..(k + 1) * per_image],
                    cells,
                    rows,
                    lanes,
                );
                let label = &split.items[i].label;
                scores.push(bench(&predicted, &label.lanes, &label.h_samples, 10.0)?);
            }
        }
        let mean = mean_score(&scores);
        Ok(Evaluation {
            score: 100.0 * mean.accuracy,
            false_rates: Some((100.0 * mean.fp, 100.0 * mean.fn_)),
            map_50_95: None,
        })
    }

    fn describe_score(&self, score: f64) -> String {
        format!("lane acc {score:.2}%")
    }
}
