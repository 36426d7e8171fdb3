//! OpenCV's thick line, pixel for pixel: `cv2.line(image, p0, p1, (value,), thickness)` with
//! the default `LINE_8` and `shift = 0`, as OpenCV 4.10 draws it into a one-channel 8-bit image.
//!
//! Why: Ultra-Fast-Lane-Detection's labels are such images (`scripts/convert_tusimple.py`
//! draws every TuSimple lane with `cv2.line(..., thickness=16)`), and its training targets are
//! read from them, so ours equal the reference's only if we paint exactly OpenCV's pixels. A
//! band of half the thickness around the segment is not enough: OpenCV's line reaches up to
//! half a pixel further on some rows.
//!
//! What OpenCV does (`modules/imgproc/src/drawing.cpp`; this is our own implementation of the
//! same arithmetic, not a copy): `cv::line` calls `ThickLine` with both end caps. `ThickLine`
//! moves the points to 16.16 fixed point (`XY_SHIFT`), offsets them by the segment's normal of
//! length `thickness / 2` rounded with `cvRound` (half to even) and fills that quadrilateral
//! with `FillConvexPoly` (its edges drawn first with `Line2`, a one-pixel fixed-point line
//! clipped by `clipLine`; then one span per row between two edge walkers, each edge's x step
//! rounded once per edge), and paints a filled `Circle` (midpoint algorithm, one span per row)
//! of radius `round(thickness / 2)` around each end point. The union of those pixels takes the
//! value.

/// Fractional bits of OpenCV's fixed-point drawing coordinates (`XY_SHIFT`).
const XY_SHIFT: u32 = 16;
/// One pixel in fixed point (`XY_ONE`).
const XY_ONE: i64 = 1 << XY_SHIFT;
/// Half a pixel in fixed point.
const HALF: i64 = XY_ONE >> 1;
/// OpenCV's largest accepted thickness (`MAX_THICKNESS`).
const MAX_THICKNESS: u32 = 32767;

/// A one-channel 8-bit image, row-major, as `np.zeros((height, width), np.uint8)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelImage {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl LabelImage {
    /// An image of zeros.
    pub fn new(width: usize, height: usize) -> LabelImage {
        LabelImage {
            width,
            height,
            pixels: vec![0; width * height],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixel at column `x`, row `y`.
    pub fn get(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width + x]
    }

    /// Row `y`.
    pub fn row(&self, y: usize) -> &[u8] {
        &self.pixels[y * self.width..(y + 1) * self.width]
    }

    /// All pixels, row after row.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Sets columns `x0..=x1` of row `y`, all inside the image (`ICV_HLINE`).
    fn span(&mut self, y: i64, x0: i64, x1: i64, value: u8) {
        let start = y as usize * self.width;
        self.pixels[start + x0 as usize..=start + x1 as usize].fill(value);
    }

    /// Sets pixel `(x, y)` if it lies inside the image (`Line2`'s `ICV_PUT_POINT`).
    fn put(&mut self, x: i64, y: i64, value: u8) {
        if (0..self.width as i64).contains(&x) && (0..self.height as i64).contains(&y) {
            self.pixels[y as usize * self.width + x as usize] = value;
        }
    }
}

/// Draws the segment `p0`-`p1` (integer pixel coordinates, which may lie outside the image)
/// `thickness` pixels thick with `value`, exactly as OpenCV 4.10's
/// `cv::line(img, p0, p1, value, thickness, LINE_8, 0)` (`ThickLine` with both end caps).
///
/// `thickness` must be 2 to 32767 (OpenCV draws thinner lines with another algorithm,
/// Bresenham's `Line`, not implemented here); coordinates must fit OpenCV's `int` points.
pub fn draw_line(
    image: &mut LabelImage,
    p0: (i64, i64),
    p1: (i64, i64),
    value: u8,
    thickness: u32,
) {
    assert!(
        (2..=MAX_THICKNESS).contains(&thickness),
        "thickness {thickness}: only OpenCV's thick lines (2 to {MAX_THICKNESS}) are implemented"
    );
    let fits = |v: i64| i32::try_from(v).is_ok();
    assert!(
        fits(p0.0) && fits(p0.1) && fits(p1.0) && fits(p1.1),
        "points {p0:?}, {p1:?} do not fit OpenCV's int coordinates"
    );
    let (x0, y0) = (p0.0 << XY_SHIFT, p0.1 << XY_SHIFT);
    let (x1, y1) = (p1.0 << XY_SHIFT, p1.1 << XY_SHIFT);
    // `ThickLine`: the half-thickness normal in doubles, as OpenCV computes it.
    let inv_one = 1.0 / XY_ONE as f64;
    let dx = (x0 - x1) as f64 * inv_one;
    let dy = (y1 - y0) as f64 * inv_one;
    let length2 = dx * dx + dy * dy;
    let odd = thickness & 1;
    let half = (thickness as i64) << (XY_SHIFT - 1);
    if length2.abs() > f64::EPSILON {
        let scale = (half as f64 + odd as f64 * XY_ONE as f64 * 0.5) / length2.sqrt();
        // `cvRound` of a double: round half to even (SSE2's `cvtsd2si`).
        let nx = (dy * scale).round_ties_even() as i64;
        let ny = (dx * scale).round_ties_even() as i64;
        let corners = [
            (x0 + nx, y0 + ny),
            (x0 - nx, y0 - ny),
            (x1 - nx, y1 - ny),
            (x1 + nx, y1 + ny),
        ];
        fill_convex_poly(image, &corners, value);
    }
    // Both end caps (`flags` 3): the centres round from fixed point, back to `p0` and `p1`.
    let radius = (half + HALF) >> XY_SHIFT;
    for (x, y) in [(x0, y0), (x1, y1)] {
        filled_circle(
            image,
            (x + HALF) >> XY_SHIFT,
            (y + HALF) >> XY_SHIFT,
            radius,
            value,
        );
    }
}

/// `clipLine(Size2l, Point2l&, Point2l&)`: Cohen-Sutherland clipping of `a`-`b` to
/// `0..width` x `0..height`, the intersections through doubles truncated toward zero (4.x);
/// `None` when the segment misses the rectangle.
fn clip_line(
    width: i64,
    height: i64,
    a: (i64, i64),
    b: (i64, i64),
) -> Option<((i64, i64), (i64, i64))> {
    let (right, bottom) = (width - 1, height - 1);
    if width <= 0 || height <= 0 {
        return None;
    }
    let ((mut x1, mut y1), (mut x2, mut y2)) = (a, b);
    let x_code = |x: i64| (x < 0) as u8 | ((x > right) as u8) << 1;
    let code = |x: i64, y: i64| x_code(x) | ((y < 0) as u8) << 2 | ((y > bottom) as u8) << 3;
    let (mut c1, mut c2) = (code(x1, y1), code(x2, y2));
    // `(int64)((double)(a - y1) * (x2 - x1) / (y2 - y1))`.
    let step = |num: i64, scale: i64, den: i64| (num as f64 * scale as f64 / den as f64) as i64;
    if c1 & c2 == 0 && c1 | c2 != 0 {
        if c1 & 12 != 0 {
            let edge = if c1 < 8 { 0 } else { bottom };
            x1 += step(edge - y1, x2 - x1, y2 - y1);
            y1 = edge;
            c1 = x_code(x1);
        }
        if c2 & 12 != 0 {
            let edge = if c2 < 8 { 0 } else { bottom };
            x2 += step(edge - y2, x2 - x1, y2 - y1);
            y2 = edge;
            c2 = x_code(x2);
        }
        if c1 & c2 == 0 && c1 | c2 != 0 {
            if c1 != 0 {
                let edge = if c1 == 1 { 0 } else { right };
                y1 += step(edge - x1, y2 - y1, x2 - x1);
                x1 = edge;
                c1 = 0;
            }
            if c2 != 0 {
                let edge = if c2 == 1 { 0 } else { right };
                y2 += step(edge - x2, y2 - y1, x2 - x1);
                x2 = edge;
                c2 = 0;
            }
        }
    }
    (c1 | c2 == 0).then_some(((x1, y1), (x2, y2)))
}

/// `Line2`: a one-pixel line between fixed-point points, clipped to the fixed-point image,
/// stepping one pixel along its major axis with a fixed-point minor step; its end point is
/// painted separately.
fn fixed_line(image: &mut LabelImage, a: (i64, i64), b: (i64, i64), value: u8) {
    let (width, height) = (image.width as i64, image.height as i64);
    let Some(((mut x1, mut y1), (mut x2, mut y2))) =
        clip_line(width << XY_SHIFT, height << XY_SHIFT, a, b)
    else {
        return;
    };
    let (dx, dy) = (x2 - x1, y2 - y1);
    let horizontal = dx.abs() > dy.abs();
    // Walk from the end with the smaller major coordinate.
    if (horizontal && dx < 0) || (!horizontal && dy < 0) {
        (x1, y1, x2, y2) = (x2, y2, x1, y1);
    }
    let (dx, dy) = (x2 - x1, y2 - y1);
    // `(ax | 1)` and C's truncating division.
    let (minor_step, mut count) = if horizontal {
        (dy * XY_ONE / (dx | 1), (x2 - x1) >> XY_SHIFT)
    } else {
        (dx * XY_ONE / (dy | 1), (y2 - y1) >> XY_SHIFT)
    };
    image.put((x2 + HALF) >> XY_SHIFT, (y2 + HALF) >> XY_SHIFT, value);
    let (mut x, mut y) = (x1 + HALF, y1 + HALF);
    if horizontal {
        x >>= XY_SHIFT;
        while count >= 0 {
            image.put(x, y >> XY_SHIFT, value);
            x += 1;
            y += minor_step;
            count -= 1;
        }
    } else {
        y >>= XY_SHIFT;
        while count >= 0 {
            image.put(x >> XY_SHIFT, y, value);
            x += minor_step;
            y += 1;
            count -= 1;
        }
    }
}

/// `FillConvexPoly` with `shift = XY_SHIFT` and `LINE_8`, as `ThickLine` calls it: the
/// outline with [`fixed_line`], then from the top vertex two walkers (one per direction
/// around the polygon) give each row's span; a walker entering an edge starts at the edge's
/// first vertex x with step `round((xe - xs) / rows)`.
fn fill_convex_poly(image: &mut LabelImage, vertices: &[(i64, i64)], value: u8) {
    let (width, height) = (image.width as i64, image.height as i64);
    let n = vertices.len();
    let mut previous = vertices[n - 1];
    let (mut xmin, mut xmax) = (vertices[0].0, vertices[0].0);
    let (mut ymin, mut ymax) = (vertices[0].1, vertices[0].1);
    let mut top = 0;
    for (i, &p) in vertices.iter().enumerate() {
        if p.1 < ymin {
            ymin = p.1;
            top = i;
        }
        ymax = ymax.max(p.1);
        xmax = xmax.max(p.0);
        xmin = xmin.min(p.0);
        fixed_line(image, previous, p, value);
        previous = p;
    }
    let round = |v: i64| (v + HALF) >> XY_SHIFT;
    let (xmin, xmax, ymin, ymax) = (round(xmin), round(xmax), round(ymin), round(ymax));
    if n < 3 || xmax < 0 || ymax < 0 || xmin >= width || ymin >= height {
        return;
    }
    let ymax = ymax.min(height - 1);

    /// One side's walker: the vertex its edge ends at, its direction around the polygon,
    /// the row it leaves that edge, x (fixed point) and x's step per row.
    #[derive(Clone, Copy)]
    struct Walker {
        idx: usize,
        di: usize,
        ye: i64,
        x: i64,
        dx: i64,
    }
    let mut walkers = [
        Walker {
            idx: top,
            di: 1,
            ye: ymin,
            x: -XY_ONE,
            dx: 0,
        },
        Walker {
            idx: top,
            di: n - 1,
            ye: ymin,
            x: -XY_ONE,
            dx: 0,
        },
    ];
    // Edges not yet taken by either walker (shared, as OpenCV's `edges` counter).
    let mut edges = n as i64;
    let mut y = ymin;
    loop {
        for walker in &mut walkers {
            if y < walker.ye {
                continue;
            }
            let mut idx0 = walker.idx;
            let mut idx = (idx0 + walker.di) % n;
            loop {
                let more = edges > 0;
                edges -= 1;
                if !more {
                    break;
                }
                let ty = round(vertices[idx].1);
                if ty > y {
                    let (xs, xe) = (vertices[idx0].0, vertices[idx].0);
                    walker.ye = ty;
                    walker.dx = ((xe - xs) * 2 + (ty - y)) / (2 * (ty - y));
                    walker.x = xs;
                    walker.idx = idx;
                    break;
                }
                idx0 = idx;
                idx = (idx + walker.di) % n;
            }
        }
        if edges < 0 {
            break;
        }
        if y >= 0 {
            let (left, right) = if walkers[0].x > walkers[1].x {
                (walkers[1].x, walkers[0].x)
            } else {
                (walkers[0].x, walkers[1].x)
            };
            let (x1, x2) = (round(left), round(right));
            if x2 >= 0 && x1 < width {
                image.span(y, x1.max(0), x2.min(width - 1), value);
            }
        }
        for walker in &mut walkers {
            walker.x += walker.dx;
        }
        y += 1;
        if y > ymax {
            break;
        }
    }
}

/// `Circle` with `fill`: the midpoint circle of `radius` around `(cx, cy)`, each step filling
/// the spans between its symmetric points on four rows (clipped to the image).
fn filled_circle(image: &mut LabelImage, cx: i64, cy: i64, radius: i64, value: u8) {
    let (width, height) = (image.width as i64, image.height as i64);
    let (mut err, mut dx, mut dy, mut plus, mut minus) = (0i64, radius, 0i64, 1i64, 2 * radius - 1);
    while dx >= dy {
        let (x11, x12, x21, x22) = (cx - dx, cx + dx, cx - dy, cx + dy);
        // OpenCV skips the whole step when its widest rows miss the image.
        if x11 < width && x12 >= 0 && cy - dx < height && cy + dx >= 0 {
            let (x11, x12) = (x11.max(0), x12.min(width - 1));
            for y in [cy - dy, cy + dy] {
                if (0..height).contains(&y) {
                    image.span(y, x11, x12, value);
                }
            }
            if x21 < width && x22 >= 0 {
                let (x21, x22) = (x21.max(0), x22.min(width - 1));
                for y in [cy - dx, cy + dx] {
                    if (0..height).contains(&y) {
                        image.span(y, x21, x22, value);
                    }
                }
            }
        }
        dy += 1;
        err += plus;
        plus += 2;
        if err > 0 {
            err -= minus;
            dx -= 1;
            minus -= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row's runs of equal non-zero pixels, `[y, first x, last x, value]`.
    fn runs(image: &LabelImage) -> Vec<[i64; 4]> {
        let mut runs = Vec::new();
        for y in 0..image.height() {
            let row = image.row(y);
            let mut x = 0;
            while x < row.len() {
                let value = row[x];
                let start = x;
                while x < row.len() && row[x] == value {
                    x += 1;
                }
                if value != 0 {
                    runs.push([y as i64, start as i64, x as i64 - 1, value as i64]);
                }
            }
        }
        runs
    }

    /// Every case of `scripts/cv_line_reference.py` (committed output, OpenCV 4.10.0): a
    /// sequence of `cv2.line` calls on a zero image; ours paints the same pixels.
    #[test]
    fn lines_match_opencvs_pixel_for_pixel() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cv_line.json");
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let int = |v: &serde_json::Value| v.as_i64().unwrap();
        let cases = fixture["cases"].as_array().unwrap();
        assert!(cases.len() >= 30, "{} cases", cases.len());
        for (n, case) in cases.iter().enumerate() {
            let size = case["size"].as_array().unwrap();
            let mut image = LabelImage::new(int(&size[0]) as usize, int(&size[1]) as usize);
            for line in case["lines"].as_array().unwrap() {
                let v: Vec<i64> = line.as_array().unwrap().iter().map(int).collect();
                draw_line(
                    &mut image,
                    (v[0], v[1]),
                    (v[2], v[3]),
                    v[4] as u8,
                    v[5] as u32,
                );
            }
            let drawn = image.pixels().iter().filter(|&&p| p != 0).count();
            assert_eq!(
                drawn as i64,
                int(&case["drawn"]),
                "case {n}: {}",
                case["name"]
            );
            let expected: Vec<[i64; 4]> = case["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let r: Vec<i64> = r.as_array().unwrap().iter().map(int).collect();
                    [r[0], r[1], r[2], r[3]]
                })
                .collect();
            assert_eq!(runs(&image), expected, "case {n}: {}", case["name"]);
        }
    }

    /// A horizontal line 16 thick: rows y-8..=y+8 (the caps' radius 8), the quadrilateral's
    /// rows y-8..=y+8 between the end points and the caps' rounded ends beyond them.
    #[test]
    fn a_horizontal_line_is_17_rows_with_round_caps() {
        let mut image = LabelImage::new(100, 60);
        draw_line(&mut image, (20, 30), (70, 30), 1, 16);
        let rows: Vec<usize> = (0..60)
            .filter(|&y| image.row(y).iter().any(|&p| p != 0))
            .collect();
        assert_eq!(rows, (22..=38).collect::<Vec<_>>());
        assert_eq!(image.row(30).iter().filter(|&&p| p != 0).count(), 67);
        assert!((20..=70).all(|x| image.get(x, 22) == 1 && image.get(x, 38) == 1));
    }

    #[test]
    fn clipping_keeps_the_part_inside_and_skips_a_segment_outside() {
        assert_eq!(clip_line(10, 10, (-5, 5), (15, 5)), Some(((0, 5), (9, 5))));
        assert_eq!(clip_line(10, 10, (-5, -5), (-1, 20)), None);
        let mut image = LabelImage::new(40, 30);
        draw_line(&mut image, (-500, -500), (-400, 900), 1, 16);
        assert!(image.pixels().iter().all(|&p| p == 0));
    }
}
