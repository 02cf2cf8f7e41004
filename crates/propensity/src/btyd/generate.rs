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
    if cohort_days == 0 || cohort_days > observed_days {
        return Err(Error::Data(format!(
            "the cohort ({cohort_days} ticks) must be at least one and fit in the observed window ({observed_days} ticks)"
        )));
    }
    let bad = |e: String| Error::Data(format!("BG/NBD parameters {model:?}: {e}"));
    let rate = Gamma::new(model.r, 1.0 / model.alpha).map_err(|e| bad(e.to_string()))?;
    let dropout = Beta::new(model.a, model.b).map_err(|e| bad(e.to_string()))?;
    let per_week = f64::from(ticks_per_week.max(1));
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut counts: std::collections::HashMap<(u32, u32, u32), f64> = std::collections::HashMap::new();
    for _ in 0..customers {
        let first = rng.gen_range(0..cohort_days);
        let age_days = observed_days - first;
        let (lambda, p) = (rate.sample(&mut rng), dropout.sample(&mut rng));
        let (mut now, mut last_day, mut x) = (0.0f64, 0u32, 0u32);
        if let Ok(gap) = Exp::new(lambda) {
            loop {
                now += gap.sample(&mut rng); // weeks
                let day = (now * per_week).floor();
                if day >= f64::from(age_days) {
                    break;
                }
                let day = day as u32;
                if day > last_day {
                    x += 1;
                    last_day = day;
                }
                if rng.gen::<f64>() < p {
                    break;
                }
            }
        }
        *counts.entry((x, last_day, age_days)).or_insert(0.0) += 1.0;
    }
    Ok(Summary::group(
        counts
            .into_iter()
            .map(|((x, tx, t), w)| ([f64::from(x), f64::from(tx) / per_week, f64::from(t) / per_week], w)),
    ))
}
