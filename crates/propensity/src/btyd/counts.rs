//! P(X(t) = x): the probability that a new customer makes exactly `x` repeat purchases in their
//! first `t` — what the period-transactions check compares with the customers' counts.

use statrs::function::gamma::ln_gamma;

/// ln of the Poisson-gamma (NBD) probability of `j` purchases in `t` with rate ~ Gamma(r, α).
fn ln_nbd(r: f64, alpha: f64, t: f64, j: f64) -> f64 {
    let base = ln_gamma(j + r) - ln_gamma(r) - ln_gamma(j + 1.0) + r * (alpha / (alpha + t)).ln();
    if j == 0.0 {
        base
    } else {
        base + j * (t / (alpha + t)).ln()
    }
}

fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// P(X(t) = x) when a customer drops out with probability p ~ Beta(a, b) after each purchase —
/// BG/NBD (`at_start` false, Fader, Hardie & Lee 2005, eq. 8) — or also at time 0 (MBG/NBD,
/// `at_start` true), as lifetimes' `probability_of_n_purchases_up_to_time`: alive after `x`
/// purchases and none since, or dropped out right after the `x`-th, made before `t`.
pub(super) fn p_count_geometric(r: f64, alpha: f64, a: f64, b: f64, at_start: bool, t: f64, x: u32) -> f64 {
    let xf = f64::from(x);
    let k = if at_start { 1.0 } else { 0.0 };
    let alive = (ln_beta(a, b + xf + k) - ln_beta(a, b) + ln_nbd(r, alpha, t, xf)).exp();
    if x == 0 && !at_start {
        return alive;
    }
    let before: f64 = (0..x).map(|j| ln_nbd(r, alpha, t, f64::from(j)).exp()).sum();
    alive + (ln_beta(a + 1.0, b + xf + k - 1.0) - ln_beta(a, b)).exp() * (1.0 - before).max(0.0)
}

/// Pareto/NBD's P(X(t) = x): lifetime ~ Exponential(μ), μ ~ Gamma(s, β), so
/// P = NBD(x; t) (β/(β+t))^s + ∫₀ᵗ NBD(x; τ) s β^s / (β+τ)^(s+1) dτ (alive at t, or dead at τ
/// with `x` purchases made by then), the integral by 20-point Gauss-Legendre on 16 panels.
pub(super) fn p_count_pareto(r: f64, alpha: f64, s: f64, beta: f64, t: f64, x: u32) -> f64 {
    let xf = f64::from(x);
    let alive = (ln_nbd(r, alpha, t, xf) + s * (beta / (beta + t)).ln()).exp();
    if t == 0.0 {
        return alive;
    }
    let density = |tau: f64| (ln_nbd(r, alpha, tau, xf) + s.ln() + s * beta.ln() - (s + 1.0) * (beta + tau).ln()).exp();
    let panels = 16;
    let width = t / f64::from(panels);
    let mut dead = 0.0;
    for p in 0..panels {
        let mid = (f64::from(p) + 0.5) * width;
        for (node, weight) in GAUSS_LEGENDRE_20 {
            dead += weight * 0.5 * width * (density(mid - 0.5 * width * node) + density(mid + 0.5 * width * node));
        }
    }
    alive + dead
}

/// The positive nodes of 20-point Gauss-Legendre on [−1, 1] and their weights (numpy's
/// `polynomial.legendre.leggauss(20)`).
const GAUSS_LEGENDRE_20: [(f64, f64); 10] = [
    (0.076_526_521_133_497_34, 0.152_753_387_130_726_28),
    (0.227_785_851_141_645_07, 0.149_172_986_472_604_24),
    (0.373_706_088_715_419_55, 0.142_096_109_318_382_4),
    (0.510_867_001_950_827_1, 0.131_688_638_449_176_9),
    (0.636_053_680_726_515, 0.118_194_531_961_518_6),
    (0.746_331_906_460_150_8, 0.101_930_119_817_240_7),
    (0.839_116_971_822_218_8, 0.083_276_741_576_704_71),
    (0.912_234_428_251_326, 0.062_672_048_334_108_79),
    (0.963_971_927_277_913_8, 0.040_601_429_800_386_446),
    (0.993_128_599_185_095, 0.017_614_007_139_150_893),
];

#[cfg(test)]
mod tests {
    use super::super::{BgNbd, ModifiedBgNbd, ParetoNbd};
    use super::*;

    /// A model's name, its P(X(t) = x) and its closed-form mean.
    type Case<'a> = (&'a str, &'a dyn Fn(u32) -> f64, f64);

    /// The probabilities sum to 1 and their mean is the closed-form E[X(t)] of each model.
    #[test]
    fn counts_are_a_distribution_with_the_models_mean() {
        let (r, alpha, a, b) = (0.243, 4.414, 0.793, 2.426);
        let (s, beta) = (0.606, 11.67);
        let bg = BgNbd { r, alpha, a, b };
        let mbg = ModifiedBgNbd { r, alpha, a, b };
        let pareto = ParetoNbd { r: 0.553, alpha: 10.58, s, beta };
        for t in [0.0, 1.0, 38.86, 78.0] {
            let cases: [Case; 3] = [
                ("BG/NBD", &|x| p_count_geometric(r, alpha, a, b, false, t, x), bg.expected_from_first(t)),
                ("MBG/NBD", &|x| p_count_geometric(r, alpha, a, b, true, t, x), mbg.expected_from_first(t)),
                ("Pareto/NBD", &|x| p_count_pareto(0.553, 10.58, s, beta, t, x), pareto.expected_from_first(t)),
            ];
            for (name, p, mean) in cases {
                let probs: Vec<f64> = (0..400).map(p).collect();
                let total: f64 = probs.iter().sum();
                let m: f64 = probs.iter().enumerate().map(|(x, p)| x as f64 * p).sum();
                assert!((total - 1.0).abs() < 1e-9, "{name} t={t}: sum {total}");
                assert!((m - mean).abs() < 1e-7 * mean.max(1.0), "{name} t={t}: mean {m} vs {mean}");
            }
        }
        // lifetimes 0.11.3 `probability_of_n_purchases_up_to_time(38.86, n)` with these parameters
        let close = |got: f64, want: f64| (got - want).abs() < 1e-13;
        assert!(close(p_count_geometric(r, alpha, a, b, false, 38.86, 2), 0.085_360_753_389_726_78));
        assert!(close(p_count_geometric(r, alpha, a, b, true, 38.86, 2), 0.064_235_550_612_803_52));
        assert!(close(p_count_geometric(r, alpha, a, b, true, 38.86, 0), 0.679_123_542_286_642_6));
    }
}
