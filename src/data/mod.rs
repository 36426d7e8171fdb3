//! Data sets: IDX files (MNIST, Fashion-MNIST), CIFAR-10 binary batches and the CIFAR-format
//! stand-in, image folders, TuSimple-format lane sets, their checksums, fetching, augmentation
//! and batching on the tensor backend.

pub mod augment;
pub mod batches;
pub mod cifar;
pub mod coco;
mod coco_fetch;
pub mod detection;
pub mod fetch;
pub mod folder;
pub mod idx;
pub mod lane_augment;
mod lane_fetch;
pub mod resize;
pub mod synthetic_coco;
pub mod synthetic_lanes;
pub mod thick_line;
pub mod tusimple;

pub use batches::{DetectionSplit, Examples, FileSplit, LaneSplit};
pub use coco_fetch::read_splits as coco_splits;

use crate::catalog::{CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, DataFile, DatasetKind, Storage};
use crate::error::{Error, Result};
use crate::spec::DataSpec;
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::path::Path;

/// A split held on the device: normalised images `[n, c, h, w]` and labels `[n]`.
#[derive(Debug, Clone)]
pub struct Split {
    /// Normalised images.
    pub images: Tensor<4>,
    /// Class labels.
    pub labels: Tensor<1, Int>,
    /// Number of examples.
    pub len: usize,
}

impl Split {
    /// Builds a split from raw bytes (one byte per pixel, channel-major per image) and labels,
    /// normalising channel `c` with `norm[c]`.
    pub fn from_raw(
        pixels: &[u8],
        labels: &[u8],
        shape: [usize; 3],
        norm: &[(f32, f32)],
        device: &Device,
    ) -> Split {
        let len = labels.len();
        let plane = shape[1] * shape[2];
        // One pass at load time, not in training: the only per-element host loop over data.
        let values: Vec<f32> = pixels
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let (mean, std) = norm[(i / plane) % shape[0]];
                (p as f32 / 255.0 - mean) / std
            })
            .collect();
        let images = Tensor::<4>::from_data(
            TensorData::new(values, [len, shape[0], shape[1], shape[2]]),
            device,
        );
        let labels_i64: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels_i64, [len]), device);
        Split {
            images,
            labels,
            len,
        }
    }

    /// The examples at `indices`, as one batch.
    pub fn batch(&self, indices: &[usize]) -> (Tensor<4>, Tensor<1, Int>) {
        let device = self.images.device();
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [indices.len()]), &device);
        (
            self.images.clone().select(0, idx.clone()),
            self.labels.clone().select(0, idx),
        )
    }

    /// Contiguous examples `start..end`, as one batch.
    pub fn range(&self, start: usize, end: usize) -> (Tensor<4>, Tensor<1, Int>) {
        (
            self.images.clone().slice(start..end),
            self.labels.clone().slice(start..end),
        )
    }
}

/// Training and test splits of a data set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Which data set.
    pub kind: DatasetKind,
    /// Training split.
    pub train: Examples,
    /// Test split.
    pub test: Examples,
}

/// `limit` items spread evenly over a list sorted by class (every class keeps its share), or all.
fn spread<T>(items: Vec<T>, limit: Option<usize>) -> Vec<T> {
    match limit {
        Some(limit) if limit < items.len() => {
            let step = items.len() as f64 / limit as f64;
            let keep: Vec<usize> = (0..limit).map(|i| (i as f64 * step) as usize).collect();
            items
                .into_iter()
                .enumerate()
                .filter(|(i, _)| keep.binary_search(i).is_ok())
                .map(|(_, item)| item)
                .collect()
        }
        _ => items,
    }
}

/// Loads a data set from `data_root`, checking every file's checksum, and moves it to `device`.
/// Missing files give an error that prints the fetch command.
pub fn load(
    data_root: &Path,
    kind: DatasetKind,
    limits: &DataSpec,
    device: &Device,
) -> Result<Dataset> {
    let dir = kind.folder(data_root);
    let missing = |e: Error| match e {
        Error::Data(msg) if msg.starts_with("missing") => Error::Data(format!(
            "data set `{}` is not available: {msg}\n  get it with: {}",
            kind.name(),
            kind.fetch_hint(data_root)
        )),
        other => other,
    };
    let shape = kind.image_shape();
    let norm = kind.normalisation();
    let split = |records: cifar::Records, limit: Option<usize>| {
        let records = records.truncate(limit);
        Examples::Tensors(Split::from_raw(
            &records.pixels,
            &records.labels,
            shape,
            norm,
            device,
        ))
    };
    let (train, test) = match kind.entry().storage {
        Storage::ImageFolder | Storage::Lanes(_) | Storage::Detection(_)
            if limits.holdout_first.is_some() =>
        {
            return Err(Error::Data(format!(
                "data set `{}`: `data.holdout_first` needs an in-memory data set (IDX or CIFAR), \
                 not image files",
                kind.name()
            )));
        }
        Storage::Lanes(files) => {
            let lanes = |labels: &[&str], limit: Option<usize>| -> Result<Examples> {
                let items = tusimple::read_split(&dir, labels).map_err(missing)?;
                Ok(Examples::Lanes(LaneSplit {
                    items: std::sync::Arc::new(spread(items, limit)),
                    input: [shape[1], shape[2]],
                    griding_num: files.griding_num,
                    augment: limits.augment.unwrap_or(files.augment),
                    device: device.clone(),
                }))
            };
            (
                lanes(files.train, limits.train_limit)?,
                lanes(files.test, limits.test_limit)?,
            )
        }
        Storage::Detection(files) => {
            let (train, test) = coco_fetch::read_splits(&dir, files).map_err(missing)?;
            let split = |read: coco::CocoSplit, limit: Option<usize>| {
                Examples::Detection(DetectionSplit {
                    items: std::sync::Arc::new(spread(read.images, limit)),
                    categories: std::sync::Arc::new(read.categories),
                    input: shape[1],
                    augment: limits.augment.unwrap_or(files.augment),
                    device: device.clone(),
                })
            };
            (
                split(train, limits.train_limit),
                split(test, limits.test_limit),
            )
        }
        Storage::ImageFolder => {
            let (train, val) = (
                folder::scan(&dir.join("train")).map_err(missing)?,
                folder::scan(&dir.join("val")).map_err(missing)?,
            );
            if train.classes.len() != val.classes.len() {
                return Err(Error::Data(format!(
                    "data set `{}` in {}: train/ has {} class folders, val/ has {}",
                    kind.name(),
                    dir.display(),
                    train.classes.len(),
                    val.classes.len()
                )));
            }
            let files = |scanned: folder::ImageFolder, limit: Option<usize>| {
                Examples::Files(FileSplit {
                    items: std::sync::Arc::new(spread(scanned.items, limit)),
                    classes: scanned.classes.len(),
                    device: device.clone(),
                })
            };
            (
                files(train, limits.train_limit),
                files(val, limits.test_limit),
            )
        }
        Storage::NotImplemented => {
            return Err(Error::Data(format!(
                "data set `{}`: its reader is not implemented yet",
                kind.name()
            )));
        }
        Storage::CifarBatches => (
            split(
                cifar::read(&dir, &CIFAR10_TRAIN_FILES)
                    .map_err(missing)?
                    .skip(limits.holdout_first),
                limits.train_limit,
            ),
            split(
                cifar::read(&dir, &[CIFAR10_TEST_FILE]).map_err(missing)?,
                limits.test_limit,
            ),
        ),
        Storage::CifarFile(file) => {
            let bytes = idx::read_verified(&dir, &file).map_err(missing)?;
            let records = cifar::parse(&bytes, &dir.join(file.name))?;
            (
                split(
                    records.clone().skip(limits.holdout_first),
                    limits.train_limit,
                ),
                split(records, limits.test_limit),
            )
        }
        Storage::Idx(files) | Storage::IdxAsCifar(files) => {
            let as_cifar = matches!(kind.entry().storage, Storage::IdxAsCifar(_));
            let [train_images, train_labels, test_images, test_labels] = files;
            let read = |images: &DataFile, labels: &DataFile| -> Result<cifar::Records> {
                let image_path = dir.join(images.name);
                let label_path = dir.join(labels.name);
                let image_bytes = idx::read_verified(&dir, images).map_err(missing)?;
                let label_bytes = idx::read_verified(&dir, labels).map_err(missing)?;
                let images = idx::parse_images(&image_bytes, &image_path)?;
                let labels = idx::parse_labels(&label_bytes, &label_path)?;
                if images.count != labels.len() {
                    return Err(Error::Corrupt {
                        path: label_path,
                        message: format!("{} labels for {} images", labels.len(), images.count),
                    });
                }
                Ok(if as_cifar {
                    cifar::grey28_to_rgb32(&images.pixels, &labels)
                } else {
                    cifar::Records {
                        pixels: images.pixels,
                        labels,
                    }
                })
            };
            (
                split(
                    read(train_images, train_labels)?.skip(limits.holdout_first),
                    limits.train_limit,
                ),
                split(read(test_images, test_labels)?, limits.test_limit),
            )
        }
    };
    Ok(Dataset { kind, train, test })
}
