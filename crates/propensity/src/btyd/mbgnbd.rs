//! Modified BG/NBD (Batislam, Denizel & Filiztekin 2007): BG/NBD where a customer can also drop
//! out right after the first purchase, so a one-time buyer is not certainly alive.

use serde::{Deserialize, Serialize};

use super::dual::{hyp2f1, Real};
use super::fit::{self, Fit, Model};
use super::Summary;
use crate::Result;

/// The four MBG/NBD parameters, as in [`super::BgNbd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModifiedBgNbd {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Scale (rate) of the purchase-rate gamma.
    pub alpha: f64,
    /// Beta dropout parameter a.
    pub a: f64,
    /// Beta dropout parameter b.
    pub b: f64,
}

impl Model<4> for ModifiedBgNbd {
    const NAME: &'static str = "MBG/NBD";
    const PARAMETERS: [&'static str; 4] = ["r", "alpha", "a", "b"];
    const RATES: &'static [usize] = &[1];
    fn from_array([r, alpha, a, b]: [f64; 4]) -> Self {
        ModifiedBgNbd { r, alpha, a, b }
    }
    fn to_array(&self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }
    /// A₁ + A₂ of lifetimes' `ModifiedBetaGeoFitter._negative_log_likelihood`.
    fn frequency_term<S: Real>(&[r, alpha, a, b]: &[S; 4], x: f64) -> S {
        let a1 = (r + x).ln_gamma() - r.ln_gamma() + r * alpha.ln();
        a1 + (a + b).ln_gamma() + (b + (x + 1.0)).ln_gamma() - b.ln_gamma() - (a + b + (x + 1.0)).ln_gamma()
    }
    /// A₃ + ln(1 + e^A₄).
    fn row_term<S: Real>(&[r, alpha, a, b]: &[S; 4], &[x, tx, t]: &[f64; 3]) -> S {
        let ln_at = (alpha + t).ln();
        let a4 = a.ln() - (b + x).ln() + (r + x) * (ln_at - (alpha + tx).ln());
        -(r + x) * ln_at + a4.softplus()
    }
    const SHARES: bool = true;
    /// ln a − ln(b + x), the frequency part of A₄.
    fn frequency_shared<S: Real>(&[_, _, a, b]: &[S; 4], x: f64) -> S {
        a.ln() - (b + x).ln()
    }
    /// ln(α + v).
    fn time_shared<S: Real>(&[_, alpha, _, _]: &[S; 4], v: f64) -> S {
        (alpha + v).ln()
    }
    fn row_term_shared<S: Real>(&[r, _, _, _]: &[S; 4], &[x, _, _]: &[f64; 3], by_x: S, at_tx: S, at_t: S) -> S {
        -(r + x) * at_t + (by_x + (r + x) * (at_t - at_tx)).softplus()
    }
    fn unidentified(data: &Summary) -> Option<String> {
        (data.repeaters() == 0.0).then(|| "no customer made a repeat purchase".to_string())
    }
}

impl ModifiedBgNbd {
    /// Maximum-likelihood fit ([`fit::fit`]).
    pub fn fit(data: &Summary) -> Result<Fit<ModifiedBgNbd>> {
        fit::fit(data)
    }

    /// Total log-likelihood of `data`.
    pub fn log_likelihood(&self, data: &Summary) -> f64 {
        fit::log_likelihood(self, data)
    }

    fn odds_dead(&self, x: f64, tx: f64, t: f64) -> f64 {
        self.a / (self.b + x) * ((self.alpha + t) / (self.alpha + tx)).powf(self.r + x)
    }

    /// P(alive at `t`) given `x` repeats with the last at `tx` (below 1 for one-time buyers too).
    ///
    /// ```
    /// use propensity::btyd::ModifiedBgNbd;
    /// let m = ModifiedBgNbd { r: 0.25, alpha: 4.0, a: 0.8, b: 2.5 };
    /// assert!(m.p_alive(0.0, 0.0, 30.0) < 1.0);
    /// ```
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        1.0 / (1.0 + self.odds_dead(x, tx, t))
    }

    /// Expected purchases in the next `horizon` (lifetimes'
    /// `conditional_expected_number_of_purchases_up_to_time`).
    pub fn expected_transactions(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        let ModifiedBgNbd { r, alpha, a, b } = *self;
        let hyp = hyp2f1(r + x, b + x + 1.0, a + b + x, horizon / (alpha + t + horizon));
        let num = (a + b + x) / (a - 1.0) * (1.0 - hyp * ((alpha + t) / (alpha + t + horizon)).powf(r + x));
        num / (1.0 + self.odds_dead(x, tx, t))
    }

    /// P(at least one purchase in the next `horizon`): alive, and the Poisson-gamma count is not 0.
    pub fn p_any(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        super::bgnbd::p_any_if_alive(self.p_alive(x, tx, t), self.r, self.alpha, horizon, x, t)
    }

    /// Expected repeat purchases of a new customer in their first `t`.
    pub fn expected_from_first(&self, t: f64) -> f64 {
        let ModifiedBgNbd { r, alpha, a, b } = *self;
        let hyp = hyp2f1(r, b + 1.0, a + b, t / (alpha + t));
        b / (a - 1.0) * (1.0 - hyp * (alpha / (alpha + t)).powf(r))
    }

    /// P(a new customer makes exactly `x` repeat purchases in their first `t`) (lifetimes'
    /// `probability_of_n_purchases_up_to_time`).
    pub fn p_purchases(&self, x: u32, t: f64) -> f64 {
        super::counts::p_count_geometric(self.r, self.alpha, self.a, self.b, true, t, x)
    }
}
