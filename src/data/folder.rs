//! ImageFolder-style data (ImageNet's `train/` and `val/`): one sub-folder per class, sorted by
//! name (class index = position, as torchvision's `ImageFolder`), JPEG or PNG files inside.
//! Batches are decoded in parallel with the standard pipeline: resize the shorter side to 256,
//! crop 224 (random for training, centre for evaluation), random horizontal flip for training,
//! normalise with torchvision's ImageNet constants.

use crate::base::rng::SplitMix64;
use crate::catalog::IMAGENET_NORM;
use crate::error::{Error, Result};
use burn::tensor::{Device, Int, Tensor, TensorData};
use image::imageops::FilterType;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Shorter side after resizing.
pub const RESIZE: u32 = 256;
/// Side of the crop fed to the model.
pub const CROP: u32 = 224;

/// The images of one split and their class names.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolder {
    /// Class folder names; a label is an index into this list.
    pub classes: Vec<String>,
    /// Every image file with its label, sorted by class then file name.
    pub items: Vec<(PathBuf, usize)>,
}

/// Lists `dir`'s class folders and their `.jpg`, `.jpeg` and `.png` files.
pub fn scan(dir: &Path) -> Result<ImageFolder> {
    let entries = |dir: &Path| -> Result<Vec<PathBuf>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::Data(format!("missing {}", dir.display()))
                } else {
                    Error::io(dir)(e)
                }
            })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        Ok(paths)
    };
    let mut folder = ImageFolder {
        classes: Vec::new(),
        items: Vec::new(),
    };
    for class_dir in entries(dir)?.into_iter().filter(|p| p.is_dir()) {
        let label = folder.classes.len();
        folder.classes.push(
            class_dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
        for file in entries(&class_dir)? {
            let image = file.extension().is_some_and(|x| {
                matches!(
                    x.to_ascii_lowercase().to_str(),
                    Some("jpg" | "jpeg" | "png")
                )
            });
            if image {
                folder.items.push((file, label));
            }
        }
    }
    if folder.items.is_empty() {
        return Err(Error::Data(format!(
            "{}: no class folders with .jpg, .jpeg or .png images",
            dir.display()
        )));
    }
    Ok(folder)
}

/// Decodes one image into normalised `3 x 224 x 224` values; `draw` = (crop x, crop y, flip)
/// fractions for training, `None` for the centre crop.
pub fn decode(path: &Path, draw: Option<(f64, f64, bool)>) -> Result<Vec<f32>> {
    let image = image::open(path).map_err(|e| Error::Corrupt {
        path: path.to_owned(),
        message: format!("cannot decode image: {e}"),
    })?;
    let (w, h) = (image.width(), image.height());
    let scale = RESIZE as f64 / w.min(h) as f64;
    let (rw, rh) = (
        ((w as f64 * scale).round() as u32).max(CROP),
        ((h as f64 * scale).round() as u32).max(CROP),
    );
    let resized = image.resize_exact(rw, rh, FilterType::Triangle).to_rgb8();
    let (fx, fy, flip) = draw.unwrap_or((0.5, 0.5, false));
    let x0 = ((rw - CROP) as f64 * fx).round() as u32;
    let y0 = ((rh - CROP) as f64 * fy).round() as u32;
    let side = CROP as usize;
    let mut out = vec![0f32; 3 * side * side];
    for y in 0..side {
        for x in 0..side {
            let sx = if flip { side - 1 - x } else { x };
            let pixel = resized.get_pixel(x0 + sx as u32, y0 + y as u32);
            for (c, (mean, std)) in IMAGENET_NORM.iter().enumerate() {
                out[(c * side + y) * side + x] = (pixel[c] as f32 / 255.0 - mean) / std;
            }
        }
    }
    Ok(out)
}

/// Decodes `items` in parallel into a batch `[n, 3, 224, 224]` with labels; `seed` gives the
/// training draws (random crop position and flip per image), `None` evaluates (centre crop).
pub fn batch(
    items: &[(PathBuf, usize)],
    seed: Option<u64>,
    device: &Device,
) -> Result<(Tensor<4>, Tensor<1, Int>)> {
    let draws: Vec<Option<(f64, f64, bool)>> = match seed {
        Some(seed) => {
            let mut rng = SplitMix64::new(seed);
            items
                .iter()
                .map(|_| Some((rng.next_f64(), rng.next_f64(), rng.below(2) == 1)))
                .collect()
        }
        None => vec![None; items.len()],
    };
    let images: Vec<Vec<f32>> = items
        .par_iter()
        .zip(draws)
        .map(|((path, _), draw)| decode(path, draw))
        .collect::<Result<_>>()?;
    let n = items.len();
    let side = CROP as usize;
    let values: Vec<f32> = images.into_iter().flatten().collect();
    let labels: Vec<i64> = items.iter().map(|(_, l)| *l as i64).collect();
    Ok((
        Tensor::<4>::from_data(TensorData::new(values, [n, 3, side, side]), device),
        Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device),
    ))
}
