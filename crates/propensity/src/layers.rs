//! [`Dense`]: a fully connected layer with the bias added by a fused kernel.
//!
//! It computes what dfdx's `Linear` computes (`x · Wᵀ + b`, same parameter layout), but adds
//! the bias in place on the matrix product and accumulates its gradient in one pass over the
//! rows. dfdx 0.13's generic broadcast add walks every element through strided index
//! arithmetic in both directions; for the small layers of tabular models that was a third of
//! the training time. The weights are visited, optimised, initialised and saved like any dfdx
//! module's.

use dfdx::nn::{BuildModule, BuildOnDevice, Module, NonMutableModule, TensorCollection};
use dfdx::prelude::{
    Const, Cpu, Dtype, HasErr, ModuleVisitor, PutTape, Rank1, Rank2, SplitTape, Storage, Tape, Tensor, TensorOptions,
    TryMatMul,
};
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::{Device, PermuteTo};
use rand::distributions::Uniform;

/// Builder of a [`DenseLayer`] with `I` inputs and `O` outputs, for architecture tuples:
/// `((Dense<10, 50>, ReLU), Dense<50, 2>)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dense<const I: usize, const O: usize>;

/// A built fully connected layer: `y = x · weightᵀ + bias`.
#[derive(Debug, Clone)]
pub struct DenseLayer<const I: usize, const O: usize, E: Dtype, D: Storage<E>> {
    /// Weight matrix, shape (O, I) as in dfdx's `Linear`.
    pub weight: Tensor<Rank2<O, I>, E, D>,
    /// Bias vector, shape (O,).
    pub bias: Tensor<Rank1<O>, E, D>,
}

impl<const I: usize, const O: usize> BuildOnDevice<Cpu, f32> for Dense<I, O> {
    type Built = DenseLayer<I, O, f32, Cpu>;
    fn try_build_on_device(device: &Cpu) -> Result<Self::Built, <Cpu as HasErr>::Err> {
        Self::Built::try_build(device)
    }
}

impl<const I: usize, const O: usize, E: Dtype, D: Storage<E>> NonMutableModule for DenseLayer<I, O, E, D> {}

impl<const I: usize, const O: usize> TensorCollection<f32, Cpu> for DenseLayer<I, O, f32, Cpu> {
    type To<E2: Dtype, D2: Device<E2>> = DenseLayer<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, Cpu>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                // dfdx's own reset (used by `reset_params`) is Glorot-uniform here, as in Keras;
                // `Model::new` draws the same distribution from the model's seed.
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    TensorOptions::reset_with(|t| {
                        let b = (6.0 / (I + O) as f32).sqrt();
                        t.try_fill_with_distr(Uniform::new_inclusive(-b, b))
                    }),
                ),
                Self::tensor("bias", |s| &s.bias, |s| &mut s.bias, TensorOptions::reset_to_zeros()),
            ),
            |(weight, bias)| DenseLayer { weight, bias },
        )
    }
}

impl<const I: usize, const O: usize, T: Tape<f32, Cpu>> Module<Tensor<(usize, Const<I>), f32, Cpu, T>>
    for DenseLayer<I, O, f32, Cpu>
{
    type Output = Tensor<(usize, Const<O>), f32, Cpu, T>;
    type Error = <Cpu as HasErr>::Err;

    fn try_forward(&self, x: Tensor<(usize, Const<I>), f32, Cpu, T>) -> Result<Self::Output, Self::Error> {
        let product = x.try_matmul(self.weight.retaped::<T>().try_permute()?)?;
        Ok(add_bias_rows(product, &self.bias))
    }
}

/// `x[r, :] += bias` for every row, in place. The output keeps the product's identity, so the
/// gradient flowing into it is the gradient of the product (d(x + b)/dx = 1); the bias gets the
/// column sums of that gradient.
fn add_bias_rows<const O: usize, T: Tape<f32, Cpu>>(
    x: Tensor<(usize, Const<O>), f32, Cpu, T>,
    bias: &Tensor<Rank1<O>, f32, Cpu>,
) -> Tensor<(usize, Const<O>), f32, Cpu, T> {
    let (mut x, mut tape) = x.split_tape();
    let rows = x.shape().0;
    let mut b = [0.0f32; O];
    bias.copy_into(&mut b);
    let mut buf = vec![0.0f32; rows * O];
    x.copy_into(&mut buf);
    for row in buf.chunks_exact_mut(O) {
        for (v, bb) in row.iter_mut().zip(&b) {
            *v += bb;
        }
    }
    x.copy_from(&buf);
    if T::OWNS_TAPE {
        let (out, bias) = (x.ghost(), bias.ghost());
        tape.add_backward_op(move |grads| {
            let mut sums = [0.0f32; O];
            for row in grads.get_or_alloc_mut(&out)?.chunks_exact(O) {
                for (s, g) in sums.iter_mut().zip(row) {
                    *s += g;
                }
            }
            for (gb, s) in grads.get_or_alloc_mut(&bias)?.iter_mut().zip(&sums) {
                *gb += s;
            }
            Ok(())
        });
    }
    x.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::nn::builders::Linear;
    use dfdx::prelude::*;

    #[test]
    fn matches_dfdx_linear_forward_and_gradients() {
        let dev: Cpu = Cpu::seed_from_u64(0);
        let linear = dev.build_module::<Linear<3, 2>, f32>();
        let mut dense = dev.build_module::<Dense<3, 2>, f32>();
        dense.weight = linear.weight.clone();
        dense.bias.copy_from(&[0.5, -0.25]);
        let mut linear = linear;
        linear.bias.copy_from(&[0.5, -0.25]);
        let x: Tensor<(usize, Const<3>), f32, _> = dev.tensor_from_vec(vec![1.0, 2.0, 3.0, -1.0, 0.5, 4.0], (2, Const));

        let (gl, gd) = (linear.alloc_grads(), dense.alloc_grads());
        let yl = linear.forward(x.clone().traced(gl));
        let yd = dense.forward(x.clone().traced(gd));
        assert_eq!(yl.as_vec(), yd.as_vec());
        let gl = (yl * dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (2, Const))).sum().backward();
        let gd = (yd * dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (2, Const))).sum().backward();
        assert_eq!(gl.get(&linear.bias).as_vec(), gd.get(&dense.bias).as_vec());
        assert_eq!(gd.get(&dense.bias).as_vec(), vec![4.0, 6.0]); // column sums of the upstream gradient
        assert_eq!(gl.get(&linear.weight).as_vec(), gd.get(&dense.weight).as_vec());
        // without a tape the layer is plain inference
        assert_eq!(dense.forward(x).as_vec().len(), 4);
    }
}
