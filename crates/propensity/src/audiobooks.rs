//! The Audiobooks repurchase data: schema, loading, and the exercise's preprocessing.
//!
//! 14,084 customers of an audiobook app, 10 engagement columns over two years, and `Targets`:
//! 1 when the customer bought again in the following six months. The preprocessing drops `ID`,
//! fills missing review ratings with their mean, balances the classes, standardizes, shuffles
//! and splits 80/10/10 — as the original `preprocess.py` did.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::preprocess::{
    balance_first_rows, shuffle_split, FittedMeanFill, FittedScaler, MeanFill, SplitRatios, StandardScaler,
};
use crate::table::{CsvSchema, Header, Table};
use crate::{Dataset, Error, Result};

/// The customer identifier column (dropped before modelling).
pub const ID: &str = "ID";
/// The review rating column; empty where the customer left no review.
pub const REVIEW_RATING: &str = "Review ?/10";
/// The target column: 1 = bought again within six months.
pub const TARGET: &str = "Targets";
/// The ten input columns, in file order. Note the original's trailing space in the last name.
pub const INPUTS: [&str; 10] = [
    "Book length(mins)_overall",
    "Book length(mins)_avg",
    "Price_overall",
    "Price_avg",
    "Review",
    REVIEW_RATING,
    "Completion",
    "Listened(mins)",
    "Support request",
    "Last visited after Purchase date ",
];
/// All twelve columns, in file order.
pub const COLUMNS: [&str; 12] = [
    ID, INPUTS[0], INPUTS[1], INPUTS[2], INPUTS[3], INPUTS[4], INPUTS[5], INPUTS[6], INPUTS[7], INPUTS[8], INPUTS[9],
    TARGET,
];
/// The bundled file's name inside `data/`.
pub const FILE: &str = "Audiobooks_data.csv";
/// File names of the three splits, as the exercise saved them.
pub const NPZ_FILES: [&str; 3] =
    ["Audiobooks_data_train.npz", "Audiobooks_data_validation.npz", "Audiobooks_data_test.npz"];

const SCHEMA: CsvSchema =
    CsvSchema { columns: &COLUMNS, categorical: &[], nullable: &[REVIEW_RATING], header: Header::Optional };

/// Reads an Audiobooks CSV: with the header row, or the classic header-less 12-column file.
/// Review ratings may be empty (missing); every other cell must be a finite number and
/// `Targets` must be 0 or 1. Errors name the file, line and column.
///
/// ```
/// let t = propensity::audiobooks::read_csv(propensity::paths::data_file("Audiobooks_data.csv").unwrap()).unwrap();
/// assert_eq!(t.rows(), 14084);
/// ```
pub fn read_csv(path: impl AsRef<Path>) -> Result<Table> {
    let table = Table::read_csv(path, &SCHEMA)?;
    check_targets(&table)?;
    Ok(table)
}

/// Like [`read_csv`], from any reader; `source` names it in errors.
pub fn read_csv_from(source: impl Into<PathBuf>, reader: impl std::io::Read) -> Result<Table> {
    let table = Table::from_reader(source, reader, &SCHEMA)?;
    check_targets(&table)?;
    Ok(table)
}

fn check_targets(table: &Table) -> Result<()> {
    let targets = table.require(TARGET)?;
    for (i, v) in targets.values.iter().enumerate() {
        match v {
            Some(t) if *t == 0.0 || *t == 1.0 => {}
            Some(t) => return Err(table.cell_error(i, TARGET, format!("expected 0 or 1, found {t}"))),
            None => return Err(table.cell_error(i, TARGET, "missing target")),
        }
    }
    Ok(())
}

/// The ten input columns as a matrix and `Targets` as class indices. The table must have no
/// missing cells left (see [`MeanFill`]).
pub fn features_and_targets(table: &Table) -> Result<(Array2<f64>, Vec<usize>)> {
    let x = table.to_matrix(&INPUTS)?;
    let y = table.require(TARGET)?.values.iter().map(|v| v.map_or(0, |t| t as usize)).collect();
    Ok((x, y))
}

/// Which rows the standardizer learns its mean and std from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScalerFit {
    /// All balanced rows before the split, as the original exercise did (test rows leak into
    /// the scaling a little).
    #[default]
    AllRows,
    /// Training rows only; validation and test are scaled with the training statistics.
    TrainOnly,
}

/// Preprocessing options; the defaults reproduce the exercise.
///
/// ```
/// let cfg = propensity::audiobooks::PreprocessConfig::default();
/// assert_eq!(cfg.seed, 42);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreprocessConfig {
    /// Seed of the shuffle before the split.
    pub seed: u64,
    /// Train and validation shares; test takes the rest.
    pub split: SplitRatios,
    /// Where the scaler is fitted.
    pub scaler_fit: ScalerFit,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig { seed: 42, split: SplitRatios::default(), scaler_fit: ScalerFit::AllRows }
    }
}

/// Train, validation and test sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// Training rows.
    pub train: Dataset,
    /// Validation rows (early stopping).
    pub validation: Dataset,
    /// Test rows (final evaluation).
    pub test: Dataset,
}

impl Splits {
    /// Writes the three `.npz` files into `dir` (created if needed) under [`NPZ_FILES`];
    /// returns their paths.
    pub fn save_npz(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        [&self.train, &self.validation, &self.test]
            .iter()
            .zip(NPZ_FILES)
            .map(|(d, name)| {
                let path = dir.join(name);
                d.save_npz(&path)?;
                Ok(path)
            })
            .collect()
    }

    /// Rows, columns and share of class 1 per split, as a table.
    pub fn table(&self) -> crate::display::HtmlTable {
        let mut t =
            crate::display::HtmlTable::new("Splits", &["split", "rows", "inputs", "targets = 1", "share of 1s"]);
        for (name, d) in [("train", &self.train), ("validation", &self.validation), ("test", &self.test)] {
            let ones = d.class_counts(2)[1];
            t.push(vec![
                name.into(),
                d.len().to_string(),
                format!("{} × f32", d.features()),
                ones.to_string(),
                format!("{:.2}%", 100.0 * ones as f64 / d.len().max(1) as f64),
            ]);
        }
        t
    }

    /// Reads the three `.npz` files from `dir`.
    pub fn load_npz(dir: impl AsRef<Path>) -> Result<Splits> {
        let dir = dir.as_ref();
        let [train, validation, test] = NPZ_FILES.map(|name| Dataset::load_npz(dir.join(name)));
        Ok(Splits { train: train?, validation: validation?, test: test? })
    }
}

/// The result of [`preprocess`]: the splits and the fitted state that produced them.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The three model-ready sets.
    pub splits: Splits,
    /// Mean review rating used to fill missing ratings.
    pub fill: FittedMeanFill,
    /// Standardization statistics.
    pub scaler: FittedScaler,
    /// Rows in the file.
    pub raw_rows: usize,
    /// Rows kept after balancing.
    pub balanced_rows: usize,
}

/// The whole preprocessing: fill → balance → shuffle/split → standardize.
///
/// ```
/// use propensity::audiobooks::{preprocess, read_csv, PreprocessConfig};
/// let raw = read_csv(propensity::paths::data_file("Audiobooks_data.csv").unwrap()).unwrap();
/// let p = preprocess(&raw, &PreprocessConfig::default()).unwrap();
/// assert_eq!(p.balanced_rows, 4474);
/// assert_eq!((p.splits.train.len(), p.splits.validation.len(), p.splits.test.len()), (3579, 447, 448));
/// ```
pub fn preprocess(table: &Table, config: &PreprocessConfig) -> Result<Prepared> {
    let fill = MeanFill::fit(table, &[REVIEW_RATING])?;
    let filled = fill.transform(table)?;
    let (x, y) = features_and_targets(&filled)?;
    let keep = balance_first_rows(&y, 2).map_err(|e| match e {
        Error::Data(m) => Error::Format { file: table.source().to_path_buf(), message: m },
        other => other,
    })?;
    let x = x.select(ndarray::Axis(0), &keep);
    let y: Vec<usize> = keep.iter().map(|&i| y[i]).collect();
    let split = shuffle_split(keep.len(), config.split, config.seed)?;
    let scaler = match config.scaler_fit {
        ScalerFit::AllRows => StandardScaler::fit(&x)?,
        ScalerFit::TrainOnly => StandardScaler::fit(&x.select(ndarray::Axis(0), &split.train))?,
    };
    let scaled = scaler.transform(&x)?;
    Ok(Prepared {
        splits: Splits {
            train: Dataset::select(&scaled, &y, &split.train)?,
            validation: Dataset::select(&scaled, &y, &split.validation)?,
            test: Dataset::select(&scaled, &y, &split.test)?,
        },
        fill,
        scaler,
        raw_rows: table.rows(),
        balanced_rows: keep.len(),
    })
}

/// Class names of the audiobooks target (`Targets` values).
pub const CLASSES: [&str; 2] = ["0", "1"];

/// The Keras notebook's network: 10 inputs → Dense(50, relu) → Dense(50, relu) → Dense(2,
/// softmax); 3,202 parameters, as in Keras (550 + 2,550 + 102).
///
/// ```
/// assert_eq!(propensity::audiobooks::network().parameters(), 3202);
/// ```
pub fn network() -> crate::network::Network {
    crate::network::Network::mlp(INPUTS.len(), &[50, 50], CLASSES.len(), crate::network::Head::Softmax)
}

/// Bundles a trained model with the preprocessing that produced its inputs, ready to save.
pub fn saved_model(
    model: &crate::model::Model,
    prepared: &Prepared,
    card: crate::saved::ModelCard,
) -> crate::saved::SavedModel {
    crate::saved::SavedModel::new(model, CLASSES.iter().map(|c| c.to_string()).collect(), preprocessing(prepared), card)
}

/// The fitted steps as the generic preprocessing: the ten inputs by name (an empty review
/// rating → its training mean, other empty cells an error), standardized; `ID` identifies a row
/// and `Targets` holds the class number.
pub fn preprocessing(prepared: &Prepared) -> crate::saved::Preprocessing {
    let mut pipeline = crate::pipeline::FittedPipeline::numeric(INPUTS, Some(prepared.scaler.clone()));
    for f in &mut pipeline.features {
        if let crate::pipeline::FittedFeature::Numeric { column, fill, .. } = f {
            if column.as_str() == REVIEW_RATING {
                *fill = prepared.fill.means().first().copied();
            }
        }
    }
    crate::saved::Preprocessing {
        pipeline,
        id: vec![ID.to_string()],
        target: vec![TARGET.to_string()],
        labels: crate::saved::Labels::Codes,
        regression: None,
    }
}

/// Writes `rows` synthetic customers shaped like `table` (the bundled data), with a header.
pub fn write_synthetic(table: &Table, rows: u64, seed: u64, out: &mut impl std::io::Write) -> Result<()> {
    crate::synth::write_like(table, &COLUMNS, &[TARGET], Some(ID), rows, seed, out)
}

/// [`write_synthetic`] into the file `path`, atomically.
pub fn write_synthetic_file(table: &Table, rows: u64, seed: u64, path: impl AsRef<Path>) -> Result<()> {
    crate::synth::write_like_file(path, table, &COLUMNS, &[TARGET], Some(ID), rows, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u32, rating: &str, target: u8) -> String {
        format!("{id},1620,1620,19.73,19.73,1,{rating},0.99,1603.8,5,92,{target}\n")
    }

    #[test]
    fn header_less_file_and_missing_ratings_are_accepted() {
        let text: String = [row(1, "10", 1), row(2, "", 0), row(3, "8", 0)].concat();
        let t = read_csv_from("classic.csv", text.as_bytes()).unwrap();
        assert_eq!(t.rows(), 3);
        let fill = MeanFill::fit(&t, &[REVIEW_RATING]).unwrap();
        assert_eq!(fill.means(), &[9.0]); // mean of the present ratings 10 and 8
    }

    #[test]
    fn targets_other_than_0_1_name_their_line() {
        let text = format!("{}{}", COLUMNS.join(","), "\n") + &row(1, "9", 1) + &row(2, "9", 2);
        let e = read_csv_from("bad.csv", text.as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "bad.csv, line 3, column `Targets`: expected 0 or 1, found 2");
    }

    #[test]
    fn single_class_file_is_refused_with_its_name() {
        let text: String = [row(1, "9", 0), row(2, "9", 0)].concat();
        let t = read_csv_from("zeros.csv", text.as_bytes()).unwrap();
        let e = preprocess(&t, &PreprocessConfig::default()).unwrap_err();
        assert!(matches!(&e, Error::Format { file, .. } if file.ends_with("zeros.csv")), "{e}");
        assert!(e.to_string().contains("class 1 has no rows"), "{e}");
    }

    #[test]
    fn wrong_column_count_is_refused() {
        let e = read_csv_from("short.csv", "1,2,3\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("expected 12 columns, found 3"), "{e}");
    }
}
