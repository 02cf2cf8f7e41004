//! Training: the serde [`TrainConfig`], early stopping, epoch callbacks and the [`History`].
//!
//! [`Trainer::fit`] reproduces Keras' `model.fit` loop for a classifier: mini-batches of
//! `batch_size` rows (the last one smaller), Adam on the softmax cross-entropy, the epoch's
//! `loss` / `accuracy` as row-weighted means over its batches, then `val_loss` /
//! `val_accuracy` on the validation set with the epoch's final weights, then the callbacks,
//! then early stopping.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use dfdx::prelude::{Backward, Gradients, PutTape, SplitTape, TensorFromVec, Trace};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::backprop::Chain;
use crate::dataset::DenseDataset;
use crate::layers::Rows;
use crate::losses::{binary_hits, elementwise, softmax_cross_entropy, DenseLoss, OutputGradient};
use crate::model::{argmax, Model};
use crate::network::{Head, Network};
use crate::optim::{AdamForm, Optimizer};
use crate::{Dataset, Error, Result};

/// How the training rows are ordered into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Shuffle {
    /// A new permutation every epoch (Keras `fit(shuffle=True)` without a global seed, PyTorch's
    /// `DataLoader(shuffle=True)`).
    #[default]
    EveryEpoch,
    /// One permutation drawn once and reused every epoch: what Keras 3 `fit` does after
    /// `keras.utils.set_random_seed`.
    Once,
}

/// The optimizer. Every kind uses [`TrainConfig::learning_rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with `beta1`, `beta2`, `epsilon`.
    #[default]
    Adam,
    /// Stochastic gradient descent with classic momentum `momentum` (PyTorch's `SGD`).
    Sgd,
    /// RMSprop with smoothing 0.99 and ε 1e-8 (PyTorch's defaults).
    RmsProp,
}

/// How training rows are weighted by their class in the loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeights {
    /// Every row counts the same.
    #[default]
    None,
    /// scikit-learn's `"balanced"` weights, from the training targets
    /// (see [`crate::preprocess::balanced_class_weights`]).
    Balanced,
    /// One weight per class.
    Given(Vec<f64>),
}

/// Early stopping on the validation loss, as Keras' `EarlyStopping(monitor="val_loss")`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    /// Epochs without improvement after which training stops (Keras `patience`).
    pub patience: usize,
    /// An epoch improves when `val_loss < best - min_delta` (Keras `min_delta`).
    pub min_delta: f64,
    /// Put back the weights of the best epoch at the end (Keras `restore_best_weights`).
    pub restore_best: bool,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        EarlyStoppingConfig { patience: 2, min_delta: 0.0, restore_best: false }
    }
}

/// Hyperparameters of a training run. Defaults are the Audiobooks notebook's: Adam in Keras'
/// form with Keras' defaults (lr 1e-3, β 0.9/0.999, ε 1e-7), batch 100, at most 100 epochs,
/// early stopping with patience 2 on `val_loss`, reshuffling every epoch. The pipelines whose
/// seeds were PyTorch (shopping) and the others pinned before Keras' form existed set
/// [`AdamForm::Pytorch`].
///
/// ```
/// use propensity::train::TrainConfig;
/// let cfg: TrainConfig = serde_json::from_str(r#"{"batch_size": 64, "seed": 3}"#).unwrap();
/// assert_eq!((cfg.batch_size, cfg.max_epochs, cfg.seed), (64, 100, 3));
/// assert!(TrainConfig { batch_size: 0, ..cfg }.check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Rows per gradient step.
    pub batch_size: usize,
    /// Upper bound on epochs.
    pub max_epochs: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// Adam ε (Keras' default 1e-7; PyTorch's is 1e-8).
    pub epsilon: f64,
    /// Which optimizer.
    pub optimizer: OptimizerKind,
    /// Which form of the Adam update ([`AdamForm`]: PyTorch's or Keras').
    pub adam: AdamForm,
    /// Momentum of [`OptimizerKind::Sgd`].
    pub momentum: f64,
    /// Class weights in the loss (training and validation).
    pub class_weights: ClassWeights,
    /// Early stopping; `None` trains all `max_epochs`.
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// Batch order.
    pub shuffle: Shuffle,
    /// How the weights start (Keras' or PyTorch's defaults).
    pub init: crate::model::Init,
    /// Threads for a training step (0: all cores; default 1). With two or more, a network
    /// without input branches cuts each step in two halves that run at once — the forward pass
    /// by rows, each layer's gradients by unit and by row, the optimizer by parameter — and gets
    /// the numbers of one thread, bit for bit (more than two add nothing there). On the kernel
    /// the halves of a tabular network's step take a few microseconds, less than handing one to
    /// another thread: one thread was as fast (audiobooks 0.082–0.087 s against 0.080–0.140 s,
    /// shopping 0.300–0.319 s against 0.324–0.781 s, three bench runs on 2 cores) and steadier,
    /// as a busy core stalls every step of two. Wider layers may gain from two.
    pub threads: usize,
    /// Seeds the weight initialisation and the batch order.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch_size: 100,
            max_epochs: 100,
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            optimizer: OptimizerKind::Adam,
            adam: AdamForm::Keras,
            momentum: 0.9,
            class_weights: ClassWeights::None,
            early_stopping: Some(EarlyStoppingConfig::default()),
            shuffle: Shuffle::EveryEpoch,
            init: crate::model::Init::Keras,
            threads: 1,
            seed: 1,
        }
    }
}

impl TrainConfig {
    /// Pretty JSON, as saved with a run.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("TrainConfig serialises")
    }

    /// The settings as a table of what each one means (a notebook shows it instead of the JSON).
    ///
    /// ```
    /// use propensity::train::TrainConfig;
    /// let shown = TrainConfig::default().table().to_string();
    /// assert!(shown.contains("Adam in Keras' form, learning rate 0.001"), "{shown}");
    /// assert!(shown.contains("stop after 2 epochs without a lower validation loss"), "{shown}");
    /// ```
    pub fn table(&self) -> crate::display::HtmlTable {
        let mut t = crate::display::HtmlTable::new("Training settings", &["setting", "value"]);
        let optimizer = match (self.optimizer, self.adam) {
            (OptimizerKind::Adam, form) => format!(
                "Adam in {} form, learning rate {}, β₁ {}, β₂ {}, ε {:e}",
                if form == AdamForm::Keras { "Keras'" } else { "PyTorch's" },
                self.learning_rate,
                self.beta1,
                self.beta2,
                self.epsilon
            ),
            (OptimizerKind::Sgd, _) => {
                format!("SGD, learning rate {}, momentum {}", self.learning_rate, self.momentum)
            }
            (OptimizerKind::RmsProp, _) => format!("RMSprop, learning rate {}", self.learning_rate),
        };
        let stopping = self.early_stopping.map_or("none: every epoch runs".to_string(), |e| {
            format!(
                "stop after {} epochs without a lower validation loss{}{}",
                e.patience,
                if e.min_delta > 0.0 { format!(" (by more than {})", e.min_delta) } else { String::new() },
                if e.restore_best { "; the best epoch's weights are kept" } else { "; the last weights are kept" }
            )
        });
        let weights = match &self.class_weights {
            ClassWeights::None => "none: every row counts the same".to_string(),
            ClassWeights::Balanced => "balanced (n / (classes · class count))".to_string(),
            ClassWeights::Given(w) => format!("{w:?}"),
        };
        let shuffle = match self.shuffle {
            Shuffle::EveryEpoch => "a new order every epoch",
            Shuffle::Once => "one order, reused every epoch",
        };
        let init = match self.init {
            crate::model::Init::Keras => "Keras: Glorot-uniform weights, zero biases",
            crate::model::Init::PyTorch => "PyTorch: uniform in ±1/√fan-in",
        };
        for (k, v) in [
            ("optimizer", optimizer),
            ("batch size", format!("{} rows", self.batch_size)),
            ("epochs", format!("at most {}", self.max_epochs)),
            ("early stopping", stopping),
            ("class weights", weights),
            ("batch order", shuffle.to_string()),
            ("initial weights", init.to_string()),
            ("seed", self.seed.to_string()),
        ] {
            t.push(vec![k.to_string(), v]);
        }
        t
    }

    /// evcxr's display hook: the [`table`](Self::table).
    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }

    /// Checks every field's range; [`Trainer::new`] calls it.
    pub fn check(&self) -> Result<()> {
        let bad = |field, message: &str| Err(Error::Config { field, message: message.to_string() });
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.max_epochs == 0 {
            return bad("max_epochs", "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", "must be a positive number");
        }
        for (field, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(field, "must be in [0, 1)");
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return bad("epsilon", "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", "must be in [0, 1)");
        }
        if let ClassWeights::Given(w) = &self.class_weights {
            if w.is_empty() || w.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return bad("class_weights", "must be positive numbers, one per class");
            }
        }
        if let Some(es) = &self.early_stopping {
            if !(es.min_delta.is_finite() && es.min_delta >= 0.0) {
                return bad("early_stopping.min_delta", "must be a finite number ≥ 0");
            }
        }
        Ok(())
    }
}

/// What early stopping decided after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The monitored value improved: this epoch is the best so far.
    Improved,
    /// No improvement, patience not yet exhausted.
    Wait,
    /// No improvement for `patience` epochs: stop.
    Stop,
}

/// Keras' `EarlyStopping` state machine on a value to minimise.
///
/// ```
/// use propensity::train::{Decision, EarlyStopping, EarlyStoppingConfig};
/// let mut es = EarlyStopping::new(EarlyStoppingConfig::default()); // patience 2
/// let seen: Vec<Decision> = [0.5, 0.4, 0.41, 0.42].iter().map(|&v| es.update(v)).collect();
/// assert_eq!(seen, [Decision::Improved, Decision::Improved, Decision::Wait, Decision::Stop]);
/// assert_eq!(es.best_epoch(), Some(2));
/// ```
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    config: EarlyStoppingConfig,
    best: f64,
    best_epoch: Option<usize>,
    wait: usize,
    epoch: usize,
}

impl EarlyStopping {
    /// A fresh state.
    pub fn new(config: EarlyStoppingConfig) -> Self {
        EarlyStopping { config, best: f64::INFINITY, best_epoch: None, wait: 0, epoch: 0 }
    }

    /// Feeds the next epoch's value. As in Keras, a NaN never improves.
    pub fn update(&mut self, value: f64) -> Decision {
        self.epoch += 1;
        if value < self.best - self.config.min_delta {
            self.best = value;
            self.best_epoch = Some(self.epoch);
            self.wait = 0;
            return Decision::Improved;
        }
        self.wait += 1;
        if self.wait >= self.config.patience {
            Decision::Stop
        } else {
            Decision::Wait
        }
    }

    /// 1-based epoch with the best value so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (row-weighted).
    pub loss: f64,
    /// Training accuracy over the epoch's batches (binary accuracy for multi-label targets; none
    /// for a regression loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Validation loss after the epoch, when a validation set was given.
    pub val_loss: Option<f64>,
    /// Validation accuracy after the epoch.
    pub val_accuracy: Option<f64>,
    /// Gradient steps (batches) in the epoch.
    pub steps: usize,
    /// Wall time of the epoch, validation included.
    pub seconds: f64,
}

/// Everything a training run produced besides the weights; serialisable as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The configuration the run used.
    pub config: TrainConfig,
    /// One entry per epoch run.
    pub epochs: Vec<EpochLog>,
    /// True when early stopping ended the run before `max_epochs`.
    pub stopped_early: bool,
    /// Epoch with the lowest validation loss (1-based).
    pub best_epoch: Option<usize>,
    /// True when the weights of `best_epoch` were restored at the end.
    pub restored_best: bool,
    /// Wall time of the whole fit.
    pub seconds: f64,
}

impl History {
    /// Number of epochs run.
    pub fn epochs_run(&self) -> usize {
        self.epochs.len()
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("History serialises")
    }

    /// Writes [`to_json`](Self::to_json) to `path` atomically.
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_bytes_atomic(path.as_ref(), self.to_json().as_bytes())
    }

    /// Reads a history written by [`save_json`](Self::save_json).
    pub fn load_json(path: impl AsRef<Path>) -> Result<History> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|source| Error::Json { file: path.to_path_buf(), source })
    }
}

/// Something told about each epoch as training goes: a logger, a live plot, a recorder.
/// (Training runs in its own thread pool, so callbacks are `Send`.)
pub trait Callback: Send {
    /// Called after each epoch with its numbers and the configured maximum of epochs.
    fn on_epoch_end(&mut self, log: &EpochLog, max_epochs: usize);
}

/// Prints Keras' `verbose=2` lines, two per epoch:
///
/// ```text
/// Epoch 1/100
/// 36/36 - 0s - loss: 0.5935 - accuracy: 0.6544 - val_loss: 0.4749 - val_accuracy: 0.7875 - 94ms/epoch - 3ms/step
/// ```
pub struct KerasLogger<W: Write> {
    out: W,
}

impl KerasLogger<std::io::Stdout> {
    /// A logger printing to standard output (the notebook cell's output under evcxr).
    pub fn stdout() -> Self {
        KerasLogger { out: std::io::stdout() }
    }
}

impl<W: Write> KerasLogger<W> {
    /// A logger writing to `out`.
    pub fn new(out: W) -> Self {
        KerasLogger { out }
    }

    /// Gives back the writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> Callback for KerasLogger<W> {
    fn on_epoch_end(&mut self, log: &EpochLog, max_epochs: usize) {
        // A closed stdout must not abort training: the numbers are in the History either way.
        let _ = writeln!(self.out, "{}", keras_epoch_lines(log, max_epochs));
        let _ = self.out.flush();
    }
}

/// Prints one short line every `n` epochs (`epoch  25 loss 0.0123`, plus the validation loss
/// when there is one), like the PyTorch tutorial's loop.
pub struct EveryNth {
    n: usize,
}

impl EveryNth {
    /// A logger printing every `n` epochs (n ≥ 1).
    pub fn new(n: usize) -> Self {
        EveryNth { n: n.max(1) }
    }
}

impl Callback for EveryNth {
    fn on_epoch_end(&mut self, log: &EpochLog, max_epochs: usize) {
        if log.epoch.is_multiple_of(self.n) || log.epoch == max_epochs {
            match log.val_loss {
                Some(v) => println!("epoch {:3} loss {:.4} val_loss {v:.4}", log.epoch, log.loss),
                None => println!("epoch {:3} loss {:.4}", log.epoch, log.loss),
            }
        }
    }
}

/// The two `verbose=2` lines Keras prints for an epoch.
///
/// ```
/// use propensity::train::{keras_epoch_lines, EpochLog};
/// let log = EpochLog { epoch: 1, loss: 0.59351, accuracy: Some(0.65437), val_loss: Some(0.47492),
///     val_accuracy: Some(0.78747), steps: 36, seconds: 0.094 };
/// assert_eq!(keras_epoch_lines(&log, 100), "Epoch 1/100\n36/36 - 0s - loss: 0.5935 - accuracy: 0.6544 \
///     - val_loss: 0.4749 - val_accuracy: 0.7875 - 94ms/epoch - 3ms/step");
/// // a regression loss has no accuracy
/// let log = EpochLog { accuracy: None, val_accuracy: None, ..log };
/// assert_eq!(keras_epoch_lines(&log, 100), "Epoch 1/100\n36/36 - 0s - loss: 0.5935 \
///     - val_loss: 0.4749 - 94ms/epoch - 3ms/step");
/// ```
pub fn keras_epoch_lines(log: &EpochLog, max_epochs: usize) -> String {
    let mut line = format!(
        "Epoch {}/{max_epochs}\n{s}/{s} - {:.0}s - loss: {:.4}",
        log.epoch,
        log.seconds.trunc(),
        log.loss,
        s = log.steps
    );
    if let Some(a) = log.accuracy {
        line += &format!(" - accuracy: {a:.4}");
    }
    if let Some(vl) = log.val_loss {
        line += &format!(" - val_loss: {vl:.4}");
    }
    if let Some(va) = log.val_accuracy {
        line += &format!(" - val_accuracy: {va:.4}");
    }
    let per_step = log.seconds / log.steps.max(1) as f64;
    line += &format!(" - {}/epoch - {}/step", keras_duration(log.seconds), keras_duration(per_step));
    line
}

/// Keras' unit choice: whole seconds from 1 s, milliseconds from 1 ms, else microseconds.
fn keras_duration(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.0}s")
    } else if seconds >= 1e-3 {
        format!("{:.0}ms", seconds * 1e3)
    } else {
        format!("{:.0}us", seconds * 1e6)
    }
}

/// A trained model and the history of its training.
#[derive(Debug)]
pub struct Fitted {
    /// The weights at the end of training (or of the best epoch with `restore_best`).
    pub model: Model,
    /// Per-epoch numbers.
    pub history: History,
}

/// Runs training with a checked [`TrainConfig`] and any number of [`Callback`]s.
///
/// ```
/// use propensity::{network::{Head, Network}, train::{TrainConfig, Trainer}, Dataset};
/// // the network is sized from the data at run time: 3 inputs, a hidden layer of 8, 2 classes
/// let x = ndarray::Array2::from_shape_fn((40, 3), |(i, j)| ((i * 3 + j) % 7) as f32 / 7.0);
/// let y: Vec<usize> = (0..40).map(|i| usize::from(x[[i, 0]] > 0.5)).collect();
/// let data = Dataset::new(x, y).unwrap();
/// let net = Network::mlp(data.features(), &[8], 2, Head::Softmax);
/// let cfg = TrainConfig { early_stopping: None, max_epochs: 5, ..TrainConfig::default() };
/// let fitted = Trainer::new(cfg).unwrap().fit(&net, &data, None).unwrap();
/// assert_eq!(fitted.history.epochs_run(), 5);
/// assert_eq!(fitted.model.network().name(), "mlp-3-8-2");
/// ```
pub struct Trainer {
    config: TrainConfig,
    callbacks: Vec<Box<dyn Callback>>,
}

impl Trainer {
    /// Checks `config` and makes a trainer without callbacks.
    pub fn new(config: TrainConfig) -> Result<Trainer> {
        config.check()?;
        Ok(Trainer { config, callbacks: Vec::new() })
    }

    /// Adds a callback, called after each epoch in the order added.
    pub fn callback(mut self, callback: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Trains a fresh model of `network` (a [`Head::Softmax`] classifier, initialised from
    /// `config.seed`).
    ///
    /// `validation` is required when early stopping is configured. Errors: an invalid network or
    /// one without a softmax head, a dataset whose width is not the network's, a target outside
    /// its classes, an empty training set, or a loss that becomes NaN or infinite (the epoch and
    /// batch are named).
    pub fn fit(&mut self, network: &Network, train: &Dataset, validation: Option<&Dataset>) -> Result<Fitted> {
        let k = network.outputs;
        if network.head != Head::Softmax {
            return Err(Error::Config {
                field: "network.head",
                message: "a class target needs a softmax head (use fit_dense for sigmoid or linear outputs)".into(),
            });
        }
        self.check_sets(network, train.features(), train.len(), validation.map(|v| v.features()))?;
        for (name, d) in std::iter::once(("training", train)).chain(validation.map(|v| ("validation", v))) {
            if let Some(&t) = d.targets().iter().find(|&&t| t >= k) {
                return Err(Error::Data(format!("{name} set has class {t}, the model has {k} outputs")));
            }
        }
        let weights: Option<Vec<f64>> = match &self.config.class_weights {
            ClassWeights::None => None,
            ClassWeights::Balanced => Some(crate::preprocess::balanced_class_weights(train.targets(), k)?),
            ClassWeights::Given(w) if w.len() == k => Some(w.clone()),
            ClassWeights::Given(w) => {
                return Err(Error::Config {
                    field: "class_weights",
                    message: format!("{} weights given for {k} classes", w.len()),
                })
            }
        };
        let mut objective = Classification {
            targets: train.targets(),
            weights_f32: weights.as_ref().map(|w| w.iter().map(|&v| v as f32).collect()),
            weights,
            validation,
            batch_targets: Vec::new(),
        };
        self.in_pool(|t| t.run(network, train.inputs(), &mut objective))
    }

    /// Trains a fresh model of `network` on real-valued targets: multi-label 0/1 targets
    /// with [`DenseLoss::BinaryCrossEntropy`] (one sigmoid output per label, Keras'
    /// `binary_crossentropy`; the logged accuracy is Keras' `binary_accuracy`), or any targets
    /// with [`DenseLoss::MeanSquaredError`] (an autoencoder: targets = inputs; no accuracy).
    /// Everything else is [`fit`](Self::fit)'s loop: batches, optimizer, callbacks, early stopping
    /// on `val_loss`. `class_weights` does not apply and must be `None`.
    ///
    /// ```
    /// use propensity::dataset::DenseDataset;
    /// use propensity::losses::DenseLoss;
    /// use propensity::network::{Head, Network};
    /// use propensity::train::{TrainConfig, Trainer};
    /// let tiny = Network::mlp(2, &[], 2, Head::Linear);
    /// let x = ndarray::Array2::from_shape_fn((64, 2), |(i, j)| ((i * 7 + j * 3) % 5) as f32 - 2.0);
    /// let data = DenseDataset::autoencoder(x).unwrap();
    /// let cfg = TrainConfig { early_stopping: None, max_epochs: 300, learning_rate: 0.05, batch_size: 16,
    ///     ..Default::default() };
    /// let fitted = Trainer::new(cfg).unwrap().fit_dense(&tiny, &data, None, DenseLoss::MeanSquaredError).unwrap();
    /// let first = fitted.history.epochs[0].loss;
    /// let last = fitted.history.epochs.last().unwrap().loss;
    /// assert!(last < 0.01 * first, "a linear layer learns the identity: {first} → {last}");
    /// ```
    pub fn fit_dense(
        &mut self,
        network: &Network,
        train: &DenseDataset,
        validation: Option<&DenseDataset>,
        loss: DenseLoss,
    ) -> Result<Fitted> {
        let head = match loss {
            DenseLoss::BinaryCrossEntropy => Head::Sigmoid,
            DenseLoss::MeanSquaredError => Head::Linear,
        };
        if network.head != head {
            return Err(Error::Config {
                field: "network.head",
                message: format!("{loss:?} trains a {head:?} head, the network has {:?}", network.head),
            });
        }
        self.check_sets(network, train.features(), train.len(), validation.map(|v| v.features()))?;
        for (name, d) in std::iter::once(("training", train)).chain(validation.map(|v| ("validation", v))) {
            if d.outputs() != network.outputs {
                return Err(Error::Data(format!(
                    "{name} set has {} target columns, the model has {} outputs",
                    d.outputs(),
                    network.outputs
                )));
            }
            if loss == DenseLoss::BinaryCrossEntropy && d.targets().iter().any(|t| !(0.0..=1.0).contains(t)) {
                return Err(Error::Data(format!("{name} set has targets outside [0, 1] for binary cross-entropy")));
            }
        }
        if self.config.class_weights != ClassWeights::None {
            return Err(Error::Config { field: "class_weights", message: "apply to class targets only".into() });
        }
        let mut objective = DenseObjective {
            targets: train.targets().as_slice().expect("DenseDataset keeps standard layout"),
            width: network.outputs,
            loss,
            validation,
            batch_targets: Vec::new(),
        };
        self.in_pool(|t| t.run(network, train.inputs(), &mut objective))
    }

    /// Runs `f` in a rayon pool of `threads` workers whose floating-point units flush subnormal
    /// results to zero (dfdx's `flush_denormals_to_zero`, TensorFlow's default on CPU): once a
    /// network fits its training set, some gradients fall below f32's smallest normal number
    /// (1.2e-38), and on Intel CPUs every product with such a value takes a slow microcode path —
    /// shopping's 150 epochs took 4.3 s here without it, 1.1 s with it, with the same results bit
    /// for bit. The caller's thread is left as it was.
    fn in_pool<T: Send>(&mut self, f: impl FnOnce(&mut Self) -> Result<T> + Send) -> Result<T> {
        // dfdx sizes its matrix products by rayon's current pool: run in a pool of the wanted size
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.config.threads)
            .start_handler(|_| dfdx::flush_denormals_to_zero())
            .build()
            .map_err(|e| Error::Config { field: "threads", message: e.to_string() })?;
        pool.install(|| f(self))
    }

    fn run<O: Objective>(
        &mut self,
        network: &Network,
        inputs: &ndarray::Array2<f32>,
        objective: &mut O,
    ) -> Result<Fitted> {
        let cfg = self.config.clone();
        let width = network.inputs;
        let n = inputs.nrows();
        let started = Instant::now();
        let mut model = Model::with_init(network, cfg.seed, cfg.init)?;
        let mut values = model.weights();
        let mut opt = Optimizer::new(&cfg, values.len());
        let mut order_rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(0x9E37_79B9_7F4A_7C15));
        let x = inputs.as_slice().expect("datasets keep standard layout");
        let mut order: Vec<usize> = (0..n).collect();
        if cfg.shuffle == Shuffle::Once {
            order.shuffle(&mut order_rng);
        }
        let mut stopper = cfg.early_stopping.map(EarlyStopping::new);
        let mut best: Option<Model> = None;
        let mut epochs = Vec::new();
        let mut stopped_early = false;
        // a chain of dense blocks trains without the tape (the same numbers, bit for bit)
        let mut chain = Chain::new(network);
        let (mut xb, mut flat, mut scores) = (Vec::new(), vec![0.0f32; values.len()], Vec::new());

        for epoch in 1..=cfg.max_epochs {
            let epoch_start = Instant::now();
            if cfg.shuffle == Shuffle::EveryEpoch {
                order.shuffle(&mut order_rng);
            }
            let (mut loss_sum, mut correct, mut steps) = (0.0f64, Some(0usize), 0usize);
            for (b, rows) in order.chunks(cfg.batch_size).enumerate() {
                xb.clear();
                for &i in rows {
                    xb.extend_from_slice(&x[i * width..(i + 1) * width]);
                }
                let (value, batch_correct) = match chain.as_mut() {
                    Some(chain) => {
                        let outputs = chain.forward(&xb, rows.len(), &values);
                        let (value, gradient, batch_correct) = objective.batch(outputs, network.outputs, rows)?;
                        gradient.add_to(1.0, chain.output_gradient());
                        chain.backward(&xb, &values, &mut flat);
                        (value, batch_correct)
                    }
                    None => {
                        let xt: Rows = model.dev.tensor_from_vec(xb.clone(), (rows.len(), width));
                        let (logits, tape) = model
                            .forward(xt.traced(Gradients::leaky()), None)
                            .map_err(|e| Error::Data(format!("forward pass failed: {e:?}")))?
                            .split_tape();
                        scores.resize(rows.len() * network.outputs, 0.0);
                        logits.copy_into(&mut scores);
                        let (value, gradient, batch_correct) = objective.batch(&scores, network.outputs, rows)?;
                        let mut grads = crate::losses::taped(logits.put_tape(tape), value, gradient).backward();
                        // one copy of the flat gradient (dfdx's `as_vec` walks it element by element)
                        flat.copy_from_slice(
                            grads
                                .get_or_alloc_mut(&model.params)
                                .map_err(|e| Error::Data(format!("backward pass failed: {e:?}")))?,
                        );
                        (value, batch_correct)
                    }
                };
                if !value.is_finite() {
                    return Err(Error::NonFiniteLoss { epoch, batch: b + 1, loss: value });
                }
                loss_sum += value as f64 * rows.len() as f64; // row-weighted, as Keras' loss tracker
                opt.update(&mut values, &flat);
                if chain.is_none() {
                    model.params.copy_from(&values); // the next taped forward pass reads them
                }
                correct = correct.zip(batch_correct).map(|(a, b)| a + b);
                steps += 1;
            }
            model.params.copy_from(&values);
            let val = objective.validate(&model)?;
            let log = EpochLog {
                epoch,
                loss: loss_sum / n as f64,
                accuracy: correct.map(|c| c as f64 / (n * objective.checks_per_row()) as f64),
                val_loss: val.map(|v| v.0),
                val_accuracy: val.and_then(|v| v.1),
                steps,
                seconds: epoch_start.elapsed().as_secs_f64(),
            };
            for cb in self.callbacks.iter_mut() {
                cb.on_epoch_end(&log, cfg.max_epochs);
            }
            epochs.push(log);
            if let (Some(es), Some(v)) = (stopper.as_mut(), val) {
                match es.update(v.0) {
                    Decision::Improved if cfg.early_stopping.is_some_and(|c| c.restore_best) => {
                        best = Some(model.clone())
                    }
                    Decision::Stop => {
                        stopped_early = epoch < cfg.max_epochs;
                        break;
                    }
                    _ => {}
                }
            }
        }
        let best_epoch = match &stopper {
            Some(es) => es.best_epoch(),
            None => epochs
                .iter()
                .filter_map(|e| e.val_loss.map(|v| (e.epoch, v)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(e, _)| e),
        };
        let restored_best = best.is_some();
        let model = best.unwrap_or(model);
        let history = History {
            config: cfg,
            epochs,
            stopped_early,
            best_epoch,
            restored_best,
            seconds: started.elapsed().as_secs_f64(),
        };
        Ok(Fitted { model, history })
    }
}

impl Trainer {
    /// Checks shared by both fits: widths, a non-empty training set, a validation set for early stopping.
    fn check_sets(
        &self,
        network: &Network,
        train_width: usize,
        rows: usize,
        validation_width: Option<usize>,
    ) -> Result<()> {
        network.check()?;
        let width = network.inputs;
        for (name, w) in std::iter::once(("training", train_width)).chain(validation_width.map(|w| ("validation", w))) {
            if w != width {
                return Err(Error::Data(format!("{name} set has {w} columns, the model takes {width}")));
            }
        }
        if rows == 0 {
            return Err(Error::Data("the training set is empty".into()));
        }
        if self.config.early_stopping.is_some() && validation_width.is_none() {
            return Err(Error::Config {
                field: "early_stopping",
                message: "needs a validation set to monitor val_loss".into(),
            });
        }
        Ok(())
    }
}

/// What a fit minimises: the loss of a batch (with its gradient with respect to the outputs,
/// and the number of correct predictions when accuracy applies) and the validation loss and
/// accuracy after each epoch.
trait Objective {
    /// `outputs` are the network's raw outputs for the training rows `rows`, `width` per row.
    fn batch(&mut self, outputs: &[f32], width: usize, rows: &[usize]) -> Result<(f32, OutputGradient, Option<usize>)>;
    fn validate(&self, model: &Model) -> Result<Option<(f64, Option<f64>)>>;
    /// Predictions judged per row: 1 for a class, one per output for multi-label.
    fn checks_per_row(&self) -> usize;
}

struct Classification<'a> {
    targets: &'a [usize],
    weights: Option<Vec<f64>>,
    weights_f32: Option<Vec<f32>>,
    validation: Option<&'a Dataset>,
    batch_targets: Vec<usize>,
}

impl Objective for Classification<'_> {
    fn batch(&mut self, outputs: &[f32], k: usize, rows: &[usize]) -> Result<(f32, OutputGradient, Option<usize>)> {
        self.batch_targets.clear();
        self.batch_targets.extend(rows.iter().map(|&i| self.targets[i]));
        let correct = outputs.chunks(k).zip(&self.batch_targets).filter(|(s, &t)| argmax(s) == t).count();
        let (loss, gradient) = softmax_cross_entropy(outputs, k, &self.batch_targets, self.weights_f32.as_deref())?;
        Ok((loss, gradient, Some(correct)))
    }

    fn validate(&self, model: &Model) -> Result<Option<(f64, Option<f64>)>> {
        let e = self.validation.map(|v| model.evaluate_weighted(v, self.weights.as_deref())).transpose()?;
        Ok(e.map(|e| (e.loss, Some(e.accuracy))))
    }

    fn checks_per_row(&self) -> usize {
        1
    }
}

struct DenseObjective<'a> {
    targets: &'a [f32],
    width: usize,
    loss: DenseLoss,
    validation: Option<&'a DenseDataset>,
    batch_targets: Vec<f32>,
}

impl Objective for DenseObjective<'_> {
    fn batch(&mut self, outputs: &[f32], w: usize, rows: &[usize]) -> Result<(f32, OutputGradient, Option<usize>)> {
        self.batch_targets.clear();
        for &i in rows {
            self.batch_targets.extend_from_slice(&self.targets[i * w..(i + 1) * w]);
        }
        let correct = (self.loss == DenseLoss::BinaryCrossEntropy).then(|| binary_hits(outputs, &self.batch_targets));
        let (loss, gradient) = elementwise(outputs, &self.batch_targets, self.loss)?;
        Ok((loss, gradient, correct))
    }

    fn validate(&self, model: &Model) -> Result<Option<(f64, Option<f64>)>> {
        let e = self.validation.map(|v| model.evaluate_dense(v, self.loss)).transpose()?;
        Ok(e.map(|e| (e.loss, e.binary_accuracy)))
    }

    fn checks_per_row(&self) -> usize {
        self.width
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decisions(values: &[f64], patience: usize, min_delta: f64) -> Vec<Decision> {
        let mut es = EarlyStopping::new(EarlyStoppingConfig { patience, min_delta, restore_best: false });
        values.iter().map(|&v| es.update(v)).collect()
    }

    #[test]
    fn early_stopping_follows_keras_on_scripted_val_loss() {
        use Decision::*;
        // Keras EarlyStopping(patience=2): equal is not better; two non-improving epochs stop
        assert_eq!(
            decisions(&[0.5, 0.5, 0.4, 0.45, 0.39, 0.39, 0.40], 2, 0.0),
            [Improved, Wait, Improved, Wait, Improved, Wait, Stop]
        );
        // a NaN never improves
        assert_eq!(decisions(&[0.5, f64::NAN, f64::NAN], 2, 0.0), [Improved, Wait, Stop]);
        // min_delta: 0.49 is not better than 0.5 by more than 0.05
        assert_eq!(decisions(&[0.5, 0.49, 0.30], 3, 0.05), [Improved, Wait, Improved]);
        // patience 0 stops at the first non-improvement
        assert_eq!(decisions(&[0.5, 0.6], 0, 0.0), [Improved, Stop]);
    }

    #[test]
    fn keras_durations_pick_units_like_keras() {
        assert_eq!(keras_duration(2.4), "2s");
        assert_eq!(keras_duration(0.094), "94ms");
        assert_eq!(keras_duration(0.000_058), "58us");
    }

    #[test]
    fn config_checks_each_field() {
        let ok = TrainConfig::default();
        assert!(ok.check().is_ok());
        let cases = [
            (TrainConfig { max_epochs: 0, ..ok.clone() }, "max_epochs"),
            (TrainConfig { learning_rate: f64::NAN, ..ok.clone() }, "learning_rate"),
            (TrainConfig { beta2: 1.0, ..ok.clone() }, "beta2"),
            (TrainConfig { epsilon: 0.0, ..ok.clone() }, "epsilon"),
            (TrainConfig { momentum: 1.0, ..ok.clone() }, "momentum"),
            (TrainConfig { class_weights: ClassWeights::Given(vec![1.0, -2.0]), ..ok.clone() }, "class_weights"),
            (
                TrainConfig {
                    early_stopping: Some(EarlyStoppingConfig { min_delta: -1.0, ..Default::default() }),
                    ..ok.clone()
                },
                "early_stopping.min_delta",
            ),
        ];
        for (cfg, field) in cases {
            assert!(matches!(cfg.check(), Err(Error::Config { field: f, .. }) if f == field), "{field}");
        }
        assert!(serde_json::from_str::<TrainConfig>(r#"{"batchsize": 3}"#).is_err(), "unknown fields are refused");
    }

    #[test]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn training_threads_flush_subnormals_and_the_caller_keeps_them() {
        use std::hint::black_box;
        // 1e-30 · 1e-10 = 1e-40 lies below f32's smallest normal number (1.18e-38)
        let product = || black_box(1e-30f32) * black_box(1e-10f32);
        let mut trainer = Trainer::new(TrainConfig::default()).unwrap();
        assert_eq!(trainer.in_pool(|_| Ok(product())).unwrap(), 0.0);
        assert!(product() > 0.0 && product() < f32::MIN_POSITIVE, "IEEE subnormal outside training");
    }
}
