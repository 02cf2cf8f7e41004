//! The multi-input, multi-label network that predicts next month's product categories, and its
//! evaluation next to a baseline and the generator's true probabilities.
//!
//! [`category_net`]: session history (32 inputs → 32 units), order history (18 → 16) and month
//! (12 → 4) each through their own dense layer and ReLU, joined (52) → Dense(32, relu) → 6
//! sigmoid outputs, trained with binary cross-entropy and early stopping on `val_loss`.

use std::collections::HashMap;
use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::features::{ModellingFile, Prepared, INPUTS, MONTH_INPUTS, ORDER_INPUTS, SESSION_INPUTS};
use super::{CATEGORIES, CATEGORY_NAMES};
use crate::classify::{average_precision, roc_auc};
use crate::display::HtmlTable;
use crate::losses::DenseLoss;
use crate::model::Model;
use crate::network::{Activation, Branch, Head, Layer, Network};
use crate::train::{EarlyStoppingConfig, Fitted, TrainConfig, Trainer};
use crate::{Error, Result};

/// The three-branch network (see the module docs); 3,306 parameters.
///
/// ```
/// let net = propensity::retail::network::category_net();
/// assert_eq!((net.inputs, net.outputs), (62, 6));
/// // branches 32·32+32 + 18·16+16 + 12·4+4, then 52·32+32 and 32·6+6
/// assert_eq!(net.parameters(), 1056 + 304 + 52 + 1696 + 198);
/// ```
pub fn category_net() -> Network {
    let branch = |inputs, units| Branch { inputs, units };
    Network {
        inputs: INPUTS,
        branches: vec![branch(SESSION_INPUTS, 32), branch(ORDER_INPUTS, 16), branch(MONTH_INPUTS, 4)],
        layers: vec![Layer { units: 32, activation: Activation::Relu }],
        outputs: CATEGORIES,
        head: Head::Sigmoid,
    }
}

/// The training defaults: Adam 1e-3, batches of 256, up to 40 epochs, early stopping with
/// patience 3 that restores the best epoch's weights.
pub fn train_config(seed: u64) -> TrainConfig {
    TrainConfig {
        batch_size: 256,
        max_epochs: 40,
        early_stopping: Some(EarlyStoppingConfig { patience: 3, restore_best: true, ..Default::default() }),
        seed,
        adam: crate::optim::AdamForm::Pytorch,
        ..Default::default()
    }
}

/// Trains [`category_net`] on the prepared training rows with binary cross-entropy, early
/// stopping on the validation rows (`trainer` carries the config and callbacks, e.g.
/// `Trainer::new(train_config(1))?.callback(KerasLogger::stdout())`).
pub fn fit(prepared: &Prepared, trainer: &mut Trainer) -> Result<Fitted> {
    trainer.fit_dense(&category_net(), &prepared.train, Some(&prepared.validation), DenseLoss::BinaryCrossEntropy)
}

/// The generator's true probabilities, by customer and month (`YYYY-MM`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Truth {
    probabilities: HashMap<(u64, String), [f32; CATEGORIES]>,
}

impl Truth {
    /// From the generator's output.
    pub fn new(rows: &[super::generate::TruthRow]) -> Truth {
        Truth { probabilities: rows.iter().map(|r| ((r.custno, r.month.clone()), r.p)).collect() }
    }

    /// Reads [`super::PROBABILITIES_FILE`]; every probability must be in [0, 1].
    pub fn read(path: impl AsRef<Path>) -> Result<Truth> {
        /// A row of the file, `p1`…`p6` as columns.
        #[derive(Deserialize)]
        struct Row {
            custno: u64,
            month: String,
            p1: f32,
            p2: f32,
            p3: f32,
            p4: f32,
            p5: f32,
            p6: f32,
        }
        const COLUMNS: [&str; CATEGORIES] = ["p1", "p2", "p3", "p4", "p5", "p6"];
        let rows: Vec<Row> = super::clean::read_rows(path.as_ref(), |r: &Row| {
            let p = [r.p1, r.p2, r.p3, r.p4, r.p5, r.p6];
            match p.iter().position(|v| !(0.0..=1.0).contains(v)) {
                Some(k) => Err((COLUMNS[k], format!("expected a probability in [0, 1], found {}", p[k]))),
                None => Ok(()),
            }
        })?;
        let probabilities =
            rows.into_iter().map(|r| ((r.custno, r.month), [r.p1, r.p2, r.p3, r.p4, r.p5, r.p6])).collect();
        Ok(Truth { probabilities })
    }

    /// The true probabilities of the modelling file's `rows`; an error names a missing row.
    pub fn scores(&self, file: &ModellingFile, rows: &[usize]) -> Result<Array2<f64>> {
        let mut out = Array2::zeros((rows.len(), CATEGORIES));
        for (i, &r) in rows.iter().enumerate() {
            let p = self.probabilities.get(&(file.custno[r], file.month[r].clone())).ok_or_else(|| {
                Error::Data(format!("no true probabilities for customer {} in {}", file.custno[r], file.month[r]))
            })?;
            for k in 0..CATEGORIES {
                out[(i, k)] = p[k] as f64;
            }
        }
        Ok(out)
    }
}

/// The baseline: each category's share of the customer's earlier orders, shrunk towards the
/// category's overall frequency (`prevalence`) with the weight of 2 orders — what "recommend
/// what they bought before, else what is popular" gives.
///
/// ```
/// # use propensity::retail::{clean, features::*, generate, network::history_baseline};
/// # let g = generate::generate(&generate::GeneratorConfig { customers: 30, ..Default::default() }).unwrap();
/// # let m = ModellingFile::build(&clean::clean(g.sessions, g.orders).unwrap(), &FeatureConfig::default()).unwrap();
/// let prevalence = m.prevalence();
/// let b = history_baseline(&m, &[0, 1], &prevalence);
/// assert_eq!(b.dim(), (2, 6));
/// ```
pub fn history_baseline(file: &ModellingFile, rows: &[usize], prevalence: &[f64]) -> Array2<f64> {
    let first = SESSION_INPUTS + CATEGORIES; // the orders_ever block
    let mut out = Array2::zeros((rows.len(), CATEGORIES));
    for (i, &r) in rows.iter().enumerate() {
        let counts: Vec<f64> = (0..CATEGORIES).map(|k| file.inputs[(r, first + k)].exp_m1()).collect();
        let total: f64 = counts.iter().sum();
        for k in 0..CATEGORIES {
            out[(i, k)] = (counts[k] + 2.0 * prevalence[k]) / (total + 2.0);
        }
    }
    out
}

/// One scorer's per-category AUC and AP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// ROC AUC per category.
    pub auc: Vec<f64>,
    /// Average precision per category.
    pub ap: Vec<f64>,
}

impl Scores {
    /// AUC and AP of `scores` (rows × categories) against 0/1 `targets`.
    pub fn of(scores: &Array2<f64>, targets: &Array2<f32>) -> Result<Scores> {
        let (mut auc, mut ap) = (Vec::new(), Vec::new());
        for k in 0..CATEGORIES {
            let s = scores.column(k).to_vec();
            let y: Vec<bool> = targets.column(k).iter().map(|&v| v > 0.5).collect();
            auc.push(roc_auc(&s, &y)?);
            ap.push(average_precision(&s, &y)?);
        }
        Ok(Scores { auc, ap })
    }

    /// Mean AUC over categories.
    pub fn mean_auc(&self) -> f64 {
        self.auc.iter().sum::<f64>() / self.auc.len() as f64
    }

    /// Mean AP over categories.
    pub fn mean_ap(&self) -> f64 {
        self.ap.iter().sum::<f64>() / self.ap.len() as f64
    }
}

/// Test-set evaluation: per category, the model next to the baseline and the true
/// probabilities (the best any model can do on this data: the Bayes-optimal scores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryReport {
    /// Test rows (customer-months).
    pub rows: usize,
    /// Share of test rows ordering each category (the AP of a constant score).
    pub prevalence: Vec<f64>,
    /// The network.
    pub model: Scores,
    /// [`history_baseline`].
    pub baseline: Scores,
    /// The generator's probabilities, when known.
    pub oracle: Option<Scores>,
}

impl CategoryReport {
    /// Evaluates `model` on the prepared test rows.
    pub fn evaluate(
        model: &Model,
        file: &ModellingFile,
        prepared: &Prepared,
        truth: Option<&Truth>,
    ) -> Result<CategoryReport> {
        let test = &prepared.test;
        let proba = model.predict_proba(test.inputs())?.mapv(|v| v as f64);
        let targets = test.targets();
        let baseline = history_baseline(file, &prepared.test_rows, &prepared.train.target_means());
        Ok(CategoryReport {
            rows: test.len(),
            prevalence: test.target_means(),
            model: Scores::of(&proba, targets)?,
            baseline: Scores::of(&baseline, targets)?,
            oracle: truth
                .map(|t| t.scores(file, &prepared.test_rows).and_then(|s| Scores::of(&s, targets)))
                .transpose()?,
        })
    }

    /// The per-category table with the means in the last row.
    pub fn table(&self) -> HtmlTable {
        let header = [
            "category",
            "prevalence",
            "AUC baseline",
            "AUC model",
            "AUC oracle",
            "AP baseline",
            "AP model",
            "AP oracle",
        ];
        let mut t = HtmlTable::new(&format!("Next-month categories, {} test customer-months", self.rows), &header);
        let f = |v: f64| format!("{v:.3}");
        let oracle = |pick: fn(&Scores) -> f64| self.oracle.as_ref().map_or("–".to_string(), |o| f(pick(o)));
        for (k, name) in CATEGORY_NAMES.iter().enumerate() {
            let o = |s: &Scores, auc: bool| if auc { s.auc[k] } else { s.ap[k] };
            t.push(vec![
                name.to_string(),
                f(self.prevalence[k]),
                f(o(&self.baseline, true)),
                f(o(&self.model, true)),
                self.oracle.as_ref().map_or("–".into(), |s| f(s.auc[k])),
                f(o(&self.baseline, false)),
                f(o(&self.model, false)),
                self.oracle.as_ref().map_or("–".into(), |s| f(s.ap[k])),
            ]);
        }
        t.push(vec![
            "mean".into(),
            f(self.prevalence.iter().sum::<f64>() / CATEGORIES as f64),
            f(self.baseline.mean_auc()),
            f(self.model.mean_auc()),
            oracle(Scores::mean_auc),
            f(self.baseline.mean_ap()),
            f(self.model.mean_ap()),
            oracle(Scores::mean_ap),
        ]);
        t
    }

    /// Shows the table in a notebook.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display()
    }

    /// Bar charts of AUC and AP per category for baseline, model and oracle.
    pub fn plot(&self) -> Result<crate::plot::Svg> {
        let groups: Vec<String> = CATEGORY_NAMES.iter().map(|s| s.to_string()).collect();
        let mut series = vec![
            ("baseline AP".to_string(), self.baseline.ap.clone()),
            ("model AP".to_string(), self.model.ap.clone()),
        ];
        if let Some(o) = &self.oracle {
            series.push(("oracle AP".to_string(), o.ap.clone()));
        }
        crate::plot::bar_chart("Average precision per category", "average precision", &groups, &series)
    }
}

impl std::fmt::Display for CategoryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table())
    }
}

/// Bundles a trained [`category_net`] with its scaler and card for [`crate::saved`] and
/// `propensity score` (input: the modelling file's columns, targets optional).
pub fn saved_model(
    model: &Model,
    scaler: &crate::preprocess::FittedScaler,
    card: crate::saved::ModelCard,
) -> crate::saved::SavedModel {
    crate::saved::SavedModel::new(
        model,
        CATEGORY_NAMES.iter().map(|s| s.to_string()).collect(),
        crate::saved::Preprocessing {
            pipeline: crate::pipeline::FittedPipeline::numeric(super::features::input_names(), Some(scaler.clone())),
            id: vec!["custno".into(), "month".into()],
            target: super::features::target_names(),
            labels: crate::saved::Labels::Names,
            regression: None,
        },
        card,
    )
}
