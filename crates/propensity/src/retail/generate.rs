//! The seeded generator of orders and online sessions, with known ground truth.
//!
//! Each customer belongs to one of four hidden [`SEGMENTS`], which differ in visit rate,
//! session-to-order conversion, category affinities, basket size and the months they are most
//! active in. Month by month, a customer first orders — category `c` with the probability
//!
//! ```text
//! logit p(c, m) = base[s] + ln(peak[s]) · [m is a peak month of s]
//!               + 0.8 · ln(6 · affinity[c])
//!               + 0.6 · ln(1 + sessions in c in month m-1)
//!               + 1.0 · ln(1 + cart/wishlist/checkout events in c in month m-1)
//!               + 0.4 · ln(1 + orders of c before month m)
//! ```
//!
//! ([`true_logit`]) — then visits: a Poisson number of sessions (rate by segment, activity and
//! season), each in a category drawn from the customer's affinities, plus one checkout
//! session per ordered category. The probabilities used are the ground truth the models are
//! judged against ([`Generated::probabilities`]), as are the segments.
//!
//! The raw tables carry the original data's quality problems, at rates set in
//! [`GeneratorConfig`]: duplicate rows, missing `event1`, anonymous sessions (no `custno`),
//! dates in two formats, and order lines with zero or negative revenue.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, LogNormal, Poisson};
use serde::{Deserialize, Serialize};

use super::clean::{RawOrder, RawSession};
use super::{CATEGORIES, EVENT_TYPES, ORDERS_FILE, PROBABILITIES_FILE, SEGMENTS_FILE, SESSIONS_FILE, SUBCATEGORIES};
use crate::calendar::days_in_month;
use crate::{Error, Result};

/// Sizes, seed and data-quality rates of a generated dataset; defaults give ≈ 20k customers,
/// 250k sessions and 60k order lines over the 12 months of 2018.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Number of customers.
    pub customers: usize,
    /// Number of months, from `start_year`-01.
    pub months: usize,
    /// First year.
    pub start_year: i32,
    /// Share of extra session rows from anonymous visitors (no customer number).
    pub anonymous_share: f64,
    /// Share of rows written twice.
    pub duplicate_share: f64,
    /// Share of sessions with `event1` missing.
    pub missing_event1_share: f64,
    /// Share of dates written `MM/DD/YYYY HH:MM` instead of `YYYY-MM-DD HH:MM:SS`.
    pub us_date_share: f64,
    /// Share of order lines with zero or negative revenue.
    pub bad_revenue_share: f64,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            customers: 20_000,
            months: 12,
            start_year: 2018,
            anonymous_share: 0.08,
            duplicate_share: 0.01,
            missing_event1_share: 0.3,
            us_date_share: 0.25,
            bad_revenue_share: 0.01,
            seed: 7,
        }
    }
}

impl GeneratorConfig {
    /// The default sizes multiplied by `scale` (customers; sessions and orders follow).
    ///
    /// ```
    /// use propensity::retail::generate::GeneratorConfig;
    /// assert_eq!(GeneratorConfig::scaled(0.1).customers, 2_000);
    /// ```
    pub fn scaled(scale: f64) -> GeneratorConfig {
        let d = GeneratorConfig::default();
        GeneratorConfig { customers: (d.customers as f64 * scale).round() as usize, ..d }
    }

    /// Checks every field.
    pub fn check(&self) -> Result<()> {
        let bad = |field, message: &str| Err(Error::Config { field, message: message.to_string() });
        if self.customers == 0 {
            return bad("customers", "must be at least 1");
        }
        if !(2..=120).contains(&self.months) {
            return bad("months", "must be in 2..=120");
        }
        if !(1900..=9000).contains(&self.start_year) {
            return bad("start_year", "must be in 1900..=9000");
        }
        for (field, v) in [
            ("anonymous_share", self.anonymous_share),
            ("duplicate_share", self.duplicate_share),
            ("missing_event1_share", self.missing_event1_share),
            ("us_date_share", self.us_date_share),
            ("bad_revenue_share", self.bad_revenue_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(field, "must be a share in [0, 1]");
            }
        }
        Ok(())
    }
}

/// A hidden customer segment's behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentProfile {
    /// A name for reports.
    pub name: &'static str,
    /// Share of customers.
    pub share: f64,
    /// Mean sessions per month (before activity and season).
    pub visits: f64,
    /// Intercept of the order logit.
    pub base: f64,
    /// Dirichlet weights of the category affinities (larger = more alike customers).
    pub affinity: [f64; CATEGORIES],
    /// Mean order lines per ordered category.
    pub basket: f64,
    /// Months (1–12) of higher activity.
    pub peak_months: &'static [u32],
    /// Multiplier of visits and order odds in peak months.
    pub peak: f64,
    /// Probability that a session's action is add-to-cart, wishlist or checkout (`event2` 8–10).
    pub intent: f64,
}

/// The four hidden segments.
pub const SEGMENTS: [SegmentProfile; 4] = [
    SegmentProfile {
        name: "window shoppers",
        share: 0.35,
        visits: 1.1,
        base: -4.85,
        affinity: [2.0, 2.0, 2.0, 2.0, 2.0, 2.0],
        basket: 1.0,
        peak_months: &[],
        peak: 1.0,
        intent: 0.08,
    },
    SegmentProfile {
        name: "loyal regulars",
        share: 0.25,
        visits: 0.8,
        base: -3.45,
        affinity: [6.0, 4.0, 1.0, 0.5, 0.5, 0.5],
        basket: 2.0,
        peak_months: &[],
        peak: 1.0,
        intent: 0.25,
    },
    SegmentProfile {
        name: "seasonal gifters",
        share: 0.2,
        visits: 0.36,
        base: -4.45,
        affinity: [0.5, 0.5, 0.5, 1.0, 4.0, 6.0],
        basket: 2.5,
        peak_months: &[11, 12],
        peak: 4.0,
        intent: 0.2,
    },
    SegmentProfile {
        name: "focused bargain hunters",
        share: 0.2,
        visits: 0.56,
        base: -3.85,
        affinity: [0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
        basket: 1.2,
        peak_months: &[1, 7],
        peak: 2.0,
        intent: 0.15,
    },
];

/// The hidden segments as a table (what the generator draws customers from).
pub fn segments_table() -> crate::display::HtmlTable {
    let header =
        ["segment", "share", "sessions / month", "order logit base", "basket lines", "peak months", "intent share"];
    let mut t = crate::display::HtmlTable::new("Hidden segments of the generator", &header);
    for s in SEGMENTS {
        t.push(vec![
            s.name.into(),
            format!("{:.0} %", s.share * 100.0),
            format!("{:.2}", s.visits),
            format!("{:.2}", s.base),
            format!("{:.1}", s.basket),
            if s.peak_months.is_empty() { "–".into() } else { format!("{:?} ×{}", s.peak_months, s.peak) },
            format!("{:.0} %", s.intent * 100.0),
        ]);
    }
    t
}

/// Mean revenue of an order line per category.
const LINE_REVENUE: [f64; CATEGORIES] = [25.0, 40.0, 60.0, 15.0, 80.0, 120.0];

/// What a customer did in one category before the month being predicted.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CategoryHistory {
    /// Sessions in the category in the previous month.
    pub sessions_last_month: u32,
    /// Add-to-cart, wishlist and checkout events (`event2` 8–10) in it in the previous month.
    pub intent_last_month: u32,
    /// Orders of the category in all earlier months.
    pub orders_before: u32,
}

/// The generator's order logit for one category (see the module docs).
///
/// ```
/// use propensity::retail::generate::{true_logit, CategoryHistory, SEGMENTS};
/// let quiet = true_logit(&SEGMENTS[1], 1.0 / 6.0, 3, CategoryHistory::default());
/// assert_eq!(quiet, SEGMENTS[1].base); // uniform affinity, no history, no peak
/// let h = CategoryHistory { sessions_last_month: 2, intent_last_month: 1, orders_before: 0 };
/// assert!(true_logit(&SEGMENTS[1], 1.0 / 6.0, 3, h) > quiet);
/// ```
pub fn true_logit(segment: &SegmentProfile, affinity: f64, month_of_year: u32, h: CategoryHistory) -> f64 {
    let peak = if segment.peak_months.contains(&month_of_year) { segment.peak.ln() } else { 0.0 };
    segment.base
        + peak
        + 0.8 * (6.0 * affinity).ln()
        + 0.6 * (1.0 + h.sessions_last_month as f64).ln()
        + 1.0 * (1.0 + h.intent_last_month as f64).ln()
        + 0.4 * (1.0 + h.orders_before as f64).ln()
}

/// The true probability of each category for one customer and month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthRow {
    /// Customer number.
    pub custno: u64,
    /// Month as `YYYY-MM`.
    pub month: String,
    /// Probability of ordering each category in that month, given everything before it.
    pub p: [f32; CATEGORIES],
}

/// A generated dataset: the two raw tables and the ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Online sessions, one row each, with the quality problems.
    pub sessions: Vec<RawSession>,
    /// Order lines, with the quality problems.
    pub orders: Vec<RawOrder>,
    /// `(custno, segment index into SEGMENTS)`.
    pub segments: Vec<(u64, usize)>,
    /// True category probabilities per customer and month.
    pub probabilities: Vec<TruthRow>,
}

/// First customer number.
const FIRST_CUSTNO: u64 = 100_000;
/// Anonymous visitors get ids from here.
const FIRST_ANONYMOUS_VISITOR: u64 = 9_000_000;

/// Generates a dataset; the same config gives the same rows.
///
/// ```
/// use propensity::retail::generate::{generate, GeneratorConfig};
/// let cfg = GeneratorConfig { customers: 100, ..Default::default() };
/// let a = generate(&cfg).unwrap();
/// assert_eq!(a, generate(&cfg).unwrap());
/// assert_eq!(a.segments.len(), 100);
/// assert_eq!(a.probabilities.len(), 100 * 12);
/// ```
pub fn generate(cfg: &GeneratorConfig) -> Result<Generated> {
    cfg.check()?;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let activity = Gamma::new(2.0, 0.5).expect("valid gamma");
    let mut sessions = Vec::new();
    let mut orders = Vec::new();
    let mut segments = Vec::with_capacity(cfg.customers);
    let mut probabilities = Vec::with_capacity(cfg.customers * cfg.months);
    let (mut next_session, mut next_order) = (1u64, 1u64);

    for i in 0..cfg.customers {
        let custno = FIRST_CUSTNO + i as u64;
        let s = pick_segment(&mut rng);
        let seg = &SEGMENTS[s];
        segments.push((custno, s));
        let affinity = dirichlet(&mut rng, &seg.affinity);
        let subcategory: Vec<[f64; SUBCATEGORIES]> = (0..CATEGORIES)
            .map(|_| {
                let d = dirichlet(&mut rng, &[1.0; SUBCATEGORIES]);
                [d[0], d[1], d[2], d[3]]
            })
            .collect();
        let act: f64 = activity.sample(&mut rng);
        let mut last = [CategoryHistory::default(); CATEGORIES];
        let mut orders_before = [0u32; CATEGORIES];
        for m in 0..cfg.months {
            let (year, month) = (cfg.start_year + (m / 12) as i32, (m % 12) as u32 + 1);
            let days = days_in_month(year, month);
            // orders first: their probabilities use only earlier months
            let mut p = [0f32; CATEGORIES];
            let mut ordered = Vec::new();
            for c in 0..CATEGORIES {
                let h = CategoryHistory { orders_before: orders_before[c], ..last[c] };
                let prob = sigmoid(true_logit(seg, affinity[c], month, h));
                p[c] = prob as f32;
                if rng.gen_bool(prob) {
                    ordered.push(c);
                }
            }
            probabilities.push(TruthRow { custno, month: format!("{year:04}-{month:02}"), p });
            let mut this_month = [CategoryHistory::default(); CATEGORIES];
            if !ordered.is_empty() {
                let day = rng.gen_range(1..=days);
                let stamp = Stamp { year, month, day, second: rng.gen_range(8 * 3600..23 * 3600) };
                let date = stamp.format(rng.gen_bool(cfg.us_date_share));
                for &c in &ordered {
                    orders_before[c] += 1;
                    let lines = 1 + Poisson::new(seg.basket - 1.0 + 1e-9).expect("rate > 0").sample(&mut rng) as usize;
                    let revenue = LogNormal::new(LINE_REVENUE[c].ln(), 0.6).expect("valid lognormal");
                    for _ in 0..lines {
                        let sub = pick(&mut rng, &subcategory[c]);
                        let mut amount = (revenue.sample(&mut rng) * 100.0).round() / 100.0;
                        if rng.gen_bool(cfg.bad_revenue_share) {
                            amount = if rng.gen_bool(0.5) { 0.0 } else { -amount };
                        }
                        orders.push(RawOrder {
                            custno,
                            ordno: next_order,
                            orderdate: date.clone(),
                            prodcat2: ((c + 1) * 10 + sub + 1) as u16,
                            prodcat1: (c + 1) as u8,
                            revenue: amount,
                        });
                    }
                    // the checkout visit that placed the order
                    let checkout = Stamp { second: stamp.second.saturating_sub(rng.gen_range(60..1800)), ..stamp };
                    sessions.push(session(&mut rng, cfg, &mut next_session, custno, checkout, c, EVENT_TYPES as u8));
                    this_month[c].sessions_last_month += 1;
                    this_month[c].intent_last_month += 1;
                }
                next_order += 1;
            }
            let peak = if seg.peak_months.contains(&month) { seg.peak } else { 1.0 };
            let visits = Poisson::new(seg.visits * act * peak).expect("rate > 0").sample(&mut rng) as usize;
            for _ in 0..visits {
                let c = pick(&mut rng, &affinity);
                let event2 = if rng.gen_bool(seg.intent) { rng.gen_range(8..=10) } else { rng.gen_range(1..=7) };
                let stamp = Stamp { year, month, day: rng.gen_range(1..=days), second: rng.gen_range(0..86_400) };
                sessions.push(session(&mut rng, cfg, &mut next_session, custno, stamp, c, event2));
                this_month[c].sessions_last_month += 1;
                this_month[c].intent_last_month += u32::from(event2 >= 8);
            }
            last = this_month;
        }
    }
    add_anonymous(&mut rng, cfg, &mut sessions, &mut next_session);
    duplicate_some(&mut rng, cfg.duplicate_share, &mut sessions);
    duplicate_some(&mut rng, cfg.duplicate_share, &mut orders);
    Ok(Generated { sessions, orders, segments, probabilities })
}

/// Sessions of visitors who are not (yet) customers: no `custno`.
fn add_anonymous(rng: &mut StdRng, cfg: &GeneratorConfig, sessions: &mut Vec<RawSession>, next: &mut u64) {
    let n = (sessions.len() as f64 * cfg.anonymous_share).round() as usize;
    for _ in 0..n {
        let m = rng.gen_range(0..cfg.months);
        let (year, month) = (cfg.start_year + (m / 12) as i32, (m % 12) as u32 + 1);
        let stamp =
            Stamp { year, month, day: rng.gen_range(1..=days_in_month(year, month)), second: rng.gen_range(0..86_400) };
        let (category, event2) = (rng.gen_range(0..CATEGORIES), rng.gen_range(1..=7));
        let mut s = session(rng, cfg, next, 0, stamp, category, event2);
        s.custno = None;
        s.visitor = FIRST_ANONYMOUS_VISITOR + rng.gen_range(0..(cfg.customers as u64).max(1));
        sessions.push(s);
    }
}

fn duplicate_some<T: Clone>(rng: &mut StdRng, share: f64, rows: &mut Vec<T>) {
    let mut out = Vec::with_capacity(rows.len() + (rows.len() as f64 * share) as usize + 1);
    for row in rows.drain(..) {
        if rng.gen_bool(share) {
            out.push(row.clone());
        }
        out.push(row);
    }
    *rows = out;
}

fn session(
    rng: &mut StdRng,
    cfg: &GeneratorConfig,
    next: &mut u64,
    custno: u64,
    stamp: Stamp,
    category: usize,
    event2: u8,
) -> RawSession {
    let id = *next;
    *next += 1;
    RawSession {
        session: id,
        visitor: custno + 1_000_000,
        custno: Some(custno),
        dt: stamp.format(rng.gen_bool(cfg.us_date_share)),
        category: (category + 1) as u8,
        event1: (!rng.gen_bool(cfg.missing_event1_share)).then(|| rng.gen_range(1..=11)),
        event2,
    }
}

#[derive(Debug, Clone, Copy)]
struct Stamp {
    year: i32,
    month: u32,
    day: u32,
    second: u32,
}

impl Stamp {
    /// `YYYY-MM-DD HH:MM:SS`, or the US form `MM/DD/YYYY HH:MM`.
    fn format(&self, us: bool) -> String {
        let (h, mi, s) = (self.second / 3600, self.second / 60 % 60, self.second % 60);
        if us {
            format!("{:02}/{:02}/{:04} {h:02}:{mi:02}", self.month, self.day, self.year)
        } else {
            format!("{:04}-{:02}-{:02} {h:02}:{mi:02}:{s:02}", self.year, self.month, self.day)
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn pick_segment(rng: &mut StdRng) -> usize {
    let shares: Vec<f64> = SEGMENTS.iter().map(|s| s.share).collect();
    pick(rng, &shares)
}

/// An index drawn with probability proportional to `weights`.
fn pick(rng: &mut StdRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.gen_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

fn dirichlet<const N: usize>(rng: &mut StdRng, alpha: &[f64; N]) -> [f64; N] {
    let mut out = [0.0; N];
    for (o, &a) in out.iter_mut().zip(alpha) {
        *o = Gamma::new(a, 1.0).expect("alpha > 0").sample(rng).max(1e-6);
    }
    let sum: f64 = out.iter().sum();
    out.map(|v| v / sum)
}

/// A row of [`SEGMENTS_FILE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SegmentRow {
    pub(crate) custno: u64,
    pub(crate) segment: usize,
    pub(crate) name: String,
}

/// Writes the raw tables and the ground truth into `dir` (created if missing), each file
/// atomically: [`SESSIONS_FILE`], [`ORDERS_FILE`], [`SEGMENTS_FILE`], [`PROBABILITIES_FILE`].
pub fn write(dir: &Path, g: &Generated) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_csv(&dir.join(SESSIONS_FILE), &g.sessions)?;
    write_csv(&dir.join(ORDERS_FILE), &g.orders)?;
    let seg: Vec<SegmentRow> = g
        .segments
        .iter()
        .map(|&(custno, s)| SegmentRow { custno, segment: s, name: SEGMENTS[s].name.to_string() })
        .collect();
    write_csv(&dir.join(SEGMENTS_FILE), &seg)?;
    let path = dir.join(PROBABILITIES_FILE);
    crate::io::write_atomic(&path, |w| {
        use std::io::Write;
        write!(w, "custno,month")?;
        for c in 1..=CATEGORIES {
            write!(w, ",p{c}")?;
        }
        writeln!(w)?;
        for r in &g.probabilities {
            write!(w, "{},{}", r.custno, r.month)?;
            for p in r.p {
                write!(w, ",{p:.6}")?;
            }
            writeln!(w)?;
        }
        Ok(())
    })
}

fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    crate::io::write_atomic(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        for r in rows {
            out.serialize(r).map_err(std::io::Error::other)?;
        }
        out.flush()
    })
}

/// Generates with `cfg` and writes into `dir`; returns what was generated.
pub fn generate_into(dir: &Path, cfg: &GeneratorConfig) -> Result<Generated> {
    let g = generate(cfg)?;
    write(dir, &g)?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sizes_are_near_the_original_shape() {
        let g = generate(&GeneratorConfig::scaled(0.1)).unwrap();
        let (s, o) = (g.sessions.len() as f64 / 2_000.0, g.orders.len() as f64 / 2_000.0);
        // ≈ 250k sessions and 60k order lines for 20k customers: 12.5 and 3 per customer
        assert!((10.0..15.0).contains(&s), "{s} sessions per customer");
        assert!((2.4..3.6).contains(&o), "{o} order lines per customer");
    }

    #[test]
    fn quality_problems_appear_at_their_rates() {
        let g = generate(&GeneratorConfig::scaled(0.1)).unwrap();
        let n = g.sessions.len() as f64;
        let missing = g.sessions.iter().filter(|s| s.event1.is_none()).count() as f64 / n;
        let anonymous = g.sessions.iter().filter(|s| s.custno.is_none()).count() as f64 / n;
        let us = g.sessions.iter().filter(|s| s.dt.contains('/')).count() as f64 / n;
        let bad = g.orders.iter().filter(|o| o.revenue <= 0.0).count() as f64 / g.orders.len() as f64;
        assert!((missing - 0.3).abs() < 0.02, "{missing}");
        assert!((anonymous - 0.08 / 1.08).abs() < 0.01, "{anonymous}");
        assert!((us - 0.25).abs() < 0.02, "{us}");
        assert!((bad - 0.01).abs() < 0.005, "{bad}");
        let dups = g.sessions.windows(2).filter(|w| w[0] == w[1]).count() as f64 / n;
        assert!((dups - 0.01).abs() < 0.004, "{dups}");
    }

    #[test]
    fn config_is_checked() {
        let e = generate(&GeneratorConfig { months: 1, ..Default::default() }).unwrap_err();
        assert!(matches!(e, Error::Config { field: "months", .. }));
        let e = generate(&GeneratorConfig { us_date_share: 1.5, ..Default::default() }).unwrap_err();
        assert!(matches!(e, Error::Config { field: "us_date_share", .. }));
    }
}
