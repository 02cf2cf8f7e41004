//! Next product category and customer segments for an online retailer (orders + online
//! sessions), on seeded generated data with known ground truth.
//!
//! The flow follows the other datasets: [`generate`] writes the two raw tables (with the
//! original's data-quality problems) and the ground truth; [`clean`] reads them back and fixes
//! each problem; [`features`] builds the per customer-month modelling file (three input blocks
//! and the multi-label target) and per-customer profiles; [`network`] is the multi-input
//! multi-label network and its evaluation against the baseline and the generator's true
//! probabilities; [`segment`] is the autoencoder + k-means + t-SNE segmentation; [`graph`] the
//! "bought together" category graph.
//!
//! ```
//! use propensity::retail::{clean, features, generate};
//! let g = generate::generate(&generate::GeneratorConfig { customers: 200, ..Default::default() }).unwrap();
//! let data = clean::clean(g.sessions.clone(), g.orders.clone()).unwrap();
//! let m = features::ModellingFile::build(&data, &features::FeatureConfig::default()).unwrap();
//! assert_eq!(m.inputs.ncols(), features::INPUTS);
//! ```

pub mod clean;
pub mod features;
pub mod generate;
pub mod graph;
pub mod network;
pub mod segment;

/// Number of top-level product categories (`prodcat1` is 1..=6).
pub const CATEGORIES: usize = 6;
/// Number of page/action types (`event2` is 1..=10).
pub const EVENT_TYPES: usize = 10;
/// Finer categories (`prodcat2`) per top-level category.
pub const SUBCATEGORIES: usize = 4;
/// File names written by [`generate::write`].
pub const ORDERS_FILE: &str = "orders.csv";
/// Online sessions file name.
pub const SESSIONS_FILE: &str = "online.csv";
/// Hidden segment of each customer (ground truth, not a model input).
pub const SEGMENTS_FILE: &str = "truth_segments.csv";
/// The generator's probability of each category per customer and month (ground truth).
pub const PROBABILITIES_FILE: &str = "truth_probabilities.csv";

/// Display names of the six top-level categories, index `prodcat1 - 1`.
pub const CATEGORY_NAMES: [&str; CATEGORIES] = ["cat1", "cat2", "cat3", "cat4", "cat5", "cat6"];

use std::path::{Path, PathBuf};

/// The folder the notebooks and the CLI keep the generated tables in: `out/retail/data`
/// beside `data/` (generated data is not committed; it is rebuilt from the seed).
pub fn default_data_dir() -> crate::Result<PathBuf> {
    Ok(crate::paths::output_dir("retail")?.join("data"))
}

/// Generates the tables into `dir` with `cfg` unless the raw tables and the ground truth are
/// already there; returns true when it generated them.
///
/// ```
/// use propensity::retail::{ensure_generated, generate::GeneratorConfig};
/// let dir = tempfile::tempdir().unwrap();
/// let cfg = GeneratorConfig { customers: 50, ..Default::default() };
/// assert!(ensure_generated(dir.path(), &cfg).unwrap());
/// assert!(!ensure_generated(dir.path(), &cfg).unwrap()); // already there
/// ```
pub fn ensure_generated(dir: &Path, cfg: &generate::GeneratorConfig) -> crate::Result<bool> {
    let present = [SESSIONS_FILE, ORDERS_FILE, SEGMENTS_FILE, PROBABILITIES_FILE].iter().all(|f| dir.join(f).is_file());
    if !present {
        generate::generate_into(dir, cfg)?;
    }
    Ok(!present)
}
