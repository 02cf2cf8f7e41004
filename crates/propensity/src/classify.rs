//! Multi-class evaluation as scikit-learn reports it: confusion matrix, classification report,
//! one-vs-rest ROC curves and AUC, the majority baseline, and per-class threshold tables.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::display::HtmlTable;
use crate::{Error, Result};

fn check(targets: &[usize], predictions: &[usize], n_classes: usize) -> Result<()> {
    if targets.len() != predictions.len() || targets.is_empty() {
        return Err(Error::Data(format!("{} targets for {} predictions", targets.len(), predictions.len())));
    }
    if let Some(&c) = targets.iter().chain(predictions).find(|&&c| c >= n_classes) {
        return Err(Error::Data(format!("class {c} is outside 0..{n_classes}")));
    }
    Ok(())
}

/// Counts of (true class, predicted class), rows = truth, like `sklearn.metrics.confusion_matrix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Class names, index order.
    pub classes: Vec<String>,
    /// `counts[true][predicted]`.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// Counts the pairs.
    ///
    /// ```
    /// use propensity::classify::ConfusionMatrix;
    /// let cm = ConfusionMatrix::new(&[0, 1, 1, 2], &[0, 1, 2, 2], &["a", "b", "c"]).unwrap();
    /// assert_eq!(cm.counts, vec![vec![1, 0, 0], vec![0, 1, 1], vec![0, 0, 1]]);
    /// ```
    pub fn new<S: AsRef<str>>(targets: &[usize], predictions: &[usize], classes: &[S]) -> Result<ConfusionMatrix> {
        let k = classes.len();
        check(targets, predictions, k)?;
        let mut counts = vec![vec![0; k]; k];
        for (&t, &p) in targets.iter().zip(predictions) {
            counts[t][p] += 1;
        }
        Ok(ConfusionMatrix { classes: classes.iter().map(|c| c.as_ref().to_string()).collect(), counts })
    }

    /// Each row divided by its total (`normalize="true"`): the share of each true class
    /// predicted as each class; the diagonal is per-class recall.
    pub fn normalized(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|r| {
                let n: usize = r.iter().sum();
                r.iter().map(|&c| if n == 0 { 0.0 } else { c as f64 / n as f64 }).collect()
            })
            .collect()
    }

    /// The matrix as a table (rows: true class, columns: predicted).
    pub fn table(&self) -> HtmlTable {
        let mut header = vec!["true \\ predicted".to_string()];
        header.extend(self.classes.iter().cloned());
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut t = HtmlTable::new("Confusion matrix", &header);
        for (c, r) in self.classes.iter().zip(&self.counts) {
            let mut cells = vec![c.clone()];
            cells.extend(r.iter().map(|v| v.to_string()));
            t.push(cells);
        }
        t
    }
}

/// Precision, recall, F1 and support of one class (or an average).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// TP / (TP + FP); 0 when nothing was predicted as the class (`zero_division=0`).
    pub precision: f64,
    /// TP / (TP + FN).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Rows whose true class it is (for averages: all rows).
    pub support: usize,
}

/// `sklearn.metrics.classification_report` as numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Class names.
    pub classes: Vec<String>,
    /// One entry per class.
    pub per_class: Vec<Scores>,
    /// Share of rows classified correctly.
    pub accuracy: f64,
    /// Unweighted mean over classes.
    pub macro_avg: Scores,
    /// Mean over classes weighted by support.
    pub weighted_avg: Scores,
}

impl ClassificationReport {
    /// Computes the report from a confusion matrix.
    ///
    /// ```
    /// use propensity::classify::{ClassificationReport, ConfusionMatrix};
    /// let cm = ConfusionMatrix::new(&[0, 0, 1, 1], &[0, 1, 1, 1], &["no", "yes"]).unwrap();
    /// let r = ClassificationReport::from_confusion(&cm);
    /// assert_eq!(r.accuracy, 0.75);
    /// assert!((r.per_class[1].precision - 2.0 / 3.0).abs() < 1e-12);
    /// assert_eq!(r.per_class[1].recall, 1.0);
    /// ```
    pub fn from_confusion(cm: &ConfusionMatrix) -> ClassificationReport {
        let k = cm.classes.len();
        let total: usize = cm.counts.iter().flatten().sum();
        let per_class: Vec<Scores> = (0..k)
            .map(|c| {
                let tp = cm.counts[c][c] as f64;
                let predicted: usize = (0..k).map(|r| cm.counts[r][c]).sum();
                let support: usize = cm.counts[c].iter().sum();
                let precision = if predicted == 0 { 0.0 } else { tp / predicted as f64 };
                let recall = if support == 0 { 0.0 } else { tp / support as f64 };
                let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
                Scores { precision, recall, f1, support }
            })
            .collect();
        let avg = |weight: &dyn Fn(&Scores) -> f64| {
            let w: f64 = per_class.iter().map(weight).sum();
            let mean = |f: fn(&Scores) -> f64| per_class.iter().map(|s| weight(s) * f(s)).sum::<f64>() / w;
            Scores { precision: mean(|s| s.precision), recall: mean(|s| s.recall), f1: mean(|s| s.f1), support: total }
        };
        let macro_avg = avg(&|_| 1.0);
        let weighted_avg = avg(&|s| s.support as f64);
        let correct: usize = (0..k).map(|c| cm.counts[c][c]).sum();
        ClassificationReport {
            classes: cm.classes.clone(),
            per_class,
            accuracy: correct as f64 / total.max(1) as f64,
            macro_avg,
            weighted_avg,
        }
    }

    /// The report as a table, laid out like scikit-learn's text report.
    pub fn table(&self) -> HtmlTable {
        let mut t = HtmlTable::new("Classification report", &["", "precision", "recall", "f1-score", "support"]);
        let row = |name: &str, s: &Scores| {
            vec![
                name.to_string(),
                format!("{:.3}", s.precision),
                format!("{:.3}", s.recall),
                format!("{:.3}", s.f1),
                s.support.to_string(),
            ]
        };
        for (c, s) in self.classes.iter().zip(&self.per_class) {
            t.push(row(c, s));
        }
        t.push(vec![
            "accuracy".into(),
            String::new(),
            String::new(),
            format!("{:.3}", self.accuracy),
            self.macro_avg.support.to_string(),
        ]);
        t.push(row("macro avg", &self.macro_avg));
        t.push(row("weighted avg", &self.weighted_avg));
        t
    }

    /// evcxr's display hook.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display()
    }
}

impl std::fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table())
    }
}

/// Area under the ROC curve of `scores` for the rows where `positive` is true, with tied
/// scores counted half (the Mann–Whitney statistic; equal to `sklearn.metrics.roc_auc_score`).
///
/// ```
/// use propensity::classify::roc_auc;
/// // hand calculation: of the 4 (positive, negative) pairs, 3 are ordered right, 1 is tied
/// let auc = roc_auc(&[0.9, 0.5, 0.5, 0.1], &[true, true, false, false]).unwrap();
/// assert_eq!(auc, 0.875);
/// ```
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Result<f64> {
    if scores.len() != positive.len() {
        return Err(Error::Data(format!("{} scores for {} labels", scores.len(), positive.len())));
    }
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(Error::Data("ROC AUC needs both positive and negative rows".into()));
    }
    let ranks = crate::ranking::average_ranks(scores);
    let rank_sum: f64 = ranks.iter().zip(positive).filter(|(_, &p)| p).map(|(r, _)| r).sum();
    let (p, n) = (n_pos as f64, n_neg as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Average precision, scikit-learn's `average_precision_score`: the precision at each distinct
/// score threshold (from the highest down), weighted by the recall it adds; tied scores form
/// one threshold.
///
/// ```
/// use propensity::classify::average_precision;
/// // scikit-learn's documentation example: average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
/// let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
/// assert!((ap - 0.833333).abs() < 1e-6);
/// // hand calculation with a tie: the first threshold takes both 0.5s (precision 1/2, recall 1/2),
/// // then 0.2 (precision 2/3, recall 1): 0.5 · 1/2 + 0.5 · 2/3
/// let ap = average_precision(&[0.5, 0.5, 0.2], &[true, false, true]).unwrap();
/// assert!((ap - (0.25 + 1.0 / 3.0)).abs() < 1e-12);
/// ```
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Result<f64> {
    if scores.len() != positive.len() {
        return Err(Error::Data(format!("{} scores for {} labels", scores.len(), positive.len())));
    }
    let n_pos = positive.iter().filter(|&&p| p).count();
    if n_pos == 0 {
        return Err(Error::Data("average precision needs at least one positive row".into()));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        tp += order[i..=j].iter().filter(|&&r| positive[r]).count();
        seen += j - i + 1;
        let recall = tp as f64 / n_pos as f64;
        ap += (recall - last_recall) * tp as f64 / seen as f64;
        last_recall = recall;
        i = j + 1;
    }
    Ok(ap)
}

/// Points of a ROC curve: false and true positive rates at each distinct score threshold,
/// from the highest (nothing predicted positive) down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    /// Class the curve is for.
    pub class: String,
    /// False positive rate per threshold.
    pub fpr: Vec<f64>,
    /// True positive rate per threshold.
    pub tpr: Vec<f64>,
    /// The thresholds (`+∞` first).
    pub thresholds: Vec<f64>,
    /// Area under the curve.
    pub auc: f64,
}

/// The ROC curve of one class against the rest.
pub fn roc_curve(class: &str, scores: &[f64], positive: &[bool]) -> Result<RocCurve> {
    let auc = roc_auc(scores, positive)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = scores.len() as f64 - n_pos;
    let (mut fpr, mut tpr, mut thresholds) = (vec![0.0], vec![0.0], vec![f64::INFINITY]);
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&n| scores[n] != scores[i]);
        if last_of_tie {
            fpr.push(fp / n_neg);
            tpr.push(tp / n_pos);
            thresholds.push(scores[i]);
        }
    }
    // drop points on a straight segment between their neighbours (scikit-learn's
    // drop_intermediate): the curve and its area are unchanged
    let keep: Vec<usize> = (0..fpr.len())
        .filter(|&i| {
            i == 0 || i + 1 == fpr.len() || {
                let (dx1, dy1) = (fpr[i] - fpr[i - 1], tpr[i] - tpr[i - 1]);
                let (dx2, dy2) = (fpr[i + 1] - fpr[i], tpr[i + 1] - tpr[i]);
                (dx1 * dy2 - dy1 * dx2).abs() > 1e-12
            }
        })
        .collect();
    let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    Ok(RocCurve { class: class.to_string(), fpr: pick(&fpr), tpr: pick(&tpr), thresholds: pick(&thresholds), auc })
}

/// One-vs-rest ROC curve of every class from class probabilities (rows × classes).
pub fn one_vs_rest<S: AsRef<str>>(proba: &Array2<f32>, targets: &[usize], classes: &[S]) -> Result<Vec<RocCurve>> {
    if proba.ncols() != classes.len() || proba.nrows() != targets.len() {
        return Err(Error::Data(format!(
            "probabilities are {}×{}, expected {}×{}",
            proba.nrows(),
            proba.ncols(),
            targets.len(),
            classes.len()
        )));
    }
    classes
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let scores: Vec<f64> = proba.column(c).iter().map(|&p| p as f64).collect();
            let positive: Vec<bool> = targets.iter().map(|&t| t == c).collect();
            roc_curve(name.as_ref(), &scores, &positive)
        })
        .collect()
}

/// Unweighted mean of the curves' AUCs (`roc_auc_score(multi_class="ovr", average="macro")`).
pub fn macro_auc(curves: &[RocCurve]) -> f64 {
    curves.iter().map(|c| c.auc).sum::<f64>() / curves.len().max(1) as f64
}

/// Scores of the baseline that always predicts the most frequent training class.
///
/// ```
/// use propensity::classify::majority_baseline;
/// let r = majority_baseline(&[2, 2, 1], &[2, 2, 2, 0], &["a", "b", "c"]).unwrap();
/// assert_eq!(r.accuracy, 0.75);
/// ```
pub fn majority_baseline<S: AsRef<str>>(
    train: &[usize],
    test: &[usize],
    classes: &[S],
) -> Result<ClassificationReport> {
    let counts = crate::preprocess::class_counts(train, classes.len())?;
    let majority = (0..counts.len()).max_by_key(|&c| (counts[c], std::cmp::Reverse(c))).unwrap_or(0);
    let cm = ConfusionMatrix::new(test, &vec![majority; test.len()], classes)?;
    Ok(ClassificationReport::from_confusion(&cm))
}

/// Predict `class` when its probability is at least `threshold`: the counts and rates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdPoint {
    /// The probability cut-off.
    pub threshold: f64,
    /// Rows flagged that are the class.
    pub tp: usize,
    /// Rows flagged that are not.
    pub fp: usize,
    /// Rows of the class not flagged.
    pub fn_: usize,
    /// TP / (TP + FP), 0 when nothing is flagged.
    pub precision: f64,
    /// TP / (TP + FN).
    pub recall: f64,
    /// FP / (FP + TN).
    pub fpr: f64,
}

/// Precision, recall and false-positive rate of "flag the rows whose probability of `class` is
/// ≥ t" for each threshold t in `thresholds`.
///
/// ```
/// use propensity::classify::threshold_table;
/// let t = threshold_table(&[0.9, 0.6, 0.4, 0.1], &[true, false, true, false], &[0.5]);
/// assert_eq!((t[0].tp, t[0].fp, t[0].fn_), (1, 1, 1));
/// assert_eq!((t[0].precision, t[0].recall, t[0].fpr), (0.5, 0.5, 0.5));
/// ```
pub fn threshold_table(scores: &[f64], positive: &[bool], thresholds: &[f64]) -> Vec<ThresholdPoint> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    thresholds
        .iter()
        .map(|&threshold| {
            let (mut tp, mut fp) = (0, 0);
            for (&s, &p) in scores.iter().zip(positive) {
                if s >= threshold {
                    if p {
                        tp += 1;
                    } else {
                        fp += 1;
                    }
                }
            }
            let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            ThresholdPoint {
                threshold,
                tp,
                fp,
                fn_: n_pos - tp,
                precision: ratio(tp, tp + fp),
                recall: ratio(tp, n_pos),
                fpr: ratio(fp, n_neg),
            }
        })
        .collect()
}

/// [`threshold_table`] for column `class` of class probabilities (rows × classes).
pub fn class_thresholds(
    proba: &Array2<f32>,
    targets: &[usize],
    class: usize,
    thresholds: &[f64],
) -> Result<Vec<ThresholdPoint>> {
    if class >= proba.ncols() || proba.nrows() != targets.len() {
        return Err(Error::Data(format!(
            "class {class} of {} columns, {} rows for {} targets",
            proba.ncols(),
            proba.nrows(),
            targets.len()
        )));
    }
    let scores: Vec<f64> = proba.column(class).iter().map(|&p| p as f64).collect();
    let positive: Vec<bool> = targets.iter().map(|&t| t == class).collect();
    Ok(threshold_table(&scores, &positive, thresholds))
}

/// The first `rows` rows of class probabilities with the true and predicted class, as a table.
pub fn probabilities_table<S: AsRef<str>>(
    proba: &Array2<f32>,
    targets: &[usize],
    classes: &[S],
    rows: usize,
) -> HtmlTable {
    let mut header = vec!["row".to_string(), "true".to_string(), "predicted".to_string()];
    header.extend(classes.iter().map(|c| format!("P({})", c.as_ref())));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = HtmlTable::new("Softmax probabilities", &header);
    for (i, (row, &y)) in proba.rows().into_iter().zip(targets).take(rows).enumerate() {
        let name = |c: usize| classes.get(c).map_or_else(|| c.to_string(), |n| n.as_ref().to_string());
        let mut cells = vec![i.to_string(), name(y), name(crate::model::argmax_row(row))];
        cells.extend(row.iter().map(|p| format!("{p:.4}")));
        t.push(cells);
    }
    t
}

/// The threshold that maximises a campaign's value `gain_per_hit · TP − cost_per_contact · (TP + FP)`
/// — every flagged customer is contacted at a cost, every contacted customer of the class
/// brings the gain. Returns the best point and its value.
///
/// ```
/// use propensity::classify::{best_threshold, threshold_table};
/// let points = threshold_table(&[0.9, 0.6, 0.4, 0.1], &[true, false, true, false], &[0.3, 0.5, 0.8]);
/// // at 0.3: 2 hits, 3 contacts -> 2·10 − 3·2 = 14; at 0.5: 10 − 4 = 6; at 0.8: 10 − 2 = 8
/// let (best, value) = best_threshold(&points, 10.0, 2.0).unwrap();
/// assert_eq!((best.threshold, value), (0.3, 14.0));
/// ```
pub fn best_threshold(
    points: &[ThresholdPoint],
    gain_per_hit: f64,
    cost_per_contact: f64,
) -> Option<(ThresholdPoint, f64)> {
    points
        .iter()
        .map(|p| (*p, gain_per_hit * p.tp as f64 - cost_per_contact * (p.tp + p.fp) as f64))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// A threshold table as a display table.
pub fn threshold_table_html(class: &str, points: &[ThresholdPoint]) -> HtmlTable {
    let mut t = HtmlTable::new(
        &format!("Flag `{class}` when its probability ≥ threshold"),
        &["threshold", "flagged", "hits (TP)", "precision", "recall", "false-positive rate"],
    );
    for p in points {
        t.push(vec![
            format!("{:.2}", p.threshold),
            (p.tp + p.fp).to_string(),
            p.tp.to_string(),
            format!("{:.3}", p.precision),
            format!("{:.3}", p.recall),
            format!("{:.4}", p.fpr),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_curve_ends_at_one_and_matches_auc() {
        let c = roc_curve("x", &[0.9, 0.8, 0.8, 0.3, 0.1], &[true, false, true, false, false]).unwrap();
        assert_eq!(c.fpr.first(), Some(&0.0));
        assert_eq!((c.fpr.last(), c.tpr.last()), (Some(&1.0), Some(&1.0)));
        // trapezoid area of the curve equals the rank statistic
        let area: f64 = c.fpr.windows(2).zip(c.tpr.windows(2)).map(|(f, t)| (f[1] - f[0]) * (t[0] + t[1]) / 2.0).sum();
        assert!((area - c.auc).abs() < 1e-12);
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_err());
    }

    #[test]
    fn zero_division_gives_zero_like_sklearn() {
        let cm = ConfusionMatrix::new(&[0, 1, 1], &[1, 1, 1], &["a", "b"]).unwrap();
        let r = ClassificationReport::from_confusion(&cm);
        assert_eq!((r.per_class[0].precision, r.per_class[0].f1), (0.0, 0.0));
        assert!(ConfusionMatrix::new(&[0, 3], &[0, 0], &["a", "b"]).is_err());
    }
}
