//! The repeat-purchase models as one choice: fit the one a user names, or all the
//! continuous-time ones to compare. BG/BB counts whole periods, so it is fitted on a summary
//! whose times are whole multiples of a period and answers in weeks like the others.

use serde::{Deserialize, Serialize};

use super::fit::{parameter_line, parameter_rows, Fit, Model};
use super::{BgBb, BgNbd, ModifiedBgNbd, ParetoNbd, Summary};
use crate::{Error, Result};

/// Which repeat-purchase model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepeatModel {
    /// [`BgNbd`] (lifetimes' `BetaGeoFitter`).
    #[default]
    Bgnbd,
    /// [`ModifiedBgNbd`] (lifetimes' `ModifiedBetaGeoFitter`).
    Mbgnbd,
    /// [`ParetoNbd`] (lifetimes' `ParetoNBDFitter`).
    ParetoNbd,
    /// [`BgBb`] (lifetimes' `BetaGeoBetaBinomFitter`): each period is one opportunity.
    Bgbb,
}

impl RepeatModel {
    /// The continuous-time models, in the order reports list them: their likelihoods are
    /// densities of the same data, so they compare by AIC (BG/BB's is a probability of the
    /// period counts and does not).
    pub const ALL: [RepeatModel; 3] = [RepeatModel::Bgnbd, RepeatModel::Mbgnbd, RepeatModel::ParetoNbd];

    /// Every model a user can choose.
    pub const CHOICES: [RepeatModel; 4] =
        [RepeatModel::Bgnbd, RepeatModel::Mbgnbd, RepeatModel::ParetoNbd, RepeatModel::Bgbb];

    /// The name a user types (`bgnbd`, `mbgnbd`, `pareto-nbd`, `bgbb`).
    pub fn key(self) -> &'static str {
        match self {
            RepeatModel::Bgnbd => "bgnbd",
            RepeatModel::Mbgnbd => "mbgnbd",
            RepeatModel::ParetoNbd => "pareto-nbd",
            RepeatModel::Bgbb => "bgbb",
        }
    }

    /// Parses [`RepeatModel::key`].
    ///
    /// ```
    /// use propensity::btyd::repeat::RepeatModel;
    /// assert_eq!("pareto-nbd".parse::<RepeatModel>().unwrap(), RepeatModel::ParetoNbd);
    /// assert!("pareto".parse::<RepeatModel>().is_err());
    /// ```
    pub fn parse(s: &str) -> Result<RepeatModel> {
        RepeatModel::CHOICES.into_iter().find(|m| m.key() == s).ok_or_else(|| Error::Config {
            field: "model",
            message: format!("unknown model {s:?}; expected one of bgnbd, mbgnbd, pareto-nbd, bgbb"),
        })
    }

    /// Fits this model on `data` (times in weeks) whose periods last `weeks_per_period` weeks
    /// (BG/BB counts them as opportunities; the other models do not use it). BG/BB refuses times
    /// that are not whole periods.
    pub fn fit(self, data: &Summary, weeks_per_period: f64) -> Result<Fitted> {
        Ok(match self {
            RepeatModel::Bgnbd => Fitted::Bgnbd(BgNbd::fit(data)?),
            RepeatModel::Mbgnbd => Fitted::Mbgnbd(ModifiedBgNbd::fit(data)?),
            RepeatModel::ParetoNbd => Fitted::ParetoNbd(ParetoNbd::fit(data)?),
            RepeatModel::Bgbb => {
                let periods = |v: f64| {
                    let p = (v / weeks_per_period).round();
                    if (p * weeks_per_period - v).abs() <= 1e-9 * v.max(1.0) {
                        Ok(p)
                    } else {
                        Err(Error::Data(format!(
                            "BG/BB counts whole periods: {v} weeks is not a multiple of {weeks_per_period} weeks"
                        )))
                    }
                };
                let (mut x, mut tx, mut n) = (Vec::new(), Vec::new(), Vec::new());
                for r in &data.rows {
                    x.push(r[0]);
                    tx.push(periods(r[1])?);
                    n.push(periods(r[2])?);
                }
                let fit = BgBb::fit(&BgBb::summary(&x, &tx, &n, &data.weights)?)?;
                Fitted::Bgbb(PeriodFit { fit, weeks_per_period })
            }
        })
    }
}

impl std::str::FromStr for RepeatModel {
    type Err = Error;
    fn from_str(s: &str) -> Result<RepeatModel> {
        RepeatModel::parse(s)
    }
}

/// A BG/BB fit and the length of its opportunities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeriodFit {
    /// The fit, in opportunities.
    pub fit: Fit<BgBb>,
    /// Weeks per opportunity.
    pub weeks_per_period: f64,
}

impl PeriodFit {
    /// Whole periods in `weeks`.
    fn periods(&self, weeks: f64) -> f64 {
        (weeks / self.weeks_per_period).round()
    }
}

/// A fitted repeat-purchase model and the per-customer predictions every model gives, times in
/// weeks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "model", content = "fit")]
pub enum Fitted {
    /// BG/NBD.
    Bgnbd(Fit<BgNbd>),
    /// Modified BG/NBD.
    Mbgnbd(Fit<ModifiedBgNbd>),
    /// Pareto/NBD.
    ParetoNbd(Fit<ParetoNbd>),
    /// BG/BB on whole periods.
    Bgbb(PeriodFit),
}

/// Calls `$e` with the fit bound to `$f`, whichever model it is.
macro_rules! each {
    ($s:expr, $f:ident => $e:expr) => {
        match $s {
            Fitted::Bgnbd($f) => $e,
            Fitted::Mbgnbd($f) => $e,
            Fitted::ParetoNbd($f) => $e,
            Fitted::Bgbb(PeriodFit { fit: $f, .. }) => $e,
        }
    };
}

/// Calls `$e` with the continuous-time fit bound to `$f`, or `$bgbb` with the BG/BB fit.
macro_rules! in_weeks {
    ($s:expr, $f:ident => $e:expr, $b:ident => $bgbb:expr) => {
        match $s {
            Fitted::Bgnbd($f) => $e,
            Fitted::Mbgnbd($f) => $e,
            Fitted::ParetoNbd($f) => $e,
            Fitted::Bgbb($b) => $bgbb,
        }
    };
}

impl Fitted {
    /// Which model.
    pub fn kind(&self) -> RepeatModel {
        match self {
            Fitted::Bgnbd(_) => RepeatModel::Bgnbd,
            Fitted::Mbgnbd(_) => RepeatModel::Mbgnbd,
            Fitted::ParetoNbd(_) => RepeatModel::ParetoNbd,
            Fitted::Bgbb(_) => RepeatModel::Bgbb,
        }
    }

    /// The model's display name.
    pub fn name(&self) -> &'static str {
        match self {
            Fitted::Bgnbd(_) => "BG/NBD",
            Fitted::Mbgnbd(_) => "MBG/NBD",
            Fitted::ParetoNbd(_) => "Pareto/NBD",
            Fitted::Bgbb(_) => "BG/BB",
        }
    }

    /// Log-likelihood, AIC and BIC.
    pub fn criteria(&self) -> (f64, f64, f64) {
        each!(self, f => (f.log_likelihood, f.aic, f.bic))
    }

    /// Iterations, gradient norm and seconds of the fit.
    pub fn diagnostics(&self) -> (u64, f64, f64) {
        each!(self, f => (f.iterations, f.gradient_norm, f.seconds))
    }

    /// Each parameter's name and estimate.
    pub fn parameters(&self) -> Vec<(&'static str, f64)> {
        fn named<M: Model<N>, const N: usize>(f: &Fit<M>) -> Vec<(&'static str, f64)> {
            M::PARAMETERS.into_iter().zip(f.params.to_array()).collect()
        }
        each!(self, f => named(f))
    }

    /// Name, estimate, standard error and 95 % interval of each parameter.
    pub fn parameter_rows(&self) -> Vec<Vec<String>> {
        each!(self, f => parameter_rows(f))
    }

    /// The estimates on one line, `r = 0.2516 ± 0.0042, …`.
    pub fn parameters_line(&self) -> String {
        each!(self, f => parameter_line(f))
    }

    /// P(alive at `t`) of a customer with `x` repeats, the last at `tx`.
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        in_weeks!(self, f => f.params.p_alive(x, tx, t), b => b.fit.params.p_alive(0.0, x, b.periods(tx), b.periods(t)))
    }

    /// Expected purchases in the next `horizon` (BG/BB: eq. 13 at `horizon` in periods, which
    /// interpolates between whole periods).
    pub fn expected_transactions(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        in_weeks!(self, f => f.params.expected_transactions(horizon, x, tx, t),
            b => b.fit.params.expected_transactions(horizon / b.weeks_per_period, x, b.periods(tx), b.periods(t)))
    }

    /// P(at least one purchase in the next `horizon`) (BG/BB: in the whole periods it holds).
    pub fn p_any(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        in_weeks!(self, f => f.params.p_any(horizon, x, tx, t), b => {
            let whole = (horizon / b.weeks_per_period + 1e-9).floor() as u32;
            b.fit.params.p_any(whole, x, b.periods(tx), b.periods(t))
        })
    }

    /// Expected repeat purchases of a new customer in their first `t`: the tracking curve.
    pub fn expected_from_first(&self, t: f64) -> f64 {
        in_weeks!(self, f => f.params.expected_from_first(t), b => b.fit.params.expected_from_first(t / b.weeks_per_period))
    }

    /// P(a new customer makes exactly `x` repeat purchases in their first `t`).
    pub fn p_purchases(&self, x: u32, t: f64) -> f64 {
        in_weeks!(self, f => f.params.p_purchases(x, t), b => b.fit.params.p_purchases(x, b.periods(t) as u32))
    }
}
