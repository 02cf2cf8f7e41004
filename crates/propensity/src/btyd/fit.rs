//! Maximum likelihood for any model of the family: Newton's method on the log of the parameters
//! with the exact gradient and Hessian, the observed information for standard errors, and the
//! checks that make a fit trustworthy (convergence, identification).

use std::time::Instant;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dual::{Dual, Real};
use super::hyperdual::HyperDual;
use super::summary::{from_order_key, order_key};
use super::Summary;
use crate::{Error, Result};

/// A model of the family: its parameters and the log-likelihood of one summary row.
pub trait Model<const N: usize>: Copy {
    /// The model's name, for reports.
    const NAME: &'static str;
    /// The parameter names, in order.
    const PARAMETERS: [&'static str; N];
    /// Parameters that are rates per unit of time (scaled with the time axis while fitting). A
    /// model with rates has a likelihood that is a density of the x repeat-purchase times, so
    /// rescaling time by s shifts the log-likelihood by −x ln s.
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
    /// Whether the fit takes Newton steps with the exact Hessian (true: a Hessian costs a few
    /// gradients) or L-BFGS steps on gradients with the exact Hessian only at the estimate (for
    /// models whose Hessian costs many gradients, such as a hypergeometric series per customer).
    const NEWTON: bool = true;
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
    /// Newton iterations.
    pub iterations: u64,
    /// Log-likelihood evaluations (values, or values with gradients and Hessians).
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
const CHUNK: usize = 1024;

/// Gradient norm (of the mean log-likelihood per customer, in log-parameters) at which the
/// iterations stop.
const TOLERANCE: f64 = 1e-8;
/// Gradient norm at the end of the iterations above which a fit is refused as not converged.
const NOT_CONVERGED: f64 = 1e-5;
/// Iterations after which the optimiser gives up.
const MAX_ITERATIONS: u64 = 1_000;
/// The largest standard error of a log-parameter taken as an estimate: above it the 95 % interval
/// spans more than a factor e^40 and the data say nothing about the parameter.
const MAX_LOG_STD_ERROR: f64 = 10.0;
/// The longest Newton step in log-parameters (a factor e⁵ ≈ 148 on a parameter).
const MAX_STEP: f64 = 5.0;

/// A number the log-likelihood can be evaluated in, seeded from a log-parameter u = ln θ: plain
/// `f64` (the value), [`Dual`] (and the gradient) or [`HyperDual`] (and the Hessian), all with
/// respect to the log-parameters.
trait Seed<const N: usize>: Real + Send + Sync {
    fn log_parameter(u: f64, i: usize) -> Self;
}

impl<const N: usize> Seed<N> for f64 {
    fn log_parameter(u: f64, _: usize) -> f64 {
        u.exp()
    }
}

impl<const N: usize> Seed<N> for Dual<N> {
    fn log_parameter(u: f64, i: usize) -> Self {
        let v = u.exp();
        let mut d = Dual::variable(v, i);
        d.d[i] = v; // ∂θ/∂u = θ
        d
    }
}

impl<const N: usize> Seed<N> for HyperDual<N> {
    fn log_parameter(u: f64, i: usize) -> Self {
        let v = u.exp();
        let mut d = HyperDual::variable(v, i);
        d.d[i] = v; // ∂θ/∂u = θ
        d.h[i][i] = v; // ∂²θ/∂u² = θ
        d
    }
}

/// The summary prepared for repeated evaluation: time rescaled, distinct frequencies and (when
/// the model shares work across rows) distinct times with per-row indices.
struct Prepared<'a> {
    rows: Vec<[f64; 3]>,
    /// Distinct frequencies and their customers.
    frequencies: Vec<(f64, f64)>,
    /// Distinct recency and age values, and per row the indices of its frequency, recency and age
    /// (into `frequencies` and `times`).
    times: Vec<f64>,
    index: Vec<[u32; 3]>,
    weights: &'a [f64],
    evaluations: std::cell::Cell<u64>,
}

impl Prepared<'_> {
    /// The total log-likelihood at log-parameters `u`, in the number type `S`.
    fn total<M: Model<N>, S: Seed<N>, const N: usize>(&self, u: &[f64; N]) -> S {
        self.evaluations.set(self.evaluations.get() + 1);
        let p: [S; N] = std::array::from_fn(|i| S::log_parameter(u[i], i));
        let parts: Vec<S> = if M::SHARES {
            let by_x: Vec<S> = self.frequencies.iter().map(|f| M::frequency_shared(&p, f.0)).collect();
            let at: Vec<S> = self.times.iter().map(|&v| M::time_shared(&p, v)).collect();
            self.rows
                .par_chunks(CHUNK)
                .zip(self.weights.par_chunks(CHUNK))
                .zip(self.index.par_chunks(CHUNK))
                .map(|((rows, weights), index)| {
                    rows.iter().zip(weights).zip(index).fold(S::cst(0.0), |acc, ((r, &w), &[f, tx, t])| {
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
                    rows.iter().zip(weights).fold(S::cst(0.0), |acc, (r, &w)| acc + M::row_term(&p, r) * w)
                })
                .collect()
        };
        let by_frequency = self.frequencies.iter().fold(S::cst(0.0), |acc, &(x, w)| acc + M::frequency_term(&p, x) * w);
        parts.into_iter().fold(by_frequency, |a, b| a + b)
    }
}

/// Fits model `M` to `data` by maximum likelihood, starting from all parameters at 1 (on a time
/// axis rescaled so the oldest customer is 10 units old, as lifetimes does; rates are reported in
/// the data's units).
///
/// The optimiser is Newton's method on the log-parameters with the exact Hessian
/// ([`HyperDual`]), a multiple of the identity added where the Hessian is not positive definite
/// and a backtracking (Armijo) line search (Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
/// algorithms 3.1 and 3.3): near the estimate it converges quadratically. Models whose Hessian
/// costs many gradients ([`Model::NEWTON`] false: Pareto/NBD) take argmin's L-BFGS steps instead.
/// Either way the exact Hessian at the estimate is the observed information the standard errors
/// come from.
///
/// Errors: data that cannot identify the model ([`Model::unidentified`]), a log-likelihood that is
/// not finite at the start, an optimiser that stops with a gradient norm above 1e-5 per customer
/// (not converged), and an observed information that is not positive definite or leaves a
/// log-parameter with a standard error above 10 (the data do not pin the parameters down: a flat
/// direction, typically a parameter running off to 0 or ∞).
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
    let prepared =
        Prepared { rows, frequencies, times, index, weights: &data.weights, evaluations: std::cell::Cell::new(0) };
    let n = data.customers();
    // the mean negative log-likelihood, its gradient and Hessian in log-parameters
    let hyper = |u: &[f64; N]| {
        let t = prepared.total::<M, HyperDual<N>, N>(u);
        (-t.v / n, t.d.map(|g| -g / n), t.hessian().map(|row| row.map(|h| -h / n)))
    };
    let gradient = |u: &[f64; N]| {
        let t = prepared.total::<M, Dual<N>, N>(u);
        (-t.v / n, t.d.map(|g| -g / n))
    };
    let value = |u: &[f64; N]| {
        let v = -prepared.total::<M, f64, N>(u) / n;
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    };
    let start_point = [0.0; N];
    let (u, (f, g, h), iterations, stopped) =
        if M::NEWTON { newton(&hyper, &value, start_point) } else { quasi_newton(&gradient, &hyper, start_point) }
            .map_err(|e| Error::Data(format!("{}: {e}", M::NAME)))?;
    let norm = |g: &[f64; N]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let gradient_norm = norm(&g);
    if gradient_norm.is_nan() || gradient_norm >= NOT_CONVERGED {
        return Err(Error::Data(format!(
            "{} did not converge: the optimiser {} after {iterations} iterations with the gradient norm at \
             {gradient_norm:.2e} per customer",
            M::NAME,
            stopped
        )));
    }
    // the observed information in log-parameters: the Hessian of the negative log-likelihood
    let info: [[f64; N]; N] = h.map(|row| row.map(|v| v * n));
    let covariance = invert_positive_definite(info).ok_or_else(|| {
        Error::Data(format!(
            "{}: the data do not identify the parameters (the observed information at the estimates is not \
             positive definite: the log-likelihood is flat in some direction)",
            M::NAME
        ))
    })?;
    // a parameter drifting to 0 or ∞ along a nearly flat ridge can end with a positive definite
    // but uninformative information matrix: its log has a huge standard error
    if let Some(i) = (0..N).find(|&i| covariance[i][i].sqrt() > MAX_LOG_STD_ERROR) {
        return Err(Error::Data(format!(
            "{}: the data do not identify the parameters ({} = {:.3e} has a standard error of {:.0} in its log: \
             the log-likelihood is nearly flat as it goes to {})",
            M::NAME,
            M::PARAMETERS[i],
            u[i].exp() / if M::RATES.contains(&i) { scale } else { 1.0 },
            covariance[i][i].sqrt(),
            if u[i] < 0.0 { "0" } else { "∞" }
        )));
    }
    let mut params: [f64; N] = u.map(f64::exp);
    for &i in M::RATES {
        params[i] /= scale;
    }
    // delta method: se(θ) = θ · se(ln θ)
    let std_errors: [f64; N] = std::array::from_fn(|i| params[i] * covariance[i][i].sqrt());
    // rescaling time by s multiplies the density of the x purchase times by s^(−x) (see
    // [`Model::RATES`]), so the log-likelihood in the data's units is shifted by ln s · Σ x
    let purchases: f64 = data.rows.iter().zip(&data.weights).map(|(r, w)| r[0] * w).sum();
    let ll = -f * n + if scale == 1.0 { 0.0 } else { scale.ln() * purchases };
    let k = N as f64;
    Ok(Fit {
        params: M::from_array(params),
        std_errors: M::from_array(std_errors),
        log_likelihood: ll,
        customers: n,
        aic: 2.0 * k - 2.0 * ll,
        bic: k * n.ln() - 2.0 * ll,
        iterations,
        evaluations: prepared.evaluations.get(),
        gradient_norm,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The mean negative log-likelihood and its gradient at a point.
type ValueGradient<const N: usize> = (f64, [f64; N]);
/// … and its Hessian.
type ValueGradientHessian<const N: usize> = (f64, [f64; N], [[f64; N]; N]);
/// An optimiser's answer: the estimate, the value, gradient and Hessian there, the iterations,
/// and why it stopped.
type Estimate<const N: usize> = ([f64; N], ValueGradientHessian<N>, u64, String);

/// Newton's method from `u` with the exact Hessian, a multiple of the identity added where it is
/// not positive definite, and a backtracking (Armijo) line search on values (Nocedal & Wright,
/// *Numerical Optimization*, 2nd ed., algorithms 3.1 and 3.3).
fn newton<const N: usize>(
    hyper: &dyn Fn(&[f64; N]) -> ValueGradientHessian<N>,
    value: &dyn Fn(&[f64; N]) -> f64,
    mut u: [f64; N],
) -> std::result::Result<Estimate<N>, String> {
    let norm = |g: &[f64; N]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let (mut f, mut g, mut h) = hyper(&u);
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(NOT_FINITE.to_string());
    }
    let mut iterations = 0;
    while norm(&g) >= TOLERANCE {
        if iterations == MAX_ITERATIONS {
            return Ok((u, (f, g, h), iterations, "ran out of iterations".to_string()));
        }
        iterations += 1;
        let mut p = newton_step(&h, &g);
        let length = norm(&p);
        if length > MAX_STEP {
            p = p.map(|v| v * MAX_STEP / length);
        }
        let slope: f64 = p.iter().zip(&g).map(|(p, g)| p * g).sum();
        let at = |t: f64| -> [f64; N] { std::array::from_fn(|i| u[i] + t * p[i]) };
        // the full step with its derivatives (accepted near the estimate), else backtrack on values
        let (mut t, mut next) = (1.0, hyper(&at(1.0)));
        let armijo = |t: f64, v: f64| v.is_finite() && v <= f + 1e-4 * t * slope;
        if !(armijo(1.0, next.0) && next.1.iter().all(|v| v.is_finite())) {
            t = 0.5;
            while t > 1e-12 && !armijo(t, value(&at(t))) {
                t *= 0.5;
            }
            if t <= 1e-12 {
                return Ok((u, (f, g, h), iterations, "found no step that increases the log-likelihood".to_string()));
            }
            next = hyper(&at(t));
        }
        u = at(t);
        (f, g, h) = next;
    }
    Ok((u, (f, g, h), iterations, "stopped".to_string()))
}

const NOT_FINITE: &str = "the log-likelihood is not finite at the starting point";

/// argmin's L-BFGS (memory 5, Moré–Thuente line search) from `u` on values and gradients, for
/// models whose exact Hessian costs many gradients; the exact Hessian at the best point.
fn quasi_newton<const N: usize>(
    gradient: &dyn Fn(&[f64; N]) -> ValueGradient<N>,
    hyper: &dyn Fn(&[f64; N]) -> ValueGradientHessian<N>,
    u: [f64; N],
) -> std::result::Result<Estimate<N>, String> {
    let (f, g) = gradient(&u);
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(NOT_FINITE.to_string());
    }
    let fit = |e: argmin::core::Error| format!("fit: {e}");
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 5)
        .with_tolerance_grad(TOLERANCE)
        .map_err(fit)?
        .with_tolerance_cost(1e-15)
        .map_err(fit)?;
    let problem = Objective { gradient, last: std::cell::RefCell::new(Some((u, (f, g)))) };
    let run = Executor::new(problem, solver)
        .configure(|s| s.param(u.to_vec()).max_iters(MAX_ITERATIONS))
        .run()
        .map_err(fit)?;
    let state = run.state();
    let best = state.get_best_param().ok_or_else(|| "no estimate".to_string())?;
    let why = match &state.termination_status {
        TerminationStatus::Terminated(TerminationReason::MaxItersReached) => "ran out of iterations".to_string(),
        TerminationStatus::Terminated(reason) => format!("stopped ({reason})"),
        TerminationStatus::NotTerminated => "stopped".to_string(),
    };
    let best: [f64; N] = std::array::from_fn(|i| best[i]);
    Ok((best, hyper(&best), state.get_iter(), why))
}

/// The mean negative log-likelihood for argmin, which asks for the value and the gradient of a
/// point separately: one evaluation gives both, kept for the second call.
struct Objective<'a, const N: usize> {
    gradient: &'a dyn Fn(&[f64; N]) -> ValueGradient<N>,
    last: std::cell::RefCell<Option<([f64; N], ValueGradient<N>)>>,
}

impl<const N: usize> Objective<'_, N> {
    fn at(&self, p: &[f64]) -> ValueGradient<N> {
        let u: [f64; N] = std::array::from_fn(|i| p[i]);
        if let Some((at, v)) = &*self.last.borrow() {
            if *at == u {
                return *v;
            }
        }
        let v = (self.gradient)(&u);
        *self.last.borrow_mut() = Some((u, v));
        v
    }
}

impl<const N: usize> CostFunction for Objective<'_, N> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        let v = self.at(p).0;
        Ok(if v.is_finite() { v } else { f64::INFINITY })
    }
}

impl<const N: usize> Gradient for Objective<'_, N> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        let g = self.at(p).1;
        if g.iter().all(|v| v.is_finite()) {
            Ok(g.to_vec())
        } else {
            Err(argmin::core::Error::msg("the gradient is not finite"))
        }
    }
}

/// The Newton step −(H + μI)⁻¹ g with the smallest μ ≥ 0 (0, then 10⁻⁶·(1 + max |Hᵢᵢ|) growing
/// tenfold) that makes the matrix positive definite, so the step goes downhill.
fn newton_step<const N: usize>(h: &[[f64; N]; N], g: &[f64; N]) -> [f64; N] {
    let largest = (0..N).map(|i| h[i][i].abs()).fold(0.0, f64::max);
    let mut mu = 0.0;
    loop {
        let shifted: [[f64; N]; N] =
            std::array::from_fn(|i| std::array::from_fn(|j| h[i][j] + if i == j { mu } else { 0.0 }));
        if let Some(inverse) = invert_positive_definite(shifted) {
            return std::array::from_fn(|i| -(0..N).map(|j| inverse[i][j] * g[j]).sum::<f64>());
        }
        mu = if mu == 0.0 { 1e-6 * (1.0 + largest) } else { mu * 10.0 };
        if !mu.is_finite() {
            return g.map(|v| -v); // a Hessian with NaNs: fall back to steepest descent
        }
    }
}

/// The distinct recency and age values of `rows`, and per row the indices of its frequency (in
/// `frequencies`, sorted like the rows), recency and age (in the distinct values). One sort of
/// (value, position) pairs on integer keys, then a walk that numbers the distinct values.
fn shared_index(rows: &[[f64; 3]], frequencies: &[(f64, f64)]) -> (Vec<f64>, Vec<[u32; 3]>) {
    let mut keyed: Vec<(u64, u32)> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, r)| [(order_key(r[1]), 2 * i as u32), (order_key(r[2]), 2 * i as u32 + 1)])
        .collect();
    keyed.sort_unstable_by_key(|k| k.0);
    let mut index = vec![[0u32; 3]; rows.len()];
    let mut times: Vec<f64> = Vec::new();
    let mut last = None;
    for (key, at) in keyed {
        if last != Some(key) {
            times.push(from_order_key(key));
            last = Some(key);
        }
        index[at as usize / 2][1 + at as usize % 2] = times.len() as u32 - 1;
    }
    // rows are sorted by frequency first, like `frequencies`
    let mut f = 0;
    for (r, i) in rows.iter().zip(&mut index) {
        while frequencies[f].0 != r[0] {
            f += 1;
        }
        i[0] = f as u32;
    }
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
        assert!(e.contains("unbounded did not converge: the optimiser"), "{e}");
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
