//! The spec's value types. Every struct rejects unknown keys; defaults here are the built-in
//! layer of the configuration.

use super::method::{AdmmSpec, MethodName, MethodSpec, SlrSpec};
use crate::base::Backend;
use crate::catalog::{DatasetKind, InitScheme, ModelKind};
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
    /// Row settings of one group's rows (`[group_defaults.sweep]`), over `defaults` and under
    /// the row's own keys: how a profile gives one group other seeds or budgets.
    #[serde(default)]
    pub group_defaults: BTreeMap<String, figment::value::Dict>,
    /// The rows, each merged over `defaults` (and its group's `group_defaults`) and checked as
    /// a [`RowSpec`].
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
    /// Claims of the paper tested on the runs (`[[claim]]`).
    #[serde(default)]
    pub claim: Vec<ClaimSpec>,
    /// Row groups to run (default: all); other rows are reported as not run.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// Report options.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Table columns after the row name, e.g. `["method", "acc.hardprune", "acc.retrain@1"]`
    /// (row facts and every final metric of [`crate::metrics::Metric`]).
    #[serde(default = "ReportSpec::default_columns")]
    pub columns: Vec<String>,
    /// The rule by which the report's Convergence section says whether each training has
    /// levelled off (no section without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateau: Option<PlateauRule>,
}

/// A training has levelled off when the seed mean of `metric` after each of its last `epochs`
/// epochs spans at most `within` (in the metric's unit).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlateauRule {
    /// A metric recorded after every training epoch as `<metric>@N`: `acc.hardprune` (with
    /// `hardprune_every_epoch`).
    pub metric: String,
    /// How many of the last epochs are compared (at least 2).
    pub epochs: usize,
    /// Their largest allowed spread.
    pub within: f64,
}

impl ReportSpec {
    fn default_columns() -> Vec<String> {
        use super::column::Column;
        use crate::metrics::Metric;
        [
            Column::Method,
            Column::TargetCompression,
            Column::Measured(Metric::AccDense),
            Column::Measured(Metric::AccHardprune),
            Column::Measured(Metric::AccRetrain),
            Column::RetrainEpochs,
            Column::Measured(Metric::CompressionPrunedLayers),
        ]
        .map(|c| c.name())
        .to_vec()
    }
}

impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec {
            columns: ReportSpec::default_columns(),
            plateau: None,
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

/// A claim of a paper, tested on paired runs: the `better` rows beat the `than` rows on
/// `metric`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    /// Short id (the report's footnote label and the claims figure's series).
    pub id: String,
    /// The claim in words.
    pub text: String,
    /// Where it is claimed.
    pub citation: String,
    /// A table metric, e.g. `acc.hardprune` or `acc.retrain@1`.
    pub metric: String,
    /// Row names or glob patterns of the rows claimed better.
    pub better: String,
    /// Row names or glob patterns of the rows they are compared with.
    pub than: String,
    /// How a `better` run finds its `than` run.
    #[serde(default)]
    pub pair_by: PairBy,
    /// Which way is better (default: the metric's own direction).
    #[serde(default)]
    pub direction: Option<ClaimDirection>,
}

/// The ids of the figures the report draws for a spec's claims (against compression and
/// against the training budget), which the spec's own figures may not take.
pub const CLAIMS_FIGURE_IDS: [&str; 2] = ["claims", "claims-vs-budget"];

/// How runs are paired for a claim.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PairBy {
    /// Same target compression and same seed (the two share a dense model); one verdict per
    /// target compression.
    #[default]
    CompressionAndSeed,
    /// Same seed only; one verdict over all pairs of a training budget.
    Seed,
}

/// Which way a claim's metric is better.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimDirection {
    /// Larger values are better.
    Higher,
    /// Smaller values are better.
    Lower,
}

/// Run-time settings: where data and runs live, which backend, how many threads. Set in the spec,
/// by `SLR_DATA_ROOT`, `SLR_RUNS_ROOT`, `SLR_REPORTS_ROOT`, `SLR_BACKEND`, `SLR_THREADS`,
/// `SLR_LOSS_EVERY`, or `--set runtime.x=...`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Runtime {
    /// Folder holding one sub-folder per data set.
    pub data_root: PathBuf,
    /// Folder holding the run folders.
    pub runs_root: PathBuf,
    /// Folder the Markdown reports are written to.
    pub reports_root: PathBuf,
    /// `cpu`, `tch-cpu` or `tch-cuda[:i]`, parsed (and checked against what this binary
    /// was built with) when the spec is loaded.
    pub backend: Backend,
    /// Worker threads of the CPU backend (default: all cores).
    pub threads: Option<usize>,
    /// Steps between training losses recorded per step (`metrics.csv` and TensorBoard); 0
    /// records none. They come from the training loop's batched loss reads, at no extra read.
    pub loss_every: usize,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            data_root: PathBuf::from("data"),
            runs_root: PathBuf::from("runs"),
            reports_root: PathBuf::from("reports"),
            backend: Backend::Cpu,
            threads: None,
            loss_every: 50,
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

/// Which weights masked retraining trains.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RetrainMask {
    /// Every weight hard pruning kept (its non-zero pattern).
    #[default]
    HardPrune,
    /// The authors' `masked_retrain` (SLR-ADMM-cifar10 admm.py 1071-1076): at each epoch's
    /// start, gradients are masked with |w| > numpy's percentile of the layer's |w| at 100 p,
    /// so where the percentile's position p (n − 1) is a whole number the smallest kept weight
    /// sits at it and gets no gradient that epoch (weight decay and momentum still move it).
    Reference,
}

impl RetrainMask {
    /// Whether this is the default, which stage ids leave out.
    pub fn is_hard_prune(&self) -> bool {
        *self == RetrainMask::HardPrune
    }
}

/// One row after merging with `[defaults]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(from = "RawRow")]
pub struct RowSpec {
    /// Unique row name, used by `slr where` and in reports.
    pub name: String,
    /// Group of rows this row belongs to (`groups` selects which run).
    pub group: String,
    /// Architecture.
    pub model: ModelKind,
    /// How the weights are drawn before pretraining; `None`: the model's reference scheme
    /// ([`RowSpec::init_scheme`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<InitScheme>,
    /// Data set.
    pub dataset: DatasetKind,
    /// Pruning method and its settings (`method = "admm"` with an `admm` table).
    #[serde(flatten)]
    pub method: MethodSpec,
    /// Target sparsity (required unless the method is `dense`).
    pub sparsity: Option<SparsitySpec>,
    /// Seeds; each gives one run of the row.
    pub seeds: Vec<u64>,
    /// Subsets of the data (for smoke runs).
    pub data: DataSpec,
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size (does not change results).
    pub test_batch_size: usize,
    /// Dense pretraining budget (unused when `import` is set).
    pub pretrain: BudgetSpec,
    /// A PyTorch checkpoint (`.pt`, path relative to the working directory) whose weights are
    /// the dense starting point instead of pretraining; identified by its SHA-256, not its path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<PathBuf>,
    /// Masked retraining budget after pruning.
    pub retrain: BudgetSpec,
    /// Which weights masked retraining trains.
    #[serde(skip_serializing_if = "RetrainMask::is_hard_prune")]
    pub retrain_mask: RetrainMask,
    /// Budget of the method's own training (ADMM, SLR).
    pub train: BudgetSpec,
    /// Evaluate a hard-pruned copy after every epoch of the method's training.
    pub hardprune_every_epoch: bool,
    /// Prune the model the method's training kept after this epoch (the training keeps it
    /// whether or not `train.snapshots` lists it) instead of its final one; `None`: the final
    /// model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune_at_epoch: Option<usize>,
}

impl RowSpec {
    /// Epochs of the method's training that the pruned model had (`None`: the method does not
    /// train).
    pub fn train_budget(&self) -> Option<usize> {
        self.method
            .trains()
            .then(|| self.prune_at_epoch.unwrap_or(self.train.epochs))
    }

    /// The epoch of the training snapshot the row prunes: `prune_at_epoch` unless it is the
    /// training's last epoch, whose model is the final one (`None`: the final model).
    pub fn pruned_snapshot(&self) -> Option<usize> {
        self.prune_at_epoch.filter(|&e| e != self.train.epochs)
    }
}

/// A row as written: the method's name and each method's settings table are separate keys.
/// The loader refuses a settings table of another method before this is read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    name: String,
    #[serde(default = "default_group")]
    group: String,
    model: ModelKind,
    #[serde(default)]
    init: Option<InitScheme>,
    dataset: DatasetKind,
    #[serde(default)]
    method: MethodName,
    #[serde(default)]
    sparsity: Option<SparsitySpec>,
    #[serde(default = "default_seeds")]
    seeds: Vec<u64>,
    #[serde(default)]
    data: DataSpec,
    #[serde(default = "default_batch_size")]
    batch_size: usize,
    #[serde(default = "default_test_batch_size")]
    test_batch_size: usize,
    #[serde(default)]
    pretrain: BudgetSpec,
    #[serde(default)]
    import: Option<PathBuf>,
    #[serde(default)]
    retrain: BudgetSpec,
    #[serde(default)]
    retrain_mask: RetrainMask,
    #[serde(default)]
    train: BudgetSpec,
    #[serde(default)]
    admm: Option<AdmmSpec>,
    #[serde(default)]
    slr: Option<SlrSpec>,
    #[serde(default)]
    hardprune_every_epoch: bool,
    #[serde(default)]
    prune_at_epoch: Option<usize>,
}

impl From<RawRow> for RowSpec {
    fn from(raw: RawRow) -> RowSpec {
        let (train, _) = raw.data.split_sizes(raw.dataset);
        let batches = train.div_ceil(raw.batch_size.max(1));
        RowSpec {
            name: raw.name,
            group: raw.group,
            model: raw.model,
            init: raw.init,
            dataset: raw.dataset,
            method: MethodSpec::from_parts(raw.method, raw.admm, raw.slr),
            sparsity: raw.sparsity,
            seeds: raw.seeds,
            data: raw.data,
            batch_size: raw.batch_size,
            test_batch_size: raw.test_batch_size,
            pretrain: raw.pretrain.derive_epochs(batches),
            import: raw.import,
            retrain: raw.retrain.derive_epochs(batches),
            retrain_mask: raw.retrain_mask,
            train: raw.train.derive_epochs(batches),
            hardprune_every_epoch: raw.hardprune_every_epoch,
            prune_at_epoch: raw.prune_at_epoch,
        }
    }
}

impl RowSpec {
    /// The initialisation the row's pretraining draws: its `init`, else the model's reference
    /// scheme.
    pub fn init_scheme(&self) -> InitScheme {
        self.init.unwrap_or_else(|| self.model.reference_init())
    }
}

/// The group of a row that names none.
pub const DEFAULT_GROUP: &str = "main";

fn default_group() -> String {
    DEFAULT_GROUP.into()
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
    /// Hold out the first N training examples (never trained on), before `train_limit`:
    /// `holdout_first = 5000` is TensorFlow's MNIST split (5,000 validation, 55,000 train).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_first: Option<usize>,
    /// Use only the first N training examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Use only the first N test examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_limit: Option<usize>,
    /// Train a lane data set with (true) or without (false) UFLD's augmentation; default: the
    /// data set's (on for TuSimple-format sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<bool>,
}

impl DataSpec {
    /// Examples in the training and test splits of `kind` after the holdout and the limits.
    pub fn split_sizes(&self, kind: DatasetKind) -> (usize, usize) {
        let (train, test) = kind.split_sizes();
        let train = train.saturating_sub(self.holdout_first.unwrap_or(0));
        (
            self.train_limit.map_or(train, |l| l.min(train)),
            self.test_limit.map_or(test, |l| l.min(test)),
        )
    }
}

/// A training budget: epochs or steps, optimizer, learning-rate schedule and dropout.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetSpec {
    /// Number of epochs (passes over the training split). With `steps` set, the loader
    /// replaces it by the passes those steps start: `ceil(steps / batches per epoch)`.
    pub epochs: usize,
    /// Optimizer steps in all, instead of whole epochs: the last pass stops after the step
    /// that completes the budget (TensorFlow's `for i in range(20000)` loops).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// SGD settings.
    pub optimizer: SgdSpec,
    /// Learning-rate schedule.
    pub schedule: ScheduleSpec,
    /// Probability of dropping a unit at the model's dropout site during this training (0:
    /// none); kept units are scaled by 1 / (1 - dropout), as `tf.nn.dropout` does.
    #[serde(skip_serializing_if = "is_zero")]
    pub dropout: f64,
    /// Epochs after which a `train` stage keeps its model (`model-epoch-<n>.bpk`), so rows with
    /// `prune_at_epoch` prune it without training again. Never serialised: keeping more
    /// snapshots changes no stage id and no stage's `spec.toml`.
    #[serde(skip_serializing)]
    pub snapshots: Vec<usize>,
}

impl Default for BudgetSpec {
    fn default() -> Self {
        BudgetSpec {
            epochs: 1,
            steps: None,
            optimizer: SgdSpec::default(),
            schedule: ScheduleSpec::default(),
            dropout: 0.0,
            snapshots: Vec::new(),
        }
    }
}

impl BudgetSpec {
    /// With a step budget, sets `epochs` to the passes it starts at `batches_per_epoch`.
    pub fn derive_epochs(mut self, batches_per_epoch: usize) -> BudgetSpec {
        if let Some(steps) = self.steps {
            self.epochs = steps.div_ceil(batches_per_epoch.max(1));
        }
        self
    }

    /// Optimizer steps of the whole budget at `batches_per_epoch`.
    pub fn total_steps(&self, batches_per_epoch: usize) -> usize {
        self.steps.unwrap_or(self.epochs * batches_per_epoch)
    }
}

/// The optimizer: SGD with PyTorch's semantics (momentum buffer, Nesterov, L2 weight decay added
/// to the gradient), or Adam as TensorFlow 1 or PyTorch computes it. Keys at their defaults are not
/// written, so an SGD budget serialises (and hashes) as before Adam existed.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SgdSpec {
    /// `sgd`, `adam` (TensorFlow 1's form) or `adam-torch` (PyTorch's).
    #[serde(skip_serializing_if = "OptimizerKind::is_sgd")]
    pub kind: OptimizerKind,
    /// Base learning rate.
    pub lr: f64,
    /// Momentum factor (0 disables momentum; SGD only).
    pub momentum: f64,
    /// Nesterov momentum (SGD only).
    pub nesterov: bool,
    /// L2 weight decay added to every gradient (PyTorch's `weight_decay`).
    pub weight_decay: f64,
    /// Adam's β1.
    #[serde(skip_serializing_if = "is_default_beta1")]
    pub beta1: f64,
    /// Adam's β2.
    #[serde(skip_serializing_if = "is_default_beta2")]
    pub beta2: f64,
    /// Adam's ε (`adam`: TensorFlow's "epsilon hat", added to √v; `adam-torch`: added to
    /// √v / √(1 − β2ᵗ)).
    #[serde(skip_serializing_if = "is_default_eps")]
    pub eps: f64,
    /// Coupled L2 in the loss: `l2 · ‖W‖²/2` for every `*.weight` tensor (TensorFlow's
    /// `l2 * tf.nn.l2_loss(W)`), i.e. `l2 · W` added to those gradients.
    #[serde(skip_serializing_if = "is_zero")]
    pub l2: f64,
    /// Decoupled weight decay: `W ← W − lr · decay · W` before each update (AdamW).
    #[serde(skip_serializing_if = "is_zero")]
    pub decoupled_weight_decay: f64,
}

/// Which optimizer.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// Stochastic gradient descent.
    #[default]
    Sgd,
    /// Adam as TensorFlow 1 computes it (ε added to √v before the bias correction): the
    /// ADMM paper's LeNet-5 recipe.
    Adam,
    /// Adam as `torch.optim.Adam` computes it (ε added after the bias correction, about
    /// √(1 − β2) = 32 times less ε at the first step): PyTorch-YOLOv3's and UFLD's.
    AdamTorch,
}

impl OptimizerKind {
    fn is_sgd(&self) -> bool {
        *self == OptimizerKind::Sgd
    }

    /// Either form of Adam.
    pub fn is_adam(&self) -> bool {
        matches!(self, OptimizerKind::Adam | OptimizerKind::AdamTorch)
    }
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}
fn is_default_beta1(value: &f64) -> bool {
    *value == 0.9
}
fn is_default_beta2(value: &f64) -> bool {
    *value == 0.999
}
fn is_default_eps(value: &f64) -> bool {
    *value == 1e-8
}

impl Default for SgdSpec {
    fn default() -> Self {
        SgdSpec {
            kind: OptimizerKind::Sgd,
            lr: 0.01,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            l2: 0.0,
            decoupled_weight_decay: 0.0,
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
    /// The authors' code (SLR-ADMM-cifar10 slr_pruning/main.py 311, 402, 546):
    /// CosineAnnealingLR(T_max = epochs x batches, eta_min = 4e-8) stepped once per epoch
    /// *before* the epoch's first batch, so epoch e (1-based) runs at t = e and the rate stays
    /// close to its base value.
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
    /// `reference-cosine`'s T_max in epochs, when it is not the stage's own: the authors'
    /// retraining keeps the training phase's `--epochs` (main.py 311), so their 50 retraining
    /// epochs run on a 100-epoch cosine. Unset: the stage's epochs (and no change to its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_epochs: Option<usize>,
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        ScheduleSpec {
            kind: ScheduleKind::Constant,
            step_size: 1,
            gamma: 0.1,
            period_epochs: None,
        }
    }
}
