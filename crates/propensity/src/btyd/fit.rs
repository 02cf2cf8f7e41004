//! Maximum likelihood for any model of the family: L-BFGS on the log of the parameters with the
//! exact gradient, then the observed information for standard errors, with the checks that make
//! a fit trustworthy (convergence, identification).

use std::time::Instant;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dual::{Dual, Real};
use super::Summary;
use crate::{Error, Result};

/// A model of the family: its parameters and the log-likelihood of one summary row.
pub trait Model<const N: usize>: Copy {
    /// The model's name, for reports.
    const NAME: &'static str;
    /// The parameter names, in order.
    const PARAMETERS: [&'static str; N];
    /// Parameters that are rates per unit of time (scaled with the time axis while fitting).
    const RATES: &'static [usize];
    /// The parameters from an array in [`Model::PARAMETERS`] order.
    fn from_array(p: [f64; N]) -> Self;
    /// The parameters as an array.
    fn to_array(&self) -> [f64; N];
    /// The part of a customer's log-likelihood that depends on the data only through the
    /// frequency `x` (typically the ln Γ terms): evaluated once per distinct frequency.
    fn frequency_term<S: Real>(_p: &[S; N], _x: f64) -> S {
        S::cst(0.0)
    }
    /// The rest of the log-likelihood of one customer with summary `row` (x first).
    fn row_term<S: Real>(p: &[S; N], row: &[f64; 3]) -> S;
    /// Whether [`Model::row_term_shared`] uses the shared tables below (then the fit computes
    /// them once per evaluation: a few hundred distinct times instead of one log per customer).
    const SHARES: bool = false;
    /// A quantity shared by every customer with frequency `x` (e.g. ln a − ln(b + x − 1)).
    fn frequency_shared<S: Real>(_p: &[S; N], _x: f64) -> S {
        S::cst(0.0)
    }
    /// A quantity shared by every customer with a time `v` as recency or as age (e.g. ln(α + v)).
    fn time_shared<S: Real>(_p: &[S; N], _v: f64) -> S {
        S::cst(0.0)
    }
    /// [`Model::row_term`] from the shared quantities of the row's frequency, recency and age.
    fn row_term_shared<S: Real>(p: &[S; N], row: &[f64; 3], _by_x: S, _at_tx: S, _at_t: S) -> S {
        Self::row_term(p, row)
    }
    /// Log-likelihood of one customer with summary `row`, at parameters `p`.
    fn row_log_likelihood<S: Real>(p: &[S; N], row: &[f64; 3]) -> S {
        Self::frequency_term(p, row[0]) + Self::row_term(p, row)
    }
    /// Data the model cannot be fitted on (e.g. no repeat buyers), as a message.
    fn unidentified(data: &Summary) -> Option<String>;
}

/// A maximum-likelihood fit: the estimates, their standard errors, and the diagnostics that say
/// whether to trust them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit<P> {
    /// The estimates.
    pub params: P,
    /// Standard errors (square roots of the diagonal of the inverse observed information).
    pub std_errors: P,
    /// Total log-likelihood at the estimates.
    pub log_likelihood: f64,
    /// Customers fitted on.
    pub customers: f64,
    /// Akaike's information criterion, 2k − 2 LL.
    pub aic: f64,
    /// Bayesian information criterion, k ln n − 2 LL.
    pub bic: f64,
    /// L-BFGS iterations.
    pub iterations: u64,
    /// Log-likelihood evaluations (values and gradients).
    pub evaluations: u64,
    /// Norm of the gradient of the mean log-likelihood (per customer) in log-parameters at the
    /// estimates: ~0 at a maximum.
    pub gradient_norm: f64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Total log-likelihood of `data` at `params` (customers weighted by their group's size).
pub fn log_likelihood<M: Model<N>, const N: usize>(params: &M, data: &Summary) -> f64 {
    let p = params.to_array();
    data.rows.iter().zip(&data.weights).map(|(r, w)| w * M::row_log_likelihood(&p, r)).sum()
}

/// Groups per evaluation chunk: fixed, so the sum has one order whatever the thread count.
const CHUNK: usize = 2048;

/// A point, the value there and the gradient.
type Evaluated<const N: usize> = (Vec<f64>, f64, [f64; N]);

/// The mean negative log-likelihood in log-parameters on time-rescaled data, for argmin.
struct Objective<'a, M, const N: usize> {
    rows: &'a [[f64; 3]],
    /// Distinct frequencies and their customers.
    frequencies: &'a [(f64, f64)],
    /// Distinct recency and age values, and per row the indices of its frequency, recency and age
    /// (into `frequencies` and `times`), when the model shares work across rows.
    times: &'a [f64],
    index: &'a [[u32; 3]],
    weights: &'a [f64],
    total: f64,
    counter: &'a std::sync::atomic::AtomicU64,
    /// The last point evaluated and its value and gradient: argmin asks for the cost and the
    /// gradient of a point separately, and one pass gives both.
    last: std::cell::RefCell<Option<Evaluated<N>>>,
    model: std::marker::PhantomData<M>,
}

impl<M: Model<N>, const N: usize> Objective<'_, M, N> {
    /// Value and gradient (with respect to the log-parameters) of the mean negative
    /// log-likelihood.
    fn value_and_gradient(&self, log_p: &[f64]) -> (f64, [f64; N]) {
        if let Some((p, v, g)) = &*self.last.borrow() {
            if p.as_slice() == log_p {
                return (*v, *g);
            }
        }
        let (v, g) = self.evaluate(log_p);
        *self.last.borrow_mut() = Some((log_p.to_vec(), v, g));
        (v, g)
    }

    fn evaluate(&self, log_p: &[f64]) -> (f64, [f64; N]) {
        self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p: [Dual<N>; N] = std::array::from_fn(|i| {
            let v = log_p[i].exp();
            let mut d = Dual::variable(v, i);
            d.d[i] = v; // ∂θ/∂ln θ = θ
            d
        });
        let parts: Vec<Dual<N>> = if M::SHARES {
            let by_x: Vec<Dual<N>> = self.frequencies.iter().map(|f| M::frequency_shared(&p, f.0)).collect();
            let at: Vec<Dual<N>> = self.times.iter().map(|&v| M::time_shared(&p, v)).collect();
            self.rows
                .par_chunks(CHUNK)
                .zip(self.weights.par_chunks(CHUNK))
                .zip(self.index.par_chunks(CHUNK))
                .map(|((rows, weights), index)| {
                    rows.iter().zip(weights).zip(index).fold(Dual::cst(0.0), |acc, ((r, &w), &[f, tx, t])| {
                        let term = M::row_term_shared(&p, r, by_x[f as usize], at[tx as usize], at[t as usize]);
                        acc + term * w
                    })
                })
                .collect()
        } else {
            self.rows
                .par_chunks(CHUNK)
                .zip(self.weights.par_chunks(CHUNK))
                .map(|(rows, weights)| {
                    rows.iter().zip(weights).fold(Dual::cst(0.0), |acc, (r, &w)| acc + M::row_term(&p, r) * w)
                })
                .collect()
        };
        let by_frequency =
            self.frequencies.iter().fold(Dual::cst(0.0), |acc, &(x, w)| acc + M::frequency_term(&p, x) * w);
        let total = parts.into_iter().fold(by_frequency, |a, b| a + b);
        (-total.v / self.total, total.d.map(|g| -g / self.total))
    }
}

impl<M: Model<N>, const N: usize> CostFunction for Objective<'_, M, N> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        let v = self.value_and_gradient(p).0;
        Ok(if v.is_finite() { v } else { f64::INFINITY })
    }
}

impl<M: Model<N>, const N: usize> Gradient for Objective<'_, M, N> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        let g = self.value_and_gradient(p).1;
        if g.iter().all(|v| v.is_finite()) {
            Ok(g.to_vec())
        } else {
            Err(argmin::core::Error::msg("the gradient is not finite"))
        }
    }
}

/// Fits model `M` to `data` by maximum likelihood, starting from all parameters at 1 (on a time
/// axis rescaled so the oldest customer is 10 units old, as lifetimes does; rates are reported in
/// the data's units).
///
/// Errors: data that cannot identify the model ([`Model::unidentified`]), a log-likelihood that is
/// not finite at the start, an optimiser that stops with a gradient norm above 1e-5 per customer
/// (not converged), and an observed information that is not positive definite (the data do not
/// pin the parameters down: a flat direction, typically a parameter running off to 0 or ∞).
pub fn fit<M: Model<N>, const N: usize>(data: &Summary) -> Result<Fit<M>> {
    let start = Instant::now();
    if let Some(why) = M::unidentified(data) {
        return Err(Error::Data(format!("{} cannot be fitted: {why}", M::NAME)));
    }
    let scale = if M::RATES.is_empty() { 1.0 } else { 10.0 / data.max_age().max(f64::MIN_POSITIVE) };
    let rows: Vec<[f64; 3]> = if scale == 1.0 {
        data.rows.clone()
    } else {
        data.rows.iter().map(|r| [r[0], r[1] * scale, r[2] * scale]).collect()
    };
    let mut frequencies: Vec<(f64, f64)> = Vec::new();
    for (r, &w) in data.rows.iter().zip(&data.weights) {
        // rows are sorted by frequency first
        match frequencies.last_mut().filter(|f| f.0 == r[0]) {
            Some(f) => f.1 += w,
            None => frequencies.push((r[0], w)),
        }
    }
    let (times, index) = if M::SHARES { shared_index(&rows, &frequencies) } else { (Vec::new(), Vec::new()) };
    let counter = std::sync::atomic::AtomicU64::new(0);
    let objective = || Objective::<M, N> {
        rows: &rows,
        frequencies: &frequencies,
        times: &times,
        index: &index,
        weights: &data.weights,
        total: data.customers(),
        counter: &counter,
        last: std::cell::RefCell::new(None),
        model: std::marker::PhantomData,
    };
    let init = vec![0.0; N];
    if !objective().value_and_gradient(&init).0.is_finite() {
        return Err(Error::Data(format!("{}: the log-likelihood is not finite at the starting point", M::NAME)));
    }
    let optimiser = |e: argmin::core::Error| Error::Data(format!("{} fit: {e}", M::NAME));
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 5)
        .with_tolerance_grad(1e-8)
        .map_err(optimiser)?
        .with_tolerance_cost(1e-15)
        .map_err(optimiser)?;
    let run =
        Executor::new(objective(), solver).configure(|s| s.param(init).max_iters(1_000)).run().map_err(optimiser)?;
    let state = run.state();
    let iterations = state.get_iter();
    let best = state.get_best_param().cloned().ok_or_else(|| Error::Data(format!("{}: no estimate", M::NAME)))?;
    let objective = objective();
    let (mean_nll, gradient) = objective.value_and_gradient(&best);
    let gradient_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    if gradient_norm.is_nan() || gradient_norm >= 1e-5 {
        let why = match &state.termination_status {
            TerminationStatus::Terminated(TerminationReason::MaxItersReached) => "ran out of iterations".to_string(),
            TerminationStatus::Terminated(reason) => format!("stopped ({reason})"),
            TerminationStatus::NotTerminated => "stopped".to_string(),
        };
        return Err(Error::Data(format!(
            "{} did not converge: the optimiser {why} after {iterations} iterations with the gradient norm at \
             {gradient_norm:.2e} per customer",
            M::NAME
        )));
    }
    // observed information in log-parameters, by central differences of the exact gradient
    let n = objective.total;
    let h = 1e-5;
    let mut info = [[0.0; N]; N];
    for i in 0..N {
        let (mut up, mut down) = (best.clone(), best.clone());
        up[i] += h;
        down[i] -= h;
        let (gu, gd) = (objective.value_and_gradient(&up).1, objective.value_and_gradient(&down).1);
        for j in 0..N {
            info[i][j] = n * (gu[j] - gd[j]) / (2.0 * h);
        }
    }
    let info: [[f64; N]; N] = std::array::from_fn(|i| std::array::from_fn(|j| 0.5 * (info[i][j] + info[j][i])));
    let covariance = invert_positive_definite(info).ok_or_else(|| {
        Error::Data(format!(
            "{}: the data do not identify the parameters (the observed information at the estimates is not \
             positive definite: the log-likelihood is flat in some direction)",
            M::NAME
        ))
    })?;
    let mut params: [f64; N] = std::array::from_fn(|i| best[i].exp());
    for &i in M::RATES {
        params[i] /= scale;
    }
    // delta method: se(θ) = θ · se(ln θ)
    let std_errors: [f64; N] = std::array::from_fn(|i| params[i] * covariance[i][i].sqrt());
    // the log-likelihood in the data's time units (rescaling time shifts it by a constant)
    let model = M::from_array(params);
    let ll = if scale == 1.0 { -mean_nll * n } else { log_likelihood(&model, data) };
    let k = N as f64;
    Ok(Fit {
        params: model,
        std_errors: M::from_array(std_errors),
        log_likelihood: ll,
        customers: n,
        aic: 2.0 * k - 2.0 * ll,
        bic: k * n.ln() - 2.0 * ll,
        iterations,
        evaluations: counter.into_inner(),
        gradient_norm,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The distinct recency and age values of `rows`, and per row the indices of its frequency (in
/// `frequencies`, sorted like the rows), recency and age (in the distinct values).
fn shared_index(rows: &[[f64; 3]], frequencies: &[(f64, f64)]) -> (Vec<f64>, Vec<[u32; 3]>) {
    let mut times: Vec<f64> = rows.iter().flat_map(|r| [r[1], r[2]]).collect();
    times.sort_unstable_by(f64::total_cmp);
    times.dedup();
    let position = |sorted: &[f64], v: f64| sorted.partition_point(|&u| u < v) as u32;
    let xs: Vec<f64> = frequencies.iter().map(|f| f.0).collect();
    let index = rows.iter().map(|r| [position(&xs, r[0]), position(&times, r[1]), position(&times, r[2])]).collect();
    (times, index)
}

/// The inverse of a symmetric matrix by Cholesky, or `None` when it is not positive definite.
#[allow(clippy::needless_range_loop)] // matrix code reads best with indices
fn invert_positive_definite<const N: usize>(a: [[f64; N]; N]) -> Option<[[f64; N]; N]> {
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    // columns of the inverse: solve L Lᵀ x = e_c
    let mut inv = [[0.0; N]; N];
    for c in 0..N {
        let mut y = [0.0; N];
        for i in 0..N {
            let e = if i == c { 1.0 } else { 0.0 };
            y[i] = (e - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
        }
        let mut x = [0.0; N];
        for i in (0..N).rev() {
            x[i] = (y[i] - (i + 1..N).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
        }
        for r in 0..N {
            inv[r][c] = x[r];
        }
    }
    Some(inv)
}

/// The parameter table rows of a fit: name, estimate, standard error, 95 % interval.
pub fn parameter_rows<M: Model<N>, const N: usize>(fit: &Fit<M>) -> Vec<Vec<String>> {
    let (p, se) = (fit.params.to_array(), fit.std_errors.to_array());
    (0..N)
        .map(|i| {
            vec![
                M::PARAMETERS[i].to_string(),
                format!("{:.4}", p[i]),
                format!("{:.4}", se[i]),
                format!("{:.4} … {:.4}", p[i] - 1.96 * se[i], p[i] + 1.96 * se[i]),
            ]
        })
        .collect()
}

/// The estimates on one line: `r = 0.2516 ± 0.0042, alpha = …`.
pub fn parameter_line<M: Model<N>, const N: usize>(fit: &Fit<M>) -> String {
    parameter_rows(fit).iter().map(|r| format!("{} = {} ± {}", r[0], r[1], r[2])).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy model whose log-likelihood −(θ₀ − 2)² ignores θ₁: the data cannot identify θ₁.
    #[derive(Debug, Clone, Copy)]
    struct Flat([f64; 2]);

    impl Model<2> for Flat {
        const NAME: &'static str = "flat";
        const PARAMETERS: [&'static str; 2] = ["a", "b"];
        const RATES: &'static [usize] = &[];
        fn from_array(p: [f64; 2]) -> Self {
            Flat(p)
        }
        fn to_array(&self) -> [f64; 2] {
            self.0
        }
        fn row_term<S: Real>(&[a, _]: &[S; 2], _row: &[f64; 3]) -> S {
            -((a - 2.0) * (a - 2.0))
        }
        fn unidentified(_: &Summary) -> Option<String> {
            None
        }
    }

    /// A toy model whose log-likelihood grows without bound in θ₀.
    #[derive(Debug, Clone, Copy)]
    struct Unbounded([f64; 1]);

    impl Model<1> for Unbounded {
        const NAME: &'static str = "unbounded";
        const PARAMETERS: [&'static str; 1] = ["a"];
        const RATES: &'static [usize] = &[];
        fn from_array(p: [f64; 1]) -> Self {
            Unbounded(p)
        }
        fn to_array(&self) -> [f64; 1] {
            self.0
        }
        fn row_term<S: Real>(&[a]: &[S; 1], _row: &[f64; 3]) -> S {
            a.ln()
        }
        fn unidentified(_: &Summary) -> Option<String> {
            None
        }
    }

    #[test]
    fn a_flat_direction_and_a_runaway_parameter_are_errors_not_estimates() {
        let data = Summary::new(&[1.0, 2.0], &[1.0, 2.0], &[3.0, 3.0]).unwrap();
        let e = fit::<Flat, 2>(&data).unwrap_err().to_string();
        assert!(e.contains("flat: the data do not identify the parameters"), "{e}");
        let e = fit::<Unbounded, 1>(&data).unwrap_err().to_string();
        assert!(e.contains("unbounded did not converge: the optimiser stopped"), "{e}");
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn cholesky_inverse_inverts_and_refuses_indefinite_matrices() {
        let a = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let inv = invert_positive_definite(a).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i][k] * inv[k][j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(invert_positive_definite([[1.0, 2.0], [2.0, 1.0]]).is_none());
    }
}
