//! The modelling file (one row per customer and month: three blocks of inputs and the
//! multi-label target) and per-customer profiles for segmentation.
//!
//! Every input of the row for month `m` is computed from sessions and orders **before** month
//! `m`; the target is the set of categories ordered **in** month `m`. Counts enter as
//! `ln(1 + count)`.

use std::collections::HashMap;

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::clean::CleanData;
use super::{CATEGORIES, EVENT_TYPES};
use crate::dataset::DenseDataset;
use crate::preprocess::{FittedScaler, StandardScaler};
use crate::{Error, Result};

/// Session-history inputs: sessions per category and per action type, in the last month and
/// the last three months.
pub const SESSION_INPUTS: usize = 2 * (CATEGORIES + EVENT_TYPES);
/// Order-history inputs: orders per category in the last three months and ever, revenue per
/// category ever.
pub const ORDER_INPUTS: usize = 3 * CATEGORIES;
/// Month inputs: one-hot month of the year being predicted.
pub const MONTH_INPUTS: usize = 12;
/// All inputs, blocks side by side in this order.
pub const INPUTS: usize = SESSION_INPUTS + ORDER_INPUTS + MONTH_INPUTS;

/// Names of the [`INPUTS`] columns, in order.
///
/// ```
/// let names = propensity::retail::features::input_names();
/// assert_eq!(names.len(), propensity::retail::features::INPUTS);
/// assert_eq!((names[0].as_str(), names[61].as_str()), ("sessions_1m_cat1", "month_12"));
/// ```
pub fn input_names() -> Vec<String> {
    let mut n = Vec::with_capacity(INPUTS);
    for window in ["1m", "3m"] {
        n.extend((1..=CATEGORIES).map(|c| format!("sessions_{window}_cat{c}")));
        n.extend((1..=EVENT_TYPES).map(|e| format!("events_{window}_type{e}")));
    }
    n.extend((1..=CATEGORIES).map(|c| format!("orders_3m_cat{c}")));
    n.extend((1..=CATEGORIES).map(|c| format!("orders_ever_cat{c}")));
    n.extend((1..=CATEGORIES).map(|c| format!("revenue_ever_cat{c}")));
    n.extend((1..=12).map(|m| format!("month_{m}")));
    n
}

/// Names of the target columns (`next_cat1` … `next_cat6`).
pub fn target_names() -> Vec<String> {
    (1..=CATEGORIES).map(|c| format!("next_cat{c}")).collect()
}

/// Which rows the modelling file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// Months of history before the first predicted month.
    pub warmup_months: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig { warmup_months: 3 }
    }
}

/// Per customer and month counts, the basis of every feature.
struct Counts {
    customers: Vec<u64>,
    months: usize,
    /// [customer][month][category]
    sessions: Vec<f64>,
    /// [customer][month][event type]
    events: Vec<f64>,
    /// distinct orders with the category: [customer][month][category]
    orders: Vec<f64>,
    /// [customer][month][category]
    revenue: Vec<f64>,
    /// order lines per [customer][month]
    lines: Vec<f64>,
}

impl Counts {
    fn of(data: &CleanData) -> Counts {
        let customers = data.customers();
        let index: HashMap<u64, usize> = customers.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let (n, m) = (customers.len(), data.months);
        let mut c = Counts {
            customers,
            months: m,
            sessions: vec![0.0; n * m * CATEGORIES],
            events: vec![0.0; n * m * EVENT_TYPES],
            orders: vec![0.0; n * m * CATEGORIES],
            revenue: vec![0.0; n * m * CATEGORIES],
            lines: vec![0.0; n * m],
        };
        for s in &data.sessions {
            let (i, t) = (index[&s.custno], data.month_index(&s.at));
            c.sessions[(i * m + t) * CATEGORIES + s.category] += 1.0;
            c.events[(i * m + t) * EVENT_TYPES + s.event2] += 1.0;
        }
        let mut seen = std::collections::HashSet::new();
        for o in &data.orders {
            let (i, t) = (index[&o.custno], data.month_index(&o.at));
            if seen.insert((o.ordno, o.category)) {
                c.orders[(i * m + t) * CATEGORIES + o.category] += 1.0;
            }
            c.revenue[(i * m + t) * CATEGORIES + o.category] += o.revenue;
            c.lines[i * m + t] += 1.0;
        }
        c
    }

    /// Sum over months `from..to` of a per-month block of width `w`.
    fn window(&self, v: &[f64], w: usize, i: usize, from: usize, to: usize) -> Vec<f64> {
        let mut out = vec![0.0; w];
        for t in from..to {
            let base = (i * self.months + t) * w;
            for (o, x) in out.iter_mut().zip(&v[base..base + w]) {
                *o += x;
            }
        }
        out
    }
}

/// The modelling file: inputs and multi-label targets per customer and month.
#[derive(Debug, Clone, PartialEq)]
pub struct ModellingFile {
    /// Customer number of each row.
    pub custno: Vec<u64>,
    /// Month (`YYYY-MM`) being predicted by each row.
    pub month: Vec<String>,
    /// Inputs, rows × [`INPUTS`] (`ln(1 + count)` and the month one-hot), unscaled.
    pub inputs: Array2<f64>,
    /// Targets, rows × [`CATEGORIES`]: 1 if the category was ordered in the month.
    pub targets: Array2<f32>,
}

impl ModellingFile {
    /// Builds the file from clean data: every customer, every month after the warm-up.
    pub fn build(data: &CleanData, cfg: &FeatureConfig) -> Result<ModellingFile> {
        if data.months <= cfg.warmup_months {
            return Err(Error::Data(format!(
                "{} months of data leave none to predict after {} warm-up months",
                data.months, cfg.warmup_months
            )));
        }
        let counts = Counts::of(data);
        let predicted = data.months - cfg.warmup_months;
        let rows = counts.customers.len() * predicted;
        let mut inputs = Array2::zeros((rows, INPUTS));
        let mut targets = Array2::zeros((rows, CATEGORIES));
        let (mut custno, mut month) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        let mut r = 0;
        for (i, &c) in counts.customers.iter().enumerate() {
            for m in cfg.warmup_months..data.months {
                let mut row = Vec::with_capacity(INPUTS);
                for from in [m - 1, m.saturating_sub(3)] {
                    row.extend(counts.window(&counts.sessions, CATEGORIES, i, from, m));
                    row.extend(counts.window(&counts.events, EVENT_TYPES, i, from, m));
                }
                row.extend(counts.window(&counts.orders, CATEGORIES, i, m.saturating_sub(3), m));
                row.extend(counts.window(&counts.orders, CATEGORIES, i, 0, m));
                row.extend(counts.window(&counts.revenue, CATEGORIES, i, 0, m));
                for (j, v) in row.into_iter().enumerate() {
                    inputs[(r, j)] = v.ln_1p();
                }
                let key = data.first_month + m as i32;
                inputs[(r, SESSION_INPUTS + ORDER_INPUTS + key.rem_euclid(12) as usize)] = 1.0;
                let base = (i * data.months + m) * CATEGORIES;
                for k in 0..CATEGORIES {
                    targets[(r, k)] = f32::from(counts.orders[base + k] > 0.0);
                }
                custno.push(c);
                month.push(data.month_name(m));
                r += 1;
            }
        }
        Ok(ModellingFile { custno, month, inputs, targets })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.custno.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.custno.is_empty()
    }

    /// Share of rows with each category ordered.
    pub fn prevalence(&self) -> Vec<f64> {
        crate::dataset::column_means(&self.targets)
    }

    /// Splits the rows by customer (all months of a customer in one part), seeded: shares of
    /// customers for training and validation, the rest for test. Returns row indices.
    ///
    /// ```
    /// # use propensity::retail::{clean, features::*, generate};
    /// # let g = generate::generate(&generate::GeneratorConfig { customers: 100, ..Default::default() }).unwrap();
    /// # let m = ModellingFile::build(&clean::clean(g.sessions, g.orders).unwrap(), &FeatureConfig::default()).unwrap();
    /// let (train, val, test) = m.split_by_customer(0.8, 0.1, 42);
    /// assert_eq!(train.len() + val.len() + test.len(), m.len());
    /// let customer = |rows: &[usize]| rows.iter().map(|&r| m.custno[r]).collect::<std::collections::HashSet<_>>();
    /// assert!(customer(&train).is_disjoint(&customer(&test)));
    /// ```
    pub fn split_by_customer(&self, train: f64, validation: f64, seed: u64) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let mut customers: Vec<u64> = self.custno.clone();
        customers.dedup();
        customers.shuffle(&mut StdRng::seed_from_u64(seed));
        let n = customers.len() as f64;
        let (a, b) = ((n * train).round() as usize, (n * (train + validation)).round() as usize);
        let part: HashMap<u64, u8> = customers
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                (
                    c,
                    if i < a {
                        0
                    } else if i < b {
                        1
                    } else {
                        2
                    },
                )
            })
            .collect();
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (r, c) in self.custno.iter().enumerate() {
            match part[c] {
                0 => out.0.push(r),
                1 => out.1.push(r),
                _ => out.2.push(r),
            }
        }
        out
    }

    /// The rows `rows`, in that order (e.g. the test customers, to score them).
    pub fn subset(&self, rows: &[usize]) -> ModellingFile {
        ModellingFile {
            custno: rows.iter().map(|&r| self.custno[r]).collect(),
            month: rows.iter().map(|&r| self.month[r].clone()).collect(),
            inputs: self.inputs.select(ndarray::Axis(0), rows),
            targets: self.targets.select(ndarray::Axis(0), rows),
        }
    }

    /// Rows, customers, months and the share of rows ordering each category.
    pub fn summary_table(&self) -> crate::display::HtmlTable {
        let mut customers = self.custno.clone();
        customers.dedup();
        let mut months = self.month.clone();
        months.sort();
        months.dedup();
        let mut t = crate::display::HtmlTable::new(
            &format!(
                "Modelling file: {} rows ({} customers × {} months {}…{}), {INPUTS} inputs",
                self.len(),
                customers.len(),
                months.len(),
                months.first().map_or("", String::as_str),
                months.last().map_or("", String::as_str)
            ),
            &["target", "share of rows ordering it"],
        );
        for (name, p) in target_names().into_iter().zip(self.prevalence()) {
            t.push(vec![name, format!("{:.2} %", p * 100.0)]);
        }
        t
    }

    /// Writes the file as CSV (`custno,month,<inputs>,<targets>`), atomically.
    pub fn save_csv(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        use std::io::Write;
        crate::io::write_atomic(path.as_ref(), |w| {
            let header: Vec<String> = ["custno".to_string(), "month".to_string()]
                .into_iter()
                .chain(input_names())
                .chain(target_names())
                .collect();
            writeln!(w, "{}", header.join(","))?;
            for r in 0..self.len() {
                write!(w, "{},{}", self.custno[r], self.month[r])?;
                for v in self.inputs.row(r) {
                    write!(w, ",{v}")?;
                }
                for v in self.targets.row(r) {
                    write!(w, ",{v}")?;
                }
                writeln!(w)?;
            }
            Ok(())
        })
    }
}

/// Model-ready parts of the modelling file: scaled inputs (scaler fitted on the training
/// customers) and the three row sets.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Training rows.
    pub train: DenseDataset,
    /// Validation rows (early stopping).
    pub validation: DenseDataset,
    /// Test rows.
    pub test: DenseDataset,
    /// Row indices of the test set in the modelling file.
    pub test_rows: Vec<usize>,
    /// The scaler fitted on the training rows.
    pub scaler: FittedScaler,
}

/// Splits by customer (80/10/10, `seed`), fits the scaler on training rows, applies it to all.
pub fn prepare(file: &ModellingFile, seed: u64) -> Result<Prepared> {
    let (train, validation, test) = file.split_by_customer(0.8, 0.1, seed);
    if train.is_empty() || validation.is_empty() || test.is_empty() {
        return Err(Error::Data(format!("too few customers ({}) to split 80/10/10", file.len())));
    }
    let scaler = StandardScaler::fit(&file.inputs.select(ndarray::Axis(0), &train))?;
    let part = |rows: &[usize]| -> Result<DenseDataset> {
        let x = scaler.transform(&file.inputs.select(ndarray::Axis(0), rows))?;
        DenseDataset::new(x.mapv(|v| v as f32), file.targets.select(ndarray::Axis(0), rows))
    };
    Ok(Prepared { train: part(&train)?, validation: part(&validation)?, test: part(&test)?, test_rows: test, scaler })
}

/// Per-customer engagement and purchase profile, over all months of the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    /// Customer numbers, sorted.
    pub custno: Vec<u64>,
    /// Rows × [`PROFILE_NAMES`], in natural units (not scaled).
    pub values: Array2<f64>,
}

/// The profile columns.
pub const PROFILE_NAMES: [&str; 17] = [
    "sessions_per_month",
    "intent_share",
    "categories_browsed",
    "orders",
    "revenue",
    "lines_per_order",
    "share_cat1",
    "share_cat2",
    "share_cat3",
    "share_cat4",
    "share_cat5",
    "share_cat6",
    "nov_dec_share",
    "jan_jul_share",
    "active_months_share",
    "top_category_share",
    "orders_per_session",
];

impl Profiles {
    /// Computes every customer's profile.
    ///
    /// ```
    /// # use propensity::retail::{clean, features::*, generate};
    /// # let g = generate::generate(&generate::GeneratorConfig { customers: 50, ..Default::default() }).unwrap();
    /// let p = Profiles::of(&clean::clean(g.sessions, g.orders).unwrap());
    /// assert_eq!(p.values.ncols(), PROFILE_NAMES.len());
    /// // category shares sum to 1 for anyone with a session
    /// let shares: f64 = (6..12).map(|j| p.values[(0, j)]).sum();
    /// assert!((shares - 1.0).abs() < 1e-9 || shares == 0.0);
    /// ```
    pub fn of(data: &CleanData) -> Profiles {
        let c = Counts::of(data);
        let (n, m) = (c.customers.len(), c.months);
        let mut values = Array2::zeros((n, PROFILE_NAMES.len()));
        let mut seasonal = [[false; 2]; 12];
        for t in 0..m {
            let month = (data.first_month + t as i32).rem_euclid(12) as usize;
            seasonal[t % 12] = [month == 10 || month == 11, month == 0 || month == 6];
        }
        for i in 0..n {
            let sessions = c.window(&c.sessions, CATEGORIES, i, 0, m);
            let events = c.window(&c.events, EVENT_TYPES, i, 0, m);
            let orders = c.window(&c.orders, CATEGORIES, i, 0, m);
            let revenue: f64 = c.window(&c.revenue, CATEGORIES, i, 0, m).iter().sum();
            let lines: f64 = (0..m).map(|t| c.lines[i * m + t]).sum();
            let total: f64 = sessions.iter().sum();
            let n_orders = (0..m).filter(|&t| c.lines[i * m + t] > 0.0).count() as f64;
            let per_month =
                |t: usize| -> f64 { c.sessions[(i * m + t) * CATEGORIES..(i * m + t + 1) * CATEGORIES].iter().sum() };
            let share = |pick: usize| -> f64 {
                let s: f64 = (0..m).filter(|&t| seasonal[t % 12][pick]).map(per_month).sum();
                if total > 0.0 {
                    s / total
                } else {
                    0.0
                }
            };
            let active = (0..m).filter(|&t| per_month(t) > 0.0 || c.lines[i * m + t] > 0.0).count() as f64;
            let mut row = vec![
                total / m as f64,
                if total > 0.0 { events[7..].iter().sum::<f64>() / total } else { 0.0 },
                sessions.iter().filter(|&&v| v > 0.0).count() as f64,
                orders.iter().sum(),
                revenue,
                if n_orders > 0.0 { lines / n_orders } else { 0.0 },
            ];
            row.extend(sessions.iter().map(|s| if total > 0.0 { s / total } else { 0.0 }));
            let top = sessions.iter().copied().fold(0.0f64, f64::max);
            row.extend([
                share(0),
                share(1),
                active / m as f64,
                if total > 0.0 { top / total } else { 0.0 },
                n_orders / total.max(1.0),
            ]);
            for (j, v) in row.into_iter().enumerate() {
                values[(i, j)] = v;
            }
        }
        Profiles { custno: c.customers, values }
    }

    /// The `n` customers with the most orders (then sessions), with their profiles.
    pub fn most_engaged(&self, n: usize) -> crate::display::HtmlTable {
        let mut rows: Vec<usize> = (0..self.custno.len()).collect();
        rows.sort_by(|&a, &b| {
            let key = |r: usize| (self.values[(r, 3)], self.values[(r, 0)]);
            key(b).partial_cmp(&key(a)).unwrap_or(std::cmp::Ordering::Equal)
        });
        let header: Vec<&str> = std::iter::once("custno").chain(PROFILE_NAMES).collect();
        let mut t = crate::display::HtmlTable::new(&format!("The {n} most engaged customers"), &header);
        for &r in rows.iter().take(n) {
            t.push(
                std::iter::once(self.custno[r].to_string())
                    // counts (orders, categories browsed) as whole numbers, rates and amounts with two decimals
                    .chain(self.values.row(r).iter().map(|v| {
                        if v.fract() == 0.0 {
                            format!("{v:.0}")
                        } else {
                            format!("{v:.2}")
                        }
                    }))
                    .collect(),
            );
        }
        t
    }

    /// The profiles as model inputs: `ln(1 + x)` of the count columns (sessions, orders,
    /// revenue), then standardized.
    pub fn model_inputs(&self) -> Result<(Array2<f64>, FittedScaler)> {
        let mut x = self.values.clone();
        for j in [0, 3, 4] {
            x.column_mut(j).mapv_inplace(f64::ln_1p);
        }
        let scaler = StandardScaler::fit(&x)?;
        Ok((scaler.transform(&x)?, scaler))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retail::clean::{clean, RawOrder, RawSession};

    fn session(id: u64, custno: u64, dt: &str, category: u8, event2: u8) -> RawSession {
        RawSession { session: id, visitor: 1, custno: Some(custno), dt: dt.into(), category, event1: Some(1), event2 }
    }

    fn order(ordno: u64, custno: u64, dt: &str, prodcat1: u8, revenue: f64) -> RawOrder {
        RawOrder { custno, ordno, orderdate: dt.into(), prodcat2: prodcat1 as u16 * 10 + 1, prodcat1, revenue }
    }

    fn base() -> (Vec<RawSession>, Vec<RawOrder>) {
        let sessions = vec![
            session(1, 7, "2018-01-10 10:00:00", 2, 8),
            session(2, 7, "2018-03-02 10:00:00", 2, 1),
            session(3, 7, "03/20/2018 11:00", 3, 9),
            session(4, 8, "2018-06-01 10:00:00", 1, 1),
        ];
        let orders = vec![order(1, 7, "2018-02-01 09:00:00", 2, 30.0), order(2, 7, "2018-04-15 09:00:00", 3, 10.0)];
        (sessions, orders)
    }

    #[test]
    fn features_count_the_right_windows_and_the_target_is_next_month() {
        let (s, o) = base();
        let m = ModellingFile::build(&clean(s, o).unwrap(), &FeatureConfig::default()).unwrap();
        let names = input_names();
        let col = |n: &str| names.iter().position(|x| x == n).unwrap();
        // customer 7, predicting 2018-04 (row 0: months 4, 5, 6 follow the 3 warm-up months)
        assert_eq!((m.custno[0], m.month[0].as_str()), (7, "2018-04"));
        let row = m.inputs.row(0);
        let close = |name: &str, count: f64| assert!((row[col(name)] - count.ln_1p()).abs() < 1e-12, "{name}");
        close("sessions_1m_cat2", 1.0); // one session in March in category 2
        close("sessions_1m_cat3", 1.0);
        close("sessions_3m_cat2", 2.0); // January and March
        close("events_3m_type8", 1.0);
        close("orders_ever_cat2", 1.0);
        close("revenue_ever_cat2", 30.0);
        assert_eq!(row[col("month_4")], 1.0);
        assert_eq!(m.targets.row(0).to_vec(), [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]); // category 3 ordered in April
        assert_eq!(m.len(), 2 * 3); // two customers, April to June
    }

    #[test]
    fn a_future_event_cannot_change_a_feature() {
        let (s, o) = base();
        let before = ModellingFile::build(&clean(s.clone(), o.clone()).unwrap(), &FeatureConfig::default()).unwrap();
        let (mut s2, mut o2) = (s, o);
        // events in April (the month row 0 predicts) and later
        s2.push(session(9, 7, "2018-04-20 10:00:00", 1, 10));
        o2.push(order(9, 7, "2018-05-03 10:00:00", 1, 99.0));
        let after = ModellingFile::build(&clean(s2, o2).unwrap(), &FeatureConfig::default()).unwrap();
        assert_eq!(before.inputs.row(0), after.inputs.row(0));
        assert_eq!(before.targets.row(0), after.targets.row(0));
        // …but the next month's row sees them
        assert_ne!(before.inputs.row(1), after.inputs.row(1));
    }

    #[test]
    fn too_short_data_is_refused() {
        let s = vec![session(1, 7, "2018-01-10 10:00:00", 2, 8)];
        let e = ModellingFile::build(&clean(s, vec![]).unwrap(), &FeatureConfig::default()).unwrap_err();
        assert!(e.to_string().contains("1 months of data"), "{e}");
    }
}
