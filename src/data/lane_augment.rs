//! UFLD's training augmentation (cfzd/Ultra-Fast-Lane-Detection, `data/dataloader.py` and
//! `data/mytransforms.py`): `Compose2([RandomRotate(6), RandomUDoffsetLABEL(100),
//! RandomLROffsetLABEL(200)])` on the 1280x720 frame and its label image, before the frame is
//! resized and the targets are read from the label.
//!
//! - `RandomRotate(6)`: an integer angle in [-6, 6] degrees (`random.randint(0, 12) - 6`),
//!   Pillow's `rotate` about the centre, bilinear for the frame, nearest for the label, outside
//!   filled with 0 (Pillow's `ImagingGenericTransform` with `affine_transform`, `COORD`,
//!   `BILINEAR_HEAD`/`BILINEAR_BODY` and a truncating cast to 8 bits).
//! - `RandomUDoffsetLABEL(100)`: rows shifted down by an offset in [-100, 99]
//!   (`np.random.randint(-100, 100)`), vacated rows 0.
//! - `RandomLROffsetLABEL(200)`: columns shifted right by an offset in [-200, 199], vacated
//!   columns 0.
//!
//! The three compose into one map from an output pixel to where it is read in the original
//! frame, so the frame is resampled once and the label image is never drawn.

use super::tusimple::{HEIGHT, WIDTH};
use crate::base::rng::SplitMix64;

/// One draw of the augmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LaneAugment {
    /// Rotation in degrees, counter-clockwise (Pillow's sense).
    pub angle: i32,
    /// Rows moved down (negative: up).
    pub down: i32,
    /// Columns moved right (negative: left).
    pub right: i32,
}

impl LaneAugment {
    /// No augmentation (evaluation).
    pub const NONE: LaneAugment = LaneAugment {
        angle: 0,
        down: 0,
        right: 0,
    };

    /// A draw from `rng`, in UFLD's order: angle, vertical then horizontal offset.
    pub fn draw(rng: &mut SplitMix64) -> LaneAugment {
        let angle = rng.below(13) as i32 - 6;
        let down = rng.below(200) as i32 - 100;
        let right = rng.below(400) as i32 - 200;
        LaneAugment { angle, down, right }
    }

    /// Pillow's `rotate` matrix: output `(x, y)` reads input `(a x + b y + c, d x + e y + f)`.
    fn matrix(self) -> [f64; 6] {
        // `round(math.cos(angle), 15)`: exact zeros and ones for the right angles.
        let round15 = |v: f64| (v * 1e15).round() / 1e15;
        let angle = -(self.angle as f64).to_radians();
        let (cos, sin) = (round15(angle.cos()), round15(angle.sin()));
        let (cx, cy) = (WIDTH as f64 / 2.0, HEIGHT as f64 / 2.0);
        [
            cos,
            sin,
            cos * -cx + sin * -cy + cx,
            -sin,
            cos,
            -sin * -cx + cos * -cy + cy,
        ]
    }

    /// The label's map: where each augmented label pixel is read (nearest).
    pub fn label_map(self) -> LabelMap {
        // `FIX(v)`: FLOOR(v * 65536 + 0.5).
        let fix = |v: f64| (v * 65536.0 + 0.5).floor() as i64;
        let [a, b, c, d, e, f] = self.matrix();
        LabelMap {
            augment: self,
            fixed: [
                fix(a),
                fix(b),
                fix(c + a * 0.5 + b * 0.5),
                fix(d),
                fix(e),
                fix(f + d * 0.5 + e * 0.5),
            ],
        }
    }

    /// The augmented 1280x720 RGB frame (interleaved bytes).
    pub fn frame(self, rgb: &[u8]) -> Vec<u8> {
        if self == LaneAugment::NONE {
            return rgb.to_vec();
        }
        let [a, b, c, d, e, f] = self.matrix();
        let mut out = vec![0u8; rgb.len()];
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                let Some((x1, y1)) = self.unshifted(x, y) else {
                    continue;
                };
                // Pillow's `affine_transform`: pixel centres at +0.5.
                let (x1, y1) = (x1 as f64 + 0.5, y1 as f64 + 0.5);
                let at = (y * WIDTH + x) * 3;
                bilinear(
                    rgb,
                    a * x1 + b * y1 + c,
                    d * x1 + e * y1 + f,
                    &mut out[at..at + 3],
                );
            }
        }
        out
    }

    /// The rotated image's pixel that the offsets move to `(x, y)`, `None` where they fill 0.
    fn unshifted(self, x: usize, y: usize) -> Option<(i64, i64)> {
        let x = x as i64 - self.right as i64;
        let y = y as i64 - self.down as i64;
        ((0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y)).then_some((x, y))
    }
}

/// Where each pixel of an augmented label image is read: Pillow rotates an 8-bit image with
/// nearest resampling in 16.16 fixed point (`affine_fixed`), so this does too.
#[derive(Debug, Clone, Copy)]
pub struct LabelMap {
    augment: LaneAugment,
    /// `a0, a1, a2, a3, a4, a5` of `affine_fixed`.
    fixed: [i64; 6],
}

impl LabelMap {
    /// The label pixel the augmented label's `(x, y)` takes, `None` for 0.
    pub fn source(&self, x: usize, y: usize) -> Option<(usize, usize)> {
        if self.augment == LaneAugment::NONE {
            return Some((x, y));
        }
        let (x, y) = self.augment.unshifted(x, y)?;
        let [a0, a1, a2, a3, a4, a5] = self.fixed;
        // `>> 16`: an arithmetic shift, the floor.
        let xin = (a2 + y * a1 + x * a0) >> 16;
        let yin = (a5 + y * a4 + x * a3) >> 16;
        ((0..WIDTH as i64).contains(&xin) && (0..HEIGHT as i64).contains(&yin))
            .then_some((xin as usize, yin as usize))
    }
}

/// Pillow's `bilinear_filter32RGB` at `(xin, yin)`; leaves `out` at 0 outside the frame.
fn bilinear(rgb: &[u8], xin: f64, yin: f64, out: &mut [u8]) {
    let (w, h) = (WIDTH as i64, HEIGHT as i64);
    if xin < 0.0 || xin >= w as f64 || yin < 0.0 || yin >= h as f64 {
        return;
    }
    let (xin, yin) = (xin - 0.5, yin - 0.5);
    // Both are at least -0.5 here: the floor is -1 below 0 and the truncation above (no call
    // to libm's `floor`, which the default x86-64 target makes).
    let floor = |v: f64| if v < 0.0 { -1 } else { v as i64 };
    let (x, y) = (floor(xin), floor(yin));
    let (dx, dy) = (xin - x as f64, yin - y as f64);
    let x0 = x.clamp(0, w - 1) as usize;
    let x1 = (x + 1).clamp(0, w - 1) as usize;
    let row = |y: i64| y.clamp(0, h - 1) as usize * WIDTH;
    let lerp = |a: f64, b: f64, d: f64| a + (b - a) * d;
    for (band, value) in out.iter_mut().enumerate() {
        let at = |row: usize, col: usize| rgb[(row + col) * 3 + band] as f64;
        let top = row(y);
        let v1 = lerp(at(top, x0), at(top, x1), dx);
        let v2 = if y + 1 >= 0 && y + 1 < h {
            let below = row(y + 1);
            lerp(at(below, x0), at(below, x1), dx)
        } else {
            v1
        };
        // `(UINT8) v1`: truncation.
        *value = lerp(v1, v2, dy) as u8;
    }
}
