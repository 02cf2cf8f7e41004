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
