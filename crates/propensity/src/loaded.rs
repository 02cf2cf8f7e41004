//! One loaded model for every model the crate writes (`propensity train`, the audiobooks,
//! shopping, churn, spend, clickstream and retail commands): it scores a file
//! ([`crate::score::score_csv`]), evaluates and explains labelled rows, whatever the task —
//! a classifier, a regressor or a multi-label model.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::classify::{ClassificationReport, ConfusionMatrix};
use crate::display::{Html, HtmlTable};
use crate::importance::Importance;
use crate::model::Model;
use crate::saved::{Labelled, SavedModel};
use crate::task::Scores;
use crate::Result;

/// A saved model read and checked, with its network built.
///
/// ```
/// use propensity::loaded::LoadedModel;
/// use propensity::model::Model;
/// use propensity::network::{Head, Network};
/// use propensity::pipeline::FittedPipeline;
/// use propensity::saved::{ModelCard, Preprocessing, SavedModel};
/// let dir = tempfile::tempdir().unwrap();
/// let (path, data) = (dir.path().join("m.json"), dir.path().join("d.csv"));
/// let model = Model::new(&Network::mlp(1, &[], 2, Head::Softmax), 0).unwrap();
/// let pre = Preprocessing { pipeline: FittedPipeline::numeric(["x"], None), id: vec![],
///     target: vec!["y".into()], labels: Default::default(), regression: None };
/// let card = ModelCard { data_file: "d.csv".into(), data_sha256: String::new(), created: String::new(),
///     crate_version: String::new(), config: Default::default(), metrics: serde_json::Value::Null };
/// SavedModel::new(&model, vec!["no".into(), "yes".into()], pre, card).save(&path).unwrap();
/// std::fs::write(&data, "x,y\n-2,no\n-1,no\n1,yes\n2,yes\n").unwrap();
/// let loaded = LoadedModel::read(&path).unwrap();
/// let e = loaded.evaluate(&data).unwrap();
/// assert_eq!((e.rows, e.kind), (4, "classifier"));
/// assert!(e.to_string().contains("accuracy"));
/// ```
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The file's contents.
    pub saved: SavedModel,
    /// The network with its weights.
    pub model: Model,
    /// Where it was read from.
    pub path: PathBuf,
}

/// A model's scores on a labelled file.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The labelled file.
    pub data: String,
    /// The network (`mlp-30-50-50-2`).
    pub network: String,
    /// `classifier`, `regressor` or `multi-label`.
    pub kind: &'static str,
    /// Rows with a target.
    pub rows: usize,
    /// The scores: one row for a classifier or regressor, one per label for a multi-label model.
    pub scores: Vec<(String, Scores)>,
    /// The confusion matrix at the most likely class (classifiers).
    pub confusion: Option<ConfusionMatrix>,
    /// Per-class precision, recall and F1 (classifiers).
    pub classification: Option<ClassificationReport>,
}

impl LoadedModel {
    /// Reads and checks a model file ([`SavedModel::read`]) and builds its network.
    pub fn read(path: impl AsRef<Path>) -> Result<LoadedModel> {
        let path = path.as_ref();
        let saved = SavedModel::read(path)?;
        let model = saved.model(path)?;
        Ok(LoadedModel { saved, model, path: path.to_path_buf() })
    }

    /// Scores a CSV into `output` ([`crate::score::score_csv`]).
    pub fn score_csv(
        &self,
        input: &Path,
        output: &Path,
        options: crate::score::ScoreOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<crate::score::ScoreSummary> {
        crate::score::score_loaded(self, input, output, options, progress)
    }

    /// The rows of a labelled CSV with the model's columns, model-ready.
    pub fn labelled(&self, data: impl AsRef<Path>) -> Result<Labelled> {
        self.saved.preprocessing.read_labelled(data, &self.saved.classes)
    }

    /// Scores on a labelled CSV: ROC AUC, AP, accuracy, Brier and lift (two classes); accuracy,
    /// macro ROC AUC and F1 (more); RMSE, MAE, R² and Spearman (a regressor); the binary
    /// scores of each label (multi-label). Accuracy is at p ≥ 0.5.
    pub fn evaluate(&self, data: impl AsRef<Path>) -> Result<Evaluation> {
        let data = data.as_ref();
        let labelled = self.labelled(data)?;
        let classes = &self.saved.classes;
        let (mut confusion, mut classification) = (None, None);
        let scores = match &labelled {
            Labelled::Classes(d) => {
                let proba = self.model.predict_proba(d.inputs())?;
                let (multi, cm, rep, _) = crate::task::multiclass_scores(&proba, d.targets(), classes)?;
                (confusion, classification) = (Some(cm), Some(rep));
                let s = if classes.len() == 2 {
                    let p: Vec<f64> = proba.column(1).iter().map(|&v| f64::from(v)).collect();
                    let positive: Vec<bool> = d.targets().iter().map(|&c| c == 1).collect();
                    crate::task::binary_scores(&p, &positive, 0.5)?
                } else {
                    multi
                };
                vec![(format!("network {}", self.model.network()), s)]
            }
            Labelled::Amounts { x, y } => {
                vec![(
                    format!("network {}", self.model.network()),
                    crate::task::regression_scores(y, &self.amounts(x)?)?,
                )]
            }
            Labelled::Labels { x, y } => {
                let proba = self.model.predict_proba(x)?;
                classes
                    .iter()
                    .enumerate()
                    .map(|(k, name)| {
                        let p: Vec<f64> = proba.column(k).iter().map(|&v| f64::from(v)).collect();
                        let positive: Vec<bool> = y.column(k).to_vec();
                        Ok((name.clone(), crate::task::binary_scores(&p, &positive, 0.5)?))
                    })
                    .collect::<Result<Vec<_>>>()?
            }
        };
        Ok(Evaluation {
            data: data.display().to_string(),
            network: self.model.network().to_string(),
            kind: self.saved.preprocessing.kind(),
            rows: labelled.inputs().nrows(),
            scores,
            confusion,
            classification,
        })
    }

    /// Permutation importance on a labelled CSV: what shuffling one raw column (`repeats` times,
    /// with `seed`) does to the headline measure — ROC AUC for two classes, accuracy for more,
    /// RMSE for a regressor (its increase), the mean ROC AUC over the labels.
    pub fn importance(&self, data: impl AsRef<Path>, repeats: usize, seed: u64) -> Result<Vec<Importance>> {
        let labelled = self.labelled(data)?;
        let groups = self.saved.preprocessing.feature_groups();
        let m = &self.model;
        match &labelled {
            Labelled::Classes(d) if self.saved.classes.len() == 2 => {
                let positive: Vec<bool> = d.targets().iter().map(|&c| c == 1).collect();
                crate::importance::permutation_importance(d.inputs(), &groups, repeats, seed, |x| {
                    let p: Vec<f64> = m.predict_proba(x)?.column(1).iter().map(|&v| f64::from(v)).collect();
                    crate::classify::roc_auc(&p, &positive)
                })
            }
            Labelled::Classes(d) => crate::importance::accuracy_importance(m, d, &groups, repeats, seed),
            Labelled::Amounts { x, y } => crate::importance::permutation_importance(x, &groups, repeats, seed, |x| {
                let p = self.amounts(x)?;
                Ok(-(y.iter().zip(&p).map(|(a, p)| (a - p).powi(2)).sum::<f64>() / p.len() as f64).sqrt())
            }),
            Labelled::Labels { x, y } => crate::importance::permutation_importance(x, &groups, repeats, seed, |x| {
                let proba = m.predict_proba(x)?;
                let mut total = 0.0;
                for k in 0..y.ncols() {
                    let p: Vec<f64> = proba.column(k).iter().map(|&v| f64::from(v)).collect();
                    total += crate::classify::roc_auc(&p, &y.column(k).to_vec())?;
                }
                Ok(total / y.ncols() as f64)
            }),
        }
    }

    /// What shuffling an important column does to the measure [`importance`](Self::importance)
    /// uses, for its table and plot.
    pub fn importance_effect(&self) -> &'static str {
        match self.saved.preprocessing.kind() {
            "regressor" => "increase in RMSE",
            "multi-label" => "drop in mean ROC AUC",
            _ if self.saved.classes.len() == 2 => "drop in ROC AUC",
            _ => "drop in accuracy",
        }
    }

    /// A regressor's predicted amounts for model-ready rows.
    fn amounts(&self, x: &Array2<f32>) -> Result<Vec<f64>> {
        let scale = self.saved.preprocessing.regression.ok_or_else(|| {
            crate::Error::Data(format!(
                "{} is a {}, not a regressor",
                self.path.display(),
                self.saved.preprocessing.kind()
            ))
        })?;
        Ok(self.model.outputs(x)?.column(0).iter().map(|&v| scale.amount(v)).collect())
    }
}

impl Evaluation {
    /// The scores as a table.
    pub fn table(&self) -> HtmlTable {
        let mut t = HtmlTable::new(
            &format!("{} {} on {} ({} rows)", self.kind, self.network, self.data, self.rows),
            &self.scores[0].1.header(),
        );
        for (name, s) in &self.scores {
            t.push(s.row(name));
        }
        t
    }

    /// The scores, confusion matrix and per-class report as HTML.
    pub fn to_html(&self) -> String {
        let mut html = self.table().to_html();
        if let Some(c) = &self.confusion {
            html += &c.table().to_html();
        }
        if let Some(c) = &self.classification {
            html += &c.table().to_html();
        }
        html
    }

    /// evcxr's display hook.
    pub fn evcxr_display(&self) {
        Html(self.to_html()).evcxr_display();
    }
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table())?;
        if let Some(c) = &self.confusion {
            write!(f, "\n{}", c.table())?;
        }
        if let Some(c) = &self.classification {
            write!(f, "\n{}", c.table())?;
        }
        Ok(())
    }
}
