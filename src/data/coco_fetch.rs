//! `slr data fetch` and loading for COCO-format detection sets: the synthetic set is drawn into
//! its folder; a user's COCO 2014 is read (both instances files, every box checked), every
//! image's header is checked against its annotated size, the counts are printed, and the folder
//! is linked, not copied (it is about 20 GB).

use super::coco::{self, CocoSplit};
use super::fetch::Source;
use super::lane_fetch::{draw, link};
use super::synthetic_coco;
use crate::catalog::{DatasetKind, DetectionFiles, Fetch, SYNTHETIC_COCO_SIZES};
use crate::error::{Error, Result};
use std::path::Path;

/// The training and held-out splits of the set in `dir`. With the split list (`5k.txt`)
/// present, the held-out split is the listed images of the `test` files and the training split
/// also has the rest of them (Darknet's `5k` / `trainvalno5k`).
pub fn read_splits(dir: &Path, files: DetectionFiles) -> Result<(CocoSplit, CocoSplit)> {
    let read = |(annotations, images): (&str, &str)| {
        coco::read_split(&dir.join(annotations), &dir.join(images))
    };
    let (train, test) = (read(files.train)?, read(files.test)?);
    if train.categories != test.categories {
        return Err(Error::Corrupt {
            path: dir.join(files.test.0),
            message: format!(
                "its categories differ from those of {}",
                dir.join(files.train.0).display()
            ),
        });
    }
    match files.test_list.map(|list| dir.join(list)) {
        Some(list) if list.exists() => {
            let (held_out, rest) = coco::partition_by_list(test, &list)?;
            let mut train = train;
            train.images.extend(rest.images);
            Ok((train, held_out))
        }
        _ => Ok((train, test)),
    }
}

/// Fetches the detection set `kind`, stored as `files`, into `data_root`.
pub fn fetch(
    data_root: &Path,
    kind: DatasetKind,
    files: DetectionFiles,
    from: Option<&Path>,
) -> Result<Source> {
    let dest = kind.folder(data_root);
    match (kind.entry().fetch, from) {
        (Fetch::SyntheticCoco, Some(_)) => Err(Error::Usage(format!(
            "{} is drawn by the harness; it takes no --from",
            kind.name()
        ))),
        (Fetch::SyntheticCoco, None) => {
            if read_splits(&dest, files).is_ok() {
                return Ok(Source::Present);
            }
            let (train, test, seed) = SYNTHETIC_COCO_SIZES;
            draw(data_root, kind, |scratch| {
                synthetic_coco::generate(scratch, train, test, seed)
            })?;
            Ok(Source::Generated(seed))
        }
        (_, None) => Err(Error::Data(format!(
            "{} cannot be fetched: {}",
            kind.name(),
            kind.fetch_hint(data_root)
        ))),
        (_, Some(dir)) => {
            let (train, test) = read_splits(dir, files)?;
            for (name, split) in [("train", &train), ("test", &test)] {
                let images = coco::check_images(split)?;
                eprintln!(
                    "{}: {name}: {images} images, {} boxes, {} crowd regions (evaluation only), \
                     {} boxes of zero width or height skipped, {} categories",
                    dir.display(),
                    split.targets(),
                    split.crowd(),
                    split.degenerate(),
                    split.categories.len()
                );
            }
            link(dir, &dest)?;
            Ok(Source::Local(dir.to_owned()))
        }
    }
}
