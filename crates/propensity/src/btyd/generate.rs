//! Seeded customer bases drawn from a fitted model, summarised as a daily transaction log would
//! be: for benchmarks at any size and for checking that a fit recovers the parameters that
//! generated the data.

use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};

use super::{BgNbd, Summary};
use crate::{Error, Result};

/// Draws `customers` from BG/NBD `model` (time in weeks) and summarises them on a grid of
/// `ticks_per_week` (7: a daily log): first purchases spread uniformly over the first
/// `cohort_ticks` of an `observed_ticks` window, purchases in the same tick counted once, recency
/// and T in weeks (as `summary_data_from_transaction_data` with `freq="D", freq_multiplier=7`
/// gives them for a daily log). Rows are grouped as they are drawn, so memory grows with the
/// distinct summaries, not the customers.
///
/// ```
/// use propensity::btyd::{generate, BgNbd};
/// let truth = BgNbd { r: 0.25, alpha: 4.8, a: 0.72, b: 2.16 };
/// // a daily log: first purchases over 12 weeks, 39 weeks observed
/// let s = generate::bgnbd(&truth, 1_000, 7, 84, 273, 7).unwrap();
/// assert_eq!(s.customers(), 1_000.0);
/// assert_eq!(s, generate::bgnbd(&truth, 1_000, 7, 84, 273, 7).unwrap()); // seeded
/// ```
pub fn bgnbd(
    model: &BgNbd,
    customers: usize,
    ticks_per_week: u32,
    cohort_ticks: u32,
    observed_ticks: u32,
    seed: u64,
) -> Result<Summary> {
    let (cohort_days, observed_days) = (cohort_ticks, observed_ticks);
    let mut draw = CustomerDraw::new(model, ticks_per_week, cohort_days, observed_days, seed)?;
    let per_week = f64::from(ticks_per_week.max(1));
    let mut counts: std::collections::HashMap<(u32, u32, u32), f64> = std::collections::HashMap::new();
    for _ in 0..customers {
        let c = draw.next(|_| ());
        *counts.entry((c.repeats, c.last, c.age)).or_insert(0.0) += 1.0;
    }
    Ok(Summary::group(
        counts
            .into_iter()
            .map(|((x, tx, t), w)| ([f64::from(x), f64::from(tx) / per_week, f64::from(t) / per_week], w)),
    ))
}

/// One customer drawn by [`CustomerDraw::next`], in ticks of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drawn {
    /// The tick of the first purchase, in the cohort window.
    pub first: u32,
    /// Ticks with a repeat purchase (x).
    pub repeats: u32,
    /// The last tick with a purchase, counted from the first (t_x).
    pub last: u32,
    /// Ticks observed from the first purchase to the window's end (T).
    pub age: u32,
}

/// A seeded stream of BG/NBD customers on a grid of ticks: what [`bgnbd`] summarises, and what
/// a transaction-log generator writes purchase by purchase.
///
/// ```
/// use propensity::btyd::{generate::CustomerDraw, BgNbd};
/// let truth = BgNbd { r: 0.25, alpha: 4.8, a: 0.72, b: 2.16 };
/// let mut draw = CustomerDraw::new(&truth, 7, 84, 273, 7).unwrap();
/// let mut ticks = vec![];
/// let c = draw.next(|t| ticks.push(t)); // every repeat purchase, several on one tick possible
/// assert!(ticks.iter().filter(|&&t| t > 0).count() >= c.repeats as usize);
/// assert!(c.first < 84 && c.age == 273 - c.first);
/// ```
pub struct CustomerDraw {
    rate: Gamma<f64>,
    dropout: Beta<f64>,
    per_week: f64,
    cohort: u32,
    observed: u32,
    rng: rand::rngs::StdRng,
}

impl CustomerDraw {
    /// Customers of `model` (time in weeks) on a grid of `ticks_per_week` (7: days): first
    /// purchases uniform over the first `cohort_ticks` of an `observed_ticks` window; `seed` fixes
    /// the stream.
    pub fn new(model: &BgNbd, ticks_per_week: u32, cohort_ticks: u32, observed_ticks: u32, seed: u64) -> Result<Self> {
        if cohort_ticks == 0 || cohort_ticks > observed_ticks {
            return Err(Error::Data(format!(
                "the cohort ({cohort_ticks} ticks) must be at least one and fit in the observed window ({observed_ticks} ticks)"
            )));
        }
        let bad = |e: String| Error::Data(format!("BG/NBD parameters {model:?}: {e}"));
        Ok(CustomerDraw {
            rate: Gamma::new(model.r, 1.0 / model.alpha).map_err(|e| bad(e.to_string()))?,
            dropout: Beta::new(model.a, model.b).map_err(|e| bad(e.to_string()))?,
            per_week: f64::from(ticks_per_week.max(1)),
            cohort: cohort_ticks,
            observed: observed_ticks,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        })
    }

    /// The next customer; `purchase` is called with the tick (from the first purchase) of every
    /// repeat purchase in the window, in order.
    pub fn next(&mut self, mut purchase: impl FnMut(u32)) -> Drawn {
        let rng = &mut self.rng;
        let first = rng.gen_range(0..self.cohort);
        let age = self.observed - first;
        let (lambda, p) = (self.rate.sample(rng), self.dropout.sample(rng));
        let (mut now, mut last, mut repeats) = (0.0f64, 0u32, 0u32);
        if let Ok(gap) = Exp::new(lambda) {
            loop {
                now += gap.sample(rng); // weeks
                let tick = (now * self.per_week).floor();
                if tick >= f64::from(age) {
                    break;
                }
                let tick = tick as u32;
                purchase(tick);
                if tick > last {
                    repeats += 1;
                    last = tick;
                }
                if rng.gen::<f64>() < p {
                    break;
                }
            }
        }
        Drawn { first, repeats, last, age }
    }
}
