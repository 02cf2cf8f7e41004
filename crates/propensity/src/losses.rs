//! Losses as fused dfdx operations.
//!
//! [`sparse_cross_entropy`] is Keras' `sparse_categorical_crossentropy` on logits (PyTorch's
//! `CrossEntropyLoss`): the mean over rows of `-log softmax(logits)[target]`. dfdx 0.13 builds
//! the same value from about ten tape operations (log-softmax, one-hot product, mean, negate);
//! fused, the forward pass computes the softmax once and the backward pass writes
//! `(softmax - one_hot) / rows` directly, which is the exact gradient. [`binary_cross_entropy`]
//! (multi-label, on logits) and [`mean_squared_error`] are fused the same way.

use dfdx::prelude::{Cpu, Dim, HasShape, PutTape, SplitTape, Tape, Tensor, TensorFrom};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The loss of a fit on real-valued targets ([`crate::train::Trainer::fit_dense`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenseLoss {
    /// [`binary_cross_entropy`] on logits, one sigmoid per output: multi-label classification.
    BinaryCrossEntropy,
    /// [`mean_squared_error`]: regression, autoencoders.
    MeanSquaredError,
}

impl DenseLoss {
    /// The loss of one output `x` (a logit for binary cross-entropy) against its target `y`,
    /// in `f64`: what the fused losses average.
    ///
    /// ```
    /// use propensity::losses::DenseLoss;
    /// assert!((DenseLoss::BinaryCrossEntropy.value(0.0, 1.0) - 2f64.ln()).abs() < 1e-12);
    /// assert_eq!(DenseLoss::MeanSquaredError.value(3.0, 1.0), 4.0);
    /// ```
    pub fn value(self, x: f64, y: f64) -> f64 {
        match self {
            DenseLoss::BinaryCrossEntropy => x.max(0.0) - x * y + (-x.abs()).exp().ln_1p(),
            DenseLoss::MeanSquaredError => (x - y) * (x - y),
        }
    }

    /// The derivative of [`value`](Self::value) with respect to the output `x`:
    /// `σ(x) - y` for binary cross-entropy on a logit, `2 (x - y)` for the squared error.
    ///
    /// ```
    /// use propensity::losses::DenseLoss;
    /// assert_eq!(DenseLoss::BinaryCrossEntropy.gradient(0.0, 1.0), -0.5);
    /// assert_eq!(DenseLoss::MeanSquaredError.gradient(3.0, 1.0), 4.0);
    /// ```
    pub fn gradient(self, x: f32, y: f32) -> f32 {
        match self {
            DenseLoss::BinaryCrossEntropy => 1.0 / (1.0 + (-x).exp()) - y,
            DenseLoss::MeanSquaredError => 2.0 * (x - y),
        }
    }
}

/// Softmax cross-entropy of `logits` (rows × K) against class indices `targets`: the mean over
/// rows, or with `class_weights` PyTorch's weighted mean `Σ w[yᵢ]·nllᵢ / Σ w[yᵢ]`
/// (`CrossEntropyLoss(weight=…)`).
///
/// ```
/// use dfdx::prelude::*;
/// use propensity::losses::sparse_cross_entropy;
/// let dev = Cpu::default();
/// let logits: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(vec![2.0, 0.0, 0.0, 1.0], (2, Const));
/// let loss = sparse_cross_entropy(logits, &[0, 0], None).unwrap();
/// // hand calculation: (ln(1 + e^-2) + ln(1 + e^1)) / 2 = (0.126928 + 1.313262) / 2
/// assert!((loss.array() - 0.720095).abs() < 1e-6);
/// ```
pub fn sparse_cross_entropy<K: Dim, T: Tape<f32, Cpu>>(
    logits: Tensor<(usize, K), f32, Cpu, T>,
    targets: &[usize],
    class_weights: Option<&[f32]>,
) -> Result<Tensor<(), f32, Cpu, T>> {
    let k = logits.shape().1.size();
    let (value, gradient) = softmax_cross_entropy(&values_of(&logits), k, targets, class_weights)?;
    Ok(taped(logits, value, gradient))
}

/// The gradient of a loss with respect to the network's outputs (row-major, the derivative of
/// the loss itself), kept from the loss's forward pass: what the fused losses' tape operations
/// add, and what the untaped training step ([`crate::backprop`]) starts its backward pass from.
pub(crate) struct OutputGradient(Vec<f32>);

impl OutputGradient {
    /// `g += upstream × gradient`, element by element (`upstream` is 1 when the loss is the
    /// value differentiated, as in every fit: then each value is `0 + gradient`, what the tape
    /// writes into its fresh buffer). A weighted cross-entropy's gradient is kept as
    /// `w·(p − one_hot)`, so with another `upstream` the product is `u·(w·(p − one_hot))`, which
    /// may differ in the last bit from `(u·w)·(p − one_hot)`.
    pub(crate) fn add_to(&self, upstream: f32, g: &mut [f32]) {
        for (gv, d) in g.iter_mut().zip(&self.0) {
            *gv += upstream * d;
        }
    }
}

/// [`sparse_cross_entropy`] on logits given row by row (`rows × k` values): the loss and its
/// gradient.
pub(crate) fn softmax_cross_entropy(
    logits: &[f32],
    k: usize,
    targets: &[usize],
    class_weights: Option<&[f32]>,
) -> Result<(f32, OutputGradient)> {
    let rows = logits.len() / k.max(1);
    if k == 0 || rows != targets.len() || rows == 0 {
        return Err(Error::Data(format!("{rows} rows of logits for {} targets", targets.len())));
    }
    if let Some(&t) = targets.iter().find(|&&t| t >= k) {
        return Err(Error::Data(format!("target class {t} but only {k} outputs")));
    }
    if let Some(w) = class_weights.filter(|w| w.len() != k) {
        return Err(Error::Data(format!("{} class weights for {k} outputs", w.len())));
    }
    let weight: Vec<f32> = (0..k).map(|c| class_weights.map_or(1.0, |w| w[c])).collect();
    let weight_sum: f64 = match class_weights {
        // the sum of `rows` ones, exactly
        None => rows as f64,
        Some(_) => targets.iter().map(|&t| weight[t] as f64).sum(),
    };
    // a row's share of the batch's weight depends on its class only
    let share: Vec<f32> = weight.iter().map(|&w| (w as f64 / weight_sum) as f32).collect();
    let mut probs = logits.to_vec();
    // two classes (the common case) with `k` known to the compiler
    let total = match k {
        2 => softmax_passes(&mut probs, 2, targets, &weight, &share),
        _ => softmax_passes(&mut probs, k, targets, &weight, &share),
    };
    Ok(((total / weight_sum) as f32, OutputGradient(probs)))
}

/// The passes of [`softmax_cross_entropy`] over `values` (the logits, `k` per row), each value
/// computed as in one pass: the exponentials and their sums, the weighted loss (returned, not
/// yet divided by the weights' sum), then in a loop of its own, away from the libm calls, each
/// gradient `share[t] · (softmax − one_hot)` in place of its logit.
#[inline(always)]
fn softmax_passes(values: &mut [f32], k: usize, targets: &[usize], weight: &[f32], share: &[f32]) -> f64 {
    let mut sums = Vec::with_capacity(targets.len());
    for row in values.chunks_exact_mut(k) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            // exp(0) is exactly 1 in any libm: the largest logit's term needs no call
            let d = *v - max;
            *v = if d == 0.0 { 1.0 } else { d.exp() };
            sum += *v;
        }
        sums.push(sum);
    }
    let mut total = 0.0f64;
    for ((row, &t), &sum) in values.chunks_exact(k).zip(targets).zip(&sums) {
        // -log softmax[t] = log(sum) - (logit[t] - max), with row[t] = exp(logit[t] - max)
        // (and log(1) exactly 0)
        let log_t = if row[t] == 1.0 { 0.0 } else { row[t].ln() };
        total += weight[t] as f64 * (sum.ln() - log_t) as f64;
    }
    for ((row, &sum), &t) in values.chunks_exact_mut(k).zip(&sums).zip(targets) {
        let w = share[t];
        for (j, v) in row.iter_mut().enumerate() {
            *v = w * (*v / sum - if j == t { 1.0 } else { 0.0 });
        }
    }
    total
}

/// The loss `value` of `outputs` as a scalar tensor whose tape adds `gradient` (times the
/// gradient flowing into the loss) to the outputs' gradient.
pub(crate) fn taped<K: Dim, T: Tape<f32, Cpu>>(
    outputs: Tensor<(usize, K), f32, Cpu, T>,
    value: f32,
    gradient: OutputGradient,
) -> Tensor<(), f32, Cpu, T> {
    let (outputs, mut tape) = outputs.split_tape();
    let loss = outputs.device().tensor(value);
    if T::OWNS_TAPE {
        let (inp, out) = (outputs.ghost(), loss.ghost());
        tape.add_backward_op(move |grads| {
            let upstream = grads.get_or_alloc_mut(&out)?[0];
            gradient.add_to(upstream, grads.get_or_alloc_mut(&inp)?);
            Ok(())
        });
    }
    loss.put_tape(tape)
}

/// A batch's values, row-major.
fn values_of<K: Dim, T>(x: &Tensor<(usize, K), f32, Cpu, T>) -> Vec<f32> {
    let mut values = vec![0.0f32; x.shape().0 * x.shape().1.size()];
    x.copy_into(&mut values);
    values
}

/// Keras' `binary_crossentropy` on logits (PyTorch's `BCEWithLogitsLoss`): the mean over rows
/// and outputs of `-(y log σ(z) + (1 - y) log(1 - σ(z)))`, for multi-label targets in `[0, 1]`
/// given row by row (`targets.len() == rows × outputs`). Computed in the stable form
/// `max(z, 0) - z·y + log(1 + e^-|z|)` ([`DenseLoss::value`]); the gradient
/// `(σ(z) - y) / (rows × outputs)` is written in one pass.
///
/// ```
/// use dfdx::prelude::*;
/// use propensity::losses::binary_cross_entropy;
/// let dev = Cpu::default();
/// let z: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(vec![0.0, 2.0], (1, Const));
/// // hand calculation: (ln 2 + ln(1 + e^-2)) / 2 = (0.693147 + 0.126928) / 2
/// let loss = binary_cross_entropy(z, &[1.0, 1.0]).unwrap();
/// assert!((loss.array() - 0.410038).abs() < 1e-5);
/// ```
pub fn binary_cross_entropy<K: Dim, T: Tape<f32, Cpu>>(
    logits: Tensor<(usize, K), f32, Cpu, T>,
    targets: &[f32],
) -> Result<Tensor<(), f32, Cpu, T>> {
    elementwise_loss(logits, targets, DenseLoss::BinaryCrossEntropy)
}

/// Mean squared error over rows and outputs (Keras' `mse`, PyTorch's `MSELoss`), targets given
/// row by row; gradient `2 (x - y) / (rows × outputs)`.
///
/// ```
/// use dfdx::prelude::*;
/// use propensity::losses::mean_squared_error;
/// let dev = Cpu::default();
/// let x: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(vec![1.0, 3.0], (1, Const));
/// assert_eq!(mean_squared_error(x, &[0.0, 1.0]).unwrap().array(), 2.5); // (1 + 4) / 2
/// ```
pub fn mean_squared_error<K: Dim, T: Tape<f32, Cpu>>(
    outputs: Tensor<(usize, K), f32, Cpu, T>,
    targets: &[f32],
) -> Result<Tensor<(), f32, Cpu, T>> {
    elementwise_loss(outputs, targets, DenseLoss::MeanSquaredError)
}

/// How many logits are on the same side of 0 as their 0/1 target is of 0.5: the numerator of
/// Keras' `binary_accuracy` (logit > 0 ⇔ σ > 0.5).
///
/// ```
/// assert_eq!(propensity::losses::binary_hits(&[2.0, -1.0, 0.5], &[1.0, 1.0, 0.0]), 1);
/// ```
pub fn binary_hits(logits: &[f32], targets: &[f32]) -> usize {
    logits.iter().zip(targets).filter(|(z, y)| (**z > 0.0) == (**y > 0.5)).count()
}

/// The mean of [`DenseLoss::value`] over all elements, with [`DenseLoss::gradient`] on the tape.
fn elementwise_loss<K: Dim, T: Tape<f32, Cpu>>(
    x: Tensor<(usize, K), f32, Cpu, T>,
    targets: &[f32],
    loss: DenseLoss,
) -> Result<Tensor<(), f32, Cpu, T>> {
    let (value, gradient) = elementwise(&values_of(&x), targets, loss)?;
    Ok(taped(x, value, gradient))
}

/// The mean of [`DenseLoss::value`] over `outputs` (row-major) against `targets`, and its
/// gradient `DenseLoss::gradient / n`.
pub(crate) fn elementwise(outputs: &[f32], targets: &[f32], loss: DenseLoss) -> Result<(f32, OutputGradient)> {
    let n = outputs.len();
    if n != targets.len() || n == 0 {
        return Err(Error::Data(format!("{n} outputs for {} targets", targets.len())));
    }
    if let Some(t) = targets.iter().find(|t| !t.is_finite()) {
        return Err(Error::Data(format!("target {t} is not a finite number")));
    }
    let mut total = 0.0f64;
    let gradient = outputs
        .iter()
        .zip(targets)
        .map(|(&v, &y)| {
            total += loss.value(v as f64, y as f64);
            loss.gradient(v, y) / n as f32
        })
        .collect();
    Ok(((total / n as f64) as f32, OutputGradient(gradient)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::prelude::*;

    #[test]
    fn matches_dfdx_cross_entropy_value_and_gradient() {
        let dev = Cpu::default();
        let data = vec![0.3, -1.2, 2.0, 0.1, 0.0, -0.5, 1.5, 1.5, -2.0];
        let targets = [2usize, 0, 1];
        let one_hot: Tensor<(usize, Const<3>), f32, _> =
            dev.tensor_from_vec(vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0], (3, Const));
        let a: Tensor<(usize, Const<3>), f32, _> = dev.tensor_from_vec(data.clone(), (3, Const));
        let b: Tensor<(usize, Const<3>), f32, _> = dev.tensor_from_vec(data, (3, Const));
        let reference = cross_entropy_with_logits_loss(a.leaky_trace(), one_hot);
        let fused = sparse_cross_entropy(b.leaky_trace(), &targets, None).unwrap();
        assert!((reference.array() - fused.array()).abs() < 1e-6);
        let (ga, gb) = (reference.backward(), fused.backward());
        for (x, y) in ga.get(&a).as_vec().iter().zip(gb.get(&b).as_vec()) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
    }

    #[test]
    fn refuses_mismatched_targets() {
        let dev = Cpu::default();
        let t: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(vec![0.0; 4], (2, Const));
        assert!(sparse_cross_entropy(t.clone(), &[0], None).is_err());
        assert!(sparse_cross_entropy(t.clone(), &[0, 2], None).is_err());
        assert!(sparse_cross_entropy(t, &[0, 1], Some(&[1.0])).is_err());
    }

    #[test]
    fn class_weights_follow_pytorch_weighted_mean() {
        // torch.nn.CrossEntropyLoss(weight=torch.tensor([1., 3.]))(torch.tensor([[2., 0.], [0., 1.]]),
        //     torch.tensor([0, 1])) = (1 * 0.126928 + 3 * 0.313262) / 4 = 0.266679
        let dev = Cpu::default();
        let x: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(vec![2.0, 0.0, 0.0, 1.0], (2, Const));
        let loss = sparse_cross_entropy(x.leaky_trace(), &[0, 1], Some(&[1.0, 3.0])).unwrap();
        assert!((loss.array() - 0.266679).abs() < 1e-5, "{}", loss.array());
        // gradient of row 1 (hand calculation): 3/4 * (softmax - one_hot) = 0.75 * (0.268941 - 0, 0.731059 - 1)
        let g = loss.backward().get(&x).as_vec();
        assert!((g[2] - 0.75 * 0.268941).abs() < 1e-5 && (g[3] + 0.75 * 0.268941).abs() < 1e-5, "{g:?}");
    }

    #[test]
    fn binary_cross_entropy_matches_dfdx() {
        let dev = Cpu::default();
        let data = vec![0.3, -1.2, 2.0, 0.1, 0.0, -5.5, 1.5, 30.0, -2.0];
        let y = vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0];
        let a: Tensor<(usize, Const<3>), f32, _> = dev.tensor_from_vec(data.clone(), (3, Const));
        let b: Tensor<(usize, Const<3>), f32, _> = dev.tensor_from_vec(data, (3, Const));
        let yt: Tensor<(usize, Const<3>), f32, _> = dev.tensor_from_vec(y.clone(), (3, Const));
        let reference = binary_cross_entropy_with_logits_loss(a.leaky_trace(), yt);
        let fused = binary_cross_entropy(b.leaky_trace(), &y).unwrap();
        assert!((reference.array() - fused.array()).abs() < 1e-6, "{} vs {}", reference.array(), fused.array());
        let (ga, gb) = (reference.backward(), fused.backward());
        for (x, y) in ga.get(&a).as_vec().iter().zip(gb.get(&b).as_vec()) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
    }

    #[test]
    fn mean_squared_error_matches_dfdx() {
        let dev = Cpu::default();
        let data = vec![0.3, -1.2, 2.0, 0.1];
        let y = vec![1.0, 0.5, -1.0, 0.0];
        let a: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(data.clone(), (2, Const));
        let b: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(data, (2, Const));
        let yt: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(y.clone(), (2, Const));
        let reference = mse_loss(a.leaky_trace(), yt);
        let fused = mean_squared_error(b.leaky_trace(), &y).unwrap();
        assert!((reference.array() - fused.array()).abs() < 1e-6);
        let (ga, gb) = (reference.backward(), fused.backward());
        for (x, y) in ga.get(&a).as_vec().iter().zip(gb.get(&b).as_vec()) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
        assert!(mean_squared_error(dev.tensor_from_vec(vec![1.0f32], (1, Const::<1>)), &[f32::NAN]).is_err());
        assert!(mean_squared_error(dev.tensor_from_vec(vec![1.0f32], (1, Const::<1>)), &[1.0, 2.0]).is_err());
    }
}
