//! Arrow-native scoring for `propensity` models, in its own crate so that the notebooks'
//! `:dep propensity` and the CLI's default build do not compile Arrow and Parquet.
//!
//! - [`score_batch`] / [`Scorer`]: a loaded model scores an Arrow [`RecordBatch`](arrow::array::RecordBatch):
//!   the saved feature pipeline runs column by column on the Arrow arrays (text, numbers,
//!   booleans, dates, dictionaries), the network scores the rows in one batched forward pass,
//!   and the id columns pass through. The CLI (`propensity score` built with `--features arrow`),
//!   the Python package and Spark's `mapInArrow` all call it, so they give the same scores.
//! - [`score_file`]: CSV (plain or gzip) or Parquet in, CSV or Parquet out, streamed in batches
//!   with flat memory and written atomically.
//!
//! ```
//! use propensity::loaded::LoadedModel;
//! use propensity::score::ScoreOptions;
//! # let dir = tempfile::tempdir().unwrap();
//! # let model_path = propensity_arrow::doc_model(dir.path());
//! let model = LoadedModel::read(&model_path).unwrap();
//! let (input, output) = (dir.path().join("customers.csv"), dir.path().join("scores.parquet"));
//! std::fs::write(&input, "x\n1.5\n-0.5\n").unwrap();
//! let summary = propensity_arrow::score_file(&model, &input, &output, ScoreOptions::default(), &mut |_, _| ()).unwrap();
//! assert_eq!((summary.rows_scored, summary.rows_skipped), (2, 0));
//! ```

mod csv_io;
mod encode;
mod error;
mod files;
pub mod generate;
mod scorer;

pub use error::{Error, Result};
pub use files::{score_file, Format};
pub use scorer::{score_batch, Scorer};

/// Writes a one-input classifier (`x` → `no`/`yes`, no fill for a missing `x`) to `dir/m.json`
/// for the examples in these docs.
#[doc(hidden)]
pub fn doc_model(dir: &std::path::Path) -> std::path::PathBuf {
    use propensity::model::Model;
    use propensity::network::{Head, Network};
    use propensity::pipeline::FittedPipeline;
    use propensity::saved::{ModelCard, Preprocessing, SavedModel};
    let path = dir.join("m.json");
    let model = Model::new(&Network::mlp(1, &[], 2, Head::Softmax), 0).expect("a valid network");
    let pre = Preprocessing {
        pipeline: FittedPipeline::numeric(["x"], None),
        id: vec![],
        target: vec!["y".into()],
        labels: Default::default(),
        regression: None,
    };
    let card = ModelCard {
        data_file: "d.csv".into(),
        data_sha256: String::new(),
        created: String::new(),
        crate_version: String::new(),
        config: Default::default(),
        metrics: serde_json::Value::Null,
    };
    SavedModel::new(&model, vec!["no".into(), "yes".into()], pre, card).save(&path).expect("a writable folder");
    path
}
