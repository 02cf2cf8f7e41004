//! Supervised churn and holdout-spend networks on the 17 calibration features, evaluated out of
//! fold with the peers' 5-fold customer split (`fold = customer_id mod 5`).
//!
//! Inputs are `log1p`-transformed (every feature is a count, an amount or a time ≥ 0, most are
//! heavily skewed) and standardized with a scaler fitted on the training folds only. Each fold
//! holds out a seeded share of its training customers for early stopping.
//!
//! ```no_run
//! use propensity::cdnow::{self, models::{churn_out_of_fold, ChurnConfig}};
//! # fn main() -> propensity::Result<()> {
//! let customers = cdnow::load_default()?;
//! let oof = churn_out_of_fold(&customers, &ChurnConfig::default())?;
//! println!("AUC {:.3}", oof.scores()?.auc);
//! # Ok(()) }
//! ```

use std::time::Instant;

use ndarray::{Array2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::{Customers, FEATURES};
use crate::dataset::DenseDataset;
use crate::losses::DenseLoss;
use crate::model::Model;
use crate::network::{Head, Network};
use crate::preprocess::{FittedScaler, StandardScaler};
use crate::ranking::{BinaryScores, RegressionScores};
use crate::saved::{ModelCard, Preprocessing, SavedModel, Standardized};
use crate::train::{EarlyStoppingConfig, History, TrainConfig, Trainer};
use crate::{Dataset, Error, Result};

/// Number of model inputs.
pub const INPUTS: usize = FEATURES.len();

/// The churn architectures the tuner chooses from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChurnArchitecture {
    /// Churn MLP 17 → 32 → 16 → 2 (scikit-learn's `MLPClassifier(hidden_layer_sizes=(32, 16))` peer).
    #[default]
    Mlp32x16,
    /// Wider churn MLP 17 → 64 → 32 → 2.
    Mlp64x32,
    /// One hidden layer 17 → 16 → 2.
    Mlp16,
    /// Logistic regression as a network: 17 → 2 with softmax.
    Logistic,
}

impl ChurnArchitecture {
    /// All choices.
    pub const ALL: [ChurnArchitecture; 4] = [Self::Mlp32x16, Self::Mlp64x32, Self::Mlp16, Self::Logistic];

    /// The hidden layers' widths.
    pub fn hidden(self) -> &'static [usize] {
        match self {
            Self::Mlp32x16 => &[32, 16],
            Self::Mlp64x32 => &[64, 32],
            Self::Mlp16 => &[16],
            Self::Logistic => &[],
        }
    }

    /// The network: the 17 inputs, [`hidden`](Self::hidden), two classes.
    ///
    /// ```
    /// use propensity::cdnow::models::ChurnArchitecture;
    /// assert_eq!(ChurnArchitecture::Logistic.network().parameters(), 36);
    /// ```
    pub fn network(self) -> Network {
        Network::mlp(INPUTS, self.hidden(), CLASSES.len(), Head::Softmax)
    }

    /// The network's name, e.g. `mlp-17-32-16-2`.
    pub fn name(self) -> String {
        self.network().name()
    }
}

/// The holdout-spend regressor 17 → 32 → 16 → 1 (MSE on the standardized spend; scikit-learn's
/// `MLPRegressor(hidden_layer_sizes=(32, 16))` in a `TransformedTargetRegressor` peer).
pub fn spend_network() -> Network {
    Network::mlp(INPUTS, &[32, 16], 1, Head::Linear)
}

/// `log1p` (optional) then standardization, fitted on training rows.
///
/// ```
/// use propensity::cdnow::models::InputTransform;
/// let x = ndarray::array![[0.0, 10.0], [3.0, 30.0]];
/// let t = InputTransform::fit(&x, true).unwrap();
/// let z = t.transform(&x).unwrap();
/// assert!((z[[0, 0]] + 1.0).abs() < 1e-12 && (z[[1, 0]] - 1.0).abs() < 1e-12);
/// assert!(t.transform(&ndarray::array![[-2.0, 1.0]]).is_err()); // log1p needs values > -1
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputTransform {
    /// Whether `log1p` is applied before scaling.
    pub log1p: bool,
    /// The standardization (of the logged values when `log1p`).
    pub scaler: FittedScaler,
}

impl InputTransform {
    /// Fits the scaler on `x` (after `log1p` if asked).
    pub fn fit(x: &Array2<f64>, log1p: bool) -> Result<InputTransform> {
        let scaler = StandardScaler::fit(&Self::log(x, log1p)?)?;
        Ok(InputTransform { log1p, scaler })
    }

    /// Applies the transform.
    pub fn transform(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        self.scaler.transform(&Self::log(x, self.log1p)?)
    }

    fn log(x: &Array2<f64>, log1p: bool) -> Result<Array2<f64>> {
        if !log1p {
            return Ok(x.clone());
        }
        if let Some(v) = x.iter().find(|v| v.is_nan() || **v <= -1.0) {
            return Err(Error::Data(format!("log1p inputs need values > −1, found {v}")));
        }
        Ok(x.mapv(f64::ln_1p))
    }
}

/// The churn model's settings. Defaults: the scikit-learn peer's 32-16 network on `log1p` inputs,
/// 10 % of the training customers for early stopping; [`super::tune`] searches alternatives.
///
/// ```
/// use propensity::cdnow::models::ChurnConfig;
/// let c: ChurnConfig = serde_json::from_str(r#"{"architecture": "mlp16", "validation_share": 0.2}"#).unwrap();
/// assert!(c.check().is_ok());
/// assert!(ChurnConfig { validation_share: 0.9, ..c }.check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChurnConfig {
    /// Network shape.
    pub architecture: ChurnArchitecture,
    /// `log1p` before standardizing.
    pub log_inputs: bool,
    /// Share of each fold's training customers held out for early stopping.
    pub validation_share: f64,
    /// Optimizer, batches, epochs, early stopping, class weights, seed.
    pub train: TrainConfig,
}

/// Training defaults for the CDNOW networks: Adam 1e-3, batch 256, at most 200 epochs, early
/// stopping with patience 10 restoring the best epoch, seed 0.
pub fn default_train_config() -> TrainConfig {
    TrainConfig {
        batch_size: 256,
        max_epochs: 200,
        early_stopping: Some(EarlyStoppingConfig { patience: 10, min_delta: 0.0, restore_best: true }),
        seed: 0,
        adam: crate::optim::AdamForm::Pytorch,
        ..TrainConfig::default()
    }
}

impl Default for ChurnConfig {
    fn default() -> Self {
        ChurnConfig {
            architecture: ChurnArchitecture::Mlp32x16,
            log_inputs: true,
            validation_share: 0.1,
            train: default_train_config(),
        }
    }
}

fn check_share(share: f64) -> Result<()> {
    if !(share > 0.0 && share <= 0.5) {
        return Err(Error::Config {
            field: "validation_share",
            message: format!("must be in (0, 0.5], found {share}"),
        });
    }
    Ok(())
}

impl ChurnConfig {
    /// Checks the ranges (and the training config's).
    pub fn check(&self) -> Result<()> {
        check_share(self.validation_share)?;
        self.train.check()
    }
}

/// The holdout-spend regressor's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpendConfig {
    /// `log1p` before standardizing.
    pub log_inputs: bool,
    /// What the network is trained to predict.
    pub target: SpendTarget,
    /// Share of each fold's training customers held out for early stopping.
    pub validation_share: f64,
    /// Optimizer, batches, epochs, early stopping, seed.
    pub train: TrainConfig,
}

impl Default for SpendConfig {
    fn default() -> Self {
        SpendConfig {
            log_inputs: true,
            target: SpendTarget::Dollars,
            validation_share: 0.1,
            train: default_train_config(),
        }
    }
}

/// The spend network's training target (standardized either way).
///
/// ```
/// use propensity::cdnow::models::SpendTarget;
/// assert_eq!(SpendTarget::Log1p.forward(9.0), 10f64.ln());
/// assert!((SpendTarget::Log1p.inverse(10f64.ln()) - 9.0).abs() < 1e-12);
/// assert_eq!(SpendTarget::Dollars.inverse(-3.0), 0.0); // spend is never negative
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpendTarget {
    /// Dollars (MSE on dollars): predicts the mean, so totals and RMSE come out right.
    #[default]
    Dollars,
    /// log(1 + dollars): ranks customers better (Spearman) but predicts a typical rather than a
    /// mean amount, so totals come out low.
    Log1p,
}

impl SpendTarget {
    /// Dollars to the training scale.
    pub fn forward(self, dollars: f64) -> f64 {
        match self {
            SpendTarget::Dollars => dollars,
            SpendTarget::Log1p => dollars.ln_1p(),
        }
    }

    /// The training scale back to dollars (never below 0).
    pub fn inverse(self, value: f64) -> f64 {
        match self {
            SpendTarget::Dollars => value.max(0.0),
            SpendTarget::Log1p => value.exp_m1().max(0.0),
        }
    }
}

/// Out-of-fold predictions for every customer, in the table's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutOfFold {
    /// Customer ids.
    pub ids: Vec<u64>,
    /// The prediction: P(buys in the holdout) for churn, dollars for spend.
    pub predictions: Vec<f64>,
    /// The outcome: 1/0 bought in the holdout for churn, dollars for spend.
    pub actual: Vec<f64>,
    /// Epochs trained per fold (early stopping).
    pub epochs: Vec<usize>,
    /// Wall time of the five fits.
    pub seconds: f64,
}

impl OutOfFold {
    /// AUC, AP and lift of the predictions for the binary outcome (`actual > 0`): how well
    /// P(buy) ranks buyers first — the same ranking as P(churn) puts churners last, so the AUC is
    /// the churn AUC.
    pub fn scores(&self) -> Result<BinaryScores> {
        let positive: Vec<bool> = self.actual.iter().map(|&a| a > 0.0).collect();
        BinaryScores::of(&self.predictions, &positive, &self.ids)
    }

    /// MAE, RMSE, Spearman and top-decile share of the predictions for the amount.
    pub fn regression(&self) -> Result<RegressionScores> {
        RegressionScores::of(&self.actual, &self.predictions, &self.ids)
    }
}

/// Rows of fold `f` for training (split into fit and validation, seeded) and for testing.
struct FoldRows {
    fit: Vec<usize>,
    validation: Vec<usize>,
    test: Vec<usize>,
}

fn fold_rows(folds: &[usize], f: usize, share: f64, seed: u64) -> FoldRows {
    let mut train: Vec<usize> = (0..folds.len()).filter(|&i| folds[i] != f).collect();
    let test = (0..folds.len()).filter(|&i| folds[i] == f).collect();
    train.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed ^ ((f as u64 + 1) * 0x51_7CC1)));
    let n_val = ((train.len() as f64) * share).round() as usize;
    let validation = train.split_off(train.len() - n_val);
    FoldRows { fit: train, validation, test }
}

fn rows(x: &Array2<f64>, r: &[usize]) -> Array2<f64> {
    x.select(Axis(0), r)
}

/// Trains the configured churn network on `fit` rows (early stopping on `validation`); returns
/// it with its input transform and history.
fn train_churn(
    x: &Array2<f64>,
    bought: &[usize],
    fit: &[usize],
    validation: &[usize],
    cfg: &ChurnConfig,
) -> Result<(Model, InputTransform, History)> {
    let transform = InputTransform::fit(&rows(x, fit), cfg.log_inputs)?;
    let set = |r: &[usize]| -> Result<Dataset> {
        Dataset::from_f64(&transform.transform(&rows(x, r))?, r.iter().map(|&i| bought[i]).collect())
    };
    let (train, val) = (set(fit)?, set(validation)?);
    let fitted = Trainer::new(cfg.train.clone())?.fit(&cfg.architecture.network(), &train, Some(&val))?;
    Ok((fitted.model, transform, fitted.history))
}

fn churn_fold(x: &Array2<f64>, bought: &[usize], r: &FoldRows, cfg: &ChurnConfig) -> Result<(Vec<f64>, usize)> {
    let (model, transform, history) = train_churn(x, bought, &r.fit, &r.validation, cfg)?;
    let p = model.predict_proba(&transform.transform(&rows(x, &r.test))?.mapv(|v| v as f32))?;
    Ok((p.column(1).iter().map(|&v| f64::from(v)).collect(), history.epochs_run()))
}

/// Out-of-fold P(buys in the holdout) for every customer with the peers' folds (`id mod 5`), or
/// with `folds` given explicitly by [`churn_cross_validate`].
pub fn churn_out_of_fold(customers: &Customers, cfg: &ChurnConfig) -> Result<OutOfFold> {
    churn_cross_validate(customers, &customers.folds(), cfg)
}

/// Out-of-fold P(buys in the holdout) with the given fold of each customer (0‥k−1).
pub fn churn_cross_validate(customers: &Customers, folds: &[usize], cfg: &ChurnConfig) -> Result<OutOfFold> {
    cfg.check()?;
    let (x, bought) = churn_data(customers);
    let actual = bought.iter().map(|&b| b as f64).collect();
    cross_validate(customers, folds, cfg.validation_share, cfg.train.seed, actual, |r| churn_fold(&x, &bought, r, cfg))
}

/// Trains on the customers with `test[i] == false` and scores the others: AUC, AP and lift of
/// P(buys in the holdout) on the test customers (one fit; the same split and seeds as
/// [`churn_cross_validate`] with `test` as fold 1).
pub fn churn_train_test(customers: &Customers, test: &[bool], cfg: &ChurnConfig) -> Result<BinaryScores> {
    cfg.check()?;
    if test.len() != customers.len() || !test.contains(&true) || !test.contains(&false) {
        return Err(Error::Data("need one flag per customer, with both training and test customers".into()));
    }
    let (x, bought) = churn_data(customers);
    let folds: Vec<usize> = test.iter().map(|&t| usize::from(t)).collect();
    let r = fold_rows(&folds, 1, cfg.validation_share, cfg.train.seed);
    let (score, _) = churn_fold(&x, &bought, &r, cfg)?;
    let positive: Vec<bool> = r.test.iter().map(|&i| bought[i] == 1).collect();
    let ids: Vec<u64> = r.test.iter().map(|&i| u64::from(customers.rows[i].id)).collect();
    BinaryScores::of(&score, &positive, &ids)
}

/// The feature matrix and the 0/1 "bought in the holdout" class of every customer.
fn churn_data(customers: &Customers) -> (Array2<f64>, Vec<usize>) {
    (customers.features(), customers.rows.iter().map(|c| usize::from(c.bought_in_holdout())).collect())
}

fn cross_validate(
    customers: &Customers,
    folds: &[usize],
    share: f64,
    seed: u64,
    actual: Vec<f64>,
    mut fold: impl FnMut(&FoldRows) -> Result<(Vec<f64>, usize)>,
) -> Result<OutOfFold> {
    if folds.len() != customers.len() {
        return Err(Error::Data(format!("{} folds for {} customers", folds.len(), customers.len())));
    }
    let k = folds.iter().max().map_or(0, |m| m + 1);
    if k < 2 {
        return Err(Error::Data("cross-validation needs at least two folds".into()));
    }
    let start = Instant::now();
    let mut predictions = vec![f64::NAN; customers.len()];
    let mut epochs = Vec::new();
    for f in 0..k {
        let r = fold_rows(folds, f, share, seed);
        if r.test.is_empty() {
            return Err(Error::Data(format!("fold {f} is empty")));
        }
        let (p, e) = fold(&r)?;
        for (&i, v) in r.test.iter().zip(p) {
            predictions[i] = v;
        }
        epochs.push(e);
    }
    Ok(OutOfFold { ids: customers.ids(), predictions, actual, epochs, seconds: start.elapsed().as_secs_f64() })
}

/// Out-of-fold holdout spend (dollars, clipped at 0) from [`spend_network`] trained with MSE on the
/// standardized [`SpendTarget`].
pub fn spend_out_of_fold(customers: &Customers, cfg: &SpendConfig) -> Result<OutOfFold> {
    check_share(cfg.validation_share)?;
    cfg.train.check()?;
    let x = customers.features();
    let spend = customers.column(|c| c.spend_holdout);
    cross_validate(customers, &customers.folds(), cfg.validation_share, cfg.train.seed, spend.clone(), |r| {
        let (model, transform, mean, sd, history) = train_spend(&x, &spend, r, cfg)?;
        let out = model.outputs(&transform.transform(&rows(&x, &r.test))?.mapv(|v| v as f32))?;
        let dollars = out.column(0).iter().map(|&v| cfg.target.inverse(f64::from(v) * sd + mean)).collect();
        Ok((dollars, history.epochs_run()))
    })
}

/// Trains [`spend_network`] on the `fit` rows of `r` (early stopping on `validation`): the model, its
/// input transform, the target's mean and standard deviation, and the history.
fn train_spend(
    x: &Array2<f64>,
    spend: &[f64],
    r: &FoldRows,
    cfg: &SpendConfig,
) -> Result<(Model, InputTransform, f64, f64, History)> {
    let transform = InputTransform::fit(&rows(x, &r.fit), cfg.log_inputs)?;
    let fit_y: Vec<f64> = r.fit.iter().map(|&i| cfg.target.forward(spend[i])).collect();
    let (mean, sd) = mean_sd(&fit_y);
    let set = |rr: &[usize]| -> Result<DenseDataset> {
        let xs = transform.transform(&rows(x, rr))?.mapv(|v| v as f32);
        let ys = Array2::from_shape_fn((rr.len(), 1), |(i, _)| ((cfg.target.forward(spend[rr[i]]) - mean) / sd) as f32);
        DenseDataset::new(xs, ys)
    };
    let fitted = Trainer::new(cfg.train.clone())?.fit_dense(
        &spend_network(),
        &set(&r.fit)?,
        Some(&set(&r.validation)?),
        DenseLoss::MeanSquaredError,
    )?;
    Ok((fitted.model, transform, mean, sd, fitted.history))
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let s = crate::metrics::Summary::of(v).expect("training folds are not empty");
    (s.mean, if s.std > 0.0 { s.std } else { 1.0 })
}

/// A churn network trained on all customers (early stopping on a held-out share), ready to save
/// and to score customer files with [`crate::score::score_csv`]: its classes are `churned`
/// (no purchase in the holdout) and `active`.
pub fn train_churn_model(
    customers: &Customers,
    cfg: &ChurnConfig,
    data_file: &std::path::Path,
    metrics: serde_json::Value,
) -> Result<(SavedModel, History)> {
    cfg.check()?;
    let (x, bought) = churn_data(customers);
    let r = fold_rows(&vec![1; customers.len()], 0, cfg.validation_share, cfg.train.seed);
    let (model, transform, history) = train_churn(&x, &bought, &r.fit, &r.validation, cfg)?;
    let card = ModelCard::new(data_file, &cfg.train, metrics)?;
    let pre = preprocessing(&transform, "n_holdout", None);
    Ok((SavedModel::new(&model, CLASSES.iter().map(|s| s.to_string()).collect(), pre, card), history))
}

/// The spend network trained on all customers (early stopping on a held-out share), saved with its
/// input transform and the target's mean and standard deviation; [`crate::score::score_csv`] writes
/// `predicted_spend` in dollars for any customer file.
pub fn train_spend_model(
    customers: &Customers,
    cfg: &SpendConfig,
    data_file: &std::path::Path,
    metrics: serde_json::Value,
) -> Result<(SavedModel, History)> {
    check_share(cfg.validation_share)?;
    cfg.train.check()?;
    let x = customers.features();
    let spend = customers.column(|c| c.spend_holdout);
    let r = fold_rows(&vec![1; customers.len()], 0, cfg.validation_share, cfg.train.seed);
    let (model, transform, mean, sd, history) = train_spend(&x, &spend, &r, cfg)?;
    let card = ModelCard::new(data_file, &cfg.train, metrics)?;
    let scale = Standardized { mean, sd, log1p: cfg.target == SpendTarget::Log1p, floor: Some(0.0) };
    let pre = preprocessing(&transform, "spend_holdout", Some(scale));
    Ok((SavedModel::new(&model, vec!["spend".into()], pre, card), history))
}

/// A customer file's preprocessing ([`Customers::write_csv`]): the 17 features by name,
/// `log1p` when the transform takes it, standardized; `customer_id` identifies a row. A churn
/// model's `target` is a holdout count (0 = churned); a spend model's carries its `scale`.
fn preprocessing(transform: &InputTransform, target: &str, scale: Option<Standardized>) -> Preprocessing {
    let mut pipeline = crate::pipeline::FittedPipeline::numeric(FEATURES, Some(transform.scaler.clone()));
    for f in &mut pipeline.features {
        if let crate::pipeline::FittedFeature::Numeric { log1p, .. } = f {
            *log1p = transform.log1p;
        }
    }
    Preprocessing {
        pipeline,
        id: vec!["customer_id".into()],
        target: vec![target.into()],
        labels: crate::saved::Labels::Positive,
        regression: scale,
    }
}

/// Class names of the churn model, index order: 0 = churned, 1 = active (bought in the holdout).
pub const CLASSES: [&str; 2] = ["churned", "active"];
