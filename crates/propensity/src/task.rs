//! A modelling task on any CSV: which column to predict, how each other column becomes inputs
//! (a [`Pipeline`]), how rows are split, the network's hidden layers and the training settings —
//! one serde document (`propensity init` writes it, `propensity train` runs it). No dataset
//! module is involved: the seed pipelines' own data works through the same path.
//!
//! ```
//! use propensity::task::{Task, TaskKind};
//! let dir = tempfile::tempdir().unwrap();
//! let p = dir.path().join("customers.csv");
//! let mut csv = String::from("customer_id,visits,plan,churned\n");
//! for i in 0..200 {
//!     let visits = i % 17;
//!     let plan = ["basic", "gold", ""][i % 3];
//!     csv += &format!("C{i:04},{visits},{plan},{}\n", if visits < 6 { "Yes" } else { "No" });
//! }
//! std::fs::write(&p, csv).unwrap();
//! let task = Task::infer(&p, "churned").unwrap();
//! assert_eq!((task.target.kind, task.target.positive.as_deref()), (TaskKind::Binary, Some("Yes")));
//! assert_eq!(task.id.as_deref(), Some("customer_id"));
//! assert!(task.hidden.is_empty(), "200 rows: a logistic model");
//! let run = task.fit(&p).unwrap();
//! assert!(run.report.headline() > 0.9, "{}", run.report); // test ROC AUC
//! ```

use std::path::Path;

use ndarray::{Array2, Axis};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::calendar::{format_date, parse_date};
use crate::classify::{ClassificationReport, ConfusionMatrix, RocCurve};
use crate::dataset::DenseDataset;
use crate::display::{Html, HtmlTable};
use crate::importance::Importance;
use crate::losses::DenseLoss;
use crate::model::Model;
use crate::network::{Head, Network};
use crate::pipeline::{parse_bool, Feature, Fill, FittedPipeline, Pipeline, Unseen};
use crate::plot::Svg;
use crate::saved::{ModelCard, Preprocessing, SavedModel};
use crate::table::TextTable;
use crate::train::{EarlyStoppingConfig, History, TrainConfig, Trainer};
use crate::{Dataset, Error, Result};

/// What kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Two classes; the report is about the `positive` one.
    Binary,
    /// Three or more classes.
    Multiclass,
    /// A number.
    Regression,
}

impl TaskKind {
    /// The name used in task files and reports.
    ///
    /// ```
    /// assert_eq!(propensity::task::TaskKind::Multiclass.name(), "multiclass");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Binary => "binary",
            TaskKind::Multiclass => "multiclass",
            TaskKind::Regression => "regression",
        }
    }

    /// The headline test measure of this kind of task (see [`Scores::headline`]).
    pub fn measure(self) -> &'static str {
        match self {
            TaskKind::Binary => "ROC AUC",
            TaskKind::Multiclass => "accuracy",
            TaskKind::Regression => "RMSE",
        }
    }

    /// What shuffling an important column does to [`measure`](Self::measure), for
    /// permutation importance.
    ///
    /// ```
    /// use propensity::task::TaskKind;
    /// assert_eq!(TaskKind::Regression.importance_effect(), "increase in RMSE");
    /// assert_eq!(TaskKind::Binary.importance_effect(), "drop in ROC AUC");
    /// ```
    pub fn importance_effect(self) -> &'static str {
        match self {
            TaskKind::Binary => "drop in ROC AUC",
            TaskKind::Multiclass => "drop in accuracy",
            TaskKind::Regression => "increase in RMSE",
        }
    }
}

/// The column to predict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Column name. Rows with an empty target are left out (and counted in the report).
    pub column: String,
    /// The kind of task.
    pub kind: TaskKind,
    /// Binary tasks: the class whose probability is reported and ranked (`Yes`, `true`, `1`, or
    /// the second class in sorted order when not given).
    #[serde(default)]
    pub positive: Option<String>,
}

/// How rows are assigned to training, validation (early stopping, the best threshold) and test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitBy {
    /// Rows shuffled with the seed.
    Random,
    /// Each class split in proportion (scikit-learn's `stratify=y`); classification only.
    Stratified,
    /// Whole groups (the distinct values of `column`, e.g. a customer id) go to one split.
    Group,
    /// Ordered by the date or number in `column`: the latest rows are the test set.
    Time,
}

impl SplitBy {
    /// The name used in task files.
    pub fn name(self) -> &'static str {
        match self {
            SplitBy::Random => "random",
            SplitBy::Stratified => "stratified",
            SplitBy::Group => "group",
            SplitBy::Time => "time",
        }
    }
}

/// The split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// How rows are assigned.
    pub by: SplitBy,
    /// The group or time column (for `group` and `time`).
    #[serde(default)]
    pub column: Option<String>,
    /// Share of rows for validation.
    pub validation: f64,
    /// Share of rows for the test (unused with `folds` ≥ 2).
    pub test: f64,
    /// K-fold cross-validation when 2 or more: the rows are dealt into `folds` parts (at random,
    /// by class, or by whole groups, as `by` says; not by time) and each part is the test set of
    /// one fit, so every row is tested once; validation rows come from the other parts by the
    /// same rule. `propensity train` fits every fold and reports each and their mean (scikit-learn's
    /// `cross_validate` with `KFold`, `StratifiedKFold` or `GroupKFold`); 1 is one split.
    #[serde(default = "one_fold")]
    pub folds: usize,
}

fn one_fold() -> usize {
    1
}

/// A column the task leaves out, and why (written by [`Task::infer`] so the file says it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignored {
    /// Column name.
    pub column: String,
    /// Why it is not an input.
    pub reason: String,
}

/// A modelling task; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// The column to predict.
    pub target: Target,
    /// An identifier column passed through to scores (`None`: the line number).
    #[serde(default)]
    pub id: Option<String>,
    /// Columns left out, with the reason.
    #[serde(default)]
    pub ignored: Vec<Ignored>,
    /// How the input columns become model inputs.
    pub pipeline: Pipeline,
    /// How rows are split.
    pub split: Split,
    /// Hidden layer widths (ReLU); `[]` is a logistic / linear model.
    pub hidden: Vec<usize>,
    /// Optimizer, batches, epochs, early stopping, class weights, seed.
    pub training: TrainConfig,
}

/// Distinct labels a target may have and still be a classification.
const MAX_CLASSES: usize = 20;
/// Text columns with more levels than this are left out (free text, not a category).
const MAX_LEVELS: usize = 50;
/// Tables with fewer rows get a logistic / linear model by default (see [`Task::infer`]).
pub const SMALL_TABLE: usize = 2000;

/// How one column's present cells read.
fn column_kind(cells: &[&str]) -> (&'static str, usize) {
    let mut distinct: Vec<&str> = cells.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let d = distinct.len();
    if cells.iter().all(|c| c.parse::<f64>().is_ok_and(f64::is_finite)) {
        if d <= 2 && cells.iter().all(|c| parse_bool(c).is_some()) {
            return ("boolean", d);
        }
        return ("numeric", d);
    }
    if cells.iter().all(|c| parse_bool(c).is_some()) {
        ("boolean", d)
    } else if cells.iter().all(|c| parse_date(c).is_ok()) {
        ("date", d)
    } else {
        ("text", d)
    }
}

impl Task {
    /// Infers a task for predicting `target` in the CSV at `path`: the kind of task from the
    /// target's values, an identifier column (a distinct whole number or text in every row), and
    /// a step per other column — numbers (median fill), yes/no booleans, dates (age in days at the
    /// latest date), text categories (one-hot with an `(other)` input for unseen levels) — leaving
    /// out constant, empty and free-text columns with the reason. Defaults: stratified split
    /// 80/10/10 (random for regression), hidden layers 50-50, the audiobooks training settings
    /// with early stopping patience 5 restoring the best epoch; tables under [`SMALL_TABLE`] rows
    /// get no hidden layer (a logistic / linear model), batches of 32, learning rate 0.01, up to
    /// 1000 epochs and patience 10 (the loss is convex; with the network's 0.001 and 300 epochs
    /// iris and wine stopped short of scikit-learn's accuracy).
    pub fn infer(path: impl AsRef<Path>, target: &str) -> Result<Task> {
        let table = TextTable::read_csv(&path)?;
        let tj = table.position(target)?;
        let rows = table.rows();
        let present =
            |j: usize| -> Vec<&str> { table.column(j).iter().map(String::as_str).filter(|c| !c.is_empty()).collect() };
        let t_cells = present(tj);
        let (t_kind, t_distinct) = column_kind(&t_cells);
        let kind = match (t_kind, t_distinct) {
            (_, 0 | 1) => {
                return Err(Error::Data(format!(
                    "{}: the target `{target}` has {t_distinct} distinct value(s); nothing to predict",
                    table.source().display()
                )))
            }
            (_, 2) => TaskKind::Binary,
            ("numeric", d)
                if d > MAX_CLASSES || t_cells.iter().any(|c| c.parse::<f64>().is_ok_and(|v| v.fract() != 0.0)) =>
            {
                TaskKind::Regression
            }
            (_, d) if d <= MAX_CLASSES => TaskKind::Multiclass,
            (_, d) => {
                return Err(Error::Data(format!(
                    "{}: the target `{target}` is text with {d} distinct values; \
                     classification needs at most {MAX_CLASSES}",
                    table.source().display()
                )))
            }
        };
        let positive = (kind == TaskKind::Binary).then(|| {
            let mut d = t_cells.clone();
            d.sort_unstable();
            d.dedup();
            d.iter().find(|c| parse_bool(c) == Some(true)).unwrap_or(&d[1]).to_string()
        });
        let (mut id, mut ignored, mut features) = (None, vec![], vec![]);
        for (j, name) in table.names().iter().enumerate() {
            if j == tj {
                continue;
            }
            let cells = present(j);
            let (k, d) = column_kind(&cells);
            let ignore = |reason: String| Ignored { column: name.clone(), reason };
            let whole = |c: &&str| c.parse::<f64>().is_ok_and(|v| v.fract() == 0.0);
            let identifier = rows >= 20
                && cells.len() == rows
                && ((k == "numeric" && d == rows && cells.iter().all(whole)) || (k == "text" && d * 10 >= rows * 9));
            if cells.is_empty() {
                ignored.push(ignore("empty".into()));
            } else if d == 1 && cells.len() == rows {
                ignored.push(ignore(format!("constant ({:?})", cells[0])));
            } else if identifier {
                if id.is_none() {
                    id = Some(name.clone());
                    ignored.push(ignore("identifier (the id of the scores)".into()));
                } else {
                    ignored.push(ignore("identifier (a distinct value in almost every row)".into()));
                }
            } else {
                let column = name.clone();
                features.push(match k {
                    "numeric" => Feature::Numeric { column, fill: Fill::Median, log1p: false },
                    "boolean" => Feature::Boolean { column, fill: Fill::MostFrequent },
                    "date" => {
                        let latest = cells.iter().filter_map(|c| parse_date(c).ok()).max().expect("dates");
                        Feature::Date { column, reference: Some(format_date(latest)), weeks: false, fill: Fill::Median }
                    }
                    _ if d > MAX_LEVELS => {
                        ignored.push(ignore(format!(
                            "free text ({d} distinct values; at most {MAX_LEVELS} are one-hot encoded)"
                        )));
                        continue;
                    }
                    _ => Feature::Categorical { column, unseen: Unseen::Other },
                });
            }
        }
        if features.is_empty() {
            return Err(Error::Data(format!("{}: no column is usable as an input", table.source().display())));
        }
        // Hidden layers need data: below SMALL_TABLE rows a logistic / linear model (no hidden
        // layer) is the default, trained longer with smaller batches — on small clean tables it
        // matches scikit-learn's LogisticRegression where a 50-50 network overfits.
        let small = rows < SMALL_TABLE;
        let task = Task {
            target: Target { column: target.to_string(), kind, positive },
            id,
            ignored,
            pipeline: Pipeline { features, standardize: true },
            split: Split {
                by: if kind == TaskKind::Regression { SplitBy::Random } else { SplitBy::Stratified },
                column: None,
                validation: 0.1,
                test: 0.1,
                folds: 1,
            },
            hidden: if small { vec![] } else { vec![50, 50] },
            training: TrainConfig {
                batch_size: if small { 32 } else { 100 },
                max_epochs: if small { 1000 } else { 100 },
                learning_rate: if small { 0.01 } else { TrainConfig::default().learning_rate },
                early_stopping: Some(EarlyStoppingConfig {
                    patience: if small { 10 } else { 5 },
                    min_delta: 0.0,
                    restore_best: true,
                }),
                adam: crate::optim::AdamForm::Pytorch,
                ..TrainConfig::default()
            },
        };
        task.check()?;
        Ok(task)
    }

    /// Reads a task file — TOML when the name ends in `.toml`, JSON otherwise — naming the
    /// file, the line and the problem on error.
    ///
    /// ```
    /// use propensity::task::Task;
    /// let dir = tempfile::tempdir().unwrap();
    /// let csv = dir.path().join("c.csv");
    /// let rows: String = (0..40).map(|i| format!("{i},{},{}\n", i % 7, if i % 3 == 0 { "yes" } else { "no" })).collect();
    /// std::fs::write(&csv, format!("id,visits,bought\n{rows}")).unwrap();
    /// let task = Task::infer(&csv, "bought").unwrap();
    /// task.save(dir.path().join("task.toml")).unwrap();
    /// assert_eq!(Task::read(dir.path().join("task.toml")).unwrap(), task);
    /// ```
    pub fn read(path: impl AsRef<Path>) -> Result<Task> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |message: String| Error::Format {
            file: path.to_path_buf(),
            message: format!("not a task file: {message}"),
        };
        let task: Task = if is_toml(path) {
            toml::from_str(&text).map_err(|e| bad(e.to_string()))?
        } else {
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
        };
        task.check()?;
        Ok(task)
    }

    /// Writes the task atomically: TOML when the name ends in `.toml`, pretty JSON otherwise.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let text = if is_toml(path) {
            toml::to_string_pretty(self).map_err(|e| Error::Data(format!("the task as TOML: {e}")))?
        } else {
            serde_json::to_string_pretty(self).expect("Task serialises") + "\n"
        };
        crate::io::write_bytes_atomic(path, text.as_bytes())
    }

    /// Every column's role as a table: the target, the id, each input with its step, each
    /// column left out with the reason; then the split, the network and the training settings.
    pub fn summary(&self) -> HtmlTable {
        let mut t = HtmlTable::new("The task: what each column becomes", &["column", "role", "how"]);
        let positive = self.target.positive.as_ref().map_or(String::new(), |p| format!(", positive class `{p}`"));
        t.push(vec![self.target.column.clone(), "target".into(), format!("{}{positive}", self.target.kind.name())]);
        for f in &self.pipeline.features {
            t.push(vec![f.column().to_string(), "input".into(), f.describe()]);
        }
        for i in &self.ignored {
            let role = if Some(&i.column) == self.id.as_ref() { "id" } else { "left out" };
            t.push(vec![i.column.clone(), role.into(), i.reason.clone()]);
        }
        let s = &self.split;
        let by = match &s.column {
            Some(c) => format!("{} by `{c}`", s.by.name()),
            None => s.by.name().to_string(),
        };
        let share = |r: f64| format!("{:.0} %", 100.0 * r);
        let how = if s.folds >= 2 {
            format!(
                "{by}, {}-fold cross-validation: each fold is the test set once; validation {} of the rows, \
                 from the other folds",
                s.folds,
                share(s.validation)
            )
        } else {
            format!(
                "{by}: training {} / validation {} / test {}",
                share(1.0 - s.validation - s.test),
                share(s.validation),
                share(s.test)
            )
        };
        t.push(vec!["(split)".into(), "rows".into(), how]);
        let hidden = if self.hidden.is_empty() {
            "no hidden layer (logistic / linear)".to_string()
        } else {
            format!("hidden layers {:?} (ReLU)", self.hidden)
        };
        let c = &self.training;
        let stop = c.early_stopping.as_ref().map_or("no early stopping".to_string(), |e| {
            format!("early stopping after {} epochs without improvement", e.patience)
        });
        t.push(vec![
            "(network)".into(),
            "model".into(),
            format!(
                "{hidden}; batches of {}, learning rate {}, up to {} epochs, {stop}{}; seed {}",
                c.batch_size,
                c.learning_rate,
                c.max_epochs,
                if c.class_weights == crate::train::ClassWeights::None { "" } else { ", balanced class weights" },
                c.seed
            ),
        ]);
        t
    }

    /// evcxr's display hook: the [`summary`](Self::summary) table.
    pub fn evcxr_display(&self) {
        self.summary().evcxr_display();
    }

    /// Checks the fields before any data is read.
    pub fn check(&self) -> Result<()> {
        let bad = |field, message: String| Err(Error::Config { field, message });
        let s = &self.split;
        let ok = |r: f64| r.is_finite() && (0.0..1.0).contains(&r);
        if !(ok(s.validation) && ok(s.test) && s.test > 0.0) || s.validation + s.test >= 1.0 {
            return bad(
                "split",
                format!(
                    "validation {} and test {} must be shares in [0, 1) leaving training rows",
                    s.validation, s.test
                ),
            );
        }
        match (s.by, &s.column) {
            (SplitBy::Group | SplitBy::Time, None) => {
                return bad("split.column", "is needed for a group or time split".into())
            }
            (SplitBy::Stratified, _) if self.target.kind == TaskKind::Regression => {
                return bad("split.by", "stratified needs classes; use random for regression".into())
            }
            _ => {}
        }
        if s.folds == 0 {
            return bad("split.folds", "must be at least 1 (1: one split; k ≥ 2: k-fold cross-validation)".into());
        }
        if s.folds >= 2 && s.by == SplitBy::Time {
            return bad(
                "split.folds",
                "k-fold would test on the past with a model trained on the future; a time split keeps the \
                 latest `test` share as the one test set (set folds = 1)"
                    .into(),
            );
        }
        if self.hidden.contains(&0) {
            return bad("hidden", "layer widths must be at least 1".into());
        }
        let col = |c: &str| self.pipeline.features.iter().any(|f| f.column() == c);
        if col(&self.target.column) {
            return bad("pipeline", format!("the target `{}` cannot also be an input", self.target.column));
        }
        if self.pipeline.features.is_empty() {
            return bad("pipeline", "lists no input columns".into());
        }
        if self.target.kind == TaskKind::Regression && self.training.class_weights != crate::train::ClassWeights::None {
            return bad("training.class_weights", "apply to classification only".into());
        }
        self.training.check()
    }

    /// Trains the task on `data` with its seed (see [`TaskRun`]).
    pub fn fit(&self, data: impl AsRef<Path>) -> Result<TaskRun> {
        self.check()?; // before reading a large file
        self.fit_checked(&TextTable::read_csv(data)?, 0)
    }

    /// [`fit`](Self::fit) on a table already read (several seeds on one file read once). With
    /// k-fold cross-validation this is the first fold's fit.
    pub fn fit_table(&self, table: &TextTable) -> Result<TaskRun> {
        self.fit_fold(table, 0)
    }

    /// The fit whose test set is fold `fold` (0-based) of a k-fold split; fold 0 is the one
    /// split when `split.folds` is 1.
    pub fn fit_fold(&self, table: &TextTable, fold: usize) -> Result<TaskRun> {
        self.check()?;
        if fold >= self.split.folds {
            return Err(Error::Config {
                field: "fold",
                message: format!("fold {fold} of a split into {} fold(s)", self.split.folds),
            });
        }
        self.fit_checked(table, fold)
    }

    /// Fits every fold of a k-fold split (`split.folds` ≥ 2) and gathers their test scores.
    ///
    /// ```
    /// use propensity::table::TextTable;
    /// use propensity::task::{Task, SplitBy};
    /// let dir = tempfile::tempdir().unwrap();
    /// let p = dir.path().join("t.csv");
    /// let rows: String = (0..300).map(|i| format!("{},{}\n", i % 13, if i % 13 < 5 { "yes" } else { "no" })).collect();
    /// std::fs::write(&p, format!("visits,bought\n{rows}")).unwrap();
    /// let mut task = Task::infer(&p, "bought").unwrap();
    /// task.split.folds = 3;
    /// let cv = task.cross_validate(&TextTable::read_csv(&p).unwrap()).unwrap();
    /// assert_eq!(cv.folds.len(), 3);
    /// assert_eq!(cv.folds.iter().map(|f| f.split[2]).sum::<usize>(), 300, "every row tested once");
    /// assert_eq!(task.split.by, SplitBy::Stratified);
    /// ```
    pub fn cross_validate(&self, table: &TextTable) -> Result<crate::crossval::CrossValidation> {
        self.check()?;
        if self.split.folds < 2 {
            return Err(Error::Config {
                field: "split.folds",
                message: "cross-validation needs 2 or more folds".into(),
            });
        }
        let reports = (0..self.split.folds)
            .map(|f| self.fit_checked(table, f).map(|run| run.report))
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::crossval::CrossValidation::new(&reports))
    }

    fn fit_checked(&self, table: &TextTable, fold: usize) -> Result<TaskRun> {
        Prepared::new(self, table, fold)?.run(self, table)
    }
}

/// The target, read; the rows that have one.
struct Prepared {
    rows: Vec<usize>,
    without_target: usize,
    classes: Vec<String>,
    /// Class index (classification) or value (regression) per kept row.
    y: Vec<f64>,
    split: (Vec<usize>, Vec<usize>, Vec<usize>),
}

impl Prepared {
    fn new(task: &Task, table: &TextTable, fold: usize) -> Result<Prepared> {
        let tj = table.position(&task.target.column)?;
        let rows: Vec<usize> = (0..table.rows()).filter(|&i| !table.cell(i, tj).is_empty()).collect();
        let without_target = table.rows() - rows.len();
        let (classes, y) = if task.target.kind == TaskKind::Regression {
            let y = rows
                .iter()
                .map(|&i| match table.cell(i, tj).parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err(table.cell_error(
                        i,
                        tj,
                        format!("expected a number (regression target), found {:?}", table.cell(i, tj)),
                    )),
                })
                .collect::<Result<Vec<f64>>>()?;
            (vec![task.target.column.clone()], y)
        } else {
            let mut classes: Vec<String> = rows.iter().map(|&i| table.cell(i, tj).to_string()).collect();
            classes.sort_unstable();
            classes.dedup();
            match (task.target.kind, classes.len()) {
                (TaskKind::Binary, 2) => {
                    if let Some(p) = &task.target.positive {
                        let k = classes.iter().position(|c| c == p).ok_or_else(|| Error::Config {
                            field: "target.positive",
                            message: format!("{p:?} is not one of the target's values {classes:?}"),
                        })?;
                        classes.swap(k, 1); // the positive class is class 1
                    }
                }
                (TaskKind::Binary, n) => {
                    return Err(Error::Data(format!(
                        "a binary target needs 2 distinct values, `{}` has {n}: {classes:?}",
                        task.target.column
                    )))
                }
                (_, n) if n < 2 => {
                    return Err(Error::Data(format!("the target `{}` has one value only", task.target.column)))
                }
                _ => {}
            }
            let y = rows
                .iter()
                .map(|&i| classes.iter().position(|c| c == table.cell(i, tj)).expect("a class") as f64)
                .collect();
            (classes, y)
        };
        if rows.len() < 10 {
            return Err(Error::Data(format!("{} rows have a target; at least 10 are needed", rows.len())));
        }
        let split = split_rows(task, table, &rows, &y, classes.len(), fold)?;
        Ok(Prepared { rows, without_target, classes, y, split })
    }

    fn run(&self, task: &Task, table: &TextTable) -> Result<TaskRun> {
        let (train, val, _) = &self.split;
        let pick = |idx: &[usize]| -> Vec<usize> { idx.iter().map(|&k| self.rows[k]).collect() };
        let fitted = task.pipeline.fit(table, &pick(train))?;
        let x_all = fitted.transform(table)?;
        let x = |idx: &[usize]| x_all.select(Axis(0), &pick(idx)).mapv(|v| v as f32);
        let width = fitted.width();
        let regression = task.target.kind == TaskKind::Regression;
        let seed = task.training.seed;
        let config = task.training.clone();
        let (model, history, logistic, target_scale) = if regression {
            let ys: Vec<f64> = train.iter().map(|&k| self.y[k]).collect();
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            let sd = (ys.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / ys.len() as f64).sqrt();
            let sd = if sd > 0.0 { sd } else { 1.0 };
            let dense = |idx: &[usize]| {
                let t = Array2::from_shape_fn((idx.len(), 1), |(r, _)| ((self.y[idx[r]] - mean) / sd) as f32);
                DenseDataset::new(x(idx), t)
            };
            let (tr, va) = (dense(train)?, dense(val)?);
            let va = (!val.is_empty()).then_some(&va);
            let fit = |hidden: &[usize]| {
                let cfg = TrainConfig { early_stopping: va.and(config.early_stopping), ..config.clone() };
                Trainer::new(cfg)?.fit_dense(
                    &Network::mlp(width, hidden, 1, Head::Linear),
                    &tr,
                    va,
                    DenseLoss::MeanSquaredError,
                )
            };
            let main = fit(&task.hidden)?;
            // with no hidden layers the network is the linear model already
            let linear = if task.hidden.is_empty() { None } else { Some(fit(&[])?.model) };
            (main.model, main.history, linear, Some((mean, sd)))
        } else {
            let labels = |idx: &[usize]| idx.iter().map(|&k| self.y[k] as usize).collect::<Vec<_>>();
            let (tr, va) = (Dataset::new(x(train), labels(train))?, Dataset::new(x(val), labels(val))?);
            let va = (!val.is_empty()).then_some(&va);
            let fit = |hidden: &[usize]| {
                let cfg = TrainConfig { early_stopping: va.and(config.early_stopping), ..config.clone() };
                Trainer::new(cfg)?.fit(&Network::mlp(width, hidden, self.classes.len(), Head::Softmax), &tr, va)
            };
            let main = fit(&task.hidden)?;
            let logistic = if task.hidden.is_empty() { None } else { Some(fit(&[])?.model) };
            (main.model, main.history, logistic, None)
        };
        let report =
            TaskReport::new(self, task, &fitted, &model, logistic.as_ref(), &history, &x, target_scale, table)?;
        let metrics = serde_json::to_value(&report.models).expect("scores serialise");
        let card = ModelCard::new(table.source(), &TrainConfig { seed, ..config }, metrics)?;
        let preprocessing = Preprocessing {
            pipeline: fitted,
            id: task.id.iter().cloned().collect(),
            target: vec![task.target.column.clone()],
            labels: crate::saved::Labels::Names,
            regression: target_scale.map(|(mean, sd)| crate::saved::Standardized {
                mean,
                sd,
                log1p: false,
                floor: None,
            }),
        };
        let saved = SavedModel::new(&model, self.classes.clone(), preprocessing, card);
        Ok(TaskRun { report, saved, model })
    }
}

fn is_toml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// Row positions (into the kept rows) of training, validation and test: one split by the
/// shares, or fold `fold` of a k-fold split as the test set.
fn split_rows(
    task: &Task,
    table: &TextTable,
    rows: &[usize],
    y: &[f64],
    n_classes: usize,
    fold: usize,
) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let s = &task.split;
    let n = rows.len();
    let seed = task.training.seed;
    let n_val = (s.validation * n as f64).round() as usize;
    let out = if s.folds >= 2 {
        let fold_of = crate::crossval::assign_folds(s, seed, table, rows, y, n_classes)?;
        let (test, rest): (Vec<usize>, Vec<usize>) = (0..n).partition(|&k| fold_of[k] == fold);
        if n_val == 0 {
            (rest, vec![], test)
        } else {
            // validation from the other folds by the same rule, as a one-split test share
            let sub_rows: Vec<usize> = rest.iter().map(|&k| rows[k]).collect();
            let sub_y: Vec<f64> = rest.iter().map(|&k| y[k]).collect();
            let (train, _, val) =
                holdout(s, seed + 1, table, &sub_rows, &sub_y, n_classes, n_val.min(rest.len() - 1), 0)?;
            (train.into_iter().map(|k| rest[k]).collect(), val.into_iter().map(|k| rest[k]).collect(), test)
        }
    } else {
        let n_test = ((s.test * n as f64).round() as usize).max(1);
        holdout(s, seed, table, rows, y, n_classes, n_test, n_val)?
    };
    if out.0.is_empty() || out.2.is_empty() {
        return Err(Error::Data(format!(
            "the split leaves {} training and {} test rows; both need at least one",
            out.0.len(),
            out.2.len()
        )));
    }
    Ok(out)
}

/// One split of `rows` by `s.by`: the last `n_test` rows in the rule's order are the test set,
/// the `n_val` before them validation.
#[allow(clippy::too_many_arguments)]
fn holdout(
    s: &Split,
    seed: u64,
    table: &TextTable,
    rows: &[usize],
    y: &[f64],
    n_classes: usize,
    n_test: usize,
    n_val: usize,
) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let n = rows.len();
    let cut = |order: Vec<usize>| {
        let mut order = order;
        let test = order.split_off(n - n_test);
        let val = order.split_off(n - n_test - n_val);
        (order, val, test)
    };
    let column = || table.position(s.column.as_deref().expect("checked"));
    Ok(match s.by {
        SplitBy::Random => {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut StdRng::seed_from_u64(seed));
            cut(order)
        }
        SplitBy::Stratified => {
            let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
            let (rest, test) = crate::preprocess::stratified_split(&labels, n_classes, n_test as f64 / n as f64, seed)?;
            let (train, val) = if n_val == 0 {
                (rest, vec![])
            } else {
                let rest_labels: Vec<usize> = rest.iter().map(|&k| labels[k]).collect();
                let (a, b) = crate::preprocess::stratified_split(
                    &rest_labels,
                    n_classes,
                    n_val as f64 / rest.len() as f64,
                    seed + 1,
                )?;
                (a.into_iter().map(|k| rest[k]).collect(), b.into_iter().map(|k| rest[k]).collect())
            };
            (train, val, test)
        }
        SplitBy::Group => {
            let j = column()?;
            let mut groups: Vec<&str> = rows.iter().map(|&i| table.cell(i, j)).collect();
            groups.sort_unstable();
            groups.dedup();
            groups.shuffle(&mut StdRng::seed_from_u64(seed));
            // groups fill the test set, then validation, in shuffled order
            let mut assign = std::collections::HashMap::new();
            let size = |g: &str| rows.iter().filter(|&&i| table.cell(i, j) == g).count();
            let (mut t, mut v) = (0, 0);
            for g in groups {
                let part = if t < n_test {
                    t += size(g);
                    2
                } else if v < n_val {
                    v += size(g);
                    1
                } else {
                    0
                };
                assign.insert(g, part);
            }
            let mut parts = (vec![], vec![], vec![]);
            for (k, &i) in rows.iter().enumerate() {
                match assign[table.cell(i, j)] {
                    2 => parts.2.push(k),
                    1 => parts.1.push(k),
                    _ => parts.0.push(k),
                }
            }
            parts
        }
        SplitBy::Time => {
            let j = column()?;
            let mut keyed = Vec::with_capacity(n);
            for (k, &i) in rows.iter().enumerate() {
                let c = table.cell(i, j);
                let key =
                    parse_date(c).map(|d| d as f64).or_else(|_| c.parse::<f64>().map_err(|_| ())).map_err(|_| {
                        table.cell_error(i, j, format!("expected a date or a number to order rows by, found {c:?}"))
                    })?;
                keyed.push((key, k));
            }
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            cut(keyed.into_iter().map(|(_, k)| k).collect())
        }
    })
}

/// A trained task: the report, the model file's contents and the model.
#[derive(Debug, Clone)]
pub struct TaskRun {
    /// The evaluation.
    pub report: TaskReport,
    /// What `model.json` holds.
    pub saved: SavedModel,
    /// The network with its weights.
    pub model: Model,
}

/// One model's test scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Scores {
    /// Binary classification (of the positive class).
    Binary {
        /// ROC AUC.
        auc: f64,
        /// Average precision.
        ap: f64,
        /// Accuracy predicting positive at p ≥ 0.5.
        accuracy: f64,
        /// Accuracy at `threshold`.
        accuracy_at_threshold: f64,
        /// The threshold with the best validation accuracy (0.5 without validation rows).
        threshold: f64,
        /// Mean squared error of the probability (Brier score).
        brier: f64,
        /// Positive rate in the top 10 % by score / the base rate.
        top_decile_lift: f64,
    },
    /// Multiclass classification.
    Multiclass {
        /// Accuracy.
        accuracy: f64,
        /// Macro mean of the one-vs-rest ROC AUCs.
        macro_auc: f64,
        /// Macro F1.
        macro_f1: f64,
        /// Support-weighted F1.
        weighted_f1: f64,
    },
    /// Regression.
    Regression {
        /// Root mean squared error.
        rmse: f64,
        /// Mean absolute error.
        mae: f64,
        /// Coefficient of determination (1 − SSE / SST over the test rows).
        r2: f64,
        /// Spearman rank correlation.
        spearman: f64,
    },
}

impl Scores {
    /// The headline number: ROC AUC, accuracy or RMSE.
    pub fn headline(&self) -> f64 {
        match self {
            Scores::Binary { auc, .. } => *auc,
            Scores::Multiclass { accuracy, .. } => *accuracy,
            Scores::Regression { rmse, .. } => *rmse,
        }
    }

    pub(crate) fn header(&self) -> Vec<&'static str> {
        match self {
            Scores::Binary { .. } => vec![
                "model",
                "ROC AUC",
                "AP",
                "accuracy @0.5",
                "threshold",
                "accuracy @threshold",
                "Brier",
                "top-decile lift",
            ],
            Scores::Multiclass { .. } => vec!["model", "accuracy", "macro ROC AUC", "macro F1", "weighted F1"],
            Scores::Regression { .. } => vec!["model", "RMSE", "MAE", "R²", "Spearman"],
        }
    }

    pub(crate) fn row(&self, name: &str) -> Vec<String> {
        let f = |v: &f64| format!("{v:.4}");
        let mut r = vec![name.to_string()];
        match self {
            Scores::Binary { auc, ap, accuracy, accuracy_at_threshold, threshold, brier, top_decile_lift } => {
                r.extend([
                    f(auc),
                    f(ap),
                    f(accuracy),
                    format!("{threshold:.2}"),
                    f(accuracy_at_threshold),
                    f(brier),
                    format!("{top_decile_lift:.2}"),
                ])
            }
            Scores::Multiclass { accuracy, macro_auc, macro_f1, weighted_f1 } => {
                r.extend([f(accuracy), f(macro_auc), f(macro_f1), f(weighted_f1)])
            }
            Scores::Regression { rmse, mae, r2, spearman } => r.extend([f(rmse), f(mae), f(r2), f(spearman)]),
        }
        r
    }
}

/// What a data scientist reads after training: data and split, the test scores of the network
/// next to a logistic/linear model trained by the same code and a majority/mean baseline, the
/// confusion matrix and per-class report, permutation importance and the plots.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskReport {
    /// The data file.
    pub data: String,
    /// The task.
    pub kind: TaskKind,
    /// The target column.
    pub target: String,
    /// Rows used.
    pub rows: usize,
    /// Rows left out because their target was empty.
    pub rows_without_target: usize,
    /// Training, validation and test rows.
    pub split: [usize; 3],
    /// Rows per class over the used rows (classification).
    pub class_counts: Vec<(String, usize)>,
    /// Input columns after encoding.
    pub inputs: Vec<String>,
    /// The network's name (`mlp-30-50-50-2`).
    pub network: String,
    /// Epochs run and the epoch whose weights were kept.
    pub epochs: (usize, Option<usize>),
    /// Test scores: the network, the logistic/linear model, the baseline.
    pub models: Vec<(String, Scores)>,
    /// The network's test loss and accuracy (classification).
    pub evaluation: Option<crate::metrics::Evaluation>,
    /// Test confusion matrix of the network (classification, at the most likely class).
    pub confusion: Option<ConfusionMatrix>,
    /// Per-class precision/recall/F1 of the network (classification).
    pub classification: Option<ClassificationReport>,
    /// Drop in the headline score when each input column is shuffled (test rows, 5 repeats).
    pub importance: Vec<Importance>,
    /// The training history.
    pub history: History,
    /// The plots (not serialized).
    #[serde(skip)]
    pub plots: ReportPlots,
}

/// The plots of a [`TaskReport`], each displayable in a notebook.
#[derive(Debug, Clone, Default)]
pub struct ReportPlots {
    /// Training and validation loss (and accuracy) per epoch.
    pub curves: Svg,
    /// ROC curve (binary) or one-vs-rest ROC curves (multiclass).
    pub roc: Option<Svg>,
    /// Cumulative gains of the positive class (binary).
    pub gains: Option<Svg>,
    /// Reliability diagram of the positive class (binary).
    pub reliability: Option<Svg>,
    /// Permutation importance by column.
    pub importance: Svg,
}

impl ReportPlots {
    /// The plots present, in reading order.
    pub fn all(&self) -> Vec<&Svg> {
        let mut v = vec![&self.curves];
        v.extend(self.charts());
        v.push(&self.importance);
        v
    }

    /// The ROC, gains and reliability charts present for this task.
    pub fn charts(&self) -> impl Iterator<Item = &Svg> {
        [&self.roc, &self.gains, &self.reliability].into_iter().flatten()
    }
}

fn r2(actual: &[f64], predicted: &[f64]) -> f64 {
    let mean = actual.iter().sum::<f64>() / actual.len() as f64;
    let sst: f64 = actual.iter().map(|a| (a - mean).powi(2)).sum();
    let sse: f64 = actual.iter().zip(predicted).map(|(a, p)| (a - p).powi(2)).sum();
    1.0 - sse / sst
}

/// Accuracy of "positive when p ≥ t".
fn accuracy_at(p: &[f64], positive: &[bool], t: f64) -> f64 {
    p.iter().zip(positive).filter(|(p, y)| (**p >= t) == **y).count() as f64 / p.len() as f64
}

/// The threshold in 0.01…0.99 with the best accuracy (ties: nearest 0.5).
fn best_threshold(p: &[f64], positive: &[bool]) -> f64 {
    if p.is_empty() {
        return 0.5;
    }
    (1..100)
        .map(|k| k as f64 / 100.0)
        .max_by(|a, b| {
            accuracy_at(p, positive, *a)
                .total_cmp(&accuracy_at(p, positive, *b))
                .then((b - 0.5).abs().total_cmp(&(a - 0.5).abs()))
        })
        .expect("thresholds")
}

pub(crate) fn binary_scores(p: &[f64], positive: &[bool], threshold: f64) -> Result<Scores> {
    let ids: Vec<u64> = (0..p.len() as u64).collect();
    let b = crate::ranking::BinaryScores::of(p, positive, &ids)?;
    Ok(Scores::Binary {
        auc: b.auc,
        ap: b.ap,
        accuracy: accuracy_at(p, positive, 0.5),
        accuracy_at_threshold: accuracy_at(p, positive, threshold),
        threshold,
        brier: p.iter().zip(positive).map(|(p, y)| (p - f64::from(u8::from(*y))).powi(2)).sum::<f64>() / p.len() as f64,
        top_decile_lift: b.top_decile_lift,
    })
}

/// RMSE, MAE, R² and Spearman of `predicted` amounts.
pub(crate) fn regression_scores(actual: &[f64], predicted: &[f64]) -> Result<Scores> {
    let ids: Vec<u64> = (0..predicted.len() as u64).collect();
    let s = crate::ranking::RegressionScores::of(actual, predicted, &ids)?;
    Ok(Scores::Regression { rmse: s.rmse, mae: s.mae, r2: r2(actual, predicted), spearman: s.spearman })
}

pub(crate) fn multiclass_scores(
    proba: &Array2<f32>,
    y: &[usize],
    classes: &[String],
) -> Result<(Scores, ConfusionMatrix, ClassificationReport, Vec<RocCurve>)> {
    let pred: Vec<usize> = proba.rows().into_iter().map(crate::model::argmax_row).collect();
    let cm = ConfusionMatrix::new(y, &pred, classes)?;
    let rep = ClassificationReport::from_confusion(&cm);
    let curves = crate::classify::one_vs_rest(proba, y, classes)?;
    let scores = Scores::Multiclass {
        accuracy: rep.accuracy,
        macro_auc: crate::classify::macro_auc(&curves),
        macro_f1: rep.macro_avg.f1,
        weighted_f1: rep.weighted_avg.f1,
    };
    Ok((scores, cm, rep, curves))
}

impl TaskReport {
    #[allow(clippy::too_many_arguments)]
    fn new(
        prep: &Prepared,
        task: &Task,
        fitted: &FittedPipeline,
        model: &Model,
        simple: Option<&Model>,
        history: &History,
        x: &dyn Fn(&[usize]) -> Array2<f32>,
        target_scale: Option<(f64, f64)>,
        table: &TextTable,
    ) -> Result<TaskReport> {
        let (train, val, test) = &prep.split;
        let (x_test, x_val) = (x(test), x(val));
        let classes = &prep.classes;
        let seed = task.training.seed;
        let groups = fitted.feature_groups();
        let mut plots = ReportPlots { curves: crate::plot::training_curves(history)?, ..ReportPlots::default() };
        let (mut confusion, mut classification, mut evaluation) = (None, None, None);
        let simple_name = if target_scale.is_some() { "linear (same trainer)" } else { "logistic (same trainer)" };
        let (models, importance) = match task.target.kind {
            TaskKind::Regression => {
                let (mean, sd) = target_scale.expect("regression");
                let actual: Vec<f64> = test.iter().map(|&k| prep.y[k]).collect();
                let predict = |m: &Model, x: &Array2<f32>| -> Result<Vec<f64>> {
                    Ok(m.outputs(x)?.column(0).iter().map(|&v| f64::from(v) * sd + mean).collect())
                };
                let scores = |p: &[f64]| regression_scores(&actual, p);
                let train_mean = train.iter().map(|&k| prep.y[k]).sum::<f64>() / train.len() as f64;
                let baseline = vec![train_mean; actual.len()];
                let mut models = vec![(format!("network {}", model.network()), scores(&predict(model, &x_test)?)?)];
                if let Some(simple) = simple {
                    models.push((simple_name.to_string(), scores(&predict(simple, &x_test)?)?));
                }
                models.push((
                    "training mean".to_string(),
                    Scores::Regression {
                        rmse: (actual.iter().map(|a| (a - train_mean).powi(2)).sum::<f64>() / actual.len() as f64)
                            .sqrt(),
                        mae: actual.iter().map(|a| (a - train_mean).abs()).sum::<f64>() / actual.len() as f64,
                        r2: r2(&actual, &baseline),
                        spearman: 0.0,
                    },
                ));
                let imp = crate::importance::permutation_importance(&x_test, &groups, 5, seed, |x| {
                    let p = predict(model, x)?;
                    Ok(-(actual.iter().zip(&p).map(|(a, p)| (a - p).powi(2)).sum::<f64>() / p.len() as f64).sqrt())
                })?;
                (models, imp)
            }
            TaskKind::Binary => {
                let y_test: Vec<bool> = test.iter().map(|&k| prep.y[k] == 1.0).collect();
                let y_val: Vec<bool> = val.iter().map(|&k| prep.y[k] == 1.0).collect();
                let p1 = |m: &Model, x: &Array2<f32>| -> Result<Vec<f64>> {
                    Ok(m.predict_proba(x)?.column(1).iter().map(|&v| f64::from(v)).collect())
                };
                let scores = |m: &Model| -> Result<Scores> {
                    let t = best_threshold(&p1(m, &x_val)?, &y_val);
                    binary_scores(&p1(m, &x_test)?, &y_test, t)
                };
                let base_rate = train.iter().filter(|&&k| prep.y[k] == 1.0).count() as f64 / train.len() as f64;
                let p_test = p1(model, &x_test)?;
                let mut models = vec![(format!("network {}", model.network()), scores(model)?)];
                if let Some(simple) = simple {
                    models.push((simple_name.to_string(), scores(simple)?));
                }
                models.push((
                    format!("base rate {base_rate:.3}"),
                    binary_scores(&vec![base_rate; y_test.len()], &y_test, 0.5)?,
                ));
                let proba = model.predict_proba(&x_test)?;
                let y_idx: Vec<usize> = y_test.iter().map(|&b| usize::from(b)).collect();
                evaluation = Some(crate::metrics::Evaluation::from_probabilities(&proba, &y_idx)?);
                let (_, cm, rep, _) = multiclass_scores(&proba, &y_idx, classes)?;
                (confusion, classification) = (Some(cm), Some(rep));
                let curve = crate::classify::roc_curve(&classes[1], &p_test, &y_test)?;
                plots.roc = Some(crate::plot::roc_curves(&[curve])?);
                plots.gains = Some(gains_chart(&p_test, &y_test, &classes[1])?);
                let cal = crate::calibration::calibrate(&proba, &y_idx, classes, 10)?;
                plots.reliability = Some(crate::calibration::reliability_plot(&cal[1..])?);
                let imp = crate::importance::permutation_importance(&x_test, &groups, 5, seed, |x| {
                    crate::classify::roc_auc(&p1(model, x)?, &y_test)
                })?;
                (models, imp)
            }
            TaskKind::Multiclass => {
                let y_test: Vec<usize> = test.iter().map(|&k| prep.y[k] as usize).collect();
                let y_train: Vec<usize> = train.iter().map(|&k| prep.y[k] as usize).collect();
                let proba = model.predict_proba(&x_test)?;
                evaluation = Some(crate::metrics::Evaluation::from_probabilities(&proba, &y_test)?);
                let (main, cm, rep, curves) = multiclass_scores(&proba, &y_test, classes)?;
                let majority = crate::classify::majority_baseline(&y_train, &y_test, classes)?;
                let mut models = vec![(format!("network {}", model.network()), main)];
                if let Some(simple) = simple {
                    models.push((
                        simple_name.to_string(),
                        multiclass_scores(&simple.predict_proba(&x_test)?, &y_test, classes)?.0,
                    ));
                }
                models.push((
                    "majority class".to_string(),
                    Scores::Multiclass {
                        accuracy: majority.accuracy,
                        macro_auc: 0.5,
                        macro_f1: majority.macro_avg.f1,
                        weighted_f1: majority.weighted_avg.f1,
                    },
                ));
                (confusion, classification) = (Some(cm), Some(rep));
                plots.roc = Some(crate::plot::roc_curves(&curves)?);
                let imp = crate::importance::permutation_importance(&x_test, &groups, 5, seed, |x| {
                    let pred = model.predict(x)?;
                    Ok(pred.iter().zip(&y_test).filter(|(p, y)| p == y).count() as f64 / y_test.len() as f64)
                })?;
                (models, imp)
            }
        };
        plots.importance = crate::importance::importance_plot(
            "Permutation importance (test rows)",
            task.target.kind.importance_effect(),
            &importance,
        )?;
        let class_counts = if task.target.kind == TaskKind::Regression {
            vec![]
        } else {
            classes
                .iter()
                .enumerate()
                .map(|(c, name)| (name.clone(), prep.y.iter().filter(|&&v| v as usize == c).count()))
                .collect()
        };
        Ok(TaskReport {
            data: table
                .source()
                .file_name()
                .map_or_else(|| table.source().display().to_string(), |f| f.to_string_lossy().into_owned()),
            kind: task.target.kind,
            target: task.target.column.clone(),
            rows: prep.rows.len(),
            rows_without_target: prep.without_target,
            split: [train.len(), val.len(), test.len()],
            class_counts,
            inputs: fitted.feature_names(),
            network: model.network().to_string(),
            epochs: (history.epochs_run(), history.best_epoch.filter(|_| history.restored_best)),
            models,
            evaluation,
            confusion,
            classification,
            importance,
            history: history.clone(),
            plots,
        })
    }

    /// The network's headline test score: ROC AUC (binary), accuracy (multiclass), RMSE
    /// (regression).
    pub fn headline(&self) -> f64 {
        self.models[0].1.headline()
    }

    /// The scores of every model as a table.
    pub fn scores_table(&self) -> HtmlTable {
        let header = self.models[0].1.header();
        let mut t =
            HtmlTable::new(&format!("Test scores ({} rows) predicting `{}`", self.split[2], self.target), &header);
        for (name, s) in &self.models {
            t.push(s.row(name));
        }
        t
    }

    /// The data: rows, split, classes (with their share, so imbalance shows).
    pub fn data_table(&self) -> HtmlTable {
        let mut t = HtmlTable::new(&format!("Data: {}", self.data), &["", "value"]);
        let kv = |k: &str, v: String| vec![k.to_string(), v];
        t.push(kv("task", self.kind.name().to_string()));
        t.push(kv("rows used", self.rows.to_string()));
        t.push(kv("rows without a target (left out)", self.rows_without_target.to_string()));
        t.push(kv(
            "training / validation / test rows",
            format!("{} / {} / {}", self.split[0], self.split[1], self.split[2]),
        ));
        for (c, n) in &self.class_counts {
            t.push(kv(&format!("class `{c}`"), format!("{n} rows ({:.1} %)", 100.0 * *n as f64 / self.rows as f64)));
        }
        t.push(kv("inputs after encoding", self.inputs.len().to_string()));
        t.push(kv("network", self.network.clone()));
        let kept = self.epochs.1.map_or(String::new(), |b| format!(", weights of epoch {b} kept"));
        t.push(kv("epochs", format!("{}{kept}", self.epochs.0)));
        t
    }

    /// The confusion matrix and the per-class report (classification), as one notebook output.
    pub fn class_tables(&self) -> Html {
        let mut html = String::new();
        if let Some(c) = &self.confusion {
            html += &c.table().to_html();
        }
        if let Some(c) = &self.classification {
            html += &c.table().to_html();
        }
        if html.is_empty() {
            html = "<p>A regression has no classes: see the scores above.</p>".into();
        }
        Html(html)
    }

    /// The ROC curve(s), the gains chart and the reliability diagram present for this task, side
    /// by side as one notebook output.
    pub fn charts(&self) -> Html {
        let svgs: Vec<&str> = self.plots.charts().map(Svg::as_str).collect();
        if svgs.is_empty() {
            return Html("<p>No ROC, gains or reliability chart for a regression.</p>".into());
        }
        Html(format!("<div style=\"display:flex;flex-wrap:wrap;gap:8px\">{}</div>", svgs.join("")))
    }

    /// The report as one HTML document with the plots inline.
    pub fn to_html(&self) -> String {
        let mut html = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>propensity: {} on {}</title></head><body>\n",
            self.target, self.data
        );
        html += &self.body_html();
        html + "</body></html>\n"
    }

    fn body_html(&self) -> String {
        let mut html = self.data_table().to_html() + &self.scores_table().to_html();
        if let Some(c) = &self.confusion {
            html += &c.table().to_html();
        }
        if let Some(c) = &self.classification {
            html += &c.table().to_html();
        }
        html += &crate::importance::importance_table(
            "Permutation importance (test rows, 5 repeats)",
            self.kind.importance_effect(),
            &self.importance,
        )
        .to_html();
        for p in self.plots.all() {
            html += p.as_str();
        }
        html
    }

    /// Writes [`to_html`](Self::to_html) atomically.
    pub fn save_html(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_bytes_atomic(path.as_ref(), self.to_html().as_bytes())
    }

    /// evcxr's display hook: the tables and plots.
    pub fn evcxr_display(&self) {
        Html(self.body_html()).evcxr_display();
    }
}

impl std::fmt::Display for TaskReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n{}", self.data_table(), self.scores_table())?;
        if let Some(c) = &self.classification {
            write!(f, "\n{c}")?;
        }
        let top: Vec<String> = self.importance.iter().take(5).map(|i| format!("{} {:.4}", i.feature, i.mean)).collect();
        write!(f, "\nMost important columns: {}", top.join(", "))
    }
}

/// Cumulative gains: the share of all positives found when contacting the top x % by score.
fn gains_chart(p: &[f64], positive: &[bool], class: &str) -> Result<Svg> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    let total = positive.iter().filter(|&&b| b).count().max(1) as f64;
    let n = p.len() as f64;
    let mut found = 0.0;
    let mut curve = vec![(0.0, 0.0)];
    for (k, &i) in order.iter().enumerate() {
        found += f64::from(u8::from(positive[i]));
        curve.push((100.0 * (k + 1) as f64 / n, 100.0 * found / total));
    }
    crate::plot::lines(
        &format!("Cumulative gains: `{class}` found by contacting the top-scored rows"),
        "% of rows contacted (highest score first)",
        &format!("% of all `{class}` found"),
        &[("network".to_string(), curve), (crate::plot::reference("random order"), vec![(0.0, 0.0), (100.0, 100.0)])],
    )
}

/// The task file and data a CLI run resolves: the task from `--config` or inferred from `--data`
/// and `--target`.
pub fn resolve(config: Option<&Path>, data: &Path, target: Option<&str>) -> Result<Task> {
    match (config, target) {
        (Some(c), _) => {
            let task = Task::read(c)?;
            if let Some(t) = target {
                if t != task.target.column {
                    return Err(Error::Config {
                        field: "target",
                        message: format!("--target {t} differs from the task file's `{}`", task.target.column),
                    });
                }
            }
            Ok(task)
        }
        (None, Some(t)) => Task::infer(data, t),
        (None, None) => {
            Err(Error::Config { field: "target", message: "give --target COLUMN or --config TASK.json".into() })
        }
    }
}
