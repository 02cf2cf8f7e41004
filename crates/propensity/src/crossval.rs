//! K-fold cross-validation of a [`Task`](crate::task::Task): which fold each row is tested in,
//! and the folds' test scores side by side with their mean (what scikit-learn's
//! `cross_validate` reports).

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::display::HtmlTable;
use crate::runs::Interval;
use crate::table::TextTable;
use crate::task::{Scores, Split, SplitBy, TaskKind, TaskReport};
use crate::{Error, Result};

/// The fold (0..`s.folds`) of each of `rows` (positions into the kept rows):
/// - `random`: shuffled with `seed`, then cut into `folds` runs of equal size (± 1), as
///   `KFold(shuffle=True)`;
/// - `stratified`: each class shuffled and dealt round-robin, as `StratifiedKFold(shuffle=True)`
///   ([`stratified_kfold`](crate::preprocess::stratified_kfold));
/// - `group`: the distinct values of `s.column` shuffled, each given whole to the fold with the
///   fewest rows so far, as `GroupKFold` (with a seeded order).
pub(crate) fn assign_folds(
    s: &Split,
    seed: u64,
    table: &TextTable,
    rows: &[usize],
    y: &[f64],
    n_classes: usize,
) -> Result<Vec<usize>> {
    let (n, k) = (rows.len(), s.folds);
    if n < k {
        return Err(Error::Data(format!("{n} rows cannot be split into {k} folds")));
    }
    let mut fold_of = vec![0usize; n];
    match s.by {
        SplitBy::Random => {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut StdRng::seed_from_u64(seed));
            for (p, &r) in order.iter().enumerate() {
                fold_of[r] = p * k / n;
            }
        }
        SplitBy::Stratified => {
            let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
            for (f, (_, test)) in
                crate::preprocess::stratified_kfold(&labels, n_classes, k, seed)?.into_iter().enumerate()
            {
                for r in test {
                    fold_of[r] = f;
                }
            }
        }
        SplitBy::Group => {
            let j = table.position(s.column.as_deref().expect("checked: a group split names its column"))?;
            let mut size: HashMap<&str, usize> = HashMap::new();
            for &i in rows {
                *size.entry(table.cell(i, j)).or_default() += 1;
            }
            let mut groups: Vec<&str> = size.keys().copied().collect();
            if groups.len() < k {
                return Err(Error::Data(format!(
                    "`{}` has {} distinct values; {k} folds need at least {k}",
                    table.names()[j],
                    groups.len()
                )));
            }
            groups.sort_unstable();
            groups.shuffle(&mut StdRng::seed_from_u64(seed));
            let (mut filled, mut group_fold) = (vec![0usize; k], HashMap::new());
            for g in groups {
                let f = (0..k).min_by_key(|&f| filled[f]).expect("k ≥ 2");
                filled[f] += size[g];
                group_fold.insert(g, f);
            }
            for (p, &i) in rows.iter().enumerate() {
                fold_of[p] = group_fold[table.cell(i, j)];
            }
        }
        SplitBy::Time => {
            return Err(Error::Config { field: "split.folds", message: "a time split has one test set".into() })
        }
    }
    Ok(fold_of)
}

/// One fold's fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldScores {
    /// Training, validation and test rows.
    pub split: [usize; 3],
    /// Epochs the network ran.
    pub epochs: usize,
    /// Test scores: the network, the logistic/linear model, the baseline.
    pub models: Vec<(String, Scores)>,
}

/// The test scores of every fold of a k-fold split ([`Task::cross_validate`](crate::task::Task::cross_validate),
/// `propensity train` with `split.folds` ≥ 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossValidation {
    /// The kind of task (which names the headline measure).
    pub kind: TaskKind,
    /// Each fold in order.
    pub folds: Vec<FoldScores>,
}

impl CrossValidation {
    /// Gathers the folds' reports.
    pub fn new(reports: &[TaskReport]) -> CrossValidation {
        CrossValidation {
            kind: reports.first().map_or(TaskKind::Binary, |r| r.kind),
            folds: reports
                .iter()
                .map(|r| FoldScores { split: r.split, epochs: r.history.epochs_run(), models: r.models.clone() })
                .collect(),
        }
    }

    /// The model names (network first).
    pub fn models(&self) -> Vec<&str> {
        self.folds.first().map_or(vec![], |f| f.models.iter().map(|(m, _)| m.as_str()).collect())
    }

    /// Mean, sd and 95 % interval over the folds of model `m`'s headline score (ROC AUC,
    /// accuracy or RMSE; see [`TaskKind::measure`]).
    pub fn interval(&self, m: usize) -> Option<Interval> {
        Interval::of(&self.folds.iter().map(|f| f.models[m].1.headline()).collect::<Vec<_>>())
    }

    /// One row per fold with each model's headline score, then the mean ± sd and the 95 % interval.
    pub fn table(&self) -> HtmlTable {
        let measure = self.kind.measure();
        let names: Vec<String> = self.models().iter().map(|m| format!("{m} {measure}")).collect();
        let mut header = vec!["fold", "training / validation / test rows", "epochs"];
        header.extend(names.iter().map(String::as_str));
        let mut t =
            HtmlTable::new(&format!("{}-fold cross-validation: test {measure} per fold", self.folds.len()), &header);
        for (f, fold) in self.folds.iter().enumerate() {
            let [a, b, c] = fold.split;
            let mut row = vec![(f + 1).to_string(), format!("{a} / {b} / {c}"), fold.epochs.to_string()];
            row.extend(fold.models.iter().map(|(_, s)| format!("{:.4}", s.headline())));
            t.push(row);
        }
        let intervals: Vec<Option<Interval>> = (0..names.len()).map(|m| self.interval(m)).collect();
        let summary = |label: &str, cell: &dyn Fn(&Interval) -> String| {
            let mut row = vec![label.to_string(), String::new(), String::new()];
            row.extend(intervals.iter().map(|i| i.as_ref().map_or(String::new(), cell)));
            row
        };
        t.push(summary("mean ± sd", &|i| format!("{:.4} ± {:.4}", i.mean, i.std)));
        t.push(summary("95 % CI", &|i| format!("{:.4} … {:.4}", i.low, i.high)));
        t
    }

    /// evcxr's display hook: the [`table`](Self::table).
    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

impl std::fmt::Display for CrossValidation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize) -> (tempfile::TempDir, TextTable) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let body: String = (0..rows).map(|i| format!("C{},{}\n", i % 7, i % 3)).collect();
        std::fs::write(&p, format!("customer,y\n{body}")).unwrap();
        let t = TextTable::read_csv(&p).unwrap();
        (dir, t)
    }

    fn split(by: SplitBy, folds: usize) -> Split {
        Split { by, column: Some("customer".into()), validation: 0.1, test: 0.2, folds }
    }

    #[test]
    fn folds_cover_every_row_once_and_keep_groups_and_classes_together() {
        let (_dir, t) = table(100);
        let rows: Vec<usize> = (0..100).collect();
        let y: Vec<f64> = (0..100).map(|i| (i % 3) as f64).collect();
        let count = |f: &[usize], k: usize| (0..k).map(|j| f.iter().filter(|&&x| x == j).count()).collect::<Vec<_>>();
        // random: 100 rows in 3 folds of 34/33/33, seeded
        let random = assign_folds(&split(SplitBy::Random, 3), 7, &t, &rows, &y, 3).unwrap();
        assert_eq!(count(&random, 3), [34, 33, 33]);
        assert_eq!(random, assign_folds(&split(SplitBy::Random, 3), 7, &t, &rows, &y, 3).unwrap());
        assert_ne!(random, assign_folds(&split(SplitBy::Random, 3), 8, &t, &rows, &y, 3).unwrap());
        // stratified: each class (34/33/33 rows) spread over 2 folds within one row
        let strat = assign_folds(&split(SplitBy::Stratified, 2), 7, &t, &rows, &y, 3).unwrap();
        for c in 0..3 {
            let in_class: Vec<usize> = (0..100).filter(|&i| i % 3 == c).map(|i| strat[i]).collect();
            let n = count(&in_class, 2);
            assert!(n[0].abs_diff(n[1]) <= 1, "class {c}: {n:?}");
        }
        // group: 7 customers whole in 3 folds, fold sizes as even as whole groups allow
        let group = assign_folds(&split(SplitBy::Group, 3), 7, &t, &rows, &y, 3).unwrap();
        for g in 0..7 {
            let folds: Vec<usize> = (0..100).filter(|&i| i % 7 == g).map(|i| group[i]).collect();
            assert!(folds.iter().all(|&f| f == folds[0]), "customer C{g} split across folds");
        }
        let sizes = count(&group, 3);
        assert!(sizes.iter().all(|&s| (28..=43).contains(&s)), "{sizes:?}");
        // 7 customers cannot fill 8 folds
        let err = assign_folds(&split(SplitBy::Group, 8), 7, &t, &rows, &y, 3).unwrap_err();
        assert!(err.to_string().contains("7 distinct values"), "{err}");
    }
}
