//! Calibration: do predicted probabilities match observed frequencies? Reliability diagram,
//! Brier score and expected calibration error (ECE), one-vs-rest per class.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::display::HtmlTable;
use crate::{Error, Result};

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower edge of the predicted probability.
    pub low: f64,
    /// Upper edge.
    pub high: f64,
    /// Rows whose prediction falls in the bin.
    pub count: usize,
    /// Mean predicted probability in the bin.
    pub predicted: f64,
    /// Share of those rows that are of the class.
    pub observed: f64,
}

/// Calibration of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassCalibration {
    /// Class name.
    pub class: String,
    /// Mean squared difference between probability and outcome (0 is perfect).
    pub brier: f64,
    /// Σ (bin rows / all rows) · |observed − predicted| over the bins.
    pub ece: f64,
    /// Non-empty bins of equal width.
    pub bins: Vec<Bin>,
}

/// Calibration of every class from probabilities (rows × classes), with `n_bins` equal-width bins.
///
/// ```
/// use propensity::calibration::calibrate;
/// // perfectly calibrated: in the 0.8 bin, 4 of 5 rows are positive
/// let p = ndarray::Array2::from_shape_fn((5, 2), |(_, j)| if j == 1 { 0.8f32 } else { 0.2 });
/// let c = calibrate(&p, &[1, 1, 1, 1, 0], &["no", "yes"], 10).unwrap();
/// assert!(c[1].ece < 1e-6);
/// // Brier: (4 · 0.2² + 0.8²) / 5 = 0.16 (hand calculation)
/// assert!((c[1].brier - 0.16).abs() < 1e-6);
/// ```
pub fn calibrate<S: AsRef<str>>(
    proba: &Array2<f32>,
    targets: &[usize],
    classes: &[S],
    n_bins: usize,
) -> Result<Vec<ClassCalibration>> {
    if proba.nrows() != targets.len() || proba.ncols() != classes.len() || targets.is_empty() || n_bins == 0 {
        return Err(Error::Data(format!(
            "{}×{} probabilities for {} targets and {} classes, {n_bins} bins",
            proba.nrows(),
            proba.ncols(),
            targets.len(),
            classes.len()
        )));
    }
    let n = targets.len() as f64;
    Ok(classes
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let mut sums = vec![(0usize, 0.0f64, 0.0f64); n_bins];
            let mut brier = 0.0;
            for (&p, &t) in proba.column(c).iter().zip(targets) {
                let (p, y) = (p as f64, if t == c { 1.0 } else { 0.0 });
                brier += (p - y) * (p - y);
                let b = ((p * n_bins as f64) as usize).min(n_bins - 1);
                sums[b].0 += 1;
                sums[b].1 += p;
                sums[b].2 += y;
            }
            let bins: Vec<Bin> = sums
                .iter()
                .enumerate()
                .filter(|(_, s)| s.0 > 0)
                .map(|(b, s)| Bin {
                    low: b as f64 / n_bins as f64,
                    high: (b + 1) as f64 / n_bins as f64,
                    count: s.0,
                    predicted: s.1 / s.0 as f64,
                    observed: s.2 / s.0 as f64,
                })
                .collect();
            let ece = bins.iter().map(|b| b.count as f64 / n * (b.observed - b.predicted).abs()).sum();
            ClassCalibration { class: name.as_ref().to_string(), brier: brier / n, ece, bins }
        })
        .collect())
}

/// Brier score and ECE per class, as a table.
pub fn calibration_table(cal: &[ClassCalibration]) -> HtmlTable {
    let mut t = HtmlTable::new("Calibration (one vs rest)", &["class", "Brier score", "ECE", "bins used"]);
    for c in cal {
        t.push(vec![c.class.clone(), format!("{:.4}", c.brier), format!("{:.4}", c.ece), c.bins.len().to_string()]);
    }
    t
}

/// Reliability diagram: observed frequency against mean predicted probability per bin, one line
/// per class, with the diagonal of perfect calibration.
pub fn reliability_plot(cal: &[ClassCalibration]) -> Result<crate::plot::Svg> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> =
        vec![(crate::plot::reference("perfect"), vec![(0.0, 0.0), (1.0, 1.0)])];
    for c in cal {
        series.push((
            format!("{} (ECE {:.3})", c.class, c.ece),
            c.bins.iter().map(|b| (b.predicted, b.observed)).collect(),
        ));
    }
    crate::plot::lines("Reliability diagram", "mean predicted probability", "observed frequency", &series)
}
