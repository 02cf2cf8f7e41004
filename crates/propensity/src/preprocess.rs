//! Preprocessing steps, each usable on any numeric table with a class target.
//!
//! Stateful steps follow scikit-learn's `fit` / `transform` split, with the fitted state as its
//! own type: [`MeanFill::fit`] returns a [`FittedMeanFill`], [`StandardScaler::fit`] a
//! [`FittedScaler`]. Fit on the training rows, then transform every split with the same state.

use ndarray::{Array2, Axis};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::table::Table;
use crate::{Error, Result};

/// Fills missing cells of chosen columns with the mean of the present values.
///
/// ```
/// use propensity::preprocess::MeanFill;
/// use propensity::table::{Column, Table};
/// let t = Table::new("m", vec![Column { name: "r".into(), values: vec![Some(8.0), None, Some(10.0)] }]).unwrap();
/// let fill = MeanFill::fit(&t, &["r"]).unwrap();
/// assert_eq!(fill.means(), &[9.0]);
/// let filled = fill.transform(&t).unwrap();
/// assert_eq!(filled.column("r").unwrap().values, vec![Some(8.0), Some(9.0), Some(10.0)]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MeanFill;

/// The column means a [`MeanFill`] learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedMeanFill {
    columns: Vec<String>,
    means: Vec<f64>,
}

impl MeanFill {
    /// Learns the mean of the present values of each named column.
    pub fn fit(table: &Table, columns: &[&str]) -> Result<FittedMeanFill> {
        let mut means = Vec::with_capacity(columns.len());
        for name in columns {
            let col = table.require(name)?;
            let (sum, n) = col.present().fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            if n == 0 {
                return Err(Error::Data(format!(
                    "column `{name}` of {} has no values to take a mean of",
                    table.source().display()
                )));
            }
            means.push(sum / n as f64);
        }
        Ok(FittedMeanFill { columns: columns.iter().map(|c| c.to_string()).collect(), means })
    }
}

impl FittedMeanFill {
    /// The learned means, in the order the columns were given.
    pub fn means(&self) -> &[f64] {
        &self.means
    }

    /// A copy of `table` with the missing cells of the fitted columns filled.
    pub fn transform(&self, table: &Table) -> Result<Table> {
        let mut out = table.clone();
        for (name, &mean) in self.columns.iter().zip(&self.means) {
            let col = out.column_mut(name).ok_or_else(|| Error::Data(format!("no column `{name}` to fill")))?;
            for v in col.values.iter_mut() {
                v.get_or_insert(mean);
            }
        }
        Ok(out)
    }
}

/// Row indices that balance the classes the way the Audiobooks exercise did: every class keeps
/// its first `m` rows in file order, `m` being the size of the smallest class. With a 0/1 target
/// whose 1s are the minority, that keeps every 1 and the first 0s until there are as many.
///
/// Fails when a class in `0..n_classes` has no rows (a single-class file cannot be balanced).
///
/// ```
/// use propensity::preprocess::balance_first_rows;
/// assert_eq!(balance_first_rows(&[0, 0, 1, 0, 1, 0], 2).unwrap(), vec![0, 1, 2, 4]);
/// ```
pub fn balance_first_rows(targets: &[usize], n_classes: usize) -> Result<Vec<usize>> {
    let mut counts = vec![0usize; n_classes];
    for &t in targets {
        *counts.get_mut(t).ok_or_else(|| Error::Data(format!("class {t} is outside 0..{n_classes}")))? += 1;
    }
    if let Some(empty) = counts.iter().position(|&c| c == 0) {
        return Err(Error::Data(format!(
            "class {empty} has no rows (counts per class {counts:?}); balancing needs every class"
        )));
    }
    let keep = *counts.iter().min().expect("n_classes > 0 after the check above");
    let mut taken = vec![0usize; n_classes];
    Ok(targets
        .iter()
        .enumerate()
        .filter_map(|(i, &t)| {
            taken[t] += 1;
            (taken[t] <= keep).then_some(i)
        })
        .collect())
}

/// Standardizes columns to mean 0 and standard deviation 1 (z-scores), with the population
/// standard deviation as `sklearn.preprocessing.StandardScaler` and `scale` use. A constant
/// column is centred and left unscaled (scale 1), as in scikit-learn.
///
/// ```
/// use propensity::preprocess::StandardScaler;
/// let x = ndarray::array![[1.0, 5.0], [3.0, 5.0]];
/// let scaler = StandardScaler::fit(&x).unwrap();
/// assert_eq!(scaler.transform(&x).unwrap(), ndarray::array![[-1.0, 0.0], [1.0, 0.0]]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardScaler;

/// Per-column mean and scale learned by [`StandardScaler::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedScaler {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column population standard deviations (1 where the column is constant).
    pub scale: Vec<f64>,
}

impl StandardScaler {
    /// Learns each column's mean and population standard deviation.
    pub fn fit(x: &Array2<f64>) -> Result<FittedScaler> {
        if x.nrows() == 0 {
            return Err(Error::Data("cannot fit a scaler on zero rows".into()));
        }
        let mean = x.mean_axis(Axis(0)).expect("rows > 0");
        let var = x.var_axis(Axis(0), 0.0);
        let scale = var.iter().map(|&v| if v > 0.0 { v.sqrt() } else { 1.0 }).collect();
        Ok(FittedScaler { mean: mean.to_vec(), scale })
    }
}

impl FittedScaler {
    /// `(x - mean) / scale`, column by column. Fails when the column count differs from the fit.
    pub fn transform(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.mean.len() {
            return Err(Error::Data(format!("scaler was fitted on {} columns, got {}", self.mean.len(), x.ncols())));
        }
        let mut out = x.clone();
        for (mut col, (m, s)) in out.axis_iter_mut(Axis(1)).zip(self.mean.iter().zip(&self.scale)) {
            col.mapv_inplace(|v| (v - m) / s);
        }
        Ok(out)
    }
}

/// Fractions of rows for the training and validation splits; the test split takes the rest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitRatios {
    /// Share of rows for training (0.8 in the Audiobooks exercise).
    pub train: f64,
    /// Share of rows for validation (0.1).
    pub validation: f64,
}

impl Default for SplitRatios {
    fn default() -> Self {
        SplitRatios { train: 0.8, validation: 0.1 }
    }
}

/// Row indices of the three splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub validation: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Shuffles `0..n` with `seed` and cuts it into train = ⌊train·n⌋, validation = ⌊validation·n⌋
/// and test = the rest, as the exercise's `int(0.8 * n)` did.
///
/// ```
/// use propensity::preprocess::{shuffle_split, SplitRatios};
/// let s = shuffle_split(4474, SplitRatios::default(), 42).unwrap();
/// assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (3579, 447, 448));
/// ```
pub fn shuffle_split(n: usize, ratios: SplitRatios, seed: u64) -> Result<SplitIndices> {
    let ok = |r: f64| r.is_finite() && (0.0..=1.0).contains(&r);
    if !ok(ratios.train) || !ok(ratios.validation) || ratios.train + ratios.validation > 1.0 {
        return Err(Error::Config {
            field: "split",
            message: format!("fractions must be in [0, 1] and sum to at most 1, got {ratios:?}"),
        });
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_train = (ratios.train * n as f64) as usize;
    let n_val = (ratios.validation * n as f64) as usize;
    let test = idx.split_off(n_train + n_val);
    let validation = idx.split_off(n_train);
    Ok(SplitIndices { train: idx, validation, test })
}

/// Rows per class for `targets` in `0..n_classes`.
pub fn class_counts(targets: &[usize], n_classes: usize) -> Result<Vec<usize>> {
    let mut counts = vec![0usize; n_classes];
    for &t in targets {
        *counts.get_mut(t).ok_or_else(|| Error::Data(format!("class {t} is outside 0..{n_classes}")))? += 1;
    }
    Ok(counts)
}

/// scikit-learn's `_approximate_mode`: split `draws` among classes in proportion to `counts`,
/// flooring, then giving the leftover draws to the classes with the largest remainders (ties to
/// the lower class index; scikit-learn breaks them at random).
fn approximate_mode(counts: &[usize], draws: usize) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    let continuous: Vec<f64> = counts.iter().map(|&c| draws as f64 * c as f64 / total as f64).collect();
    let mut out: Vec<usize> = continuous.iter().map(|c| c.floor() as usize).collect();
    let mut need = draws - out.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| (continuous[b] - out[b] as f64).total_cmp(&(continuous[a] - out[a] as f64)));
    for i in order {
        if need == 0 {
            break;
        }
        if out[i] < counts[i] {
            out[i] += 1;
            need -= 1;
        }
    }
    out
}

/// Stratified train/test split like `train_test_split(test_size=…, stratify=y)`: the test set
/// has ⌈test_fraction · n⌉ rows, and each class is split in proportion (scikit-learn's
/// allocation), its rows drawn at random with `seed`. Returns `(train, test)` row indices.
///
/// ```
/// use propensity::preprocess::stratified_split;
/// let y: Vec<usize> = (0..100).map(|i| if i < 10 { 1 } else { 0 }).collect();
/// let (train, test) = stratified_split(&y, 2, 0.2, 42).unwrap();
/// assert_eq!((train.len(), test.len()), (80, 20));
/// assert_eq!(test.iter().filter(|&&i| y[i] == 1).count(), 2);
/// ```
pub fn stratified_split(
    targets: &[usize],
    n_classes: usize,
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::Config {
            field: "test_fraction",
            message: format!("must be in (0, 1), got {test_fraction}"),
        });
    }
    let counts = class_counts(targets, n_classes)?;
    let n = targets.len();
    let n_test = (test_fraction * n as f64).ceil() as usize;
    let train_counts = approximate_mode(&counts, n - n_test);
    let rest: Vec<usize> = counts.iter().zip(&train_counts).map(|(c, t)| c - t).collect();
    let test_counts = approximate_mode(&rest, n_test);
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for c in 0..n_classes {
        let mut rows: Vec<usize> = (0..n).filter(|&i| targets[i] == c).collect();
        rows.shuffle(&mut rng);
        train.extend_from_slice(&rows[..train_counts[c]]);
        test.extend_from_slice(&rows[train_counts[c]..train_counts[c] + test_counts[c]]);
    }
    train.shuffle(&mut rng);
    test.shuffle(&mut rng);
    Ok((train, test))
}

/// Stratified k-fold: each class's rows are shuffled with `seed` and dealt round-robin to the
/// `k` folds, so every fold holds each class in proportion (±1 row), like
/// `StratifiedKFold(shuffle=True)`. Returns `(train, validation)` indices per fold.
///
/// ```
/// use propensity::preprocess::stratified_kfold;
/// let y = vec![0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
/// let folds = stratified_kfold(&y, 2, 2, 0).unwrap();
/// assert_eq!(folds.len(), 2);
/// for (train, val) in &folds {
///     assert_eq!(train.len() + val.len(), 10);
///     assert_eq!(val.iter().filter(|&&i| y[i] == 0).count(), 2);
/// }
/// ```
pub fn stratified_kfold(
    targets: &[usize],
    n_classes: usize,
    k: usize,
    seed: u64,
) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
    let counts = class_counts(targets, n_classes)?;
    if k < 2 || counts.iter().any(|&c| c > 0 && c < k) {
        return Err(Error::Config {
            field: "folds",
            message: format!("need k ≥ 2 and at least k rows in every class; k = {k}, class counts {counts:?}"),
        });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut fold_of = vec![0usize; targets.len()];
    let mut next = 0usize;
    for c in 0..n_classes {
        let mut rows: Vec<usize> = (0..targets.len()).filter(|&i| targets[i] == c).collect();
        rows.shuffle(&mut rng);
        for r in rows {
            fold_of[r] = next % k;
            next += 1;
        }
    }
    Ok((0..k)
        .map(|f| {
            let (val, train): (Vec<usize>, Vec<usize>) = (0..targets.len()).partition(|&i| fold_of[i] == f);
            (train, val)
        })
        .collect())
}

/// scikit-learn's `compute_class_weight("balanced")`: `n_samples / (n_classes · count_c)`.
///
/// ```
/// use propensity::preprocess::balanced_class_weights;
/// let w = balanced_class_weights(&[0, 1, 1, 1], 2).unwrap();
/// assert_eq!(w, vec![2.0, 4.0 / 6.0]);
/// ```
pub fn balanced_class_weights(targets: &[usize], n_classes: usize) -> Result<Vec<f64>> {
    let counts = class_counts(targets, n_classes)?;
    if let Some(c) = counts.iter().position(|&c| c == 0) {
        return Err(Error::Data(format!("class {c} has no rows; its balanced weight is undefined")));
    }
    let n = targets.len() as f64;
    Ok(counts.iter().map(|&c| n / (n_classes as f64 * c as f64)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn stratified_split_matches_sklearn_allocation() {
        // the shopping data: Hybrid 369, Online 1,176, Store 10,244 rows; scikit-learn's
        // train_test_split(test_size=0.2, stratify=y) gives 9,431 / 2,358 with test 74 / 235 / 2,049
        let y: Vec<usize> =
            [(0, 369), (1, 1176), (2, 10244)].iter().flat_map(|&(c, n)| std::iter::repeat_n(c, n)).collect();
        let (train, test) = stratified_split(&y, 3, 0.2, 42).unwrap();
        assert_eq!((train.len(), test.len()), (9431, 2358));
        let test_counts = class_counts(&test.iter().map(|&i| y[i]).collect::<Vec<_>>(), 3).unwrap();
        assert_eq!(test_counts, vec![74, 235, 2049]);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..y.len()).collect::<Vec<_>>());
        // balanced weights of that training set, as in the issue: [10.6565, 3.3408, 0.3836]
        let w = balanced_class_weights(&train.iter().map(|&i| y[i]).collect::<Vec<_>>(), 3).unwrap();
        for (a, b) in w.iter().zip([10.6565, 3.3408, 0.3836]) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn kfold_partitions_every_row_once() {
        let y: Vec<usize> = (0..53).map(|i| usize::from(i % 5 == 0)).collect();
        let folds = stratified_kfold(&y, 2, 5, 1).unwrap();
        let mut seen = vec![0; 53];
        for (train, val) in &folds {
            assert_eq!(train.len() + val.len(), 53);
            for &i in val {
                seen[i] += 1;
            }
            let ones = val.iter().filter(|&&i| y[i] == 1).count();
            assert!((2..=3).contains(&ones), "{ones}");
        }
        assert!(seen.iter().all(|&s| s == 1));
        assert!(stratified_kfold(&y, 2, 1, 0).is_err());
    }

    #[test]
    fn balance_keeps_minority_and_first_majority_rows() {
        // hand calculation: three 1s, so the first three 0s stay and the fourth 0 goes
        let t = [1, 0, 0, 1, 0, 0, 1];
        assert_eq!(balance_first_rows(&t, 2).unwrap(), vec![0, 1, 2, 3, 4, 6]);
        assert!(balance_first_rows(&[0, 0, 0], 2).is_err());
        assert!(balance_first_rows(&[0, 2], 2).is_err());
    }

    #[test]
    fn scaler_matches_sklearn_scale() {
        // sklearn 1.x: scale([[1, 2], [2, 4], [6, 9]]) ->
        // [[-0.9258200998 -1.0190493307] [-0.4629100499 -0.3396831102] [ 1.3887301497  1.358732441 ]]
        let x = array![[1.0, 2.0], [2.0, 4.0], [6.0, 9.0]];
        let z = StandardScaler::fit(&x).unwrap().transform(&x).unwrap();
        let expected =
            array![[-0.9258200998, -1.0190493307], [-0.4629100499, -0.3396831102], [1.3887301497, 1.358732441]];
        for (a, b) in z.iter().zip(expected.iter()) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        let col0 = z.column(0);
        assert!(col0.mean().unwrap().abs() < 1e-12);
        assert!((col0.std(0.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn scaler_fitted_on_train_is_reused_and_checks_width() {
        let train = array![[0.0], [2.0]];
        let s = StandardScaler::fit(&train).unwrap();
        assert_eq!(s.transform(&array![[4.0]]).unwrap(), array![[3.0]]);
        assert!(s.transform(&array![[1.0, 2.0]]).is_err());
        assert!(StandardScaler::fit(&Array2::zeros((0, 2))).is_err());
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let a = shuffle_split(100, SplitRatios::default(), 7).unwrap();
        assert_eq!(a, shuffle_split(100, SplitRatios::default(), 7).unwrap());
        assert_ne!(a.train, shuffle_split(100, SplitRatios::default(), 8).unwrap().train);
        let mut all: Vec<usize> = a.train.iter().chain(&a.validation).chain(&a.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert!(shuffle_split(10, SplitRatios { train: 0.9, validation: 0.2 }, 0).is_err());
    }
}
