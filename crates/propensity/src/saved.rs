//! Saved models: the weights together with everything needed to score raw rows — the
//! preprocessing state (fill values, scaler, encoders, class names) — and a model card (data
//! hash, metrics, date, config). One JSON document per model; floats round-trip exactly, so a
//! loaded model predicts bit-identically to the one saved.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::encode::{FittedOneHot, LabelEncoder};
use crate::model::Model;
use crate::network::{Head, Network};
use crate::preprocess::{FittedMeanFill, FittedScaler};
use crate::train::TrainConfig;
use crate::{Error, Result};

/// The file format tag; files with another tag are refused. Version 2 describes the network by
/// data ([`Network`]) where version 1 named a compiled-in architecture.
pub const FORMAT: &str = "propensity-model/2";

/// How raw rows of the dataset become model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dataset", rename_all = "snake_case")]
pub enum Preprocessing {
    /// Audiobooks: fill missing review ratings, standardize the 10 inputs.
    Audiobooks {
        /// Mean review rating for empty cells.
        fill: FittedMeanFill,
        /// Standardization of the 10 inputs.
        scaler: FittedScaler,
    },
    /// Shopping: one-hot `gender` and `city_tier`, standardize the 28 inputs.
    Shopping {
        /// Levels of the categorical columns.
        onehot: FittedOneHot,
        /// Class names of the target.
        labels: LabelEncoder,
        /// Standardization of the 28 inputs.
        scaler: FittedScaler,
    },
    /// Retail next category: the modelling file's 62 inputs ([`crate::retail::features`]),
    /// standardized; six independent category outputs.
    Retail {
        /// Standardization of the 62 inputs, fitted on the training customers.
        scaler: FittedScaler,
    },
    /// CDNOW churn: the 17 calibration features of a customer file
    /// ([`crate::cdnow::Customers::write_csv`]), `log1p` and standardized.
    Cdnow {
        /// The input transform fitted on the training customers.
        transform: crate::cdnow::models::InputTransform,
    },
    /// CDNOW holdout spend (a regressor): the churn model's inputs; the network predicts the
    /// standardized target, scored as `target.inverse(output · sd + mean)` dollars.
    CdnowSpend {
        /// The input transform fitted on the training customers.
        transform: crate::cdnow::models::InputTransform,
        /// The training target (dollars or log(1 + dollars)).
        target: crate::cdnow::models::SpendTarget,
        /// Mean of the target over the training customers.
        mean: f64,
        /// Its standard deviation.
        sd: f64,
    },
    /// A model-ready feature file: an id column, named numeric inputs (standardized with `scaler`)
    /// and an optional 0/1 target column — the clickstream conversion and churn rows.
    Features {
        /// The id column's name.
        id: String,
        /// Input column names, in model order.
        inputs: Vec<String>,
        /// The target column's name (optional when scoring).
        target: String,
        /// Standardization of the inputs, fitted on the training rows.
        scaler: FittedScaler,
    },
    /// Any table: the generic feature pipeline ([`crate::pipeline`]) a task trained
    /// (`propensity train`, [`crate::task`]).
    Pipeline {
        /// The fitted steps.
        pipeline: crate::pipeline::FittedPipeline,
        /// The id column passed through to scores (`None`: the line number).
        id: Option<String>,
        /// The target column (optional when scoring).
        target: String,
        /// A regressor's standardized target (`None` for a classifier).
        regression: Option<Standardized>,
    },
}

/// The mean and standard deviation a regressor's target was standardized with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Standardized {
    /// Training mean.
    pub mean: f64,
    /// Training population standard deviation (positive).
    pub sd: f64,
}

impl Preprocessing {
    /// The dataset's name.
    pub fn dataset(&self) -> &'static str {
        match self {
            Preprocessing::Audiobooks { .. } => "audiobooks",
            Preprocessing::Shopping { .. } => "shopping",
            Preprocessing::Retail { .. } => "retail",
            Preprocessing::Cdnow { .. } | Preprocessing::CdnowSpend { .. } => "cdnow",
            Preprocessing::Features { .. } => "features",
            Preprocessing::Pipeline { .. } => "pipeline",
        }
    }

    /// For a regressor: the predicted amount and how the network's output maps to it; `None` for
    /// classifiers.
    pub fn regression(&self) -> Option<RegressionOutput> {
        match self {
            Preprocessing::CdnowSpend { target, mean, sd, .. } => {
                Some(RegressionOutput { name: "spend".into(), target: Some(*target), mean: *mean, sd: *sd })
            }
            Preprocessing::Pipeline { target, regression: Some(r), .. } => {
                Some(RegressionOutput { name: target.clone(), target: None, mean: r.mean, sd: r.sd })
            }
            _ => None,
        }
    }
}

impl Preprocessing {
    /// The number of model inputs the preprocessing produces, after checking that its fitted
    /// state is complete (one scale per mean, finite positive scales, the dataset's fixed
    /// columns), so that a hand-edited file is refused before any row is scored.
    pub fn width(&self) -> std::result::Result<usize, String> {
        if let Preprocessing::Pipeline { pipeline, regression, .. } = self {
            if let Some(r) = regression {
                if !(r.mean.is_finite() && r.sd.is_finite() && r.sd > 0.0) {
                    return Err(format!("the target scale needs a finite mean and a positive sd, found {r:?}"));
                }
            }
            return pipeline.check();
        }
        let scaler = match self {
            Preprocessing::Pipeline { .. } => unreachable!("handled above"),
            Preprocessing::Audiobooks { scaler, .. }
            | Preprocessing::Shopping { scaler, .. }
            | Preprocessing::Retail { scaler }
            | Preprocessing::Features { scaler, .. } => scaler,
            Preprocessing::Cdnow { transform } | Preprocessing::CdnowSpend { transform, .. } => &transform.scaler,
        };
        let n = scaler.mean.len();
        if scaler.scale.len() != n {
            return Err(format!("the scaler has {n} means and {} scales", scaler.scale.len()));
        }
        if let Some(j) = scaler.mean.iter().position(|m| !m.is_finite()) {
            return Err(format!("scaler mean {j} is not a finite number"));
        }
        if let Some(j) = scaler.scale.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!("scaler scale {j} is not a positive number"));
        }
        let expected = match self {
            Preprocessing::Audiobooks { fill, .. } => {
                if fill.means().len() != 1 || !fill.means()[0].is_finite() {
                    return Err(format!(
                        "the audiobooks fill needs one finite mean (for `{}`), found {:?}",
                        crate::audiobooks::REVIEW_RATING,
                        fill.means()
                    ));
                }
                crate::audiobooks::INPUTS.len()
            }
            Preprocessing::Shopping { onehot, labels, .. } => {
                if onehot.columns.len() != crate::shopping::CATEGORICAL.len()
                    || onehot.columns.iter().any(|(_, levels)| levels.is_empty())
                {
                    return Err(format!(
                        "the shopping one-hot encoder needs levels for {:?}",
                        crate::shopping::CATEGORICAL
                    ));
                }
                if labels.classes().is_empty() {
                    return Err("the shopping label encoder has no classes".into());
                }
                crate::shopping::NUMERIC.len() + onehot.columns.iter().map(|(_, l)| l.len()).sum::<usize>()
            }
            Preprocessing::Retail { .. } => crate::retail::features::INPUTS,
            Preprocessing::Cdnow { .. } | Preprocessing::CdnowSpend { .. } => crate::cdnow::FEATURES.len(),
            Preprocessing::Features { inputs, .. } => inputs.len(),
            Preprocessing::Pipeline { .. } => unreachable!("handled above"),
        };
        if n != expected {
            return Err(format!("the {} scaler has {n} columns, expected {expected}", self.dataset()));
        }
        Ok(n)
    }

    /// Reads a labelled CSV and applies the preprocessing (`classes` names the target's values,
    /// see [`SavedModel::dataset_from_csv`]).
    fn labelled(&self, path: impl AsRef<Path>, classes: &[String]) -> Result<crate::Dataset> {
        match self {
            Preprocessing::Audiobooks { fill, scaler } => {
                let table = fill.transform(&crate::audiobooks::read_csv(path)?)?;
                let (x, y) = crate::audiobooks::features_and_targets(&table)?;
                crate::Dataset::from_f64(&scaler.transform(&x)?, y)
            }
            Preprocessing::Shopping { onehot, labels, scaler } => {
                let table = crate::shopping::read_csv(path)?;
                let numeric = table.to_matrix(&crate::shopping::NUMERIC)?;
                let dummies = onehot.transform(&table)?;
                let x = ndarray::concatenate(ndarray::Axis(1), &[numeric.view(), dummies.view()]).expect("same rows");
                crate::Dataset::from_f64(&scaler.transform(&x)?, labels.transform(&table, crate::shopping::TARGET)?)
            }
            Preprocessing::Retail { .. } => Err(Error::Data(
                "the retail model is multi-label; evaluate it with `propensity retail evaluate` \
                 (retail::network::CategoryReport)"
                    .into(),
            )),
            Preprocessing::Cdnow { transform } => {
                let c = crate::cdnow::Customers::read_csv(path, crate::cdnow::Protocol::default())?;
                let y = c.rows.iter().map(|r| usize::from(r.bought_in_holdout())).collect();
                crate::Dataset::from_f64(&transform.transform(&c.features())?, y)
            }
            Preprocessing::CdnowSpend { .. } => Err(Error::Data(
                "the spend model is a regressor; evaluate it with `propensity cdnow ltv` \
                 (ranking::RegressionScores)"
                    .into(),
            )),
            Preprocessing::Features { inputs, target, scaler, .. } => {
                let path = path.as_ref();
                let table = crate::eda::infer_csv(path)?;
                let names: Vec<&str> = inputs.iter().map(String::as_str).collect();
                let x = scaler.transform(&table.to_matrix(&names)?)?;
                let t = table.require(target)?;
                let mut y = Vec::with_capacity(t.values.len());
                for (i, v) in t.values.iter().enumerate() {
                    match v {
                        Some(v) if *v == 0.0 || *v == 1.0 => y.push(*v as usize),
                        _ => return Err(table.cell_error(i, target, format!("expected 0 or 1, found {v:?}"))),
                    }
                }
                crate::Dataset::from_f64(&x, y)
            }
            Preprocessing::Pipeline { regression: Some(_), .. } => Err(Error::Data(
                "the model is a regressor; its test scores are in the report `propensity train` wrote".into(),
            )),
            Preprocessing::Pipeline { pipeline, target, regression: None, .. } => {
                // rows without a target are left out, as in training
                let table = crate::table::TextTable::read_csv(path)?;
                let j = table.position(target)?;
                let rows: Vec<usize> = (0..table.rows()).filter(|&i| !table.cell(i, j).is_empty()).collect();
                let x = pipeline.transform_rows(&table, &rows)?;
                let y = rows
                    .iter()
                    .map(|&i| {
                        let c = table.cell(i, j);
                        classes.iter().position(|k| k == c).ok_or_else(|| {
                            table.cell_error(i, j, format!("expected one of the classes {classes:?}, found {c:?}"))
                        })
                    })
                    .collect::<Result<Vec<usize>>>()?;
                crate::Dataset::from_f64(&x, y)
            }
        }
    }

    /// Names and input columns of each raw feature, for permutation importance (the one-hot
    /// columns of a categorical form one group).
    pub fn feature_groups(&self) -> Vec<(String, Vec<usize>)> {
        match self {
            Preprocessing::Audiobooks { .. } => {
                crate::audiobooks::INPUTS.iter().enumerate().map(|(i, n)| (n.trim().to_string(), vec![i])).collect()
            }
            Preprocessing::Shopping { onehot, .. } => {
                let mut g: Vec<(String, Vec<usize>)> =
                    crate::shopping::NUMERIC.iter().enumerate().map(|(i, n)| (n.to_string(), vec![i])).collect();
                let mut k = crate::shopping::NUMERIC.len();
                for (name, levels) in &onehot.columns {
                    g.push((name.clone(), (k..k + levels.len()).collect()));
                    k += levels.len();
                }
                g
            }
            Preprocessing::Retail { .. } => {
                crate::retail::features::input_names().into_iter().enumerate().map(|(i, n)| (n, vec![i])).collect()
            }
            Preprocessing::Cdnow { .. } | Preprocessing::CdnowSpend { .. } => {
                crate::cdnow::FEATURES.iter().enumerate().map(|(i, n)| (n.to_string(), vec![i])).collect()
            }
            Preprocessing::Features { inputs, .. } => {
                inputs.iter().enumerate().map(|(i, n)| (n.clone(), vec![i])).collect()
            }
            Preprocessing::Pipeline { pipeline, .. } => pipeline.feature_groups(),
        }
    }
}

/// How a regressor's output becomes the predicted amount: `target.inverse(output · sd + mean)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionOutput {
    /// The amount's name (the scorer's column is `predicted_<name>`).
    pub name: String,
    /// The training scale of a spend target (`None`: the standardized value itself).
    pub target: Option<crate::cdnow::models::SpendTarget>,
    /// Mean of the standardized target.
    pub mean: f64,
    /// Standard deviation of the standardized target.
    pub sd: f64,
}

impl RegressionOutput {
    /// The amount for one network output.
    pub fn amount(&self, output: f32) -> f64 {
        let v = f64::from(output) * self.sd + self.mean;
        self.target.map_or(v, |t| t.inverse(v))
    }
}

/// What a model was trained on and how well it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// The training data file's name.
    pub data_file: String,
    /// SHA-256 of the training data file.
    pub data_sha256: String,
    /// When the model was saved (RFC 3339, UTC).
    pub created: String,
    /// The `propensity` version that trained it.
    pub crate_version: String,
    /// The training configuration.
    pub config: TrainConfig,
    /// Test metrics, free-form.
    pub metrics: serde_json::Value,
}

impl ModelCard {
    /// A card for a model trained on `data_file` with `config`: hashes the file and stamps the
    /// date and this crate's version.
    pub fn new(data_file: impl AsRef<Path>, config: &TrainConfig, metrics: serde_json::Value) -> Result<ModelCard> {
        let data_file = data_file.as_ref();
        Ok(ModelCard {
            data_file: data_file
                .file_name()
                .map_or_else(|| data_file.display().to_string(), |n| n.to_string_lossy().into_owned()),
            data_sha256: sha256_file(data_file)?,
            created: now_rfc3339(),
            crate_version: env!("CARGO_PKG_VERSION").into(),
            config: config.clone(),
            metrics,
        })
    }
}

/// The contents of a saved model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// [`FORMAT`].
    pub format: String,
    /// The network's layout.
    pub network: Network,
    /// Number of parameters (checked against `weights`).
    pub parameters: usize,
    /// Class names, index order.
    pub classes: Vec<String>,
    /// Raw-row preprocessing.
    pub preprocessing: Preprocessing,
    /// The model card.
    pub card: ModelCard,
    /// All parameters, in [`Model::weights`] order.
    pub weights: Vec<f32>,
}

impl SavedModel {
    /// Bundles a trained model with its preprocessing and card.
    pub fn new(model: &Model, classes: Vec<String>, preprocessing: Preprocessing, card: ModelCard) -> SavedModel {
        let weights = model.weights();
        SavedModel {
            format: FORMAT.into(),
            network: model.network().clone(),
            parameters: weights.len(),
            classes,
            preprocessing,
            card,
            weights,
        }
    }

    /// Writes the model to `path` atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string(self).expect("SavedModel serialises");
        crate::io::write_bytes_atomic(path.as_ref(), text.as_bytes())
    }

    /// Reads and checks a model file: the format tag, a complete JSON document, a valid network
    /// with as many weights as it has parameters, one class name per output, and preprocessing
    /// that fits the network (see [`check`](Self::check)).
    pub fn read(path: impl AsRef<Path>) -> Result<SavedModel> {
        let path = path.as_ref();
        let bad = |message: String| Error::Model { file: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let saved: SavedModel = serde_json::from_str(&text).map_err(|e| match e.classify() {
            serde_json::error::Category::Eof => bad(format!("the file is truncated ({e})")),
            _ => bad(format!("not a propensity model file ({e})")),
        })?;
        if saved.format != FORMAT {
            return Err(bad(format!("format {:?}, expected {FORMAT:?}", saved.format)));
        }
        saved.check().map_err(bad)?;
        Ok(saved)
    }

    /// The consistency checks [`read`](Self::read) makes, for a file a user may have edited: the
    /// network is valid, `parameters` and `weights` match it, every weight is finite, there is one
    /// class name per output, and the preprocessing gives as many inputs as the network takes
    /// (a regressor's preprocessing for a linear head, a classifier's otherwise).
    pub fn check(&self) -> std::result::Result<(), String> {
        self.network.check().map_err(|e| e.to_string())?;
        let n = self.network.parameters();
        if self.parameters != n {
            return Err(format!("`parameters` is {}, the {} network has {n}", self.parameters, self.network));
        }
        if self.weights.len() != n {
            return Err(format!(
                "{} weights for the {n} parameters of the {} network",
                self.weights.len(),
                self.network
            ));
        }
        if let Some(i) = self.weights.iter().position(|w| !w.is_finite()) {
            return Err(format!("weight {i} is not a finite number"));
        }
        if self.classes.len() != self.network.outputs {
            return Err(format!(
                "{} class names ({:?}) for the {} outputs of the network",
                self.classes.len(),
                self.classes,
                self.network.outputs
            ));
        }
        if let Some(c) = self.classes.iter().find(|c| c.trim().is_empty()) {
            return Err(format!("an empty class name ({c:?})"));
        }
        let regression = self.preprocessing.regression().is_some();
        if regression != (self.network.head == Head::Linear) {
            return Err(format!(
                "its {} preprocessing is for a {}, the network's head is {:?}",
                self.preprocessing.dataset(),
                if regression { "regressor" } else { "classifier" },
                self.network.head
            ));
        }
        let width = self.preprocessing.width()?;
        if width != self.network.inputs {
            return Err(format!(
                "its {} preprocessing gives {width} inputs, the network takes {}",
                self.preprocessing.dataset(),
                self.network.inputs
            ));
        }
        Ok(())
    }

    /// Reads a labelled CSV of the model's data and applies the saved preprocessing: the
    /// model-ready rows with their targets (for evaluation, importance and calibration on new
    /// data). Regressors and the multi-label retail model are evaluated by their own reports.
    pub fn dataset_from_csv(&self, path: impl AsRef<Path>) -> Result<crate::Dataset> {
        self.preprocessing.labelled(path, &self.classes)
    }

    /// The network with its weights (`path` names the file in errors).
    pub fn model(&self, path: impl AsRef<Path>) -> Result<Model> {
        Model::from_weights(&self.network, &self.weights)
            .map_err(|e| Error::Model { file: path.as_ref().to_path_buf(), message: e.to_string() })
    }
}

/// Loads a model with its saved state.
///
/// ```
/// use propensity::model::Model;
/// use propensity::saved::{load, ModelCard, Preprocessing, SavedModel};
/// use propensity::preprocess::{MeanFill, StandardScaler};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("m.json");
/// let model = Model::new(&propensity::audiobooks::network(), 3).unwrap();
/// let t = propensity::table::Table::new("m", vec![propensity::table::Column {
///     name: "Review ?/10".into(), values: vec![Some(9.0)] }]).unwrap();
/// let pre = Preprocessing::Audiobooks {
///     fill: MeanFill::fit(&t, &["Review ?/10"]).unwrap(),
///     scaler: StandardScaler::fit(&ndarray::Array2::zeros((2, 10))).unwrap(),
/// };
/// let card = ModelCard { data_file: "x.csv".into(), data_sha256: String::new(), created: String::new(),
///     crate_version: String::new(), config: Default::default(), metrics: serde_json::Value::Null };
/// SavedModel::new(&model, vec!["no".into(), "yes".into()], pre, card).save(&path).unwrap();
/// let (loaded, saved) = load(&path).unwrap();
/// assert_eq!(loaded.weights(), model.weights());
/// assert_eq!(saved.classes, ["no", "yes"]);
/// ```
pub fn load(path: impl AsRef<Path>) -> Result<(Model, SavedModel)> {
    let saved = SavedModel::read(&path)?;
    let model = saved.model(&path)?;
    Ok((model, saved))
}

/// SHA-256 of a file, hex-encoded.
pub fn sha256_file(path: impl AsRef<Path>) -> Result<String> {
    use sha2::Digest;
    let path = path.as_ref();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The current time as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
