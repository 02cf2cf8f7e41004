//! Optimizers over a model's flat parameter vector: Adam in PyTorch's form and in Keras' form,
//! SGD with classic momentum, and RMSprop, each the per-element update of its reference written
//! in `f32`. (The Adam form that dfdx 0.13 implements is PyTorch's; its results are unchanged.)

use serde::{Deserialize, Serialize};

use crate::train::{OptimizerKind, TrainConfig};

/// Which Adam update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AdamForm {
    /// The paper's and PyTorch's (and dfdx's): `p -= lr · m̂ / (√v̂ + ε)` with bias-corrected
    /// moments `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`.
    Pytorch,
    /// Keras': the bias correction folded into the step size and ε added to the uncorrected
    /// `√v`: `p -= lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ) · m / (√v + ε)`, with `m += (g − m)(1 − β₁)`.
    /// The default, as the audiobooks seed notebook trained with Keras.
    #[default]
    Keras,
}

/// The state of one optimizer over `n` parameters.
#[derive(Debug, Clone)]
pub(crate) struct Optimizer {
    kind: OptimizerKind,
    form: AdamForm,
    lr: f32,
    betas: [f32; 2],
    eps: f32,
    momentum: f32,
    step: i32,
    first: Vec<f32>,
    second: Vec<f32>,
}

impl Optimizer {
    /// A fresh state for `n` parameters.
    pub fn new(cfg: &TrainConfig, n: usize) -> Optimizer {
        let eps = match cfg.optimizer {
            OptimizerKind::RmsProp => 1e-8,
            _ => cfg.epsilon as f32,
        };
        Optimizer {
            kind: cfg.optimizer,
            form: cfg.adam,
            lr: cfg.learning_rate as f32,
            betas: [cfg.beta1 as f32, cfg.beta2 as f32],
            eps,
            momentum: cfg.momentum as f32,
            step: 0,
            first: vec![0.0; n],
            second: vec![0.0; n],
        }
    }

    /// One update of `params` with `grads`. Each parameter's update reads only its own values,
    /// so in a pool of two or more threads a long vector is updated in two halves at once.
    pub fn update(&mut self, params: &mut [f32], grads: &[f32]) {
        self.step = self.step.saturating_add(1);
        let rule = Rule::of(self);
        let n = params.len();
        if n >= PARALLEL_FROM && rayon::current_num_threads() >= 2 {
            let mid = n / 2;
            let (pa, pb) = params.split_at_mut(mid);
            let (fa, fb) = self.first.split_at_mut(mid);
            let (sa, sb) = self.second.split_at_mut(mid);
            rayon::join(|| apply(rule, pb, &grads[mid..], fb, sb), || apply(rule, pa, &grads[..mid], fa, sa));
        } else {
            apply(rule, params, grads, &mut self.first, &mut self.second);
        }
    }
}

/// The fewest parameters updated on two threads: a chosen size, not a measured break-even (the
/// audiobooks network has 3,202 parameters, shopping's 4,035, so both are split).
const PARALLEL_FROM: usize = 2048;

/// One step's update rule, its step-dependent factors computed.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Bias corrections `1 / (1 − βᵗ)`.
    AdamPytorch {
        lr: f32,
        b1: f32,
        b2: f32,
        eps: f32,
        c1: f32,
        c2: f32,
    },
    /// The step size with the bias correction folded in.
    AdamKeras {
        b1: f32,
        b2: f32,
        eps: f32,
        alpha: f32,
    },
    Sgd {
        lr: f32,
        momentum: f32,
    },
    RmsProp {
        lr: f32,
        eps: f32,
    },
}

impl Rule {
    fn of(o: &Optimizer) -> Rule {
        let (lr, [b1, b2], eps, t) = (o.lr, o.betas, o.eps, o.step);
        match (o.kind, o.form) {
            (OptimizerKind::Adam, AdamForm::Pytorch) => {
                let (c1, c2) = ((1.0 - b1.powi(t)).recip(), (1.0 - b2.powi(t)).recip());
                Rule::AdamPytorch { lr, b1, b2, eps, c1, c2 }
            }
            (OptimizerKind::Adam, AdamForm::Keras) => {
                Rule::AdamKeras { b1, b2, eps, alpha: lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t)) }
            }
            (OptimizerKind::Sgd, _) => Rule::Sgd { lr, momentum: o.momentum },
            (OptimizerKind::RmsProp, _) => Rule::RmsProp { lr, eps },
        }
    }
}

/// The update of `params` by `rule` with `grads` and their moments `first` and `second`.
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+avx", "x86_64+avx2+avx"))]
fn apply(rule: Rule, params: &mut [f32], grads: &[f32], first: &mut [f32], second: &mut [f32]) {
    let rows = params.iter_mut().zip(grads.iter().copied()).zip(first.iter_mut().zip(second.iter_mut()));
    match rule {
        Rule::AdamPytorch { lr, b1, b2, eps, c1, c2 } => {
            for ((p, g), (m, v)) in rows {
                *m = *m * b1 + g * (1.0 - b1);
                *v = *v * b2 + g.powi(2) * (1.0 - b2);
                *p -= lr * (*m * c1) / ((*v * c2).sqrt() + eps);
            }
        }
        Rule::AdamKeras { b1, b2, eps, alpha } => {
            for ((p, g), (m, v)) in rows {
                *m += (g - *m) * (1.0 - b1);
                *v += (g * g - *v) * (1.0 - b2);
                *p -= (*m * alpha) / (v.sqrt() + eps);
            }
        }
        Rule::Sgd { lr, momentum: u } => {
            for ((p, g), (velocity, _)) in rows {
                let step = if u > 0.0 {
                    *velocity = g + u * *velocity;
                    *velocity * lr
                } else {
                    g * lr
                };
                *p -= step;
            }
        }
        Rule::RmsProp { lr, eps } => {
            // PyTorch's RMSprop (alpha 0.99): the square average starts at zero
            for ((p, g), (_, square)) in rows {
                *square += (1.0 - 0.99) * (g * g - *square);
                *p -= g / (*square + eps).sqrt() * lr;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: TrainConfig, grads: &[[f32; 2]]) -> Vec<f32> {
        let mut p = vec![1.0f32, -0.5];
        let mut o = Optimizer::new(&cfg, 2);
        for g in grads {
            o.update(&mut p, g);
        }
        p
    }

    #[test]
    fn adam_forms_follow_their_references() {
        // PyTorch's first Adam step moves every parameter by lr·sign(g) (m̂ = g, v̂ = g²)
        let cfg = TrainConfig { epsilon: 1e-8, adam: AdamForm::Pytorch, ..TrainConfig::default() };
        let p = run(cfg.clone(), &[[0.2, -3.0]]);
        assert!((p[0] - 0.999).abs() < 1e-6 && (p[1] + 0.499).abs() < 1e-6, "{p:?}");
        // Keras' form, by hand for one step (lr 1e-3, β 0.9/0.999, ε 1e-7, g = 0.2):
        // m = 0.02, v = 4e-5, alpha = 1e-3·√0.001/0.1 = 3.1623e-4, step = 0.02·alpha/(0.0063246 + 1e-7)
        let keras = TrainConfig { adam: AdamForm::Keras, ..TrainConfig::default() };
        let p = run(keras, &[[0.2, 0.0]]);
        let expect = 1.0 - 0.02 * 3.162_277_7e-4 / (4e-5f32.sqrt() + 1e-7);
        assert!((p[0] - expect).abs() < 1e-7, "{} vs {expect}", p[0]);
        assert_eq!(p[1], -0.5, "a zero gradient does not move Keras' Adam");
    }

    #[test]
    fn sgd_momentum_and_rmsprop_match_pytorch_by_hand() {
        let sgd =
            TrainConfig { optimizer: OptimizerKind::Sgd, learning_rate: 0.1, momentum: 0.9, ..TrainConfig::default() };
        // v1 = g1 = 1 → p = 1 - 0.1; v2 = 1 + 0.9·1 = 1.9 → p = 0.9 - 0.19
        assert!((run(sgd, &[[1.0, 0.0], [1.0, 0.0]])[0] - 0.71).abs() < 1e-6);
        let rms = TrainConfig { optimizer: OptimizerKind::RmsProp, learning_rate: 0.01, ..TrainConfig::default() };
        // square = 0.01·g² = 0.04 for g = 2 → step 0.01·2/0.2 = 0.1
        assert!((run(rms, &[[2.0, 0.0]])[0] - 0.9).abs() < 1e-6);
    }
}
