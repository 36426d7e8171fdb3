//! Batches of a split, made ahead of the training thread: a producer thread builds batch
//! `i + 1 .. i + depth` (gathering, augmenting, decoding image files) while the model trains on
//! batch `i`. Batches depend only on (indices, seed), never on timing, so results are the same
//! with or without prefetching.

use super::{Split, augment, folder};
use crate::catalog::DatasetKind;
use crate::error::{Error, Result};
use burn::tensor::{Device, Int, Tensor};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

/// Batches built ahead of the consumer.
pub const PREFETCH_DEPTH: usize = 2;

/// Image files of a split, decoded batch by batch (ImageNet does not fit in memory).
#[derive(Debug, Clone)]
pub struct FileSplit {
    /// Every file with its label.
    pub items: Arc<Vec<(PathBuf, usize)>>,
    /// Number of classes.
    pub classes: usize,
    /// Where batches are put.
    pub device: Device,
}

/// The examples of a split: tensors on the device, or image files.
// A split is built once per data set and moved rarely; boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Examples {
    /// Decoded and normalised up front (MNIST, CIFAR).
    Tensors(Split),
    /// Decoded per batch (ImageFolder data).
    Files(FileSplit),
    /// Lane frames with their labels, decoded per batch (TuSimple format).
    Lanes(LaneSplit),
    /// Images with their boxes, decoded per batch (COCO format).
    Detection(DetectionSplit),
}

/// Images and boxes of a detection split, decoded and letterboxed per batch.
#[derive(Debug, Clone)]
pub struct DetectionSplit {
    /// Every image with its boxes.
    pub items: Arc<Vec<super::coco::CocoImage>>,
    /// COCO's category id of each class.
    pub categories: Arc<Vec<u64>>,
    /// The model's square input side.
    pub input: usize,
    /// Whether training batches get the reference's augmentation.
    pub augment: bool,
    /// Where batches are put.
    pub device: Device,
}

/// Frames and lane labels of a split, decoded per batch.
#[derive(Debug, Clone)]
pub struct LaneSplit {
    /// Every frame with its label.
    pub items: Arc<Vec<super::tusimple::LaneItem>>,
    /// The model's input `[h, w]`.
    pub input: [usize; 2],
    /// Griding cells of the head (`griding_num`).
    pub griding_num: usize,
    /// Whether training batches get UFLD's augmentation.
    pub augment: bool,
    /// Where batches are put.
    pub device: Device,
}

/// One batch: images `[n, c, h, w]` and labels `[n]`.
pub type Batch = (Tensor<4>, Tensor<1, Int>);

impl Examples {
    /// Number of examples.
    pub fn len(&self) -> usize {
        match self {
            Examples::Tensors(split) => split.len,
            Examples::Files(files) => files.items.len(),
            Examples::Lanes(lanes) => lanes.items.len(),
            Examples::Detection(split) => split.items.len(),
        }
    }

    /// Whether the split is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The device batches are put on.
    pub fn device(&self) -> Device {
        match self {
            Examples::Tensors(split) => split.images.device(),
            Examples::Files(files) => files.device.clone(),
            Examples::Lanes(lanes) => lanes.device.clone(),
            Examples::Detection(split) => split.device.clone(),
        }
    }

    /// The examples at `indices`; with `augment_seed`, the data set's training augmentation
    /// drawn from that seed (CIFAR: crop and flip; ImageFolder: random crop and flip),
    /// without it the evaluation view (ImageFolder: centre crop).
    pub fn batch(
        &self,
        kind: DatasetKind,
        indices: &[usize],
        augment_seed: Option<u64>,
    ) -> Result<Batch> {
        match self {
            Examples::Tensors(split) => {
                let (images, labels) = split.batch(indices);
                let images = match augment_seed {
                    Some(seed) if kind.entry().cifar_augment => {
                        augment::crop_flip(images, kind.normalisation(), seed)
                    }
                    _ => images,
                };
                Ok((images, labels))
            }
            Examples::Files(files) => {
                let items: Vec<(PathBuf, usize)> =
                    indices.iter().map(|&i| files.items[i].clone()).collect();
                folder::batch(&items, augment_seed, &files.device)
            }
            Examples::Lanes(_) | Examples::Detection(_) => Err(no_labels()),
        }
    }

    /// Contiguous examples `start..end` in their evaluation view.
    pub fn range(&self, start: usize, end: usize) -> Result<Batch> {
        match self {
            Examples::Tensors(split) => Ok(split.range(start, end)),
            Examples::Files(files) => folder::batch(&files.items[start..end], None, &files.device),
            Examples::Lanes(_) | Examples::Detection(_) => Err(no_labels()),
        }
    }
}

fn no_labels() -> Error {
    Error::RunFailed(
        "a lane or detection split has no class labels: train it with its own task".into(),
    )
}

/// Calls `consume(i, produce(i))` for `i` in `0..count`, in order, with `produce` running on a
/// separate thread up to `depth` items ahead. The first error (from either side) stops both
/// and is returned.
pub fn prefetched<T: Send>(
    count: usize,
    depth: usize,
    produce: impl Fn(usize) -> Result<T> + Sync,
    mut consume: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (sender, receiver) = sync_channel::<Result<T>>(depth.max(1));
        let produce = &produce;
        let producer = scope.spawn(move || {
            for i in 0..count {
                let item = produce(i);
                let failed = item.is_err();
                // A closed channel means the consumer stopped: stop too.
                if sender.send(item).is_err() || failed {
                    break;
                }
            }
        });
        let mut outcome = Ok(());
        for i in 0..count {
            let item = match receiver.recv() {
                Ok(item) => item,
                Err(_) => {
                    outcome = Err(Error::RunFailed("the batch producer stopped".into()));
                    break;
                }
            };
            if let Err(error) = item.and_then(|item| consume(i, item)) {
                outcome = Err(error);
                break;
            }
        }
        drop(receiver);
        if producer.join().is_err() {
            return Err(Error::RunFailed("the batch producer panicked".into()));
        }
        outcome
    })
}
