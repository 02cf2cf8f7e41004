//! BG/BB (Fader, Hardie & Shang 2010): customers with discrete transaction opportunities (an
//! annual donation, a yearly renewal, a weekly visit). While active a customer transacts at each
//! opportunity with probability p ~ Beta(α, β); before each opportunity they drop out with
//! probability θ ~ Beta(γ, δ).

use serde::{Deserialize, Serialize};

use super::dual::Real;
use super::fit::{self, Fit, Model};
use super::Summary;
use crate::{Error, Result};

/// The four BG/BB parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgBb {
    /// Beta transaction parameter α.
    pub alpha: f64,
    /// Beta transaction parameter β.
    pub beta: f64,
    /// Beta dropout parameter γ.
    pub gamma: f64,
    /// Beta dropout parameter δ.
    pub delta: f64,
}

impl Model<4> for BgBb {
    const NAME: &'static str = "BG/BB";
    const PARAMETERS: [&'static str; 4] = ["alpha", "beta", "gamma", "delta"];
    const RATES: &'static [usize] = &[];
    fn from_array([alpha, beta, gamma, delta]: [f64; 4]) -> Self {
        BgBb { alpha, beta, gamma, delta }
    }
    fn to_array(&self) -> [f64; 4] {
        [self.alpha, self.beta, self.gamma, self.delta]
    }
    /// lifetimes' `BetaGeoBetaBinomFitter._loglikelihood` (Fader, Hardie & Shang 2010, eq. 5),
    /// summed in logs.
    fn row_term<S: Real>(&[alpha, beta, gamma, delta]: &[S; 4], &[x, tx, n]: &[f64; 3]) -> S {
        let (b_ab, b_gd) = (alpha.ln_beta(beta), gamma.ln_beta(delta));
        let mut ll = (alpha + x).ln_beta(beta + (n - x)) - b_ab + gamma.ln_beta(delta + n) - b_gd;
        for j in 0..(n - tx) as u64 {
            let j = j as f64;
            let term = (alpha + x).ln_beta(beta + (tx - x + j)) + (gamma + 1.0).ln_beta(delta + (tx + j)) - b_gd - b_ab;
            ll = ll.log_add_exp(term);
        }
        ll
    }
    fn unidentified(data: &Summary) -> Option<String> {
        (data.repeaters() == 0.0).then(|| "no customer transacted at any opportunity".to_string())
    }
}

impl BgBb {
    /// Groups a discrete-time summary: `x` transactions in `n` opportunities, the last at
    /// opportunity `tx` (0 without transactions), `weights[i]` customers with row i. Errors name
    /// the row.
    ///
    /// ```
    /// use propensity::btyd::BgBb;
    /// let s = BgBb::summary(&[6.0, 0.0], &[6.0, 0.0], &[6.0, 6.0], &[1203.0, 3464.0]).unwrap();
    /// assert_eq!(s.customers(), 4667.0);
    /// assert!(BgBb::summary(&[3.0], &[2.0], &[6.0], &[1.0]).is_err()); // 3 transactions by opportunity 2
    /// ```
    pub fn summary(x: &[f64], tx: &[f64], n: &[f64], weights: &[f64]) -> Result<Summary> {
        let s = Summary::weighted(x, tx, n, weights)?;
        for (i, r) in s.rows.iter().enumerate() {
            if r[1] < r[0] || r[2].fract() != 0.0 || r[1].fract() != 0.0 {
                return Err(Error::Data(format!(
                    "BG/BB needs whole opportunities with frequency ≤ recency ≤ n; found frequency {}, recency {}, n {} \
                     (group {})",
                    r[0],
                    r[1],
                    r[2],
                    i + 1
                )));
            }
        }
        Ok(s)
    }

    /// Maximum-likelihood fit ([`fit::fit`]).
    ///
    /// ```
    /// use propensity::btyd::BgBb;
    /// // Fader, Hardie & Shang (2010), table 1: 11,104 donors, 6 annual opportunities (1996–2001)
    /// let rows = [(6, 6, 1203), (5, 6, 728), (4, 6, 512), (3, 6, 357), (2, 6, 234), (1, 6, 129), (5, 5, 335),
    ///     (4, 5, 284), (3, 5, 225), (2, 5, 173), (1, 5, 119), (4, 4, 240), (3, 4, 181), (2, 4, 155),
    ///     (1, 4, 78), (3, 3, 322), (2, 3, 255), (1, 3, 129), (2, 2, 613), (1, 2, 277), (1, 1, 1091), (0, 0, 3464)];
    /// let col = |k: usize| rows.iter().map(|r| [r.0, r.1, r.2][k] as f64).collect::<Vec<_>>();
    /// let data = BgBb::summary(&col(0), &col(1), &vec![6.0; rows.len()], &col(2)).unwrap();
    /// let fit = BgBb::fit(&data).unwrap();
    /// // the paper: α = 1.204, β = 0.750, γ = 0.657, δ = 2.783, LL = −33,225.6
    /// let p = fit.params;
    /// assert_eq!(format!("{:.3} {:.3} {:.3} {:.3}", p.alpha, p.beta, p.gamma, p.delta), "1.204 0.750 0.657 2.783");
    /// assert_eq!(format!("{:.1}", fit.log_likelihood), "-33225.6");
    /// ```
    pub fn fit(data: &Summary) -> Result<Fit<BgBb>> {
        fit::fit(data)
    }

    /// Total log-likelihood of `data`.
    pub fn log_likelihood(&self, data: &Summary) -> f64 {
        fit::log_likelihood(self, data)
    }

    /// P(alive at opportunity n + `future`) given `x` transactions in `n` opportunities, the last at
    /// `tx` (lifetimes' `conditional_probability_alive`).
    pub fn p_alive(&self, future: f64, x: f64, tx: f64, n: f64) -> f64 {
        let BgBb { alpha, beta, gamma, delta } = *self;
        let p1 = (alpha + x).ln_beta(beta + n - x) - alpha.ln_beta(beta);
        let p2 = gamma.ln_beta(delta + n + future) - gamma.ln_beta(delta);
        (p1 + p2 - Self::row_log_likelihood(&self.to_array(), &[x, tx, n])).exp()
    }

    /// Expected transactions in the next `future` opportunities (Fader, Hardie & Shang 2010,
    /// eq. 13; lifetimes' `conditional_expected_number_of_purchases_up_to_time`).
    pub fn expected_transactions(&self, future: f64, x: f64, tx: f64, n: f64) -> f64 {
        use statrs::function::gamma::ln_gamma;
        let BgBb { alpha, beta, gamma, delta } = *self;
        let l = Self::row_log_likelihood(&self.to_array(), &[x, tx, n]).exp();
        let p2 = ((alpha + x + 1.0).ln_beta(beta + n - x) - alpha.ln_beta(beta)).exp();
        let p3 = delta / (gamma - 1.0) * (ln_gamma(gamma + delta) - ln_gamma(1.0 + delta)).exp();
        let p4 = (ln_gamma(1.0 + delta + n) - ln_gamma(gamma + delta + n)).exp();
        let p5 = (ln_gamma(1.0 + delta + n + future) - ln_gamma(gamma + delta + n + future)).exp();
        p2 * p3 * (p4 - p5) / l
    }

    /// P(at least one transaction in the next `future` opportunities) given `x` transactions in
    /// `n` opportunities, the last at `tx`: P(alive after n) times 1 − P(none | alive), where,
    /// given alive, p ~ Beta(α + x, β + n − x) and θ ~ Beta(γ, δ + n) independently and a customer
    /// who drops out before opportunity n + k + 1 made none in the k before:
    /// P(none | alive) = Σ_{k<m} E[θ(1−θ)^k] E[(1−p)^k] + E[(1−θ)^m] E[(1−p)^m].
    pub fn p_any(&self, future: u32, x: f64, tx: f64, n: f64) -> f64 {
        let BgBb { alpha, beta, gamma, delta } = *self;
        let (pa, pb, ta, tb) = (alpha + x, beta + n - x, gamma, delta + n);
        let (b_p, b_t) = (pa.ln_beta(pb), ta.ln_beta(tb));
        let none_after = |k: f64| (pa.ln_beta(pb + k) - b_p).exp();
        let mut none: f64 = (0..future)
            .map(|k| {
                let k = f64::from(k);
                ((ta + 1.0).ln_beta(tb + k) - b_t).exp() * none_after(k)
            })
            .sum();
        let m = f64::from(future);
        none += (ta.ln_beta(tb + m) - b_t).exp() * none_after(m);
        self.p_alive(0.0, x, tx, n) * (1.0 - none)
    }

    /// Expected transactions of a new customer in their first `n` opportunities (Fader, Hardie &
    /// Shang 2010, eq. 7): the tracking curve.
    pub fn expected_from_first(&self, n: f64) -> f64 {
        use statrs::function::gamma::ln_gamma;
        let BgBb { alpha, beta, gamma, delta } = *self;
        let ratio = (ln_gamma(gamma + delta) - ln_gamma(1.0 + delta) + ln_gamma(1.0 + delta + n)
            - ln_gamma(gamma + delta + n))
        .exp();
        alpha / (alpha + beta) * delta / (gamma - 1.0) * (1.0 - ratio)
    }

    /// P(a new customer makes exactly `x` transactions in their first `n` opportunities)
    /// (Fader, Hardie & Shang 2010, eq. 8): alive throughout with `x` of `n`, or dropped out
    /// before opportunity i + 1 (i = x … n − 1) with `x` of `i`.
    ///
    /// ```
    /// use propensity::btyd::BgBb;
    /// let m = BgBb { alpha: 1.204, beta: 0.750, gamma: 0.657, delta: 2.783 };
    /// let p: Vec<f64> = (0..=6).map(|x| m.p_purchases(x, 6)).collect();
    /// assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    /// let mean: f64 = p.iter().enumerate().map(|(x, p)| x as f64 * p).sum();
    /// assert!((mean - m.expected_from_first(6.0)).abs() < 1e-12);
    /// ```
    pub fn p_purchases(&self, x: u32, n: u32) -> f64 {
        use statrs::function::factorial::ln_binomial;
        if x > n {
            return 0.0;
        }
        let BgBb { alpha, beta, gamma, delta } = *self;
        let (b_ab, b_gd) = (alpha.ln_beta(beta), gamma.ln_beta(delta));
        let xf = f64::from(x);
        let term = |i: u32, dropout: f64| {
            let i_f = f64::from(i);
            let dropout_part =
                if dropout == 0.0 { gamma.ln_beta(delta + i_f) } else { (gamma + 1.0).ln_beta(delta + i_f) };
            (ln_binomial(u64::from(i), u64::from(x)) + (alpha + xf).ln_beta(beta + i_f - xf) - b_ab + dropout_part
                - b_gd)
                .exp()
        };
        term(n, 0.0) + (x..n).map(|i| term(i, 1.0)).sum::<f64>()
    }
}
