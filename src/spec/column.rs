//! The vocabulary of `[report] columns`: facts of a row, or any final metric.

use crate::metrics::Metric;

/// A column of the results table (after the row name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Epochs of the method's training before pruning (its final epoch or `prune_at_epoch`).
    TrainEpochs,
    /// A final per-run metric, shown as mean ± std over seeds.
    Measured(Metric),
}

/// Columns that are facts of the row, by name.
const FACTS: [(&str, Column); 8] = [
    ("model", Column::Model),
    ("dataset", Column::Dataset),
    ("method", Column::Method),
    ("group", Column::Group),
    ("seeds", Column::Seeds),
    ("target.compression", Column::TargetCompression),
    ("retrain.epochs", Column::RetrainEpochs),
    ("train.epochs", Column::TrainEpochs),
];

impl Column {
    /// Parses a column name of `[report] columns`.
    pub fn parse(name: &str) -> Option<Column> {
        if let Some((_, column)) = FACTS.iter().find(|(n, _)| *n == name) {
            return Some(*column);
        }
        Metric::parse(name)
            .filter(|m| m.is_final())
            .map(Column::Measured)
    }

    /// Its name in `[report] columns`.
    pub fn name(&self) -> String {
        match self {
            Column::Measured(metric) => metric.key(),
            fact => FACTS
                .iter()
                .find(|(_, c)| c == fact)
                .map(|(n, _)| (*n).to_owned())
                .expect("every fact column has a name"),
        }
    }

    /// Every column name a spec may use (`@N` written as such).
    pub fn names() -> Vec<String> {
        FACTS
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .chain(Metric::final_names())
            .collect()
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
            Column::TrainEpochs => "ADMM/SLR epochs before pruning".into(),
            Column::Measured(m) => m.header(),
        }
    }

    /// `(footnote label, definition)` of the column's metric, if it has one.
    pub fn definition(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Column::TargetCompression => Some((
                "target",
                "target `compression.pruned_layers`: weights / kept weights over the pruned \
                 layers, from the spec's per-layer ratios under the row's count rule.",
            )),
            Column::Measured(m) => m.definition(),
            _ => None,
        }
    }
}
