//! Network architectures (dfdx modules) and the [`Model`] that wraps a trained one.
//!
//! dfdx 0.13 fixes layer sizes at compile time, so an architecture is a type: a marker struct
//! implementing [`Architecture`], whose `Layers` is the dfdx builder tuple. Everything else
//! (optimizer, batch size, epochs, early stopping) lives in [`crate::train::TrainConfig`].

use dfdx::nn::builders::ReLU;
use dfdx::prelude::{
    BuildOnDevice, Const, ConstDim, Cpu, DeviceBuildExt, Dim, Module, ModuleMut, OwnedTape, RecursiveWalker, Shape,
    Tensor, TensorCollection, TensorFromVec, TensorOptions, TensorVisitor, ViewTensorMut,
};
use dfdx::shapes::HasShape;
use ndarray::Array2;
use rand::distributions::{Distribution, Uniform};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::dataset::DenseDataset;
use crate::layers::Dense;
use crate::losses::DenseLoss;
use crate::metrics::{DenseEvaluation, Evaluation};
use crate::{Dataset, Error, Result};

/// The device every model runs on: dfdx's CPU backend.
pub type Device = Cpu;

/// A batch of inputs with a run-time number of rows.
pub type Batch<In, T = dfdx::prelude::NoneTape> = Tensor<(usize, In), f32, Device, T>;

/// A network shape: its dfdx layers and its input and output widths.
///
/// ```
/// use propensity::model::{Architecture, AudiobooksMlp};
/// assert_eq!((AudiobooksMlp::inputs(), AudiobooksMlp::outputs()), (10, 2));
/// ```
pub trait Architecture: 'static {
    /// A stable name, stored in saved model files and checked on load.
    const NAME: &'static str;
    /// Input width as a dfdx dimension (`Const<N>`).
    type In: ConstDim + Default;
    /// Output width (number of classes) as a dfdx dimension.
    type Out: ConstDim + Default;
    /// The dfdx builder, e.g. `((Dense<10, 50>, ReLU), Dense<50, 2>)` (see [`crate::layers`]).
    type Layers: BuildOnDevice<Device, f32, Built = Self::Net>;
    /// True when the outputs are independent labels (one sigmoid each, as trained by
    /// [`crate::train::Trainer::fit_dense`] with binary cross-entropy) rather than one class
    /// (softmax). [`Model::predict_proba`] follows it.
    const MULTI_LABEL: bool = false;
    /// The built network: trainable with a tape, and callable without one.
    type Net: Clone
        + Send
        + std::fmt::Debug
        + TensorCollection<f32, Device>
        + ModuleMut<
            Batch<Self::In, OwnedTape<f32, Device>>,
            Output = Batch<Self::Out, OwnedTape<f32, Device>>,
            Error = <Device as dfdx::prelude::HasErr>::Err,
        > + Module<Batch<Self::In>, Output = Batch<Self::Out>, Error = <Device as dfdx::prelude::HasErr>::Err>;

    /// Number of input features.
    fn inputs() -> usize {
        Self::In::default().size()
    }

    /// Number of outputs (classes).
    fn outputs() -> usize {
        Self::Out::default().size()
    }
}

/// Declares a marker type implementing [`Architecture`] for a dfdx layer tuple.
macro_rules! architecture {
    ($(#[$doc:meta])* $name:ident, $tag:literal, $in:expr, $out:literal, $layers:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl $crate::model::Architecture for $name {
            const NAME: &'static str = $tag;
            type In = dfdx::prelude::Const<$in>;
            type Out = dfdx::prelude::Const<$out>;
            type Layers = $layers;
            type Net = <$layers as dfdx::prelude::BuildOnDevice<$crate::model::Device, f32>>::Built;
        }
    };
}
pub(crate) use architecture;

/// The Audiobooks network: 10 inputs → Dense(50, relu) → Dense(50, relu) → Dense(2) (softmax is
/// applied by the loss and by [`Model::predict_proba`]). 3,202 parameters, as in Keras (550 + 2,550 + 102).
#[derive(Debug, Clone, Copy)]
pub struct AudiobooksMlp;

impl Architecture for AudiobooksMlp {
    const NAME: &'static str = "audiobooks-mlp-10-50-50-2";
    type In = Const<10>;
    type Out = Const<2>;
    type Layers = ((Dense<10, 50>, ReLU), (Dense<50, 50>, ReLU), Dense<50, 2>);
    type Net = <Self::Layers as BuildOnDevice<Device, f32>>::Built;
}

/// A network of architecture `A` with its weights: freshly initialised or trained.
#[derive(Debug)]
pub struct Model<A: Architecture> {
    pub(crate) net: A::Net,
    pub(crate) dev: Device,
}

impl<A: Architecture> Clone for Model<A> {
    fn clone(&self) -> Self {
        Model { net: self.net.clone(), dev: self.dev.clone() }
    }
}

impl<A: Architecture> Model<A> {
    /// Builds the network with Keras' `Dense` defaults: Glorot-uniform weights
    /// (U(±√(6 / (fan_in + fan_out)))) and zero biases, drawn from `seed`.
    ///
    /// ```
    /// use propensity::model::{AudiobooksMlp, Model};
    /// let a = Model::<AudiobooksMlp>::new(7);
    /// assert_eq!(a.parameters(), 3202);
    /// assert_eq!(a.weights(), Model::<AudiobooksMlp>::new(7).weights());
    /// ```
    pub fn new(seed: u64) -> Self {
        Self::with_init(seed, Init::Keras)
    }

    /// Builds the network with the given initialisation, drawn from `seed`.
    ///
    /// ```
    /// use propensity::model::{AudiobooksMlp, Init, Model};
    /// let m = Model::<AudiobooksMlp>::with_init(1, Init::PyTorch);
    /// // PyTorch's nn.Linear: weights and biases in ±1/√fan_in; the first layer has fan_in 10
    /// assert!(m.weights()[..550].iter().all(|w| w.abs() <= 1.0 / 10f32.sqrt()));
    /// ```
    pub fn with_init(seed: u64, init: Init) -> Self {
        let dev = Device::default();
        let mut net = dev.build_module::<A::Layers, f32>();
        let mut visitor = Initializer { rng: StdRng::seed_from_u64(seed), init, fan_in: 1 };
        A::Net::iter_tensors(&mut RecursiveWalker { m: &mut net, f: &mut visitor }).expect("CPU tensors do not fail");
        Model { net, dev }
    }

    /// All parameters flattened in layer order (weights then bias per layer).
    pub fn weights(&self) -> Vec<f32> {
        let mut out = Vec::new();
        A::Net::iter_tensors(&mut RecursiveWalker { m: &self.net, f: &mut Collect(&mut out) })
            .expect("CPU tensors do not fail");
        out
    }

    /// Replaces all parameters, in the order of [`weights`](Self::weights).
    pub fn set_weights(&mut self, values: &[f32]) -> Result<()> {
        let n = self.parameters();
        if values.len() != n {
            return Err(Error::Data(format!("{} weights given, {} has {n} parameters", values.len(), A::NAME)));
        }
        let mut assign = Assign { values, pos: 0 };
        A::Net::iter_tensors(&mut RecursiveWalker { m: &mut self.net, f: &mut assign })
            .expect("CPU tensors do not fail");
        Ok(())
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.weights().len()
    }

    /// Class probabilities, one row per input row: the softmax of the outputs, or for a
    /// [`MULTI_LABEL`](Architecture::MULTI_LABEL) architecture the sigmoid of each output.
    /// Rows are processed in chunks of 65,536 so memory stays bounded for large inputs.
    ///
    /// ```
    /// use propensity::model::{AudiobooksMlp, Model};
    /// let m = Model::<AudiobooksMlp>::new(0);
    /// let p = m.predict_proba(&ndarray::Array2::zeros((3, 10))).unwrap();
    /// assert_eq!(p.dim(), (3, 2));
    /// assert!((p.row(0).sum() - 1.0).abs() < 1e-6);
    /// ```
    pub fn predict_proba(&self, x: &Array2<f32>) -> Result<Array2<f32>> {
        let mut out = self.outputs(x)?;
        if A::MULTI_LABEL {
            out.mapv_inplace(|z| 1.0 / (1.0 + (-z).exp()));
        } else {
            for mut row in out.rows_mut() {
                softmax_in_place(row.as_slice_mut().expect("standard layout"));
            }
        }
        Ok(out)
    }

    /// The network's raw outputs (logits, or an autoencoder's reconstruction), one row per
    /// input row, computed in chunks of 65,536 rows.
    pub fn outputs(&self, x: &Array2<f32>) -> Result<Array2<f32>> {
        if x.ncols() != A::inputs() {
            return Err(Error::Data(format!("model expects {} input columns, got {}", A::inputs(), x.ncols())));
        }
        let x = x.as_standard_layout();
        let k = A::outputs();
        let mut out = Vec::with_capacity(x.nrows() * k);
        for chunk in x.axis_chunks_iter(ndarray::Axis(0), 65_536) {
            out.extend(self.logits(chunk.as_slice().expect("standard layout"), chunk.nrows()));
        }
        Ok(Array2::from_shape_vec((x.nrows(), k), out).expect("rows × outputs values"))
    }

    /// Mean loss (and binary accuracy for binary cross-entropy) on real-valued targets, the
    /// values [`crate::train::Trainer::fit_dense`] logs as `val_loss` / `val_accuracy`.
    ///
    /// ```
    /// use propensity::{dataset::DenseDataset, losses::DenseLoss, model::{AudiobooksMlp, Model}};
    /// let m = Model::<AudiobooksMlp>::new(0);
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

    fn logits(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let t: Batch<A::In> = self.dev.tensor_from_vec(x.to_vec(), (rows, A::In::default()));
        self.net.forward(t).as_vec()
    }
}

/// Index of the largest value (the first one on ties, as numpy's `argmax`).
pub(crate) fn argmax(row: &[f32]) -> usize {
    argmax_row(ndarray::ArrayView1::from(row))
}

/// [`argmax`] of an ndarray row of any layout.
pub(crate) fn argmax_row(row: ndarray::ArrayView1<f32>) -> usize {
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

/// Visits the parameters in layer order (weight, then its bias) and draws them per [`Init`].
struct Initializer {
    rng: StdRng,
    init: Init,
    fan_in: usize,
}

impl TensorVisitor<f32, Device> for Initializer {
    type Viewer = ViewTensorMut;
    type Err = <Device as dfdx::prelude::HasErr>::Err;
    type E2 = f32;
    type D2 = Device;

    fn visit<S: Shape>(
        &mut self,
        _opts: TensorOptions<S, f32, Device>,
        t: &mut Tensor<S, f32, Device>,
    ) -> std::result::Result<Option<Tensor<S, f32, Device>>, Self::Err> {
        let dims = t.shape().concrete();
        let n: usize = (0..S::NUM_DIMS).map(|i| dims[i]).product();
        let limit = if S::NUM_DIMS == 2 {
            // dfdx stores dense weights as (out, in)
            self.fan_in = dims[1];
            match self.init {
                Init::Keras => (6.0 / (dims[0] + dims[1]) as f64).sqrt() as f32,
                Init::PyTorch => 1.0 / (dims[1] as f32).sqrt(),
            }
        } else {
            match self.init {
                Init::Keras => 0.0,
                Init::PyTorch => 1.0 / (self.fan_in as f32).sqrt(),
            }
        };
        if limit == 0.0 {
            t.fill_with_zeros();
        } else {
            let dist = Uniform::new_inclusive(-limit, limit);
            let values: Vec<f32> = (0..n).map(|_| dist.sample(&mut self.rng)).collect();
            t.copy_from(&values);
        }
        Ok(None)
    }
}

struct Assign<'a> {
    values: &'a [f32],
    pos: usize,
}

impl TensorVisitor<f32, Device> for Assign<'_> {
    type Viewer = ViewTensorMut;
    type Err = <Device as dfdx::prelude::HasErr>::Err;
    type E2 = f32;
    type D2 = Device;

    fn visit<S: Shape>(
        &mut self,
        _opts: TensorOptions<S, f32, Device>,
        t: &mut Tensor<S, f32, Device>,
    ) -> std::result::Result<Option<Tensor<S, f32, Device>>, Self::Err> {
        let dims = t.shape().concrete();
        let n: usize = (0..S::NUM_DIMS).map(|i| dims[i]).product();
        t.copy_from(&self.values[self.pos..self.pos + n]);
        self.pos += n;
        Ok(None)
    }
}

struct Collect<'a>(&'a mut Vec<f32>);

impl TensorVisitor<f32, Device> for Collect<'_> {
    type Viewer = dfdx::prelude::ViewTensorRef;
    type Err = <Device as dfdx::prelude::HasErr>::Err;
    type E2 = f32;
    type D2 = Device;

    fn visit<S: Shape>(
        &mut self,
        _opts: TensorOptions<S, f32, Device>,
        t: &Tensor<S, f32, Device>,
    ) -> std::result::Result<Option<Tensor<S, f32, Device>>, Self::Err> {
        self.0.extend(t.as_vec());
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_init_is_glorot_uniform_with_zero_bias() {
        let m = Model::<AudiobooksMlp>::new(3);
        let w = m.weights();
        // layer 1: 50×10 weights then 50 biases; Glorot limit √(6/60) = 0.3162
        let (w1, b1) = (&w[..500], &w[500..550]);
        assert!(b1.iter().all(|&b| b == 0.0));
        let limit = (6.0f32 / 60.0).sqrt();
        assert!(w1.iter().all(|v| v.abs() <= limit));
        // a uniform on ±limit has variance limit²/3 (hand calculation); 500 draws come close
        let var = w1.iter().map(|v| v * v).sum::<f32>() / 500.0;
        assert!((var - limit * limit / 3.0).abs() < 0.006, "{var}");
        assert_ne!(w, Model::<AudiobooksMlp>::new(4).weights());
    }

    #[test]
    fn probabilities_sum_to_one_and_width_is_checked() {
        let m = Model::<AudiobooksMlp>::new(0);
        let x = Array2::from_shape_fn((5, 10), |(i, j)| (i * 10 + j) as f32 / 10.0);
        let p = m.predict_proba(&x).unwrap();
        for r in p.rows() {
            assert!((r.sum() - 1.0).abs() < 1e-6);
        }
        assert_eq!(m.predict(&x).unwrap().len(), 5);
        assert!(m.predict_proba(&Array2::zeros((1, 3))).is_err());
    }
}
