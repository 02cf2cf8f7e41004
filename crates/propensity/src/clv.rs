//! Customer lifetime value on any transaction log: one row per purchase with a customer id, a
//! date and optionally an amount, in a CSV (plain or gzip) with a header row. The log is summed
//! to one row per customer and day, split at a calibration end date, summarised as lifetimes'
//! `summary_data_from_transaction_data` does (frequency = distinct purchase days − 1, recency and
//! T in weeks from the first purchase day, monetary value = mean of the repeat days' amounts),
//! and BG/NBD (and, with amounts, Gamma-Gamma) are fitted by maximum likelihood on the
//! calibration period. Per customer: P(alive), expected purchases, P(at least one) and, with
//! amounts, the expected spend per purchase and the discounted CLV with lifetimes'
//! `customer_lifetime_value` semantics. With a holdout end date, the holdout purchases are
//! compared with the model's expectation.
//!
//! ```
//! use propensity::clv::{ClvConfig, LogColumns, TransactionLog};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("orders.csv");
//! let mut text = String::from("customer,date,amount\n");
//! for c in 0..60 {
//!     for k in 0..(c % 4) + 1 {
//!         text += &format!("c{c},2024-{:02}-{:02},{}\n", 1 + (c * 3 + k * 5) % 6, 1 + (c + 7 * k) % 28, 10 + c % 7);
//!     }
//! }
//! std::fs::write(&path, text).unwrap();
//! let cols = LogColumns { customer: "customer".into(), date: "date".into(), amount: Some("amount".into()) };
//! let log = TransactionLog::read_csv(&path, &cols).unwrap();
//! let cfg = ClvConfig { calibration_end: "2024-06-30".into(), ..ClvConfig::default() };
//! let clv = propensity::clv::fit(&log, &cfg).unwrap();
//! assert_eq!(clv.ids.len(), 60);
//! assert!(clv.clv.as_ref().unwrap().iter().all(|v| *v >= 0.0));
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::btyd::{Fit, Fitted, GammaGamma, RepeatModel, Summary};
use crate::calendar::{format_date, parse_date};
use crate::cdnow::{CustomerDay, Customers, Protocol};
use crate::display::{Html, HtmlTable};
use crate::table::TextTable;
use crate::{Error, Result};

/// Weeks per month in lifetimes' `customer_lifetime_value` (its `freq="W"` factor).
pub const WEEKS_PER_MONTH: f64 = 4.345;

/// Which columns of the log hold what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogColumns {
    /// The customer id (any non-empty text).
    pub customer: String,
    /// The purchase date (`YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`, optionally with a time).
    pub date: String,
    /// The amount of the purchase (a number ≥ 0); without it only BG/NBD is fitted.
    pub amount: Option<String>,
}

/// The protocol and the CLV settings. Defaults: lifetimes' `customer_lifetime_value` (12 months,
/// 1 % a month).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClvConfig {
    /// Last calibration day (inclusive), `YYYY-MM-DD`: the models see only purchases up to it.
    pub calibration_end: String,
    /// Last holdout day (inclusive): purchases after the calibration end up to it are compared
    /// with the model's expectation.
    #[serde(default)]
    pub holdout_end: Option<String>,
    /// CLV horizon in months (of [`WEEKS_PER_MONTH`] weeks).
    #[serde(default = "twelve")]
    pub months: usize,
    /// Discount rate per month.
    #[serde(default = "one_percent")]
    pub discount_rate: f64,
    /// The repeat-purchase model behind the predictions.
    #[serde(default)]
    pub model: RepeatModel,
}

fn twelve() -> usize {
    12
}

fn one_percent() -> f64 {
    0.01
}

impl Default for ClvConfig {
    fn default() -> Self {
        ClvConfig {
            calibration_end: String::new(),
            holdout_end: None,
            months: twelve(),
            discount_rate: one_percent(),
            model: RepeatModel::default(),
        }
    }
}

impl ClvConfig {
    /// Checks the settings: valid dates, a holdout end after the calibration end, a horizon of
    /// at least one month and a discount rate in [0, 1).
    pub fn check(&self) -> Result<(i64, Option<i64>)> {
        let bad = |field: &'static str, message: String| Error::Config { field, message };
        let cal = parse_date(&self.calibration_end).map_err(|m| bad("calibration_end", m))?;
        let hold = match &self.holdout_end {
            Some(h) => {
                let d = parse_date(h).map_err(|m| bad("holdout_end", m))?;
                if d <= cal {
                    return Err(bad(
                        "holdout_end",
                        format!("{h} is not after the calibration end {}", self.calibration_end),
                    ));
                }
                Some(d)
            }
            None => None,
        };
        if self.months == 0 {
            return Err(bad("months", "the CLV horizon needs at least one month".into()));
        }
        if !(0.0..1.0).contains(&self.discount_rate) {
            return Err(bad("discount_rate", format!("must be in [0, 1), found {}", self.discount_rate)));
        }
        Ok((cal, hold))
    }
}

/// A transaction log summed to one row per customer and day.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionLog {
    /// Customer ids, sorted; a [`CustomerDay::customer`] indexes this list.
    pub ids: Vec<String>,
    /// Purchases per customer and day (`cds` counts the log's lines, `dollars` sums the
    /// amounts), sorted by customer then day.
    pub days: Vec<CustomerDay>,
    /// Lines read.
    pub lines: usize,
    /// Whether the log has amounts.
    pub has_amount: bool,
    /// The first and last purchase day.
    pub span: (i64, i64),
    /// The file's name, for reports.
    pub source: String,
}

impl TransactionLog {
    /// Reads a log. An empty customer id, a date that does not parse or an amount that is not a
    /// number ≥ 0 is an error naming the file, line and column.
    pub fn read_csv(path: impl AsRef<Path>, columns: &LogColumns) -> Result<TransactionLog> {
        let path = path.as_ref();
        let table = TextTable::read_csv(path)?;
        let (c, d) = (table.position(&columns.customer)?, table.position(&columns.date)?);
        let a = columns.amount.as_deref().map(|n| table.position(n)).transpose()?;
        let mut names: BTreeMap<&str, u32> = BTreeMap::new();
        let mut rows = Vec::with_capacity(table.rows());
        for i in 0..table.rows() {
            let id = table.cell(i, c);
            if id.is_empty() {
                return Err(table.cell_error(i, c, "empty customer id"));
            }
            let day = parse_date(table.cell(i, d)).map_err(|m| table.cell_error(i, d, m))?;
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
        if rows.is_empty() {
            return Err(Error::Format { file: path.to_path_buf(), message: "no purchases".into() });
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
        let days: Vec<CustomerDay> = summed
            .into_iter()
            .map(|((customer, day), (cds, dollars))| CustomerDay { customer, day, cds, dollars })
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
}

/// The fitted models and every customer's predictions.
#[derive(Debug, Clone)]
pub struct Clv {
    /// The settings.
    pub config: ClvConfig,
    /// The log's file name.
    pub source: String,
    /// Customer ids with a calibration purchase, in table order.
    pub ids: Vec<String>,
    /// Their calibration summary and holdout purchases (`n_holdout`, `spend_holdout`).
    pub customers: Customers,
    /// Customers whose first purchase falls after the calibration end (not scored).
    pub new_in_holdout: usize,
    /// The calibration summary the models were fitted on.
    pub summary: Summary,
    /// The repeat-purchase model's fit ([`ClvConfig::model`]).
    pub model: Fitted,
    /// The Gamma-Gamma fit on the repeaters with a positive mean spend (with amounts), with their
    /// count.
    pub gamma_gamma: Option<(Fit<GammaGamma>, usize)>,
    /// Correlation of repeat days and mean amount across those repeaters (with amounts):
    /// [`GammaGamma::independence`].
    pub spend_correlation: Option<f64>,
    /// P(alive) at the calibration end.
    pub p_alive: Vec<f64>,
    /// Expected purchase days over the CLV horizon.
    pub expected_purchases: Vec<f64>,
    /// P(at least one purchase over the CLV horizon).
    pub p_any: Vec<f64>,
    /// Expected purchase days over the holdout (with a holdout).
    pub expected_holdout: Option<Vec<f64>>,
    /// Expected spend per purchase day (with amounts).
    pub expected_value: Option<Vec<f64>>,
    /// Discounted CLV over the horizon (with amounts).
    pub clv: Option<Vec<f64>>,
}

/// Fits the repeat-purchase model (BG/NBD unless [`ClvConfig::model`] names another) and, with
/// amounts, Gamma-Gamma on the calibration period of `log`, and predicts every calibration
/// customer. Errors: a calibration end before the first purchase (or, with a holdout, at or after
/// the last), no repeat buyer (no model is identified), no repeater with a positive amount
/// (Gamma-Gamma), a fit that does not converge. A calibration end after the last purchase without
/// a holdout is "as of that day".
pub fn fit(log: &TransactionLog, config: &ClvConfig) -> Result<Clv> {
    let (cal, hold) = config.check()?;
    let (first, last) = log.span;
    let bad = |message: String| Error::Config { field: "calibration_end", message };
    if cal < first {
        return Err(bad(format!(
            "{} is before the log's first purchase ({}): the calibration period is empty",
            config.calibration_end,
            format_date(first)
        )));
    }
    if hold.is_some() && cal >= last {
        return Err(bad(format!(
            "{} leaves no purchases for the holdout: the log ends {}",
            config.calibration_end,
            format_date(last)
        )));
    }
    let protocol = Protocol { start: first, calibration_end: cal, holdout_end: hold.unwrap_or(cal) };
    let customers = Customers::build(&log.days, &protocol)?;
    let calibration: std::collections::BTreeSet<u32> = customers.rows.iter().map(|c| c.id).collect();
    let new_in_holdout = log
        .days
        .iter()
        .filter(|d| d.day <= protocol.holdout_end && !calibration.contains(&d.customer))
        .map(|d| d.customer)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let (x, tx, t) = (customers.column(|c| c.frequency), customers.column(|c| c.recency), customers.column(|c| c.t));
    if x.iter().all(|&v| v == 0.0) {
        return Err(Error::Data(format!(
            "no customer bought on two days up to {}: no repeat-purchase model can be fitted without repeat buyers",
            config.calibration_end
        )));
    }
    let summary = Summary::new(&x, &tx, &t)?;
    let b = config.model.fit(&summary)?;
    let n = x.len();
    let horizon = config.months as f64 * WEEKS_PER_MONTH;
    let expected_purchases: Vec<f64> = (0..n).map(|i| b.expected_transactions(horizon, x[i], tx[i], t[i])).collect();
    let expected_holdout = hold.map(|_| {
        let h = protocol.holdout_weeks();
        (0..n).map(|i| b.expected_transactions(h, x[i], tx[i], t[i])).collect()
    });
    let mut spend_correlation = None;
    let (gamma_gamma, expected_value, clv) = if log.has_amount {
        let m = customers.column(|c| c.monetary);
        let rep: Vec<usize> = (0..n).filter(|&i| x[i] > 0.0 && m[i] > 0.0).collect();
        if rep.is_empty() {
            return Err(Error::Data("no repeat buyer has a positive amount: Gamma-Gamma cannot be fitted".into()));
        }
        let (rx, rm): (Vec<f64>, Vec<f64>) = rep.iter().map(|&i| (x[i], m[i])).unzip();
        let gg = GammaGamma::fit(&rx, &rm)?;
        spend_correlation = Some(GammaGamma::independence(&rx, &rm));
        let value: Vec<f64> = (0..n).map(|i| gg.params.expected_spend(x[i], m[i])).collect();
        let clv = (0..n)
            .map(|i| {
                // lifetimes: Σ_k value · (E[N(k months)] − E[N(k − 1 months)]) / (1 + rate)^k
                (1..=config.months)
                    .map(|k| {
                        let (now, before) = (k as f64 * WEEKS_PER_MONTH, (k - 1) as f64 * WEEKS_PER_MONTH);
                        let purchases = b.expected_transactions(now, x[i], tx[i], t[i])
                            - b.expected_transactions(before, x[i], tx[i], t[i]);
                        value[i] * purchases / (1.0 + config.discount_rate).powi(k as i32)
                    })
                    .sum()
            })
            .collect();
        (Some((gg, rep.len())), Some(value), Some(clv))
    } else {
        (None, None, None)
    };
    Ok(Clv {
        config: config.clone(),
        source: log.source.clone(),
        ids: customers.rows.iter().map(|c| log.ids[c.id as usize].clone()).collect(),
        p_alive: (0..n).map(|i| b.p_alive(x[i], tx[i], t[i])).collect(),
        p_any: (0..n).map(|i| b.p_any(horizon, x[i], tx[i], t[i])).collect(),
        expected_purchases,
        expected_holdout,
        expected_value,
        clv,
        customers,
        new_in_holdout,
        summary,
        model: b,
        gamma_gamma,
        spend_correlation,
    })
}

impl Clv {
    /// The per-customer file: `customer, frequency, recency, T` (weeks), `monetary_value`,
    /// `p_alive`, `expected_purchases` and `p_any` over the CLV horizon, `expected_value` and
    /// `clv` (with amounts), then `expected_holdout_purchases`, `holdout_purchases` and
    /// `holdout_amount` (with a holdout). Written atomically.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut header = vec!["customer", "frequency", "recency", "T"];
        let amounts = self.clv.is_some();
        if amounts {
            header.push("monetary_value");
        }
        header.extend(["p_alive", "expected_purchases", "p_any"]);
        if amounts {
            header.extend(["expected_value", "clv"]);
        }
        if self.expected_holdout.is_some() {
            header.extend(["expected_holdout_purchases", "holdout_purchases"]);
            if amounts {
                header.push("holdout_amount");
            }
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).map_err(|e| Error::io(path, e.into()))?;
        for (i, c) in self.customers.rows.iter().enumerate() {
            let f = |v: f64| format!("{v:.6}");
            let mut r = vec![self.ids[i].clone(), f(c.frequency), f(c.recency), f(c.t)];
            if amounts {
                r.push(f(c.monetary));
            }
            r.extend([f(self.p_alive[i]), f(self.expected_purchases[i]), f(self.p_any[i])]);
            if let (Some(v), Some(clv)) = (&self.expected_value, &self.clv) {
                r.extend([f(v[i]), f(clv[i])]);
            }
            if let Some(h) = &self.expected_holdout {
                r.extend([f(h[i]), f(c.n_holdout)]);
                if amounts {
                    r.push(f(c.spend_holdout));
                }
            }
            w.write_record(&r).map_err(|e| Error::io(path, e.into()))?;
        }
        let bytes = w.into_inner().map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
        crate::io::write_bytes_atomic(path, &bytes)
    }

    /// The data, the fitted parameters and the CLV totals.
    pub fn table(&self) -> HtmlTable {
        let mut t = HtmlTable::new(&format!("Customer lifetime value: {}", self.source), &["", "value"]);
        let kv = |k: &str, v: String| vec![k.to_string(), v];
        let cal = &self.config.calibration_end;
        t.push(kv(&format!("customers with a purchase up to {cal}"), self.ids.len().to_string()));
        let repeaters = self.customers.rows.iter().filter(|c| c.frequency > 0.0).count();
        t.push(kv("of them repeat buyers (two or more purchase days)", repeaters.to_string()));
        t.push(kv(
            &format!("{} (time in weeks; ± standard error)", self.model.name()),
            format!("{}; log-likelihood {:.3}", self.model.parameters_line(), self.model.criteria().0),
        ));
        if let Some((g, n)) = &self.gamma_gamma {
            t.push(kv(
                &format!("Gamma-Gamma ({n} repeaters with a positive amount)"),
                format!("{}; log-likelihood {:.3}", crate::btyd::fit::parameter_line(g), g.log_likelihood),
            ));
            if let Some(r) = self.spend_correlation {
                t.push(kv(
                    "correlation of repeat days and mean amount among them (Gamma-Gamma assumes none)",
                    format!("{r:.3}"),
                ));
            }
        }
        let months = self.config.months;
        t.push(kv(
            &format!("expected purchase days in the next {months} months"),
            format!("{:.1}", self.expected_purchases.iter().sum::<f64>()),
        ));
        if let Some(clv) = &self.clv {
            let total: f64 = clv.iter().sum();
            t.push(kv(
                &format!("CLV over {months} months at {} % a month", 100.0 * self.config.discount_rate),
                format!("total {total:.2}, mean {:.2} per customer", total / clv.len() as f64),
            ));
        }
        if let Some(h) = &self.expected_holdout {
            let actual: Vec<f64> = self.customers.column(|c| c.n_holdout);
            let (sum_e, sum_a) = (h.iter().sum::<f64>(), actual.iter().sum::<f64>());
            let (mae, rmse) = crate::ranking::mae_rmse(&actual, h);
            let end = self.config.holdout_end.as_deref().unwrap_or_default();
            t.push(kv(
                &format!("holdout to {end} ({:.1} weeks): purchase days", self.customers.protocol.holdout_weeks()),
                format!("expected {sum_e:.1}, actual {sum_a:.0}; per customer MAE {mae:.3}, RMSE {rmse:.3}"),
            ));
            t.push(kv("customers first seen in the holdout (not scored)", self.new_in_holdout.to_string()));
        }
        t
    }

    /// The `n` customers with the highest CLV (or, without amounts, the most expected
    /// purchases): what to act on first.
    pub fn top(&self, n: usize) -> HtmlTable {
        let key = self.clv.as_ref().unwrap_or(&self.expected_purchases);
        let mut order: Vec<usize> = (0..self.ids.len()).collect();
        order.sort_by(|&i, &j| key[j].total_cmp(&key[i]).then(i.cmp(&j)));
        let months = self.config.months;
        let header = ["customer", "repeat days", "weeks since last", "P(alive)", "expected purchases", "CLV"];
        let width = if self.clv.is_some() { 6 } else { 5 };
        let mut t = HtmlTable::new(
            &format!("Top {n} customers by {}", if self.clv.is_some() { "CLV" } else { "expected purchases" }),
            &header[..width],
        );
        for &i in order.iter().take(n) {
            let c = &self.customers.rows[i];
            let mut row = vec![
                self.ids[i].clone(),
                format!("{}", c.frequency),
                format!("{:.1}", c.weeks_since_last),
                format!("{:.3}", self.p_alive[i]),
                format!("{:.2} in {months} months", self.expected_purchases[i]),
            ];
            if let Some(clv) = &self.clv {
                row.push(format!("{:.2}", clv[i]));
            }
            t.push(row);
        }
        t
    }

    /// Fader and Hardie's check of the holdout (with one): customers grouped by calibration
    /// repeat days (0 … 6, 7+), mean actual holdout purchase days beside the model's expectation.
    pub fn holdout_chart(&self) -> Result<Option<crate::plot::Svg>> {
        let Some(expected) = &self.expected_holdout else { return Ok(None) };
        crate::btyd::charts::holdout_chart(
            &self.customers.column(|c| c.frequency),
            &self.customers.column(|c| c.n_holdout),
            &[(self.model.name(), expected.clone())],
            self.customers.protocol.holdout_weeks(),
        )
        .map(Some)
    }

    /// Every repeat-purchase model fitted on the same calibration customers, with the holdout
    /// (if any) to judge them by: the table to choose [`ClvConfig::model`] from.
    pub fn compare(&self) -> crate::btyd::compare::ModelComparison {
        let c = &self.customers;
        let holdout = self.expected_holdout.as_ref().map(|_| crate::btyd::compare::Holdout {
            length: c.protocol.holdout_weeks(),
            actual: c.column(|r| r.n_holdout),
        });
        crate::btyd::compare::ModelComparison::fit(
            &self.summary,
            &c.column(|r| r.frequency),
            &c.column(|r| r.recency),
            &c.column(|r| r.t),
            holdout,
            Some(self.model),
        )
    }

    /// Week by week from the log's first day to the holdout end (or the calibration end), the
    /// cumulative repeat purchase days of the calibration customers beside the model's
    /// expectation for customers of their ages (lifetimes' `plot_cumulative_transactions`): how
    /// well the model tracks the calibration period and forecasts past it. `log` is the log the
    /// result was fitted on.
    pub fn tracking(&self, log: &TransactionLog) -> Result<Tracking> {
        let p = self.customers.protocol;
        let calibration: std::collections::BTreeSet<u32> = self.customers.rows.iter().map(|c| c.id).collect();
        let mut first: BTreeMap<u32, i64> = BTreeMap::new();
        let weeks = ((p.holdout_end - p.start + 1) as f64 / 7.0).ceil() as usize;
        let mut per_week = vec![0.0; weeks];
        for d in log.days.iter().filter(|d| calibration.contains(&d.customer)) {
            // days are sorted by customer then day: the first seen is the first purchase
            let f = *first.entry(d.customer).or_insert(d.day);
            if d.day != f && d.day <= p.holdout_end {
                per_week[((d.day - p.start) / 7) as usize] += 1.0;
            }
        }
        if first.len() != calibration.len() {
            return Err(Error::Data(format!(
                "the log has purchases of {} of the {} customers this result was fitted on: pass the same log",
                first.len(),
                calibration.len()
            )));
        }
        let mut cohorts: BTreeMap<i64, f64> = BTreeMap::new();
        for f in first.values() {
            *cohorts.entry(*f).or_insert(0.0) += 1.0;
        }
        let ends: Vec<i64> = (0..weeks).map(|w| (p.start + 7 * (w as i64 + 1) - 1).min(p.holdout_end)).collect();
        let expected = ends
            .iter()
            .map(|&end| {
                cohorts
                    .iter()
                    .filter(|(&f, _)| f < end)
                    .map(|(&f, n)| n * self.model.expected_from_first((end - f) as f64 / 7.0))
                    .sum()
            })
            .collect();
        let actual = per_week
            .iter()
            .scan(0.0, |sum, v| {
                *sum += v;
                Some(*sum)
            })
            .collect();
        Ok(Tracking {
            model: self.model.name(),
            weeks: ends.iter().map(|&e| (e - p.start + 1) as f64 / 7.0).collect(),
            actual,
            expected,
            calibration_week: (p.calibration_end - p.start + 1) as f64 / 7.0,
        })
    }

    /// P(alive) by repeat purchases (1 … 10) and the week of the last purchase, for a customer
    /// whose first purchase was as long before the calibration end as the oldest customer's
    /// ([`crate::btyd::charts::p_alive_matrix`]).
    pub fn p_alive_matrix(&self) -> Result<crate::plot::Svg> {
        let age = self.customers.column(|c| c.t).into_iter().fold(0.0, f64::max).round();
        crate::btyd::charts::p_alive_matrix(&self.model, 10, age, 13)
    }

    /// evcxr's display hook.
    pub fn evcxr_display(&self) {
        Html(self.table().to_html()).evcxr_display();
    }
}

/// Cumulative repeat purchase days, actual and expected, week by week ([`Clv::tracking`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    /// The model's name.
    pub model: &'static str,
    /// End of each week, in weeks since the log's first day.
    pub weeks: Vec<f64>,
    /// Cumulative repeat purchase days made by then.
    pub actual: Vec<f64>,
    /// Cumulative repeat purchase days the model expects by then.
    pub expected: Vec<f64>,
    /// Where calibration ends, in weeks since the log's first day.
    pub calibration_week: f64,
}

impl Tracking {
    /// The tracking plot: both cumulative curves and a dashed line at the calibration end.
    pub fn chart(&self) -> Result<crate::plot::Svg> {
        let top = self.actual.iter().chain(&self.expected).fold(0.0f64, |a, &b| a.max(b));
        let points = |v: &[f64]| self.weeks.iter().copied().zip(v.iter().copied()).collect::<Vec<_>>();
        crate::plot::lines(
            &format!("Cumulative repeat purchase days: actual vs {}", self.model),
            "weeks since the log's first day",
            "repeat purchase days (cumulative)",
            &[
                ("actual".to_string(), points(&self.actual)),
                (format!("{} expected", self.model), points(&self.expected)),
                (
                    crate::plot::reference("calibration end"),
                    vec![(self.calibration_week, 0.0), (self.calibration_week, top)],
                ),
            ],
        )
    }

    /// evcxr's display hook: the chart.
    pub fn evcxr_display(&self) {
        match self.chart() {
            Ok(svg) => svg.evcxr_display(),
            Err(e) => println!("{e}"),
        }
    }
}

impl std::fmt::Display for Clv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table())
    }
}
