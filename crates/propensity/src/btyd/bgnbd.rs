//! BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while active, a
//! customer buys at rate λ ~ Gamma(r, α); after each purchase they drop out with probability
//! p ~ Beta(a, b).

use serde::{Deserialize, Serialize};

use super::dual::{hyp2f1, Real};
use super::fit::{self, Fit, Model};
use super::Summary;
use crate::Result;

/// The four BG/NBD parameters (time in the data's unit, weeks in this crate's reports).
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

impl Model<4> for BgNbd {
    const NAME: &'static str = "BG/NBD";
    const PARAMETERS: [&'static str; 4] = ["r", "alpha", "a", "b"];
    const RATES: &'static [usize] = &[1];
    fn from_array([r, alpha, a, b]: [f64; 4]) -> Self {
        BgNbd { r, alpha, a, b }
    }
    fn to_array(&self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }
    /// A₁ + A₂ of lifetimes' `BetaGeoFitter._negative_log_likelihood`.
    fn frequency_term<S: Real>(&[r, alpha, a, b]: &[S; 4], x: f64) -> S {
        let a1 = (r + x).ln_gamma() - r.ln_gamma() + r * alpha.ln();
        a1 + (a + b).ln_gamma() + (b + x).ln_gamma() - b.ln_gamma() - (a + b + x).ln_gamma()
    }
    /// ln(e^A₃ + e^A₄), the second term only for x > 0.
    fn row_term<S: Real>(&[r, alpha, a, b]: &[S; 4], &[x, tx, t]: &[f64; 3]) -> S {
        let a3 = -(r + x) * (alpha + t).ln();
        if x > 0.0 {
            a3.log_add_exp(a.ln() - (b + (x - 1.0)).ln() - (r + x) * (alpha + tx).ln())
        } else {
            a3
        }
    }
    const SHARES: bool = true;
    /// ln a − ln(b + x − 1), the frequency part of A₄.
    fn frequency_shared<S: Real>(&[_, _, a, b]: &[S; 4], x: f64) -> S {
        if x > 0.0 {
            a.ln() - (b + (x - 1.0)).ln()
        } else {
            S::cst(0.0)
        }
    }
    /// ln(α + v).
    fn time_shared<S: Real>(&[_, alpha, _, _]: &[S; 4], v: f64) -> S {
        (alpha + v).ln()
    }
    /// A₃ + ln(1 + e^(A₄ − A₃)), the same sum with one exponential.
    fn row_term_shared<S: Real>(&[r, _, _, _]: &[S; 4], &[x, _, _]: &[f64; 3], by_x: S, at_tx: S, at_t: S) -> S {
        let a3 = -(r + x) * at_t;
        if x > 0.0 {
            a3 + (by_x + (r + x) * (at_t - at_tx)).softplus()
        } else {
            a3
        }
    }
    fn unidentified(data: &Summary) -> Option<String> {
        (data.repeaters() == 0.0).then(|| "no customer made a repeat purchase".to_string())
    }
}

impl BgNbd {
    /// Maximum-likelihood fit ([`fit::fit`]).
    pub fn fit(data: &Summary) -> Result<Fit<BgNbd>> {
        fit::fit(data)
    }

    /// Total log-likelihood of `data`.
    pub fn log_likelihood(&self, data: &Summary) -> f64 {
        fit::log_likelihood(self, data)
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

    /// Expected number of purchases in the next `horizon` (after `t`) of a customer with history
    /// `(x, tx, t)` (Fader, Hardie & Lee 2005, eq. 10).
    ///
    /// ```
    /// use propensity::btyd::BgNbd;
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

    /// P(at least one purchase in the next `horizon`) = P(alive) · (1 − ((α+T)/(α+T+h))^(r+x)).
    pub fn p_any(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        p_any_if_alive(self.p_alive(x, tx, t), self.r, self.alpha, horizon, x, t)
    }

    /// Expected repeat purchases of a new customer in their first `t` (eq. 9): the model's
    /// tracking curve.
    pub fn expected_from_first(&self, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let hyp = hyp2f1(r, b, a + b - 1.0, t / (alpha + t));
        (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)).powf(r) * hyp)
    }

    /// P(a new customer makes exactly `x` repeat purchases in their first `t`) (eq. 8;
    /// lifetimes' `probability_of_n_purchases_up_to_time`).
    ///
    /// ```
    /// use propensity::btyd::BgNbd;
    /// let m = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    /// let total: f64 = (0..200).map(|x| m.p_purchases(x, 38.86)).sum();
    /// assert!((total - 1.0).abs() < 1e-9);
    /// ```
    pub fn p_purchases(&self, x: u32, t: f64) -> f64 {
        super::counts::p_count_geometric(self.r, self.alpha, self.a, self.b, false, t, x)
    }
}

/// P(at least one purchase in the next `horizon`) of a customer alive with probability `alive`
/// whose purchase rate, given `x` repeats by age `t`, is Gamma(r + x, α + t) — BG/NBD and
/// MBG/NBD, where a customer can only drop out right after a purchase: alive, and the
/// Poisson-gamma count is not 0.
pub(super) fn p_any_if_alive(alive: f64, r: f64, alpha: f64, horizon: f64, x: f64, t: f64) -> f64 {
    alive * (1.0 - ((alpha + t) / (alpha + t + horizon)).powf(r + x))
}
