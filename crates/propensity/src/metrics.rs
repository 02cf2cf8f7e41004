//! Classification metrics.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Loss and accuracy of a model on one dataset, like Keras' `model.evaluate`.
///
/// ```
/// use propensity::metrics::Evaluation;
/// let e = Evaluation { loss: 0.3594, accuracy: 0.808, rows: 448 };
/// assert_eq!(e.to_string(), "Test loss: 0.36. Test accuracy: 80.80%");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean sparse categorical cross-entropy (natural log).
    pub loss: f64,
    /// Share of rows whose most likely class is the target.
    pub accuracy: f64,
    /// Number of rows evaluated.
    pub rows: usize,
}

/// Probabilities are clipped to `[EPSILON, 1 - EPSILON]` before the log, as Keras does.
const EPSILON: f64 = 1e-7;

impl Evaluation {
    /// Cross-entropy and accuracy from class probabilities (rows × classes) and targets.
    ///
    /// ```
    /// use propensity::metrics::Evaluation;
    /// let p = ndarray::array![[0.9f32, 0.1], [0.4, 0.6]];
    /// let e = Evaluation::from_probabilities(&p, &[0, 0]).unwrap();
    /// // hand calculation: (-ln 0.9 - ln 0.4) / 2 = 0.51082
    /// assert!((e.loss - 0.51082).abs() < 1e-4);
    /// assert_eq!(e.accuracy, 0.5);
    /// ```
    pub fn from_probabilities(proba: &Array2<f32>, targets: &[usize]) -> Result<Evaluation> {
        Self::from_probabilities_weighted(proba, targets, None)
    }

    /// Like [`from_probabilities`](Self::from_probabilities), the loss being the class-weighted
    /// mean `Σ w[yᵢ]·nllᵢ / Σ w[yᵢ]` when `class_weights` is given.
    ///
    /// ```
    /// use propensity::metrics::Evaluation;
    /// let p = ndarray::array![[0.9f32, 0.1], [0.4, 0.6]];
    /// let e = Evaluation::from_probabilities_weighted(&p, &[0, 0], Some(&[2.0, 1.0])).unwrap();
    /// assert!((e.loss - 0.51082).abs() < 1e-4); // one class only: the weights cancel
    /// ```
    pub fn from_probabilities_weighted(
        proba: &Array2<f32>,
        targets: &[usize],
        class_weights: Option<&[f64]>,
    ) -> Result<Evaluation> {
        if proba.nrows() != targets.len() || targets.is_empty() {
            return Err(Error::Data(format!("{} probability rows for {} targets", proba.nrows(), targets.len())));
        }
        let (mut loss, mut weight_sum) = (0.0, 0.0);
        let mut correct = 0usize;
        for (row, &t) in proba.rows().into_iter().zip(targets) {
            let p = *row
                .get(t)
                .ok_or_else(|| Error::Data(format!("target class {t} but the model has {} outputs", row.len())))?;
            let w = match class_weights {
                Some(w) => *w.get(t).ok_or_else(|| Error::Data(format!("no class weight for class {t}")))?,
                None => 1.0,
            };
            loss -= w * (p as f64).clamp(EPSILON, 1.0 - EPSILON).ln();
            weight_sum += w;
            correct += usize::from(crate::model::argmax_row(row) == t);
        }
        let n = targets.len();
        Ok(Evaluation { loss: loss / weight_sum, accuracy: correct as f64 / n as f64, rows: n })
    }
}

/// Loss (and, for multi-label targets, binary accuracy) on a [`crate::dataset::DenseDataset`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DenseEvaluation {
    /// Mean loss over rows and outputs.
    pub loss: f64,
    /// Share of outputs on the right side of 0.5 (Keras' `binary_accuracy`); `None` for a
    /// regression loss.
    pub binary_accuracy: Option<f64>,
    /// Number of rows evaluated.
    pub rows: usize,
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Test loss: {:.2}. Test accuracy: {:.2}%", self.loss, self.accuracy * 100.0)
    }
}

/// Mean, population standard deviation, minimum and maximum of a sample.
///
/// ```
/// use propensity::metrics::Summary;
/// let s = Summary::of(&[0.78, 0.80, 0.82]).unwrap();
/// assert!((s.mean - 0.80).abs() < 1e-12);
/// assert!((s.std - 0.016330).abs() < 1e-6); // population std, numpy's default
/// assert_eq!((s.min, s.max), (0.78, 0.82));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation (ddof 0).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Summarises `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Summary { n: values.len(), mean, std, min, max })
    }
}

/// Adjusted Rand index of two labelings of the same items (scikit-learn's
/// `adjusted_rand_score`): 1 for identical partitions (up to renaming), about 0 for
/// independent ones.
///
/// ```
/// use propensity::metrics::adjusted_rand_index;
/// // scikit-learn's documentation: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.5714…
/// assert!((adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]).unwrap() - 0.571428571).abs() < 1e-8);
/// assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap(), 1.0);
/// // sklearn: adjusted_rand_score([0, 0, 1, 1], [0, 1, 0, 1]) = -0.5
/// assert!((adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap() + 0.5).abs() < 1e-12);
/// ```
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> Result<f64> {
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::Data(format!("labelings of {} and {} items", a.len(), b.len())));
    }
    let mut table = std::collections::HashMap::<(usize, usize), f64>::new();
    let (mut rows, mut cols) = (std::collections::HashMap::new(), std::collections::HashMap::new());
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_insert(0.0) += 1.0;
        *rows.entry(x).or_insert(0.0) += 1.0;
        *cols.entry(y).or_insert(0.0) += 1.0;
    }
    let pairs = |n: f64| n * (n - 1.0) / 2.0;
    let index: f64 = table.values().map(|&n| pairs(n)).sum();
    let sum_a: f64 = rows.values().map(|&n| pairs(n)).sum();
    let sum_b: f64 = cols.values().map(|&n| pairs(n)).sum();
    let expected = sum_a * sum_b / pairs(a.len() as f64);
    let max = (sum_a + sum_b) / 2.0;
    if max == expected {
        return Ok(1.0); // both labelings put everything in one cluster, or every item alone
    }
    Ok((index - expected) / (max - expected))
}

/// Between-segment share of the variance of `kpi` (η², the R² of predicting the KPI by its segment
/// mean); 0 for a constant KPI.
///
/// ```
/// use propensity::metrics::eta_squared;
/// // hand calculation: means 1 and 3 around 2; SSB = 4 · 1, SST = 4 + 2 · (0.5² · 2) … = 4 / 5
/// assert!((eta_squared(&[0.5, 1.5, 2.5, 3.5], &[0, 0, 1, 1]) - 0.8).abs() < 1e-12);
/// ```
pub fn eta_squared(kpi: &[f64], labels: &[usize]) -> f64 {
    let n = kpi.len() as f64;
    let mu = kpi.iter().sum::<f64>() / n;
    let sst: f64 = kpi.iter().map(|v| (v - mu).powi(2)).sum();
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let (mut sum, mut count) = (vec![0.0; k], vec![0.0; k]);
    for (&v, &l) in kpi.iter().zip(labels) {
        sum[l] += v;
        count[l] += 1.0;
    }
    let ssb: f64 = (0..k).filter(|&g| count[g] > 0.0).map(|g| count[g] * (sum[g] / count[g] - mu).powi(2)).sum();
    if sst == 0.0 {
        0.0
    } else {
        ssb / sst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certain_right_answers_clip_to_keras_epsilon() {
        let p = ndarray::array![[1.0f32, 0.0]];
        let e = Evaluation::from_probabilities(&p, &[0]).unwrap();
        assert!(e.loss > 0.0 && e.loss < 1e-6);
        let wrong = Evaluation::from_probabilities(&p, &[1]).unwrap();
        // -ln(1e-7) = 16.118 (hand calculation)
        assert!((wrong.loss - 16.1181).abs() < 1e-3, "{}", wrong.loss);
    }

    #[test]
    fn mismatches_are_errors() {
        let p = ndarray::array![[0.5f32, 0.5]];
        assert!(Evaluation::from_probabilities(&p, &[0, 1]).is_err());
        assert!(Evaluation::from_probabilities(&p, &[2]).is_err());
        assert!(Summary::of(&[]).is_none());
    }
}
