//! "Buy till you die": the BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005) and the
//! Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005b), fitted by maximum
//! likelihood — the established statistical peer for lifetime value on CDNOW.
//!
//! Both are fitted on the log of their parameters (so they stay positive) with argmin's
//! Nelder-Mead, restarted from the best point until the log-likelihood stops improving.
//!
//! ```
//! use propensity::cdnow::btyd::BgNbd;
//! // three customers: (x repeat days, t_x recency, T age) in weeks
//! let (x, tx, t) = ([0.0, 2.0, 5.0], [0.0, 10.0, 30.0], [38.0, 20.0, 35.0]);
//! let fit = BgNbd::fit(&x, &tx, &t).unwrap();
//! let m = fit.params;
//! assert!(m.log_likelihood(&x, &tx, &t) >= BgNbd { r: 1.0, alpha: 1.0, a: 1.0, b: 1.0 }.log_likelihood(&x, &tx, &t));
//! assert_eq!(m.p_alive(0.0, 0.0, 38.0), 1.0); // BG/NBD: a one-time buyer is "alive"
//! ```

use std::time::Instant;

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;
use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

use crate::{Error, Result};

/// The four BG/NBD parameters: purchase rates ~ Gamma(r, α), dropout probability after each
/// purchase ~ Beta(a, b). Time is in weeks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Scale (rate) of the purchase-rate gamma.
    pub alpha: f64,
    /// Beta dropout parameter a.
    pub a: f64,
    /// Beta dropout parameter b.
    pub b: f64,
}

/// The three Gamma-Gamma parameters: spend per transaction ~ Gamma(p, ν), ν ~ Gamma(q, v).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Shape of the per-transaction spend.
    pub p: f64,
    /// Shape of the customer-level rate.
    pub q: f64,
    /// Scale of the customer-level rate.
    pub v: f64,
}

/// A maximum-likelihood fit: the parameters, the log-likelihood at them, the work and time it took.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit<P> {
    /// The estimates.
    pub params: P,
    /// Total log-likelihood at the estimates.
    pub log_likelihood: f64,
    /// Log-likelihood evaluations.
    pub evaluations: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Σ_{i<n} ln(c + i) = lnΓ(c + n) − lnΓ(c), exactly, for a whole n (the repeat counts are small).
fn ln_rising(c: f64, n: f64) -> f64 {
    (0..n as u64).map(|i| (c + i as f64).ln()).sum()
}

fn check_rfm(x: &[f64], tx: &[f64], t: &[f64]) -> Result<()> {
    if x.len() != tx.len() || x.len() != t.len() || x.is_empty() {
        return Err(Error::Data(format!(
            "x, t_x and T need one value per customer; got {}, {}, {}",
            x.len(),
            tx.len(),
            t.len()
        )));
    }
    for (i, ((&x, &tx), &t)) in x.iter().zip(tx).zip(t).enumerate() {
        if !(x >= 0.0 && x.fract() == 0.0 && tx >= 0.0 && tx <= t && t.is_finite()) {
            return Err(Error::Data(format!(
                "customer {i}: need a whole x ≥ 0 and 0 ≤ t_x ≤ T, found x = {x}, t_x = {tx}, T = {t}"
            )));
        }
    }
    Ok(())
}

impl BgNbd {
    /// Log-likelihood of one customer with `x` repeat purchases, the last at `tx`, observed for `t`.
    pub fn customer_log_likelihood(&self, x: f64, tx: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let a1 = ln_rising(r, x) + r * alpha.ln();
        let a2 = ln_rising(b, x) - ln_rising(a + b, x); // ln B(a, b + x) − ln B(a, b)
        let a3 = -(r + x) * (alpha + t).ln();
        let mix = if x > 0.0 {
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + tx).ln();
            let hi = a3.max(a4);
            hi + ((a3 - hi).exp() + (a4 - hi).exp()).ln()
        } else {
            a3
        };
        a1 + a2 + mix
    }

    /// Total log-likelihood of the customers `(x, t_x, T)`.
    pub fn log_likelihood(&self, x: &[f64], tx: &[f64], t: &[f64]) -> f64 {
        x.iter().zip(tx).zip(t).map(|((&x, &tx), &t)| self.customer_log_likelihood(x, tx, t)).sum()
    }

    /// Maximum-likelihood fit. Errors on mismatched lengths or impossible values (t_x > T, a
    /// fractional x) and when the optimizer fails.
    pub fn fit(x: &[f64], tx: &[f64], t: &[f64]) -> Result<Fit<BgNbd>> {
        check_rfm(x, tx, t)?;
        let start = Instant::now();
        let nll = |p: &[f64]| {
            -BgNbd { r: p[0].exp(), alpha: p[1].exp(), a: p[2].exp(), b: p[3].exp() }.log_likelihood(x, tx, t)
        };
        let (p, value, evaluations) = minimize(&nll, &[0.0; 4])?;
        Ok(Fit {
            params: BgNbd { r: p[0].exp(), alpha: p[1].exp(), a: p[2].exp(), b: p[3].exp() },
            log_likelihood: -value,
            evaluations,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// P(the customer is still active at `t`) given `x` repeats with the last at `tx`. It is 1 for
    /// one-time buyers (in BG/NBD a customer can only drop out right after a purchase), so it is
    /// not a churn score for them.
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        1.0 / (1.0 + self.odds_dead(x, tx, t))
    }

    fn odds_dead(&self, x: f64, tx: f64, t: f64) -> f64 {
        if x > 0.0 {
            self.a / (self.b + x - 1.0) * ((self.alpha + t) / (self.alpha + tx)).powf(self.r + x)
        } else {
            0.0
        }
    }

    /// Expected number of purchases in the next `horizon` weeks (after `t`) of a customer with
    /// history `(x, tx, t)` (Fader, Hardie & Lee 2005, eq. 10).
    ///
    /// ```
    /// use propensity::cdnow::btyd::BgNbd;
    /// // Fader, Hardie & Lee's CDNOW-sample estimates; their worked example expects 1.226
    /// // purchases in 39 weeks for x = 2, t_x = 30.43, T = 38.86.
    /// let m = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    /// assert!((m.expected_transactions(39.0, 2.0, 30.43, 38.86) - 1.226).abs() < 1e-3);
    /// ```
    pub fn expected_transactions(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let z = horizon / (alpha + t + horizon);
        let hyp = hyp2f1(r + x, b + x, a + b + x - 1.0, z);
        let num = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ((alpha + t) / (alpha + t + horizon)).powf(r + x) * hyp);
        num / (1.0 + self.odds_dead(x, tx, t))
    }

    /// P(at least one purchase in the next `horizon` weeks) = P(alive) · (1 − ((α+T)/(α+T+h))^(r+x)).
    pub fn p_any(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        self.p_alive(x, tx, t) * (1.0 - ((self.alpha + t) / (self.alpha + t + horizon)).powf(self.r + x))
    }
}

impl GammaGamma {
    /// Log-likelihood of one customer with `x` repeat purchases of mean value `m` (both > 0).
    pub fn customer_log_likelihood(&self, x: f64, m: f64) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let px = p * x;
        ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * v.ln() + (px - 1.0) * m.ln() + px * x.ln()
            - (px + q) * (x * m + v).ln()
    }

    /// Total log-likelihood.
    pub fn log_likelihood(&self, x: &[f64], m: &[f64]) -> f64 {
        x.iter().zip(m).map(|(&x, &m)| self.customer_log_likelihood(x, m)).sum()
    }

    /// Maximum-likelihood fit on customers with `x > 0` repeats and mean repeat spend `m > 0`
    /// (others are an error: select the repeaters first).
    ///
    /// ```
    /// use propensity::cdnow::btyd::GammaGamma;
    /// let (x, m) = ([1.0, 2.0, 4.0, 1.0, 3.0], [20.0, 35.0, 28.0, 12.0, 60.0]);
    /// let fit = GammaGamma::fit(&x, &m).unwrap();
    /// assert!(fit.log_likelihood >= GammaGamma { p: 1.0, q: 1.0, v: 1.0 }.log_likelihood(&x, &m));
    /// assert!(GammaGamma::fit(&[0.0], &[10.0]).is_err());
    /// ```
    pub fn fit(x: &[f64], m: &[f64]) -> Result<Fit<GammaGamma>> {
        if x.len() != m.len() || x.is_empty() {
            return Err(Error::Data(format!("x and m need one value per customer; got {} and {}", x.len(), m.len())));
        }
        if let Some(i) = (0..x.len()).find(|&i| !(x[i] > 0.0 && m[i] > 0.0 && m[i].is_finite() && x[i].is_finite())) {
            return Err(Error::Data(format!(
                "Gamma-Gamma needs repeaters with positive spend; customer {i} has x = {}, m = {}",
                x[i], m[i]
            )));
        }
        let start = Instant::now();
        let sums = GgSums::new(x, m);
        let nll = |p: &[f64]| -sums.log_likelihood(&GammaGamma { p: p[0].exp(), q: p[1].exp(), v: p[2].exp() });
        let (p, value, evaluations) = minimize(&nll, &[0.0; 3])?;
        Ok(Fit {
            params: GammaGamma { p: p[0].exp(), q: p[1].exp(), v: p[2].exp() },
            log_likelihood: -value,
            evaluations,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Expected mean spend per transaction of a customer with `x` repeats of mean value `m`; the
    /// population mean p·v/(q − 1) when `x` is 0.
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        self.p * (self.v + x * m) / (self.p * x + self.q - 1.0)
    }
}

/// BG/NBD fitted on every customer's calibration `(x, t_x, T)` and Gamma-Gamma on the repeaters
/// with positive mean spend, with their per-customer predictions for the holdout period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Btyd {
    /// The BG/NBD fit.
    pub bgnbd: Fit<BgNbd>,
    /// The Gamma-Gamma fit.
    pub gamma_gamma: Fit<GammaGamma>,
    /// Customers the Gamma-Gamma model was fitted on.
    pub gamma_gamma_customers: usize,
    /// Holdout length in weeks.
    pub horizon: f64,
    /// Expected purchase days in the holdout, per customer (table order).
    pub expected_transactions: Vec<f64>,
    /// P(alive) at the end of calibration.
    pub p_alive: Vec<f64>,
    /// P(at least one purchase in the holdout).
    pub p_any: Vec<f64>,
    /// Expected spend per purchase (Gamma-Gamma).
    pub expected_value: Vec<f64>,
    /// Expected holdout spend = expected transactions × expected value.
    pub expected_spend: Vec<f64>,
}

impl Btyd {
    /// Fits both models on the calibration period of `customers` (no holdout data is used) and
    /// predicts the holdout.
    pub fn fit(customers: &super::Customers) -> Result<Btyd> {
        let (x, tx, t) =
            (customers.column(|c| c.frequency), customers.column(|c| c.recency), customers.column(|c| c.t));
        let m = customers.column(|c| c.monetary);
        let bgnbd = BgNbd::fit(&x, &tx, &t)?;
        let rep: Vec<usize> = (0..x.len()).filter(|&i| x[i] > 0.0 && m[i] > 0.0).collect();
        let gamma_gamma = GammaGamma::fit(
            &rep.iter().map(|&i| x[i]).collect::<Vec<_>>(),
            &rep.iter().map(|&i| m[i]).collect::<Vec<_>>(),
        )?;
        let (b, g, h) = (bgnbd.params, gamma_gamma.params, customers.protocol.holdout_weeks());
        let expected_transactions: Vec<f64> =
            (0..x.len()).map(|i| b.expected_transactions(h, x[i], tx[i], t[i])).collect();
        let expected_value: Vec<f64> = (0..x.len()).map(|i| g.expected_spend(x[i], m[i])).collect();
        Ok(Btyd {
            gamma_gamma_customers: rep.len(),
            horizon: h,
            p_alive: (0..x.len()).map(|i| b.p_alive(x[i], tx[i], t[i])).collect(),
            p_any: (0..x.len()).map(|i| b.p_any(h, x[i], tx[i], t[i])).collect(),
            expected_spend: expected_transactions.iter().zip(&expected_value).map(|(a, b)| a * b).collect(),
            expected_transactions,
            expected_value,
            bgnbd,
            gamma_gamma,
        })
    }

    /// Fader and Hardie's conditional-expectation check ([`holdout_chart`]) of the holdout.
    pub fn frequency_chart(&self, customers: &super::Customers) -> Result<crate::plot::Svg> {
        holdout_chart(
            &customers.column(|c| c.frequency),
            &customers.column(|c| c.n_holdout),
            &self.expected_transactions,
            self.horizon,
        )
    }

    /// The parameter table (for a notebook).
    pub fn parameter_table(&self) -> crate::display::HtmlTable {
        let (b, g) = (self.bgnbd.params, self.gamma_gamma.params);
        let mut t = crate::display::HtmlTable::new(
            "Maximum-likelihood estimates (time in weeks)",
            &["model", "parameters", "log-likelihood", "evaluations", "fit time"],
        );
        t.push(vec![
            "BG/NBD".into(),
            format!("r = {:.6}, α = {:.6}, a = {:.6}, b = {:.6}", b.r, b.alpha, b.a, b.b),
            format!("{:.3}", self.bgnbd.log_likelihood),
            self.bgnbd.evaluations.to_string(),
            format!("{:.2} s", self.bgnbd.seconds),
        ]);
        t.push(vec![
            format!("Gamma-Gamma ({} repeaters)", self.gamma_gamma_customers),
            format!("p = {:.6}, q = {:.6}, v = {:.6}", g.p, g.q, g.v),
            format!("{:.3}", self.gamma_gamma.log_likelihood),
            self.gamma_gamma.evaluations.to_string(),
            format!("{:.2} s", self.gamma_gamma.seconds),
        ]);
        t
    }
}

/// Fader and Hardie's conditional-expectation check: customers grouped by calibration repeat
/// days `frequency` (0, 1, …, 6, 7+), mean `actual` holdout purchase days beside the mean
/// `expected` ones, over a holdout of `weeks`.
pub fn holdout_chart(frequency: &[f64], actual: &[f64], expected: &[f64], weeks: f64) -> Result<crate::plot::Svg> {
    let (mut n, mut a, mut e) = ([0.0; 8], [0.0; 8], [0.0; 8]);
    for ((f, y), m) in frequency.iter().zip(actual).zip(expected) {
        let g = (*f as usize).min(7);
        n[g] += 1.0;
        a[g] += y;
        e[g] += m;
    }
    let groups: Vec<String> = (0..8).map(|g| if g == 7 { "7+".into() } else { g.to_string() }).collect();
    let mean = |v: [f64; 8]| (0..8).map(|g| if n[g] > 0.0 { v[g] / n[g] } else { 0.0 }).collect::<Vec<_>>();
    crate::plot::bar_chart(
        "Holdout purchase days by calibration repeat days: actual vs BG/NBD",
        &format!("mean purchase days in the {weeks:.0}-week holdout"),
        &groups,
        &[("actual".into(), mean(a)), ("BG/NBD expected".into(), mean(e))],
    )
}

/// The Gamma-Gamma log-likelihood with everything that does not change with the parameters summed
/// once: the log-gamma terms depend on a customer only through `x` (a few dozen distinct values),
/// so they are evaluated per distinct `x`; only `ln(x·m + v)` stays per customer.
struct GgSums<'a> {
    x: &'a [f64],
    xm: Vec<f64>,
    /// Distinct x and how many customers have it.
    groups: Vec<(f64, f64)>,
    /// Σ x ln m, Σ ln m, Σ x ln x.
    x_ln_m: f64,
    ln_m: f64,
    x_ln_x: f64,
}

impl<'a> GgSums<'a> {
    fn new(x: &'a [f64], m: &[f64]) -> GgSums<'a> {
        let mut sorted = x.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut groups: Vec<(f64, f64)> = Vec::new();
        for v in sorted {
            match groups.last_mut() {
                Some(g) if g.0 == v => g.1 += 1.0,
                _ => groups.push((v, 1.0)),
            }
        }
        GgSums {
            x,
            xm: x.iter().zip(m).map(|(x, m)| x * m).collect(),
            groups,
            x_ln_m: x.iter().zip(m).map(|(x, m)| x * m.ln()).sum(),
            ln_m: m.iter().map(|m| m.ln()).sum(),
            x_ln_x: x.iter().map(|x| x * x.ln()).sum(),
        }
    }

    fn log_likelihood(&self, g: &GammaGamma) -> f64 {
        let GammaGamma { p, q, v } = *g;
        let n = self.x.len() as f64;
        let gammas: f64 = self.groups.iter().map(|&(x, k)| k * (ln_gamma(p * x + q) - ln_gamma(p * x))).sum();
        let tail: f64 = self.x.iter().zip(&self.xm).map(|(x, xm)| (p * x + q) * (xm + v).ln()).sum();
        gammas - n * ln_gamma(q) + n * q * v.ln() + p * self.x_ln_m - self.ln_m + p * self.x_ln_x - tail
    }
}

/// Gauss' hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1, by its power series.
///
/// ```
/// use propensity::cdnow::btyd::hyp2f1;
/// // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z
/// assert!((hyp2f1(1.0, 1.0, 2.0, 0.5) - 2f64.ln() / 0.5).abs() < 1e-12);
/// ```
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut sum) = (1.0f64, 1.0f64);
    for k in 0..1_000_000u32 {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-16 * sum.abs() {
            break;
        }
    }
    sum
}

/// A cost function of a parameter vector, for argmin.
struct Objective<'a, F: Fn(&[f64]) -> f64>(&'a F, &'a std::sync::atomic::AtomicU64);

impl<F: Fn(&[f64]) -> f64> CostFunction for Objective<'_, F> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let v = (self.0)(p);
        Ok(if v.is_finite() { v } else { f64::INFINITY })
    }
}

/// Nelder-Mead from `start` (simplex steps of 0.5 in each coordinate) until the spread of the
/// simplex values is below 1e-14 of the value, restarted from the best point with a fresh simplex
/// until a restart gains less than that: the usual cure for a simplex that collapsed early.
/// Returns the minimizer, the minimum and the number of evaluations.
fn minimize(f: &impl Fn(&[f64]) -> f64, start: &[f64]) -> Result<(Vec<f64>, f64, u64)> {
    let counter = std::sync::atomic::AtomicU64::new(1);
    let (mut best, mut value) = (start.to_vec(), f(start));
    if !value.is_finite() {
        return Err(Error::Data("the log-likelihood is not finite at the starting point".into()));
    }
    let tolerance = 1e-14 * value.abs().max(1.0);
    for _ in 0..20 {
        let mut simplex = vec![best.clone()];
        for i in 0..best.len() {
            let mut p = best.clone();
            p[i] += 0.5;
            simplex.push(p);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(tolerance)
            .map_err(|e| Error::Data(format!("Nelder-Mead setup: {e}")))?;
        let res = Executor::new(Objective(f, &counter), solver)
            .configure(|s| s.max_iters(20_000))
            .run()
            .map_err(|e| Error::Data(format!("Nelder-Mead: {e}")))?;
        let state = res.state();
        let (p, v) = (state.get_best_param().cloned().unwrap_or_else(|| best.clone()), state.get_best_cost());
        if !v.is_finite() {
            return Err(Error::Data("the log-likelihood is not finite anywhere the optimizer looked".into()));
        }
        let gain = value - v;
        if v < value {
            best = p;
            value = v;
        }
        if gain < tolerance {
            break;
        }
    }
    Ok((best, value, counter.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rising_factorial_matches_log_gamma() {
        for (c, n) in [(0.25, 0.0), (0.25, 1.0), (2.16, 7.0), (0.72, 30.0)] {
            assert!((ln_rising(c, n) - (ln_gamma(c + n) - ln_gamma(c))).abs() < 1e-10);
        }
    }

    #[test]
    fn grouped_gamma_gamma_likelihood_equals_the_per_customer_sum() {
        let (x, m) = ([1.0, 2.0, 2.0, 5.0, 1.0], [20.0, 35.5, 28.0, 12.25, 60.0]);
        let g = GammaGamma { p: 6.3, q: 3.6, v: 15.0 };
        assert!((GgSums::new(&x, &m).log_likelihood(&g) - g.log_likelihood(&x, &m)).abs() < 1e-9);
    }

    #[test]
    fn bad_rfm_is_refused() {
        assert!(BgNbd::fit(&[1.0], &[5.0], &[4.0]).is_err()); // t_x > T
        assert!(BgNbd::fit(&[1.5], &[1.0], &[4.0]).is_err()); // fractional x
        assert!(BgNbd::fit(&[1.0, 2.0], &[1.0], &[4.0]).is_err());
    }

    #[test]
    fn fit_recovers_simulated_parameters() {
        use rand::SeedableRng;
        use rand_distr::{Beta, Distribution, Exp, Gamma};
        // simulate the BG/NBD story for 4,000 customers observed 40 weeks
        let truth = BgNbd { r: 0.8, alpha: 5.0, a: 0.9, b: 3.0 };
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let (mut x, mut tx, mut t) = (vec![], vec![], vec![]);
        for _ in 0..4000 {
            let lambda = Gamma::new(truth.r, 1.0 / truth.alpha).unwrap().sample(&mut rng);
            let p = Beta::new(truth.a, truth.b).unwrap().sample(&mut rng);
            let (mut now, mut n, mut last) = (0.0, 0.0, 0.0);
            loop {
                now += Exp::new(lambda).unwrap().sample(&mut rng);
                if now > 40.0 {
                    break;
                }
                n += 1.0;
                last = now;
                if rand::Rng::gen::<f64>(&mut rng) < p {
                    break;
                }
            }
            x.push(n);
            tx.push(last);
            t.push(40.0);
        }
        let fit = BgNbd::fit(&x, &tx, &t).unwrap();
        let m = fit.params;
        assert!((m.r - 0.8).abs() < 0.15 && (m.alpha - 5.0).abs() < 1.5, "{m:?}");
        assert!(fit.log_likelihood >= truth.log_likelihood(&x, &tx, &t));
    }
}
