//! Saved models: the weights together with everything needed to score raw rows — the
//! preprocessing state (fill values, scaler, encoders, class names) — and a model card (data
//! hash, metrics, date, config). One JSON document per model; floats round-trip exactly, so a
//! loaded model predicts bit-identically to the one saved.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::network::{Head, Network};
use crate::pipeline::FittedPipeline;
use crate::train::TrainConfig;
use crate::{Error, Result};

/// The file format tag; files with another tag are refused. Version 3 keeps one generic
/// preprocessing ([`Preprocessing`]) for every model, where version 2 named its dataset.
pub const FORMAT: &str = "propensity-model/3";

/// How raw rows become model inputs, which columns identify a row, and how a labelled file's
/// target reads — one description for every model the crate writes. The seed datasets build
/// theirs from their fitted state when they save a model; `propensity train` fits one from a
/// task ([`crate::task`]).
///
/// ```
/// use propensity::pipeline::FittedPipeline;
/// use propensity::saved::{Labels, Preprocessing};
/// let pre = Preprocessing {
///     pipeline: FittedPipeline::numeric(["visits", "spend"], None),
///     id: vec!["customer".into()],
///     target: vec!["bought".into()],
///     labels: Labels::Codes,
///     regression: None,
/// };
/// assert_eq!(pre.width(), Ok(2));
/// assert_eq!(pre.feature_groups()[1], ("spend".to_string(), vec![1]));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocessing {
    /// The fitted feature steps and scaler.
    pub pipeline: FittedPipeline,
    /// Columns that identify a row, copied before the scores (empty: the line number).
    #[serde(default)]
    pub id: Vec<String>,
    /// The target column (optional when scoring); a multi-label model's columns, one per output.
    pub target: Vec<String>,
    /// How a target cell reads as a class.
    #[serde(default)]
    pub labels: Labels,
    /// A regressor's target scale (`None` for a classifier).
    #[serde(default)]
    pub regression: Option<Standardized>,
}

/// How a classifier's target cell names its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Labels {
    /// The cell is the class name (`Online`, `yes`).
    #[default]
    Names,
    /// The cell is the class index (`0`, `1`).
    Codes,
    /// The cell is a count: 0 is the first class, above 0 the second (holdout purchases → bought).
    Positive,
}

impl Labels {
    /// The class index of a target cell among `classes`, or what was expected.
    ///
    /// ```
    /// use propensity::saved::Labels;
    /// let classes = ["no".to_string(), "yes".to_string()];
    /// assert_eq!(Labels::Names.class("yes", &classes), Ok(1));
    /// assert_eq!(Labels::Codes.class("0", &classes), Ok(0));
    /// assert_eq!(Labels::Positive.class("3", &classes), Ok(1));
    /// assert!(Labels::Codes.class("2", &classes).is_err());
    /// ```
    pub fn class(self, cell: &str, classes: &[String]) -> std::result::Result<usize, String> {
        let number = || cell.parse::<f64>().ok().filter(|v| v.is_finite());
        match self {
            Labels::Names => classes
                .iter()
                .position(|k| k == cell)
                .ok_or_else(|| format!("expected one of the classes {classes:?}, found {cell:?}")),
            Labels::Codes => number()
                .filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v < classes.len() as f64)
                .map(|v| v as usize)
                .ok_or_else(|| {
                    format!("expected a class number 0 to {}, found {cell:?}", classes.len().saturating_sub(1))
                }),
            Labels::Positive => number()
                .filter(|v| *v >= 0.0)
                .map(|v| usize::from(v > 0.0))
                .ok_or_else(|| format!("expected a count ≥ 0, found {cell:?}")),
        }
    }
}

/// The rows of a labelled file, model-ready, with targets as the model reads them.
#[derive(Debug, Clone)]
pub enum Labelled {
    /// A classifier's inputs and classes.
    Classes(crate::Dataset),
    /// A regressor's inputs and amounts.
    Amounts {
        /// Inputs, one row per record.
        x: ndarray::Array2<f32>,
        /// The target amounts.
        y: Vec<f64>,
    },
    /// A multi-label model's inputs and 0/1 labels (one column per output).
    Labels {
        /// Inputs, one row per record.
        x: ndarray::Array2<f32>,
        /// The labels.
        y: ndarray::Array2<bool>,
    },
}

impl Labelled {
    /// The inputs.
    pub fn inputs(&self) -> &ndarray::Array2<f32> {
        match self {
            Labelled::Classes(d) => d.inputs(),
            Labelled::Amounts { x, .. } | Labelled::Labels { x, .. } => x,
        }
    }
}

/// How a regressor's network output becomes the predicted amount: `output · sd + mean`, then
/// `exp(v) − 1` for a target trained on `log(1 + amount)`, then at least `floor`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standardized {
    /// Training mean.
    pub mean: f64,
    /// Training population standard deviation (positive).
    pub sd: f64,
    /// The network learned `log(1 + amount)`.
    #[serde(default)]
    pub log1p: bool,
    /// The smallest amount (e.g. 0 for spend).
    #[serde(default)]
    pub floor: Option<f64>,
}

impl Standardized {
    /// The amount for one network output.
    ///
    /// ```
    /// use propensity::saved::Standardized;
    /// let s = Standardized { mean: 1.0, sd: 2.0, log1p: true, floor: Some(0.0) };
    /// assert_eq!(s.amount(-0.5), 0.0);
    /// assert!((s.amount(0.5) - (2f64.exp() - 1.0)).abs() < 1e-12);
    /// ```
    pub fn amount(&self, output: f32) -> f64 {
        let v = f64::from(output) * self.sd + self.mean;
        let v = if self.log1p { v.exp_m1() } else { v };
        self.floor.map_or(v, |f| v.max(f))
    }
}

impl Preprocessing {
    /// `regressor`, `multi-label` or `classifier`, for messages.
    pub fn kind(&self) -> &'static str {
        if self.regression.is_some() {
            "regressor"
        } else if self.target.len() > 1 {
            "multi-label"
        } else {
            "classifier"
        }
    }

    /// The number of model inputs the preprocessing produces, after checking that its fitted
    /// state is complete (see [`FittedPipeline::check`]), that there is a target column, and
    /// that a regressor has one target with a finite scale — so that a hand-edited file is
    /// refused before any row is scored.
    pub fn width(&self) -> std::result::Result<usize, String> {
        if self.target.is_empty() || self.target.iter().any(|t| t.trim().is_empty()) {
            return Err(format!("the target needs one or more column names, found {:?}", self.target));
        }
        if let Some(r) = &self.regression {
            if !(r.mean.is_finite() && r.sd.is_finite() && r.sd > 0.0) {
                return Err(format!("the target scale needs a finite mean and a positive sd, found {r:?}"));
            }
            if self.target.len() != 1 {
                return Err(format!("a regressor has one target column, found {:?}", self.target));
            }
        }
        self.pipeline.check()
    }

    /// Reads a labelled CSV (with a header row) and applies the preprocessing: the inputs of
    /// the rows whose target is not empty, with their targets as the model's kind reads them.
    /// A cell that does not read is an error naming file, line and column.
    pub fn read_labelled(&self, path: impl AsRef<Path>, classes: &[String]) -> Result<Labelled> {
        let table = crate::table::TextTable::read_csv(path)?;
        let cols = self.target.iter().map(|t| table.position(t)).collect::<Result<Vec<usize>>>()?;
        let rows: Vec<usize> =
            (0..table.rows()).filter(|&i| cols.iter().all(|&j| !table.cell(i, j).is_empty())).collect();
        let x = self.pipeline.transform_rows(&table, &rows)?.mapv(|v| v as f32);
        let number = |i: usize, j: usize| -> Result<f64> {
            let c = table.cell(i, j);
            c.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| table.cell_error(i, j, format!("expected a number, found {c:?}")))
        };
        Ok(match self.kind() {
            "regressor" => {
                let y = rows.iter().map(|&i| number(i, cols[0])).collect::<Result<Vec<f64>>>()?;
                Labelled::Amounts { x, y }
            }
            "multi-label" => {
                let mut y = ndarray::Array2::from_elem((rows.len(), cols.len()), false);
                for (r, &i) in rows.iter().enumerate() {
                    for (k, &j) in cols.iter().enumerate() {
                        y[[r, k]] = match number(i, j)? {
                            v if v == 0.0 || v == 1.0 => v == 1.0,
                            v => return Err(table.cell_error(i, j, format!("expected 0 or 1, found {v}"))),
                        };
                    }
                }
                Labelled::Labels { x, y }
            }
            _ => {
                let y = rows
                    .iter()
                    .map(|&i| {
                        self.labels.class(table.cell(i, cols[0]), classes).map_err(|m| table.cell_error(i, cols[0], m))
                    })
                    .collect::<Result<Vec<usize>>>()?;
                Labelled::Classes(crate::Dataset::new(x, y)?)
            }
        })
    }

    /// Names and input columns of each raw feature, for permutation importance (the one-hot
    /// columns of a categorical form one group).
    pub fn feature_groups(&self) -> Vec<(String, Vec<usize>)> {
        self.pipeline.feature_groups()
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
        let saved: SavedModel = read_tagged_json(path, "propensity model", FORMAT, |s: &SavedModel| &s.format)?;
        saved.check().map_err(|message| Error::Model { file: path.to_path_buf(), message })?;
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
        let kind = self.preprocessing.kind();
        let head = match kind {
            "regressor" => Head::Linear,
            "multi-label" => Head::Sigmoid,
            _ => Head::Softmax,
        };
        if self.network.head != head {
            return Err(format!("its preprocessing is for a {kind}, the network's head is {:?}", self.network.head));
        }
        let width = self.preprocessing.width()?;
        if kind == "multi-label" && self.preprocessing.target.len() != self.network.outputs {
            return Err(format!(
                "{} target columns for the {} outputs of the multi-label network",
                self.preprocessing.target.len(),
                self.network.outputs
            ));
        }
        if width != self.network.inputs {
            return Err(format!("its preprocessing gives {width} inputs, the network takes {}", self.network.inputs));
        }
        Ok(())
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
/// use propensity::pipeline::FittedPipeline;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("m.json");
/// let model = Model::new(&propensity::network::Network::mlp(2, &[4], 2, propensity::network::Head::Softmax), 3).unwrap();
/// let pre = Preprocessing {
///     pipeline: FittedPipeline::numeric(["visits", "spend"], None),
///     id: vec![],
///     target: vec!["bought".into()],
///     labels: Default::default(),
///     regression: None,
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

/// Reads a JSON file this tool wrote, whose `format` tag (read by `tag`) must be `format`: a
/// truncated file, a file that is not a `what` and another format tag are refused naming the file.
pub(crate) fn read_tagged_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    format: &str,
    tag: impl Fn(&T) -> &str,
) -> Result<T> {
    let bad = |message: String| Error::Model { file: path.to_path_buf(), message };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let value: T = serde_json::from_str(&text).map_err(|e| match e.classify() {
        serde_json::error::Category::Eof => bad(format!("the file is truncated ({e})")),
        _ => bad(format!("not a {what} file ({e})")),
    })?;
    if tag(&value) != format {
        return Err(bad(format!("format {:?}, expected {format:?}", tag(&value))));
    }
    Ok(value)
}
