//! Losses as fused dfdx operations.
//!
//! [`sparse_cross_entropy`] is Keras' `sparse_categorical_crossentropy` on logits (PyTorch's
//! `CrossEntropyLoss`): the mean over rows of `-log softmax(logits)[target]`. dfdx 0.13 builds
//! the same value from about ten tape operations (log-softmax, one-hot product, mean, negate);
//! fused, the forward pass computes the softmax once and the backward pass writes
//! `(softmax - one_hot) / rows` directly, which is the exact gradient.

use dfdx::prelude::{Cpu, Dim, HasShape, PutTape, SplitTape, Tape, Tensor, TensorFrom};

use crate::{Error, Result};

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
    let (rows, k) = (logits.shape().0, logits.shape().1.size());
    if rows != targets.len() || rows == 0 {
        return Err(Error::Data(format!("{rows} rows of logits for {} targets", targets.len())));
    }
    if let Some(&t) = targets.iter().find(|&&t| t >= k) {
        return Err(Error::Data(format!("target class {t} but only {k} outputs")));
    }
    if let Some(w) = class_weights.filter(|w| w.len() != k) {
        return Err(Error::Data(format!("{} class weights for {k} outputs", w.len())));
    }
    let weight = |t: usize| class_weights.map_or(1.0, |w| w[t]);
    let weight_sum: f64 = targets.iter().map(|&t| weight(t) as f64).sum();
    let (logits, mut tape) = logits.split_tape();
    let mut probs = vec![0.0f32; rows * k];
    logits.copy_into(&mut probs);
    let mut total = 0.0f64;
    for (row, &t) in probs.chunks_exact_mut(k).zip(targets) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        // -log softmax[t] = log(sum) - (logit[t] - max), with row[t] = exp(logit[t] - max)
        total += weight(t) as f64 * (sum.ln() - row[t].ln()) as f64;
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
    let loss = logits.device().tensor((total / weight_sum) as f32);
    if T::OWNS_TAPE {
        let (inp, out) = (logits.ghost(), loss.ghost());
        let row_weights: Vec<f32> = targets.iter().map(|&t| (weight(t) as f64 / weight_sum) as f32).collect();
        let targets = targets.to_vec();
        tape.add_backward_op(move |grads| {
            let upstream = grads.get_or_alloc_mut(&out)?[0];
            let g = grads.get_or_alloc_mut(&inp)?;
            let rows = g.chunks_exact_mut(k).zip(probs.chunks_exact(k)).zip(targets.iter().zip(&row_weights));
            for ((grow, prow), (&t, &w)) in rows {
                for (j, (gv, p)) in grow.iter_mut().zip(prow).enumerate() {
                    *gv += upstream * w * (p - if j == t { 1.0 } else { 0.0 });
                }
            }
            Ok(())
        });
    }
    Ok(loss.put_tape(tape))
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
}
