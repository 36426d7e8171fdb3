//! Detection batches as the reference implementation builds them (eriklindernoren/PyTorch-YOLOv3,
//! commit 1d621c8, `pytorchyolo/utils/{augmentations,transforms,datasets}.py`): the image is
//! augmented at its own size (training only), padded to a square with zeros, centred
//! (`PadSquare`), scaled to [0, 1] and resized to the model input by nearest neighbour
//! (`Resize`: `F.interpolate(mode="nearest")`); boxes become `(class, cx, cy, w, h)` relative
//! to the padded square, so they need no resizing.
//!
//! The training augmentation is the reference's `DefaultAug` (imgaug), in its order, each drawn
//! per image from the batch seed:
//! `Sharpen(alpha 0..0.1)`, `Affine(translate -10..10 %, scale 0.8..1.5)` (bilinear, zeros
//! outside), `AddToBrightness(-60..40)`, `AddToHue(-10..10)`, `Fliplr(0.5)`, then boxes clipped
//! to the image (those wholly outside dropped). Each follows imgaug's definition; the bytes are
//! not imgaug's (its random streams and OpenCV's colour conversions are not reproduced).

use super::coco::CocoImage;
use crate::base::rng::{SplitMix64, stream};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// An RGB image, row-major, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Rgb {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` bytes.
    pub pixels: Vec<u8>,
}

/// A box target relative to the padded square: `(class, cx, cy, w, h)`.
pub type Target = (usize, [f64; 4]);

/// One batch's host data: images `[n, 3, s, s]` in [0, 1] and targets `(image, class, box)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionBatchData {
    /// Pixels, channel-major per image.
    pub images: Vec<f32>,
    /// Every target with the index of its image in the batch.
    pub targets: Vec<(usize, Target)>,
}

/// Decodes an image file to RGB.
pub fn decode(path: &std::path::Path) -> Result<Rgb> {
    let image = image::open(path)
        .map_err(|e| Error::Data(format!("{}: cannot decode ({e})", path.display())))?
        .to_rgb8();
    Ok(Rgb {
        width: image.width() as usize,
        height: image.height() as usize,
        pixels: image.into_raw(),
    })
}

/// The draws of `DefaultAug` for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    /// Sharpen's blend of the sharpened image.
    pub sharpen: f64,
    /// Affine scale.
    pub scale: f64,
    /// Affine translation, fractions of width and height.
    pub translate: [f64; 2],
    /// Added to luma.
    pub brightness: i32,
    /// Added to hue, in imgaug's units (255 is half a turn; see [`add_hue`]).
    pub hue: i32,
    /// Mirrored left-right.
    pub flip: bool,
}

impl Augment {
    /// One draw from `rng`, in `DefaultAug`'s order.
    pub fn draw(rng: &mut SplitMix64) -> Augment {
        let uniform = |rng: &mut SplitMix64, lo: f64, hi: f64| lo + (hi - lo) * rng.next_f64();
        Augment {
            sharpen: uniform(rng, 0.0, 0.1),
            translate: [uniform(rng, -0.1, 0.1), uniform(rng, -0.1, 0.1)],
            scale: uniform(rng, 0.8, 1.5),
            brightness: rng.below(101) as i32 - 60,
            hue: rng.below(21) as i32 - 10,
            flip: rng.below(2) == 1,
        }
    }

    /// Applies the draw to `image` and its absolute `[x1, y1, x2, y2]` boxes.
    pub fn apply(&self, image: &Rgb, boxes: &[(usize, [f64; 4])]) -> (Rgb, Vec<(usize, [f64; 4])>) {
        let image = sharpen(image, self.sharpen);
        let (image, boxes) = affine(&image, boxes, self.scale, self.translate);
        let image = add_brightness(&image, self.brightness);
        let image = add_hue(&image, self.hue);
        if self.flip {
            let w = image.width as f64;
            let boxes = boxes
                .into_iter()
                .map(|(c, [x1, y1, x2, y2])| (c, [w - x2, y1, w - x1, y2]))
                .collect();
            (flip(&image), boxes)
        } else {
            (image, boxes)
        }
    }
}

/// `v.round().clamp(0.0, 255.0) as u8` for a finite `v`, without a call to libm's `round`
/// (the default x86-64 target has no rounding instruction): inside (0, 255) the sum below is
/// rounded once and truncated, which is round-half-away-from-zero for every such `v` (LLVM
/// lowers `round` the same way where it has no instruction for it).
fn round_to_byte(v: f64) -> u8 {
    if v <= 0.0 {
        0
    } else if v >= 255.0 {
        255
    } else {
        (v + 0.499_999_999_999_999_94) as u8
    }
}

/// imgaug's `Sharpen(alpha, lightness = 1)`: the 3x3 kernel `(1 - alpha) * identity + alpha *
/// [[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]]`, borders reflected (OpenCV's default), rounded
/// and clipped to bytes.
fn sharpen(image: &Rgb, alpha: f64) -> Rgb {
    if alpha == 0.0 {
        return image.clone();
    }
    let (w, h) = (image.width, image.height);
    // BORDER_REFLECT_101: -1 -> 1, n -> n - 2 (a single row or column reflects onto itself).
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        (if n == 1 {
            0
        } else if i < 0 {
            -i
        } else if i >= n {
            2 * n - 2 - i
        } else {
            i
        }) as usize
    };
    // The image with its reflected border, so every pixel reads its eight neighbours directly.
    let (pw, ph) = (w + 2, h + 2);
    let mut padded = vec![0u8; pw * ph * 3];
    for py in 0..ph {
        let sy = reflect(py as isize - 1, h);
        for px in 0..pw {
            let sx = reflect(px as isize - 1, w);
            let from = (sy * w + sx) * 3;
            padded[(py * pw + px) * 3..][..3].copy_from_slice(&image.pixels[from..from + 3]);
        }
    }
    let row = pw * 3;
    let mut out = image.clone();
    for y in 0..h {
        for x in 0..w {
            let centre_at = ((y + 1) * pw + x + 1) * 3;
            for c in 0..3 {
                let at = centre_at + c;
                // At most 8 x 255: the integer sum is the f64 sum, in any order.
                let ring = [
                    at - row - 3,
                    at - row,
                    at - row + 3,
                    at - 3,
                    at + 3,
                    at + row - 3,
                    at + row,
                    at + row + 3,
                ]
                .iter()
                .map(|&i| u32::from(padded[i]))
                .sum::<u32>();
                let centre = f64::from(padded[at]);
                let value = (1.0 - alpha) * centre + alpha * (9.0 * centre - f64::from(ring));
                out.pixels[(y * w + x) * 3 + c] = round_to_byte(value);
            }
        }
    }
    out
}

/// imgaug's `Affine(scale, translate_percent)` about the image centre, bilinear, zeros outside;
/// boxes mapped by their corners, clipped to the image, dropped when nothing is left.
fn affine(
    image: &Rgb,
    boxes: &[(usize, [f64; 4])],
    scale: f64,
    [tx, ty]: [f64; 2],
) -> (Rgb, Vec<(usize, [f64; 4])>) {
    let (w, h) = (image.width, image.height);
    let (shift_x, shift_y) = (tx * w as f64, ty * h as f64);
    // Pixel-centre coordinates: the centre is at ((w - 1) / 2, (h - 1) / 2).
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    // The source coordinate of a column depends on x alone and that of a row on y alone:
    // each is computed once, as (whole part, fraction).
    let source = |n: usize, centre: f64, shift: f64| -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let s = (i as f64 - centre - shift) / scale + centre;
                let whole = s.floor();
                (whole, s - whole)
            })
            .collect()
    };
    let (columns, rows) = (source(w, cx, shift_x), source(h, cy, shift_y));
    let mut out = vec![0u8; w * h * 3];
    for (y, &(y0, fy)) in rows.iter().enumerate() {
        for (x, &(x0, fx)) in columns.iter().enumerate() {
            for c in 0..3 {
                let at = |xx: f64, yy: f64| {
                    if xx < 0.0 || yy < 0.0 || xx >= w as f64 || yy >= h as f64 {
                        0.0
                    } else {
                        f64::from(image.pixels[(yy as usize * w + xx as usize) * 3 + c])
                    }
                };
                let value = (1.0 - fy) * ((1.0 - fx) * at(x0, y0) + fx * at(x0 + 1.0, y0))
                    + fy * ((1.0 - fx) * at(x0, y0 + 1.0) + fx * at(x0 + 1.0, y0 + 1.0));
                out[(y * w + x) * 3 + c] = round_to_byte(value);
            }
        }
    }
    // In edge coordinates (pixel i spans [i, i + 1]) the centre is (w / 2, h / 2).
    let map = |v: f64, centre: f64, shift: f64| (v - centre) * scale + centre + shift;
    let boxes = boxes
        .iter()
        .filter_map(|&(class, [x1, y1, x2, y2])| {
            let (w, h) = (w as f64, h as f64);
            let x1 = map(x1, w / 2.0, shift_x).clamp(0.0, w);
            let x2 = map(x2, w / 2.0, shift_x).clamp(0.0, w);
            let y1 = map(y1, h / 2.0, shift_y).clamp(0.0, h);
            let y2 = map(y2, h / 2.0, shift_y).clamp(0.0, h);
            (x2 > x1 && y2 > y1).then_some((class, [x1, y1, x2, y2]))
        })
        .collect();
    (
        Rgb {
            width: w,
            height: h,
            pixels: out,
        },
        boxes,
    )
}

/// imgaug's `AddToBrightness`: `add` on the luma channel of YCrCb, which with the chroma kept
/// adds `add` to each of R, G and B; clipped to bytes.
fn add_brightness(image: &Rgb, add: i32) -> Rgb {
    Rgb {
        width: image.width,
        height: image.height,
        pixels: image
            .pixels
            .iter()
            .map(|&v| (i32::from(v) + add).clamp(0, 255) as u8)
            .collect(),
    }
}

/// `x.rem_euclid(360.0)` for `x` in (-360, 720), without libm's `fmod`: below 0 `x + 360` (what
/// `rem_euclid` adds to the remainder `x`), from 360 on `x - 360` (the remainder, exact there).
fn wrap_degrees(x: f64) -> f64 {
    debug_assert!((-360.0..720.0).contains(&x), "{x}");
    if x < 0.0 {
        x + 360.0
    } else if x >= 360.0 {
        x - 360.0
    } else {
        x
    }
}

/// `h.rem_euclid(2.0)` for `h` in [0, 6], without libm's `fmod` (each difference is exact; 6
/// is reached when a tiny negative hue wraps to 360).
fn wrap_sextant_pair(h: f64) -> f64 {
    debug_assert!((0.0..=6.0).contains(&h), "{h}");
    if h >= 6.0 {
        h - 6.0
    } else if h >= 4.0 {
        h - 4.0
    } else if h >= 2.0 {
        h - 2.0
    } else {
        h
    }
}

/// imgaug's `AddToHue`: the hue of HSV shifted by `add * 180 / 255` in OpenCV's 8-bit hue
/// units (0..180 per turn, i.e. `add * 360 / 255` degrees), wrapping around.
fn add_hue(image: &Rgb, add: i32) -> Rgb {
    if add == 0 {
        return image.clone();
    }
    let shift = f64::from(add) * 180.0 / 255.0 * 2.0;
    let mut pixels = Vec::with_capacity(image.pixels.len());
    for p in image.pixels.chunks_exact(3) {
        let [r, g, b] = [p[0], p[1], p[2]].map(|v| f64::from(v) / 255.0);
        let max = r.max(g).max(b);
        let min = r.min(g).min(b);
        let delta = max - min;
        if delta == 0.0 {
            pixels.extend_from_slice(&p[..3]);
            continue;
        }
        // Hue in degrees, in [-60, 300].
        let hue = if max == r {
            60.0 * ((g - b) / delta)
        } else if max == g {
            60.0 * ((b - r) / delta + 2.0)
        } else {
            60.0 * ((r - g) / delta + 4.0)
        };
        let hue = wrap_degrees(hue + shift);
        let (s, v) = (delta / max, max);
        let c = v * s;
        let x = c * (1.0 - (wrap_sextant_pair(hue / 60.0) - 1.0).abs());
        let (r1, g1, b1) = match (hue / 60.0) as u32 {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        let m = v - c;
        pixels.extend([r1, g1, b1].map(|u| round_to_byte((u + m) * 255.0)));
    }
    Rgb {
        width: image.width,
        height: image.height,
        pixels,
    }
}

/// Mirrored left-right.
fn flip(image: &Rgb) -> Rgb {
    let w = image.width;
    let mut pixels = Vec::with_capacity(image.pixels.len());
    for row in image.pixels.chunks_exact(w * 3) {
        for pixel in row.chunks_exact(3).rev() {
            pixels.extend_from_slice(pixel);
        }
    }
    Rgb {
        width: w,
        height: image.height,
        pixels,
    }
}

/// Padding `(left, top)` that centres an image in its square (imgaug's `PadToAspectRatio(1.0,
/// "center-center")`: the odd pixel goes right or bottom) and the square's side.
pub fn square_padding(width: usize, height: usize) -> ([usize; 2], usize) {
    let side = width.max(height);
    ([(side - width) / 2, (side - height) / 2], side)
}

/// The image padded to its square with zeros and resized to `size` x `size` by nearest
/// neighbour (`F.interpolate`: source index `floor(i * side / size)`), channel-major in
/// [0, 1].
pub fn letterbox(image: &Rgb, size: usize) -> Vec<f32> {
    let ([left, top], side) = square_padding(image.width, image.height);
    let scale = side as f64 / size as f64;
    let source: Vec<usize> = (0..size)
        .map(|i| ((i as f64 * scale).floor() as usize).min(side - 1))
        .collect();
    let mut out = vec![0.0f32; 3 * size * size];
    for (y, &sy) in source.iter().enumerate() {
        let Some(iy) = sy.checked_sub(top).filter(|&iy| iy < image.height) else {
            continue;
        };
        for (x, &sx) in source.iter().enumerate() {
            let Some(ix) = sx.checked_sub(left).filter(|&ix| ix < image.width) else {
                continue;
            };
            for c in 0..3 {
                out[(c * size + y) * size + x] =
                    f32::from(image.pixels[(iy * image.width + ix) * 3 + c]) / 255.0;
            }
        }
    }
    out
}

/// Absolute `[x1, y1, x2, y2]` boxes of an image of `width` x `height` as targets relative to
/// its padded square.
pub fn relative_targets(boxes: &[(usize, [f64; 4])], width: usize, height: usize) -> Vec<Target> {
    let ([left, top], side) = square_padding(width, height);
    let side = side as f64;
    boxes
        .iter()
        .map(|&(class, [x1, y1, x2, y2])| {
            let (x1, x2) = (x1 + left as f64, x2 + left as f64);
            let (y1, y2) = (y1 + top as f64, y2 + top as f64);
            (
                class,
                [
                    (x1 + x2) / 2.0 / side,
                    (y1 + y2) / 2.0 / side,
                    (x2 - x1) / side,
                    (y2 - y1) / side,
                ],
            )
        })
        .collect()
}

/// The training targets of an image (crowd regions are not targets) as `[x1, y1, x2, y2]`.
fn target_boxes(image: &CocoImage) -> Vec<(usize, [f64; 4])> {
    image
        .boxes
        .iter()
        .filter(|b| !b.crowd)
        .map(|b| {
            let [x, y, w, h] = b.bbox;
            (b.class, [x, y, x + w, y + h])
        })
        .collect()
}

/// The batch of `items` at input `size`, augmented from `augment_seed` (one draw per image)
/// or not. Images are decoded and augmented in parallel; each image's draw depends only on its
/// place in the batch, so the batch is the same however the threads are scheduled.
pub fn batch_data(
    items: &[&CocoImage],
    size: usize,
    augment_seed: Option<u64>,
) -> Result<DetectionBatchData> {
    let per_image: Vec<(Vec<f32>, Vec<Target>)> = items
        .par_iter()
        .enumerate()
        .map(|(i, item)| image_data(item, i, size, augment_seed))
        .collect::<Result<_>>()?;
    let mut data = DetectionBatchData {
        images: Vec::with_capacity(items.len() * 3 * size * size),
        targets: Vec::new(),
    };
    for (i, (pixels, targets)) in per_image.into_iter().enumerate() {
        data.images.extend(pixels);
        data.targets.extend(targets.into_iter().map(|t| (i, t)));
    }
    Ok(data)
}

/// Image `i` of a batch, letterboxed to `size`, with its targets.
fn image_data(
    item: &CocoImage,
    i: usize,
    size: usize,
    augment_seed: Option<u64>,
) -> Result<(Vec<f32>, Vec<Target>)> {
    let image = decode(&item.path)?;
    if [image.width as u32, image.height as u32] != item.size {
        return Err(Error::Data(format!(
            "{}: the image is {}x{}, its annotation says {}x{}",
            item.path.display(),
            image.width,
            image.height,
            item.size[0],
            item.size[1]
        )));
    }
    let boxes = target_boxes(item);
    let (image, boxes) = match augment_seed {
        Some(seed) => {
            let draw = Augment::draw(&mut SplitMix64::new(stream(
                seed,
                &format!("detection {i}"),
            )));
            draw.apply(&image, &boxes)
        }
        None => (image, boxes),
    };
    Ok((
        letterbox(&image, size),
        relative_targets(&boxes, image.width, image.height),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: usize, height: usize) -> Rgb {
        Rgb {
            width,
            height,
            pixels: (0..width * height * 3).map(|i| (i % 251) as u8).collect(),
        }
    }

    #[test]
    fn letterbox_centres_and_resizes_by_nearest_neighbour() {
        // 2 wide, 4 high: padded to 4x4 with one column each side, resized to 2x2: sources
        // 0 and 2 in both axes, i.e. padding column 0 and image column 1 (padded column 2).
        let img = image(2, 4);
        assert_eq!(square_padding(2, 4), ([1, 0], 4));
        let out = letterbox(&img, 2);
        let red = |x: usize, y: usize| f32::from(img.pixels[(y * 2 + x) * 3]) / 255.0;
        assert_eq!(&out[0..4], &[0.0, red(1, 0), 0.0, red(1, 2)]);
        // Odd padding: 3 wide, 6 high -> left 1, right 2.
        assert_eq!(square_padding(3, 6), ([1, 0], 6));
    }

    #[test]
    fn round_to_byte_is_round_then_clamp() {
        let reference = |v: f64| v.round().clamp(0.0, 255.0) as u8;
        let mut values = vec![-1.5, -0.5, -0.0, 0.0, 255.0, 255.5, 300.0];
        for k in 0..256 {
            for base in [k as f64, k as f64 + 0.5] {
                // The value, its neighbours one ulp away, and a spread of fractions.
                values.extend([base, base.next_down(), base.next_up()]);
            }
            values.extend((0..97).map(|i| k as f64 + i as f64 / 97.0));
        }
        for v in values {
            assert_eq!(round_to_byte(v), reference(v), "{v:e}");
        }
    }

    #[test]
    fn the_hue_wraps_are_rem_euclid() {
        // Every hue the shift can produce (-60 - 14.2 .. 300 + 14.2, and more), densely, and the
        // edges (a tiny negative hue wraps to 360 exactly).
        let mut degrees: Vec<f64> = (-75_000..375_000)
            .map(|i| i as f64 / 1000.0 + 1e-4)
            .collect();
        degrees.extend([
            -0.0,
            0.0,
            -1e-20,
            360.0,
            360f64.next_down(),
            0f64.next_down(),
            0f64.next_up(),
        ]);
        for x in degrees {
            assert_eq!(
                wrap_degrees(x).to_bits(),
                x.rem_euclid(360.0).to_bits(),
                "{x:e}"
            );
        }
        let mut sextants: Vec<f64> = (0..600_000).map(|i| i as f64 / 100_000.0).collect();
        sextants.extend([
            2f64.next_down(),
            4f64.next_down(),
            6f64.next_down(),
            2.0,
            4.0,
            6.0,
        ]);
        for h in sextants {
            assert_eq!(
                wrap_sextant_pair(h).to_bits(),
                h.rem_euclid(2.0).to_bits(),
                "{h:e}"
            );
        }
    }

    #[test]
    fn targets_are_relative_to_the_padded_square() {
        let targets = relative_targets(&[(2, [0.0, 10.0, 50.0, 30.0])], 50, 100);
        // Padded by 25 on the left: box x 25..75, y 10..30 in a 100 square.
        assert_eq!(targets, vec![(2, [0.5, 0.2, 0.5, 0.2])]);
    }

    #[test]
    fn flip_mirrors_pixels_and_boxes() {
        let img = image(4, 2);
        let draw = Augment {
            sharpen: 0.0,
            scale: 1.0,
            translate: [0.0, 0.0],
            brightness: 0,
            hue: 0,
            flip: true,
        };
        let (out, boxes) = draw.apply(&img, &[(0, [0.0, 0.0, 1.0, 2.0])]);
        assert_eq!(&out.pixels[0..3], &img.pixels[9..12]);
        assert_eq!(boxes, vec![(0, [3.0, 0.0, 4.0, 2.0])]);
    }

    #[test]
    fn affine_scales_about_the_centre_and_clips_boxes() {
        let img = image(10, 10);
        // Scale 2 about (5, 5), shifted right by 10%: x -> 2x - 5 + 1.
        let (_, boxes) = affine(
            &img,
            &[(1, [4.0, 4.0, 6.0, 6.0]), (0, [0.0, 0.0, 2.0, 2.0])],
            2.0,
            [0.1, 0.0],
        );
        assert_eq!(boxes, vec![(1, [4.0, 3.0, 8.0, 7.0])]);
        // Identity: pixels unchanged.
        let (same, _) = affine(&img, &[], 1.0, [0.0, 0.0]);
        assert_eq!(same, img);
    }

    #[test]
    fn brightness_and_sharpen_follow_their_definitions() {
        let img = Rgb {
            width: 3,
            height: 1,
            pixels: vec![10, 20, 250, 100, 100, 100, 0, 0, 0],
        };
        assert_eq!(
            add_brightness(&img, 10).pixels,
            vec![20, 30, 255, 110, 110, 110, 10, 10, 10]
        );
        // Centre pixel red: (1 - 0.1) * 100 + 0.1 * (9 * 100 - (3 * 10 + 2 * 100 + 3 * 0))
        // with reflected rows (the row above and below are the row itself).
        let out = sharpen(&img, 0.1);
        assert_eq!(
            out.pixels[3],
            (0.9f64 * 100.0 + 0.1 * (900.0 - 230.0)).round() as u8
        );
        // A grey pixel has no hue.
        assert_eq!(add_hue(&img, 10).pixels[3..6], [100, 100, 100]);
    }
}
