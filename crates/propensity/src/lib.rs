//! # propensity
//!
//! Predict what customers will do next from tabular behaviour data, in Rust notebooks (evcxr)
//! and from the `propensity` CLI. The data flow is one way:
//!
//! file → [`table::Table`] (validated on load) → fitted preprocessors ([`preprocess`]) →
//! [`Dataset`] (`f32` inputs, class targets) → [`train::Trainer`] (a [`network::Network`]
//! described by data, a serde [`train::TrainConfig`], callbacks) → [`train::History`] +
//! [`model::Model`] →
//! [`metrics::Evaluation`] → [`plot`]s.
//!
//! ```no_run
//! use propensity::{audiobooks, paths, train::{KerasLogger, TrainConfig, Trainer}};
//! # fn main() -> propensity::Result<()> {
//! let raw = audiobooks::read_csv(paths::data_file(audiobooks::FILE)?)?;
//! let prepared = audiobooks::preprocess(&raw, &audiobooks::PreprocessConfig::default())?;
//! let s = &prepared.splits;
//! let fitted = Trainer::new(TrainConfig::default())?
//!     .callback(KerasLogger::stdout())
//!     .fit(&audiobooks::network(), &s.train, Some(&s.validation))?;
//! println!("{}", fitted.model.evaluate(&s.test)?); // Test loss: 0.36. Test accuracy: 80.80%
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod audiobooks;
mod backprop;
pub mod btyd;
pub mod calendar;
pub mod calibration;
pub mod cdnow;
pub mod classify;
pub mod clickstream;
pub mod clv;
pub mod crossval;
pub mod dataset;
mod dense_kernel;
pub mod display;
pub mod eda;
pub mod encode;
mod error;
pub mod importance;
pub mod io;
pub mod layers;
pub mod loaded;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod network;
pub mod optim;
pub mod paths;
pub mod pipeline;
pub mod plot;
pub mod preprocess;
pub mod quality;
pub mod ranking;
pub mod resample;
pub mod retail;
pub mod runs;
pub mod saved;
pub mod score;
pub mod shopping;
mod svg_compact;
pub mod synth;
pub mod table;
pub mod task;
pub mod train;
pub mod tree;

pub use dataset::Dataset;
pub use error::{Error, Result};

/// The ndarray version this crate uses, so notebooks need no `:dep` of their own.
pub use ndarray;
/// serde_json, for metrics in model cards and run records (`propensity::serde_json::json!`).
pub use serde_json;
