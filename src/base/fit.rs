//! Least-squares straight lines, as `np.polyfit(x, y, 1)` and scikit-learn's
//! `LinearRegression` fit them (the TuSimple metric and UFLD's label code use both).

/// The line `y = mean_y + slope (x - mean_x)` through a set of points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// dy / dx.
    pub slope: f64,
    /// Mean of the points' x.
    pub mean_x: f64,
    /// Mean of the points' y.
    pub mean_y: f64,
}

impl Line {
    /// y at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.mean_y + self.slope * (x - self.mean_x)
    }
}

/// The least-squares line through `(x, y)` points; `None` when all x are equal (no points,
/// one point, a vertical set).
pub fn least_squares(points: &[(f64, f64)]) -> Option<Line> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    (!points.is_empty() && sxx != 0.0).then(|| Line {
        slope: sxy / sxx,
        mean_x,
        mean_y,
    })
}
