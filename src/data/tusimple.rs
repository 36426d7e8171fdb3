//! TuSimple's lane labels and the training targets Ultra-Fast-Lane-Detection builds from them
//! (cfzd/Ultra-Fast-Lane-Detection: `scripts/convert_tusimple.py` orders the lanes and draws
//! them 16 px thick into a 1280x720 label image; `data/dataset.py` reads, at each row anchor,
//! the mean x of each lane's pixels, extends short lanes to the bottom and turns the x into a
//! grid cell; the auxiliary target is the label image resized to 36x100, nearest).
//!
//! The label image is drawn as the conversion draws it: each slot's lane, in slot order (later
//! lanes over earlier ones), as one `cv2.line(thickness=16)` per pair of consecutive points
//! through the points' integer parts (Python's `int()`, toward zero), with OpenCV's own thick
//! line rasterisation ([`super::thick_line`]), so the targets read from it are the reference's.

use super::lane_augment::{LabelMap, LaneAugment};
use super::thick_line::{LabelImage, draw_line};
use crate::base::fit::least_squares;
use crate::base::rng::{SplitMix64, stream};
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::Deserialize;
use std::path::Path;

/// Width of TuSimple's frames and label images.
pub const WIDTH: usize = 1280;
/// Height of TuSimple's frames and label images.
pub const HEIGHT: usize = 720;
/// The thickness (px) the conversion draws lanes with.
const LANE_THICKNESS: u32 = 16;

/// `tusimple_row_anchor` of `data/constant.py`: rows 64, 68, ..., 284 of the 288-px input.
pub fn row_anchors() -> Vec<usize> {
    (0..56).map(|i| 64 + 4 * i).collect()
}

/// One line of a TuSimple label file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LaneLabel {
    /// The frame, relative to the data set's folder (`clips/.../20.jpg`).
    pub raw_file: String,
    /// x per row sample of each lane; -2: no point.
    pub lanes: Vec<Vec<f64>>,
    /// The rows (y) of the samples.
    pub h_samples: Vec<f64>,
}

/// Reads a label file (one JSON object per line); a malformed line or a lane whose number of
/// points differs from `h_samples` is an error naming the file and line.
pub fn read_labels(path: &Path) -> Result<Vec<LaneLabel>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Data(if e.kind() == std::io::ErrorKind::NotFound {
            // `data::load` adds the fetch hint to "missing" errors.
            format!("missing {}", path.display())
        } else {
            format!("{}: cannot read ({e})", path.display())
        })
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            parse_label(line).map_err(|m| Error::Data(format!("{}:{}: {m}", path.display(), i + 1)))
        })
        .collect()
}

/// One label line, or what is wrong with it.
pub fn parse_label(line: &str) -> std::result::Result<LaneLabel, String> {
    let label: LaneLabel =
        serde_json::from_str(line).map_err(|e| format!("not a TuSimple label ({e})"))?;
    for (i, lane) in label.lanes.iter().enumerate() {
        if lane.len() != label.h_samples.len() {
            return Err(format!(
                "lane {i} has {} points for {} h_samples",
                lane.len(),
                label.h_samples.len()
            ));
        }
    }
    Ok(label)
}

/// A lane's points `(x, y)` where it has one.
type Polyline = Vec<(f64, f64)>;

/// `calc_k`: the angle of the least-squares line y = k x + b through the points, or `None`
/// for a lane shorter than 90 px from its first to its last point (skipped).
fn direction(points: &Polyline) -> Option<f64> {
    let (first, last) = (points.first()?, points.last()?);
    if ((first.0 - last.0).powi(2) + (first.1 - last.1).powi(2)).sqrt() < 90.0 {
        return None;
    }
    // A vertical lane has an infinite slope; atan gives +pi/2 for it.
    Some(
        least_squares(points)
            .map_or(f64::INFINITY, |line| line.slope)
            .atan(),
    )
}

/// The four lane slots of `generate_segmentation_and_train_list`, left to right: of the
/// lanes with a negative angle (left of the car) the two with the largest angles, of those
/// with a positive angle the two with the smallest; a lone left lane is slot 2, a lone right
/// one slot 3.
pub fn lane_slots(label: &LaneLabel) -> [Option<Polyline>; 4] {
    let lines: Vec<Polyline> = label
        .lanes
        .iter()
        .filter(|lane| lane.iter().any(|x| *x != -2.0))
        .map(|lane| {
            lane.iter()
                .zip(&label.h_samples)
                .filter(|(x, _)| **x != -2.0)
                .map(|(x, y)| (*x, *y))
                .collect()
        })
        .collect();
    let ks: Vec<Option<f64>> = lines.iter().map(direction).collect();
    let mut negative: Vec<f64> = ks.iter().flatten().copied().filter(|k| *k < 0.0).collect();
    let mut positive: Vec<f64> = ks.iter().flatten().copied().filter(|k| *k > 0.0).collect();
    negative.sort_by(f64::total_cmp);
    positive.sort_by(f64::total_cmp);
    // `np.where(ks == k)[0][0]`: the first lane with that angle.
    let lane = |k: f64| {
        lines[ks
            .iter()
            .position(|x| *x == Some(k))
            .expect("k is one of ks")]
        .clone()
    };
    let mut slots: [Option<Polyline>; 4] = Default::default();
    match negative.len() {
        0 => {}
        1 => slots[1] = Some(lane(negative[0])),
        _ => {
            slots[0] = Some(lane(negative[1]));
            slots[1] = Some(lane(negative[0]));
        }
    }
    match positive.len() {
        0 => {}
        1 => slots[2] = Some(lane(positive[0])),
        2 => {
            slots[2] = Some(lane(positive[1]));
            slots[3] = Some(lane(positive[0]));
        }
        n => {
            slots[2] = Some(lane(positive[n - 1]));
            slots[3] = Some(lane(positive[n - 2]));
        }
    }
    slots
}

/// The label image of `convert_tusimple.py`'s `generate_segmentation_and_train_list`: 1280x720,
/// slot `i`'s lane drawn with value `i + 1` (its `draw`: `cv2.line` between consecutive points'
/// integer parts, 16 px thick), slots in order, so a later lane wins where lanes overlap.
pub fn label_image(slots: &[Option<Polyline>; 4]) -> LabelImage {
    let mut image = LabelImage::new(WIDTH, HEIGHT);
    // Python's `int()`: toward zero.
    let integer = |p: &(f64, f64)| (p.0.trunc() as i64, p.1.trunc() as i64);
    for (slot, lane) in slots.iter().enumerate() {
        let Some(points) = lane else { continue };
        for pair in points.windows(2) {
            draw_line(
                &mut image,
                integer(&pair[0]),
                integer(&pair[1]),
                slot as u8 + 1,
                LANE_THICKNESS,
            );
        }
    }
    image
}

/// The augmented label image's value at pixel `(x, y)`.
fn augmented_label_at(image: &LabelImage, map: &LabelMap, x: usize, y: usize) -> u8 {
    map.source(x, y).map_or(0, |(x, y)| image.get(x, y))
}

/// `_get_index` and `_grid_pts` on the label image after `augment`: each lane's grid cell at
/// each row anchor (`griding_num`: no lane there), `[rows][4]`.
pub fn row_targets(
    slots: &[Option<Polyline>; 4],
    griding_num: usize,
    augment: LaneAugment,
) -> Vec<[usize; 4]> {
    image_row_targets(&label_image(slots), griding_num, augment)
}

/// [`row_targets`] of a drawn [`label_image`].
fn image_row_targets(
    image: &LabelImage,
    griding_num: usize,
    augment: LaneAugment,
) -> Vec<[usize; 4]> {
    let rows: Vec<f64> = row_anchors()
        .iter()
        .map(|r| (*r as f64 / 288.0 * HEIGHT as f64).trunc())
        .collect();
    let map = augment.label_map();
    let mut positions = vec![[-1.0f64; 4]; rows.len()];
    for (r, &y) in rows.iter().enumerate() {
        let mut sums = [(0.0f64, 0usize); 4];
        for x in 0..WIDTH {
            let value = augmented_label_at(image, &map, x, y as usize);
            if value > 0 {
                let s = &mut sums[value as usize - 1];
                *s = (s.0 + x as f64, s.1 + 1);
            }
        }
        for (lane, (sum, count)) in sums.iter().enumerate() {
            if *count > 0 {
                positions[r][lane] = sum / *count as f64;
            }
        }
    }
    for lane in 0..4 {
        extend_to_bottom(&rows, &mut positions, lane);
    }
    let spacing = (WIDTH - 1) as f64 / (griding_num - 1) as f64;
    positions
        .iter()
        .map(|row| {
            row.map(|x| {
                if x == -1.0 {
                    griding_num
                } else {
                    (x / spacing).floor() as usize
                }
            })
        })
        .collect()
}

/// The data set's augmentation "extend the lane to the boundary of image": a lane of at least
/// 6 points that stops above the last row continues along the least-squares line through the
/// lower half of its points (points outside the image stay absent).
fn extend_to_bottom(rows: &[f64], positions: &mut [[f64; 4]], lane: usize) {
    let valid: Vec<(f64, f64)> = rows
        .iter()
        .zip(positions.iter())
        .filter(|(_, p)| p[lane] != -1.0)
        .map(|(y, p)| (*y, p[lane]))
        .collect();
    let Some(&(last_row, _)) = valid.last() else {
        return;
    };
    if last_row == *rows.last().expect("rows") || valid.len() < 6 {
        return;
    }
    // x as a line in y (`np.polyfit(rows, xs, 1)`); the rows are distinct.
    let line = least_squares(&valid[valid.len() / 2..]).expect("3 or more distinct rows");
    let start = rows.iter().position(|r| *r == last_row).expect("a row") + 1;
    for (y, p) in rows.iter().zip(positions.iter_mut()).skip(start) {
        let x = line.at(*y);
        p[lane] = if x < 0.0 || x > (WIDTH - 1) as f64 {
            -1.0
        } else {
            x
        };
    }
}

/// `FreeScaleMask((36, 100))` of the label image after `augment`: nearest-neighbour, `[h][w]`
/// slots (0: none).
pub fn segmentation_target(
    slots: &[Option<Polyline>; 4],
    h: usize,
    w: usize,
    augment: LaneAugment,
) -> Vec<u8> {
    image_segmentation_target(&label_image(slots), h, w, augment)
}

/// [`segmentation_target`] of a drawn [`label_image`].
fn image_segmentation_target(
    image: &LabelImage,
    h: usize,
    w: usize,
    augment: LaneAugment,
) -> Vec<u8> {
    let (sy, sx) = (HEIGHT as f64 / h as f64, WIDTH as f64 / w as f64);
    let map = augment.label_map();
    (0..h)
        .flat_map(|i| (0..w).map(move |j| (i, j)))
        .map(|(i, j)| {
            let y = ((i as f64 + 0.5) * sy).floor() as usize;
            let x = ((j as f64 + 0.5) * sx).floor() as usize;
            augmented_label_at(image, &map, x.min(WIDTH - 1), y.min(HEIGHT - 1))
        })
        .collect()
}

/// One training or test frame with its label.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneItem {
    /// The frame file.
    pub frame: std::path::PathBuf,
    /// Its label.
    pub label: LaneLabel,
}

/// The frames of label files under `dir`; a frame the label names but the folder lacks is an
/// error naming the label file and line.
pub fn read_split(dir: &Path, label_files: &[&str]) -> Result<Vec<LaneItem>> {
    let mut items = Vec::new();
    for file in label_files {
        let path = dir.join(file);
        for (line, label) in read_labels(&path)?.into_iter().enumerate() {
            let frame = dir.join(&label.raw_file);
            if !frame.is_file() {
                return Err(Error::Data(format!(
                    "{}:{}: frame {} is missing",
                    path.display(),
                    line + 1,
                    frame.display()
                )));
            }
            items.push(LaneItem { frame, label });
        }
    }
    Ok(items)
}

/// One lane batch, on the host: normalised images `[n, 3, h, w]` (ImageNet statistics),
/// row-anchor cells `[n, 56, 4]` and segmentation classes `[n, h / 8, w / 8]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneBatchData {
    /// Images, channel-major per image.
    pub images: Vec<f32>,
    /// Cells (`griding_num`: no lane).
    pub cells: Vec<i64>,
    /// Segmentation classes (0: background, 1..4: lane slots).
    pub segmentation: Vec<i64>,
}

/// The frames of `items` decoded, augmented (one [`LaneAugment`] per frame, or none),
/// resized (as Pillow) to `[3, h, w]` and normalised with ImageNet's statistics, decoded in
/// parallel and put one after the other.
pub fn frames(
    items: &[&LaneItem],
    [h, w]: [usize; 2],
    augments: Option<&[LaneAugment]>,
) -> Result<Vec<f32>> {
    let per_frame: Vec<Vec<f32>> = items
        .par_iter()
        .enumerate()
        .map(|(i, item)| frame(item, [h, w], augments.map_or(LaneAugment::NONE, |a| a[i])))
        .collect::<Result<_>>()?;
    Ok(per_frame.concat())
}

/// One frame of [`frames`].
fn frame(item: &LaneItem, [h, w]: [usize; 2], augment: LaneAugment) -> Result<Vec<f32>> {
    let norm = crate::catalog::IMAGENET_NORM;
    let frame = image::open(&item.frame)
        .map_err(|e| Error::Data(format!("{}: cannot decode ({e})", item.frame.display())))?
        .to_rgb8();
    let (fw, fh) = frame.dimensions();
    let pixels = if augment == LaneAugment::NONE {
        frame.into_raw()
    } else if (fw as usize, fh as usize) == (WIDTH, HEIGHT) {
        augment.frame(frame.as_raw())
    } else {
        return Err(Error::Data(format!(
            "{}: {fw}x{fh} frame; TuSimple's augmentation needs {WIDTH}x{HEIGHT}",
            item.frame.display()
        )));
    };
    let small = super::resize::resize_bilinear(&pixels, fw as usize, fh as usize, w, h);
    let mut image = Vec::with_capacity(3 * h * w);
    for (c, (mean, std)) in norm.iter().enumerate() {
        image.extend(
            small
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&p| (p as f32 / 255.0 - mean) / std),
        );
    }
    Ok(image)
}

/// The [`frames`] of `items` with their training targets, augmented from `augment_seed` as
/// UFLD trains (one draw per frame), or not with `None`.
pub fn batch_data(
    items: &[&LaneItem],
    [h, w]: [usize; 2],
    griding_num: usize,
    augment_seed: Option<u64>,
) -> Result<LaneBatchData> {
    let augments: Vec<LaneAugment> = (0..items.len())
        .map(|i| {
            augment_seed.map_or(LaneAugment::NONE, |seed| {
                LaneAugment::draw(&mut SplitMix64::new(stream(seed, &format!("lane {i}"))))
            })
        })
        .collect();
    // One label image per frame for both targets, drawn in parallel.
    let targets: Vec<(Vec<i64>, Vec<i64>)> = items
        .par_iter()
        .zip(&augments)
        .map(|(item, &augment)| {
            let image = label_image(&lane_slots(&item.label));
            let cells = image_row_targets(&image, griding_num, augment)
                .iter()
                .flatten()
                .map(|&c| c as i64)
                .collect();
            let segmentation = image_segmentation_target(&image, h / 8, w / 8, augment)
                .iter()
                .map(|&s| s as i64)
                .collect();
            (cells, segmentation)
        })
        .collect();
    let (cells, segmentation): (Vec<Vec<i64>>, Vec<Vec<i64>>) = targets.into_iter().unzip();
    let data = LaneBatchData {
        images: frames(items, [h, w], Some(&augments))?,
        cells: cells.concat(),
        segmentation: segmentation.concat(),
    };
    Ok(data)
}
