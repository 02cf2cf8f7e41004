//! Permutation feature importance: how much a score drops when one input column (or a group of
//! columns, such as the one-hot columns of one categorical) is shuffled, breaking its link with
//! the target while keeping its distribution — scikit-learn's `permutation_importance`.

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::display::HtmlTable;
use crate::{Error, Result};

/// Importance of one feature: the drop of the score when it is permuted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Feature (or group) name.
    pub feature: String,
    /// Mean drop over the repeats.
    pub mean: f64,
    /// Standard deviation of the drop over the repeats.
    pub std: f64,
}

/// Computes the importance of each group of columns of `x`: `score(x)` minus `score(x with the
/// group's rows permuted together)`, `repeats` times with permutations drawn from `seed`. The
/// result is sorted, most important first.
///
/// ```
/// use propensity::importance::permutation_importance;
/// // the score only looks at column 0, so column 1 has no importance
/// let x = ndarray::array![[0.0f32, 5.0], [1.0, 6.0], [2.0, 7.0], [3.0, 8.0]];
/// let score = |m: &ndarray::Array2<f32>| Ok(-m.column(0).iter().zip([0.0f32, 1.0, 2.0, 3.0]).map(|(a, b)| (a - b).abs() as f64).sum::<f64>());
/// let imp = permutation_importance(&x, &[("a".into(), vec![0]), ("b".into(), vec![1])], 5, 1, score).unwrap();
/// assert_eq!(imp[0].feature, "a");
/// assert_eq!((imp[1].mean, imp[1].std), (0.0, 0.0));
/// ```
pub fn permutation_importance(
    x: &Array2<f32>,
    groups: &[(String, Vec<usize>)],
    repeats: usize,
    seed: u64,
    score: impl Fn(&Array2<f32>) -> Result<f64>,
) -> Result<Vec<Importance>> {
    if repeats == 0 {
        return Err(Error::Config { field: "repeats", message: "must be at least 1".into() });
    }
    if let Some((name, _)) = groups.iter().find(|(_, cols)| cols.iter().any(|&c| c >= x.ncols())) {
        return Err(Error::Data(format!("group {name} names a column beyond the {} inputs", x.ncols())));
    }
    let base = score(x)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(groups.len());
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    for (name, cols) in groups {
        let mut drops = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            order.shuffle(&mut rng);
            let mut shuffled = x.clone();
            for &c in cols {
                for (i, &src) in order.iter().enumerate() {
                    shuffled[[i, c]] = x[[src, c]];
                }
            }
            drops.push(base - score(&shuffled)?);
        }
        let mean = drops.iter().sum::<f64>() / repeats as f64;
        let std = (drops.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / repeats as f64).sqrt();
        out.push(Importance { feature: name.clone(), mean, std });
    }
    out.sort_by(|a, b| b.mean.total_cmp(&a.mean));
    Ok(out)
}

/// Permutation importance of a model's inputs measured as the drop in accuracy on `data`.
pub fn accuracy_importance(
    model: &crate::model::Model,
    data: &crate::Dataset,
    groups: &[(String, Vec<usize>)],
    repeats: usize,
    seed: u64,
) -> Result<Vec<Importance>> {
    permutation_importance(data.inputs(), groups, repeats, seed, |x| {
        let pred = model.predict(x)?;
        Ok(pred.iter().zip(data.targets()).filter(|(p, t)| p == t).count() as f64 / data.len().max(1) as f64)
    })
}

/// Importances as a table; `effect` names what a shuffle does to the score (`drop in
/// accuracy`, `increase in RMSE`).
///
/// ```
/// use propensity::importance::{importance_table, Importance};
/// let imp = [Importance { feature: "visits".into(), mean: 0.05, std: 0.01 }];
/// assert!(importance_table("Importance", "drop in accuracy", &imp).to_html().contains("<th>drop in accuracy (mean)</th>"));
/// ```
pub fn importance_table(caption: &str, effect: &str, imp: &[Importance]) -> HtmlTable {
    let mut t = HtmlTable::new(caption, &["rank", "feature", &format!("{effect} (mean)"), "std"]);
    for (i, m) in imp.iter().enumerate() {
        t.push(vec![(i + 1).to_string(), m.feature.clone(), format!("{:.4}", m.mean), format!("{:.4}", m.std)]);
    }
    t
}

/// Importances as a bar chart of the mean `effect` of shuffling each column (negative effects
/// show as 0).
pub fn importance_plot(title: &str, effect: &str, imp: &[Importance]) -> Result<crate::plot::Svg> {
    let names: Vec<String> = imp.iter().map(|m| m.feature.clone()).collect();
    let values: Vec<f64> = imp.iter().map(|m| m.mean.max(0.0)).collect();
    crate::plot::hbar_chart(title, &format!("{effect} when the column is shuffled"), &names, &values)
}
