//! Customer lifetime value on any transaction log or customer summary. A log (one row per
//! purchase with a customer id, a date and optionally an amount, in a CSV, plain or gzip) is split
//! at a calibration end date and summarised per customer as lifetimes'
//! `summary_data_from_transaction_data` does ([`TransactionLog::summarise`]: purchases in one
//! [`Period`] count once); a summary file a user already has is read as it is
//! ([`CustomerSummary::read_csv`]). A repeat-purchase model (BG/NBD by default) and, with amounts,
//! Gamma-Gamma are fitted by maximum likelihood. Per customer: P(alive), expected purchases,
//! P(at least one) and, with amounts, the expected spend per purchase and the discounted CLV with
//! lifetimes' `customer_lifetime_value` semantics. With a holdout end date, the holdout purchases
//! are compared with the model's expectation.
//!
//! ```
//! use propensity::clv::{ClvConfig, LogColumns, TransactionLog};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("orders.csv");
//! // any customer,date[,amount] CSV: here the bundled CDNOW log written as one
//! let raw = propensity::cdnow::read(propensity::paths::data_file(propensity::cdnow::FILE).unwrap()).unwrap();
//! propensity::cdnow::write_transactions_csv(&raw, &path).unwrap();
//! let cols = LogColumns { amount: Some("dollar_value".into()), ..LogColumns::new("customer_id", "date") };
//! let log = TransactionLog::read_csv(&path, &cols).unwrap();
//! let cfg = ClvConfig { calibration_end: "1997-09-30".into(), ..ClvConfig::default() };
//! let clv = propensity::clv::fit(&log, &cfg).unwrap();
//! assert_eq!(clv.customers.len(), 23_570);
//! assert!(clv.clv.as_ref().unwrap().iter().all(|v| *v >= 0.0));
//! ```

pub mod customers;
pub mod frequency;
pub mod log;
pub mod period;
pub mod saved;
pub mod tracking;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use customers::{CustomerSummary, HoldoutPurchases, SummaryColumns};
pub use frequency::FrequencyCounts;
pub use log::{parse_date_with, LogColumns, LogDay, TransactionLog};
pub use period::{Period, WEEKS_PER_MONTH};
pub use saved::SavedClv;
pub use tracking::Tracking;

use crate::btyd::{Fit, Fitted, GammaGamma, RepeatModel, Summary};
use crate::calendar::parse_date;
use crate::display::{Html, HtmlTable};
use crate::{Error, Result};

/// The protocol and the CLV settings. Defaults: purchase days, BG/NBD and lifetimes'
/// `customer_lifetime_value` (12 months, 1 % a month).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClvConfig {
    /// Last calibration day (inclusive), `YYYY-MM-DD`: the models see only purchases up to it
    /// (a log; unused for a summary file).
    #[serde(default)]
    pub calibration_end: String,
    /// Last holdout day (inclusive): purchases after the calibration end up to it are compared
    /// with the model's expectation.
    #[serde(default)]
    pub holdout_end: Option<String>,
    /// What counts as one purchase in a log ([`fit`]; a summary file's unit is given to
    /// [`CustomerSummary::read_csv`]).
    #[serde(default)]
    pub period: Period,
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
            period: Period::default(),
            months: twelve(),
            discount_rate: one_percent(),
            model: RepeatModel::default(),
        }
    }
}

impl ClvConfig {
    /// Checks the settings a fit uses: a horizon of at least one month and a discount rate in
    /// [0, 1).
    pub fn check(&self) -> Result<()> {
        let bad = |field: &'static str, message: String| Error::Config { field, message };
        if self.months == 0 {
            return Err(bad("months", "the CLV horizon needs at least one month".into()));
        }
        if !(0.0..1.0).contains(&self.discount_rate) {
            return Err(bad("discount_rate", format!("must be in [0, 1), found {}", self.discount_rate)));
        }
        Ok(())
    }

    /// The calibration and holdout ends of a log's split, as days since 1970-01-01 (their order
    /// is checked by [`TransactionLog::summarise`]).
    pub fn split(&self) -> Result<(i64, Option<i64>)> {
        let bad = |field: &'static str, message: String| Error::Config { field, message };
        let cal = parse_date(&self.calibration_end).map_err(|m| bad("calibration_end", m))?;
        let hold = self.holdout_end.as_deref().map(|h| parse_date(h).map_err(|m| bad("holdout_end", m))).transpose()?;
        Ok((cal, hold))
    }
}

/// The fitted models and every customer's predictions.
#[derive(Debug, Clone)]
pub struct Clv {
    /// The settings.
    pub config: ClvConfig,
    /// The customers with a calibration purchase, their summary and holdout purchases, in the
    /// order of every per-customer vector below.
    pub customers: CustomerSummary,
    /// The calibration summary the models were fitted on, identical customers grouped.
    pub summary: Summary,
    /// The repeat-purchase model's fit ([`ClvConfig::model`]).
    pub model: Fitted,
    /// The Gamma-Gamma fit on the repeaters with a positive mean spend (with amounts), with their
    /// count.
    pub gamma_gamma: Option<(Fit<GammaGamma>, usize)>,
    /// Correlation of repeat purchases and mean amount across those repeaters (with amounts):
    /// [`GammaGamma::independence`].
    pub spend_correlation: Option<f64>,
    /// P(alive) at the calibration end.
    pub p_alive: Vec<f64>,
    /// Expected purchases over the CLV horizon.
    pub expected_purchases: Vec<f64>,
    /// P(at least one purchase over the CLV horizon).
    pub p_any: Vec<f64>,
    /// Expected purchases over the holdout (with a holdout).
    pub expected_holdout: Option<Vec<f64>>,
    /// Expected spend per purchase (with amounts).
    pub expected_value: Option<Vec<f64>>,
    /// Discounted CLV over the horizon (with amounts).
    pub clv: Option<Vec<f64>>,
}

/// Summarises `log` at [`ClvConfig::calibration_end`] ([`TransactionLog::summarise`]) and fits
/// it ([`fit_summary`]). Errors: a calibration end before the first purchase (or, with a holdout,
/// at or after the last), and those of [`fit_summary`]. A calibration end after the last purchase
/// without a holdout is "as of that day".
pub fn fit(log: &TransactionLog, config: &ClvConfig) -> Result<Clv> {
    config.check()?;
    let (cal, hold) = config.split()?;
    fit_summary(log.summarise(config.period, cal, hold)?, config)
}

/// Fits the repeat-purchase model (BG/NBD unless [`ClvConfig::model`] names another) and, with
/// amounts, Gamma-Gamma on `customers`, and predicts every customer. Errors: no repeat buyer (no
/// model is identified), no repeater with a positive amount (Gamma-Gamma), a fit that does not
/// converge.
///
/// ```
/// use propensity::clv::{fit_summary, ClvConfig, CustomerSummary, Period, SummaryColumns};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("summary.csv");
/// // 2,000 customers drawn from a BG/NBD, written as a summary file with times in weeks
/// let truth = propensity::btyd::BgNbd { r: 0.25, alpha: 4.8, a: 0.72, b: 2.16 };
/// let drawn = propensity::btyd::generate::bgnbd(&truth, 2_000, 7, 84, 273, 7).unwrap();
/// let mut text = String::from("customer_id,frequency,recency,T\n");
/// let mut id = 0;
/// for ([x, tx, t], n) in drawn.rows.iter().zip(&drawn.weights) {
///     for _ in 0..*n as usize {
///         text += &format!("c{id},{x},{tx},{t}\n");
///         id += 1;
///     }
/// }
/// std::fs::write(&path, text).unwrap();
/// let customers = CustomerSummary::read_csv(&path, &SummaryColumns::default(), Period::Week).unwrap();
/// let clv = fit_summary(customers, &ClvConfig::default()).unwrap();
/// assert_eq!(clv.p_alive.len(), 2_000);
/// assert!(clv.clv.is_none()); // no monetary column, no CLV
/// ```
pub fn fit_summary(customers: CustomerSummary, config: &ClvConfig) -> Result<Clv> {
    config.check()?;
    if customers.repeaters() == 0.0 {
        let when = customers.calibration_end.as_ref().map_or_else(String::new, |c| format!(" up to {c}"));
        return Err(Error::Data(format!(
            "no customer of {} has a repeat purchase{when}: no repeat-purchase model can be fitted without repeat \
             buyers",
            customers.source
        )));
    }
    let summary = customers.btyd()?;
    let model = config.model.fit(&summary, customers.period.weeks(1))?;
    let gamma_gamma = match &customers.monetary {
        Some(m) => {
            let (rx, rm) = repeaters_with_spend(&customers.frequency, m);
            if rx.is_empty() {
                return Err(Error::Data("no repeat buyer has a positive amount: Gamma-Gamma cannot be fitted".into()));
            }
            Some((GammaGamma::fit(&rx, &rm)?, rx.len()))
        }
        None => None,
    };
    predict(customers, summary, model, gamma_gamma, config)
}

/// Frequencies and mean amounts of the repeat buyers with a positive mean amount: Gamma-Gamma's
/// data.
fn repeaters_with_spend(x: &[f64], m: &[f64]) -> (Vec<f64>, Vec<f64>) {
    (0..x.len()).filter(|&i| x[i] > 0.0 && m[i] > 0.0).map(|i| (x[i], m[i])).unzip()
}

/// Every customer's predictions from fitted models (a fit just made, or a saved one:
/// [`SavedClv::score`]).
pub(crate) fn predict(
    customers: CustomerSummary,
    summary: Summary,
    b: Fitted,
    gamma_gamma: Option<(Fit<GammaGamma>, usize)>,
    config: &ClvConfig,
) -> Result<Clv> {
    let (x, tx, t) = (&customers.frequency, &customers.recency, &customers.t);
    let n = x.len();
    let horizon = config.months as f64 * WEEKS_PER_MONTH;
    let expected_purchases: Vec<f64> = (0..n).map(|i| b.expected_transactions(horizon, x[i], tx[i], t[i])).collect();
    let expected_holdout = customers
        .holdout
        .as_ref()
        .map(|h| (0..n).map(|i| b.expected_transactions(h.weeks, x[i], tx[i], t[i])).collect());
    let (spend_correlation, expected_value, clv) = match (&customers.monetary, &gamma_gamma) {
        (Some(m), Some((gg, _))) => {
            let (rx, rm) = repeaters_with_spend(x, m);
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
            ((!rx.is_empty()).then(|| GammaGamma::independence(&rx, &rm)), Some(value), Some(clv))
        }
        _ => (None, None, None),
    };
    Ok(Clv {
        config: config.clone(),
        p_alive: (0..n).map(|i| b.p_alive(x[i], tx[i], t[i])).collect(),
        p_any: (0..n).map(|i| b.p_any(horizon, x[i], tx[i], t[i])).collect(),
        expected_purchases,
        expected_holdout,
        expected_value,
        clv,
        customers,
        summary,
        model: b,
        gamma_gamma,
        spend_correlation,
    })
}

impl Clv {
    /// The per-customer file: `customer` (and `count` when the summary counts customers per row),
    /// `frequency, recency, T` (weeks), `monetary_value`,
    /// `p_alive`, `expected_purchases` and `p_any` over the CLV horizon, `expected_value` and
    /// `clv` (with amounts), then `expected_holdout_purchases`, `holdout_purchases` and
    /// `holdout_amount` (with a holdout). Written atomically.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let c = &self.customers;
        let mut header = vec!["customer"];
        if c.weights.is_some() {
            header.push("count");
        }
        header.extend(["frequency", "recency", "T"]);
        let amounts = self.clv.is_some();
        if amounts {
            header.push("monetary_value");
        }
        header.extend(["p_alive", "expected_purchases", "p_any"]);
        if amounts {
            header.extend(["expected_value", "clv"]);
        }
        let holdout = c.holdout.as_ref().zip(self.expected_holdout.as_ref());
        if let Some((h, _)) = holdout {
            header.extend(["expected_holdout_purchases", "holdout_purchases"]);
            if h.amount.is_some() {
                header.push("holdout_amount");
            }
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).map_err(|e| Error::io(path, e.into()))?;
        for i in 0..c.len() {
            // a zero is written `0.000000`: an empty sum of amounts is -0.0 in Rust, and a value
            // that rounds to zero would otherwise keep its sign (`-0.000000`)
            let f = |v: f64| match format!("{v:.6}") {
                z if z == "-0.000000" => "0.000000".to_string(),
                s => s,
            };
            let mut r = vec![c.ids[i].clone()];
            if let Some(w) = &c.weights {
                r.push(w[i].to_string());
            }
            r.extend([f(c.frequency[i]), f(c.recency[i]), f(c.t[i])]);
            if let (true, Some(m)) = (amounts, &c.monetary) {
                r.push(f(m[i]));
            }
            r.extend([f(self.p_alive[i]), f(self.expected_purchases[i]), f(self.p_any[i])]);
            if let (Some(v), Some(clv)) = (&self.expected_value, &self.clv) {
                r.extend([f(v[i]), f(clv[i])]);
            }
            if let Some((h, e)) = holdout {
                r.extend([f(e[i]), f(h.purchases[i])]);
                if let Some(a) = &h.amount {
                    r.push(f(a[i]));
                }
            }
            w.write_record(&r).map_err(|e| Error::io(path, e.into()))?;
        }
        let bytes = w.into_inner().map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
        crate::io::write_bytes_atomic(path, &bytes)
    }

    /// The data, the fitted parameters and the CLV totals.
    pub fn table(&self) -> HtmlTable {
        let c = &self.customers;
        let unit = c.unit();
        let mut t = HtmlTable::new(&format!("Customer lifetime value: {}", c.source), &["", "value"]);
        let kv = |k: &str, v: String| vec![k.to_string(), v];
        match &c.calibration_end {
            Some(cal) => {
                t.push(kv(&format!("customers with a purchase up to {cal}"), format!("{:.0}", c.customers())));
                t.push(kv(&format!("of them repeat buyers (two or more {unit})"), format!("{:.0}", c.repeaters())));
            }
            None => {
                t.push(kv("customers in the summary", format!("{:.0}", c.customers())));
                t.push(kv("of them repeat buyers (frequency above 0)", format!("{:.0}", c.repeaters())));
            }
        }
        let scale = match self.model {
            crate::btyd::Fitted::Bgbb(_) => format!("one opportunity a {}", c.period.key()),
            _ => "time in weeks".into(),
        };
        t.push(kv(
            &format!("{} ({scale}; ± standard error)", self.model.name()),
            format!("{}; log-likelihood {:.3}", self.model.parameters_line(), self.model.criteria().0),
        ));
        if let Some((g, n)) = &self.gamma_gamma {
            t.push(kv(
                &format!("Gamma-Gamma ({n} repeaters with a positive amount)"),
                format!("{}; log-likelihood {:.3}", crate::btyd::fit::parameter_line(g), g.log_likelihood),
            ));
            if let Some(r) = self.spend_correlation {
                t.push(kv(
                    "correlation of repeat purchases and mean amount among them (Gamma-Gamma assumes none)",
                    format!("{r:.3}"),
                ));
            }
        }
        let months = self.config.months;
        t.push(kv(
            &format!("expected {unit} in the next {months} months"),
            format!("{:.1}", c.total(&self.expected_purchases)),
        ));
        if let Some(clv) = &self.clv {
            let total = c.total(clv);
            t.push(kv(
                &format!("CLV over {months} months at {} % a month", 100.0 * self.config.discount_rate),
                format!("total {total:.2}, mean {:.2} per customer", total / c.customers()),
            ));
        }
        if let (Some(e), Some(h)) = (&self.expected_holdout, &c.holdout) {
            let (sum_e, sum_a) = (e.iter().sum::<f64>(), h.purchases.iter().sum::<f64>());
            let (mae, rmse) = crate::ranking::mae_rmse(&h.purchases, e);
            t.push(kv(
                &format!("holdout to {} ({:.1} weeks): {unit}", h.end, h.weeks),
                format!("expected {sum_e:.1}, actual {sum_a:.0}; per customer MAE {mae:.3}, RMSE {rmse:.3}"),
            ));
            t.push(kv("customers first seen in the holdout (not scored)", c.new_in_holdout.to_string()));
        }
        t
    }

    /// The `n` customers with the highest CLV (or, without amounts, the most expected
    /// purchases): what to act on first.
    pub fn top(&self, n: usize) -> HtmlTable {
        let key = self.clv.as_ref().unwrap_or(&self.expected_purchases);
        let c = &self.customers;
        let mut order: Vec<usize> = (0..c.len()).collect();
        order.sort_by(|&i, &j| key[j].total_cmp(&key[i]).then(i.cmp(&j)));
        let months = self.config.months;
        let header = ["customer", "repeat purchases", "weeks since last", "P(alive)", "expected purchases", "CLV"];
        let width = if self.clv.is_some() { 6 } else { 5 };
        let mut t = HtmlTable::new(
            &format!("Top {n} customers by {}", if self.clv.is_some() { "CLV" } else { "expected purchases" }),
            &header[..width],
        );
        for &i in order.iter().take(n) {
            let mut row = vec![
                c.ids[i].clone(),
                format!("{}", c.frequency[i]),
                format!("{:.1}", c.t[i] - c.recency[i]),
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
        let (Some(expected), Some(h)) = (&self.expected_holdout, &self.customers.holdout) else { return Ok(None) };
        crate::btyd::charts::holdout_chart(
            &self.customers.frequency,
            &h.purchases,
            &[(self.model.name(), expected.clone())],
            h.weeks,
        )
        .map(Some)
    }

    /// Every repeat-purchase model fitted on the same calibration customers, with the holdout
    /// (if any) to judge them by: the table to choose [`ClvConfig::model`] from.
    pub fn compare(&self) -> crate::btyd::compare::ModelComparison {
        let c = &self.customers;
        let holdout =
            c.holdout.as_ref().map(|h| crate::btyd::compare::Holdout { length: h.weeks, actual: h.purchases.clone() });
        crate::btyd::compare::ModelComparison::fit(
            &self.summary,
            &c.frequency,
            &c.recency,
            &c.t,
            holdout,
            Some(self.model),
        )
    }

    /// P(alive) by repeat purchases (1 … 10) and the week of the last purchase, for a customer
    /// whose first purchase was as long before the calibration end as the oldest customer's
    /// ([`crate::btyd::charts::p_alive_matrix`]).
    pub fn p_alive_matrix(&self) -> Result<crate::plot::Svg> {
        let age = self.customers.t.iter().copied().fold(0.0, f64::max).round();
        crate::btyd::charts::p_alive_matrix(&self.model, 10, age, 13)
    }

    /// evcxr's display hook.
    pub fn evcxr_display(&self) {
        Html(self.table().to_html()).evcxr_display();
    }
}

impl std::fmt::Display for Clv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table())
    }
}
