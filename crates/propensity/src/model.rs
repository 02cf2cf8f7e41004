//! The [`Model`]: a [`Network`] description with its weights, freshly initialised or trained.
//!
//! The weights live in one flat dfdx tensor laid out as the network says (per dense layer the
//! weight `(units, inputs)` then the bias), built at run time for any widths; the forward pass is
//! the [`crate::layers`] operations on `(rows, width)` tensors, with or without a gradient tape.

use dfdx::prelude::{Cpu, HasErr, PutTape, SplitTape, Tape, TensorFromVec};
use dfdx::shapes::HasShape;
use ndarray::Array2;
use rand::distributions::{Distribution, Uniform};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::dataset::DenseDataset;
use crate::layers::{Flat, Rows};
use crate::losses::DenseLoss;
use crate::metrics::{DenseEvaluation, Evaluation};
use crate::network::{Head, Network};
use crate::{Dataset, Error, Result};

/// The device every model runs on: dfdx's CPU backend.
pub type Device = Cpu;

/// A network with its weights.
#[derive(Debug, Clone)]
pub struct Model {
    network: Network,
    /// All parameters in [`Network`] order, one flat tensor.
    pub(crate) params: Flat,
    pub(crate) dev: Device,
}

thread_local! {
    /// [`Model::hidden`]'s activations, kept between calls: scoring calls it for every few
    /// thousand rows, and fresh buffers each time cost page faults.
    static CHAIN_BUFFERS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

impl Model {
    /// Builds the network with Keras' `Dense` defaults: Glorot-uniform weights
    /// (U(±√(6 / (fan_in + fan_out)))) and zero biases, drawn from `seed`.
    ///
    /// ```
    /// use propensity::{model::Model, network::{Head, Network}};
    /// let net = Network::mlp(10, &[50, 50], 2, Head::Softmax);
    /// let a = Model::new(&net, 7).unwrap();
    /// assert_eq!(a.parameters(), 3202);
    /// assert_eq!(a.weights(), Model::new(&net, 7).unwrap().weights());
    /// assert!(Model::new(&Network::mlp(10, &[0], 2, Head::Softmax), 7).is_err());
    /// ```
    pub fn new(network: &Network, seed: u64) -> Result<Self> {
        Self::with_init(network, seed, Init::Keras)
    }

    /// Builds the network with the given initialisation, drawn from `seed`: per dense layer, in
    /// parameter order, the weights then the bias.
    ///
    /// ```
    /// use propensity::{model::{Init, Model}, network::{Head, Network}};
    /// let m = Model::with_init(&Network::mlp(10, &[50, 50], 2, Head::Softmax), 1, Init::PyTorch).unwrap();
    /// // PyTorch's nn.Linear: weights and biases in ±1/√fan_in; the first layer has fan_in 10
    /// assert!(m.weights()[..550].iter().all(|w| w.abs() <= 1.0 / 10f32.sqrt()));
    /// ```
    pub fn with_init(network: &Network, seed: u64, init: Init) -> Result<Self> {
        network.check()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut values = Vec::with_capacity(network.parameters());
        for b in network.blocks() {
            let (weight_limit, bias_limit) = match init {
                Init::Keras => ((6.0 / (b.units + b.inputs) as f64).sqrt() as f32, 0.0),
                Init::PyTorch => {
                    let l = 1.0 / (b.inputs as f32).sqrt();
                    (l, l)
                }
            };
            for (n, limit) in [(b.units * b.inputs, weight_limit), (b.units, bias_limit)] {
                if limit == 0.0 {
                    values.extend(std::iter::repeat_n(0.0, n));
                } else {
                    let dist = Uniform::new_inclusive(-limit, limit);
                    values.extend((0..n).map(|_| dist.sample(&mut rng)));
                }
            }
        }
        let dev = Device::default();
        let n = values.len();
        Ok(Model { network: network.clone(), params: dev.tensor_from_vec(values, (n,)), dev })
    }

    /// A model with the given weights (in [`weights`](Self::weights) order).
    pub fn from_weights(network: &Network, weights: &[f32]) -> Result<Self> {
        let mut m = Self::new(network, 0)?;
        m.set_weights(weights)?;
        Ok(m)
    }

    /// The network's description.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// All parameters flattened in layer order (weights then bias per layer).
    pub fn weights(&self) -> Vec<f32> {
        self.params.as_vec()
    }

    /// Replaces all parameters, in the order of [`weights`](Self::weights).
    pub fn set_weights(&mut self, values: &[f32]) -> Result<()> {
        let n = self.parameters();
        if values.len() != n {
            return Err(Error::Data(format!("{} weights given, {} has {n} parameters", values.len(), self.network)));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Data(format!("weight {i} is not a finite number ({})", values[i])));
        }
        self.params.copy_from(values);
        Ok(())
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.params.shape().0
    }

    /// The forward pass on a batch, with or without a tape; `depth` stops after that many dense
    /// layers (with their activations), `None` runs the whole network to its raw outputs.
    pub(crate) fn forward<T: Tape<f32, Cpu>>(
        &self,
        x: Rows<T>,
        depth: Option<usize>,
    ) -> std::result::Result<Rows<T>, <Cpu as HasErr>::Err> {
        let mut values = vec![0.0f32; self.parameters()];
        self.params.copy_into(&mut values); // one memcpy (`as_vec` copies element by element)
        let params: &Flat = &self.params;
        let blocks = self.network.blocks();
        let depth = depth.unwrap_or(blocks.len()).min(blocks.len());
        let branches = self.network.branches.len();
        let mut start = 0;
        let mut h = if branches == 0 || depth == 0 {
            x
        } else {
            // The inputs are data (no gradient flows into them), so the blocks are copied out and
            // the one tape is passed from branch to branch.
            let (x, mut tape) = x.split_tape();
            let (rows, width) = (x.shape().0, x.shape().1);
            let data = x.as_vec();
            let mut done: Vec<Rows> = Vec::with_capacity(branches);
            let mut joined = None;
            let mut from = 0;
            for (i, b) in blocks[..branches].iter().enumerate() {
                let block: Vec<f32> =
                    data.chunks_exact(width).flat_map(|r| r[from..from + b.inputs].iter().copied()).collect();
                from += b.inputs;
                let xb = self.dev.tensor_from_vec(block, (rows, b.inputs)).put_tape(tape);
                let hb = crate::layers::dense(xb, params, &values, b)?;
                if i + 1 == branches {
                    joined = Some(crate::layers::join(&done, hb));
                    break;
                }
                let (hb, t) = hb.split_tape();
                done.push(hb);
                tape = t;
            }
            start = branches;
            joined.expect("a network with branches has at least one")
        };
        for b in blocks.iter().take(depth).skip(start) {
            h = crate::layers::dense(h, params, &values, b)?;
        }
        Ok(h)
    }

    /// Class probabilities, one row per input row: the softmax of the outputs, or for a
    /// [`Head::Sigmoid`] network the sigmoid of each output. Rows are processed in chunks of
    /// 65,536 so memory stays bounded for large inputs.
    ///
    /// ```
    /// use propensity::{model::Model, network::{Head, Network}};
    /// let m = Model::new(&Network::mlp(10, &[50, 50], 2, Head::Softmax), 0).unwrap();
    /// let p = m.predict_proba(&ndarray::Array2::zeros((3, 10))).unwrap();
    /// assert_eq!(p.dim(), (3, 2));
    /// assert!((p.row(0).sum() - 1.0).abs() < 1e-6);
    /// ```
    pub fn predict_proba(&self, x: &Array2<f32>) -> Result<Array2<f32>> {
        let probabilities = self.probabilities()?;
        let mut out = self.outputs(x)?;
        for mut row in out.rows_mut() {
            probabilities(row.as_slice_mut().expect("standard layout"));
        }
        Ok(out)
    }

    /// Each class's probabilities as a column, and each row's most likely class: the columns of
    /// [`predict_proba`](Self::predict_proba) and [`argmax_row`] of its rows, the same numbers
    /// in one pass (what a scorer writes out column by column).
    ///
    /// ```
    /// use propensity::{model::Model, network::{Head, Network}};
    /// let m = Model::new(&Network::mlp(10, &[50, 50], 2, Head::Softmax), 0).unwrap();
    /// let x = ndarray::Array2::from_elem((3, 10), 0.5);
    /// let (columns, classes) = m.class_columns(&x).unwrap();
    /// let p = m.predict_proba(&x).unwrap();
    /// assert_eq!(columns[1], p.column(1).to_vec());
    /// assert_eq!(classes, m.predict(&x).unwrap());
    /// ```
    pub fn class_columns(&self, x: &Array2<f32>) -> Result<(Vec<Vec<f32>>, Vec<usize>)> {
        let probabilities = self.probabilities()?;
        let mut out = self.outputs(x)?;
        let (rows, k) = out.dim();
        let mut columns = vec![Vec::with_capacity(rows); k];
        let mut classes = Vec::with_capacity(rows);
        for row in out.as_slice_mut().expect("standard layout").chunks_exact_mut(k) {
            probabilities(row);
            columns.iter_mut().zip(row.iter()).for_each(|(c, &p)| c.push(p));
            classes.push(argmax_row(ndarray::ArrayView1::from(&*row)));
        }
        Ok((columns, classes))
    }

    /// What turns a row of outputs into class probabilities in place: softmax, or the sigmoid of
    /// each; a regressor has none.
    fn probabilities(&self) -> Result<fn(&mut [f32])> {
        match self.network.head {
            Head::Sigmoid => Ok(|row| row.iter_mut().for_each(|z| *z = 1.0 / (1.0 + (-*z).exp()))),
            Head::Softmax => Ok(softmax_in_place),
            Head::Linear => {
                Err(Error::Data(format!("the {} network is a regressor: it has no probabilities", self.network)))
            }
        }
    }

    /// The network's raw outputs (logits, values, or an autoencoder's reconstruction), one row per
    /// input row, computed in chunks of 65,536 rows.
    pub fn outputs(&self, x: &Array2<f32>) -> Result<Array2<f32>> {
        self.hidden(x, None)
    }

    /// The activations after the first `depth` dense layers (`None`: the raw outputs), e.g. an
    /// autoencoder's bottleneck, in chunks of 65,536 rows.
    pub fn hidden(&self, x: &Array2<f32>, depth: Option<usize>) -> Result<Array2<f32>> {
        if x.ncols() != self.network.inputs {
            return Err(Error::Data(format!("model expects {} input columns, got {}", self.network.inputs, x.ncols())));
        }
        let blocks = self.network.blocks();
        let k = match depth {
            Some(d) if d < blocks.len() => {
                if d < self.network.branches.len() {
                    return Err(Error::Data("a depth inside the input branches has no single output".into()));
                }
                if d == self.network.branches.len() {
                    self.network.branches.iter().map(|b| b.units).sum()
                } else {
                    blocks[d - 1].units
                }
            }
            _ => self.network.outputs,
        };
        let x = x.as_standard_layout();
        let mut out = Vec::with_capacity(x.nrows() * k);
        if self.network.branches.is_empty() {
            // one chain of dense blocks: the same numbers without dfdx's tensors
            let depth = depth.unwrap_or(blocks.len()).min(blocks.len());
            let mut values = vec![0.0f32; self.parameters()];
            self.params.copy_into(&mut values);
            CHAIN_BUFFERS.with(|buffers| {
                let (chunk_out, scratch) = &mut *buffers.borrow_mut();
                for chunk in x.axis_chunks_iter(ndarray::Axis(0), 65_536) {
                    let (rows, input) = (chunk.nrows(), chunk.as_slice().expect("standard layout"));
                    out.extend_from_slice(crate::layers::dense_chain(
                        input,
                        rows,
                        &values,
                        &blocks[..depth],
                        chunk_out,
                        scratch,
                    ));
                }
            });
            return Ok(Array2::from_shape_vec((x.nrows(), k), out).expect("rows × outputs values"));
        }
        for chunk in x.axis_chunks_iter(ndarray::Axis(0), 65_536) {
            let t: Rows = self.dev.tensor_from_vec(
                chunk.as_slice().expect("standard layout").to_vec(),
                (chunk.nrows(), self.network.inputs),
            );
            out.extend(
                self.forward(t, depth).map_err(|e| Error::Data(format!("forward pass failed: {e:?}")))?.as_vec(),
            );
        }
        Ok(Array2::from_shape_vec((x.nrows(), k), out).expect("rows × outputs values"))
    }

    /// Mean loss (and binary accuracy for binary cross-entropy) on real-valued targets, the
    /// values [`crate::train::Trainer::fit_dense`] logs as `val_loss` / `val_accuracy`.
    ///
    /// ```
    /// use propensity::{dataset::DenseDataset, losses::DenseLoss, model::Model, network::{Head, Network}};
    /// let m = Model::new(&Network::mlp(10, &[50, 50], 2, Head::Sigmoid), 0).unwrap();
    /// let d = DenseDataset::new(ndarray::Array2::zeros((4, 10)), ndarray::Array2::zeros((4, 2))).unwrap();
    /// // zero inputs give the (zero) biases as logits: ln 2 per output, all predicted 0.5 → "1"
    /// let e = m.evaluate_dense(&d, DenseLoss::BinaryCrossEntropy).unwrap();
    /// assert!((e.loss - 2f64.ln()).abs() < 1e-6);
    /// ```
    pub fn evaluate_dense(&self, data: &DenseDataset, loss: DenseLoss) -> Result<DenseEvaluation> {
        if data.is_empty() {
            return Err(Error::Data("cannot evaluate on an empty dataset".into()));
        }
        let out = self.outputs(data.inputs())?;
        if out.ncols() != data.outputs() {
            return Err(Error::Data(format!("{} target columns for {} outputs", data.outputs(), out.ncols())));
        }
        let (out, targets) =
            (out.as_slice().expect("standard layout"), data.targets().as_slice().expect("standard layout"));
        let total: f64 = out.iter().zip(targets).map(|(&x, &y)| loss.value(x as f64, y as f64)).sum();
        let n = out.len() as f64;
        let binary_accuracy =
            (loss == DenseLoss::BinaryCrossEntropy).then(|| crate::losses::binary_hits(out, targets) as f64 / n);
        Ok(DenseEvaluation { loss: total / n, binary_accuracy, rows: data.len() })
    }

    /// Most likely class per row.
    pub fn predict(&self, x: &Array2<f32>) -> Result<Vec<usize>> {
        Ok(self.predict_proba(x)?.rows().into_iter().map(argmax_row).collect())
    }

    /// Mean sparse categorical cross-entropy and accuracy on `data`, like Keras' `evaluate`.
    pub fn evaluate(&self, data: &Dataset) -> Result<Evaluation> {
        self.evaluate_weighted(data, None)
    }

    /// Like [`evaluate`](Self::evaluate) with the loss weighted per class (PyTorch's
    /// `CrossEntropyLoss(weight=…)`); accuracy is unweighted.
    pub fn evaluate_weighted(&self, data: &Dataset, class_weights: Option<&[f64]>) -> Result<Evaluation> {
        if data.is_empty() {
            return Err(Error::Data("cannot evaluate on an empty dataset".into()));
        }
        let proba = self.predict_proba(data.inputs())?;
        Evaluation::from_probabilities_weighted(&proba, data.targets(), class_weights)
    }
}

/// Index of the largest value (the first one on ties, as numpy's `argmax`).
pub(crate) fn argmax(row: &[f32]) -> usize {
    argmax_row(ndarray::ArrayView1::from(row))
}

/// The index of the largest value of a row of any layout (the first on ties, as numpy's
/// `argmax`; 0 for an all-NaN row): the predicted class of a row of probabilities.
///
/// ```
/// use propensity::ndarray::array;
/// assert_eq!(propensity::model::argmax_row(array![0.2f32, 0.5, 0.5].view()), 1);
/// ```
pub fn argmax_row(row: ndarray::ArrayView1<f32>) -> usize {
    row.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) }).0
}

/// Replaces logits by their softmax (max-shifted, so large logits do not overflow).
fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in row.iter_mut() {
        *v = (*v - max).exp();
    }
    let sum: f32 = row.iter().sum();
    for v in row.iter_mut() {
        *v /= sum;
    }
}

/// How a network's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Keras `Dense`: Glorot-uniform weights, zero biases.
    #[default]
    Keras,
    /// PyTorch `nn.Linear`: weights and biases uniform in ±1/√fan_in.
    #[serde(rename = "pytorch")]
    PyTorch,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audiobooks() -> Network {
        Network::mlp(10, &[50, 50], 2, Head::Softmax)
    }

    #[test]
    fn the_untaped_chain_gives_dfdxs_forward_pass_bit_for_bit() {
        use crate::network::{Activation, Layer};
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut tanh = Network::mlp(7, &[23, 9], 3, Head::Softmax);
        tanh.layers[1] = Layer { units: 9, activation: Activation::Tanh };
        // the audiobooks shape, and wider layers
        let nets = [tanh, audiobooks(), Network::mlp(128, &[129, 40], 1, Head::Sigmoid)];
        for (n, net) in nets.iter().enumerate() {
            let width = net.inputs;
            for depth in [None, Some(1), Some(2)] {
                for (seed, rows) in [(1, 1), (2, 5), (3, 700), (4, 4_096), (5, 20_001)] {
                    let mut m = Model::new(net, seed).unwrap();
                    // non-zero biases, so that their addition is checked too
                    let w: Vec<f32> = m.weights().iter().map(|v| v + rng.gen_range(-0.5..0.5)).collect();
                    m.params.copy_from(&w);
                    let x: Vec<f32> = (0..rows * width).map(|_| rng.gen_range(-3.0..3.0)).collect();
                    let input = Array2::from_shape_vec((rows, width), x.clone()).unwrap();
                    let fast = m.hidden(&input, depth).unwrap();
                    // inside a rayon task the products run on one thread: the same numbers
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
                    assert_eq!(pool.install(|| m.hidden(&input, depth).unwrap()), fast);
                    let taped = m.forward(m.dev.tensor_from_vec(x, (rows, width)), depth).unwrap().as_vec();
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(fast.as_slice().unwrap()), bits(&taped), "net {n}, depth {depth:?}, {rows} rows");
                }
            }
        }
    }

    #[test]
    fn keras_init_is_glorot_uniform_with_zero_bias() {
        let m = Model::new(&audiobooks(), 3).unwrap();
        let w = m.weights();
        // layer 1: 50×10 weights then 50 biases; Glorot limit √(6/60) = 0.3162
        let (w1, b1) = (&w[..500], &w[500..550]);
        assert!(b1.iter().all(|&b| b == 0.0));
        let limit = (6.0f32 / 60.0).sqrt();
        assert!(w1.iter().all(|v| v.abs() <= limit));
        // a uniform on ±limit has variance limit²/3 (hand calculation); 500 draws come close
        let var = w1.iter().map(|v| v * v).sum::<f32>() / 500.0;
        assert!((var - limit * limit / 3.0).abs() < 0.006, "{var}");
        assert_ne!(w, Model::new(&audiobooks(), 4).unwrap().weights());
    }

    #[test]
    fn probabilities_sum_to_one_and_width_is_checked() {
        let m = Model::new(&audiobooks(), 0).unwrap();
        let x = Array2::from_shape_fn((5, 10), |(i, j)| (i * 10 + j) as f32 / 10.0);
        let p = m.predict_proba(&x).unwrap();
        for r in p.rows() {
            assert!((r.sum() - 1.0).abs() < 1e-6);
        }
        assert_eq!(m.predict(&x).unwrap().len(), 5);
        assert!(m.predict_proba(&Array2::zeros((1, 3))).is_err());
    }
}
