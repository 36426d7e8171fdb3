//! Pillow's `Image.resize(..., BILINEAR)` on 8-bit RGB, byte for byte (Pillow's
//! `Resample.c`): a triangle filter widened by the scale when shrinking (antialiasing),
//! coefficients normalised and rounded to 22-bit fixed point, a horizontal pass into 8-bit
//! rows, then a vertical pass. torchvision's `Resize` does this to PIL frames, so UFLD's
//! training inputs and torchvision's ImageNet views are these bytes. (Pillow 13.0 takes the
//! vertical pass first for some sizes, e.g. 257x301 -> 224x224, moving a few bytes by one
//! level; Resample.c as published and this port go horizontally first:
//! tests/integration/imagefolder.rs measures both.)

/// Fixed-point bits of the coefficients (`PRECISION_BITS = 32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// Per output index: the first input index and the fixed-point weights.
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i64>)> {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filter_scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let weights: Vec<f64> = (xmin..xmax)
                .map(|x| {
                    let t = ((x as f64 - center + 0.5) * ss).abs();
                    if t < 1.0 { 1.0 - t } else { 0.0 }
                })
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|w| {
                    let k = if total != 0.0 { w / total } else { *w };
                    let scaled = k * (1u64 << PRECISION_BITS) as f64;
                    if k < 0.0 {
                        (scaled - 0.5) as i64
                    } else {
                        (scaled + 0.5) as i64
                    }
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// `rgb` (`height` rows of `width` RGB pixels) resized to `out_width` x `out_height`.
pub fn resize_bilinear(
    rgb: &[u8],
    width: usize,
    height: usize,
    out_width: usize,
    out_height: usize,
) -> Vec<u8> {
    assert_eq!(rgb.len(), width * height * 3, "RGB bytes of the frame");
    let half = 1i64 << (PRECISION_BITS - 1);
    let horizontal = coefficients(width, out_width);
    let mut rows = vec![0u8; out_width * height * 3];
    for y in 0..height {
        for (xx, (xmin, k)) in horizontal.iter().enumerate() {
            for c in 0..3 {
                let sum = k.iter().enumerate().fold(half, |s, (i, w)| {
                    s + rgb[(y * width + xmin + i) * 3 + c] as i64 * w
                });
                rows[(y * out_width + xx) * 3 + c] = clip8(sum);
            }
        }
    }
    let vertical = coefficients(height, out_height);
    let mut out = vec![0u8; out_width * out_height * 3];
    for (yy, (ymin, k)) in vertical.iter().enumerate() {
        for x in 0..out_width {
            for c in 0..3 {
                let sum = k.iter().enumerate().fold(half, |s, (i, w)| {
                    s + rows[((ymin + i) * out_width + x) * 3 + c] as i64 * w
                });
                out[(yy * out_width + x) * 3 + c] = clip8(sum);
            }
        }
    }
    out
}
