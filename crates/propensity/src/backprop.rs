//! The training step of a network without input branches, without dfdx's tape: the forward pass
//! keeps each block's output in a reused buffer, and the backward pass writes the gradient of
//! every weight and bias straight into the flat gradient.
//!
//! Every number is the one dfdx's tape gives for the [`crate::layers`] operations, bit for bit
//! (a test compares the gradients of six networks): the matrix products are the `gemm` calls
//! dfdx 0.13's `matmul` makes, forward and backward (same shapes, strides and accumulation, so
//! each value sums its products in the same order), and the bias, ReLU and tanh gradients
//! follow the tape's operations element by element. What goes is the tape's
//! bookkeeping: a fresh tensor and gradient buffer per operation, copies of the weights and
//! activations, and the product for the input's gradient, which nothing reads. For the small
//! layers of tabular models that was about a fifth of a step (audiobooks 0.35 → 0.29 s for
//! 100 epochs, shopping 1.42 → 1.10 s for 150, `cargo bench --bench train`).
//!
//! In a rayon pool of two or more threads, each step is cut in two halves that run at once: the
//! forward pass by rows, each block's weight and bias gradients by output unit and its input's
//! gradient by row. Every value still sums its products in one pass in the same order (the
//! kernel's or `gemm`'s, see [`crate::layers`]), so the numbers are one thread's, bit for bit (the
//! test runs both). On `gemm`'s kernels two threads gained 1.10–1.16× (audiobooks 0.160 → 0.146 s,
//! shopping 0.609 → 0.527 s, medians of five alternate runs on a 2-core Xeon); on
//! [`crate::dense_kernel`] the halves are a few microseconds each and one thread is as fast as two
//! (0.081–0.083 s on two, 0.084–0.086 s on one for audiobooks, 0.33 s and 0.32 s for shopping,
//! `cargo bench --bench train` on a 2-core EPYC).

use std::ops::Range;

use crate::dense_kernel::Kernel;
use crate::layers::{column_sums, product, run_block, ONE_PASS_DEPTH};
use crate::network::{Activation, DenseBlock, Network};

/// The buffers of [`Chain::forward`] and [`Chain::backward`], sized on the first batch.
#[derive(Debug)]
pub(crate) struct Chain {
    blocks: Vec<DenseBlock>,
    /// Each block's output for the last batch.
    outputs: Vec<Vec<f32>>,
    /// Each block's weights laid out for the kernel for the last batch (`None` where `gemm` runs
    /// the block): once per step for both halves, in the buffers of the step before.
    kernels: Vec<Option<Kernel>>,
    /// The gradient with respect to the current block's output, and to its input.
    grad: Vec<f32>,
    grad_input: Vec<f32>,
    rows: usize,
}

impl Chain {
    /// The step of `network`, or `None` when it has input branches (those train on the tape).
    pub(crate) fn new(network: &Network) -> Option<Chain> {
        if !network.branches.is_empty() {
            return None;
        }
        let blocks = network.blocks();
        Some(Chain {
            outputs: vec![Vec::new(); blocks.len()],
            kernels: blocks.iter().map(|_| None).collect(),
            blocks,
            grad: Vec::new(),
            grad_input: Vec::new(),
            rows: 0,
        })
    }

    /// The network's raw outputs for `rows` rows of `x` (row-major) under the parameters
    /// `values`, keeping every block's output for [`backward`](Self::backward). In a pool of two
    /// or more threads, the two halves of the rows go through the blocks on two threads.
    pub(crate) fn forward<'a>(&'a mut self, x: &'a [f32], rows: usize, values: &[f32]) -> &'a [f32] {
        self.rows = rows;
        for (b, out) in self.blocks.iter().zip(&mut self.outputs) {
            out.resize(rows * b.units, 0.0); // every value is overwritten
        }
        let cut = match self.blocks.iter().all(|b| b.inputs <= ONE_PASS_DEPTH) {
            true => halves(rows, 8),
            false => None,
        };
        let width = x.len() / rows.max(1);
        // each half takes the kernel or gemm as it would on its own rows (`Kernel::new` decides
        // by the rows: both halves have at least 2)
        let least = cut.map_or(rows, |s| s.min(rows - s));
        for (slot, b) in self.kernels.iter_mut().zip(&self.blocks) {
            *slot = Kernel::reuse(slot.take(), values, b, least);
        }
        let (blocks, kernels) = (&self.blocks, &self.kernels);
        match cut {
            Some(s) => {
                let (mut top, mut bottom): (Vec<&mut [f32]>, Vec<&mut [f32]>) =
                    blocks.iter().zip(&mut self.outputs).map(|(b, o)| o.split_at_mut(s * b.units)).unzip();
                let (xa, xb) = x.split_at(s * width);
                let none = gemm::Parallelism::None;
                // the calling thread takes the larger half: the other one starts a little later
                rayon::join(
                    || forward_rows(xb, rows - s, values, blocks, kernels, &mut bottom, none),
                    || forward_rows(xa, s, values, blocks, kernels, &mut top, none),
                );
            }
            None => {
                let mut outs: Vec<&mut [f32]> = self.outputs.iter_mut().map(|o| o.as_mut_slice()).collect();
                forward_rows(x, rows, values, blocks, kernels, &mut outs, dfdx_parallelism());
            }
        }
        self.outputs.last().map_or(x, |v| v.as_slice())
    }

    /// The gradient with respect to the outputs of the last [`forward`](Self::forward), to be
    /// filled by the loss (zeroed, one value per output).
    pub(crate) fn output_gradient(&mut self) -> &mut [f32] {
        let width = self.blocks.last().map_or(0, |b| b.units);
        self.grad.clear();
        self.grad.resize(self.rows * width, 0.0);
        &mut self.grad
    }

    /// Back-propagates [`output_gradient`](Self::output_gradient) through the blocks of the
    /// last [`forward`](Self::forward) (whose input was `x`), writing the gradient of every
    /// parameter into `flat` (laid out as the parameters). In a pool of two or more threads,
    /// each block's work is cut in two: the weight and bias gradients by output unit, the
    /// input's gradient by row.
    pub(crate) fn backward(&mut self, x: &[f32], values: &[f32], flat: &mut [f32]) {
        let rows = self.rows;
        flat.fill(0.0);
        if let (Some(b), Some(out)) = (self.blocks.last(), self.outputs.last()) {
            activation_gradient(b.activation, &mut self.grad, out);
        }
        for l in (0..self.blocks.len()).rev() {
            let b = self.blocks[l];
            let (o, i) = (b.units, b.inputs);
            let input = if l == 0 { x } else { self.outputs[l - 1].as_slice() };
            let (dw, bias) = flat[b.at..b.bias_at() + o].split_at_mut(o * i);
            let below = match l {
                0 => None,
                _ => {
                    self.grad_input.clear();
                    self.grad_input.resize(rows * i, 0.0); // the tape's fresh, zeroed buffer
                    Some(self.grad_input.as_mut_slice())
                }
            };
            let step = BlockStep {
                rows,
                grad: &self.grad,
                input,
                weight: &values[b.at..b.at + o * i],
                below: (l > 0).then(|| (self.blocks[l - 1].activation, self.outputs[l - 1].as_slice())),
            };
            // the weight's gradient sums over the rows, the input's over the units
            let cols = if rows <= ONE_PASS_DEPTH { halves(o, 4) } else { None };
            let cut_rows = if below.is_some() && o <= ONE_PASS_DEPTH { halves(rows, 8) } else { None };
            if cols.is_none() && cut_rows.is_none() {
                step.run(0..o, dw, bias, 0..rows, below, dfdx_parallelism());
            } else {
                let (c, s) = (cols.unwrap_or(o), cut_rows.unwrap_or(rows));
                let (dw_a, dw_b) = dw.split_at_mut(c * i);
                let (bias_a, bias_b) = bias.split_at_mut(c);
                let (below_a, below_b) = match below {
                    Some(g) => {
                        let (a, b) = g.split_at_mut(s * i);
                        (Some(a), Some(b))
                    }
                    None => (None, None),
                };
                let none = gemm::Parallelism::None;
                rayon::join(
                    || step.run(c..o, dw_b, bias_b, s..rows, below_b, none),
                    || step.run(0..c, dw_a, bias_a, 0..s, below_a, none),
                );
            }
            if l > 0 {
                std::mem::swap(&mut self.grad, &mut self.grad_input);
            }
        }
    }
}

/// What one block's backward pass reads.
struct BlockStep<'a> {
    rows: usize,
    /// The gradient with respect to the block's output (activation gradient applied).
    grad: &'a [f32],
    /// The block's input and weight.
    input: &'a [f32],
    weight: &'a [f32],
    /// The block below: its activation and output, whose gradient this step computes.
    below: Option<(Activation, &'a [f32])>,
}

impl BlockStep<'_> {
    /// The gradients of the units `cols` (weights `dw` and biases `bias`, their slices of the
    /// flat gradient) and, when there is a block below, of the input rows `rows` into `below`
    /// (that block's activation gradient applied).
    fn run(
        &self,
        cols: Range<usize>,
        dw: &mut [f32],
        bias: &mut [f32],
        rows: Range<usize>,
        below: Option<&mut [f32]>,
        parallelism: gemm::Parallelism,
    ) {
        let o = self.grad.len() / self.rows.max(1);
        let i = self.input.len() / self.rows.max(1);
        if !cols.is_empty() {
            // the bias: column sums of the gradient, row after row
            column_sums(self.grad, o, cols.clone(), bias);
            // the weight's gradient `inputᵀ · grad` (units × inputs, row-major, written through
            // the permuted weight's strides): the sizes and strides of dfdx's `matmul` backward
            let grad = &self.grad[cols.start..];
            product(i, cols.len(), self.rows, dw, i, 1, true, self.input, i, 1, grad, 1, o, parallelism);
        }
        if let (Some(dst), Some((activation, out))) = (below, self.below) {
            if !rows.is_empty() {
                // the input's gradient `grad_out · W`, into a zeroed buffer (the tape's fresh one)
                let grad = &self.grad[rows.start * o..rows.end * o];
                product(rows.len(), i, o, dst, 1, i, true, grad, 1, o, self.weight, 1, i, parallelism);
                activation_gradient(activation, dst, &out[rows.start * i..rows.end * i]);
            }
        }
    }
}

/// `forward`'s blocks over `rows` rows of `x`, block `i` into `outs[i]`.
fn forward_rows(
    x: &[f32],
    rows: usize,
    values: &[f32],
    blocks: &[DenseBlock],
    kernels: &[Option<Kernel>],
    outs: &mut [&mut [f32]],
    parallelism: gemm::Parallelism,
) {
    for (i, (b, kernel)) in blocks.iter().zip(kernels).enumerate() {
        let (done, rest) = outs.split_at_mut(i);
        let src: &[f32] = done.last().map_or(x, |v| &**v);
        // the weights were laid out before the halves split
        run_block(kernel.as_ref(), src, rows, values, b, rest[0], parallelism);
    }
}

/// The tape's activation gradients, in place on the gradient `grad` of the outputs `out`: tanh
/// writes `0 + (1 - y²)·g` into a fresh buffer, ReLU keeps the gradient where its output is
/// positive and writes +0 elsewhere.
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+avx", "x86_64+avx2+avx"))]
fn activation_gradient(activation: Activation, grad: &mut [f32], out: &[f32]) {
    match activation {
        Activation::Tanh => {
            for (g, y) in grad.iter_mut().zip(out) {
                *g = 0.0 + (1.0 - y.powi(2)) * *g;
            }
        }
        Activation::Relu => {
            for (g, y) in grad.iter_mut().zip(out) {
                *g = if *y > 0.0 { *g } else { 0.0 };
            }
        }
        Activation::Linear => {}
    }
}

/// Where `n` rows or units are cut in two for two threads (a multiple of `align` where the two
/// parts keep at least two each, as `gemm` takes another path for a single row or column), or
/// `None` on one thread or when `n` is too small to cut.
fn halves(n: usize, align: usize) -> Option<usize> {
    if rayon::current_num_threads() < 2 || n < 4 {
        return None;
    }
    let aligned = n / 2 / align * align;
    Some(if aligned >= 2 { aligned } else { n / 2 })
}

/// The parallelism dfdx 0.13 gives every product: all of the current rayon pool's threads.
fn dfdx_parallelism() -> gemm::Parallelism {
    gemm::Parallelism::Rayon(rayon::current_num_threads())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Rows;
    use crate::losses::sparse_cross_entropy;
    use crate::model::Model;
    use crate::network::{Head, Layer};
    use dfdx::prelude::{Backward, Gradients, TensorFromVec, Trace};
    use rand::{Rng, SeedableRng};

    /// The taped gradient of the mean cross-entropy of `model` on `x`, `targets`.
    fn taped(model: &Model, x: &[f32], rows: usize, targets: &[usize]) -> Vec<f32> {
        let width = model.network().inputs;
        let xt: Rows = model.dev.tensor_from_vec(x.to_vec(), (rows, width));
        let logits = model.forward(xt.traced(Gradients::leaky()), None).unwrap();
        let grads = sparse_cross_entropy(logits, targets, None).unwrap().backward();
        grads.get(&model.params).as_vec()
    }

    #[test]
    fn the_untaped_step_gives_the_tapes_gradients_bit_for_bit() {
        let mut tanh = Network::mlp(7, &[23, 9], 3, Head::Softmax);
        tanh.layers[1] = Layer { units: 9, activation: Activation::Tanh };
        let nets = [
            tanh,
            Network::mlp(10, &[50, 50], 2, Head::Softmax), // audiobooks
            Network::mlp(17, &[64, 64], 5, Head::Softmax),
            Network::mlp(5, &[], 2, Head::Softmax),
            Network::mlp(129, &[130], 4, Head::Softmax),
            Network::mlp(3, &[5, 6], 2, Head::Softmax),
        ];
        // one thread, and two (each block's work cut in two)
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(11);
            for (n, net) in nets.iter().enumerate() {
                let mut chain = Chain::new(net).unwrap();
                for (seed, rows) in [(1, 1), (2, 3), (3, 64), (4, 100), (5, 77), (6, 600), (7, 5)] {
                    let mut model = Model::new(net, seed).unwrap();
                    let w: Vec<f32> = model.weights().iter().map(|v| v + rng.gen_range(-0.5..0.5)).collect();
                    model.set_weights(&w).unwrap();
                    let x: Vec<f32> = (0..rows * net.inputs).map(|_| rng.gen_range(-3.0..3.0)).collect();
                    let targets: Vec<usize> = (0..rows).map(|_| rng.gen_range(0..net.outputs)).collect();
                    let mut flat = vec![f32::NAN; w.len()];
                    pool.install(|| {
                        let logits = chain.forward(&x, rows, &w).to_vec();
                        let width = net.outputs;
                        let (_, gradient) =
                            crate::losses::softmax_cross_entropy(&logits, width, &targets, None).unwrap();
                        gradient.add_to(1.0, chain.output_gradient());
                        chain.backward(&x, &w, &mut flat);
                    });
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    let what = format!("net {n}, {rows} rows, {threads} threads");
                    assert_eq!(bits(&flat), bits(&taped(&model, &x, rows, &targets)), "{what}");
                }
            }
        }
    }
}
