//! Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"): a customer's spend per transaction is
//! Gamma(p, ν) around their own mean, and ν ~ Gamma(q, v) across customers. It assumes spend per
//! transaction does not depend on how often a customer buys; [`GammaGamma::independence`] is the
//! check lifetimes suggests.

use serde::{Deserialize, Serialize};

use super::dual::Real;
use super::fit::{self, Fit, Model};
use super::Summary;
use crate::{Error, Result};

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

impl Model<3> for GammaGamma {
    const NAME: &'static str = "Gamma-Gamma";
    const PARAMETERS: [&'static str; 3] = ["p", "q", "v"];
    const RATES: &'static [usize] = &[];
    fn from_array([p, q, v]: [f64; 3]) -> Self {
        GammaGamma { p, q, v }
    }
    fn to_array(&self) -> [f64; 3] {
        [self.p, self.q, self.v]
    }
    /// The terms of lifetimes' `GammaGammaFitter._negative_log_likelihood` that depend on the
    /// repeat count only.
    fn frequency_term<S: Real>(&[p, q, v]: &[S; 3], x: f64) -> S {
        let px = p * x;
        (px + q).ln_gamma() - px.ln_gamma() - q.ln_gamma() + q * v.ln() + px * x.ln()
    }
    /// The rest, for a customer with `x` repeats of mean value `m` (row `[x, m, 0]`).
    fn row_term<S: Real>(&[p, q, v]: &[S; 3], &[x, m, _]: &[f64; 3]) -> S {
        let px = p * x;
        (px - 1.0) * m.ln() - (px + q) * (v + x * m).ln()
    }
    fn unidentified(data: &Summary) -> Option<String> {
        (data.customers() < 2.0).then(|| "it needs at least two repeat buyers".to_string())
    }
}

impl GammaGamma {
    /// Groups repeat buyers: `x > 0` repeat purchases of mean value `m > 0` (anything else is an
    /// error naming the position: select the repeaters first).
    pub fn summary(x: &[f64], m: &[f64]) -> Result<Summary> {
        if x.len() != m.len() || x.is_empty() {
            return Err(Error::Data(format!("x and m need one value per customer; got {} and {}", x.len(), m.len())));
        }
        if let Some(i) = (0..x.len()).find(|&i| !(x[i] > 0.0 && m[i] > 0.0 && m[i].is_finite() && x[i].is_finite())) {
            return Err(Error::Data(format!(
                "Gamma-Gamma needs repeaters with positive spend; customer {} has x = {}, m = {}",
                i + 1,
                x[i],
                m[i]
            )));
        }
        Ok(Summary::group((0..x.len()).map(|i| ([x[i], m[i], 0.0], 1.0))))
    }

    /// Maximum-likelihood fit on repeaters ([`GammaGamma::summary`]).
    ///
    /// ```
    /// use propensity::btyd::GammaGamma;
    /// let (x, m) = ([1.0, 2.0, 4.0, 1.0, 3.0, 2.0], [20.0, 35.0, 28.0, 12.0, 60.0, 18.0]);
    /// let fit = GammaGamma::fit(&x, &m).unwrap();
    /// assert!(fit.log_likelihood >= GammaGamma { p: 1.0, q: 1.0, v: 1.0 }.log_likelihood(&x, &m));
    /// assert!(GammaGamma::fit(&[0.0], &[10.0]).is_err());
    /// ```
    pub fn fit(x: &[f64], m: &[f64]) -> Result<Fit<GammaGamma>> {
        fit::fit(&GammaGamma::summary(x, m)?)
    }

    /// Total log-likelihood of customers with `x` repeats of mean value `m`.
    pub fn log_likelihood(&self, x: &[f64], m: &[f64]) -> f64 {
        x.iter().zip(m).map(|(&x, &m)| Self::row_log_likelihood(&self.to_array(), &[x, m, 0.0])).sum()
    }

    /// Expected mean spend per transaction of a customer with `x` repeats of mean value `m`; the
    /// population mean p·v/(q − 1) when `x` is 0.
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        self.p * (self.v + x * m) / (self.p * x + self.q - 1.0)
    }

    /// Pearson correlation of frequency and mean spend across the repeaters: the model assumes
    /// none; lifetimes' documentation checks that it is near 0 (CDNOW's 9,450 repeaters: 0.080).
    pub fn independence(x: &[f64], m: &[f64]) -> f64 {
        crate::ranking::pearson(x, m)
    }
}
