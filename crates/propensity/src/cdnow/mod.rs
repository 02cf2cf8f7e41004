//! CDNOW: 69,659 real purchases by 23,570 customers (1997-01 … 1998-06), the classic data for
//! churn and lifetime-value models. The standard protocol: purchases are aggregated per
//! customer-day; the calibration period (1997-01-01 … 1997-09-30) gives the features, the
//! holdout period (1997-10-01 … 1998-06-30, 39 weeks) the targets.
//!
//! [`read`] loads the raw file (validated line by line); [`customer_days`] aggregates it;
//! [`Customers::build`] computes per-customer features from the days up to a cutoff only, and the
//! holdout targets from the days after it. [`btyd`] is the BG/NBD + Gamma-Gamma peer,
//! [`models`] the supervised churn and spend networks, [`segments`] the KPI-supervised segments.
//!
//! ```no_run
//! use propensity::{cdnow, paths};
//! # fn main() -> propensity::Result<()> {
//! let raw = cdnow::read(paths::data_file(cdnow::FILE)?)?;
//! let customers = cdnow::Customers::build(&cdnow::customer_days(&raw), &cdnow::Protocol::default())?;
//! assert_eq!(customers.len(), 23_570);
//! # Ok(()) }
//! ```

pub mod btyd;
pub mod models;
pub mod segments;
pub mod tune;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::calendar::{days_from_civil, parse_yyyymmdd};
use crate::{Error, Result};

/// The raw file's name in `data/`.
pub const FILE: &str = "CDNOW_master.txt";
/// The raw file's columns, in order.
pub const COLUMNS: [&str; 4] = ["customer_id", "date", "number_of_cds", "dollar_value"];

/// One purchase line of the raw file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Purchase {
    /// Customer id.
    pub customer: u32,
    /// Day number ([`crate::calendar`]).
    pub day: i64,
    /// CDs bought.
    pub cds: u32,
    /// Dollars paid.
    pub dollars: f64,
}

/// All purchases of one customer on one day, summed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CustomerDay {
    /// Customer id.
    pub customer: u32,
    /// Day number.
    pub day: i64,
    /// CDs bought that day.
    pub cds: u32,
    /// Dollars paid that day.
    pub dollars: f64,
}

/// Reads the whitespace-separated CDNOW file (a header line, then `id YYYYMMDD cds dollars`).
/// A bad line is an error naming the file, the line and the column.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("c.txt");
/// std::fs::write(&p, "customer_id date number_of_cds dollar_value\n 00001 19970101 1 11.77\n").unwrap();
/// assert_eq!(propensity::cdnow::read(&p).unwrap()[0].dollars, 11.77);
/// std::fs::write(&p, "customer_id date number_of_cds dollar_value\n 00001 19970231 1 11.77\n").unwrap();
/// let e = propensity::cdnow::read(&p).unwrap_err().to_string();
/// assert!(e.contains("line 2, column `date`"), "{e}");
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<Vec<Purchase>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let lineno = i as u64 + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if i == 0 {
            if fields != COLUMNS {
                return Err(Error::Format {
                    file: path.into(),
                    message: format!("expected the header `{}`, found {line:?}", COLUMNS.join(" ")),
                });
            }
            continue;
        }
        if fields.is_empty() {
            continue;
        }
        if fields.len() != 4 {
            return Err(Error::Row {
                file: path.into(),
                line: lineno,
                message: format!("expected 4 whitespace-separated fields, found {}", fields.len()),
            });
        }
        let cell = |j: usize, message: String| Error::Cell {
            file: path.into(),
            line: lineno,
            column: COLUMNS[j].into(),
            message,
        };
        let customer = fields[0]
            .parse::<u32>()
            .map_err(|_| cell(0, format!("expected a customer number, found {:?}", fields[0])))?;
        let day = parse_yyyymmdd(fields[1]).map_err(|m| cell(1, m))?;
        let cds = fields[2]
            .parse::<u32>()
            .map_err(|_| cell(2, format!("expected a whole number ≥ 0, found {:?}", fields[2])))?;
        let dollars = match fields[3].parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => v,
            _ => return Err(cell(3, format!("expected an amount ≥ 0, found {:?}", fields[3]))),
        };
        out.push(Purchase { customer, day, cds, dollars });
    }
    if out.is_empty() {
        return Err(Error::Format { file: path.into(), message: "no purchases".into() });
    }
    Ok(out)
}

/// Writes purchases as the transaction log a shop would export — a CSV with `customer_id`
/// (five digits, as in the raw file), `date` (`YYYY-MM-DD`), `number_of_cds` and `dollar_value` —
/// for [`crate::clv`], atomically.
///
/// ```
/// use propensity::cdnow::{write_transactions_csv, Purchase};
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("log.csv");
/// write_transactions_csv(&[Purchase { customer: 7, day: 9862, cds: 2, dollars: 23.5 }], &p).unwrap();
/// assert_eq!(std::fs::read_to_string(&p).unwrap(), "customer_id,date,number_of_cds,dollar_value\n00007,1997-01-01,2,23.5\n");
/// ```
pub fn write_transactions_csv(purchases: &[Purchase], path: impl AsRef<Path>) -> Result<()> {
    let mut text = COLUMNS.join(",") + "\n";
    for p in purchases {
        text += &format!("{:05},{},{},{}\n", p.customer, crate::calendar::format_date(p.day), p.cds, p.dollars);
    }
    crate::io::write_bytes_atomic(path.as_ref(), text.as_bytes())
}

/// Reads `data/CDNOW_master.txt` and builds the customer table with the default protocol.
pub fn load_default() -> Result<Customers> {
    let raw = read(crate::paths::data_file(FILE)?)?;
    Customers::build(&customer_days(&raw), &Protocol::default())
}

/// Aggregates purchases to one row per customer and day, sorted by customer then day.
///
/// ```
/// use propensity::cdnow::{customer_days, Purchase};
/// let p = |customer, day, cds, dollars| Purchase { customer, day, cds, dollars };
/// let d = customer_days(&[p(2, 5, 1, 12.0), p(1, 3, 1, 1.0), p(2, 5, 5, 77.0)]);
/// assert_eq!(d.len(), 2);
/// assert_eq!((d[1].customer, d[1].cds, d[1].dollars), (2, 6, 89.0));
/// ```
pub fn customer_days(purchases: &[Purchase]) -> Vec<CustomerDay> {
    let mut map: BTreeMap<(u32, i64), (u32, f64)> = BTreeMap::new();
    for p in purchases {
        let e = map.entry((p.customer, p.day)).or_insert((0, 0.0));
        e.0 += p.cds;
        e.1 += p.dollars;
    }
    map.into_iter().map(|((customer, day), (cds, dollars))| CustomerDay { customer, day, cds, dollars }).collect()
}

/// The calibration/holdout protocol: features from days ≤ `calibration_end`, targets from days in
/// (`calibration_end`, `holdout_end`]. Defaults: 1997-09-30 and 1998-06-30 (39 + 39 weeks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protocol {
    /// First day of the data (cohort weeks count from it).
    pub start: i64,
    /// Last calibration day (inclusive).
    pub calibration_end: i64,
    /// Last holdout day (inclusive).
    pub holdout_end: i64,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            start: days_from_civil(1997, 1, 1),
            calibration_end: days_from_civil(1997, 9, 30),
            holdout_end: days_from_civil(1998, 6, 30),
        }
    }
}

impl Protocol {
    /// Length of the holdout period in weeks (39 for the default).
    pub fn holdout_weeks(&self) -> f64 {
        (self.holdout_end - self.calibration_end) as f64 / 7.0
    }
}

/// Names of the 17 supervised input features, the columns of [`Customers::features`].
pub const FEATURES: [&str; 17] = [
    "frequency",
    "recency",
    "T",
    "monetary",
    "n_cal_days",
    "cal_spend",
    "cal_cds",
    "first_spend",
    "first_cds",
    "mean_spend_per_day",
    "mean_cds_per_day",
    "weeks_since_last",
    "mean_ipt_w",
    "cohort_week",
    "cohort_month",
    "last13_days",
    "last13_spend",
];

/// Names of the holdout targets in the CSV files, after the features.
pub const TARGETS: [&str; 3] = ["n_holdout", "spend_holdout", "cds_holdout"];

/// One customer: calibration features (weeks where a time) and holdout targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Customer id.
    pub id: u32,
    /// Repeat purchase days in calibration: distinct purchase days − 1 (BG/NBD's `x`).
    pub frequency: f64,
    /// Weeks from the first to the last calibration purchase day (`t_x`).
    pub recency: f64,
    /// Weeks from the first purchase day to the end of calibration (`T`).
    pub t: f64,
    /// Mean spend of the repeat (non-first) purchase days; 0 without repeats (Gamma-Gamma's `m`).
    pub monetary: f64,
    /// Distinct purchase days in calibration.
    pub n_cal_days: f64,
    /// Dollars spent in calibration.
    pub cal_spend: f64,
    /// CDs bought in calibration.
    pub cal_cds: f64,
    /// Dollars of the first purchase day.
    pub first_spend: f64,
    /// CDs of the first purchase day.
    pub first_cds: f64,
    /// `cal_spend / n_cal_days`.
    pub mean_spend_per_day: f64,
    /// `cal_cds / n_cal_days`.
    pub mean_cds_per_day: f64,
    /// Weeks from the last purchase day to the end of calibration (`T − t_x`).
    pub weeks_since_last: f64,
    /// Mean weeks between purchase days; `T` for one-time buyers (a censored lower bound).
    pub mean_ipt_w: f64,
    /// Week of the first purchase since the start of the data.
    pub cohort_week: f64,
    /// Month (1–12) of the first purchase.
    pub cohort_month: f64,
    /// Purchase days in the last 91 days of calibration.
    pub last13_days: f64,
    /// Dollars in the last 91 days of calibration.
    pub last13_spend: f64,
    /// Purchase days in the holdout period (target).
    pub n_holdout: f64,
    /// Dollars in the holdout period (target).
    pub spend_holdout: f64,
    /// CDs in the holdout period.
    pub cds_holdout: f64,
}

impl Customer {
    /// The 17 features in [`FEATURES`] order.
    pub fn features(&self) -> [f64; 17] {
        [
            self.frequency,
            self.recency,
            self.t,
            self.monetary,
            self.n_cal_days,
            self.cal_spend,
            self.cal_cds,
            self.first_spend,
            self.first_cds,
            self.mean_spend_per_day,
            self.mean_cds_per_day,
            self.weeks_since_last,
            self.mean_ipt_w,
            self.cohort_week,
            self.cohort_month,
            self.last13_days,
            self.last13_spend,
        ]
    }

    /// A customer from `[id, 17 features, 3 targets]` ([`Customers::csv_header`] order).
    fn from_values(v: &[f64]) -> Customer {
        Customer {
            id: v[0] as u32,
            frequency: v[1],
            recency: v[2],
            t: v[3],
            monetary: v[4],
            n_cal_days: v[5],
            cal_spend: v[6],
            cal_cds: v[7],
            first_spend: v[8],
            first_cds: v[9],
            mean_spend_per_day: v[10],
            mean_cds_per_day: v[11],
            weeks_since_last: v[12],
            mean_ipt_w: v[13],
            cohort_week: v[14],
            cohort_month: v[15],
            last13_days: v[16],
            last13_spend: v[17],
            n_holdout: v[18],
            spend_holdout: v[19],
            cds_holdout: v[20],
        }
    }

    /// True when the customer bought in the holdout period (the "still active" label; churn is its
    /// negation).
    pub fn bought_in_holdout(&self) -> bool {
        self.n_holdout > 0.0
    }

    /// The cross-validation fold: `id mod 5`, as the Python peers.
    pub fn fold(&self) -> usize {
        (self.id % 5) as usize
    }
}

/// Every customer with a calibration purchase, sorted by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customers {
    /// The protocol the table was built with.
    pub protocol: Protocol,
    /// One row per customer.
    pub rows: Vec<Customer>,
}

impl Customers {
    /// Builds the table from customer-days sorted by customer then day ([`customer_days`]).
    /// Features use only days ≤ `calibration_end`; a later purchase changes only the targets.
    ///
    /// ```
    /// use propensity::cdnow::{Customers, CustomerDay, Protocol};
    /// let p = Protocol::default();
    /// let d = |day, dollars| CustomerDay { customer: 1, day: p.calibration_end - day, cds: 1, dollars };
    /// let c = Customers::build(&[d(14, 10.0), d(7, 20.0), d(0, 30.0)], &p).unwrap();
    /// let r = &c.rows[0];
    /// assert_eq!((r.frequency, r.recency, r.t, r.monetary), (2.0, 2.0, 2.0, 25.0));
    /// ```
    pub fn build(days: &[CustomerDay], protocol: &Protocol) -> Result<Customers> {
        if days.windows(2).any(|w| (w[0].customer, w[0].day) >= (w[1].customer, w[1].day)) {
            return Err(Error::Data("customer-days must be sorted by customer then day, one row per day".into()));
        }
        let mut rows = Vec::new();
        let mut i = 0;
        while i < days.len() {
            let id = days[i].customer;
            let mut j = i;
            while j < days.len() && days[j].customer == id {
                j += 1;
            }
            if let Some(c) = customer(id, &days[i..j], protocol) {
                rows.push(c);
            }
            i = j;
        }
        if rows.is_empty() {
            return Err(Error::Data("no customer has a purchase in the calibration period".into()));
        }
        Ok(Customers { protocol: *protocol, rows })
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True without customers (never after [`Customers::build`]).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The n × 17 feature matrix.
    pub fn features(&self) -> Array2<f64> {
        let mut x = Array2::zeros((self.len(), FEATURES.len()));
        for (mut row, c) in x.rows_mut().into_iter().zip(&self.rows) {
            row.assign(&ndarray::ArrayView1::from(&c.features()));
        }
        x
    }

    /// A column by getter, e.g. `customers.column(|c| c.spend_holdout)`.
    pub fn column(&self, f: impl Fn(&Customer) -> f64) -> Vec<f64> {
        self.rows.iter().map(f).collect()
    }

    /// Customer ids, as the ranking metrics take them (their tie-breaker).
    pub fn ids(&self) -> Vec<u64> {
        self.rows.iter().map(|c| u64::from(c.id)).collect()
    }

    /// The fold of each customer (`id mod 5`).
    pub fn folds(&self) -> Vec<usize> {
        self.rows.iter().map(Customer::fold).collect()
    }

    /// The CSV header of [`write_csv`](Self::write_csv): id, the 17 features, the 3 targets.
    pub fn csv_header() -> Vec<&'static str> {
        std::iter::once("customer_id").chain(FEATURES).chain(TARGETS).collect()
    }

    /// Reads a table written by [`write_csv`](Self::write_csv); the three target columns are
    /// optional (zero when absent, for scoring new customers). Errors name the line and column.
    pub fn read_csv(path: impl AsRef<Path>, protocol: Protocol) -> Result<Customers> {
        let path = path.as_ref();
        let mut reader =
            csv::Reader::from_path(path).map_err(|e| Error::Format { file: path.into(), message: e.to_string() })?;
        let header = Self::csv_header();
        let found: Vec<String> = reader
            .headers()
            .map_err(|e| Error::Format { file: path.into(), message: e.to_string() })?
            .iter()
            .map(str::to_string)
            .collect();
        let with_targets = found == header;
        if !with_targets && found[..] != header[..header.len() - TARGETS.len()] {
            return Err(Error::Format {
                file: path.into(),
                message: format!(
                    "expected the columns {} (targets optional), found {}",
                    header.join(","),
                    found.join(",")
                ),
            });
        }
        let mut rows = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let rec = rec.map_err(|e| Error::Row { file: path.into(), line, message: e.to_string() })?;
            let mut v = Vec::with_capacity(found.len());
            for (j, f) in rec.iter().enumerate() {
                match f.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() && x >= 0.0 => v.push(x),
                    _ => {
                        return Err(Error::Cell {
                            file: path.into(),
                            line,
                            column: found[j].clone(),
                            message: format!("expected a number ≥ 0, found {f:?}"),
                        })
                    }
                }
            }
            if v.len() != found.len() {
                return Err(Error::Row {
                    file: path.into(),
                    line,
                    message: format!("expected {} fields, found {}", found.len(), v.len()),
                });
            }
            v.resize(header.len(), 0.0);
            rows.push(Customer::from_values(&v));
        }
        Ok(Customers { protocol, rows })
    }

    /// Writes the table as CSV (features and targets; atomically).
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        crate::io::write_atomic(path, |w| {
            writeln!(w, "{}", Self::csv_header().join(","))?;
            for c in &self.rows {
                write!(w, "{}", c.id)?;
                for v in c.features().iter().chain(&[c.n_holdout, c.spend_holdout, c.cds_holdout]) {
                    write!(w, ",{v}")?;
                }
                writeln!(w)?;
            }
            Ok(())
        })
    }
}

/// A sum that is +0 when empty (`Iterator::sum` of no `f64`s is −0, which prints as "-0").
fn total(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |a, b| a + b)
}

fn customer(id: u32, days: &[CustomerDay], p: &Protocol) -> Option<Customer> {
    let cal: Vec<&CustomerDay> = days.iter().filter(|d| d.day <= p.calibration_end).collect();
    let first = cal.first()?;
    let last = cal.last()?;
    let n = cal.len() as f64;
    let frequency = n - 1.0;
    let recency = (last.day - first.day) as f64 / 7.0;
    let t = (p.calibration_end - first.day) as f64 / 7.0;
    let repeats = &cal[1..];
    let monetary =
        if repeats.is_empty() { 0.0 } else { total(repeats.iter().map(|d| d.dollars)) / repeats.len() as f64 };
    let cal_spend = total(cal.iter().map(|d| d.dollars));
    let cal_cds = total(cal.iter().map(|d| f64::from(d.cds)));
    let recent: Vec<&&CustomerDay> = cal.iter().filter(|d| d.day > p.calibration_end - 91).collect();
    let holdout: Vec<&CustomerDay> =
        days.iter().filter(|d| d.day > p.calibration_end && d.day <= p.holdout_end).collect();
    Some(Customer {
        id,
        frequency,
        recency,
        t,
        monetary,
        n_cal_days: n,
        cal_spend,
        cal_cds,
        first_spend: first.dollars,
        first_cds: f64::from(first.cds),
        mean_spend_per_day: cal_spend / n,
        mean_cds_per_day: cal_cds / n,
        weeks_since_last: t - recency,
        mean_ipt_w: if frequency > 0.0 { recency / frequency } else { t },
        cohort_week: ((first.day - p.start) / 7) as f64,
        cohort_month: f64::from(crate::calendar::civil_from_days(first.day).1),
        last13_days: recent.len() as f64,
        last13_spend: total(recent.iter().map(|d| d.dollars)),
        n_holdout: holdout.len() as f64,
        spend_holdout: total(holdout.iter().map(|d| d.dollars)),
        cds_holdout: total(holdout.iter().map(|d| f64::from(d.cds))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(customer: u32, day: i64, dollars: f64) -> CustomerDay {
        CustomerDay { customer, day, cds: 1, dollars }
    }

    #[test]
    fn a_future_purchase_changes_targets_not_features() {
        let p = Protocol::default();
        let base = vec![day(1, p.start + 3, 10.0), day(1, p.start + 40, 25.0), day(2, p.start + 5, 7.0)];
        let mut later = base.clone();
        later.insert(2, day(1, p.calibration_end + 1, 500.0));
        later.push(day(2, p.holdout_end + 1, 99.0)); // after the holdout too
        let a = Customers::build(&base, &p).unwrap();
        let b = Customers::build(&later, &p).unwrap();
        for (x, y) in a.rows.iter().zip(&b.rows) {
            assert_eq!(x.features(), y.features());
        }
        assert_eq!((a.rows[0].spend_holdout, b.rows[0].spend_holdout), (0.0, 500.0));
        assert_eq!(b.rows[1].n_holdout, 0.0);
    }

    #[test]
    fn customers_without_calibration_purchase_are_left_out_and_order_is_checked() {
        let p = Protocol::default();
        let c = Customers::build(&[day(1, p.start, 1.0), day(2, p.calibration_end + 3, 5.0)], &p).unwrap();
        assert_eq!(c.ids(), [1]);
        assert!(Customers::build(&[day(2, p.start, 1.0), day(1, p.start, 1.0)], &p).is_err());
    }

    #[test]
    fn one_time_buyer_features() {
        let p = Protocol::default();
        let c =
            Customers::build(&[CustomerDay { customer: 9, day: p.calibration_end - 70, cds: 3, dollars: 30.0 }], &p)
                .unwrap();
        let r = &c.rows[0];
        // hand calculation: first purchase 70 days = 10 weeks before the cutoff, inside the last 91 days
        assert_eq!((r.frequency, r.recency, r.t, r.monetary, r.mean_ipt_w), (0.0, 0.0, 10.0, 0.0, 10.0));
        assert_eq!((r.last13_days, r.last13_spend, r.mean_cds_per_day, r.fold()), (1.0, 30.0, 3.0, 4));
    }
}
