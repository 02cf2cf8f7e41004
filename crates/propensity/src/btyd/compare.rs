//! The model comparison a BTYD user asks for before choosing: every repeat-purchase model fitted
//! on the same customers, with likelihood criteria and (given a holdout) how well each predicted
//! it per customer and in total.

use super::{Fitted, RepeatModel, Summary};
use crate::display::{Html, HtmlTable};
use crate::plot::Svg;
use crate::Result;

/// Holdout purchases to judge the models by.
#[derive(Debug, Clone, PartialEq)]
pub struct Holdout {
    /// Holdout length (time units of the summary).
    pub length: f64,
    /// Purchases each customer made in it.
    pub actual: Vec<f64>,
}

/// Every model's fit (or why it failed) and, with a holdout, its per-customer expectations.
#[derive(Debug, Clone)]
pub struct ModelComparison {
    /// Per model: the fit, or the error it gave.
    pub fits: Vec<(RepeatModel, std::result::Result<Fitted, String>)>,
    /// Customers' calibration frequency (for the holdout chart).
    pub frequency: Vec<f64>,
    /// The holdout, if any.
    pub holdout: Option<Holdout>,
    /// Per model (same order as `fits`): expected holdout purchases per customer.
    pub expected: Vec<Option<Vec<f64>>>,
}

impl ModelComparison {
    /// Fits [`RepeatModel::ALL`] on `data` (reusing `fitted`, a fit of one of them on the same
    /// data, if given) and, with a holdout, predicts it for the customers `(x, tx, t)` (one value
    /// each, in the holdout's order).
    ///
    /// ```
    /// use propensity::btyd::{compare::ModelComparison, Summary};
    /// let (x, tx, t) = (vec![0.0, 2.0, 5.0, 1.0, 0.0, 3.0], vec![0.0, 10.0, 30.0, 4.0, 0.0, 20.0], vec![38.0; 6]);
    /// let c = ModelComparison::fit(&Summary::new(&x, &tx, &t).unwrap(), &x, &tx, &t, None, None);
    /// assert_eq!(c.fits.len(), 3);
    /// assert!(c.table().to_html().contains("Pareto/NBD"));
    /// ```
    pub fn fit(
        data: &Summary,
        x: &[f64],
        tx: &[f64],
        t: &[f64],
        holdout: Option<Holdout>,
        fitted: Option<Fitted>,
    ) -> ModelComparison {
        let fits: Vec<(RepeatModel, std::result::Result<Fitted, String>)> = RepeatModel::ALL
            .iter()
            .map(|&m| match fitted {
                Some(f) if f.kind() == m => (m, Ok(f)),
                _ => (m, m.fit(data, 1.0).map_err(|e| e.to_string())),
            })
            .collect();
        let expected = fits
            .iter()
            .map(|(_, f)| {
                let (f, h) = (f.as_ref().ok()?, holdout.as_ref()?);
                Some((0..x.len()).map(|i| f.expected_transactions(h.length, x[i], tx[i], t[i])).collect())
            })
            .collect();
        ModelComparison { fits, frequency: x.to_vec(), holdout, expected }
    }

    /// One row per model: parameters ± standard errors, log-likelihood, AIC, BIC, convergence and,
    /// with a holdout, expected vs actual purchases in total and per-customer MAE and RMSE.
    pub fn table(&self) -> HtmlTable {
        let mut header = vec!["model", "parameters ± standard error", "log-likelihood", "AIC", "BIC", "fit"];
        if self.holdout.is_some() {
            header.extend(["holdout purchases: expected / actual", "MAE per customer", "RMSE per customer"]);
        }
        let mut t =
            HtmlTable::new("Repeat-purchase models fitted on the same customers (lower AIC/BIC is better)", &header);
        for ((model, fit), expected) in self.fits.iter().zip(&self.expected) {
            let mut row = match fit {
                Ok(f) => {
                    let (ll, aic, bic) = f.criteria();
                    let (iterations, gradient, seconds) = f.diagnostics();
                    vec![
                        f.name().to_string(),
                        f.parameters_line(),
                        format!("{ll:.3}"),
                        format!("{aic:.1}"),
                        format!("{bic:.1}"),
                        format!("{iterations} iterations, |gradient| {gradient:.0e}, {:.0} ms", seconds * 1e3),
                    ]
                }
                Err(e) => vec![model.key().to_string(), e.clone(), "".into(), "".into(), "".into(), "failed".into()],
            };
            if let Some(h) = &self.holdout {
                match expected {
                    Some(e) => {
                        let (mae, rmse) = crate::ranking::mae_rmse(&h.actual, e);
                        row.extend([
                            format!("{:.1} / {:.0}", e.iter().sum::<f64>(), h.actual.iter().sum::<f64>()),
                            format!("{mae:.4}"),
                            format!("{rmse:.4}"),
                        ]);
                    }
                    None => row.extend(["".into(), "".into(), "".into()]),
                }
            }
            t.push(row);
        }
        t
    }

    /// The holdout by calibration frequency: actual beside every model's expectation (with a
    /// holdout).
    pub fn holdout_chart(&self) -> Result<Option<Svg>> {
        let Some(h) = &self.holdout else { return Ok(None) };
        let series: Vec<(&str, Vec<f64>)> = self
            .fits
            .iter()
            .zip(&self.expected)
            .filter_map(|((_, f), e)| Some((f.as_ref().ok()?.name(), e.clone()?)))
            .collect();
        super::charts::holdout_chart(&self.frequency, &h.actual, &series, h.length).map(Some)
    }

    /// evcxr's display hook: the table.
    pub fn evcxr_display(&self) {
        Html(self.table().to_html()).evcxr_display();
    }
}
