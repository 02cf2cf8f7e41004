//! The CDNOW pipeline's lifetime-value peer: BG/NBD on every customer's calibration summary and
//! Gamma-Gamma on the repeaters, predicting the 39-week holdout (the models live in
//! [`crate::btyd`]).
//!
//! ```no_run
//! # fn main() -> propensity::Result<()> {
//! let btyd = propensity::cdnow::btyd::Btyd::fit(&propensity::cdnow::load_default()?)?;
//! assert!(btyd.bgnbd.gradient_norm < 1e-5);
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};

use crate::btyd::{BgNbd, Fit, GammaGamma, Summary};
use crate::Result;

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
        let bgnbd = BgNbd::fit(&Summary::new(&x, &tx, &t)?)?;
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

    /// Fader and Hardie's conditional-expectation check ([`crate::btyd::charts::holdout_chart`]) of the holdout.
    pub fn frequency_chart(&self, customers: &super::Customers) -> Result<crate::plot::Svg> {
        crate::btyd::charts::holdout_chart(
            &customers.column(|c| c.frequency),
            &customers.column(|c| c.n_holdout),
            &[("BG/NBD", self.expected_transactions.clone())],
            self.horizon,
        )
    }

    /// The parameter table (for a notebook): estimates ± standard errors, log-likelihood and
    /// convergence.
    pub fn parameter_table(&self) -> crate::display::HtmlTable {
        let mut t = crate::display::HtmlTable::new(
            "Maximum-likelihood estimates ± standard errors (time in weeks)",
            &["model", "parameters", "log-likelihood", "iterations", "fit time"],
        );
        t.push(vec![
            "BG/NBD".into(),
            crate::btyd::fit::parameter_line(&self.bgnbd),
            format!("{:.3}", self.bgnbd.log_likelihood),
            self.bgnbd.iterations.to_string(),
            format!("{:.0} ms", self.bgnbd.seconds * 1e3),
        ]);
        t.push(vec![
            format!("Gamma-Gamma ({} repeaters)", self.gamma_gamma_customers),
            crate::btyd::fit::parameter_line(&self.gamma_gamma),
            format!("{:.3}", self.gamma_gamma.log_likelihood),
            self.gamma_gamma.iterations.to_string(),
            format!("{:.0} ms", self.gamma_gamma.seconds * 1e3),
        ]);
        t
    }
}
