//! A small synthetic data set in TuSimple's format, so the lane pipeline is exercised by a
//! real learning task without the real data: 1280x720 JPEG frames of a road (sky, textured
//! asphalt) with 2 to 4 straight lane markings converging to a vanishing point, some dashed,
//! some starting lower or ending early; label files with the markings' centre x at TuSimple's
//! 56 row samples (y = 160 .. 710), exactly as they are drawn.
//!
//! Layout: `clips/synthetic/<i>.jpg`, `label_data_synthetic.json` (training frames) and
//! `test_label.json` (held out), one JSON object per line as in TuSimple.

use super::tusimple::{HEIGHT, WIDTH};
use crate::base::rng::{SplitMix64, stream};
use crate::error::{Error, Result};
use std::path::Path;

/// Name of the training label file.
pub const TRAIN_LABELS: &str = "label_data_synthetic.json";
/// Name of the held-out label file (TuSimple's test labels are `test_label.json`).
pub const TEST_LABELS: &str = "test_label.json";

/// One straight lane marking from the vanishing point `(vx, vy)` to `bottom` at y = 720.
#[derive(Debug, Clone, Copy)]
struct Marking {
    bottom: f64,
    /// First row it is painted on (below the vanishing point).
    top: f64,
    /// Last row it is painted on.
    end: f64,
    dashed: bool,
    /// Yellow instead of white.
    yellow: bool,
}

/// One frame's scene.
struct Scene {
    vx: f64,
    vy: f64,
    markings: Vec<Marking>,
    /// Asphalt grey and the texture's seed.
    grey: f64,
    texture: u64,
}

impl Scene {
    fn random(rng: &mut SplitMix64) -> Scene {
        let vx = 560.0 + 160.0 * rng.next_f64();
        let vy = 230.0 + 60.0 * rng.next_f64();
        let count = 2 + rng.below(3) as usize;
        // Lanes about 3.5 m apart: 450 to 650 px at the bottom row, centred on the car.
        let spacing = 450.0 + 200.0 * rng.next_f64();
        let centre = 640.0 + (rng.next_f64() - 0.5) * 300.0;
        let first = match count {
            2 => centre - spacing / 2.0,
            3 => centre - spacing * if rng.below(2) == 0 { 0.5 } else { 1.5 },
            _ => centre - spacing * 1.5,
        };
        let markings = (0..count)
            .map(|i| Marking {
                bottom: first + spacing * i as f64,
                top: vy
                    + 20.0
                    + if rng.below(4) == 0 {
                        120.0 * rng.next_f64()
                    } else {
                        0.0
                    },
                end: if rng.below(5) == 0 {
                    560.0 + 100.0 * rng.next_f64()
                } else {
                    719.0
                },
                dashed: rng.below(2) == 0,
                yellow: rng.below(6) == 0,
            })
            .collect();
        Scene {
            vx,
            vy,
            markings,
            grey: 70.0 + 50.0 * rng.next_f64(),
            texture: rng.next_u64(),
        }
    }

    /// The marking's centre x at row y.
    fn x(&self, m: &Marking, y: f64) -> f64 {
        self.vx + (m.bottom - self.vx) * (y - self.vy) / (HEIGHT as f64 - self.vy)
    }

    /// Whether the marking is painted at row y (inside its span, on a dash, in the frame).
    fn painted(&self, m: &Marking, y: f64) -> bool {
        let inside = y >= m.top && y <= m.end;
        // Dashes shrink with distance: period and length proportional to y - vy.
        let on_dash = !m.dashed || {
            let depth = ((y - self.vy) / 40.0).ln() * 6.0;
            depth.rem_euclid(2.0) < 1.2
        };
        inside && on_dash
    }

    /// RGB of pixel (x, y).
    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let (xf, yf) = (x as f64, y as f64);
        if yf < self.vy {
            // Sky: lighter towards the horizon.
            let t = yf / self.vy;
            return [
                (110.0 + 90.0 * t) as u8,
                (150.0 + 70.0 * t) as u8,
                (210.0 + 30.0 * t) as u8,
            ];
        }
        for m in &self.markings {
            let half = 1.5 + 10.0 * (yf - self.vy) / (HEIGHT as f64 - self.vy);
            if (xf - self.x(m, yf)).abs() <= half && self.painted(m, yf) {
                return if m.yellow {
                    [230, 200, 60]
                } else {
                    [235, 235, 235]
                };
            }
        }
        // Asphalt with per-pixel grain.
        let grain =
            (SplitMix64::new(self.texture ^ ((y as u64) << 20 | x as u64)).next_f64() - 0.5) * 30.0;
        let g = (self.grey + grain).clamp(0.0, 255.0) as u8;
        [g, g, g.saturating_add(4)]
    }

    /// The label line: each marking's centre x at the row samples (-2 where it is not painted
    /// over a stretch of its span, or outside the frame), as TuSimple annotates visible lanes.
    fn label(&self, raw_file: &str) -> serde_json::Value {
        let h: Vec<f64> = (0..56).map(|i| 160.0 + 10.0 * i as f64).collect();
        let lanes: Vec<Vec<f64>> = self
            .markings
            .iter()
            .map(|m| {
                h.iter()
                    .map(|&y| {
                        let x = self.x(m, y);
                        // TuSimple annotates dashed lanes through their gaps.
                        let inside = y >= m.top && y <= m.end;
                        if inside && (0.0..WIDTH as f64).contains(&x) {
                            x.round()
                        } else {
                            -2.0
                        }
                    })
                    .collect()
            })
            .collect();
        serde_json::json!({"raw_file": raw_file, "lanes": lanes, "h_samples": h})
    }
}

/// Writes `train + test` frames and their label files under `dir`, from `seed`.
pub fn generate(dir: &Path, train: usize, test: usize, seed: u64) -> Result<()> {
    let clips = dir.join("clips/synthetic");
    std::fs::create_dir_all(&clips).map_err(Error::io(&clips))?;
    let mut files = [
        (dir.join(TRAIN_LABELS), String::new()),
        (dir.join(TEST_LABELS), String::new()),
    ];
    for i in 0..train + test {
        let mut rng = SplitMix64::new(stream(seed, &format!("synthetic lanes {i}")));
        let scene = Scene::random(&mut rng);
        let raw_file = format!("clips/synthetic/{i}.jpg");
        let mut pixels = Vec::with_capacity(WIDTH * HEIGHT * 3);
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                pixels.extend(scene.pixel(x, y));
            }
        }
        let path = dir.join(&raw_file);
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode(&pixels, WIDTH as u32, HEIGHT as u32, image::ColorType::Rgb8)
            .map_err(|e| Error::Data(format!("{}: cannot encode ({e})", path.display())))?;
        crate::base::write_atomic(&path, &jpeg)?;
        let file = &mut files[usize::from(i >= train)].1;
        file.push_str(&scene.label(&raw_file).to_string());
        file.push('\n');
    }
    for (path, text) in files {
        crate::base::write_atomic(&path, text.as_bytes())?;
    }
    Ok(())
}
