//! The customer summary the models are fitted on, with identical customers grouped.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Customers as rows of three numbers — (frequency x, recency t_x, age T) for the
/// continuous-time models, (x, t_x, n opportunities) for BG/BB, (x, mean spend m, 0) for
/// Gamma-Gamma — with identical rows grouped and counted. Groups are sorted, so the likelihood is
/// summed in one order whatever order the customers came in.
///
/// ```
/// use propensity::btyd::Summary;
/// let s = Summary::new(&[0.0, 1.0, 0.0], &[0.0, 3.0, 0.0], &[10.0, 10.0, 10.0]).unwrap();
/// assert_eq!((s.groups(), s.customers()), (2, 3.0));
/// assert!(Summary::new(&[1.0], &[5.0], &[4.0]).is_err()); // t_x > T
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The distinct rows.
    pub rows: Vec<[f64; 3]>,
    /// How many customers have each row.
    pub weights: Vec<f64>,
}

impl Summary {
    /// Groups per-customer (x, t_x, T). Errors on mismatched lengths, no customers, and a value
    /// no customer can have (x not a whole number ≥ 0, t_x outside [0, T], a non-finite T, or
    /// t_x > 0 with x = 0), naming the customer's position.
    pub fn new(x: &[f64], tx: &[f64], t: &[f64]) -> Result<Summary> {
        Summary::weighted(x, tx, t, &vec![1.0; x.len()])
    }

    /// Like [`Summary::new`] for a summary that already counts its customers: `weights[i]`
    /// customers have row i (a whole number ≥ 0).
    pub fn weighted(x: &[f64], tx: &[f64], t: &[f64], weights: &[f64]) -> Result<Summary> {
        if x.len() != tx.len() || x.len() != t.len() || x.len() != weights.len() || x.is_empty() {
            return Err(Error::Data(format!(
                "frequency, recency, T and weights need one value per row; got {}, {}, {}, {}",
                x.len(),
                tx.len(),
                t.len(),
                weights.len()
            )));
        }
        for i in 0..x.len() {
            let (x, tx, t, w) = (x[i], tx[i], t[i], weights[i]);
            // (v as u64) as f64 == v: a whole number below 2⁶⁴ without a call to trunc (every f64
            // from 2⁵³ up is whole)
            let whole = |v: f64| v >= 0.0 && v.is_finite() && (v >= 2f64.powi(53) || (v as u64) as f64 == v);
            if !(whole(x) && tx >= 0.0 && tx <= t && t.is_finite() && (x > 0.0 || tx == 0.0) && whole(w)) {
                return Err(Error::Data(format!(
                    "row {}: need a whole frequency ≥ 0, 0 ≤ recency ≤ T (recency 0 without repeats) and a whole \
                     weight ≥ 0; found frequency {x}, recency {tx}, T {t}, weight {w}",
                    i + 1
                )));
            }
        }
        Ok(Summary::group((0..x.len()).map(|i| ([x[i], tx[i], t[i]], weights[i]))))
    }

    /// Groups rows that were checked by the caller: sorted on integer keys that order like the
    /// numbers — the first two columns as one 128-bit key, then the third within each run of
    /// equal keys (a quarter of the time of a three-column comparison sort here).
    pub(crate) fn group(rows: impl Iterator<Item = ([f64; 3], f64)>) -> Summary {
        let mut all: Vec<(u128, u64, f64)> = rows
            .filter(|r| r.1 > 0.0)
            .map(|(r, w)| ((u128::from(order_key(r[0])) << 64) | u128::from(order_key(r[1])), order_key(r[2]), w))
            .collect();
        all.sort_unstable_by_key(|r| r.0);
        for run in all.chunk_by_mut(|a, b| a.0 == b.0) {
            run.sort_unstable_by_key(|r| r.1);
        }
        let (mut rows, mut weights): (Vec<[f64; 3]>, Vec<f64>) = (Vec::new(), Vec::new());
        for run in all.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (first, third) = (run[0].0, run[0].1);
            rows.push([(first >> 64) as u64, first as u64, third].map(from_order_key));
            weights.push(run.iter().map(|r| r.2).sum());
        }
        Summary { rows, weights }
    }

    /// Distinct rows.
    pub fn groups(&self) -> usize {
        self.rows.len()
    }

    /// Customers (the sum of the weights).
    pub fn customers(&self) -> f64 {
        self.weights.iter().sum()
    }

    /// Customers with at least one repeat purchase.
    pub fn repeaters(&self) -> f64 {
        self.rows.iter().zip(&self.weights).filter(|(r, _)| r[0] > 0.0).map(|(_, w)| w).sum()
    }

    /// The largest third column (T or n).
    pub fn max_age(&self) -> f64 {
        self.rows.iter().map(|r| r[2]).fold(0.0, f64::max)
    }
}

/// An integer that orders like the number (−0 as 0): the sign bit flipped for positives, all
/// bits for negatives.
pub(crate) fn order_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The number back from [`order_key`].
pub(crate) fn from_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key & !(1 << 63) } else { !key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_keys_order_like_the_numbers_and_invert() {
        let v = [-3.5, -0.0, 0.0, 1e-300, 0.25, 7.0, f64::INFINITY, f64::NEG_INFINITY];
        for a in v {
            assert_eq!(from_order_key(order_key(a)), a + 0.0);
            for b in v {
                assert_eq!(order_key(a).cmp(&order_key(b)), (a + 0.0).total_cmp(&(b + 0.0)), "{a} {b}");
            }
        }
    }
}
