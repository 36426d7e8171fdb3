//! The vocabulary of table columns and figure metrics: what each name shows, its header and the
//! definition its footnote gives.

/// A column of the results table (after the row name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// Architecture.
    Model,
    /// Data set.
    Dataset,
    /// Method with the settings that change its behaviour.
    Method,
    /// Row group.
    Group,
    /// Seeds finished of seeds planned.
    Seeds,
    /// Target `compression.pruned_layers` from the spec's ratios.
    TargetCompression,
    /// Masked-retraining epochs of the row.
    RetrainEpochs,
    /// A measured per-run number, shown as mean ± std over seeds.
    Measured(Measure),
}

/// A per-run number of the results frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    /// `acc.dense`, `acc.hardprune`, `acc.retrain`, `acc.retrain@N` (%).
    Accuracy(String),
    /// `compression.pruned_layers` or `compression.reference` (x).
    Compression(String),
    /// `sparsity.global` (fraction of zeros).
    Sparsity,
}

impl Measure {
    /// Its column name in the results frame.
    pub fn key(&self) -> &str {
        match self {
            Measure::Accuracy(k) | Measure::Compression(k) => k,
            Measure::Sparsity => "sparsity.global",
        }
    }

    /// Decimals and unit suffix of its cells.
    pub fn format(&self) -> (usize, &'static str) {
        match self {
            Measure::Accuracy(_) => (2, ""),
            Measure::Compression(_) => (2, "x"),
            Measure::Sparsity => (4, ""),
        }
    }

    /// `N` of `acc.retrain@N`.
    pub fn retrain_epoch(&self) -> Option<usize> {
        match self {
            Measure::Accuracy(k) => k.strip_prefix("acc.retrain@")?.parse().ok(),
            _ => None,
        }
    }
}

/// Every column name a spec may use (with `acc.retrain@N` for any N >= 1).
pub const COLUMN_NAMES: &[&str] = &[
    "model",
    "dataset",
    "method",
    "group",
    "seeds",
    "target.compression",
    "retrain.epochs",
    "acc.dense",
    "acc.hardprune",
    "acc.retrain",
    "acc.retrain@N",
    "compression.pruned_layers",
    "compression.reference",
    "sparsity.global",
];

impl Column {
    /// Parses a column name of `[report] columns`.
    pub fn parse(name: &str) -> Option<Column> {
        Some(match name {
            "model" => Column::Model,
            "dataset" => Column::Dataset,
            "method" => Column::Method,
            "group" => Column::Group,
            "seeds" => Column::Seeds,
            "target.compression" => Column::TargetCompression,
            "retrain.epochs" => Column::RetrainEpochs,
            "sparsity.global" => Column::Measured(Measure::Sparsity),
            "compression.pruned_layers" | "compression.reference" => {
                Column::Measured(Measure::Compression(name.into()))
            }
            "acc.dense" | "acc.hardprune" | "acc.retrain" => {
                Column::Measured(Measure::Accuracy(name.into()))
            }
            _ => {
                let epoch: usize = name.strip_prefix("acc.retrain@")?.parse().ok()?;
                if epoch == 0 || name != format!("acc.retrain@{epoch}") {
                    return None;
                }
                Column::Measured(Measure::Accuracy(name.into()))
            }
        })
    }

    /// Header text.
    pub fn header(&self) -> String {
        match self {
            Column::Model => "Model".into(),
            Column::Dataset => "Data set".into(),
            Column::Method => "Method".into(),
            Column::Group => "Group".into(),
            Column::Seeds => "Seeds done".into(),
            Column::TargetCompression => "Target compression".into(),
            Column::RetrainEpochs => "Retrain epochs".into(),
            Column::Measured(m) => match m.key() {
                "acc.dense" => "Dense acc. (%)".into(),
                "acc.hardprune" => "Hard-prune acc., no retraining (%)".into(),
                "acc.retrain" => "Acc. after full retraining (%)".into(),
                "compression.pruned_layers" => "Achieved compression".into(),
                "compression.reference" => "Compression, all weights".into(),
                "sparsity.global" => "Sparsity of pruned layers".into(),
                _ => {
                    let n = m.retrain_epoch().unwrap_or(0);
                    format!(
                        "After {n} retraining epoch{} (%)",
                        if n == 1 { "" } else { "s" }
                    )
                }
            },
        }
    }

    /// `(footnote label, definition)` of the column's metric, if it has one.
    pub fn definition(&self) -> Option<(String, String)> {
        let (label, text) = match self {
            Column::TargetCompression => (
                "target",
                "target `compression.pruned_layers`: weights / kept weights over the pruned \
                 layers, from the spec's per-layer ratios under the row's count rule."
                    .to_owned(),
            ),
            Column::Measured(m) => match m.key() {
                "acc.dense" => (
                    "dense",
                    "`acc.dense`: top-1 test accuracy (%) of the dense pretrained model.".into(),
                ),
                "acc.hardprune" => (
                    "hardprune",
                    "`acc.hardprune`: top-1 test accuracy (%) right after hard pruning (each \
                     pruned layer projected to its ratio, largest magnitudes kept), no \
                     retraining."
                        .into(),
                ),
                "acc.retrain" => (
                    "retrain",
                    "`acc.retrain`: top-1 test accuracy (%) after the row's full masked \
                     retraining (pruned weights held at zero)."
                        .into(),
                ),
                "compression.pruned_layers" => (
                    "compression",
                    "`compression.pruned_layers`: weights / non-zero weights over the pruned \
                     layers, measured on the final model."
                        .into(),
                ),
                "compression.reference" => (
                    "compression-ref",
                    "`compression.reference`: weights / non-zero weights over every non-bias \
                     parameter, pruned or not, as the authors' code prints it."
                        .into(),
                ),
                "sparsity.global" => (
                    "sparsity",
                    "`sparsity.global`: fraction of zero weights over all pruned layers \
                     together."
                        .into(),
                ),
                _ => (
                    "retrain-n",
                    "`acc.retrain@N`: top-1 test accuracy (%) after N epochs of masked \
                     retraining; \"– (budget E)\" when the row retrains only E < N epochs."
                        .into(),
                ),
            },
            _ => return None,
        };
        Some((label.to_owned(), text))
    }
}

/// Per-epoch metrics of a training stage that `epochs` figures may plot, with their axis label.
pub const EPOCH_METRICS: &[(&str, &str)] = &[
    ("acc.test", "Test accuracy, soft model (%)"),
    ("acc.hardprune", "Hard-prune test accuracy (%)"),
    ("train.ce", "Training cross-entropy"),
    ("train.loss", "Training loss incl. penalty"),
    ("w_minus_z", "Σ‖W − Z‖ over pruned layers"),
    ("grad_scale", "Penalty-gradient factor"),
    ("lr", "Learning rate"),
    ("seconds", "Seconds per epoch (s)"),
    ("admm.z_change", "Σ‖Z − Z_prev‖ at updates"),
    ("admm.rho", "ADMM ρ"),
    ("slr.z_change", "Σ‖Z − Z_prev‖ at updates"),
    ("slr.s", "SLR step size s"),
    ("slr.alpha", "SLR α"),
    ("slr.k", "SLR k"),
];

/// Axis label of a metric (per-epoch or table metric).
pub fn metric_label(metric: &str) -> String {
    if let Some((_, label)) = EPOCH_METRICS.iter().find(|(m, _)| *m == metric) {
        return (*label).to_owned();
    }
    match Column::parse(metric) {
        Some(c @ Column::Measured(_)) => c.header(),
        _ => metric.to_owned(),
    }
}
