//! Every metric the harness records, one variant each: its key (as written to `summary.json`,
//! `metrics.csv` and the result frames), where it is recorded, its table header, axis label,
//! footnote definition, cell format and which direction is better. Writers and readers name
//! metrics only through this enum, so the copies cannot drift.

use std::fmt;

/// A metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// `acc.dense`: test accuracy of the dense model.
    AccDense,
    /// `acc.hardprune`: test accuracy right after hard pruning (final), and of a hard-pruned
    /// copy after each constrained-training epoch (per epoch, with `hardprune_every_epoch`).
    AccHardprune,
    /// `acc.retrain`: test accuracy after the full masked retraining.
    AccRetrain,
    /// `acc.retrain@N`: test accuracy after N masked-retraining epochs.
    AccRetrainAt(usize),
    /// `compression.pruned_layers`: weights / non-zeros over the pruned layers.
    CompressionPrunedLayers,
    /// `compression.reference`: weights / non-zeros over every non-bias parameter.
    CompressionReference,
    /// `sparsity.global`: fraction of zeros over the pruned layers.
    SparsityGlobal,
    /// `acc.soft`: test accuracy at the end of constrained training, before hard pruning.
    AccSoft,
    /// `acc.hardprune@N`: hard-prune accuracy of the model after N constrained-training epochs.
    AccHardpruneAt(usize),
    /// `acc.test`: test accuracy after each training epoch.
    AccTest,
    /// `train.ce`: mean training cross-entropy of the epoch.
    TrainCe,
    /// `train.loss`: mean training loss of the epoch, penalty included.
    TrainLoss,
    /// `w_minus_z`: Σ‖W − Z‖ over the pruned layers.
    WMinusZ,
    /// `grad_scale`: the factor on the penalty gradient.
    GradScale,
    /// `lr`: learning rate of the epoch's last step.
    Lr,
    /// `seconds`: wall-clock seconds of the epoch.
    Seconds,
    /// `admm.z_change`: Σ‖Z − Z_prev‖ at an ADMM update.
    AdmmZChange,
    /// `admm.rho`: ρ after an ADMM update.
    AdmmRho,
    /// `slr.z_change`: Σ‖Z − Z_prev‖ at an SLR update.
    SlrZChange,
    /// `slr.s`: SLR step size after an update.
    SlrS,
    /// `slr.alpha`: α of an SLR update.
    SlrAlpha,
    /// `slr.k`: SLR iteration counter after an update.
    SlrK,
    /// `admm.updates`: ADMM updates so far.
    AdmmUpdates,
    /// `slr.cond1`: 1 when SLR's surrogate condition 1 held at an update, else 0.
    SlrCond1,
    /// `slr.cond2`: 1 when SLR's surrogate condition 2 held at an update, else 0.
    SlrCond2,
    /// `round.ce`: mean task loss of the round of steps before a step-clocked ADMM/SLR update
    /// (`interval_steps`), the loss SLR's conditions compare.
    RoundCe,
    /// `lanes.fp.hardprune`: TuSimple's false-positive rate (%) right after hard pruning.
    LaneFpHardprune,
    /// `lanes.fn.hardprune`: TuSimple's false-negative rate (%) right after hard pruning.
    LaneFnHardprune,
    /// `lanes.fp.retrain`: TuSimple's false-positive rate (%) after the full retraining.
    LaneFpRetrain,
    /// `lanes.fn.retrain`: TuSimple's false-negative rate (%) after the full retraining.
    LaneFnRetrain,
    /// `map.hardprune`: COCO's mAP@0.5:0.95 (%) right after hard pruning.
    MapHardprune,
    /// `map.retrain`: COCO's mAP@0.5:0.95 (%) after the full retraining.
    MapRetrain,
}

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Larger is better (accuracy, compression).
    Higher,
    /// Smaller is better (losses, distance to the sparse set).
    Lower,
    /// Neither: a setting or a diagnostic.
    Neutral,
}

use Metric::*;

/// Metrics without a parameter, in listing order (tables first, then per-epoch ones).
const FIXED: [Metric; 30] = [
    AccDense,
    AccHardprune,
    AccRetrain,
    CompressionPrunedLayers,
    CompressionReference,
    SparsityGlobal,
    AccSoft,
    AccTest,
    TrainCe,
    TrainLoss,
    WMinusZ,
    GradScale,
    Lr,
    Seconds,
    AdmmZChange,
    AdmmRho,
    SlrZChange,
    SlrS,
    SlrAlpha,
    SlrK,
    AdmmUpdates,
    SlrCond1,
    SlrCond2,
    RoundCe,
    LaneFpHardprune,
    LaneFnHardprune,
    LaneFpRetrain,
    LaneFnRetrain,
    MapHardprune,
    MapRetrain,
];

impl Metric {
    /// The key without the `@N` of the parameterised metrics.
    fn stem(self) -> &'static str {
        match self {
            AccDense => "acc.dense",
            AccHardprune | AccHardpruneAt(_) => "acc.hardprune",
            AccRetrain | AccRetrainAt(_) => "acc.retrain",
            CompressionPrunedLayers => "compression.pruned_layers",
            CompressionReference => "compression.reference",
            SparsityGlobal => "sparsity.global",
            AccSoft => "acc.soft",
            AccTest => "acc.test",
            TrainCe => "train.ce",
            TrainLoss => "train.loss",
            WMinusZ => "w_minus_z",
            GradScale => "grad_scale",
            Lr => "lr",
            Seconds => "seconds",
            AdmmZChange => "admm.z_change",
            AdmmRho => "admm.rho",
            AdmmUpdates => "admm.updates",
            SlrZChange => "slr.z_change",
            SlrS => "slr.s",
            SlrAlpha => "slr.alpha",
            SlrK => "slr.k",
            SlrCond1 => "slr.cond1",
            SlrCond2 => "slr.cond2",
            RoundCe => "round.ce",
            LaneFpHardprune => "lanes.fp.hardprune",
            LaneFnHardprune => "lanes.fn.hardprune",
            LaneFpRetrain => "lanes.fp.retrain",
            LaneFnRetrain => "lanes.fn.retrain",
            MapHardprune => "map.hardprune",
            MapRetrain => "map.retrain",
        }
    }

    /// Its key, e.g. `acc.retrain@3`.
    pub fn key(self) -> String {
        match self {
            AccRetrainAt(n) | AccHardpruneAt(n) => format!("{}@{n}", self.stem()),
            _ => self.stem().to_owned(),
        }
    }

    /// The metric of a key (`acc.retrain@N` and `acc.hardprune@N` for N >= 1, spelled
    /// canonically).
    pub fn parse(key: &str) -> Option<Metric> {
        if let Some((stem, n)) = key.split_once('@') {
            let n: usize = n.parse().ok()?;
            let metric = match stem {
                "acc.retrain" => AccRetrainAt(n),
                "acc.hardprune" => AccHardpruneAt(n),
                _ => return None,
            };
            return (n >= 1 && metric.key() == key).then_some(metric);
        }
        FIXED.into_iter().find(|m| m.stem() == key)
    }

    /// A value in a run's final results (`summary.json`, a column of the results frame and of
    /// the table).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AccDense
                | AccHardprune
                | AccRetrain
                | AccRetrainAt(_)
                | CompressionPrunedLayers
                | CompressionReference
                | SparsityGlobal
                | AccSoft
                | AccHardpruneAt(_)
                | LaneFpHardprune
                | LaneFnHardprune
                | LaneFpRetrain
                | LaneFnRetrain
                | MapHardprune
                | MapRetrain
        )
    }

    /// A value recorded per training epoch (`metrics.csv`, the epochs frame).
    pub fn is_per_epoch(self) -> bool {
        !self.is_final() || self == AccHardprune
    }

    /// The names a spec may use for final metrics, `@N` written as such.
    pub fn final_names() -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for metric in FIXED.into_iter().filter(|m| m.is_final()) {
            names.push(metric.key());
            if metric == AccRetrain {
                names.push("acc.retrain@N".into());
            }
        }
        names.push("acc.hardprune@N".into());
        names
    }

    /// The keys of the per-epoch metrics, `acc.test` (the default figure metric) first.
    pub fn per_epoch_keys() -> Vec<&'static str> {
        let mut metrics: Vec<Metric> = FIXED.into_iter().filter(|m| m.is_per_epoch()).collect();
        // A stable sort: only `acc.test` moves.
        metrics.sort_by_key(|m| *m != AccTest);
        metrics.into_iter().map(Metric::stem).collect()
    }

    /// The epoch of `acc.retrain@N`.
    pub fn retrain_epoch(self) -> Option<usize> {
        match self {
            AccRetrainAt(n) => Some(n),
            _ => None,
        }
    }

    /// A task score in percent (an accuracy or mAP): higher is better.
    fn is_score(self) -> bool {
        matches!(
            self,
            AccDense
                | AccHardprune
                | AccRetrain
                | AccRetrainAt(_)
                | AccSoft
                | AccHardpruneAt(_)
                | AccTest
                | MapHardprune
                | MapRetrain
        )
    }

    /// A lane error rate in percent: lower is better.
    fn is_lane_rate(self) -> bool {
        matches!(
            self,
            LaneFpHardprune | LaneFnHardprune | LaneFpRetrain | LaneFnRetrain
        )
    }

    /// Which way is better.
    pub fn direction(self) -> Direction {
        match self {
            m if m.is_score() => Direction::Higher,
            CompressionPrunedLayers | CompressionReference => Direction::Higher,
            m if m.is_lane_rate() => Direction::Lower,
            TrainCe | TrainLoss | WMinusZ => Direction::Lower,
            _ => Direction::Neutral,
        }
    }

    /// Whether it is a percentage (accuracies, mAP, lane rates): a value outside [0, 100], or
    /// not a number, is a damaged record.
    pub fn is_percent(self) -> bool {
        self.is_score() || self.is_lane_rate()
    }

    /// Decimals and unit suffix of its table cells.
    pub fn format(self) -> (usize, &'static str) {
        match self {
            CompressionPrunedLayers | CompressionReference => (2, "x"),
            SparsityGlobal => (4, ""),
            _ => (2, ""),
        }
    }

    /// Its table header.
    pub fn header(self) -> String {
        match self {
            AccDense => "Dense acc. (%)".into(),
            AccHardprune => "Hard-prune acc., no retraining (%)".into(),
            AccRetrain => "Acc. after full retraining (%)".into(),
            CompressionPrunedLayers => "Achieved compression".into(),
            CompressionReference => "Compression, all weights".into(),
            SparsityGlobal => "Sparsity of pruned layers".into(),
            AccSoft => "Acc. before hard pruning (%)".into(),
            AccRetrainAt(n) => format!("After {n} retraining epoch{} (%)", plural(n)),
            LaneFpHardprune => "FP rate, hard prune (%)".into(),
            LaneFnHardprune => "FN rate, hard prune (%)".into(),
            LaneFpRetrain => "FP rate after retraining (%)".into(),
            LaneFnRetrain => "FN rate after retraining (%)".into(),
            MapHardprune => "mAP@0.5:0.95, hard prune (%)".into(),
            MapRetrain => "mAP@0.5:0.95 after retraining (%)".into(),
            AccHardpruneAt(n) => format!(
                "Hard-prune acc. after {n} pruning-training epoch{} (%)",
                plural(n)
            ),
            other => other.axis_label(),
        }
    }

    /// Its axis label in figures.
    pub fn axis_label(self) -> String {
        let label = match self {
            AccTest => "Test accuracy, soft model (%)",
            AccHardprune => "Hard-prune test accuracy (%)",
            TrainCe => "Training cross-entropy",
            TrainLoss => "Training loss incl. penalty",
            WMinusZ => "Σ‖W − Z‖ over pruned layers",
            GradScale => "Penalty-gradient factor",
            Lr => "Learning rate",
            Seconds => "Seconds per epoch (s)",
            AdmmZChange | SlrZChange => "Σ‖Z − Z_prev‖ at updates",
            AdmmRho => "ADMM ρ",
            SlrS => "SLR step size s",
            SlrAlpha => "SLR α",
            SlrK => "SLR k",
            AdmmUpdates => "ADMM updates so far",
            SlrCond1 => "SLR condition 1 held (1 = yes)",
            SlrCond2 => "SLR condition 2 held (1 = yes)",
            RoundCe => "Mean training cross-entropy of the round before an update",
            other => return other.header(),
        };
        label.to_owned()
    }

    /// `(footnote label, definition)` for a table column showing it.
    pub fn definition(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            AccDense => (
                "dense",
                "`acc.dense`: top-1 test accuracy (%) of the dense pretrained model.",
            ),
            AccHardprune => (
                "hardprune",
                "`acc.hardprune`: top-1 test accuracy (%) right after hard pruning (each \
                 pruned layer projected to its ratio, largest magnitudes kept), no retraining.",
            ),
            AccRetrain => (
                "retrain",
                "`acc.retrain`: top-1 test accuracy (%) after the row's full masked \
                 retraining (pruned weights held at zero).",
            ),
            CompressionPrunedLayers => (
                "compression",
                "`compression.pruned_layers`: weights / non-zero weights over the pruned \
                 layers, measured on the final model.",
            ),
            CompressionReference => (
                "compression-ref",
                "`compression.reference`: weights / non-zero weights over every non-bias \
                 parameter, pruned or not, as the authors' code prints it.",
            ),
            SparsityGlobal => (
                "sparsity",
                "`sparsity.global`: fraction of zero weights over all pruned layers together.",
            ),
            AccRetrainAt(_) => (
                "retrain-n",
                "`acc.retrain@N`: top-1 test accuracy (%) after N epochs of masked \
                 retraining; \"– (budget E)\" when the row retrains only E < N epochs.",
            ),
            AccSoft => (
                "soft",
                "`acc.soft`: top-1 test accuracy (%) of the model at the end of its \
                 pruning-oriented (ADMM or SLR) training, before hard pruning.",
            ),
            LaneFpHardprune | LaneFpRetrain => (
                "lanes-fp",
                "`lanes.fp.*`: TuSimple's false-positive rate (%): predicted lanes matching no \
                 labelled lane, per frame, averaged (its `LaneEval`); after hard pruning or \
                 after the full retraining.",
            ),
            LaneFnHardprune | LaneFnRetrain => (
                "lanes-fn",
                "`lanes.fn.*`: TuSimple's false-negative rate (%): labelled lanes no \
                 prediction matches, per frame, averaged (its `LaneEval`); after hard pruning \
                 or after the full retraining.",
            ),
            MapHardprune | MapRetrain => (
                "map",
                "`map.*`: COCO's box mAP@0.5:0.95 (%), as `pycocotools`' evaluator computes it \
                 (AP averaged over IoU thresholds 0.50, 0.55, ..., 0.95 and the categories); \
                 after hard pruning or after the full retraining.",
            ),
            AccHardpruneAt(_) => (
                "hardprune-n",
                "`acc.hardprune@N`: top-1 test accuracy (%) of a hard-pruned copy of the model \
                 after N epochs of its ADMM or SLR training (rows with \
                 `hardprune_every_epoch`).",
            ),
            _ => return None,
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}
