//! ImageFolder-style data (ImageNet's `train/` and `val/`): one sub-folder per class, sorted by
//! name (class index = position, as torchvision's `ImageFolder`), JPEG or PNG files inside.
//! Batches are decoded in parallel with torchvision's evaluation pipeline, pixel for pixel on
//! lossless files (tests/integration/imagefolder.rs against scripts/imagefolder_reference.py):
//! resize the shorter side to 256 with PIL's bilinear filter, crop 224 at the centre. Training
//! views follow its recipe's `RandomResizedCrop(224)` and `RandomHorizontalFlip()` (our random
//! stream, its parameters and arithmetic). Then torchvision's ImageNet normalisation.

use crate::base::rng::SplitMix64;
use crate::catalog::IMAGENET_NORM;
use crate::error::{Error, Result};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rayon::prelude::*;
use std::borrow::Cow;
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

/// torchvision's `Resize(256)` size rule (transforms/functional.py 353-384 of torchvision
/// 0.26): the shorter side becomes 256, the longer `int(256 * long / short)`, truncated.
pub fn resized_size(width: u32, height: u32) -> (u32, u32) {
    let (short, long) = (width.min(height) as u64, width.max(height) as u64);
    let new_long = (RESIZE as u64 * long / short) as u32;
    if width <= height {
        (RESIZE, new_long)
    } else {
        (new_long, RESIZE)
    }
}

/// torchvision's `CenterCrop` offset for a margin of `margin` pixels (functional.py 592-593):
/// `int(round(margin / 2.0))`, Python's round, half to even.
pub fn centre_offset(margin: u32) -> u32 {
    let half = margin / 2;
    if margin % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

/// `rgb` (`width` x `height`) resized to `out` by PIL's bilinear filter (our byte-for-byte
/// port, [`super::resize`]), or returned as it is when the size is already right, as
/// torchvision does (functional.py 470-471).
fn resize_rgb(rgb: &[u8], (width, height): (u32, u32), out: (u32, u32)) -> Cow<'_, [u8]> {
    if (width, height) == out {
        return Cow::Borrowed(rgb);
    }
    let [w, h, ow, oh] = [width, height, out.0, out.1].map(|v| v as usize);
    Cow::Owned(super::resize::resize_bilinear(rgb, w, h, ow, oh))
}

/// The `w` x `h` window at (`x0`, `y0`) of a `width`-pixel-wide RGB image.
fn crop_rgb(rgb: &[u8], width: u32, (x0, y0, w, h): (u32, u32, u32, u32)) -> Vec<u8> {
    let row = width as usize * 3;
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for y in y0..y0 + h {
        let start = y as usize * row + x0 as usize * 3;
        out.extend_from_slice(&rgb[start..start + w as usize * 3]);
    }
    out
}

/// torchvision's evaluation view: `Resize(256)` then `CenterCrop(224)`, 224x224 RGB bytes in
/// row-major order.
pub fn view_224(image: &image::RgbImage) -> Vec<u8> {
    let (w, h) = image.dimensions();
    let (rw, rh) = resized_size(w, h);
    let resized = resize_rgb(image.as_raw(), (w, h), (rw, rh));
    let window = (
        centre_offset(rw - CROP),
        centre_offset(rh - CROP),
        CROP,
        CROP,
    );
    crop_rgb(&resized, rw, window)
}

/// torchvision's `RandomResizedCrop.get_params` (transforms.py 929-967, scale 0.08-1, ratio
/// 3/4-4/3) for a `width` x `height` image, drawn from `rng`: the window (x, y, w, h).
pub fn random_resized_window(
    width: u32,
    height: u32,
    rng: &mut SplitMix64,
) -> (u32, u32, u32, u32) {
    let area = (width as f64) * (height as f64);
    let (low, high) = ((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
    for _ in 0..10 {
        let target = area * (0.08 + (1.0 - 0.08) * rng.next_f64());
        let ratio = (low + (high - low) * rng.next_f64()).exp();
        let w = (target * ratio).sqrt().round_ties_even() as u32;
        let h = (target / ratio).sqrt().round_ties_even() as u32;
        if 0 < w && w <= width && 0 < h && h <= height {
            let y = rng.below((height - h + 1) as u64) as u32;
            let x = rng.below((width - w + 1) as u64) as u32;
            return (x, y, w, h);
        }
    }
    // Central crop at the nearest allowed ratio.
    let ratio = width as f64 / height as f64;
    let (w, h) = if ratio < 3.0 / 4.0 {
        (
            width,
            ((width as f64) / (3.0 / 4.0)).round_ties_even() as u32,
        )
    } else if ratio > 4.0 / 3.0 {
        (
            ((height as f64) * (4.0 / 3.0)).round_ties_even() as u32,
            height,
        )
    } else {
        (width, height)
    };
    ((width - w) / 2, (height - h) / 2, w, h)
}

/// torchvision's training view (`RandomResizedCrop(224)` and `RandomHorizontalFlip()`, the
/// ImageNet recipe's `ClassificationPresetTrain`): a random window resized to 224x224 by PIL's
/// bilinear filter, and whether to flip it, drawn from `seed`.
pub fn train_view_224(image: &image::RgbImage, seed: u64) -> (Vec<u8>, bool) {
    let mut rng = SplitMix64::new(seed);
    let (w, h) = image.dimensions();
    let window = random_resized_window(w, h, &mut rng);
    (window_224(image, window), rng.below(2) == 1)
}

/// The window (x, y, w, h) of `image` resized to 224x224 as torchvision's `resized_crop` does
/// on PIL images (functional.py 597-621: crop, then PIL's bilinear resize).
pub fn window_224(image: &image::RgbImage, window: (u32, u32, u32, u32)) -> Vec<u8> {
    let crop = crop_rgb(image.as_raw(), image.width(), window);
    resize_rgb(&crop, (window.2, window.3), (CROP, CROP)).into_owned()
}

/// Decodes one image into normalised `3 x 224 x 224` values: the training view drawn from
/// `seed` ([`train_view_224`]), or with `None` the evaluation view ([`view_224`]).
pub fn decode(path: &Path, seed: Option<u64>) -> Result<Vec<f32>> {
    let image = image::open(path)
        .map_err(|e| Error::Corrupt {
            path: path.to_owned(),
            message: format!("cannot decode image: {e}"),
        })?
        .to_rgb8();
    if image.width().min(image.height()) == 0 {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            message: "an image without pixels".into(),
        });
    }
    let (view, flip) = match seed {
        Some(seed) => train_view_224(&image, seed),
        None => (view_224(&image), false),
    };
    let side = CROP as usize;
    let mut out = vec![0f32; 3 * side * side];
    for y in 0..side {
        for x in 0..side {
            let sx = if flip { side - 1 - x } else { x };
            let pixel = &view[(y * side + sx) * 3..][..3];
            for (c, (mean, std)) in IMAGENET_NORM.iter().enumerate() {
                out[(c * side + y) * side + x] = (pixel[c] as f32 / 255.0 - mean) / std;
            }
        }
    }
    Ok(out)
}

/// Decodes `items` in parallel into a batch `[n, 3, 224, 224]` with labels; `seed` gives the
/// training draws (random resized crop and flip per image), `None` evaluates (centre crop).
pub fn batch(
    items: &[(PathBuf, usize)],
    seed: Option<u64>,
    device: &Device,
) -> Result<(Tensor<4>, Tensor<1, Int>)> {
    // One seed per image, drawn in order: the batch is the same however the decoding threads
    // are scheduled.
    let draws: Vec<Option<u64>> = match seed {
        Some(seed) => {
            let mut rng = SplitMix64::new(seed);
            items.iter().map(|_| Some(rng.next_u64())).collect()
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
