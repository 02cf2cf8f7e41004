//! The tape operations a [`crate::network::Network`] is built from, on dfdx tensors with run-time
//! widths: [`dense_layer`], a fully connected layer whose weight and bias are read from the model's one
//! flat parameter tensor, and `join`, the concatenation of a multi-input network's branches.
//!
//! [`dense_layer`] computes what dfdx's `Linear` computes (`x · Wᵀ + b`, same parameter layout) with
//! dfdx's matrix product, but adds the bias in place and accumulates its gradient in one pass over
//! the rows: dfdx 0.13's generic broadcast add walks every element through strided index
//! arithmetic in both directions, which for the small layers of tabular models was a third of the
//! training time. The gradients of the weight and the bias land in their slices of the flat
//! parameter gradient, so dfdx's optimizers update all of a network's parameters as one tensor.

use dfdx::prelude::{Axes2, Cpu, HasErr, PutTape, SplitTape, Tape, Tensor, TensorFromVec, TryMatMul};
use dfdx::shapes::HasShape;
use dfdx::tensor_ops::PermuteTo;

use crate::dense_kernel::{self, Kernel, Operands};
use crate::network::{Activation, DenseBlock};

/// A batch of rows with a run-time width, optionally carrying a gradient tape.
pub type Rows<T = dfdx::prelude::NoneTape> = Tensor<(usize, usize), f32, Cpu, T>;

/// A network's parameters: one flat tensor, laid out as [`crate::network::Network`] says.
pub type Flat = Tensor<(usize,), f32, Cpu>;

/// `x · Wᵀ + b` for the layer `block` of `params` (whose values are `values`), on a taped or
/// untaped batch.
///
/// ```
/// use dfdx::prelude::*;
/// use propensity::layers::{dense_layer, Rows};
/// let dev = Cpu::default();
/// // one layer 2 → 1: weight [3, -1], bias 0.5
/// let params = dev.tensor_from_vec(vec![3.0f32, -1.0, 0.5], (3,));
/// let x: Rows = dev.tensor_from_vec(vec![1.0, 2.0, 0.0, 1.0], (2, 2));
/// let y = dense_layer(x, &params, &[3.0, -1.0, 0.5], 0, 2, 1).unwrap();
/// assert_eq!(y.as_vec(), [1.5, -0.5]);
/// ```
pub fn dense_layer<T: Tape<f32, Cpu>>(
    x: Rows<T>,
    params: &Flat,
    values: &[f32],
    at: usize,
    inputs: usize,
    units: usize,
) -> Result<Rows<T>, <Cpu as HasErr>::Err> {
    let block = DenseBlock { at, inputs, units, activation: Activation::Linear };
    dense(x, params, values, &block)
}

/// [`dense_layer`] for a block of a network's layout, followed by the block's activation (a
/// ReLU is applied in the same pass as the bias, and its gradient mask in the same pass as the
/// bias gradient: dfdx's ReLU kernels walk every element through strided index arithmetic).
pub(crate) fn dense<T: Tape<f32, Cpu>>(
    x: Rows<T>,
    params: &Flat,
    values: &[f32],
    block: &DenseBlock,
) -> Result<Rows<T>, <Cpu as HasErr>::Err> {
    let activation = block.activation;
    let (x, mut tape) = x.split_tape();
    let (o, i, at) = (block.units, block.inputs, block.at);
    let weight: Tensor<(usize, usize), f32, Cpu> = x.device().tensor_from_vec(values[at..at + o * i].to_vec(), (o, i));
    if T::OWNS_TAPE {
        // Registered before the product's backward op, so it runs after it: the weight's
        // gradient is complete when it is moved into the flat gradient.
        let (w, p) = (weight.ghost(), params.ghost());
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&w)?.to_vec();
            for (pv, gv) in grads.get_or_alloc_mut(&p)?[at..at + o * i].iter_mut().zip(&g) {
                *pv += gv;
            }
            Ok(())
        });
    }
    let transposed = weight.retaped::<T>().try_permute::<_, Axes2<1, 0>>()?;
    let product = x.put_tape(tape).try_matmul(transposed)?;
    let bias = &values[block.bias_at()..block.bias_at() + o];
    let out = add_bias_rows(product, params, bias, block.bias_at(), activation == Activation::Relu);
    match activation {
        Activation::Tanh => out.try_tanh(),
        Activation::Relu | Activation::Linear => Ok(out),
    }
}

/// `x[r, :] += bias` for every row, in place, then `max(x, 0)` when `relu`. The output keeps the
/// product's identity, so the gradient flowing into it is the gradient of the product
/// (d(x + b)/dx = 1), once masked where the ReLU gave 0 (exactly what dfdx's ReLU backward
/// writes: the gradient or +0); the bias slice of the flat gradient (from `bias_at`) gets the
/// column sums of that gradient.
fn add_bias_rows<T: Tape<f32, Cpu>>(x: Rows<T>, params: &Flat, bias: &[f32], bias_at: usize, relu: bool) -> Rows<T> {
    let (mut x, mut tape) = x.split_tape();
    let (rows, o) = (x.shape().0, bias.len());
    let mut buf = vec![0.0f32; rows * o];
    x.copy_into(&mut buf);
    add_bias(&mut buf, bias, relu);
    x.copy_from(&buf);
    if T::OWNS_TAPE {
        let (out, p) = (x.ghost(), params.ghost());
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&out)?;
            if relu {
                for (gv, v) in g.iter_mut().zip(&buf) {
                    *gv = if *v > 0.0 { *gv } else { 0.0 };
                }
            }
            let mut sums = vec![0.0f32; o];
            column_sums(g, o, 0..o, &mut sums);
            for (gb, s) in grads.get_or_alloc_mut(&p)?[bias_at..bias_at + o].iter_mut().zip(&sums) {
                *gb += s;
            }
            Ok(())
        });
    }
    x.put_tape(tape)
}

/// `x[r, :] += bias` for every row of the row-major `x`, then `max(x, 0)` when `relu`.
fn add_bias(x: &mut [f32], bias: &[f32], relu: bool) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
            if relu {
                *v = v.max(0.0);
            }
        }
    }
}

/// `sums[j] = Σ_r x[r, cols.start + j]` over the rows `r` of the row-major `x` (`width`
/// columns), each sum from zero and row after row: the sums of the columns `cols` (by
/// [`dense_kernel::column_sums`] where the CPU has its instructions, with the same numbers).
pub(crate) fn column_sums(x: &[f32], width: usize, cols: std::ops::Range<usize>, sums: &mut [f32]) {
    if dense_kernel::column_sums(x, width, cols.clone(), sums) {
        return;
    }
    sums[..cols.len()].fill(0.0);
    for row in x.chunks_exact(width) {
        for (s, v) in sums.iter_mut().zip(&row[cols.clone()]) {
            *s += v;
        }
    }
}

/// Concatenates row blocks column-wise; the last block carries the tape, and the backward pass
/// hands each block its columns of the gradient.
pub(crate) fn join<T: Tape<f32, Cpu>>(first: &[Rows], last: Rows<T>) -> Rows<T> {
    let (last, mut tape) = last.split_tape();
    let rows = last.shape().0;
    let mut parts: Vec<(Vec<f32>, usize)> = first.iter().map(|t| (t.as_vec(), t.shape().1)).collect();
    parts.push((last.as_vec(), last.shape().1));
    let width: usize = parts.iter().map(|p| p.1).sum();
    let mut out = Vec::with_capacity(rows * width);
    for r in 0..rows {
        for (v, w) in &parts {
            out.extend_from_slice(&v[r * w..(r + 1) * w]);
        }
    }
    let out: Rows = last.device().tensor_from_vec(out, (rows, width));
    if T::OWNS_TAPE {
        let mut ghosts: Vec<_> = first.iter().map(|t| t.ghost()).collect();
        ghosts.push(last.ghost());
        let widths: Vec<usize> = parts.iter().map(|p| p.1).collect();
        let go = out.ghost();
        tape.add_backward_op(move |grads| {
            let upstream = grads.get_or_alloc_mut(&go)?.to_vec();
            let mut from = 0;
            for (g, &w) in ghosts.iter().zip(&widths) {
                for (grow, urow) in grads.get_or_alloc_mut(g)?.chunks_exact_mut(w).zip(upstream.chunks_exact(width)) {
                    for (gv, u) in grow.iter_mut().zip(&urow[from..from + w]) {
                        *gv += u;
                    }
                }
                from += w;
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// The untaped forward pass of a chain of dense blocks over `rows` rows of `x` (row-major):
/// what [`dense`] computes block after block, bit for bit — each block by [`dense_block`], whose
/// products sum in dfdx 0.13's `gemm` order, then the bias, ReLU and tanh as [`dense`] applies
/// them — but on two reused buffers instead of fresh tensors. Each block is followed by its own
/// activation; `scratch` holds the blocks between. Returns the last block's `rows × units`
/// values, at the start of `out`. Scoring is a few thousand rows at a time, where dfdx's
/// allocations and copies cost more than the products.
pub(crate) fn dense_chain<'o>(
    x: &[f32],
    rows: usize,
    values: &[f32],
    blocks: &[DenseBlock],
    out: &'o mut Vec<f32>,
    scratch: &mut Vec<f32>,
) -> &'o [f32] {
    // inside a rayon task (a scorer's slice) one thread per product; else all of them, as dfdx
    // does: each value sums its products in the same order either way
    let parallelism = match rayon::current_thread_index() {
        Some(_) => gemm::Parallelism::None,
        None => gemm::Parallelism::Rayon(rayon::current_num_threads()),
    };
    let Some(last) = blocks.last() else {
        out.clear();
        out.extend_from_slice(x); // no blocks: the inputs themselves
        return out;
    };
    let mut input: Option<&[f32]> = Some(x);
    for (i, b) in blocks.iter().enumerate() {
        // blocks alternate between `out` and `scratch`, so that the last one lands in `out`
        let (dst, src) = if (blocks.len() - i) % 2 == 1 { (&mut *out, &*scratch) } else { (&mut *scratch, &*out) };
        let src: &[f32] = input.take().unwrap_or_else(|| &src[..rows * b.inputs]);
        // the buffers only grow: the product overwrites every value it uses, and zeroing a
        // 50-wide block again after a 2-wide one was 3 % of a Parquet scoring's time
        if dst.len() < rows * b.units {
            dst.resize(rows * b.units, 0.0);
        }
        dense_block(src, rows, values, b, &mut dst[..rows * b.units], parallelism);
    }
    &out[..rows * last.units]
}

/// One block of [`dense_chain`]: `dst = activation(src · Wᵀ + b)` for `rows` rows (`dst` holds
/// `rows × units` values), what dfdx 0.13's `matmul` and [`dense`] compute, bit for bit: by the
/// [`Kernel`] where the CPU has it (its rows split between threads under
/// `Parallelism::Rayon`), else by [`gemm_block`].
pub(crate) fn dense_block(
    src: &[f32],
    rows: usize,
    values: &[f32],
    b: &DenseBlock,
    dst: &mut [f32],
    parallelism: gemm::Parallelism,
) {
    let (o, k) = (b.units, b.inputs);
    assert_eq!(src.len(), rows * k, "rows × inputs values");
    assert_eq!(dst.len(), rows * o, "rows × units values");
    run_block(Kernel::new(values, b, rows).as_ref(), src, rows, values, b, dst, parallelism);
}

/// [`dense_block`] with its [`Kernel`] already laid out (`None`: the shape or the CPU is not the
/// kernel's, and `gemm` runs it), for callers that lay the weights out once for several calls.
pub(crate) fn run_block(
    kernel: Option<&Kernel>,
    src: &[f32],
    rows: usize,
    values: &[f32],
    b: &DenseBlock,
    dst: &mut [f32],
    parallelism: gemm::Parallelism,
) {
    match kernel {
        Some(kernel) => kernel.run(src, rows, dst, parallelism),
        None => gemm_block(src, rows, values, b, dst, parallelism),
    }
}

/// [`dense_block`] by the `gemm` call dfdx 0.13's `matmul` makes, then the bias and activation.
pub(crate) fn gemm_block(
    src: &[f32],
    rows: usize,
    values: &[f32],
    b: &DenseBlock,
    dst: &mut [f32],
    parallelism: gemm::Parallelism,
) {
    let (o, k) = (b.units, b.inputs);
    product(rows, o, k, dst, 1, o, false, src, 1, k, &values[b.at..b.at + o * k], k, 1, parallelism);
    add_bias(dst, &values[b.bias_at()..b.bias_at() + o], b.activation == Activation::Relu);
    if b.activation == Activation::Tanh {
        dst.iter_mut().for_each(|v| *v = v.tanh());
    }
}

/// The deepest product `gemm` sums in one pass: its block depth `kc` is `k.min(512)` for small
/// products and at least that for large ones (`kernel_params`' `.max(512).min(k)`), so up to
/// this depth every value sums its products one after the other, whatever the product's other
/// sizes (beyond it, in blocks sized by them).
pub(crate) const ONE_PASS_DEPTH: usize = 512;

/// `dst (m × n) = lhs (m × k) · rhs (k × n)`, or `dst += …` with `accumulate`, each operand given
/// by its column and row strides: what `gemm::gemm` computes with the arguments dfdx 0.13's CPU
/// `matmul` passes it (`alpha` 1 when accumulating, `beta` 1), so every value sums its products
/// in dfdx's order — by [`dense_kernel::product`] where it takes the shape and layout, else by
/// `gemm` itself. Panics when a slice is too short for its size and strides.
#[allow(clippy::too_many_arguments)]
pub(crate) fn product(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_cs: usize,
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_cs: usize,
    lhs_rs: usize,
    rhs: &[f32],
    rhs_cs: usize,
    rhs_rs: usize,
    parallelism: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    if accumulate && (k == 1 || k == 2) && dst_cs == 1 && rhs_cs == 1 {
        return shallow_add(m, n, k, dst, dst_rs, lhs, lhs_cs, lhs_rs, rhs, rhs_rs);
    }
    // the kernel, where the destination's rows and the right operand's are contiguous (or their
    // columns: the transposed product, whose values are the same sums)
    let then = if accumulate { dense_kernel::Then::Add } else { dense_kernel::Then::Store };
    let by_rows = dst_cs == 1 && rhs_cs == 1;
    let ops = match by_rows {
        true => Operands { m, n, k, lhs, lhs_rs, lhs_cs, rhs, rhs_rs },
        false => Operands { m: n, n: m, k, lhs: rhs, lhs_rs: rhs_cs, lhs_cs: rhs_rs, rhs: lhs, rhs_rs: lhs_cs },
    };
    let taken = match (by_rows, dst_rs == 1 && lhs_rs == 1) {
        (true, _) => dense_kernel::product(ops, then, dst, dst_rs, parallelism),
        (false, true) => dense_kernel::product(ops, then, dst, dst_cs, parallelism),
        (false, false) => false,
    };
    if !taken {
        gemm_product(m, n, k, dst, dst_cs, dst_rs, accumulate, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs, parallelism);
    }
}

/// [`product`] with a depth of 1 or 2, adding to `dst` (rows contiguous, as the right operand's):
/// what `gemm` 0.15 computes there (its `gevv`, with `alpha` = `beta` = 1), value by value
/// `dst + l₀·r₀`, then `+ l₁·r₁`, each product rounded before it is added — but a row at a time,
/// in vectors. A 2-unit output layer's input gradient is such a product.
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+avx", "x86_64+avx2+avx"))]
fn shallow_add(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    lhs: &[f32],
    lhs_cs: usize,
    lhs_rs: usize,
    rhs: &[f32],
    rhs_rs: usize,
) {
    let r0 = &rhs[..n];
    for i in 0..m {
        let row = &mut dst[i * dst_rs..i * dst_rs + n];
        let l0 = lhs[i * lhs_rs];
        if k == 1 {
            for (d, &a) in row.iter_mut().zip(r0) {
                *d += l0 * a;
            }
        } else {
            let (l1, r1) = (lhs[i * lhs_rs + lhs_cs], &rhs[rhs_rs..rhs_rs + n]);
            for ((d, &a), &b) in row.iter_mut().zip(r0).zip(r1) {
                *d = l1 * b + (l0 * a + *d);
            }
        }
    }
}

/// [`product`] by `gemm::gemm` itself.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_product(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_cs: usize,
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_cs: usize,
    lhs_rs: usize,
    rhs: &[f32],
    rhs_cs: usize,
    rhs_rs: usize,
    parallelism: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() > (m - 1) * dst_rs + (n - 1) * dst_cs, "destination too short");
    assert!(k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs, "left operand too short");
    assert!(k == 0 || rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs, "right operand too short");
    let (d, l, r) = (dst.as_mut_ptr(), lhs.as_ptr(), rhs.as_ptr());
    let alpha = if accumulate { 1.0 } else { 0.0 };
    let (dc, dr, lc, lr, rc, rr) =
        (dst_cs as isize, dst_rs as isize, lhs_cs as isize, lhs_rs as isize, rhs_cs as isize, rhs_rs as isize);
    // SAFETY: every element the sizes and strides address is inside its slice (checked above),
    // and `dst` is borrowed mutably, so it overlaps neither operand.
    unsafe {
        gemm::gemm(m, n, k, d, dc, dr, accumulate, l, lc, lr, r, rc, rr, alpha, 1.0, false, false, false, parallelism)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::nn::builders::Linear;
    use dfdx::prelude::*;

    #[test]
    fn a_depth_of_one_or_two_adds_gemms_numbers_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut values = |n: usize| -> Vec<f32> {
            (0..n).map(|_| rng.gen_range(-1.0f32..1.0) * 10f32.powi(rng.gen_range(-3..3))).collect()
        };
        for (m, n, k) in [(100, 50, 2), (37, 3, 1), (2, 65, 2), (9, 2, 1), (1, 7, 2)] {
            let (g, w, start) = (values(m * k), values(k * n), values(m * n));
            let (mut ours, mut theirs) = (start.clone(), start);
            // `g · W` as the training step's input gradient: rows of `W` contiguous
            product(m, n, k, &mut ours, 1, n, true, &g, 1, k, &w, 1, n, gemm::Parallelism::None);
            gemm_product(m, n, k, &mut theirs, 1, n, true, &g, 1, k, &w, 1, n, gemm::Parallelism::None);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&ours), bits(&theirs), "{m} × {k} · {k} × {n}");
        }
    }

    #[test]
    fn matches_dfdx_linear_forward_and_gradients() {
        let dev: Cpu = Cpu::seed_from_u64(0);
        let mut linear = dev.build_module::<Linear<3, 2>, f32>();
        linear.bias.copy_from(&[0.5, -0.25]);
        let mut values = linear.weight.as_vec();
        values.extend(linear.bias.as_vec());
        let params: Flat = dev.tensor_from_vec(values.clone(), (8,));
        let xs = vec![1.0, 2.0, 3.0, -1.0, 0.5, 4.0];
        let x: Tensor<(usize, Const<3>), f32, _> = dev.tensor_from_vec(xs.clone(), (2, Const));
        let xr: Rows = dev.tensor_from_vec(xs, (2, 3));
        let up = vec![1.0, 2.0, 3.0, 4.0];

        let gl = linear.alloc_grads();
        let yl = linear.forward(x.clone().traced(gl));
        let gd = Gradients::leaky();
        let yd = dense_layer(xr.traced(gd), &params, &values, 0, 3, 2).unwrap();
        assert_eq!(yl.as_vec(), yd.as_vec());
        let gl = (yl * dev.tensor_from_vec(up.clone(), (2, Const))).sum().backward();
        let upd: Rows = dev.tensor_from_vec(up, (2, 2));
        let gd = (yd * upd).sum().backward();
        let flat = gd.get(&params).as_vec();
        assert_eq!(gl.get(&linear.weight).as_vec(), flat[..6]);
        assert_eq!(gl.get(&linear.bias).as_vec(), flat[6..]);
        assert_eq!(flat[6..], [4.0, 6.0]); // column sums of the upstream gradient
    }

    #[test]
    fn join_places_columns_and_splits_the_gradient() {
        let dev = Cpu::default();
        let a: Rows = dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (2, 2));
        let b: Rows = dev.tensor_from_vec(vec![5.0, 6.0], (2, 1));
        let y = join(std::slice::from_ref(&a), b.clone().traced(Gradients::leaky()));
        assert_eq!(y.as_vec(), [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
        let up: Rows = dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], (2, 3));
        let g = (y * up).sum().backward();
        assert_eq!(g.get(&b).as_vec(), [3.0, 6.0]);
        assert_eq!(g.get(&a).as_vec(), [1.0, 2.0, 4.0, 5.0]);
    }
}
