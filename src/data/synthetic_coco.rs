//! A small synthetic detection set in COCO's format, so the detection path is exercised by a
//! real learning task without COCO: PNG images of varying size and aspect (letterboxing has
//! work to do) with a textured background (a colour gradient, stripes and grain) and one to
//! three shapes of three classes (square, disc, triangle) in random colours and sizes that do
//! not overlap. Each box is the exact extent of its shape's painted pixels.
//!
//! Layout (as COCO's): `train/<id>.png`, `val/<id>.png`, `annotations/instances_train.json`
//! and `annotations/instances_val.json` with categories 1 (square), 2 (disc), 3 (triangle).

use crate::base::rng::{SplitMix64, stream};
use crate::error::{Error, Result};
use std::path::Path;

/// The classes, in category-id order (ids 1, 2, 3).
pub const CLASSES: [&str; 3] = ["square", "disc", "triangle"];

/// One shape: its class and the square it is drawn in (`x`, `y`: top-left; `size`: side).
#[derive(Debug, Clone, Copy)]
struct Shape {
    class: usize,
    x: usize,
    y: usize,
    size: usize,
    colour: [u8; 3],
}

impl Shape {
    /// Whether pixel (px, py) is painted (its centre inside the shape).
    fn covers(&self, px: usize, py: usize) -> bool {
        if px < self.x || py < self.y || px >= self.x + self.size || py >= self.y + self.size {
            return false;
        }
        let s = self.size as f64;
        let (u, v) = ((px - self.x) as f64 + 0.5, (py - self.y) as f64 + 0.5);
        match self.class {
            0 => true,
            1 => (u - s / 2.0).powi(2) + (v - s / 2.0).powi(2) <= (s / 2.0).powi(2),
            // Apex at the top centre, base on the bottom row.
            _ => (u - s / 2.0).abs() <= v / 2.0,
        }
    }
}

/// One image's scene.
struct Scene {
    width: usize,
    height: usize,
    shapes: Vec<Shape>,
    base: [f64; 3],
    stripes: (f64, f64, f64),
    texture: u64,
}

impl Scene {
    fn random(rng: &mut SplitMix64) -> Scene {
        let width = 112 + 8 * rng.below(9) as usize;
        let height = 96 + 8 * rng.below(7) as usize;
        let mut shapes: Vec<Shape> = Vec::new();
        let count = 1 + rng.below(3) as usize;
        // Rejection sampling of non-overlapping squares (a few tries each).
        for _ in 0..count * 20 {
            if shapes.len() == count {
                break;
            }
            let size = 18 + rng.below(39) as usize;
            let x = rng.below((width - size) as u64) as usize;
            let y = rng.below((height - size) as u64) as usize;
            let class = rng.below(3) as usize;
            let colour = [0, 1, 2].map(|_| 40 + rng.below(216) as u8);
            let apart = shapes.iter().all(|o| {
                x + size + 2 <= o.x
                    || o.x + o.size + 2 <= x
                    || y + size + 2 <= o.y
                    || o.y + o.size + 2 <= y
            });
            if apart {
                shapes.push(Shape {
                    class,
                    x,
                    y,
                    size,
                    colour,
                });
            }
        }
        Scene {
            width,
            height,
            shapes,
            base: [0, 1, 2].map(|_| 60.0 + 120.0 * rng.next_f64()),
            stripes: (
                0.05 + 0.25 * rng.next_f64(),
                rng.next_f64() * std::f64::consts::PI,
                10.0 + 25.0 * rng.next_f64(),
            ),
            texture: rng.next_u64(),
        }
    }

    /// RGB of pixel (x, y).
    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        if let Some(shape) = self.shapes.iter().find(|s| s.covers(x, y)) {
            return shape.colour;
        }
        let (frequency, angle, amplitude) = self.stripes;
        let phase = (x as f64 * angle.cos() + y as f64 * angle.sin()) * frequency;
        let grain =
            (SplitMix64::new(self.texture ^ ((y as u64) << 20 | x as u64)).next_f64() - 0.5) * 40.0;
        let gradient = 30.0 * (x as f64 / self.width as f64 - 0.5);
        self.base
            .map(|b| (b + amplitude * phase.sin() + grain + gradient).clamp(0.0, 255.0) as u8)
    }

    /// The exact box `[x, y, w, h]` of a shape's painted pixels.
    fn bbox(&self, shape: &Shape) -> [f64; 4] {
        let (mut x1, mut y1, mut x2, mut y2) = (usize::MAX, usize::MAX, 0, 0);
        for py in shape.y..shape.y + shape.size {
            for px in shape.x..shape.x + shape.size {
                if shape.covers(px, py) {
                    (x1, y1) = (x1.min(px), y1.min(py));
                    (x2, y2) = (x2.max(px + 1), y2.max(py + 1));
                }
            }
        }
        [x1 as f64, y1 as f64, (x2 - x1) as f64, (y2 - y1) as f64]
    }
}

/// Writes `train + val` images and their COCO instances files under `dir`, from `seed`.
pub fn generate(dir: &Path, train: usize, val: usize, seed: u64) -> Result<()> {
    let categories: Vec<serde_json::Value> = CLASSES
        .iter()
        .enumerate()
        .map(|(i, name)| serde_json::json!({"id": i + 1, "name": name, "supercategory": "shape"}))
        .collect();
    let mut annotation_id = 0;
    for (split, range) in [("train", 0..train), ("val", train..train + val)] {
        let folder = dir.join(split);
        std::fs::create_dir_all(&folder).map_err(Error::io(&folder))?;
        let (mut images, mut annotations) = (Vec::new(), Vec::new());
        for i in range {
            let mut rng = SplitMix64::new(stream(seed, &format!("synthetic coco {i}")));
            let scene = Scene::random(&mut rng);
            let mut pixels = Vec::with_capacity(scene.width * scene.height * 3);
            for y in 0..scene.height {
                for x in 0..scene.width {
                    pixels.extend(scene.pixel(x, y));
                }
            }
            let file_name = format!("{i}.png");
            let path = folder.join(&file_name);
            let mut png = Vec::new();
            image::ImageEncoder::write_image(
                image::codecs::png::PngEncoder::new(&mut png),
                &pixels,
                scene.width as u32,
                scene.height as u32,
                image::ColorType::Rgb8,
            )
            .map_err(|e| Error::Data(format!("{}: cannot encode ({e})", path.display())))?;
            crate::base::write_atomic(&path, &png)?;
            images.push(serde_json::json!({
                "id": i, "file_name": file_name, "width": scene.width, "height": scene.height
            }));
            for shape in &scene.shapes {
                let bbox = scene.bbox(shape);
                annotation_id += 1;
                annotations.push(serde_json::json!({
                    "id": annotation_id, "image_id": i, "category_id": shape.class + 1,
                    "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": 0
                }));
            }
        }
        let file = serde_json::json!({
            "images": images, "annotations": annotations, "categories": categories
        });
        let path = dir.join(format!("annotations/instances_{split}.json"));
        std::fs::create_dir_all(dir.join("annotations")).map_err(Error::io(dir))?;
        crate::base::write_atomic(&path, file.to_string().as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_are_the_painted_extent_of_each_shape() {
        let scene = Scene {
            width: 40,
            height: 40,
            shapes: vec![],
            base: [0.0; 3],
            stripes: (0.0, 0.0, 0.0),
            texture: 0,
        };
        let shape = |class| Shape {
            class,
            x: 3,
            y: 5,
            size: 10,
            colour: [255; 3],
        };
        assert_eq!(scene.bbox(&shape(0)), [3.0, 5.0, 10.0, 10.0]);
        // Disc of radius 5: rows 5..15 and columns 3..13 all have a pixel centre inside.
        assert_eq!(scene.bbox(&shape(1)), [3.0, 5.0, 10.0, 10.0]);
        // Triangle: the apex row (v = 0.5) covers |u - 5| <= 0.25: no pixel centre (u = k + 0.5);
        // the second row covers u in [4.25, 5.75]: pixels 4 and 5.
        assert_eq!(scene.bbox(&shape(2)), [3.0, 6.0, 10.0, 9.0]);
    }
}
