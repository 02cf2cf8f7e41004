//! Forward-mode automatic differentiation: a [`Dual`] number carries a value and its gradient
//! with respect to `N` parameters, so a log-likelihood written once over [`Real`] gives its exact
//! gradient (no finite differences) — including through [`Real::ln_gamma`] and power series such
//! as [`hyp2f1`].
//!
//! ```
//! use propensity::btyd::dual::{Dual, Real};
//! // f(a, b) = a·ln b at (2, 3): ∂f/∂a = ln 3, ∂f/∂b = a/b
//! let (a, b) = (Dual::<2>::variable(2.0, 0), Dual::<2>::variable(3.0, 1));
//! let f = a * b.ln();
//! assert!((f.d[0] - 3f64.ln()).abs() < 1e-15 && (f.d[1] - 2.0 / 3.0).abs() < 1e-15);
//! ```

use std::ops::{Add, Div, Mul, Neg, Sub};

use statrs::function::gamma::{digamma, ln_gamma};

/// The arithmetic a log-likelihood needs, for plain `f64` (values only) and [`Dual`] (values
/// and gradients).
pub trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// A constant.
    fn cst(v: f64) -> Self;
    /// The value.
    fn value(self) -> f64;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Exponential.
    fn exp(self) -> Self;
    /// ln Γ.
    fn ln_gamma(self) -> Self;
    /// ln(1 + e^self), computed without overflow.
    fn softplus(self) -> Self;
    /// ln(e^self + e^other), computed without overflow.
    fn log_add_exp(self, other: Self) -> Self {
        let (hi, lo) = if self.value() >= other.value() { (self, other) } else { (other, self) };
        if lo.value() == f64::NEG_INFINITY {
            return hi;
        }
        hi + (lo - hi).softplus()
    }
    /// ₂F₁(a, b; c; z) for 0 ≤ z < 1 ([`hyp2f1`]).
    fn hyp2f1(a: Self, b: Self, c: Self, z: Self) -> Self;
    /// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
    fn ln_beta(self, b: Self) -> Self {
        self.ln_gamma() + b.ln_gamma() - (self + b).ln_gamma()
    }
}

impl Real for f64 {
    fn cst(v: f64) -> f64 {
        v
    }
    fn value(self) -> f64 {
        self
    }
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    fn ln_gamma(self) -> f64 {
        ln_gamma(self)
    }
    fn softplus(self) -> f64 {
        softplus_and_sigmoid(self).0
    }
    fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
        power_series_2f1(a, b, c, z)
    }
}

/// ln(1 + e^v) and its derivative, the logistic 1/(1 + e^−v), from one exponential.
pub(super) fn softplus_and_sigmoid(v: f64) -> (f64, f64) {
    let e = (-v.abs()).exp();
    if v > 0.0 {
        (v + e.ln_1p(), 1.0 / (1.0 + e))
    } else {
        (e.ln_1p(), e / (1.0 + e))
    }
}

/// A value and its partial derivatives with respect to `N` parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dual<const N: usize> {
    /// The value.
    pub v: f64,
    /// ∂value/∂parameter_i.
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// Parameter `i` with value `v` (derivative 1 with respect to itself).
    pub fn variable(v: f64, i: usize) -> Self {
        let mut d = [0.0; N];
        d[i] = 1.0;
        Dual { v, d }
    }

    /// f(self) with f' = `slope` at the value.
    fn chain(self, v: f64, slope: f64) -> Self {
        Dual { v, d: self.d.map(|g| g * slope) }
    }
}

impl<const N: usize> Real for Dual<N> {
    fn cst(v: f64) -> Self {
        Dual { v, d: [0.0; N] }
    }
    fn value(self) -> f64 {
        self.v
    }
    fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    fn ln_gamma(self) -> Self {
        self.chain(ln_gamma(self.v), digamma(self.v))
    }
    fn softplus(self) -> Self {
        let (v, sigmoid) = softplus_and_sigmoid(self.v);
        self.chain(v, sigmoid)
    }
    /// The series in plain numbers, each term carrying its log-derivatives with respect to a, b, c
    /// and z (Σ 1/(a+j), Σ 1/(b+j), −Σ 1/(c+j), k/z): the same terms as the `f64` series, a
    /// fraction of the work of dual arithmetic.
    fn hyp2f1(a: Self, b: Self, c: Self, z: Self) -> Self {
        let (mut term, mut sum) = (1.0f64, 1.0f64);
        let (mut la, mut lb, mut lc) = (0.0f64, 0.0f64, 0.0f64);
        let (mut sa, mut sb, mut sc, mut sz) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for k in 0..1_000_000u32 {
            let k = f64::from(k);
            let (ia, ib, ic) = (1.0 / (a.v + k), 1.0 / (b.v + k), 1.0 / (c.v + k));
            term *= (a.v + k) * (b.v + k) * ic / (k + 1.0) * z.v;
            la += ia;
            lb += ib;
            lc += ic;
            sum += term;
            sa += term * la;
            sb += term * lb;
            sc -= term * lc;
            sz += term * (k + 1.0);
            if term.abs() <= 1e-16 * sum.abs() {
                break;
            }
        }
        let sz = if z.v == 0.0 { a.v * b.v / c.v } else { sz / z.v };
        let d = std::array::from_fn(|i| sa * a.d[i] + sb * b.d[i] + sc * c.d[i] + sz * z.d[i]);
        Dual { v: sum, d }
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        let mut d = self.d;
        for (a, b) in d.iter_mut().zip(o.d) {
            *a += b;
        }
        Dual { v: self.v + o.v, d }
    }
}

impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        let mut d = self.d;
        for (a, b) in d.iter_mut().zip(o.d) {
            *a -= b;
        }
        Dual { v: self.v - o.v, d }
    }
}

impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        #[allow(clippy::suspicious_arithmetic_impl)] // the product rule
        let d = std::array::from_fn(|i| self.d[i] * o.v + o.d[i] * self.v);
        Dual { v: self.v * o.v, d }
    }
}

impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        let inverse = 1.0 / o.v;
        let q = self.v / o.v; // the value exactly as in f64
        #[allow(clippy::suspicious_arithmetic_impl)] // the quotient rule
        let d = std::array::from_fn(|i| (self.d[i] - q * o.d[i]) * inverse);
        Dual { v: q, d }
    }
}

impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    fn neg(self) -> Self {
        Dual { v: -self.v, d: self.d.map(|g| -g) }
    }
}

impl<const N: usize> Add<f64> for Dual<N> {
    type Output = Self;
    fn add(self, o: f64) -> Self {
        Dual { v: self.v + o, d: self.d }
    }
}

impl<const N: usize> Sub<f64> for Dual<N> {
    type Output = Self;
    fn sub(self, o: f64) -> Self {
        Dual { v: self.v - o, d: self.d }
    }
}

impl<const N: usize> Mul<f64> for Dual<N> {
    type Output = Self;
    fn mul(self, o: f64) -> Self {
        Dual { v: self.v * o, d: self.d.map(|g| g * o) }
    }
}

impl<const N: usize> Div<f64> for Dual<N> {
    type Output = Self;
    fn div(self, o: f64) -> Self {
        Dual { v: self.v / o, d: self.d.map(|g| g / o) }
    }
}

/// The power series of ₂F₁(a, b; c; z) in any [`Real`], summed until a term is below 1e-16 of the
/// sum: the `f64` values, and the second derivatives of [`super::hyperdual::HyperDual`].
pub(super) fn power_series_2f1<S: Real>(a: S, b: S, c: S, z: S) -> S {
    let (mut term, mut sum) = (S::cst(1.0), S::cst(1.0));
    for k in 0..1_000_000u32 {
        let k = f64::from(k);
        term = term * ((a + k) * (b + k) * (S::cst(1.0) / (c + k)) / (k + 1.0) * z); // as the dual series
        sum = sum + term;
        if term.value().abs() <= 1e-16 * sum.value().abs() {
            break;
        }
    }
    sum
}

/// Gauss' hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its power series, over any
/// [`Real`] (so its derivatives with respect to a, b, c and z come with it).
///
/// ```
/// use propensity::btyd::dual::hyp2f1;
/// // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z
/// assert!((hyp2f1(1.0, 1.0, 2.0, 0.5) - 2f64.ln() / 0.5).abs() < 1e-12);
/// ```
pub fn hyp2f1<S: Real>(a: S, b: S, c: S, z: S) -> S {
    S::hyp2f1(a, b, c, z)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central differences of a function of two variables.
    fn numeric(f: impl Fn(f64, f64) -> f64, a: f64, b: f64) -> [f64; 2] {
        let h = 1e-6;
        [(f(a + h, b) - f(a - h, b)) / (2.0 * h), (f(a, b + h) - f(a, b - h)) / (2.0 * h)]
    }

    #[test]
    fn gradients_match_central_differences() {
        fn f<S: Real>(a: S, b: S) -> S {
            (a * b).ln_gamma() - (a / b).exp()
                + hyp2f1(a, b, a + b + 1.0, S::cst(0.3)).ln()
                + a.log_add_exp(b * 2.0)
                + (a - b * 3.0).softplus()
        }
        let (a, b) = (1.3, 0.7);
        let exact = f(Dual::<2>::variable(a, 0), Dual::<2>::variable(b, 1));
        assert_eq!(exact.v, f(a, b));
        for (got, want) in exact.d.iter().zip(numeric(f::<f64>, a, b)) {
            assert!((got - want).abs() < 1e-7, "{got} vs {want}");
        }
    }
}
