//! Metrics for ranking customers by a score: ROC AUC, average precision and top-decile lift for a
//! binary outcome ([`BinaryScores`]); MAE, RMSE, Spearman and top-decile capture for an amount
//! such as holdout spend ([`RegressionScores`]). Campaigns target the top of a ranking, so the
//! top-decile numbers are the ones a marketer reads.

use serde::{Deserialize, Serialize};

use crate::classify::{average_precision, roc_auc};
use crate::display::HtmlTable;
use crate::{Error, Result};

/// Ranks from 1, ties getting the mean of their ranks (scipy's `rankdata(method="average")`).
///
/// ```
/// assert_eq!(propensity::ranking::average_ranks(&[10.0, 30.0, 20.0, 20.0]), [1.0, 4.0, 2.5, 2.5]);
/// ```
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &r in &order[i..=j] {
            ranks[r] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson correlation; 0 when either side is constant.
///
/// ```
/// assert!((propensity::ranking::pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0]) - 0.9933).abs() < 1e-4);
/// ```
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Spearman rank correlation (Pearson on average ranks, as scipy's `spearmanr`).
///
/// ```
/// use propensity::ranking::spearman;
/// // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).statistic = 0.8207826816681233
/// assert!((spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]) - 0.8207826816681233).abs() < 1e-12);
/// ```
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&average_ranks(a), &average_ranks(b))
}

/// Rows in the top decile: ⌈10 % of n⌉, at least 1.
fn top_count(n: usize) -> usize {
    n.div_ceil(10).max(1)
}

/// Row order by `score`, highest first; ties by `ids` ascending (the Python peers' rule).
fn descending(score: &[f64], ids: &[u64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(ids[a].cmp(&ids[b])));
    order
}

/// Share of the total `actual` captured by the top ⌈10 %⌉ of rows ranked by `predicted`
/// (ties: lower id first).
///
/// ```
/// use propensity::ranking::top_decile_share;
/// let actual = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 0.0, 10.0];
/// let predicted = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0, 1.0, 8.0];
/// let ids: Vec<u64> = (0..12).collect();
/// // ⌈1.2⌉ = 2 rows: the two largest predictions hold all the value
/// assert_eq!(top_decile_share(&actual, &predicted, &ids), 1.0);
/// ```
pub fn top_decile_share(actual: &[f64], predicted: &[f64], ids: &[u64]) -> f64 {
    let order = descending(predicted, ids);
    let top: f64 = order[..top_count(actual.len())].iter().map(|&i| actual[i]).sum();
    top / actual.iter().sum::<f64>()
}

fn check_lengths(a: usize, b: usize, c: usize) -> Result<()> {
    if a != b || a != c || a == 0 {
        return Err(Error::Data(format!("need equally many scores, outcomes and ids; got {a}, {b}, {c}")));
    }
    Ok(())
}

/// How well a score ranks a binary outcome.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryScores {
    /// Rows.
    pub n: usize,
    /// Share of positives.
    pub base_rate: f64,
    /// ROC AUC.
    pub auc: f64,
    /// Average precision.
    pub ap: f64,
    /// Positive rate in the top ⌈10 %⌉ by score divided by the base rate.
    pub top_decile_lift: f64,
}

impl BinaryScores {
    /// Scores `score` (higher = more likely positive) against `positive`; `ids` break ties in the
    /// top decile.
    ///
    /// ```
    /// use propensity::ranking::BinaryScores;
    /// let positive: Vec<bool> = (0..20).map(|i| i % 4 == 0).collect(); // 5 positives
    /// let score: Vec<f64> = (0..20).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 } + i as f64 * 1e-3).collect();
    /// let ids: Vec<u64> = (0..20).collect();
    /// let s = BinaryScores::of(&score, &positive, &ids).unwrap();
    /// assert_eq!((s.auc, s.ap, s.base_rate), (1.0, 1.0, 0.25));
    /// assert_eq!(s.top_decile_lift, 4.0); // top 2 rows both positive: 1.0 / 0.25
    /// ```
    pub fn of(score: &[f64], positive: &[bool], ids: &[u64]) -> Result<BinaryScores> {
        check_lengths(score.len(), positive.len(), ids.len())?;
        let base_rate = positive.iter().filter(|&&p| p).count() as f64 / positive.len() as f64;
        let order = descending(score, ids);
        let k = top_count(score.len());
        let top_rate = order[..k].iter().filter(|&&i| positive[i]).count() as f64 / k as f64;
        Ok(BinaryScores {
            n: score.len(),
            base_rate,
            auc: roc_auc(score, positive)?,
            ap: average_precision(score, positive)?,
            top_decile_lift: top_rate / base_rate,
        })
    }

    /// Table header matching [`row`](Self::row).
    pub const HEADER: [&'static str; 6] = ["model", "rows", "base rate", "ROC AUC", "AP", "top-decile lift"];

    /// One table row, named `model`.
    pub fn row(&self, model: &str) -> Vec<String> {
        vec![
            model.to_string(),
            self.n.to_string(),
            format!("{:.3}", self.base_rate),
            format!("{:.3}", self.auc),
            format!("{:.3}", self.ap),
            format!("{:.2}", self.top_decile_lift),
        ]
    }
}

/// Mean absolute error and root mean squared error of `predicted` against `actual` (same
/// lengths, checked by the caller).
///
/// ```
/// let (mae, rmse) = propensity::ranking::mae_rmse(&[0.0, 10.0, 2.0], &[1.0, 7.0, 2.0]);
/// assert!((mae - 4.0 / 3.0).abs() < 1e-12 && (rmse - (10.0f64 / 3.0).sqrt()).abs() < 1e-12);
/// ```
pub fn mae_rmse(actual: &[f64], predicted: &[f64]) -> (f64, f64) {
    let n = actual.len() as f64;
    let err = actual.iter().zip(predicted).map(|(a, p)| a - p);
    (err.clone().map(f64::abs).sum::<f64>() / n, (err.map(|e| e * e).sum::<f64>() / n).sqrt())
}

/// How well a prediction matches an amount.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionScores {
    /// Rows.
    pub n: usize,
    /// Sum of the actual amounts.
    pub sum_actual: f64,
    /// Sum of the predictions.
    pub sum_predicted: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Spearman rank correlation.
    pub spearman: f64,
    /// Pearson correlation.
    pub pearson: f64,
    /// Share of the actual total captured by the top ⌈10 %⌉ by prediction.
    pub top_decile_share: f64,
}

impl RegressionScores {
    /// Scores `predicted` against `actual`; `ids` break ties in the top decile.
    ///
    /// ```
    /// use propensity::ranking::RegressionScores;
    /// let s = RegressionScores::of(&[0.0, 10.0, 2.0], &[1.0, 7.0, 2.0], &[1, 2, 3]).unwrap();
    /// // hand calculation: errors 1, 3, 0
    /// assert!((s.mae - 4.0 / 3.0).abs() < 1e-12 && (s.rmse - (10.0f64 / 3.0).sqrt()).abs() < 1e-12);
    /// assert_eq!((s.spearman, s.top_decile_share), (1.0, 10.0 / 12.0));
    /// ```
    pub fn of(actual: &[f64], predicted: &[f64], ids: &[u64]) -> Result<RegressionScores> {
        check_lengths(actual.len(), predicted.len(), ids.len())?;
        if let Some(i) = (0..actual.len()).find(|&i| !(actual[i].is_finite() && predicted[i].is_finite())) {
            return Err(Error::Data(format!(
                "row {i}: actual {} and predicted {} must be finite",
                actual[i], predicted[i]
            )));
        }
        let (mae, rmse) = mae_rmse(actual, predicted);
        Ok(RegressionScores {
            n: actual.len(),
            sum_actual: actual.iter().sum(),
            sum_predicted: predicted.iter().sum(),
            mae,
            rmse,
            spearman: spearman(actual, predicted),
            pearson: pearson(actual, predicted),
            top_decile_share: top_decile_share(actual, predicted, ids),
        })
    }

    /// Table header matching [`row`](Self::row).
    pub const HEADER: [&'static str; 7] =
        ["model", "rows", "predicted total / actual", "RMSE", "MAE", "Spearman", "top-decile share"];

    /// One table row, named `model`.
    pub fn row(&self, model: &str) -> Vec<String> {
        vec![
            model.to_string(),
            self.n.to_string(),
            format!("{:.3}", self.sum_predicted / self.sum_actual),
            format!("{:.1}", self.rmse),
            format!("{:.1}", self.mae),
            format!("{:.3}", self.spearman),
            format!("{:.3}", self.top_decile_share),
        ]
    }
}

/// A table of named [`BinaryScores`].
pub fn binary_table(caption: &str, rows: &[(String, BinaryScores)]) -> HtmlTable {
    let mut t = HtmlTable::new(caption, &BinaryScores::HEADER);
    for (name, s) in rows {
        t.push(s.row(name));
    }
    t
}

/// A table of named [`RegressionScores`].
pub fn regression_table(caption: &str, rows: &[(String, RegressionScores)]) -> HtmlTable {
    let mut t = HtmlTable::new(caption, &RegressionScores::HEADER);
    for (name, s) in rows {
        t.push(s.row(name));
    }
    t
}

/// Percentile-bootstrap 95 % interval of the ROC AUC: rows resampled with replacement `reps`
/// times (seeded); resamples with one class only are skipped.
///
/// ```
/// use propensity::ranking::bootstrap_auc;
/// let score: Vec<f64> = (0..200).map(|i| (i % 10) as f64 + if i % 3 == 0 { 4.0 } else { 0.0 }).collect();
/// let positive: Vec<bool> = (0..200).map(|i| i % 3 == 0).collect();
/// let (lo, hi) = bootstrap_auc(&score, &positive, 200, 0).unwrap();
/// let auc = propensity::classify::roc_auc(&score, &positive).unwrap();
/// assert!(lo < auc && auc < hi && hi - lo < 0.2);
/// assert_eq!(bootstrap_auc(&score, &positive, 200, 0).unwrap(), (lo, hi)); // seeded
/// ```
pub fn bootstrap_auc(score: &[f64], positive: &[bool], reps: usize, seed: u64) -> Result<(f64, f64)> {
    use rand::{Rng, SeedableRng};
    roc_auc(score, positive)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = score.len();
    let (mut s, mut p) = (vec![0.0; n], vec![false; n]);
    let mut values = Vec::with_capacity(reps);
    for _ in 0..reps {
        for i in 0..n {
            let r = rng.gen_range(0..n);
            s[i] = score[r];
            p[i] = positive[r];
        }
        if let Ok(v) = roc_auc(&s, &p) {
            values.push(v);
        }
    }
    if values.is_empty() {
        return Err(Error::Data("no bootstrap resample had both classes".into()));
    }
    values.sort_by(f64::total_cmp);
    let q = |f: f64| values[((values.len() - 1) as f64 * f).round() as usize];
    Ok((q(0.025), q(0.975)))
}
