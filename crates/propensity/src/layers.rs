//! [`Dense`]: a fully connected layer with the bias added by a fused kernel, and [`Branches`]:
//! three input blocks, each through its own dense layer, joined — Keras' functional
//! `concatenate([Dense(..)(a), Dense(..)(b), Dense(..)(c)])` for a multi-input network.
//!
//! It computes what dfdx's `Linear` computes (`x · Wᵀ + b`, same parameter layout), but adds
//! the bias in place on the matrix product and accumulates its gradient in one pass over the
//! rows. dfdx 0.13's generic broadcast add walks every element through strided index
//! arithmetic in both directions; for the small layers of tabular models that was a third of
//! the training time. The weights are visited, optimised, initialised and saved like any dfdx
//! module's.

use dfdx::nn::{BuildModule, BuildOnDevice, Module, NonMutableModule, TensorCollection};
use dfdx::prelude::{
    Const, Cpu, Dtype, HasErr, ModuleVisitor, PutTape, Rank1, Rank2, SplitTape, Storage, Tape, Tensor, TensorFromVec,
    TensorOptions, TryMatMul,
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

/// Builder of a [`BranchesLayer`]: the input row is three blocks of widths `A`, `B` and `C`
/// (`IN = A + B + C`); each block goes through its own dense layer and ReLU (to `HA`, `HB`, `HC`
/// units) and the three results are concatenated (`OUT = HA + HB + HC`). This is the joining
/// part of a multi-input network, with the inputs given side by side in one matrix; the widths
/// are checked when the layer is built.
///
/// ```
/// use dfdx::prelude::*;
/// use propensity::layers::Branches;
/// let dev = Cpu::default();
/// // blocks of 3, 2 and 1 inputs into 4, 2 and 1 units
/// let layer = dev.build_module::<Branches<3, 4, 2, 2, 1, 1, 6, 7>, f32>();
/// let x: Tensor<(usize, Const<6>), f32, _> = dev.zeros_like(&(5, Const));
/// assert_eq!(layer.forward(x).shape().0, 5);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Branches<
    const A: usize,
    const HA: usize,
    const B: usize,
    const HB: usize,
    const C: usize,
    const HC: usize,
    const IN: usize,
    const OUT: usize,
>;

/// A built [`Branches`] layer: one [`DenseLayer`] per input block.
#[derive(Debug, Clone)]
pub struct BranchesLayer<
    const A: usize,
    const HA: usize,
    const B: usize,
    const HB: usize,
    const C: usize,
    const HC: usize,
    const IN: usize,
    const OUT: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// The first block's layer (inputs `0..A`).
    pub first: DenseLayer<A, HA, E, D>,
    /// The second block's layer (inputs `A..A + B`).
    pub second: DenseLayer<B, HB, E, D>,
    /// The third block's layer (inputs `A + B..IN`).
    pub third: DenseLayer<C, HC, E, D>,
}

impl<
        const A: usize,
        const HA: usize,
        const B: usize,
        const HB: usize,
        const C: usize,
        const HC: usize,
        const IN: usize,
        const OUT: usize,
        E: Dtype,
        D: Storage<E>,
    > BranchesLayer<A, HA, B, HB, C, HC, IN, OUT, E, D>
{
    const WIDTHS: () = assert!(A + B + C == IN && HA + HB + HC == OUT, "Branches: IN or OUT is not the sum");
}

impl<
        const A: usize,
        const HA: usize,
        const B: usize,
        const HB: usize,
        const C: usize,
        const HC: usize,
        const IN: usize,
        const OUT: usize,
    > BuildOnDevice<Cpu, f32> for Branches<A, HA, B, HB, C, HC, IN, OUT>
{
    type Built = BranchesLayer<A, HA, B, HB, C, HC, IN, OUT, f32, Cpu>;
    fn try_build_on_device(device: &Cpu) -> Result<Self::Built, <Cpu as HasErr>::Err> {
        #[allow(clippy::let_unit_value)]
        let () = Self::Built::WIDTHS;
        Self::Built::try_build(device)
    }
}

impl<
        const A: usize,
        const HA: usize,
        const B: usize,
        const HB: usize,
        const C: usize,
        const HC: usize,
        const IN: usize,
        const OUT: usize,
        E: Dtype,
        D: Storage<E>,
    > NonMutableModule for BranchesLayer<A, HA, B, HB, C, HC, IN, OUT, E, D>
{
}

impl<
        const A: usize,
        const HA: usize,
        const B: usize,
        const HB: usize,
        const C: usize,
        const HC: usize,
        const IN: usize,
        const OUT: usize,
    > TensorCollection<f32, Cpu> for BranchesLayer<A, HA, B, HB, C, HC, IN, OUT, f32, Cpu>
{
    type To<E2: Dtype, D2: Device<E2>> = BranchesLayer<A, HA, B, HB, C, HC, IN, OUT, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, Cpu>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("first", |s| &s.first, |s| &mut s.first),
                Self::module("second", |s| &s.second, |s| &mut s.second),
                Self::module("third", |s| &s.third, |s| &mut s.third),
            ),
            |(first, second, third)| BranchesLayer { first, second, third },
        )
    }
}

impl<
        const A: usize,
        const HA: usize,
        const B: usize,
        const HB: usize,
        const C: usize,
        const HC: usize,
        const IN: usize,
        const OUT: usize,
        T: Tape<f32, Cpu>,
    > Module<Tensor<(usize, Const<IN>), f32, Cpu, T>> for BranchesLayer<A, HA, B, HB, C, HC, IN, OUT, f32, Cpu>
{
    type Output = Tensor<(usize, Const<OUT>), f32, Cpu, T>;
    type Error = <Cpu as HasErr>::Err;

    fn try_forward(&self, x: Tensor<(usize, Const<IN>), f32, Cpu, T>) -> Result<Self::Output, Self::Error> {
        // The inputs are data (no gradient flows into them), so the blocks are copied out and
        // the one tape is passed from branch to branch; the join's backward pass hands each
        // branch its columns of the gradient.
        let (x, tape) = x.split_tape();
        let (rows, dev) = (x.shape().0, x.device().clone());
        let data = x.as_vec();
        let block = |from: usize, width: usize| -> Vec<f32> {
            data.chunks_exact(IN).flat_map(|r| r[from..from + width].iter().copied()).collect()
        };
        let xa = dev.tensor_from_vec(block(0, A), (rows, Const::<A>)).put_tape(tape);
        let (ha, tape) = self.first.try_forward(xa)?.try_relu()?.split_tape();
        let xb = dev.tensor_from_vec(block(A, B), (rows, Const::<B>)).put_tape(tape);
        let (hb, tape) = self.second.try_forward(xb)?.try_relu()?.split_tape();
        let xc = dev.tensor_from_vec(block(A + B, C), (rows, Const::<C>)).put_tape(tape);
        let hc = self.third.try_forward(xc)?.try_relu()?;
        Ok(join(&ha, &hb, hc))
    }
}

/// Concatenates three row blocks column-wise; `c` carries the tape.
fn join<const HA: usize, const HB: usize, const HC: usize, const OUT: usize, T: Tape<f32, Cpu>>(
    a: &Tensor<(usize, Const<HA>), f32, Cpu>,
    b: &Tensor<(usize, Const<HB>), f32, Cpu>,
    c: Tensor<(usize, Const<HC>), f32, Cpu, T>,
) -> Tensor<(usize, Const<OUT>), f32, Cpu, T> {
    let (c, mut tape) = c.split_tape();
    let rows = c.shape().0;
    let (va, vb, vc) = (a.as_vec(), b.as_vec(), c.as_vec());
    let mut out = Vec::with_capacity(rows * OUT);
    for r in 0..rows {
        out.extend_from_slice(&va[r * HA..(r + 1) * HA]);
        out.extend_from_slice(&vb[r * HB..(r + 1) * HB]);
        out.extend_from_slice(&vc[r * HC..(r + 1) * HC]);
    }
    let out = c.device().tensor_from_vec(out, (rows, Const::<OUT>));
    if T::OWNS_TAPE {
        let (ga, gb, gc, go) = (a.ghost(), b.ghost(), c.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let upstream = grads.get_or_alloc_mut(&go)?.to_vec();
            let add = |g: &mut [f32], from: usize, width: usize| {
                for (grow, urow) in g.chunks_exact_mut(width).zip(upstream.chunks_exact(OUT)) {
                    for (gv, u) in grow.iter_mut().zip(&urow[from..from + width]) {
                        *gv += u;
                    }
                }
            };
            add(grads.get_or_alloc_mut(&ga)?, 0, HA);
            add(grads.get_or_alloc_mut(&gb)?, HA, HB);
            add(grads.get_or_alloc_mut(&gc)?, HA + HB, HC);
            Ok(())
        });
    }
    out.put_tape(tape)
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

    #[test]
    fn branches_match_three_linear_layers_joined() {
        // the same network written with dfdx's own ops: a slice of the input per branch, Linear,
        // relu, and the three outputs concatenated by a product with fixed placement matrices
        let dev: Cpu = Cpu::seed_from_u64(3);
        let mut layer = dev.build_module::<Branches<2, 2, 1, 1, 2, 1, 5, 4>, f32>();
        layer.first.bias.copy_from(&[0.1, -0.2]);
        layer.third.bias.copy_from(&[0.3]);
        let xs = vec![1.0, -2.0, 0.5, 3.0, 1.0, -1.0, 0.5, 2.0, -3.0, 0.25];
        let x: Tensor<(usize, Const<5>), f32, _> = dev.tensor_from_vec(xs.clone(), (2, Const));
        let upstream: Tensor<(usize, Const<4>), f32, _> =
            dev.tensor_from_vec(vec![1.0, -2.0, 3.0, 0.5, -1.0, 0.25, 2.0, 1.5], (2, Const));
        let grads = layer.alloc_grads();
        let y = layer.forward(x.traced(grads));
        let yv = y.as_vec();
        let g = (y * upstream.clone()).sum().backward();

        let block = |from: usize, w: usize| -> Vec<f32> {
            xs.chunks(5).flat_map(|r| r[from..from + w].to_vec()).collect::<Vec<f32>>()
        };
        let mut la = dev.build_module::<Linear<2, 2>, f32>();
        la.weight = layer.first.weight.clone();
        la.bias = layer.first.bias.clone();
        let mut lc = dev.build_module::<Linear<2, 1>, f32>();
        lc.weight = layer.third.weight.clone();
        lc.bias = layer.third.bias.clone();
        let xa: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(block(0, 2), (2, Const));
        let xc: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(block(3, 2), (2, Const));
        let ya = la.forward(xa.traced(la.alloc_grads())).relu();
        let yc = lc.forward(xc.traced(lc.alloc_grads())).relu();
        let ua: Tensor<(usize, Const<2>), f32, _> = dev.tensor_from_vec(vec![1.0, -2.0, -1.0, 0.25], (2, Const));
        let uc: Tensor<(usize, Const<1>), f32, _> = dev.tensor_from_vec(vec![0.5, 1.5], (2, Const));
        let (ya_v, yc_v) = (ya.as_vec(), yc.as_vec());
        assert_eq!([yv[0], yv[1], yv[3], yv[4], yv[5], yv[7]], [ya_v[0], ya_v[1], yc_v[0], ya_v[2], ya_v[3], yc_v[1]]);
        let ga = (ya * ua).sum().backward();
        let gc = (yc * uc).sum().backward();
        assert_eq!(g.get(&layer.first.weight).as_vec(), ga.get(&la.weight).as_vec());
        assert_eq!(g.get(&layer.first.bias).as_vec(), ga.get(&la.bias).as_vec());
        assert_eq!(g.get(&layer.third.weight).as_vec(), gc.get(&lc.weight).as_vec());
        // the second branch's one unit: relu(w·x + 0) per row, gradient = upstream column 2 where active
        let (w, x2) = (layer.second.weight.as_vec()[0], [0.5f32, 2.0]);
        let expect: f32 = x2.iter().zip([3.0f32, 2.0]).map(|(&x, u)| if w * x > 0.0 { u * x } else { 0.0 }).sum();
        assert!((g.get(&layer.second.weight).as_vec()[0] - expect).abs() < 1e-6);
    }
}
