//! The continuous-time repeat-purchase models as one choice: fit the one a user names, or all of
//! them to compare.

use serde::{Deserialize, Serialize};

use super::fit::{parameter_line, parameter_rows, Fit};
use super::{BgNbd, ModifiedBgNbd, ParetoNbd, Summary};
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
}

impl RepeatModel {
    /// Every model, in the order reports list them.
    pub const ALL: [RepeatModel; 3] = [RepeatModel::Bgnbd, RepeatModel::Mbgnbd, RepeatModel::ParetoNbd];

    /// The name a user types (`bgnbd`, `mbgnbd`, `pareto-nbd`).
    pub fn key(self) -> &'static str {
        match self {
            RepeatModel::Bgnbd => "bgnbd",
            RepeatModel::Mbgnbd => "mbgnbd",
            RepeatModel::ParetoNbd => "pareto-nbd",
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
        RepeatModel::ALL.into_iter().find(|m| m.key() == s).ok_or_else(|| Error::Config {
            field: "model",
            message: format!("unknown model {s:?}; expected one of bgnbd, mbgnbd, pareto-nbd"),
        })
    }

    /// Fits this model.
    pub fn fit(self, data: &Summary) -> Result<Fitted> {
        Ok(match self {
            RepeatModel::Bgnbd => Fitted::Bgnbd(BgNbd::fit(data)?),
            RepeatModel::Mbgnbd => Fitted::Mbgnbd(ModifiedBgNbd::fit(data)?),
            RepeatModel::ParetoNbd => Fitted::ParetoNbd(ParetoNbd::fit(data)?),
        })
    }
}

impl std::str::FromStr for RepeatModel {
    type Err = Error;
    fn from_str(s: &str) -> Result<RepeatModel> {
        RepeatModel::parse(s)
    }
}

/// A fitted repeat-purchase model and the per-customer predictions every model gives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "model", content = "fit")]
pub enum Fitted {
    /// BG/NBD.
    Bgnbd(Fit<BgNbd>),
    /// Modified BG/NBD.
    Mbgnbd(Fit<ModifiedBgNbd>),
    /// Pareto/NBD.
    ParetoNbd(Fit<ParetoNbd>),
}

/// Calls `$e` with the fit bound to `$f`, whichever model it is.
macro_rules! each {
    ($s:expr, $f:ident => $e:expr) => {
        match $s {
            Fitted::Bgnbd($f) => $e,
            Fitted::Mbgnbd($f) => $e,
            Fitted::ParetoNbd($f) => $e,
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
        }
    }

    /// The model's display name.
    pub fn name(&self) -> &'static str {
        match self {
            Fitted::Bgnbd(_) => "BG/NBD",
            Fitted::Mbgnbd(_) => "MBG/NBD",
            Fitted::ParetoNbd(_) => "Pareto/NBD",
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
        each!(self, f => f.params.p_alive(x, tx, t))
    }

    /// Expected purchases in the next `horizon`.
    pub fn expected_transactions(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        each!(self, f => f.params.expected_transactions(horizon, x, tx, t))
    }

    /// P(at least one purchase in the next `horizon`).
    pub fn p_any(&self, horizon: f64, x: f64, tx: f64, t: f64) -> f64 {
        each!(self, f => f.params.p_any(horizon, x, tx, t))
    }

    /// Expected repeat purchases of a new customer in their first `t`: the tracking curve.
    pub fn expected_from_first(&self, t: f64) -> f64 {
        each!(self, f => f.params.expected_from_first(t))
    }
}
