//! Shopping-channel preference: will a customer shop in store, online, or both?
//!
//! The "Consumer Shopping Trends 2026" table: 22 numeric behaviour and demographic columns,
//! `gender` and `city_tier` (categorical), and the target `shopping_preference`
//! (Store ≈ 87 %, Online ≈ 10 %, Hybrid ≈ 3 %). The defaults reproduce the PyTorch tutorial:
//! one-hot encoding keeping every level (28 features), labels in sorted order (Hybrid = 0,
//! Online = 1, Store = 2), a stratified 80/20 split with seed 42, a scaler fitted on the
//! training rows, and a 28→64→32→3 network trained 150 epochs with balanced class weights.

use std::path::{Path, PathBuf};

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::classify::{macro_auc, one_vs_rest, ClassificationReport, ConfusionMatrix};
use crate::encode::{FittedOneHot, LabelEncoder, OneHotEncoder};
use crate::network::{Head, Network};
use crate::preprocess::{stratified_kfold, stratified_split, FittedScaler, StandardScaler};
use crate::table::{CsvSchema, Header, Table};
use crate::train::{ClassWeights, TrainConfig, Trainer};
use crate::{Dataset, Error, Result};

/// The bundled file's name inside `data/`.
pub const FILE: &str = "Consumer_Shopping_Trends_2026.csv";
/// The target column.
pub const TARGET: &str = "shopping_preference";
/// The categorical input columns, one-hot encoded.
pub const CATEGORICAL: [&str; 2] = ["gender", "city_tier"];
/// The 22 numeric input columns, in file order.
pub const NUMERIC: [&str; 22] = [
    "age",
    "monthly_income",
    "daily_internet_hours",
    "smartphone_usage_years",
    "social_media_hours",
    "online_payment_trust_score",
    "tech_savvy_score",
    "monthly_online_orders",
    "monthly_store_visits",
    "avg_online_spend",
    "avg_store_spend",
    "discount_sensitivity",
    "return_frequency",
    "avg_delivery_days",
    "delivery_fee_sensitivity",
    "free_return_importance",
    "product_availability_online",
    "impulse_buying_score",
    "need_touch_feel_score",
    "brand_loyalty_score",
    "environmental_awareness",
    "time_pressure_level",
];

/// All 25 columns, in file order (target last).
pub const COLUMNS: [&str; 25] = [
    NUMERIC[0],
    NUMERIC[1],
    NUMERIC[2],
    NUMERIC[3],
    NUMERIC[4],
    NUMERIC[5],
    NUMERIC[6],
    NUMERIC[7],
    NUMERIC[8],
    NUMERIC[9],
    NUMERIC[10],
    NUMERIC[11],
    NUMERIC[12],
    NUMERIC[13],
    NUMERIC[14],
    NUMERIC[15],
    NUMERIC[16],
    NUMERIC[17],
    NUMERIC[18],
    NUMERIC[19],
    NUMERIC[20],
    NUMERIC[21],
    CATEGORICAL[0],
    CATEGORICAL[1],
    TARGET,
];

const SCHEMA: CsvSchema = CsvSchema {
    columns: &COLUMNS,
    categorical: &[CATEGORICAL[0], CATEGORICAL[1], TARGET],
    nullable: &[],
    header: Header::Required,
};

/// The tutorial's network: 28 inputs → Linear(64), ReLU → Linear(32), ReLU → Linear(3);
/// 4,035 parameters.
///
/// ```
/// assert_eq!(propensity::shopping::network().parameters(), 4035);
/// ```
pub fn network() -> Network {
    Network::mlp(INPUTS, &[64, 32], CLASSES, Head::Softmax)
}

/// Model inputs: the 22 numeric columns and the one-hot levels of `gender` (3) and `city_tier` (3).
pub const INPUTS: usize = 28;

/// Channel classes: Store, Online, Hybrid.
pub const CLASSES: usize = 3;

/// Reads and validates the CSV (header required; numeric cells finite, categories non-empty).
///
/// ```
/// let t = propensity::shopping::read_csv(propensity::paths::data_file(propensity::shopping::FILE).unwrap()).unwrap();
/// assert_eq!(t.rows(), 11789);
/// ```
pub fn read_csv(path: impl AsRef<Path>) -> Result<Table> {
    Table::read_csv(path, &SCHEMA)
}

/// Like [`read_csv`], from any reader.
pub fn read_csv_from(source: impl Into<PathBuf>, reader: impl std::io::Read) -> Result<Table> {
    Table::from_reader(source, reader, &SCHEMA)
}

/// The encoded table: inputs in `pd.get_dummies` order (numeric columns, then one column per
/// level of each categorical), and class indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// Rows × 28 inputs, not yet scaled.
    pub x: Array2<f64>,
    /// Class index per row.
    pub y: Vec<usize>,
    /// Names of the 28 input columns.
    pub feature_names: Vec<String>,
    /// The fitted one-hot encoder (its levels).
    pub onehot: FittedOneHot,
    /// The fitted label encoder (class names).
    pub labels: LabelEncoder,
    /// Exact duplicate rows dropped before encoding.
    pub duplicates_dropped: usize,
}

/// Drops exact duplicate rows, then one-hot encodes the categoricals and label-encodes the
/// target.
pub fn encode(table: &Table) -> Result<Encoded> {
    let dups = table.duplicate_rows();
    let keep: Vec<usize> = (0..table.rows()).filter(|i| dups.binary_search(i).is_err()).collect();
    let table = table.select_rows(&keep);
    let onehot = OneHotEncoder::fit(&table, &CATEGORICAL)?;
    let labels = LabelEncoder::fit_column(&table, TARGET)?;
    let numeric = table.to_matrix(&NUMERIC)?;
    let dummies = onehot.transform(&table)?;
    let x = ndarray::concatenate(Axis(1), &[numeric.view(), dummies.view()]).expect("same rows");
    let mut feature_names: Vec<String> = NUMERIC.iter().map(|s| s.to_string()).collect();
    feature_names.extend(onehot.feature_names());
    if x.ncols() != INPUTS {
        return Err(Error::Format {
            file: table.source().to_path_buf(),
            message: format!(
                "encoding gives {} input columns, the model takes {} (levels {:?})",
                x.ncols(),
                INPUTS,
                onehot.columns
            ),
        });
    }
    let y = labels.transform(&table, TARGET)?;
    if labels.classes().len() != CLASSES {
        return Err(Error::Format {
            file: table.source().to_path_buf(),
            message: format!("expected 3 classes in `{TARGET}`, found {:?}", labels.classes()),
        });
    }
    Ok(Encoded { x, y, feature_names, onehot, labels, duplicates_dropped: dups.len() })
}

/// Bundles a trained model with the preprocessing that produced its inputs, ready to save.
pub fn saved_model(
    model: &crate::model::Model,
    enc: &Encoded,
    prepared: &Prepared,
    card: crate::saved::ModelCard,
) -> crate::saved::SavedModel {
    crate::saved::SavedModel::new(model, prepared.classes.clone(), preprocessing(enc, prepared), card)
}

/// The fitted steps as the generic preprocessing: the numeric columns by name, the
/// categorical ones one-hot with their training levels (an unseen level is an error), all
/// standardized; the target holds the class names and rows are identified by line number.
pub fn preprocessing(enc: &Encoded, prepared: &Prepared) -> crate::saved::Preprocessing {
    let mut pipeline = crate::pipeline::FittedPipeline::numeric(NUMERIC, Some(prepared.scaler.clone()));
    pipeline.features.extend(enc.onehot.columns.iter().map(|(column, levels)| {
        crate::pipeline::FittedFeature::Categorical { column: column.clone(), levels: levels.clone(), other: false }
    }));
    crate::saved::Preprocessing {
        pipeline,
        id: vec![],
        target: vec![TARGET.to_string()],
        labels: crate::saved::Labels::Names,
        regression: None,
    }
}

/// Writes `rows` synthetic customers shaped like `table` (the bundled data), with a header.
pub fn write_synthetic(table: &Table, rows: u64, seed: u64, out: &mut impl std::io::Write) -> Result<()> {
    crate::synth::write_like(table, &COLUMNS, &[], None, rows, seed, out)
}

/// [`write_synthetic`] into the file `path`, atomically.
pub fn write_synthetic_file(table: &Table, rows: u64, seed: u64, path: impl AsRef<Path>) -> Result<()> {
    crate::synth::write_like_file(path, table, &COLUMNS, &[], None, rows, seed)
}

/// How the rows are split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// Seed of the stratified split (`random_state=42` in the tutorial).
    pub seed: u64,
    /// Share of rows in the test set.
    pub test_fraction: f64,
    /// Share of the training rows held out for validation curves and early stopping.
    pub validation_fraction: Option<f64>,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig { seed: 42, test_fraction: 0.2, validation_fraction: None }
    }
}

/// Scaled, model-ready splits and the state that produced them.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Training rows (scaled with the training statistics).
    pub train: Dataset,
    /// Validation rows, when a validation fraction was asked for.
    pub validation: Option<Dataset>,
    /// Test rows.
    pub test: Dataset,
    /// The scaler fitted on the training rows.
    pub scaler: FittedScaler,
    /// Class names.
    pub classes: Vec<String>,
}

/// Stratified split (then a stratified validation hold-out from the training rows, if asked),
/// with a scaler fitted on the training rows only.
///
/// ```
/// use propensity::shopping::{encode, read_csv, split, SplitConfig, FILE};
/// let enc = encode(&read_csv(propensity::paths::data_file(FILE).unwrap()).unwrap()).unwrap();
/// let p = split(&enc, &SplitConfig::default()).unwrap();
/// assert_eq!((p.train.len(), p.test.len()), (9431, 2358));
/// assert_eq!(p.test.class_counts(3), vec![74, 235, 2049]);
/// ```
pub fn split(enc: &Encoded, cfg: &SplitConfig) -> Result<Prepared> {
    let k = enc.labels.classes().len();
    let (mut train_rows, test_rows) = stratified_split(&enc.y, k, cfg.test_fraction, cfg.seed)?;
    let mut validation_rows = None;
    if let Some(f) = cfg.validation_fraction {
        let y_train: Vec<usize> = train_rows.iter().map(|&i| enc.y[i]).collect();
        let (inner, held) = stratified_split(&y_train, k, f, cfg.seed.wrapping_add(1))?;
        validation_rows = Some(held.iter().map(|&i| train_rows[i]).collect::<Vec<_>>());
        train_rows = inner.iter().map(|&i| train_rows[i]).collect();
    }
    let scaler = StandardScaler::fit(&enc.x.select(Axis(0), &train_rows))?;
    let scaled = scaler.transform(&enc.x)?;
    Ok(Prepared {
        train: Dataset::select(&scaled, &enc.y, &train_rows)?,
        validation: validation_rows.map(|r| Dataset::select(&scaled, &enc.y, &r)).transpose()?,
        test: Dataset::select(&scaled, &enc.y, &test_rows)?,
        scaler,
        classes: enc.labels.classes().to_vec(),
    })
}

/// The tutorial's training: PyTorch's `nn.Linear` initialisation, batch 64 reshuffled every
/// epoch, 150 epochs, Adam (lr 1e-3, PyTorch's ε 1e-8), balanced class weights, no early
/// stopping.
///
/// ```
/// let cfg = propensity::shopping::train_config(42);
/// assert_eq!((cfg.batch_size, cfg.max_epochs, cfg.seed), (64, 150, 42));
/// ```
pub fn train_config(seed: u64) -> TrainConfig {
    TrainConfig {
        batch_size: 64,
        max_epochs: 150,
        epsilon: 1e-8,
        adam: crate::optim::AdamForm::Pytorch,
        early_stopping: None,
        class_weights: ClassWeights::Balanced,
        init: crate::model::Init::PyTorch,
        seed,
        ..TrainConfig::default()
    }
}

/// The full evaluation of a multi-class model on a test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Confusion matrix (raw counts).
    pub confusion: ConfusionMatrix,
    /// Precision / recall / F1 per class and averaged.
    pub report: ClassificationReport,
    /// The majority-class baseline on the same test rows.
    pub baseline: ClassificationReport,
    /// One-vs-rest ROC curves with their AUC.
    pub roc: Vec<crate::classify::RocCurve>,
    /// Mean of the per-class AUCs.
    pub macro_auc: f64,
}

impl Report {
    /// Evaluates class probabilities `proba` against `test` targets; the baseline predicts
    /// the most frequent class of `train_targets`.
    pub fn new<S: AsRef<str>>(
        proba: &Array2<f32>,
        test: &[usize],
        train_targets: &[usize],
        classes: &[S],
    ) -> Result<Report> {
        let predictions: Vec<usize> = proba.rows().into_iter().map(crate::model::argmax_row).collect();
        let confusion = ConfusionMatrix::new(test, &predictions, classes)?;
        let report = ClassificationReport::from_confusion(&confusion);
        let baseline = crate::classify::majority_baseline(train_targets, test, classes)?;
        let roc = one_vs_rest(proba, test, classes)?;
        Ok(Report { confusion, report, baseline, macro_auc: macro_auc(&roc), roc })
    }

    /// Headline numbers as a table: accuracy, macro F1, weighted F1, AUC per class and macro,
    /// against the majority baseline.
    pub fn summary_table(&self) -> crate::display::HtmlTable {
        let mut t = crate::display::HtmlTable::new("Test-set summary", &["metric", "model", "majority baseline"]);
        t.push(vec!["accuracy".into(), pct(self.report.accuracy), pct(self.baseline.accuracy)]);
        t.push(vec![
            "macro F1".into(),
            format!("{:.3}", self.report.macro_avg.f1),
            format!("{:.3}", self.baseline.macro_avg.f1),
        ]);
        t.push(vec![
            "weighted F1".into(),
            format!("{:.3}", self.report.weighted_avg.f1),
            format!("{:.3}", self.baseline.weighted_avg.f1),
        ]);
        for c in &self.roc {
            t.push(vec![format!("ROC AUC {}", c.class), format!("{:.4}", c.auc), "0.5".into()]);
        }
        t.push(vec!["ROC AUC macro".into(), format!("{:.4}", self.macro_auc), "0.5".into()]);
        t
    }

    /// The confusion matrix as a heat map with counts; `normalized` divides each row by its
    /// total (per-class recall on the diagonal).
    pub fn confusion_heatmap(&self, normalized: bool) -> Result<crate::plot::Svg> {
        let names = &self.confusion.classes;
        if normalized {
            crate::plot::heatmap(
                "Confusion matrix, row-normalized (rows: true class)",
                names,
                names,
                &self.confusion.normalized(),
                (0.0, 1.0),
                |v| format!("{v:.2}"),
            )
        } else {
            let counts: Vec<Vec<f64>> =
                self.confusion.counts.iter().map(|r| r.iter().map(|&v| v as f64).collect()).collect();
            let max = counts.iter().flatten().copied().fold(0.0, f64::max);
            crate::plot::heatmap("Confusion matrix (rows: true class)", names, names, &counts, (0.0, max), |v| {
                format!("{v:.0}")
            })
        }
    }

    /// The one-vs-rest ROC curves.
    pub fn roc_plot(&self) -> Result<crate::plot::Svg> {
        crate::plot::roc_curves(&self.roc)
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("Report serialises")
    }

    /// evcxr's display hook: the summary, the classification report and the confusion matrix.
    pub fn evcxr_display(&self) {
        let html = [self.summary_table(), self.report.table(), self.confusion.table()]
            .iter()
            .map(|t| t.to_html())
            .collect::<Vec<_>>()
            .join("<br/>");
        println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.summary_table())?;
        writeln!(f, "{}", self.report.table())?;
        write!(f, "{}", self.confusion.table())
    }
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// Several trained variants side by side on the same test rows: accuracy, macro F1, macro
/// AUC, and the precision and recall of the rare `Hybrid` class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// What is compared.
    pub caption: String,
    /// One labelled report per variant.
    pub rows: Vec<(String, Report)>,
}

impl Comparison {
    /// Puts already-evaluated variants side by side.
    pub fn of(caption: &str, rows: Vec<(String, Report)>) -> Comparison {
        Comparison { caption: caption.to_string(), rows }
    }

    /// Trains each labelled config (and balancing) on `prepared` and evaluates it.
    pub fn run(
        caption: &str,
        prepared: &Prepared,
        variants: Vec<(String, TrainConfig, Balancing)>,
    ) -> Result<Comparison> {
        let rows = variants
            .into_iter()
            .map(|(label, cfg, balancing)| Ok((label, fit_and_evaluate(prepared, &cfg, balancing)?.1)))
            .collect::<Result<_>>()?;
        Ok(Comparison { caption: caption.to_string(), rows })
    }

    /// The comparison as a table.
    pub fn table(&self) -> crate::display::HtmlTable {
        let mut t = crate::display::HtmlTable::new(
            &self.caption,
            &["variant", "accuracy", "macro F1", "macro AUC", "Hybrid precision", "Hybrid recall", "Hybrid AUC"],
        );
        for (label, r) in &self.rows {
            t.push(vec![
                label.clone(),
                format!("{:.4}", r.report.accuracy),
                format!("{:.3}", r.report.macro_avg.f1),
                format!("{:.4}", r.macro_auc),
                format!("{:.3}", r.report.per_class[0].precision),
                format!("{:.3}", r.report.per_class[0].recall),
                format!("{:.4}", r.roc[0].auc),
            ]);
        }
        t
    }

    /// evcxr's display hook.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display()
    }
}

/// Test scores of the same pipeline trained with each of `seeds` (same split).
pub fn seed_spread(
    prepared: &Prepared,
    seeds: impl IntoIterator<Item = u64>,
    config: &TrainConfig,
) -> Result<Vec<FoldScores>> {
    seeds
        .into_iter()
        .map(|seed| {
            let (_, r) = fit_and_evaluate(prepared, &TrainConfig { seed, ..config.clone() }, Balancing::Config)?;
            Ok(FoldScores::of(&r))
        })
        .collect()
}

/// Rows per class of the raw table, as a bar chart.
pub fn plot_class_counts(table: &Table) -> Result<crate::plot::Svg> {
    let (names, counts): (Vec<String>, Vec<f64>) =
        table.categorical_column(TARGET)?.counts().into_iter().map(|(c, n)| (c, n as f64)).unzip();
    crate::plot::bar_chart("Customers per shopping preference", "customers", &names, &[("customers".into(), counts)])
}

/// Shares of the classes, as a pie chart.
pub fn plot_class_shares(table: &Table) -> Result<crate::plot::Svg> {
    let (names, counts): (Vec<String>, Vec<f64>) =
        table.categorical_column(TARGET)?.counts().into_iter().map(|(c, n)| (c, n as f64)).unzip();
    crate::plot::pie_chart("Shopping preference", &names, &counts)
}

/// Box plots of one numeric column per class.
pub fn plot_by_class(table: &Table, column: &str) -> Result<crate::plot::Svg> {
    crate::plot::box_plots(&format!("{column} by shopping preference"), column, &table.grouped(TARGET, column)?)
}

/// Pearson correlations of the 22 numeric columns as a heat map.
pub fn plot_correlations(table: &Table) -> Result<crate::plot::Svg> {
    let names: Vec<String> = NUMERIC.iter().map(|s| s.to_string()).collect();
    crate::plot::heatmap(
        "Correlation of the numeric columns",
        &names,
        &names,
        &table.correlation(&NUMERIC)?,
        (-1.0, 1.0),
        |v| format!("{v:.1}"),
    )
}

/// Share of each class within each level of a categorical column (`gender`, `city_tier`), as
/// grouped bars.
pub fn plot_demographics(table: &Table, column: &str) -> Result<crate::plot::Svg> {
    let (levels, classes, counts) = table.crosstab(column, TARGET)?;
    let series: Vec<(String, Vec<f64>)> = classes
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let shares =
                counts.iter().map(|row| 100.0 * row[j] as f64 / row.iter().sum::<usize>().max(1) as f64).collect();
            (c.clone(), shares)
        })
        .collect();
    crate::plot::bar_chart(&format!("Shopping preference by {column}"), "% of customers", &levels, &series)
}

/// How class imbalance is handled in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Balancing {
    /// Whatever the training config says (the tutorial: balanced class weights).
    #[default]
    Config,
    /// SMOTE (k = 5) on the training rows, no class weights.
    Smote,
}

/// Trains on `prepared.train` (rebalanced as asked) and evaluates on `prepared.test`.
pub fn fit_and_evaluate(
    prepared: &Prepared,
    config: &TrainConfig,
    balancing: Balancing,
) -> Result<(crate::train::Fitted, Report)> {
    let (train, config) = match balancing {
        Balancing::Config => (prepared.train.clone(), config.clone()),
        Balancing::Smote => (
            crate::resample::smote(&prepared.train, 3, 5, config.seed)?,
            TrainConfig { class_weights: ClassWeights::None, ..config.clone() },
        ),
    };
    let fitted = Trainer::new(config)?.fit(&network(), &train, prepared.validation.as_ref())?;
    let proba = fitted.model.predict_proba(prepared.test.inputs())?;
    let report = Report::new(&proba, prepared.test.targets(), prepared.train.targets(), &prepared.classes)?;
    Ok((fitted, report))
}

/// Scores of one cross-validation fold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FoldScores {
    /// Accuracy on the held-out fold.
    pub accuracy: f64,
    /// Macro F1 on the held-out fold.
    pub macro_f1: f64,
    /// Macro one-vs-rest ROC AUC on the held-out fold.
    pub macro_auc: f64,
}

impl FoldScores {
    /// The three headline scores of a report.
    pub fn of(report: &Report) -> FoldScores {
        FoldScores {
            accuracy: report.report.accuracy,
            macro_f1: report.report.macro_avg.f1,
            macro_auc: report.macro_auc,
        }
    }
}

/// Stratified k-fold cross-validation of the whole pipeline: per fold, the scaler is fitted on
/// the training folds only, the model trained (rebalanced as asked) and scored on the held-out
/// fold. Returns one entry per fold.
pub fn cross_validate(
    enc: &Encoded,
    folds: usize,
    seed: u64,
    config: &TrainConfig,
    balancing: Balancing,
) -> Result<Vec<FoldScores>> {
    let classes = enc.labels.classes();
    stratified_kfold(&enc.y, classes.len(), folds, seed)?
        .into_iter()
        .map(|(train_rows, val_rows)| {
            let scaler = StandardScaler::fit(&enc.x.select(Axis(0), &train_rows))?;
            let scaled = scaler.transform(&enc.x)?;
            let prepared = Prepared {
                train: Dataset::select(&scaled, &enc.y, &train_rows)?,
                validation: None,
                test: Dataset::select(&scaled, &enc.y, &val_rows)?,
                scaler,
                classes: classes.to_vec(),
            };
            let (_, r) = fit_and_evaluate(&prepared, config, balancing)?;
            Ok(FoldScores::of(&r))
        })
        .collect()
}

/// Mean ± std of each score over folds (or seeds), as a table.
pub fn scores_table(caption: &str, scores: &[FoldScores]) -> crate::display::HtmlTable {
    let mut t = crate::display::HtmlTable::new(caption, &["", "accuracy", "macro F1", "macro AUC"]);
    for (i, s) in scores.iter().enumerate() {
        t.push(vec![
            (i + 1).to_string(),
            format!("{:.4}", s.accuracy),
            format!("{:.3}", s.macro_f1),
            format!("{:.4}", s.macro_auc),
        ]);
    }
    let sum = |f: fn(&FoldScores) -> f64| {
        crate::metrics::Summary::of(&scores.iter().map(f).collect::<Vec<_>>())
            .map_or(String::new(), |s| format!("{:.4} ± {:.4}", s.mean, s.std))
    };
    t.push(vec!["mean ± std".into(), sum(|s| s.accuracy), sum(|s| s.macro_f1), sum(|s| s.macro_auc)]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "age,monthly_income,daily_internet_hours,smartphone_usage_years,social_media_hours,online_payment_trust_score,tech_savvy_score,monthly_online_orders,monthly_store_visits,avg_online_spend,avg_store_spend,discount_sensitivity,return_frequency,avg_delivery_days,delivery_fee_sensitivity,free_return_importance,product_availability_online,impulse_buying_score,need_touch_feel_score,brand_loyalty_score,environmental_awareness,time_pressure_level,gender,city_tier,shopping_preference\n";

    #[test]
    fn encoding_follows_get_dummies_and_label_encoder() {
        let rows = [
            "56,221111,6.5,12,0.7,1,6,16,16,28551,144092,2,3,2,6,7,7,1,3,6,5,2,Other,Tier 3,Store",
            "69,96029,8.2,13,2.7,6,9,14,1,124056,28421,4,7,4,1,3,4,9,6,8,1,7,Male,Tier 1,Hybrid",
            "30,50000,3.0,5,1.0,5,5,2,8,1000,2000,3,1,3,2,2,5,4,5,5,5,5,Female,Tier 2,Online",
            "30,50000,3.0,5,1.0,5,5,2,8,1000,2000,3,1,3,2,2,5,4,5,5,5,5,Female,Tier 2,Online",
        ];
        let text = HEADER.to_string() + &rows.join("\n");
        let enc = encode(&read_csv_from("s.csv", text.as_bytes()).unwrap()).unwrap();
        assert_eq!(enc.duplicates_dropped, 1);
        assert_eq!(enc.labels.classes(), &["Hybrid", "Online", "Store"]);
        assert_eq!(enc.y, vec![2, 0, 1]);
        assert_eq!(
            &enc.feature_names[22..],
            &[
                "gender_Female",
                "gender_Male",
                "gender_Other",
                "city_tier_Tier 1",
                "city_tier_Tier 2",
                "city_tier_Tier 3"
            ]
        );
        assert_eq!(enc.x.row(0).slice(ndarray::s![22..]).to_vec(), vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn a_missing_level_is_refused_because_the_width_changes() {
        let row = "56,221111,6.5,12,0.7,1,6,16,16,28551,144092,2,3,2,6,7,7,1,3,6,5,2,Other,Tier 3,";
        let text = HEADER.to_string() + row + "Store\n" + row + "Online\n" + row + "Hybrid\n";
        let e = encode(&read_csv_from("s.csv", text.as_bytes()).unwrap()).unwrap_err();
        assert!(e.to_string().contains("encoding gives 24 input columns, the model takes 28"), "{e}");
    }
}
