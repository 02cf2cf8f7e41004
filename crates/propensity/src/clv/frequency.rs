//! The period-transactions check (lifetimes' `plot_period_transactions`): how many customers
//! made 0, 1, … repeat purchases in calibration, beside how many the fitted model says customers
//! of their ages would have made. lifetimes simulates the model's side; here it is the exact
//! expectation Σ over customers of P(X(T) = k).

use std::collections::BTreeMap;

use super::Clv;
use crate::display::{Html, HtmlTable};
use crate::plot::{bar_chart, Svg};
use crate::Result;

/// Customers by calibration repeat purchases, actual and expected ([`Clv::period_transactions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FrequencyCounts {
    /// The model's name.
    pub model: &'static str,
    /// What one repeat purchase is ("purchase days", …).
    pub unit: String,
    /// Group labels: `0`, `1`, …, and the last `k+`.
    pub groups: Vec<String>,
    /// Customers in each group.
    pub actual: Vec<f64>,
    /// Customers the model expects in each group.
    pub expected: Vec<f64>,
}

/// Repeat purchases shown one by one; more go in the last group.
const LAST: usize = 7;

impl Clv {
    /// Customers by calibration repeat purchases (0 … 6, 7+), actual beside the model's
    /// expectation for customers of the same ages.
    pub fn period_transactions(&self) -> Result<FrequencyCounts> {
        let c = &self.customers;
        let mut actual = vec![0.0; LAST + 1];
        let mut ages: BTreeMap<u64, f64> = BTreeMap::new();
        for (i, (x, t)) in c.frequency.iter().zip(&c.t).enumerate() {
            actual[(*x as usize).min(LAST)] += c.weight(i);
            *ages.entry(t.to_bits()).or_insert(0.0) += c.weight(i);
        }
        let mut expected = vec![0.0; LAST + 1];
        for (bits, n) in ages {
            let t = f64::from_bits(bits);
            let p: Vec<f64> = (0..LAST as u32).map(|k| self.model.p_purchases(k, t)).collect();
            for (e, p) in expected.iter_mut().zip(&p) {
                *e += n * p;
            }
            expected[LAST] += n * (1.0 - p.iter().sum::<f64>()).max(0.0);
        }
        Ok(FrequencyCounts {
            model: self.model.name(),
            unit: c.unit(),
            groups: (0..=LAST).map(|k| if k == LAST { format!("{LAST}+") } else { k.to_string() }).collect(),
            actual,
            expected,
        })
    }
}

impl FrequencyCounts {
    /// Grouped bars: actual and expected customers per number of repeat purchases.
    pub fn chart(&self) -> Result<Svg> {
        bar_chart(
            &format!("Customers by repeat {} in calibration: actual vs {}", self.unit, self.model),
            "customers",
            &self.groups,
            &[("actual".to_string(), self.actual.clone()), (format!("{} expected", self.model), self.expected.clone())],
        )
    }

    /// The counts as a table, with the difference in percent of the actual count.
    pub fn table(&self) -> HtmlTable {
        let mut t = HtmlTable::new(
            &format!("Customers by repeat {} in calibration", self.unit),
            &["repeat purchases", "actual", &format!("{} expected", self.model), "difference"],
        );
        for ((g, a), e) in self.groups.iter().zip(&self.actual).zip(&self.expected) {
            let diff = if *a > 0.0 { format!("{:+.1} %", 100.0 * (e - a) / a) } else { "–".into() };
            t.push(vec![g.clone(), format!("{a:.0}"), format!("{e:.1}"), diff]);
        }
        t
    }

    /// evcxr's display hook: the chart.
    pub fn evcxr_display(&self) {
        match self.chart() {
            Ok(svg) => svg.evcxr_display(),
            Err(_) => Html(self.table().to_html()).evcxr_display(),
        }
    }
}
