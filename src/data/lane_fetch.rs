//! `slr data fetch` for TuSimple-format lane sets: the synthetic set is drawn into its folder;
//! a user's TuSimple copy is checked (every label line, every frame decoded) and linked, not
//! copied (it is about 10 GB).

use super::fetch::Source;
use super::{synthetic_lanes, tusimple};
use crate::catalog::{DatasetKind, Fetch, LaneFiles, SYNTHETIC_LANES_SIZES};
use crate::error::{Error, Result};
use std::path::Path;

/// Fetches the lane set `kind`, stored as `files`, into `data_root`.
pub fn fetch(
    data_root: &Path,
    kind: DatasetKind,
    files: LaneFiles,
    from: Option<&Path>,
) -> Result<Source> {
    let dest = kind.folder(data_root);
    match (kind.entry().fetch, from) {
        (Fetch::SyntheticLanes, Some(_)) => Err(Error::Usage(format!(
            "{} is drawn by the harness; it takes no --from",
            kind.name()
        ))),
        (Fetch::SyntheticLanes, None) => {
            if complete(&dest, files) {
                return Ok(Source::Present);
            }
            let (train, test, seed) = SYNTHETIC_LANES_SIZES;
            draw(data_root, kind, |scratch| {
                synthetic_lanes::generate(scratch, train, test, seed)
            })?;
            Ok(Source::Generated(seed))
        }
        (_, None) => Err(Error::Data(format!(
            "{} cannot be fetched: {}",
            kind.name(),
            kind.fetch_hint(data_root)
        ))),
        (_, Some(dir)) => {
            let frames = check(dir, files)?;
            eprintln!("{}: {frames} labelled frames decode", dir.display());
            link(dir, &dest)?;
            Ok(Source::Local(dir.to_owned()))
        }
    }
}

/// Whether every label file and every frame it names is in `dir`.
fn complete(dir: &Path, files: LaneFiles) -> bool {
    tusimple::read_split(dir, files.train).is_ok() && tusimple::read_split(dir, files.test).is_ok()
}

/// Reads every label file in `dir` and decodes every frame they name; the number of frames.
fn check(dir: &Path, files: LaneFiles) -> Result<usize> {
    let mut count = 0;
    for labels in [files.train, files.test] {
        for item in tusimple::read_split(dir, labels)? {
            image::open(&item.frame).map_err(|e| {
                Error::Data(format!("{}: cannot decode ({e})", item.frame.display()))
            })?;
            count += 1;
        }
    }
    Ok(count)
}

/// Draws a synthetic set with `generate` into a scratch folder under `data_root`, then renames
/// it to the set's folder, so an interrupted fetch leaves nothing.
pub(super) fn draw(
    data_root: &Path,
    kind: DatasetKind,
    generate: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let dest = kind.folder(data_root);
    let scratch = data_root.join(format!(".{}-{}", kind.name(), std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    generate(&scratch)?;
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&scratch, &dest).map_err(Error::io(&dest))
}

/// Makes `dest` a link to `dir` (replacing an older link, never a real folder).
pub(super) fn link(dir: &Path, dest: &Path) -> Result<()> {
    let target = dir.canonicalize().map_err(Error::io(dir))?;
    if let Ok(meta) = std::fs::symlink_metadata(dest) {
        if !meta.file_type().is_symlink() {
            return Err(Error::Data(format!(
                "{} exists and is not a link; remove it to link {}",
                dest.display(),
                dir.display()
            )));
        }
        std::fs::remove_file(dest).map_err(Error::io(dest))?;
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    std::os::unix::fs::symlink(&target, dest).map_err(Error::io(dest))
}
