//! Second-order forward-mode differentiation: a [`HyperDual`] carries a value, its gradient and
//! its Hessian with respect to `N` parameters, so the same log-likelihood written once over
//! [`Real`] also gives the exact observed information — the Newton steps of the fit and the
//! standard errors, with no finite differences.
//!
//! ```
//! use propensity::btyd::dual::Real;
//! use propensity::btyd::hyperdual::HyperDual;
//! // f(a, b) = a·ln b at (2, 3): ∂²f/∂a∂b = 1/b, ∂²f/∂b² = −a/b²
//! let (a, b) = (HyperDual::<2>::variable(2.0, 0), HyperDual::<2>::variable(3.0, 1));
//! let f = a * b.ln();
//! let h = f.hessian();
//! assert!((h[0][1] - 1.0 / 3.0).abs() < 1e-15 && (h[1][1] + 2.0 / 9.0).abs() < 1e-15);
//! ```

#![allow(clippy::needless_range_loop)] // gradient and Hessian arithmetic reads best with indices

use std::ops::{Add, Div, Mul, Neg, Sub};

use statrs::function::gamma::{digamma, ln_gamma};

use super::dual::{power_series_2f1, softplus_and_sigmoid, Real};

/// A value, its partial derivatives and its second partial derivatives with respect to `N`
/// parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HyperDual<const N: usize> {
    /// The value.
    pub v: f64,
    /// ∂value/∂parameter_i.
    pub d: [f64; N],
    /// ∂²value/∂parameter_i∂parameter_j for j ≤ i (the lower triangle; [`HyperDual::hessian`]
    /// gives the whole symmetric matrix).
    pub h: [[f64; N]; N],
}

impl<const N: usize> HyperDual<N> {
    /// Parameter `i` with value `v`.
    pub fn variable(v: f64, i: usize) -> Self {
        let mut x = Self::cst(v);
        x.d[i] = 1.0;
        x
    }

    /// f(self) with f' = `slope` and f'' = `curvature` at the value.
    #[inline(always)]
    fn chain(self, v: f64, slope: f64, curvature: f64) -> Self {
        let mut h = self.h;
        for i in 0..N {
            let c = curvature * self.d[i];
            for j in 0..N {
                h[i][j] = h[i][j] * slope + c * self.d[j];
            }
        }
        HyperDual { v, d: self.d.map(|g| g * slope), h }
    }

    /// a·self + b·o, elementwise.
    #[inline(always)]
    fn combine(self, a: f64, o: Self, b: f64) -> Self {
        let mut h = self.h;
        for i in 0..N {
            for j in 0..N {
                h[i][j] = a * h[i][j] + b * o.h[i][j];
            }
        }
        HyperDual { v: a * self.v + b * o.v, d: std::array::from_fn(|i| a * self.d[i] + b * o.d[i]), h }
    }

    #[inline(always)]
    fn scale(self, s: f64) -> Self {
        let mut h = self.h;
        for i in 0..N {
            for j in 0..N {
                h[i][j] *= s;
            }
        }
        HyperDual { v: self.v * s, d: self.d.map(|g| g * s), h }
    }

    /// The Hessian as a full symmetric matrix (the arithmetic keeps its lower triangle).
    pub fn hessian(&self) -> [[f64; N]; N] {
        std::array::from_fn(|i| std::array::from_fn(|j| if j <= i { self.h[i][j] } else { self.h[j][i] }))
    }
}

/// The trigamma function ψ₁(x) = d²/dx² ln Γ(x) for x > 0: the recurrence ψ₁(x) = ψ₁(x + 1) +
/// 1/x² up to x ≥ 10, then the asymptotic series (Abramowitz & Stegun 6.4.12), accurate to ~1e-13.
fn trigamma(mut x: f64) -> f64 {
    let mut sum = 0.0;
    while x < 10.0 {
        sum += 1.0 / (x * x);
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    // 1/x + 1/(2x²) + 1/(6x³) − 1/(30x⁵) + 1/(42x⁷) − 1/(30x⁹) + 5/(66x¹¹)
    let series = z * (1.0 / 6.0 + z * (-1.0 / 30.0 + z * (1.0 / 42.0 + z * (-1.0 / 30.0 + z * 5.0 / 66.0))));
    sum + (1.0 + series) / x + z / 2.0
}

impl<const N: usize> Real for HyperDual<N> {
    fn cst(v: f64) -> Self {
        HyperDual { v, d: [0.0; N], h: [[0.0; N]; N] }
    }
    fn value(self) -> f64 {
        self.v
    }
    #[inline(always)]
    fn ln(self) -> Self {
        let inverse = 1.0 / self.v;
        self.chain(self.v.ln(), inverse, -inverse * inverse)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e, e)
    }
    fn ln_gamma(self) -> Self {
        self.chain(ln_gamma(self.v), digamma(self.v), trigamma(self.v))
    }
    #[inline(always)]
    fn softplus(self) -> Self {
        let (v, sigmoid) = softplus_and_sigmoid(self.v);
        self.chain(v, sigmoid, sigmoid * (1.0 - sigmoid))
    }
    /// The series in plain numbers, each term carrying its first and second log-derivatives with
    /// respect to a, b, c and z (Σ 1/(a+j) and −Σ 1/(a+j)², …, k/z and −k/z²), then the chain rule
    /// once: the same terms as the `f64` series. At z = 0 (where k/z is undefined) the series in
    /// hyper-dual arithmetic.
    fn hyp2f1(a: Self, b: Self, c: Self, z: Self) -> Self {
        if z.v == 0.0 {
            return power_series_2f1(a, b, c, z);
        }
        let (mut term, mut sum) = (1.0f64, 1.0f64);
        let (mut la, mut lb, mut lc, mut qa, mut qb, mut qc) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
        // Σ t·∂ln t/∂u and Σ t·(∂ln t/∂u ∂ln t/∂w + ∂²ln t/∂u∂w) over the terms, u, w ∈ (a, b, c, z)
        let (mut first, mut second) = ([0.0f64; 4], [[0.0f64; 4]; 4]);
        for k in 0..1_000_000u32 {
            let k = f64::from(k);
            let (ia, ib, ic) = (1.0 / (a.v + k), 1.0 / (b.v + k), 1.0 / (c.v + k));
            term *= (a.v + k) * (b.v + k) * ic / (k + 1.0) * z.v;
            la += ia;
            lb += ib;
            lc += ic;
            qa += ia * ia;
            qb += ib * ib;
            qc += ic * ic;
            sum += term;
            let g = [la, lb, -lc, (k + 1.0) / z.v];
            let curvature = [-qa, -qb, qc, -(k + 1.0) / (z.v * z.v)];
            for u in 0..4 {
                let tg = term * g[u];
                first[u] += tg;
                second[u][u] += tg * g[u] + term * curvature[u];
                for w in 0..u {
                    second[u][w] += tg * g[w];
                }
            }
            if term.abs() <= 1e-16 * sum.abs() {
                break;
            }
        }
        let inputs = [a, b, c, z];
        // ∇F = Σᵤ Fᵤ ∇u; ∇²F = Σᵤ Fᵤ ∇²u + Σᵤ ∇u (Σ_w F_uw ∇w)ᵀ
        let mut out = Self::cst(sum);
        for (u, x) in inputs.iter().enumerate() {
            let along: [f64; N] = std::array::from_fn(|j| {
                (0..4).map(|w| if w <= u { second[u][w] } else { second[w][u] } * inputs[w].d[j]).sum()
            });
            for i in 0..N {
                out.d[i] += first[u] * x.d[i];
                for j in 0..N {
                    out.h[i][j] += first[u] * x.h[i][j] + x.d[i] * along[j];
                }
            }
        }
        out
    }
}

impl<const N: usize> Add for HyperDual<N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.combine(1.0, o, 1.0)
    }
}

impl<const N: usize> Sub for HyperDual<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.combine(1.0, o, -1.0)
    }
}

impl<const N: usize> Mul for HyperDual<N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        let mut h = self.h;
        for i in 0..N {
            for j in 0..N {
                h[i][j] = h[i][j] * o.v + o.h[i][j] * self.v + self.d[i] * o.d[j] + o.d[i] * self.d[j];
            }
        }
        HyperDual { v: self.v * o.v, d: std::array::from_fn(|i| self.d[i] * o.v + o.d[i] * self.v), h }
    }
}

impl<const N: usize> Div for HyperDual<N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        let inverse = 1.0 / o.v;
        let mut q = self * o.chain(inverse, -inverse * inverse, 2.0 * inverse * inverse * inverse);
        q.v = self.v / o.v; // the value exactly as in f64
        q
    }
}

impl<const N: usize> Neg for HyperDual<N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.scale(-1.0)
    }
}

impl<const N: usize> Add<f64> for HyperDual<N> {
    type Output = Self;
    #[inline(always)]
    fn add(mut self, o: f64) -> Self {
        self.v += o;
        self
    }
}

impl<const N: usize> Sub<f64> for HyperDual<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(mut self, o: f64) -> Self {
        self.v -= o;
        self
    }
}

impl<const N: usize> Mul<f64> for HyperDual<N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: f64) -> Self {
        self.scale(o)
    }
}

impl<const N: usize> Div<f64> for HyperDual<N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: f64) -> Self {
        let mut q = self.scale(1.0 / o);
        q.v = self.v / o;
        q
    }
}

#[cfg(test)]
mod tests {
    use super::super::dual::{hyp2f1, Dual};
    use super::*;

    #[test]
    fn trigamma_matches_known_values_and_the_derivative_of_digamma() {
        // ψ₁(1) = π²/6, ψ₁(1/2) = π²/2
        let pi2 = std::f64::consts::PI.powi(2);
        assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-12);
        assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-12);
        for x in [0.03, 0.7, 3.3, 12.0, 250.0] {
            let h = 1e-5 * x;
            let numeric = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            assert!((trigamma(x) - numeric).abs() < 1e-6 * trigamma(x), "{x}");
        }
    }

    /// The Hessian is the derivative of the exact gradient ([`Dual`]) by central differences,
    /// and the value and gradient are the dual numbers' own.
    #[test]
    fn hessians_match_differences_of_the_exact_gradient() {
        fn f<S: Real>(a: S, b: S) -> S {
            (a * b).ln_gamma() - (a / b).exp()
                + hyp2f1(a, b, a + b + 1.0, S::cst(0.3)).ln()
                + a.log_add_exp(b * 2.0)
                + (a - b * 3.0).softplus()
                + hyp2f1(a, b * 0.5, a + 2.0, b / (b + 3.0)).ln()
                + hyp2f1(a, b, a + 1.5, S::cst(0.0))
                - (a / 2.0 + 1.0).ln()
        }
        let (a, b) = (1.3, 0.7);
        let hyper = f(HyperDual::<2>::variable(a, 0), HyperDual::<2>::variable(b, 1));
        let dual = f(Dual::<2>::variable(a, 0), Dual::<2>::variable(b, 1));
        assert!((hyper.v - dual.v).abs() < 1e-14);
        for i in 0..2 {
            assert!((hyper.d[i] - dual.d[i]).abs() < 1e-12);
            let h = 1e-6;
            let at = |da: f64, db: f64| f(Dual::<2>::variable(a + da, 0), Dual::<2>::variable(b + db, 1)).d;
            let (up, down) = if i == 0 { (at(h, 0.0), at(-h, 0.0)) } else { (at(0.0, h), at(0.0, -h)) };
            for j in 0..2 {
                let numeric = (up[j] - down[j]) / (2.0 * h);
                let h = hyper.hessian()[i][j];
                assert!((h - numeric).abs() < 1e-6, "{i}{j}: {h} vs {numeric}");
            }
        }
    }
}
