//! A network described by data: input width, optional input branches, hidden layers with their
//! activations, and an output head — serde, so a task file or a saved model carries it, and built
//! at run time on dfdx tensors ([`crate::model::Model`]). One description serves every model in
//! the crate: the audiobooks MLP, the shopping MLP, the churn and spend networks, the retail
//! multi-input multi-label network and its autoencoder.
//!
//! ```
//! use propensity::network::{Head, Network};
//! // Keras: Dense(50, relu) → Dense(50, relu) → Dense(2, softmax) on 10 inputs
//! let net = Network::mlp(10, &[50, 50], 2, Head::Softmax);
//! assert_eq!(net.parameters(), 3202);
//! assert_eq!(net.name(), "mlp-10-50-50-2");
//! let json = serde_json::to_string(&net).unwrap();
//! assert_eq!(json, r#"{"inputs":10,"layers":[50,50],"outputs":2,"head":"softmax"}"#);
//! assert_eq!(serde_json::from_str::<Network>(&json).unwrap(), net);
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The non-linearity after a hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(0, x)`, Keras' `activation="relu"`.
    #[default]
    Relu,
    /// `tanh(x)`, e.g. an autoencoder's bounded bottleneck.
    Tanh,
    /// No activation.
    Linear,
}

/// What the outputs mean, which fixes the loss and how [`crate::model::Model::predict_proba`]
/// reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// One class out of `outputs` (softmax, sparse categorical cross-entropy).
    Softmax,
    /// `outputs` independent labels (one sigmoid each, binary cross-entropy).
    Sigmoid,
    /// Real values (no activation, mean squared error): regression, autoencoders.
    Linear,
}

/// A hidden layer: `units` outputs followed by `activation`. In a file it is a number (a ReLU
/// layer) or `{"units": 5, "activation": "tanh"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "LayerRepr", into = "LayerRepr")]
pub struct Layer {
    /// Output width.
    pub units: usize,
    /// Non-linearity.
    pub activation: Activation,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum LayerRepr {
    Units(usize),
    Full {
        units: usize,
        #[serde(default)]
        activation: Activation,
    },
}

impl From<LayerRepr> for Layer {
    fn from(r: LayerRepr) -> Layer {
        match r {
            LayerRepr::Units(units) => Layer { units, activation: Activation::Relu },
            LayerRepr::Full { units, activation } => Layer { units, activation },
        }
    }
}

impl From<Layer> for LayerRepr {
    fn from(l: Layer) -> LayerRepr {
        match l.activation {
            Activation::Relu => LayerRepr::Units(l.units),
            activation => LayerRepr::Full { units: l.units, activation },
        }
    }
}

/// One input branch of a multi-input network: the next `inputs` columns of the input row go
/// through their own dense layer of `units` with ReLU; the branches' outputs are concatenated
/// (Keras' functional `concatenate([Dense(..)(a), Dense(..)(b), …])`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// Input columns of this branch.
    pub inputs: usize,
    /// Its dense layer's units.
    pub units: usize,
}

/// A feed-forward network as data. Parameters are laid out per dense layer as dfdx's `Linear`
/// holds them — weight `(units, inputs)` row-major, then bias — branches first, then the hidden
/// layers, then the output layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Input width.
    pub inputs: usize,
    /// Input branches (empty: one input block). Their `inputs` must add up to [`inputs`](Self::inputs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Branch>,
    /// Hidden layers after the branches, in order.
    #[serde(default)]
    pub layers: Vec<Layer>,
    /// Output width: classes, labels or values.
    pub outputs: usize,
    /// What the outputs mean.
    pub head: Head,
}

/// One dense layer's place in the parameter vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DenseBlock {
    /// Offset of the weight matrix; the bias follows it.
    pub at: usize,
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub units: usize,
    /// Activation applied after it; the output block's is always linear (its head, softmax or
    /// sigmoid, is in the loss and in `predict_proba`).
    pub activation: Activation,
}

impl DenseBlock {
    /// Where the bias starts.
    pub fn bias_at(&self) -> usize {
        self.at + self.inputs * self.units
    }

    /// Parameters of this layer.
    pub fn parameters(&self) -> usize {
        (self.inputs + 1) * self.units
    }
}

impl Network {
    /// A plain multi-layer perceptron: `inputs` → ReLU layers of `hidden` units → `outputs`.
    ///
    /// ```
    /// use propensity::network::{Head, Network};
    /// // logistic regression as a network: no hidden layer
    /// assert_eq!(Network::mlp(17, &[], 2, Head::Softmax).parameters(), 36);
    /// ```
    pub fn mlp(inputs: usize, hidden: &[usize], outputs: usize, head: Head) -> Network {
        Network {
            inputs,
            branches: Vec::new(),
            layers: hidden.iter().map(|&units| Layer { units, activation: Activation::Relu }).collect(),
            outputs,
            head,
        }
    }

    /// Checks the widths: every width at least 1, branches adding up to the input width, at
    /// least two classes for a softmax head.
    ///
    /// ```
    /// use propensity::network::{Head, Network};
    /// assert!(Network::mlp(0, &[4], 2, Head::Softmax).check().is_err());
    /// assert!(Network::mlp(3, &[4], 1, Head::Softmax).check().is_err());
    /// assert!(Network::mlp(3, &[4], 1, Head::Linear).check().is_ok());
    /// ```
    pub fn check(&self) -> Result<()> {
        let bad = |field: &'static str, message: String| Err(Error::Config { field, message });
        if self.inputs == 0 {
            return bad("network.inputs", "must be at least 1".into());
        }
        if !self.branches.is_empty() {
            let sum: usize = self.branches.iter().map(|b| b.inputs).sum();
            if sum != self.inputs {
                return bad("network.branches", format!("take {sum} inputs in all, the network has {}", self.inputs));
            }
            if self.branches.iter().any(|b| b.inputs == 0 || b.units == 0) {
                return bad("network.branches", "every branch needs at least 1 input and 1 unit".into());
            }
        }
        if self.layers.iter().any(|l| l.units == 0) {
            return bad("network.layers", "every layer needs at least 1 unit".into());
        }
        match (self.head, self.outputs) {
            (_, 0) => bad("network.outputs", "must be at least 1".into()),
            (Head::Softmax, 1) => bad("network.outputs", "a softmax head needs at least 2 classes".into()),
            _ => Ok(()),
        }
    }

    /// A short name from the widths: `mlp-10-50-50-2`, `branches-32+16+4-32-6`.
    pub fn name(&self) -> String {
        let mut parts = vec![if self.branches.is_empty() { "mlp".to_string() } else { "branches".to_string() }];
        if self.branches.is_empty() {
            parts.push(self.inputs.to_string());
        } else {
            parts.push(self.branches.iter().map(|b| b.units.to_string()).collect::<Vec<_>>().join("+"));
        }
        parts.extend(self.layers.iter().map(|l| l.units.to_string()));
        parts.push(self.outputs.to_string());
        parts.join("-")
    }

    /// The dense layers in parameter order: branches, hidden layers, output.
    pub(crate) fn blocks(&self) -> Vec<DenseBlock> {
        let mut blocks = Vec::with_capacity(self.branches.len() + self.layers.len() + 1);
        let mut at = 0;
        let mut push = |inputs: usize, units: usize, activation: Activation| {
            let b = DenseBlock { at, inputs, units, activation };
            at += b.parameters();
            blocks.push(b);
        };
        let mut width = self.inputs;
        if !self.branches.is_empty() {
            for b in &self.branches {
                push(b.inputs, b.units, Activation::Relu);
            }
            width = self.branches.iter().map(|b| b.units).sum();
        }
        for l in &self.layers {
            push(width, l.units, l.activation);
            width = l.units;
        }
        push(width, self.outputs, Activation::Linear);
        blocks
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.blocks().iter().map(DenseBlock::parameters).sum()
    }

    /// Keras' `model.summary()`: one row per layer with its output shape and parameters.
    ///
    /// ```
    /// use propensity::network::{Head, Network};
    /// let s = Network::mlp(10, &[50, 50], 2, Head::Softmax).summary();
    /// assert_eq!(s.rows[0], ["dense (relu)", "(None, 50)", "550"]);
    /// assert_eq!(s.rows[2], ["dense_2 (softmax)", "(None, 2)", "102"]);
    /// assert_eq!(s.total, 3202);
    /// ```
    pub fn summary(&self) -> Summary {
        let blocks = self.blocks();
        let branches = self.branches.len();
        let mut rows = Vec::new();
        for (i, b) in blocks.iter().enumerate() {
            let name = if i == 0 { "dense".to_string() } else { format!("dense_{i}") };
            let act = if i + 1 == blocks.len() {
                match self.head {
                    Head::Softmax => "softmax",
                    Head::Sigmoid => "sigmoid",
                    Head::Linear => "linear",
                }
            } else {
                match b.activation {
                    Activation::Relu => "relu",
                    Activation::Tanh => "tanh",
                    Activation::Linear => "linear",
                }
            };
            let label =
                if i < branches { format!("{name} ({act}, input {})", i + 1) } else { format!("{name} ({act})") };
            rows.push([label, format!("(None, {})", b.units), b.parameters().to_string()]);
            if branches > 0 && i + 1 == branches {
                let joined: usize = self.branches.iter().map(|b| b.units).sum();
                rows.push(["concatenate".to_string(), format!("(None, {joined})"), "0".to_string()]);
            }
        }
        Summary { inputs: self.inputs, rows, total: self.parameters() }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A network's layer table (Keras' `model.summary()`), for notebooks and the CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Input width.
    pub inputs: usize,
    /// Layer, output shape, parameters.
    pub rows: Vec<[String; 3]>,
    /// Total trainable parameters.
    pub total: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<28} {:<14} {:>8}", "Layer (type)", "Output Shape", "Param #")?;
        writeln!(f, "{:<28} {:<14} {:>8}", "input", format!("(None, {})", self.inputs), 0)?;
        for [a, b, c] in &self.rows {
            writeln!(f, "{a:<28} {b:<14} {c:>8}")?;
        }
        write!(f, "Total params: {}", self.total)
    }
}

impl Summary {
    /// Notebook display: an HTML table (evcxr).
    pub fn evcxr_display(&self) {
        let mut t = crate::display::HtmlTable::new("Model summary", &["Layer (type)", "Output Shape", "Param #"]);
        t.push(vec!["input".to_string(), format!("(None, {})", self.inputs), "0".to_string()]);
        for r in &self.rows {
            t.push(r.to_vec());
        }
        t.push(vec!["Total".to_string(), String::new(), self.total.to_string()]);
        t.evcxr_display();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_read_as_numbers_or_objects_and_bad_files_are_refused() {
        let net: Network = serde_json::from_str(
            r#"{"inputs": 17, "layers": [16, {"units": 5, "activation": "tanh"}, 16], "outputs": 17, "head": "linear"}"#,
        )
        .unwrap();
        assert_eq!(net.layers[1], Layer { units: 5, activation: Activation::Tanh });
        assert_eq!(net.parameters(), 18 * 16 + 17 * 5 + 6 * 16 + 17 * 17);
        let back: Network = serde_json::from_str(&serde_json::to_string(&net).unwrap()).unwrap();
        assert_eq!(back, net);
        assert!(serde_json::from_str::<Network>(r#"{"inputs": 3, "outputs": 2, "head": "softmax", "x": 1}"#).is_err());
        assert!(serde_json::from_str::<Network>(r#"{"inputs": 3, "outputs": 2, "head": "tanh"}"#).is_err());
    }

    #[test]
    fn branch_blocks_come_first_and_widths_are_checked() {
        let net = Network {
            inputs: 5,
            branches: vec![Branch { inputs: 3, units: 4 }, Branch { inputs: 2, units: 1 }],
            layers: vec![Layer { units: 3, activation: Activation::Relu }],
            outputs: 2,
            head: Head::Sigmoid,
        };
        net.check().unwrap();
        let b = net.blocks();
        assert_eq!(
            b.iter().map(|b| (b.at, b.inputs, b.units)).collect::<Vec<_>>(),
            [(0, 3, 4), (16, 2, 1), (19, 5, 3), (37, 3, 2)]
        );
        assert_eq!(net.name(), "branches-4+1-3-2");
        assert!(net.summary().to_string().contains("concatenate"));
        let wrong = Network { inputs: 6, ..net };
        assert!(matches!(wrong.check(), Err(Error::Config { field: "network.branches", .. })));
    }
}
