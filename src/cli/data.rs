//! `slr data fetch`: gets a data set into the data root.

use crate::data::fetch as fetching;
use crate::error::Result;
use crate::spec::DatasetKind;
use std::path::{Path, PathBuf};

/// Fetches `dataset` from `from` (a folder or archive) or its source into `data_root`
/// (default: `SLR_DATA_ROOT`, else `data`).
pub(super) fn fetch(
    dataset: DatasetKind,
    from: Option<&Path>,
    data_root: Option<PathBuf>,
) -> Result<()> {
    let root = super::data_root(data_root);
    let source = fetching::fetch(&root, dataset, from)?;
    println!(
        "{} ready in {} ({source:?})",
        dataset.name(),
        dataset.folder(&root).display()
    );
    Ok(())
}
