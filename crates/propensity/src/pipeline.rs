//! A feature pipeline that knows no dataset: a serde list of per-column steps (numeric with a
//! fill and optional `log1p`, one-hot categorical with remembered levels, Yes/No booleans, dates
//! as an age) followed by standardization. [`Pipeline::fit`] learns the state from the training
//! rows of a [`TextTable`]; the [`FittedPipeline`] turns text cells into model inputs with one
//! cell encoder, used both for a whole table (training, evaluation) and for streamed rows
//! (`propensity score`), so the two can never disagree.
//!
//! ```
//! use propensity::pipeline::{Feature, Fill, Pipeline, Unseen};
//! use propensity::table::TextTable;
//! let dir = tempfile::tempdir().unwrap();
//! let p = dir.path().join("t.csv");
//! std::fs::write(&p, "age,plan,member,since\n30,gold,Yes,2024-01-01\n,basic,No,2024-01-31\n50,gold,yes,\n").unwrap();
//! let table = TextTable::read_csv(&p).unwrap();
//! let pipeline = Pipeline {
//!     features: vec![
//!         Feature::Numeric { column: "age".into(), fill: Fill::Median, log1p: false },
//!         Feature::Categorical { column: "plan".into(), unseen: Unseen::Error },
//!         Feature::Boolean { column: "member".into(), fill: Fill::Error },
//!         Feature::Date { column: "since".into(), reference: Some("2024-02-01".into()), weeks: false, fill: Fill::Median },
//!     ],
//!     standardize: false,
//! };
//! let fitted = pipeline.fit(&table, &[0, 1, 2]).unwrap();
//! assert_eq!(fitted.feature_names(), ["age", "plan=basic", "plan=gold", "member", "since"]);
//! let x = fitted.transform(&table).unwrap();
//! assert_eq!(x.row(1).to_vec(), [40.0, 1.0, 0.0, 0.0, 1.0]); // median age, 1 day before the reference
//! assert_eq!(x.row(2).to_vec(), [50.0, 0.0, 1.0, 1.0, 16.0]); // median age in days of the known dates
//! ```

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::calendar::{format_date, parse_date};
use crate::preprocess::{FittedScaler, StandardScaler};
use crate::table::TextTable;
use crate::{Error, Result};

/// What an empty cell becomes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// The training mean.
    Mean,
    /// The training median (the default: robust to the long tails of spend and counts).
    #[default]
    Median,
    /// The most frequent training value (smallest on ties).
    MostFrequent,
    /// A given number.
    Constant(f64),
    /// An empty cell is an error.
    Error,
}

/// What a categorical level not seen in training becomes when scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Unseen {
    /// An error naming the level and the known ones.
    #[default]
    Error,
    /// An extra `(other)` input column, which is 1 for every unseen level.
    Other,
}

/// One column's step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Feature {
    /// A number; `log1p` applies `ln(1 + x)` (for counts and amounts; needs x > −1).
    Numeric {
        /// Column name.
        column: String,
        /// Empty cells.
        #[serde(default)]
        fill: Fill,
        /// Apply `ln(1 + x)` after filling.
        #[serde(default)]
        log1p: bool,
    },
    /// Text levels, one-hot encoded (levels sorted; an empty cell is the level `""`).
    Categorical {
        /// Column name.
        column: String,
        /// Levels not seen in training.
        #[serde(default)]
        unseen: Unseen,
    },
    /// `yes/no`, `true/false`, `y/n`, `t/f`, `1/0` (any case) as 1/0.
    Boolean {
        /// Column name.
        column: String,
        /// Empty cells (the mean is the share of 1s).
        #[serde(default)]
        fill: Fill,
    },
    /// A date (`YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD`, optionally with a time) as its age in days
    /// (or weeks) at `reference`; without a reference, the latest training date.
    Date {
        /// Column name.
        column: String,
        /// `YYYY-MM-DD`; `None` takes the latest date in the training rows.
        #[serde(default)]
        reference: Option<String>,
        /// Age in weeks instead of days.
        #[serde(default)]
        weeks: bool,
        /// Empty cells (in age units).
        #[serde(default)]
        fill: Fill,
    },
}

impl Feature {
    /// The column the step reads.
    pub fn column(&self) -> &str {
        match self {
            Feature::Numeric { column, .. }
            | Feature::Categorical { column, .. }
            | Feature::Boolean { column, .. }
            | Feature::Date { column, .. } => column,
        }
    }

    /// The step in words, for a task summary.
    ///
    /// ```
    /// use propensity::pipeline::{Feature, Fill};
    /// let f = Feature::Numeric { column: "visits".into(), fill: Fill::Median, log1p: true };
    /// assert_eq!(f.describe(), "number, log1p; empty → training median");
    /// ```
    pub fn describe(&self) -> String {
        let fill = |f: &Fill| match f {
            Fill::Mean => "training mean".to_string(),
            Fill::Median => "training median".to_string(),
            Fill::MostFrequent => "most frequent training value".to_string(),
            Fill::Constant(v) => format!("{v}"),
            Fill::Error => "an error".to_string(),
        };
        match self {
            Feature::Numeric { fill: f, log1p, .. } => {
                format!("number{}; empty → {}", if *log1p { ", log1p" } else { "" }, fill(f))
            }
            Feature::Categorical { unseen, .. } => format!(
                "category, one input per training level; unseen level → {}",
                match unseen {
                    Unseen::Error => "an error",
                    Unseen::Other => "the (other) input",
                }
            ),
            Feature::Boolean { fill: f, .. } => format!("yes/no as 1/0; empty → {}", fill(f)),
            Feature::Date { reference, weeks, fill: f, .. } => format!(
                "date, age in {} at {}; empty → {}",
                if *weeks { "weeks" } else { "days" },
                reference.as_deref().unwrap_or("the latest training date"),
                fill(f)
            ),
        }
    }
}

/// The steps, in input order, and whether the encoded inputs are standardized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// One step per input column.
    pub features: Vec<Feature>,
    /// Standardize every encoded input (one-hot columns included) with the training mean and
    /// population standard deviation, as the seed pipelines do.
    #[serde(default = "yes")]
    pub standardize: bool,
}

fn yes() -> bool {
    true
}

/// One step with its learned state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FittedFeature {
    /// See [`Feature::Numeric`]; `fill: None` makes an empty cell an error.
    Numeric {
        /// Column name.
        column: String,
        /// The value of an empty cell (before `log1p`).
        fill: Option<f64>,
        /// Apply `ln(1 + x)`.
        log1p: bool,
    },
    /// See [`Feature::Categorical`].
    Categorical {
        /// Column name.
        column: String,
        /// The training levels, sorted: one input each.
        levels: Vec<String>,
        /// An `(other)` input for unseen levels.
        other: bool,
    },
    /// See [`Feature::Boolean`].
    Boolean {
        /// Column name.
        column: String,
        /// The value of an empty cell.
        fill: Option<f64>,
    },
    /// See [`Feature::Date`].
    Date {
        /// Column name.
        column: String,
        /// The reference date, `YYYY-MM-DD`.
        reference: String,
        /// Age in weeks instead of days.
        weeks: bool,
        /// The age of an empty cell.
        fill: Option<f64>,
    },
}

/// A fitted [`Pipeline`]: what a saved model carries to score raw rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedPipeline {
    /// The steps with their state.
    pub features: Vec<FittedFeature>,
    /// The standardization of the encoded inputs (`None`: inputs are used as encoded).
    pub scaler: Option<FittedScaler>,
}

/// One cell as a step reads it: CSV text, or a typed value from a column store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Empty or null.
    Missing,
    /// Text, trimmed (a CSV field, an Arrow string).
    Text(&'a str),
    /// A number (an Arrow integer or float).
    Number(f64),
    /// A yes/no (an Arrow boolean).
    Bool(bool),
    /// A date as days since 1970-01-01 (an Arrow `Date32`).
    Day(i64),
}

impl std::fmt::Display for Cell<'_> {
    /// How an error message shows the cell: text quoted, a number as Rust prints it (`2`, `2.5`),
    /// a date as `YYYY-MM-DD`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Missing => f.write_str("a missing value"),
            Cell::Text(t) => write!(f, "{t:?}"),
            Cell::Number(v) => write!(f, "{v}"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Day(d) => f.write_str(&format_date(*d)),
        }
    }
}

const BOOL_TRUE: [&str; 5] = ["yes", "true", "y", "t", "1"];
const BOOL_FALSE: [&str; 5] = ["no", "false", "n", "f", "0"];

/// Reads a yes/no cell (any case); `None` if it is not one.
pub fn parse_bool(cell: &str) -> Option<bool> {
    let c = cell.trim().to_ascii_lowercase();
    if BOOL_TRUE.contains(&c.as_str()) {
        Some(true)
    } else if BOOL_FALSE.contains(&c.as_str()) {
        Some(false)
    } else {
        None
    }
}

fn parse_number(cell: &str) -> std::result::Result<f64, String> {
    match parse_f64(cell) {
        Some(v) if v.is_finite() => Ok(v),
        _ => Err(format!("expected a finite number, found {cell:?}")),
    }
}

/// `text` as an `f64`, exactly as `text.parse::<f64>()` reads it (`None` where that fails), with
/// a fast path for the plain decimals of data files (`-12.50`, `3`): up to 15 digits make an
/// exact integer and ten to the decimals an exact power, so one division rounds correctly, as
/// the standard parser does (Clinger's fast path). Anything else goes to the standard parser.
///
/// ```
/// use propensity::pipeline::parse_f64;
/// assert_eq!(parse_f64("343.29"), Some(343.29));
/// assert_eq!(parse_f64("-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
/// assert_eq!(parse_f64("1e3"), Some(1000.0)); // the standard parser's
/// assert_eq!(parse_f64("12,5"), None);
/// ```
pub fn parse_f64(text: &str) -> Option<f64> {
    const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let b = text.as_bytes();
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let (mut mantissa, mut count, mut point) = (0u64, 0usize, None);
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' if count < 15 => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                count += 1;
            }
            b'.' if point.is_none() && i > 0 && i + 1 < digits.len() => point = Some(i),
            _ => return text.parse().ok(),
        }
    }
    if count == 0 {
        return text.parse().ok();
    }
    let decimals = point.map_or(0, |p| digits.len() - p - 1);
    let v = mantissa as f64 / POW10[decimals];
    Some(if negative { -v } else { v })
}

/// A numeric step's input from a finite number or a missing one (`None`): the fill, then
/// `ln(1 + x)` when asked. [`FittedFeature::encode_cell`] reads numbers with it, and so does a
/// column store's fast path over a whole column of floats.
///
/// ```
/// use propensity::pipeline::numeric;
/// assert_eq!(numeric(None, Some(3.0), false), Ok(3.0));
/// assert_eq!(numeric(Some(0.0), None, true), Ok(0.0));
/// assert!(numeric(None, None, false).unwrap_err().contains("no fill"));
/// ```
#[inline]
pub fn numeric(v: Option<f64>, fill: Option<f64>, log1p: bool) -> std::result::Result<f64, String> {
    let v = match v {
        Some(v) => v,
        None => fill.ok_or_else(|| "missing value (the model has no fill for it)".to_string())?,
    };
    if !log1p {
        return Ok(v);
    }
    if v <= -1.0 {
        return Err(format!("log1p needs a number above -1, found {v}"));
    }
    Ok(v.ln_1p())
}

/// The fill value of `fill` over the present values `v` (`None` for [`Fill::Error`]).
fn fill_value(fill: Fill, v: &mut [f64]) -> std::result::Result<Option<f64>, String> {
    if v.is_empty() && !matches!(fill, Fill::Constant(_) | Fill::Error) {
        return Err("has no values in the training rows".into());
    }
    v.sort_by(f64::total_cmp);
    Ok(match fill {
        Fill::Mean => Some(v.iter().sum::<f64>() / v.len() as f64),
        Fill::Median => {
            let n = v.len();
            Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
        }
        Fill::MostFrequent => {
            let (mut best, mut best_n, mut i) = (v[0], 0, 0);
            while i < v.len() {
                let j = v[i..].iter().position(|x| *x != v[i]).map_or(v.len(), |k| i + k);
                if j - i > best_n {
                    (best, best_n) = (v[i], j - i);
                }
                i = j;
            }
            Some(best)
        }
        Fill::Constant(c) if c.is_finite() => Some(c),
        Fill::Constant(c) => return Err(format!("fill constant {c} is not a finite number")),
        Fill::Error => None,
    })
}

impl Pipeline {
    /// Learns each step's state from `rows` of `table` (the training rows: levels, fill values,
    /// reference dates and the scaler never see validation or test rows). A cell a step cannot
    /// read is an error naming file, line and column.
    pub fn fit(&self, table: &TextTable, rows: &[usize]) -> Result<FittedPipeline> {
        if self.features.is_empty() {
            return Err(Error::Config { field: "features", message: "lists no input columns".into() });
        }
        if rows.is_empty() {
            return Err(Error::Data("the pipeline is fitted on zero rows".into()));
        }
        let mut seen = std::collections::HashSet::new();
        let mut features = Vec::with_capacity(self.features.len());
        for f in &self.features {
            if !seen.insert(f.column()) {
                return Err(Error::Config {
                    field: "features",
                    message: format!("column `{}` has two steps", f.column()),
                });
            }
            let j = table.position(f.column())?;
            let at = |i: usize, m: String| table.cell_error(i, j, m);
            let fail = |m: String| Error::Format {
                file: table.source().to_path_buf(),
                message: format!("column `{}` {m}", f.column()),
            };
            // the present cells of the training rows, read by `read`
            let present = |read: &dyn Fn(&str) -> std::result::Result<f64, String>| -> Result<Vec<f64>> {
                rows.iter()
                    .filter(|&&i| !table.cell(i, j).is_empty())
                    .map(|&i| read(table.cell(i, j)).map_err(|m| at(i, m)))
                    .collect()
            };
            features.push(match f {
                Feature::Numeric { column, fill, log1p } => {
                    let mut v = present(&parse_number)?;
                    if *log1p {
                        if let Some(&i) =
                            rows.iter().find(|&&i| parse_number(table.cell(i, j)).is_ok_and(|x| x <= -1.0))
                        {
                            return Err(at(i, "log1p needs numbers above -1".into()));
                        }
                    }
                    FittedFeature::Numeric {
                        column: column.clone(),
                        fill: fill_value(*fill, &mut v).map_err(fail)?,
                        log1p: *log1p,
                    }
                }
                Feature::Categorical { column, unseen } => {
                    let levels: std::collections::BTreeSet<&str> = rows.iter().map(|&i| table.cell(i, j)).collect();
                    FittedFeature::Categorical {
                        column: column.clone(),
                        levels: levels.into_iter().map(str::to_string).collect(),
                        other: *unseen == Unseen::Other,
                    }
                }
                Feature::Boolean { column, fill } => {
                    let read = |c: &str| {
                        parse_bool(c)
                            .map(|b| f64::from(u8::from(b)))
                            .ok_or_else(|| format!("expected yes/no, true/false or 1/0, found {c:?}"))
                    };
                    let mut v = present(&read)?;
                    FittedFeature::Boolean { column: column.clone(), fill: fill_value(*fill, &mut v).map_err(fail)? }
                }
                Feature::Date { column, reference, weeks, fill } => {
                    let days = present(&|c: &str| parse_date(c).map(|d| d as f64))?;
                    let reference = match reference {
                        Some(r) => {
                            format_date(parse_date(r).map_err(|m| Error::Config { field: "reference", message: m })?)
                        }
                        None => format_date(days.iter().fold(f64::MIN, |a, &b| a.max(b)) as i64),
                    };
                    let r = parse_date(&reference).expect("formatted date") as f64;
                    let unit = if *weeks { 7.0 } else { 1.0 };
                    let mut ages: Vec<f64> = days.iter().map(|d| (r - d) / unit).collect();
                    if ages.is_empty() && !matches!(fill, Fill::Constant(_) | Fill::Error) {
                        return Err(fail("has no dates in the training rows".into()));
                    }
                    FittedFeature::Date {
                        column: column.clone(),
                        reference,
                        weeks: *weeks,
                        fill: fill_value(*fill, &mut ages).map_err(fail)?,
                    }
                }
            });
        }
        let mut fitted = FittedPipeline { features, scaler: None };
        if self.standardize {
            let x = fitted.encode_rows(table, rows)?;
            fitted.scaler = Some(StandardScaler::fit(&x)?);
        }
        Ok(fitted)
    }
}

impl FittedFeature {
    /// The column the step reads.
    pub fn column(&self) -> &str {
        match self {
            FittedFeature::Numeric { column, .. }
            | FittedFeature::Categorical { column, .. }
            | FittedFeature::Boolean { column, .. }
            | FittedFeature::Date { column, .. } => column,
        }
    }

    /// Input columns the step produces.
    pub fn width(&self) -> usize {
        match self {
            FittedFeature::Categorical { levels, other, .. } => levels.len() + usize::from(*other),
            _ => 1,
        }
    }

    /// Names of its input columns (`plan=gold` for a level, `plan=(missing)` for the empty one).
    pub fn names(&self) -> Vec<String> {
        match self {
            FittedFeature::Categorical { column, levels, other } => levels
                .iter()
                .map(|l| format!("{column}={}", if l.is_empty() { "(missing)" } else { l }))
                .chain(other.then(|| format!("{column}=(other)")))
                .collect(),
            _ => vec![self.column().to_string()],
        }
    }

    /// Encodes one text cell (a CSV field, trimmed; empty is missing), appending
    /// [`width`](Self::width) values to `out`; on error nothing is appended and the message says
    /// what was expected.
    pub fn encode(&self, cell: &str, out: &mut Vec<f64>) -> std::result::Result<(), String> {
        self.encode_cell(if cell.is_empty() { Cell::Missing } else { Cell::Text(cell) }, out)
    }

    /// Encodes one typed cell — what a column store (Arrow, Parquet) holds — appending
    /// [`width`](Self::width) values to `out`. Text is read as in a CSV; a number is read by a
    /// numeric step, by a category (its level is the number's decimal text) and by a yes/no (0 or
    /// 1), and refused by a date step; a date is a day count. On error nothing is appended.
    ///
    /// ```
    /// use propensity::pipeline::{Cell, FittedFeature};
    /// let plan = FittedFeature::Categorical { column: "plan".into(), levels: vec!["1".into(), "2".into()], other: false };
    /// let (mut a, mut b) = (vec![], vec![]);
    /// plan.encode_cell(Cell::Number(2.0), &mut a).unwrap();
    /// plan.encode_cell(Cell::Text("2"), &mut b).unwrap();
    /// assert_eq!((a.clone(), a), (vec![0.0, 1.0], b));
    /// ```
    pub fn encode_cell(&self, cell: Cell<'_>, out: &mut Vec<f64>) -> std::result::Result<(), String> {
        let missing =
            |fill: &Option<f64>| fill.ok_or_else(|| "missing value (the model has no fill for it)".to_string());
        match self {
            FittedFeature::Numeric { fill, log1p, .. } => {
                let v = match cell {
                    Cell::Missing => None,
                    Cell::Text(t) => Some(parse_number(t)?),
                    Cell::Number(v) if v.is_finite() => Some(v),
                    Cell::Bool(b) => Some(f64::from(u8::from(b))),
                    other => return Err(format!("expected a finite number, found {other}")),
                };
                out.push(numeric(v, *fill, *log1p)?);
            }
            FittedFeature::Categorical { levels, other, .. } => {
                let text;
                let level = match cell {
                    Cell::Missing => "",
                    Cell::Text(t) => t,
                    other => {
                        text = other.to_string();
                        &text
                    }
                };
                let hit = levels.binary_search_by(|l| l.as_str().cmp(level)).ok();
                if hit.is_none() && !other {
                    return Err(format!("unseen category {level:?}; known levels are {levels:?}"));
                }
                out.extend((0..levels.len()).map(|i| if Some(i) == hit { 1.0 } else { 0.0 }));
                if *other {
                    out.push(if hit.is_none() { 1.0 } else { 0.0 });
                }
            }
            FittedFeature::Boolean { fill, .. } => out.push(match cell {
                Cell::Missing => missing(fill)?,
                Cell::Bool(b) => f64::from(u8::from(b)),
                Cell::Number(v) if v == 0.0 || v == 1.0 => v,
                Cell::Text(t) => f64::from(u8::from(
                    parse_bool(t).ok_or_else(|| format!("expected yes/no, true/false or 1/0, found {t:?}"))?,
                )),
                other => return Err(format!("expected yes/no, true/false or 1/0, found {other}")),
            }),
            FittedFeature::Date { reference, weeks, fill, .. } => {
                let day = match cell {
                    Cell::Missing => None,
                    Cell::Text(t) => Some(parse_date(t)?),
                    Cell::Day(d) => Some(d),
                    other => return Err(format!("expected a date YYYY-MM-DD, found {other}")),
                };
                out.push(match day {
                    None => missing(fill)?,
                    Some(d) => (parse_date(reference)? - d) as f64 / if *weeks { 7.0 } else { 1.0 },
                });
            }
        }
        Ok(())
    }

    /// Checks state a user may have edited: levels sorted and distinct, finite fills, a valid
    /// reference date.
    fn check(&self) -> std::result::Result<(), String> {
        let col = self.column();
        let finite = |f: &Option<f64>| match f {
            Some(v) if !v.is_finite() => Err(format!("the fill of `{col}` is not a finite number")),
            _ => Ok(()),
        };
        match self {
            FittedFeature::Numeric { fill, .. } | FittedFeature::Boolean { fill, .. } => finite(fill),
            FittedFeature::Categorical { levels, other, .. } => {
                if levels.is_empty() && !other {
                    return Err(format!("`{col}` has no levels"));
                }
                if levels.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(format!("the levels of `{col}` must be sorted and distinct, found {levels:?}"));
                }
                Ok(())
            }
            FittedFeature::Date { reference, fill, .. } => {
                parse_date(reference).map_err(|m| format!("the reference date of `{col}`: {m}"))?;
                finite(fill)
            }
        }
    }
}

impl FittedPipeline {
    /// Numeric columns read as they are (an empty cell is an error), then `scaler` — the
    /// shape of a model-ready feature file. Set a step's `fill` or `log1p` afterwards.
    ///
    /// ```
    /// use propensity::pipeline::FittedPipeline;
    /// let p = FittedPipeline::numeric(["visits", "spend"], None);
    /// assert_eq!(p.feature_names(), ["visits", "spend"]);
    /// ```
    pub fn numeric<S: AsRef<str>>(
        columns: impl IntoIterator<Item = S>,
        scaler: Option<FittedScaler>,
    ) -> FittedPipeline {
        let features = columns
            .into_iter()
            .map(|c| FittedFeature::Numeric { column: c.as_ref().trim().to_string(), fill: None, log1p: false })
            .collect();
        FittedPipeline { features, scaler }
    }

    /// Model inputs per row.
    pub fn width(&self) -> usize {
        self.features.iter().map(FittedFeature::width).sum()
    }

    /// Input column names, model order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.iter().flat_map(FittedFeature::names).collect()
    }

    /// Each step's column with its input columns (a categorical's levels form one group), for
    /// permutation importance.
    pub fn feature_groups(&self) -> Vec<(String, Vec<usize>)> {
        let mut k = 0;
        self.features
            .iter()
            .map(|f| {
                let g = (f.column().to_string(), (k..k + f.width()).collect());
                k += f.width();
                g
            })
            .collect()
    }

    /// The consistency checks for a loaded model: every step's state is valid and the scaler has
    /// one finite mean and positive scale per input. Returns the width.
    pub fn check(&self) -> std::result::Result<usize, String> {
        if self.features.is_empty() {
            return Err("the pipeline has no steps".into());
        }
        for f in &self.features {
            f.check()?;
        }
        let n = self.width();
        if let Some(s) = &self.scaler {
            if s.mean.len() != n || s.scale.len() != n {
                return Err(format!(
                    "the scaler has {} means and {} scales for the pipeline's {n} inputs",
                    s.mean.len(),
                    s.scale.len()
                ));
            }
            if let Some(j) = s.mean.iter().position(|m| !m.is_finite()) {
                return Err(format!("scaler mean {j} is not a finite number"));
            }
            if let Some(j) = s.scale.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(format!("scaler scale {j} is not a positive number"));
            }
        }
        Ok(n)
    }

    /// Where each step's column is among the input's columns (a CSV header, an Arrow schema); an
    /// error names the missing ones.
    pub fn positions(&self, header: &[String]) -> std::result::Result<Vec<usize>, String> {
        let mut missing = vec![];
        let pos: Vec<usize> = self
            .features
            .iter()
            .filter_map(|f| {
                let p = header.iter().position(|h| h.trim() == f.column());
                if p.is_none() {
                    missing.push(f.column().to_string());
                }
                p
            })
            .collect();
        if missing.is_empty() {
            Ok(pos)
        } else {
            Err(format!("the model needs columns {missing:?}, which are not among the input's columns {header:?}"))
        }
    }

    /// Encodes one row (`cell(p)` is the trimmed text at file position `p`, `positions` from
    /// [`positions`](Self::positions)) into `out`, scaled. On error nothing is appended and the
    /// message names the column.
    pub fn encode_row<'a>(
        &self,
        positions: &[usize],
        cell: impl Fn(usize) -> &'a str,
        out: &mut Vec<f64>,
    ) -> std::result::Result<(), String> {
        let start = out.len();
        for (f, &p) in self.features.iter().zip(positions) {
            if let Err(m) = f.encode(cell(p), out) {
                out.truncate(start);
                return Err(format!("column `{}`: {m}", f.column()));
            }
        }
        if let Some(s) = &self.scaler {
            for (v, (m, sd)) in out[start..].iter_mut().zip(s.mean.iter().zip(&s.scale)) {
                *v = (*v - m) / sd;
            }
        }
        Ok(())
    }

    /// Encodes `rows` of `table` (unscaled) — what the scaler is fitted on.
    fn encode_rows(&self, table: &TextTable, rows: &[usize]) -> Result<Array2<f64>> {
        let unscaled = FittedPipeline { features: self.features.clone(), scaler: None };
        unscaled.encode_table_rows(table, rows)
    }

    /// Rows `rows` of `table` as model inputs, in that order.
    pub fn transform_rows(&self, table: &TextTable, rows: &[usize]) -> Result<Array2<f64>> {
        self.encode_table_rows(table, rows)
    }

    fn encode_table_rows(&self, table: &TextTable, rows: &[usize]) -> Result<Array2<f64>> {
        let positions = self
            .positions(table.names())
            .map_err(|message| Error::Format { file: table.source().to_path_buf(), message })?;
        let mut out = Vec::with_capacity(rows.len() * self.width());
        for &i in rows {
            let mut one = Vec::with_capacity(self.width());
            self.features
                .iter()
                .zip(&positions)
                .try_for_each(|(f, &p)| f.encode(table.cell(i, p), &mut one).map_err(|m| table.cell_error(i, p, m)))?;
            if let Some(s) = &self.scaler {
                for (v, (m, sd)) in one.iter_mut().zip(s.mean.iter().zip(&s.scale)) {
                    *v = (*v - m) / sd;
                }
            }
            out.extend(one);
        }
        Ok(Array2::from_shape_vec((rows.len(), self.width()), out).expect("rows × width"))
    }

    /// Every row of `table` as model inputs. A cell the pipeline cannot read is an error naming
    /// file, line and column.
    pub fn transform(&self, table: &TextTable) -> Result<Array2<f64>> {
        self.encode_table_rows(table, &(0..table.rows()).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_f64_reads_exactly_what_the_standard_parser_reads() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let alphabet = b"0123456789012345678901234567890123456789.-+eE ,x";
        let mut fast = 0;
        for _ in 0..300_000 {
            let len = rng.gen_range(0..20);
            let text: String = (0..len).map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char).collect();
            let (whole, decimals) = (10u64.pow(rng.gen_range(1..10)), 10u64.pow(rng.gen_range(1..9)));
            let sign = ["", "-"][rng.gen_range(0..2)];
            let plain = format!("{sign}{}.{}", rng.gen_range(0..whole), rng.gen_range(0..decimals));
            for t in [text.as_str(), plain.as_str(), &plain[..rng.gen_range(0..plain.len() + 1)]] {
                let want = t.parse::<f64>().ok().map(f64::to_bits);
                assert_eq!(parse_f64(t).map(f64::to_bits), want, "{t:?}");
                fast += usize::from(want.is_some());
            }
        }
        for t in [
            "0.1",
            "0.3",
            "9007199254740993",
            "123456789012345",
            "1234567890123456",
            "-0.0",
            ".5",
            "5.",
            "-",
            "--1",
            "1..2",
            "0.000000000000001",
            "999999999999999.9",
        ] {
            assert_eq!(parse_f64(t).map(f64::to_bits), t.parse::<f64>().ok().map(f64::to_bits), "{t:?}");
        }
        assert!(fast > 300_000, "{fast} numbers");
    }

    fn table(text: &str) -> (tempfile::TempDir, TextTable) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, text).unwrap();
        let t = TextTable::read_csv(&p).unwrap();
        (dir, t)
    }

    #[test]
    fn fills_follow_their_definitions() {
        let mut v = vec![3.0, 1.0, 1.0, 10.0];
        assert_eq!(fill_value(Fill::Mean, &mut v), Ok(Some(3.75)));
        assert_eq!(fill_value(Fill::Median, &mut v), Ok(Some(2.0)));
        assert_eq!(fill_value(Fill::MostFrequent, &mut v), Ok(Some(1.0)));
        assert_eq!(fill_value(Fill::Constant(-1.0), &mut v), Ok(Some(-1.0)));
        assert_eq!(fill_value(Fill::Error, &mut v), Ok(None));
        assert!(fill_value(Fill::Mean, &mut []).is_err());
    }

    #[test]
    fn table_and_row_encoders_agree_and_fit_sees_only_training_rows() {
        let (_d, t) = table("x,c\n1,a\n2,b\n3,a\n100,z\n");
        let p = Pipeline {
            features: vec![
                Feature::Numeric { column: "x".into(), fill: Fill::Mean, log1p: true },
                Feature::Categorical { column: "c".into(), unseen: Unseen::Other },
            ],
            standardize: true,
        };
        let f = p.fit(&t, &[0, 1, 2]).unwrap();
        assert_eq!(f.feature_names(), ["x", "c=a", "c=b", "c=(other)"]);
        let x = f.transform(&t).unwrap();
        let pos = f.positions(t.names()).unwrap();
        for i in 0..t.rows() {
            let mut row = vec![];
            f.encode_row(&pos, |p| t.cell(i, p), &mut row).unwrap();
            assert_eq!(row, x.row(i).to_vec());
        }
        // "z" was not in the training rows: it lands in (other), whose training column is constant 0
        let s = f.scaler.as_ref().unwrap();
        assert_eq!((s.mean[3], s.scale[3]), (0.0, 1.0));
        assert_eq!(x[[3, 3]], 1.0);
        assert_eq!(f.feature_groups(), [("x".to_string(), vec![0]), ("c".to_string(), vec![1, 2, 3])]);
    }

    #[test]
    fn bad_cells_name_line_and_column() {
        let (_d, t) = table("x,b\n1,yes\n2,maybe\n");
        let p =
            Pipeline { features: vec![Feature::Boolean { column: "b".into(), fill: Fill::Error }], standardize: false };
        let e = p.fit(&t, &[0, 1]).unwrap_err().to_string();
        assert!(e.contains("line 3, column `b`") && e.contains("maybe"), "{e}");
        let (_d, t) = table("x,c\n1,a\n,b\n");
        let p = Pipeline {
            features: vec![Feature::Numeric { column: "x".into(), fill: Fill::Error, log1p: false }],
            standardize: false,
        };
        let f = p.fit(&t, &[0, 1]).unwrap();
        let e = f.transform(&t).unwrap_err().to_string();
        assert!(e.contains("line 3, column `x`: missing value"), "{e}");
        let strict = Pipeline {
            features: vec![Feature::Categorical { column: "c".into(), unseen: Unseen::Error }],
            standardize: false,
        };
        let f = strict.fit(&t, &[0]).unwrap();
        let e = f.transform(&t).unwrap_err().to_string();
        assert!(e.contains("unseen category \"b\""), "{e}");
        assert!(p.fit(&t, &[]).is_err());
        let twice = Pipeline {
            features: vec![Feature::Categorical { column: "c".into(), unseen: Unseen::Error }; 2],
            standardize: false,
        };
        assert!(twice.fit(&t, &[0, 1]).unwrap_err().to_string().contains("two steps"));
    }

    #[test]
    fn check_refuses_edited_state() {
        let f = FittedPipeline {
            features: vec![FittedFeature::Categorical {
                column: "c".into(),
                levels: vec!["b".into(), "a".into()],
                other: false,
            }],
            scaler: None,
        };
        assert!(f.check().unwrap_err().contains("sorted"));
        let f = FittedPipeline {
            features: vec![FittedFeature::Date {
                column: "d".into(),
                reference: "2024-13-01".into(),
                weeks: false,
                fill: None,
            }],
            scaler: None,
        };
        assert!(f.check().unwrap_err().contains("reference date"));
        let f = FittedPipeline {
            features: vec![FittedFeature::Numeric { column: "x".into(), fill: Some(1.0), log1p: false }],
            scaler: Some(FittedScaler { mean: vec![0.0, 0.0], scale: vec![1.0, 1.0] }),
        };
        assert!(f.check().unwrap_err().contains("2 means"));
    }
}
