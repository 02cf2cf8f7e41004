//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987): while active a customer buys at rate
//! λ ~ Gamma(r, α); their lifetime is exponential with rate μ ~ Gamma(s, β), so they can drop out
//! at any moment. The likelihood and predictions follow Fader & Hardie's derivation notes (009 and
//! 028) as lifetimes implements them.

use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

use super::dual::{hyp2f1, Real};
use super::fit::{self, Fit, Model};
use super::Summary;
use crate::Result;

/// The four Pareto/NBD parameters (time in the data's unit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbd {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Scale (rate) of the purchase-rate gamma.
    pub alpha: f64,
    /// Shape of the dropout-rate gamma.
    pub s: f64,
    /// Scale (rate) of the dropout-rate gamma.
    pub beta: f64,
}

/// ln A₀ of note 009 (eqs. 19–20): the part of the likelihood of dropping out between t_x and T.
fn log_a0<S: Real>(r: S, alpha: S, s: S, beta: S, x: f64, tx: f64, t: f64) -> S {
    let (lo, hi, second) = if alpha.value() < beta.value() { (alpha, beta, r + x) } else { (beta, alpha, s + 1.0) };
    let gap = hi - lo;
    let rsx = r + s + x;
    let (q1, q2) = (hi + tx, hi + t);
    let p1 = hyp2f1(rsx, second, rsx + 1.0, gap / q1);
    let p2 = hyp2f1(rsx, second, rsx + 1.0, gap / q2);
    // ln(p1·q2^rsx − p2·q1^rsx) − rsx ln(q1 q2); the difference is 0 when t_x = T
    let (u, v) = (p1.ln() + rsx * q2.ln(), p2.ln() + rsx * q1.ln());
    let diff = if u.value() > v.value() { u + (-(v - u).exp() + 1.0).ln() } else { S::cst(f64::NEG_INFINITY) };
    diff - rsx * (q1.ln() + q2.ln())
}

impl Model<4> for ParetoNbd {
    const NAME: &'static str = "Pareto/NBD";
    const PARAMETERS: [&'static str; 4] = ["r", "alpha", "s", "beta"];
    const RATES: &'static [usize] = &[1, 3];
    /// Two hypergeometric series per customer make an exact Hessian cost several gradients:
    /// L-BFGS steps, the exact Hessian at the estimate only.
    const NEWTON: bool = false;
    fn from_array([r, alpha, s, beta]: [f64; 4]) -> Self {
        ParetoNbd { r, alpha, s, beta }
    }
    fn to_array(&self) -> [f64; 4] {
        [self.r, self.alpha, self.s, self.beta]
    }
    /// A₁ of lifetimes' `ParetoNBDFitter._conditional_log_likelihood` (note 009, eq. 18).
    fn frequency_term<S: Real>(&[r, alpha, s, beta]: &[S; 4], x: f64) -> S {
        (r + x).ln_gamma() - r.ln_gamma() + r * alpha.ln() + s * beta.ln()
    }
    /// A₂: alive at T, or dropped out between t_x and T.
    fn row_term<S: Real>(&[r, alpha, s, beta]: &[S; 4], &[x, tx, t]: &[f64; 3]) -> S {
        let alive = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
        let a0 = log_a0(r, alpha, s, beta, x, tx, t);
        if a0.value() == f64::NEG_INFINITY {
            return alive;
        }
        alive.log_add_exp(s.ln() + a0 - (r + s + x).ln())
    }
    fn unidentified(data: &Summary) -> Option<String> {
        (data.repeaters() == 0.0).then(|| "no customer made a repeat purchase".to_string())
    }
}

impl ParetoNbd {
    /// Maximum-likelihood fit ([`fit::fit`]).
    pub fn fit(data: &Summary) -> Result<Fit<ParetoNbd>> {
        fit::fit(data)
    }

    /// Total log-likelihood of `data`.
    pub fn log_likelihood(&self, data: &Summary) -> f64 {
        fit::log_likelihood(self, data)
    }

    fn row(&self, x: f64, tx: f64, t: f64) -> f64 {
        Self::row_log_likelihood(&self.to_array(), &[x, tx, t])
    }

    /// P(alive at `t`) given `x` repeats with the last at `tx` (note 009, eq. 37).
    ///
    /// ```
    /// use propensity::btyd::ParetoNbd;
    /// let m = ParetoNbd { r: 0.55, alpha: 10.58, s: 0.61, beta: 11.67 };
    /// // the longer since the last purchase, the less likely alive
    /// assert!(m.p_alive(3.0, 30.0, 38.0) > m.p_alive(3.0, 10.0, 38.0));
    /// ```
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let a0 = log_a0(r, alpha, s, beta, x, tx, t);
        1.0 / (1.0 + (s.ln() - (r + s + x).ln() + (r + x) * (alpha + t).ln() + s * (beta + t).ln() + a0).exp())
    }

    /// Expected purchases in the next `horizon` (note 009, eq. 41). Needs s ≠ 1.
    pub fn expected_transactions(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let first = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln()
            - (r + x) * (alpha + t).ln()
            - s * (beta + t).ln();
        let second = (r + x).ln() + (beta + t).ln() - (alpha + t).ln();
        let third = ((1.0 - ((beta + t) / (beta + t + horizon)).powf(s - 1.0)) / (s - 1.0)).ln();
        (first + second + third - self.row(x, tx, t)).exp()
    }

    /// P(at least one purchase in the next `horizon`) = 1 − P(X(T, T + horizon) = 0) (Fader & Hardie
    /// note 028, eq. 16 at n = 0, as lifetimes' `conditional_probability_of_n_purchases_up_to_time`).
    pub fn p_any(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (lo, hi, p) = if alpha < beta { (alpha, beta, r + x) } else { (beta, alpha, s + 1.0) };
        let gap = hi - lo;
        let log_l = self.row(x, tx, t);
        let prior = r * alpha.ln() + s * beta.ln();
        let log_alive = ln_gamma(r + x) + prior - (ln_gamma(r) + (r + x) * (alpha + t).ln() + s * (beta + t).ln());
        let b1 = ln_gamma(r + x) + prior
            - (ln_gamma(r) + (r + x) * (alpha + t + horizon).ln() + s * (beta + t + horizon).ln());
        let ln_b = |a: f64, b: f64| ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
        let b_at = |age: f64| {
            prior
                + ln_gamma(r + s + x)
                + ln_b(r + x, s + 1.0)
                + hyp2f1(r + s + x, p, r + s + x + 1.0, gap / (hi + age)).ln()
                - (ln_gamma(r) + ln_gamma(s) + (r + s + x) * (hi + age).ln())
        };
        let p_zero = 1.0 - (log_alive - log_l).exp() + (b1 - log_l).exp() + (b_at(t) - log_l).exp()
            - (b_at(t + horizon) - log_l).exp();
        (1.0 - p_zero).clamp(0.0, 1.0)
    }

    /// Expected repeat purchases of a new customer in their first `t` (note 009, eq. 27).
    pub fn expected_from_first(&self, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        r * beta / alpha / (s - 1.0) * (1.0 - (beta / (beta + t)).powf(s - 1.0))
    }

    /// P(a new customer makes exactly `x` repeat purchases in their first `t`), by quadrature
    /// over the dropout time.
    pub fn p_purchases(&self, x: u32, t: f64) -> f64 {
        super::counts::p_count_pareto(self.r, self.alpha, self.s, self.beta, t, x)
    }
}
