//! A fitted CLV model saved to a file and scored on other customers later — next quarter's
//! summary, another shop's log — without refitting: the repeat-purchase fit, the Gamma-Gamma
//! fit, the period they count in, and a card saying what they were fitted on.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{predict, Clv, ClvConfig, CustomerSummary, Period};
use crate::btyd::{Fit, Fitted, GammaGamma};
use crate::{Error, Result};

/// The file format tag; files with another tag are refused.
pub const FORMAT: &str = "propensity-clv-model/1";

/// What a saved CLV model was fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClvCard {
    /// The log's or summary's file name.
    pub data_file: String,
    /// SHA-256 of that file.
    pub data_sha256: String,
    /// The calibration end (a log).
    pub calibration_end: Option<String>,
    /// Customers fitted.
    pub customers: f64,
    /// When it was saved (RFC 3339, UTC).
    pub created: String,
    /// The `propensity` version that fitted it.
    pub crate_version: String,
}

/// The contents of a saved CLV model file ([`Clv::saved`]).
///
/// ```
/// use propensity::clv::{fit, ClvConfig, LogColumns, SavedClv, TransactionLog};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("orders.csv");
/// // any customer,date[,amount] CSV: here the bundled CDNOW log written as one
/// let raw = propensity::cdnow::read(propensity::paths::data_file(propensity::cdnow::FILE).unwrap()).unwrap();
/// propensity::cdnow::write_transactions_csv(&raw, &path).unwrap();
/// let log = TransactionLog::read_csv(&path, &LogColumns::new("customer_id", "date")).unwrap();
/// let config = ClvConfig { calibration_end: "1997-09-30".into(), ..ClvConfig::default() };
/// let result = fit(&log, &config).unwrap();
/// let file = dir.path().join("clv_model.json");
/// result.saved(&path).unwrap().save(&file).unwrap();
/// // scoring the same customers with the saved model gives the same predictions, bit for bit
/// let saved = SavedClv::read(&file).unwrap();
/// let (cal, hold) = config.split().unwrap();
/// let again = saved.score(log.summarise(saved.period, cal, hold).unwrap(), &config).unwrap();
/// assert_eq!(again.p_alive, result.p_alive);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedClv {
    /// [`FORMAT`].
    pub format: String,
    /// What one purchase is; for BG/BB, one opportunity.
    pub period: Period,
    /// The repeat-purchase model.
    pub model: Fitted,
    /// The Gamma-Gamma fit and the repeaters it was fitted on (with amounts).
    pub gamma_gamma: Option<(Fit<GammaGamma>, usize)>,
    /// What it was fitted on.
    pub card: ClvCard,
}

impl Clv {
    /// The fitted models with a card for `data_file` (the log or summary they were fitted on,
    /// hashed).
    pub fn saved(&self, data_file: impl AsRef<Path>) -> Result<SavedClv> {
        let data_file = data_file.as_ref();
        Ok(SavedClv {
            format: FORMAT.into(),
            period: self.customers.period,
            model: self.model,
            gamma_gamma: self.gamma_gamma,
            card: ClvCard {
                data_file: data_file
                    .file_name()
                    .map_or_else(|| data_file.display().to_string(), |n| n.to_string_lossy().into_owned()),
                data_sha256: crate::saved::sha256_file(data_file)?,
                calibration_end: self.customers.calibration_end.clone(),
                customers: self.customers.customers(),
                created: crate::saved::now_rfc3339(),
                crate_version: env!("CARGO_PKG_VERSION").into(),
            },
        })
    }
}

impl SavedClv {
    /// Writes the model to `path` atomically (floats round-trip exactly).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("SavedClv serialises");
        crate::io::write_bytes_atomic(path.as_ref(), text.as_bytes())
    }

    /// Reads and checks a model file: the format tag, a complete JSON document of this shape, and
    /// every parameter a finite number above 0 (a hand-edited file is input too).
    pub fn read(path: impl AsRef<Path>) -> Result<SavedClv> {
        let path = path.as_ref();
        let bad = |message: String| Error::Model { file: path.to_path_buf(), message };
        let saved: SavedClv =
            crate::saved::read_tagged_json(path, "propensity CLV model", FORMAT, |s: &SavedClv| &s.format)?;
        let mut parameters = saved.model.parameters();
        if let Some((g, _)) = &saved.gamma_gamma {
            parameters.extend([("p", g.params.p), ("q", g.params.q), ("v", g.params.v)]);
        }
        if let Some((name, value)) = parameters.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(bad(format!(
                "{} parameter {name} is {value}; every parameter is a number above 0",
                saved.model.name()
            )));
        }
        if let Fitted::Bgbb(b) = &saved.model {
            if (b.weeks_per_period - saved.period.weeks(1)).abs() > 1e-12 {
                return Err(bad(format!(
                    "BG/BB's opportunities last {} weeks but the period is a {} ({} weeks)",
                    b.weeks_per_period,
                    saved.period,
                    saved.period.weeks(1)
                )));
            }
        }
        Ok(saved)
    }

    /// Every customer's predictions with the saved models (no fitting). `customers` must count
    /// in the saved [`SavedClv::period`]; `config` gives the CLV horizon and discount rate (its
    /// model is the saved one). Without amounts in `customers` or without a saved Gamma-Gamma
    /// fit there is no spend and no CLV.
    pub fn score(&self, customers: CustomerSummary, config: &ClvConfig) -> Result<Clv> {
        config.check()?;
        if customers.period != self.period {
            return Err(Error::Data(format!(
                "the model counts purchases per {}, the customers per {}",
                self.period, customers.period
            )));
        }
        let summary = customers.btyd()?;
        let config = ClvConfig { model: self.model.kind(), period: self.period, ..config.clone() };
        predict(customers, summary, self.model, self.gamma_gamma, &config)
    }
}
