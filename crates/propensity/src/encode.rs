//! Encoders for categorical columns that remember their levels, so new data is encoded the
//! same way — and a category never seen in training is an error, not a silent zero row.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::table::Table;
use crate::Result;

/// One-hot encoding keeping every level, like `pd.get_dummies(df, columns=[…])`: one 0/1 column
/// per level, levels sorted, named `column_level`.
///
/// ```
/// use propensity::encode::OneHotEncoder;
/// use propensity::table::{CategoricalColumn, Column, Table};
/// let t = Table::new("m", vec![Column { name: "x".into(), values: vec![Some(1.0), Some(2.0)] }]).unwrap()
///     .with_categorical(vec![CategoricalColumn { name: "tier".into(),
///         values: vec![Some("Tier 2".into()), Some("Tier 1".into())] }]).unwrap();
/// let enc = OneHotEncoder::fit(&t, &["tier"]).unwrap();
/// assert_eq!(enc.feature_names(), vec!["tier_Tier 1", "tier_Tier 2"]);
/// assert_eq!(enc.transform(&t).unwrap(), ndarray::array![[0.0, 1.0], [1.0, 0.0]]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OneHotEncoder;

/// The levels an [`OneHotEncoder`] learned, per column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FittedOneHot {
    /// `(column, sorted levels)` in the order the columns were given.
    pub columns: Vec<(String, Vec<String>)>,
}

impl OneHotEncoder {
    /// Learns the sorted levels of each named categorical column.
    pub fn fit(table: &Table, columns: &[&str]) -> Result<FittedOneHot> {
        let columns = columns
            .iter()
            .map(|name| {
                let col = table.categorical_column(name)?;
                Ok((name.to_string(), col.counts().into_iter().map(|(level, _)| level).collect()))
            })
            .collect::<Result<_>>()?;
        Ok(FittedOneHot { columns })
    }
}

impl FittedOneHot {
    /// Output column names, `column_level`.
    pub fn feature_names(&self) -> Vec<String> {
        self.columns.iter().flat_map(|(c, levels)| levels.iter().map(move |l| format!("{c}_{l}"))).collect()
    }

    /// The 0/1 matrix for `table`. A level not seen in `fit`, or a missing cell, is an error
    /// naming the file, line and column.
    pub fn transform(&self, table: &Table) -> Result<Array2<f64>> {
        let width: usize = self.columns.iter().map(|c| c.1.len()).sum();
        let mut out = Array2::zeros((table.rows(), width));
        let mut offset = 0;
        for (name, levels) in &self.columns {
            let col = table.categorical_column(name)?;
            for (i, v) in col.values.iter().enumerate() {
                let v = v.as_deref().ok_or_else(|| table.cell_error(i, name, "missing category"))?;
                let j = levels.iter().position(|l| l == v).ok_or_else(|| {
                    table.cell_error(i, name, format!("unseen category {v:?}; known levels are {levels:?}"))
                })?;
                out[[i, offset + j]] = 1.0;
            }
            offset += levels.len();
        }
        Ok(out)
    }
}

/// Maps class names to indices in sorted order, like scikit-learn's `LabelEncoder`.
///
/// ```
/// use propensity::encode::LabelEncoder;
/// let enc = LabelEncoder::fit(["Store", "Online", "Hybrid", "Store"]);
/// assert_eq!(enc.classes(), &["Hybrid", "Online", "Store"]);
/// assert_eq!(enc.index("Store"), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelEncoder {
    classes: Vec<String>,
}

impl LabelEncoder {
    /// Learns the sorted distinct labels.
    pub fn fit<S: AsRef<str>>(labels: impl IntoIterator<Item = S>) -> LabelEncoder {
        let set: std::collections::BTreeSet<String> = labels.into_iter().map(|s| s.as_ref().to_string()).collect();
        LabelEncoder { classes: set.into_iter().collect() }
    }

    /// Learns the labels of a categorical column of `table`.
    pub fn fit_column(table: &Table, column: &str) -> Result<LabelEncoder> {
        Ok(LabelEncoder::fit(table.categorical_column(column)?.values.iter().flatten()))
    }

    /// The classes, index order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The index of `label`, if known.
    pub fn index(&self, label: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == label)
    }

    /// Encodes a categorical column of `table`; an unknown or missing label is an error naming
    /// the file, line and column.
    pub fn transform(&self, table: &Table, column: &str) -> Result<Vec<usize>> {
        let col = table.categorical_column(column)?;
        col.values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let v = v.as_deref().ok_or_else(|| table.cell_error(i, column, "missing label"))?;
                self.index(v).ok_or_else(|| {
                    table.cell_error(i, column, format!("unseen label {v:?}; known classes are {:?}", self.classes))
                })
            })
            .collect()
    }
}

impl std::fmt::Display for LabelEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.classes.iter().enumerate().map(|(i, c)| format!("{c}={i}")).collect();
        write!(f, "{}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{CategoricalColumn, Column};
    use crate::Error;

    fn table(levels: &[&str]) -> Table {
        Table::new("t.csv", vec![Column { name: "x".into(), values: levels.iter().map(|_| Some(0.0)).collect() }])
            .unwrap()
            .with_categorical(vec![CategoricalColumn {
                name: "g".into(),
                values: levels.iter().map(|l| Some(l.to_string())).collect(),
            }])
            .unwrap()
    }

    #[test]
    fn unseen_categories_are_errors_with_their_line() {
        let enc = OneHotEncoder::fit(&table(&["Male", "Female"]), &["g"]).unwrap();
        let e = enc.transform(&table(&["Male", "Other"])).unwrap_err();
        assert!(matches!(&e, Error::Cell { line: 2, column, .. } if column == "g"), "{e}");
        assert!(e.to_string().contains("unseen category \"Other\""), "{e}");
        let labels = LabelEncoder::fit_column(&table(&["b", "a"]), "g").unwrap();
        assert_eq!(labels.transform(&table(&["a", "b", "a"]), "g").unwrap(), vec![0, 1, 0]);
        assert!(labels.transform(&table(&["c"]), "g").is_err());
        assert_eq!(labels.to_string(), "a=0, b=1");
    }
}
