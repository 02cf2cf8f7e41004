//! One row per customer — frequency, recency, T and the mean amount — built from a transaction
//! log ([`super::TransactionLog::summarise`]) or read from a summary file a user already has
//! (lifetimes' `summary_data_from_transaction_data` output, a warehouse table).

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::period::Period;
use crate::btyd::Summary;
use crate::table::TextTable;
use crate::Result;

/// The purchases after the calibration end, per customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutPurchases {
    /// Its last day, `YYYY-MM-DD`.
    pub end: String,
    /// Its length in weeks (lifetimes' `duration_holdout`, in weeks).
    pub weeks: f64,
    /// Periods with a purchase in it, per customer.
    pub purchases: Vec<f64>,
    /// Their amounts, summed (with amounts).
    pub amount: Option<Vec<f64>>,
}

/// Per-customer columns the models are fitted on; times in weeks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// The file's name, for reports.
    pub source: String,
    /// What counts as one purchase (a log) or the unit of the file's times (a summary file).
    pub period: Period,
    /// The calibration end, `YYYY-MM-DD` (from a log).
    pub calibration_end: Option<String>,
    /// The log's first day (from a log): where tracking starts.
    pub log_start: Option<i64>,
    /// Customer ids.
    pub ids: Vec<String>,
    /// Repeat purchases: periods with a purchase − 1.
    pub frequency: Vec<f64>,
    /// Weeks from the first to the last purchase.
    pub recency: Vec<f64>,
    /// Weeks from the first purchase to the calibration end.
    pub t: Vec<f64>,
    /// Mean amount of the repeat purchases (0 without repeats), with amounts.
    pub monetary: Option<Vec<f64>>,
    /// How many customers each row stands for, when a summary file counts them (BG/BB's
    /// customary grouped table); one each otherwise.
    pub weights: Option<Vec<f64>>,
    /// The holdout, with one.
    pub holdout: Option<HoldoutPurchases>,
    /// Customers whose first purchase is in the holdout (not scored).
    pub new_in_holdout: usize,
}

/// The columns of a summary file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryColumns {
    /// The customer id (non-empty, unique).
    pub customer: String,
    /// Repeat purchases (a whole number ≥ 0).
    pub frequency: String,
    /// Time from the first to the last purchase, in periods.
    pub recency: String,
    /// Time from the first purchase to the end of the data, in periods.
    pub t: String,
    /// Mean amount of the repeat purchases (≥ 0), if the file has it.
    pub monetary: Option<String>,
    /// Customers with this row (a whole number ≥ 1), if each row stands for several.
    pub count: Option<String>,
}

impl Default for SummaryColumns {
    /// lifetimes' names: `customer_id`, `frequency`, `recency`, `T`, no monetary value.
    fn default() -> Self {
        SummaryColumns {
            customer: "customer_id".into(),
            frequency: "frequency".into(),
            recency: "recency".into(),
            t: "T".into(),
            monetary: None,
            count: None,
        }
    }
}

impl CustomerSummary {
    /// Reads a summary file (CSV, gzipped when it ends in `.gz`): one row per customer, times in
    /// `period`s (lifetimes' `freq`). An empty or repeated id, a frequency that is not a whole
    /// number ≥ 0, a recency outside [0, T] (or above 0 without repeats), a T that is not a
    /// number ≥ 0, or a monetary value that is not a number ≥ 0 is an error naming the file,
    /// line and column. A count column cannot go with a monetary one (the spend model is fitted
    /// per customer).
    ///
    /// ```
    /// use propensity::clv::{CustomerSummary, Period, SummaryColumns};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("summary.csv");
    /// std::fs::write(&path, "customer_id,frequency,recency,T\na,2,14,28\nb,0,0,7\n").unwrap();
    /// let s = CustomerSummary::read_csv(&path, &SummaryColumns::default(), Period::Day).unwrap();
    /// assert_eq!((s.recency[0], s.t[1]), (2.0, 1.0)); // weeks
    /// std::fs::write(&path, "customer_id,frequency,recency,T\na,2,30,28\n").unwrap();
    /// let e = CustomerSummary::read_csv(&path, &SummaryColumns::default(), Period::Day).unwrap_err();
    /// assert!(e.to_string().contains("line 2, column `recency`: expected a recency between 0 and T (28), found \"30\""));
    /// ```
    pub fn read_csv(path: impl AsRef<Path>, columns: &SummaryColumns, period: Period) -> Result<CustomerSummary> {
        let path = path.as_ref();
        let table = TextTable::read_csv(path)?;
        let at = |name: &str| table.position(name);
        let (c, f, r, t) = (at(&columns.customer)?, at(&columns.frequency)?, at(&columns.recency)?, at(&columns.t)?);
        let m = columns.monetary.as_deref().map(at).transpose()?;
        let w = columns.count.as_deref().map(at).transpose()?;
        if m.is_some() && w.is_some() {
            return Err(crate::Error::Format {
                file: path.into(),
                message: "a count column cannot go with a monetary one: Gamma-Gamma is fitted per customer".into(),
            });
        }
        let number = |i: usize, j: usize, what: &str, ok: &dyn Fn(f64) -> bool| -> Result<f64> {
            let cell = table.cell(i, j);
            match cell.parse::<f64>() {
                Ok(v) if v.is_finite() && ok(v) => Ok(v),
                _ => Err(table.cell_error(i, j, format!("expected {what}, found {cell:?}"))),
            }
        };
        let n = table.rows();
        let mut s = CustomerSummary {
            source: path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned()),
            period,
            calibration_end: None,
            log_start: None,
            ids: Vec::with_capacity(n),
            frequency: Vec::with_capacity(n),
            recency: Vec::with_capacity(n),
            t: Vec::with_capacity(n),
            monetary: m.map(|_| Vec::with_capacity(n)),
            weights: w.map(|_| Vec::with_capacity(n)),
            holdout: None,
            new_in_holdout: 0,
        };
        let mut seen = HashSet::with_capacity(n);
        for i in 0..n {
            let id = table.cell(i, c);
            if id.is_empty() {
                return Err(table.cell_error(i, c, "empty customer id"));
            }
            if !seen.insert(id) {
                return Err(table.cell_error(i, c, format!("customer {id:?} appears twice")));
            }
            let x = number(i, f, "a whole number of repeat purchases ≥ 0", &|v| v >= 0.0 && v.fract() == 0.0)?;
            let age = number(i, t, "a T ≥ 0", &|v| v >= 0.0)?;
            let what = if x == 0.0 {
                "a recency of 0 for a customer without repeat purchases".to_string()
            } else {
                format!("a recency between 0 and T ({age})")
            };
            let rec = number(i, r, &what, &|v| v >= 0.0 && v <= age && (x > 0.0 || v == 0.0))?;
            s.ids.push(id.to_string());
            s.frequency.push(x);
            s.recency.push(period.to_weeks(rec));
            s.t.push(period.to_weeks(age));
            if let (Some(j), Some(v)) = (m, &mut s.monetary) {
                v.push(number(i, j, "a mean amount ≥ 0", &|v| v >= 0.0)?);
            }
            if let (Some(j), Some(v)) = (w, &mut s.weights) {
                v.push(number(i, j, "a whole count of customers ≥ 1", &|v| v >= 1.0 && v.fract() == 0.0)?);
            }
        }
        Ok(s)
    }

    /// Writes the summary with lifetimes' column names — `customer_id, frequency, recency, T`
    /// and, with amounts, `monetary_value` — times in weeks, atomically: the file
    /// [`CustomerSummary::read_csv`] reads back with [`Period::Week`] to the same numbers.
    ///
    /// ```
    /// use propensity::clv::{CustomerSummary, Period, SummaryColumns};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    /// std::fs::write(&a, "customer_id,frequency,recency,T\nx,2,10,30\ny,0,0,3\n").unwrap();
    /// let s = CustomerSummary::read_csv(&a, &SummaryColumns::default(), Period::Day).unwrap();
    /// s.write_csv(&b).unwrap();
    /// let back = CustomerSummary::read_csv(&b, &SummaryColumns::default(), Period::Week).unwrap();
    /// assert_eq!((back.recency, back.t), (s.recency, s.t));
    /// ```
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut text = String::from("customer_id,frequency,recency,T");
        text += if self.monetary.is_some() { ",monetary_value" } else { "" };
        text += if self.weights.is_some() { ",count\n" } else { "\n" };
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(text.into_bytes());
        for i in 0..self.len() {
            let mut row = vec![
                self.ids[i].clone(),
                self.frequency[i].to_string(),
                self.recency[i].to_string(),
                self.t[i].to_string(),
            ];
            if let Some(m) = &self.monetary {
                row.push(m[i].to_string());
            }
            if let Some(c) = &self.weights {
                row.push(c[i].to_string());
            }
            w.write_record(&row).map_err(|e| crate::Error::io(path, e.into()))?;
        }
        let bytes = w.into_inner().map_err(|e| crate::Error::io(path, std::io::Error::other(e.to_string())))?;
        crate::io::write_bytes_atomic(path, &bytes)
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True without customers.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Customers row `i` stands for.
    pub fn weight(&self, i: usize) -> f64 {
        self.weights.as_ref().map_or(1.0, |w| w[i])
    }

    /// Customers (rows, or the sum of the counts).
    pub fn customers(&self) -> f64 {
        self.weights.as_ref().map_or(self.len() as f64, |w| w.iter().sum())
    }

    /// Customers with at least one repeat purchase.
    pub fn repeaters(&self) -> f64 {
        (0..self.len()).filter(|&i| self.frequency[i] > 0.0).map(|i| self.weight(i)).sum()
    }

    /// Σ weight · `values`: a total over customers.
    pub fn total(&self, values: &[f64]) -> f64 {
        values.iter().enumerate().map(|(i, v)| self.weight(i) * v).sum()
    }

    /// The grouped (frequency, recency, T) the repeat-purchase models are fitted on.
    pub fn btyd(&self) -> Result<Summary> {
        match &self.weights {
            Some(w) => Summary::weighted(&self.frequency, &self.recency, &self.t, w),
            None => Summary::new(&self.frequency, &self.recency, &self.t),
        }
    }

    /// What one purchase is, for reports: "purchase days" (weeks, months) for a log, "purchases"
    /// for a summary file.
    pub fn unit(&self) -> String {
        match self.calibration_end {
            Some(_) => format!("purchase {}s", self.period.key()),
            None => "purchases".into(),
        }
    }
}
