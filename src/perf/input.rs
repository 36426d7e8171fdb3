//! `slr perf --input`: how many training images (or frames) per second a data set's training
//! pipeline delivers, augmentation and the copy onto the device included, with 1, 2, ... decoding
//! threads. Batches are built exactly as the training loop's prefetch thread builds them
//! (`Task::train_batch`); a pool of `k` threads decodes the images of each batch in parallel,
//! as `k` DataLoader workers would decode whole batches. `scripts/input_reference.py` times
//! torchvision's `DataLoader` on the same files and `scripts/bench-input.py` puts both side by
//! side.

use crate::base::Backend;
use crate::base::rng::stream;
use crate::data;
use crate::error::{Error, Result};
use crate::spec::{DataSpec, DatasetKind};
use crate::train::{ModelTask, Task};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub struct InputOptions {
    /// The data set whose training pipeline is timed.
    pub dataset: DatasetKind,
    /// The data root holding it.
    pub data_root: PathBuf,
    /// Where batches are put.
    pub backend: Backend,
    /// Images per batch.
    pub batch: usize,
    /// Untimed batches first (file cache, allocator).
    pub warmup: usize,
    /// Timed batches per thread count.
    pub batches: usize,
    /// Decoding thread counts to measure.
    pub workers: Vec<usize>,
    /// Seed of the augmentation draws.
    pub seed: u64,
}

/// The pipeline's rate with one thread count.
#[derive(Debug, Clone, Serialize)]
pub struct InputRate {
    /// Decoding threads.
    pub workers: usize,
    /// Training images (frames) per second.
    pub images_per_s: f64,
    /// `images_per_s / workers`.
    pub per_worker: f64,
}

/// Everything `slr perf --input` measured.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    /// The data set.
    pub dataset: String,
    /// The backend batches were put on.
    pub backend: String,
    /// One training image as the model sees it, `[c, h, w]`.
    pub image: [usize; 3],
    /// Images in the training split.
    pub train_images: usize,
    /// Images per batch.
    pub batch: usize,
    /// Timed batches per thread count.
    pub batches: usize,
    /// One rate per thread count, in the order asked.
    pub rates: Vec<InputRate>,
}

/// Loads the data set and times its training batches with each thread count.
pub fn measure_input(options: &InputOptions) -> Result<InputReport> {
    if options.workers.contains(&0) || options.batch == 0 || options.batches == 0 {
        return Err(Error::Usage(
            "--workers, --batch and --batches must be at least 1".into(),
        ));
    }
    let device = options.backend.device();
    let dataset = data::load(
        &options.data_root,
        options.dataset,
        &DataSpec::default(),
        &device,
    )?;
    let len = dataset.train.len();
    if len == 0 {
        return Err(Error::Data(format!(
            "data set `{}`: the training split is empty",
            options.dataset.name()
        )));
    }
    // Batch `b` holds examples `b * batch ..` cycling over the split, so small sets serve
    // any number of batches and every thread count decodes the same images.
    let batch_at = |b: usize| -> Result<()> {
        let indices: Vec<usize> = (0..options.batch)
            .map(|i| (b * options.batch + i) % len)
            .collect();
        let seed = stream(options.seed, &format!("perf input batch {b}"));
        // The batch is only built: its tensors are on the device when this returns.
        ModelTask::train_batch(&dataset, &indices, seed, true).map(drop)
    };
    let mut rates = Vec::with_capacity(options.workers.len());
    for &workers in &options.workers {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .map_err(|e| Error::Backend(format!("cannot start {workers} threads: {e}")))?;
        let seconds = pool.install(|| -> Result<f64> {
            for b in 0..options.warmup {
                batch_at(b)?;
            }
            let started = Instant::now();
            for b in options.warmup..options.warmup + options.batches {
                batch_at(b)?;
            }
            Ok(started.elapsed().as_secs_f64())
        })?;
        let images_per_s = (options.batch * options.batches) as f64 / seconds;
        rates.push(InputRate {
            workers,
            images_per_s,
            per_worker: images_per_s / workers as f64,
        });
    }
    Ok(InputReport {
        dataset: options.dataset.name().to_owned(),
        backend: options.backend.name(),
        image: options.dataset.image_shape(),
        train_images: len,
        batch: options.batch,
        batches: options.batches,
        rates,
    })
}

impl InputReport {
    /// The measurements as a Markdown table.
    pub fn markdown(&self) -> String {
        let [c, h, w] = self.image;
        let mut text = format!(
            "{} training pipeline ({} images, {c}x{h}x{w} each, batch {}, {} timed batches, onto {}):\n\n\
             | threads | images/s | per thread |\n|---:|---:|---:|\n",
            self.dataset, self.train_images, self.batch, self.batches, self.backend
        );
        for rate in &self.rates {
            text.push_str(&format!(
                "| {} | {:.1} | {:.1} |\n",
                rate.workers, rate.images_per_s, rate.per_worker
            ));
        }
        text
    }
}
