//! Repeat purchases over calendar time, actual beside the model's expectation: lifetimes'
//! `plot_cumulative_transactions` and `plot_incremental_transactions`.

use std::collections::BTreeMap;

use super::log::TransactionLog;
use super::period::Period;
use super::Clv;
use crate::calendar::parse_date;
use crate::{Error, Result};

/// Repeat purchases of the fitted customers, actual and expected, step by step from the log's
/// first day ([`Clv::tracking`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    /// The model's name.
    pub model: &'static str,
    /// What one repeat purchase is ("purchase days", …).
    pub unit: String,
    /// End of each step, in weeks since the log's first day.
    pub weeks: Vec<f64>,
    /// Cumulative repeat purchases made by then.
    pub actual: Vec<f64>,
    /// Cumulative repeat purchases the model expects by then.
    pub expected: Vec<f64>,
    /// Where calibration ends, in weeks since the log's first day.
    pub calibration_week: f64,
}

impl Clv {
    /// Step by step from the log's first day to the holdout end (or the calibration end) —
    /// weeks for a daily period, else the periods themselves — the cumulative repeat purchases
    /// of the calibration customers beside the model's expectation for customers of their ages
    /// (lifetimes' `plot_cumulative_transactions`): how well the model tracks the calibration
    /// period and forecasts past it. Purchases are counted as in the summary (calibration and
    /// holdout separately). `log` is the log the result was fitted on; a result fitted on a
    /// summary file has no dates to track.
    pub fn tracking(&self, log: &TransactionLog) -> Result<Tracking> {
        let c = &self.customers;
        let (Some(start), Some(cal)) = (c.log_start, c.calibration_end.as_deref()) else {
            return Err(Error::Data(format!(
                "{} is a customer summary without purchase dates: tracking needs the transaction log",
                c.source
            )));
        };
        let cal = parse_date(cal).map_err(Error::Data)?;
        let end = match &c.holdout {
            Some(h) => parse_date(&h.end).map_err(Error::Data)?,
            None => cal,
        };
        let period = c.period;
        let ends = step_ends(period, start, end);
        let step = |day: i64| ends.partition_point(|&e| e < day);
        let calibration = log.periods(period, cal);
        let mut per_step = vec![0.0; ends.len()];
        let mut cohorts: BTreeMap<i64, f64> = BTreeMap::new();
        for id in &c.ids {
            let k = log.ids.binary_search(id).ok().and_then(|k| u32::try_from(k).ok());
            let Some((k, cal_periods)) = k.and_then(|k| calibration.get(&k).map(|p| (k, p))) else {
                return Err(Error::Data(format!(
                    "customer {id:?} has no calibration purchase in {}: pass the log this result was fitted on",
                    log.source
                )));
            };
            *cohorts.entry(cal_periods[0]).or_insert(0.0) += 1.0;
            for &p in &cal_periods[1..] {
                per_step[step(period.start(p).max(start))] += 1.0;
            }
            // holdout periods: of the purchases after the calibration end (lifetimes' split)
            let after = log.days_of(k).filter(|d| d.day > cal && d.day <= end);
            let mut last = None;
            for d in after {
                let p = period.index(d.day);
                if last != Some(p) {
                    per_step[step(period.start(p).max(cal + 1))] += 1.0;
                    last = Some(p);
                }
            }
        }
        let expected = ends
            .iter()
            .map(|&e| {
                let now = period.index(e);
                cohorts
                    .iter()
                    .filter(|(&p0, _)| p0 < now)
                    .map(|(&p0, n)| n * self.model.expected_from_first(period.weeks(now - p0)))
                    .sum()
            })
            .collect();
        let actual = per_step
            .iter()
            .scan(0.0, |sum, v| {
                *sum += v;
                Some(*sum)
            })
            .collect();
        Ok(Tracking {
            model: self.model.name(),
            unit: c.unit(),
            weeks: ends.iter().map(|&e| (e - start + 1) as f64 / 7.0).collect(),
            actual,
            expected,
            calibration_week: (cal - start + 1) as f64 / 7.0,
        })
    }
}

/// Last day of each step from `start` to `end`: 7-day steps for [`Period::Day`], else the
/// periods; the last step ends at `end`.
fn step_ends(period: Period, start: i64, end: i64) -> Vec<i64> {
    let mut ends = Vec::new();
    let mut next = match period {
        Period::Day => start + 6,
        _ => period.start(period.index(start) + 1) - 1,
    };
    while next < end {
        ends.push(next);
        next = match period {
            Period::Day => next + 7,
            _ => period.start(period.index(next) + 2) - 1,
        };
    }
    ends.push(end);
    ends
}

impl Tracking {
    /// The cumulative tracking plot: both curves and a dashed line at the calibration end.
    pub fn chart(&self) -> Result<crate::plot::Svg> {
        self.draw(&self.actual, &self.expected, "cumulative", "Cumulative repeat")
    }

    /// The incremental tracking plot (lifetimes' `plot_incremental_transactions`): repeat
    /// purchases made in each step beside the expected number.
    pub fn incremental_chart(&self) -> Result<crate::plot::Svg> {
        let diff = |v: &[f64]| v.iter().scan(0.0, |prev, &x| Some(x - std::mem::replace(prev, x))).collect::<Vec<_>>();
        let step = if self.weeks.len() > 1 && self.weeks[1] - self.weeks[0] > 1.5 { "period" } else { "week" };
        self.draw(&diff(&self.actual), &diff(&self.expected), &format!("per {step}"), "Repeat")
    }

    fn draw(&self, actual: &[f64], expected: &[f64], what: &str, title: &str) -> Result<crate::plot::Svg> {
        let top = actual.iter().chain(expected).fold(0.0f64, |a, &b| a.max(b));
        let points = |v: &[f64]| self.weeks.iter().copied().zip(v.iter().copied()).collect::<Vec<_>>();
        crate::plot::lines(
            &format!("{title} {}: actual vs {}", self.unit, self.model),
            "weeks since the log's first day",
            &format!("repeat {} ({what})", self.unit),
            &[
                ("actual".to_string(), points(actual)),
                (format!("{} expected", self.model), points(expected)),
                (
                    crate::plot::reference("calibration end"),
                    vec![(self.calibration_week, 0.0), (self.calibration_week, top)],
                ),
            ],
        )
    }

    /// evcxr's display hook: the cumulative chart.
    pub fn evcxr_display(&self) {
        match self.chart() {
            Ok(svg) => svg.evcxr_display(),
            Err(e) => println!("{e}"),
        }
    }
}
