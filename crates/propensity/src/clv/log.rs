//! A transaction log (one row per purchase), read from a CSV and summed per customer and day,
//! and its calibration/holdout summary on a [`Period`] grid.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::customers::{CustomerSummary, HoldoutPurchases};
use super::period::Period;
use crate::calendar::{format_date, parse_date};
use crate::table::TextTable;
use crate::{Error, Result};

/// Which columns of the log hold what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogColumns {
    /// The customer id (any non-empty text).
    pub customer: String,
    /// The purchase date.
    pub date: String,
    /// The amount of the purchase (a number ≥ 0); without it only the repeat-purchase model is
    /// fitted.
    pub amount: Option<String>,
    /// The date's format in strftime notation (`%d/%m/%Y`, `%m/%d/%y %H:%M`, …: chrono's
    /// `NaiveDate::parse_from_str`); without it `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`,
    /// optionally followed by a time.
    #[serde(default)]
    pub date_format: Option<String>,
}

impl LogColumns {
    /// A customer and a date column, no amount, dates in the default formats.
    pub fn new(customer: &str, date: &str) -> LogColumns {
        LogColumns { customer: customer.into(), date: date.into(), amount: None, date_format: None }
    }
}

/// All purchases of one customer on one day, summed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogDay {
    /// Index into [`TransactionLog::ids`].
    pub customer: u32,
    /// Days since 1970-01-01.
    pub day: i64,
    /// Lines of the log on that day.
    pub lines: u32,
    /// Their amounts, summed (0 without an amount column).
    pub amount: f64,
}

/// A transaction log summed to one row per customer and day.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionLog {
    /// Customer ids, sorted; a [`LogDay::customer`] indexes this list.
    pub ids: Vec<String>,
    /// Purchases per customer and day, sorted by customer then day.
    pub days: Vec<LogDay>,
    /// Lines read.
    pub lines: usize,
    /// Whether the log has amounts.
    pub has_amount: bool,
    /// The first and last purchase day.
    pub span: (i64, i64),
    /// The file's name, for reports.
    pub source: String,
}

/// Parses a date with a strftime format (chrono's notation), as days since 1970-01-01.
///
/// ```
/// use propensity::clv::parse_date_with;
/// assert_eq!(parse_date_with("02/01/1970", "%d/%m/%Y"), Ok(1));
/// assert_eq!(parse_date_with("1/2/70 10:15", "%m/%d/%y %H:%M"), Ok(1));
/// assert!(parse_date_with("31/02/1970", "%d/%m/%Y").unwrap_err().contains("expected a date like %d/%m/%Y"));
/// ```
pub fn parse_date_with(text: &str, format: &str) -> std::result::Result<i64, String> {
    let date = chrono::NaiveDate::parse_from_str(text.trim(), format)
        .map_err(|e| format!("expected a date like {format}, found {text:?} ({e})"))?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    Ok(date.signed_duration_since(epoch).num_days())
}

impl TransactionLog {
    /// Reads a log. An empty customer id, a date that does not parse or an amount that is not a
    /// number ≥ 0 is an error naming the file, line and column.
    pub fn read_csv(path: impl AsRef<Path>, columns: &LogColumns) -> Result<TransactionLog> {
        let path = path.as_ref();
        let table = TextTable::read_csv(path)?;
        let (c, d) = (table.position(&columns.customer)?, table.position(&columns.date)?);
        let a = columns.amount.as_deref().map(|n| table.position(n)).transpose()?;
        let date = |text: &str| match &columns.date_format {
            Some(f) => parse_date_with(text, f),
            None => parse_date(text),
        };
        let mut names: BTreeMap<&str, u32> = BTreeMap::new();
        let mut rows = Vec::with_capacity(table.rows());
        for i in 0..table.rows() {
            let id = table.cell(i, c);
            if id.is_empty() {
                return Err(table.cell_error(i, c, "empty customer id"));
            }
            let day = date(table.cell(i, d)).map_err(|m| table.cell_error(i, d, m))?;
            let amount = match a {
                Some(j) => {
                    let cell = table.cell(i, j);
                    match cell.parse::<f64>() {
                        Ok(v) if v.is_finite() && v >= 0.0 => v,
                        _ => return Err(table.cell_error(i, j, format!("expected an amount ≥ 0, found {cell:?}"))),
                    }
                }
                None => 0.0,
            };
            names.insert(id, 0);
            rows.push((id, day, amount));
        }
        for (k, v) in names.values_mut().enumerate() {
            *v = u32::try_from(k).map_err(|_| Error::Data("more than 4 billion customers".into()))?;
        }
        let mut summed: BTreeMap<(u32, i64), (u32, f64)> = BTreeMap::new();
        for (id, day, amount) in &rows {
            let e = summed.entry((names[id], *day)).or_insert((0, 0.0));
            e.0 += 1;
            e.1 += amount;
        }
        let days: Vec<LogDay> = summed
            .into_iter()
            .map(|((customer, day), (lines, amount))| LogDay { customer, day, lines, amount })
            .collect();
        let span = days.iter().fold((i64::MAX, i64::MIN), |(lo, hi), d| (lo.min(d.day), hi.max(d.day)));
        Ok(TransactionLog {
            ids: names.into_keys().map(String::from).collect(),
            days,
            lines: rows.len(),
            has_amount: a.is_some(),
            span,
            source: path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned()),
        })
    }

    /// The calibration summary up to `calibration_end` (inclusive, days since 1970-01-01) and,
    /// with a `holdout_end`, the holdout purchases after it, as lifetimes'
    /// `calibration_and_holdout_data` computes them: purchases are split by date first, then
    /// each side's purchases in one `period` count once (amounts summed). Per customer with a
    /// calibration purchase: frequency = calibration periods with a purchase − 1, recency = last −
    /// first of them, T = the calibration end's period − the first, in weeks; mean amount of the
    /// repeat periods; holdout periods with a purchase and their amount.
    ///
    /// Errors: a calibration end before the first purchase (the calibration period is empty) or,
    /// with a holdout, on or after the last (the holdout is empty); a holdout end not after the
    /// calibration end.
    pub fn summarise(&self, period: Period, calibration_end: i64, holdout_end: Option<i64>) -> Result<CustomerSummary> {
        let (first, last) = self.span;
        let bad = |message: String| Error::Config { field: "calibration_end", message };
        let cal_text = format_date(calibration_end);
        if calibration_end < first {
            return Err(bad(format!(
                "{cal_text} is before the log's first purchase ({}): the calibration period is empty",
                format_date(first)
            )));
        }
        if let Some(h) = holdout_end {
            if h <= calibration_end {
                return Err(Error::Config {
                    field: "holdout_end",
                    message: format!("{} is not after the calibration end {cal_text}", format_date(h)),
                });
            }
            if calibration_end >= last {
                return Err(bad(format!(
                    "{cal_text} leaves no purchases for the holdout: the log ends {}",
                    format_date(last)
                )));
            }
        }
        let end = period.index(calibration_end);
        let hold_end = holdout_end.unwrap_or(calibration_end);
        let mut s = CustomerSummary {
            source: self.source.clone(),
            period,
            calibration_end: Some(cal_text),
            log_start: Some(first),
            ids: Vec::new(),
            frequency: Vec::new(),
            recency: Vec::new(),
            t: Vec::new(),
            monetary: self.has_amount.then(Vec::new),
            weights: None,
            holdout: holdout_end.map(|h| HoldoutPurchases {
                end: format_date(h),
                weeks: period.weeks(period.index(h) - end),
                purchases: Vec::new(),
                amount: self.has_amount.then(Vec::new),
            }),
            new_in_holdout: 0,
        };
        for days in self.days.chunk_by(|a, b| a.customer == b.customer) {
            let (cal, rest): (Vec<&LogDay>, Vec<&LogDay>) = days.iter().partition(|d| d.day <= calibration_end);
            let holdout: Vec<&LogDay> = rest.into_iter().filter(|d| d.day <= hold_end).collect();
            let Some(first_day) = cal.first() else {
                s.new_in_holdout += usize::from(!holdout.is_empty());
                continue;
            };
            let periods = per_period(&cal, period);
            let (p0, p1) = (period.index(first_day.day), periods.last().map_or(0, |p| p.0));
            s.ids.push(self.ids[first_day.customer as usize].clone());
            s.frequency.push((periods.len() - 1) as f64);
            s.recency.push(period.weeks(p1 - p0));
            s.t.push(period.weeks(end - p0));
            if let Some(m) = &mut s.monetary {
                let repeats = &periods[1..];
                m.push(if repeats.is_empty() {
                    0.0
                } else {
                    repeats.iter().map(|p| p.1).sum::<f64>() / repeats.len() as f64
                });
            }
            if let Some(h) = &mut s.holdout {
                let periods = per_period(&holdout, period);
                h.purchases.push(periods.len() as f64);
                if let Some(a) = &mut h.amount {
                    a.push(holdout.iter().map(|d| d.amount).sum());
                }
            }
        }
        Ok(s)
    }

    /// Days since 1970-01-01 of a `YYYY-MM-DD` setting, for [`TransactionLog::summarise`].
    pub fn day(field: &'static str, text: &str) -> Result<i64> {
        parse_date(text).map_err(|message| Error::Config { field, message })
    }

    /// The days of customer `k` (an index into [`TransactionLog::ids`]), in order.
    pub fn days_of(&self, k: u32) -> impl Iterator<Item = &LogDay> {
        let from = self.days.partition_point(|d| d.customer < k);
        self.days[from..].iter().take_while(move |d| d.customer == k)
    }

    /// The customers' purchase periods in `period` up to `end` (inclusive): for each customer
    /// index with a purchase, the sorted distinct periods.
    pub(crate) fn periods(&self, period: Period, end: i64) -> BTreeMap<u32, Vec<i64>> {
        let mut out: BTreeMap<u32, BTreeSet<i64>> = BTreeMap::new();
        for d in self.days.iter().filter(|d| d.day <= end) {
            out.entry(d.customer).or_default().insert(period.index(d.day));
        }
        out.into_iter().map(|(c, p)| (c, p.into_iter().collect())).collect()
    }
}

/// Days (sorted) merged per period: (period, summed amount).
fn per_period(days: &[&LogDay], period: Period) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = Vec::new();
    for d in days {
        let p = period.index(d.day);
        match out.last_mut() {
            Some(last) if last.0 == p => last.1 += d.amount,
            _ => out.push((p, d.amount)),
        }
    }
    out
}
