//! The diagnostic a BTYD user checks first: Fader and Hardie's conditional expectations of the
//! holdout by calibration frequency.

use crate::plot::{bar_chart, Svg};
use crate::Result;

/// Customers grouped by calibration repeat days `frequency` (0, 1, …, 6, 7+), mean `actual`
/// holdout purchase days beside the mean expected by each model in `expected` (name, one value
/// per customer), over a holdout of `weeks`.
///
/// ```
/// use propensity::btyd::charts::holdout_chart;
/// let svg = holdout_chart(&[0.0, 1.0, 8.0], &[0.0, 1.0, 3.0], &[("BG/NBD", vec![0.2, 0.9, 2.5])], 39.0).unwrap();
/// assert!(svg.as_str().contains("7+"));
/// ```
pub fn holdout_chart(frequency: &[f64], actual: &[f64], expected: &[(&str, Vec<f64>)], weeks: f64) -> Result<Svg> {
    let mut n = [0.0; 8];
    let group = |f: f64| (f as usize).min(7);
    for f in frequency {
        n[group(*f)] += 1.0;
    }
    let mean = |values: &[f64]| {
        let mut sum = [0.0; 8];
        for (f, v) in frequency.iter().zip(values) {
            sum[group(*f)] += v;
        }
        (0..8).map(|g| if n[g] > 0.0 { sum[g] / n[g] } else { 0.0 }).collect::<Vec<_>>()
    };
    let groups: Vec<String> = (0..8).map(|g| if g == 7 { "7+".into() } else { g.to_string() }).collect();
    let mut series = vec![("actual".to_string(), mean(actual))];
    series.extend(expected.iter().map(|(name, e)| (format!("{name} expected"), mean(e))));
    let models: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    bar_chart(
        &format!("Holdout purchase days by calibration repeat days: actual vs {}", models.join(", ")),
        &format!("mean purchase days in the {weeks:.0}-week holdout"),
        &groups,
        &series,
    )
}

/// lifetimes' probability-alive matrix: P(alive) of a customer `age` old by repeat purchases
/// (columns 1 … `max_frequency`) and the age at their last purchase (rows, from `age` down to 0
/// in `steps` steps), under `model`. One-time buyers are left out: their recency is 0 by
/// definition (and under BG/NBD they are alive with probability 1).
///
/// ```
/// use propensity::btyd::{charts::p_alive_matrix, BgNbd, Fit, Fitted};
/// let m = BgNbd { r: 0.25, alpha: 4.8, a: 0.72, b: 2.16 };
/// let fit = Fit { params: m, std_errors: m, log_likelihood: 0.0, customers: 1.0, aic: 0.0, bic: 0.0,
///     iterations: 0, evaluations: 0, gradient_norm: 0.0, seconds: 0.0 };
/// let svg = p_alive_matrix(&Fitted::Bgnbd(fit), 10, 39.0, 13).unwrap();
/// assert!(svg.as_str().contains("P(alive)"));
/// ```
pub fn p_alive_matrix(model: &super::Fitted, max_frequency: usize, age: f64, steps: usize) -> Result<Svg> {
    if max_frequency == 0 || steps == 0 || !(age > 0.0 && age.is_finite()) {
        return Err(crate::Error::Data(format!(
            "the P(alive) matrix needs a frequency ≥ 1, steps ≥ 1 and an age > 0; got {max_frequency}, {steps}, {age}"
        )));
    }
    let recency: Vec<f64> = (0..=steps).rev().map(|k| age * k as f64 / steps as f64).collect();
    let values: Vec<Vec<f64>> =
        recency.iter().map(|&tx| (1..=max_frequency).map(|x| model.p_alive(x as f64, tx, age)).collect()).collect();
    crate::plot::heatmap(
        &format!("{}: P(alive) in %, {age:.0} weeks after the first purchase", model.name()),
        &recency.iter().map(|r| format!("last at week {r:.0}")).collect::<Vec<_>>(),
        &(1..=max_frequency).map(|x| format!("{x} repeat{}", if x == 1 { "" } else { "s" })).collect::<Vec<_>>(),
        &values,
        (0.0, 1.0),
        |v| format!("{:.0}", 100.0 * v),
    )
}
