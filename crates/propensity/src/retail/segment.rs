//! Customer segments: an autoencoder with a tanh bottleneck compresses each customer's
//! standardized profile ([`Profiles`]) into a bounded 5-number embedding; k-means (linfa) groups
//! the embeddings, with k chosen by silhouette (the elbow of the inertia shown beside it);
//! t-SNE (linfa) maps a sample of the embeddings to 2-D for a picture; the adjusted Rand index
//! measures agreement with the generator's hidden segments.

use std::path::Path;
use std::time::Instant;

use linfa::prelude::{Fit, Predict, SilhouetteScore, Transformer};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use linfa_tsne::TSneParams;
use ndarray::{Array1, Array2, Axis};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::features::{Profiles, PROFILE_NAMES};
use crate::dataset::DenseDataset;
use crate::display::HtmlTable;
use crate::losses::DenseLoss;
use crate::model::Model;
use crate::network::{Activation, Head, Layer, Network};
use crate::plot::Svg;
use crate::train::{EarlyStoppingConfig, History, TrainConfig, Trainer};
use crate::{Error, Result};

/// Width of the embedding (the bottleneck).
pub const EMBEDDING: usize = 5;
const PROFILE: usize = PROFILE_NAMES.len();

/// The autoencoder: 17 → Dense(16, relu) → Dense(5, tanh) → Dense(16, relu) → Dense(17).
///
/// ```
/// use propensity::{model::Model, retail::segment::{autoencoder, embed}};
/// let m = Model::new(&autoencoder(), 1).unwrap();
/// let z = embed(&m, &ndarray::Array2::from_elem((4, 17), 3.0)).unwrap();
/// assert_eq!(z.dim(), (4, 5));
/// assert!(z.iter().all(|v| v.abs() <= 1.0)); // tanh keeps the embedding bounded
/// ```
pub fn autoencoder() -> Network {
    let layer = |units, activation| Layer { units, activation };
    Network {
        inputs: PROFILE,
        branches: Vec::new(),
        layers: vec![layer(16, Activation::Relu), layer(EMBEDDING, Activation::Tanh), layer(16, Activation::Relu)],
        outputs: PROFILE,
        head: Head::Linear,
    }
}

/// The bottleneck activations (the encoder half, two layers) of each row.
pub fn embed(autoencoder: &Model, x: &Array2<f32>) -> Result<Array2<f32>> {
    if x.ncols() != PROFILE {
        return Err(Error::Data(format!("the encoder takes {PROFILE} columns, got {}", x.ncols())));
    }
    autoencoder.hidden(x, Some(2))
}

/// Settings of [`segment`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentConfig {
    /// Smallest k tried.
    pub k_min: usize,
    /// Largest k tried.
    pub k_max: usize,
    /// Use this k instead of the best silhouette.
    pub k: Option<usize>,
    /// k-means restarts per k (the best inertia is kept).
    pub kmeans_runs: usize,
    /// Customers sampled for the silhouette (it is quadratic in the rows).
    pub silhouette_sample: usize,
    /// Autoencoder training (MSE, early stopping on 10 % of customers held out).
    pub autoencoder: TrainConfig,
    /// Seed of the split, k-means and samples.
    pub seed: u64,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig {
            k_min: 2,
            k_max: 8,
            k: None,
            kmeans_runs: 10,
            silhouette_sample: 3_000,
            autoencoder: TrainConfig {
                batch_size: 64,
                max_epochs: 300,
                early_stopping: Some(EarlyStoppingConfig { patience: 10, restore_best: true, ..Default::default() }),
                adam: crate::optim::AdamForm::Pytorch,
                ..Default::default()
            },
            seed: 42,
        }
    }
}

impl SegmentConfig {
    /// Checks the k range, runs and sample, and the autoencoder's config.
    pub fn check(&self) -> Result<()> {
        let bad = |field, message: &str| Err(Error::Config { field, message: message.to_string() });
        if self.k_min < 2 || self.k_max < self.k_min {
            return bad("k_min", "must be at least 2 and at most k_max");
        }
        if self.k.is_some_and(|k| k < 2) {
            return bad("k", "must be at least 2");
        }
        if self.kmeans_runs == 0 {
            return bad("kmeans_runs", "must be at least 1");
        }
        if self.silhouette_sample < 10 {
            return bad("silhouette_sample", "must be at least 10");
        }
        self.autoencoder.check()
    }
}

/// Inertia and silhouette of k-means with `k` clusters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KChoice {
    /// Number of clusters.
    pub k: usize,
    /// Sum of squared distances to the nearest centroid.
    pub inertia: f64,
    /// Mean silhouette on the sample.
    pub silhouette: f64,
}

/// k-means labels of `x` with `k` clusters (best of `runs` seeded restarts), and the inertia.
///
/// ```
/// let x = ndarray::array![[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]];
/// let (labels, _) = propensity::retail::segment::kmeans(&x, 2, 3, 1).unwrap();
/// assert_eq!(labels[0], labels[1]);
/// assert_ne!(labels[0], labels[2]);
/// ```
pub fn kmeans(x: &Array2<f64>, k: usize, runs: usize, seed: u64) -> Result<(Vec<usize>, f64)> {
    let data = DatasetBase::from(x.clone());
    let model = KMeans::params_with_rng(k, StdRng::seed_from_u64(seed))
        .n_runs(runs)
        .max_n_iterations(300)
        .tolerance(1e-6)
        .fit(&data)
        .map_err(|e| Error::Data(format!("k-means with k = {k}: {e}")))?;
    let labels: Array1<usize> = model.predict(x);
    Ok((labels.to_vec(), model.inertia()))
}

/// Mean silhouette of `labels` on at most `sample` rows (seeded).
pub fn silhouette(x: &Array2<f64>, labels: &[usize], sample: usize, seed: u64) -> Result<f64> {
    let rows = sample_rows(x.nrows(), sample, seed);
    let data =
        DatasetBase::new(x.select(Axis(0), &rows), Array1::from(rows.iter().map(|&r| labels[r]).collect::<Vec<_>>()));
    data.silhouette_score().map_err(|e| Error::Data(format!("silhouette: {e}")))
}

fn sample_rows(n: usize, sample: usize, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..n).collect();
    if n > sample {
        rows.shuffle(&mut StdRng::seed_from_u64(seed));
        rows.truncate(sample);
        rows.sort_unstable();
    }
    rows
}

/// The outcome of [`segment`].
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// Customer numbers, in [`Profiles`] order.
    pub custno: Vec<u64>,
    /// Profiles in natural units (for the segment profiles).
    pub profiles: Array2<f64>,
    /// Each customer's embedding.
    pub embedding: Array2<f64>,
    /// Segment of each customer, 0-based.
    pub labels: Vec<usize>,
    /// The k used.
    pub k: usize,
    /// Inertia and silhouette per k tried.
    pub choices: Vec<KChoice>,
    /// The autoencoder's training history.
    pub history: History,
    /// The trained autoencoder.
    pub autoencoder: Model,
    /// Seconds spent training the autoencoder.
    pub train_seconds: f64,
}

/// Trains the autoencoder on the profiles, embeds every customer, runs k-means for each k and
/// keeps the configured k or the one with the best silhouette.
pub fn segment(profiles: &Profiles, cfg: &SegmentConfig) -> Result<Segmentation> {
    cfg.check()?;
    let (x, _) = profiles.model_inputs()?;
    let n = x.nrows();
    if n < 20 {
        return Err(Error::Data(format!("{n} customers are too few to segment")));
    }
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut StdRng::seed_from_u64(cfg.seed));
    let cut = n - n / 10;
    let all = DenseDataset::autoencoder(x.mapv(|v| v as f32))?;
    let (train, validation) = (all.select(&rows[..cut])?, all.select(&rows[cut..])?);
    let started = Instant::now();
    let fitted = Trainer::new(cfg.autoencoder.clone())?.fit_dense(
        &autoencoder(),
        &train,
        Some(&validation),
        DenseLoss::MeanSquaredError,
    )?;
    let train_seconds = started.elapsed().as_secs_f64();
    let embedding = embed(&fitted.model, all.inputs())?.mapv(|v| v as f64);
    let mut choices = Vec::new();
    let mut by_k = Vec::new();
    // the tried range always holds a requested k, also one outside k_min..=k_max
    let (lo, hi) = cfg.k.map_or((cfg.k_min, cfg.k_max), |k| (cfg.k_min.min(k), cfg.k_max.max(k)));
    for k in lo..=hi {
        let (labels, inertia) = kmeans(&embedding, k, cfg.kmeans_runs, cfg.seed)?;
        let silhouette = silhouette(&embedding, &labels, cfg.silhouette_sample, cfg.seed)?;
        choices.push(KChoice { k, inertia, silhouette });
        by_k.push(labels);
    }
    let best = match cfg.k {
        Some(k) => k - lo,
        None => (0..choices.len())
            .max_by(|&a, &b| choices[a].silhouette.total_cmp(&choices[b].silhouette))
            .expect("k range"),
    };
    Ok(Segmentation {
        custno: profiles.custno.clone(),
        profiles: profiles.values.clone(),
        embedding,
        labels: by_k.swap_remove(best),
        k: choices[best].k,
        choices,
        history: fitted.history,
        autoencoder: fitted.model,
        train_seconds,
    })
}

/// A 2-D t-SNE map of a sample of customers.
#[derive(Debug, Clone)]
pub struct TsneMap {
    /// Rows × 2.
    pub points: Array2<f64>,
    /// Segment of each point.
    pub labels: Vec<usize>,
    /// Seconds t-SNE took.
    pub seconds: f64,
}

impl TsneMap {
    /// The map as a scatter plot, one colour per segment.
    pub fn plot(&self, title: &str) -> Result<Svg> {
        let k = self.labels.iter().max().map_or(0, |m| m + 1);
        let groups: Vec<(String, Vec<(f64, f64)>)> = (0..k)
            .map(|s| {
                let pts = self
                    .labels
                    .iter()
                    .zip(self.points.rows())
                    .filter(|(&l, _)| l == s)
                    .map(|(_, p)| (p[0], p[1]))
                    .collect();
                (format!("segment {}", s + 1), pts)
            })
            .collect();
        crate::plot::scatter(title, "t-SNE 1", "t-SNE 2", &groups)
    }

    /// Shows the map in a notebook.
    pub fn evcxr_display(&self) {
        if let Ok(svg) = self.plot("t-SNE of the embeddings") {
            svg.evcxr_display()
        }
    }
}

/// Agreement of the segments with known groups (the generator's hidden segments).
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Adjusted Rand index.
    pub ari: f64,
    /// Customers per (segment, known group).
    pub crosstab: Vec<Vec<usize>>,
    /// Names of the known groups.
    pub groups: Vec<String>,
}

impl Agreement {
    /// The crosstab with the ARI in the caption.
    pub fn table(&self) -> HtmlTable {
        let header: Vec<&str> = std::iter::once("segment").chain(self.groups.iter().map(String::as_str)).collect();
        let mut t =
            HtmlTable::new(&format!("Segments vs hidden segments, adjusted Rand index {:.3}", self.ari), &header);
        for (s, row) in self.crosstab.iter().enumerate() {
            t.push(std::iter::once(format!("segment {}", s + 1)).chain(row.iter().map(|v| v.to_string())).collect());
        }
        t
    }

    /// Shows the table in a notebook.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display()
    }
}

impl Segmentation {
    /// Exact t-SNE (perplexity 30, 1,000 iterations) of at most `sample` customers' embeddings,
    /// seeded: the same seed gives the same map, bit for bit.
    ///
    /// Exact, not Barnes-Hut: linfa-tsne's Barnes-Hut path (bhtsne 0.4.1) finds each point's
    /// neighbours in a vantage-point tree built around points drawn from an unseeded generator,
    /// and its partition step selects within a sub-slice by an index counted from the start of the
    /// whole array, so the neighbours it finds are approximate and change from run to run (two runs
    /// on the same 2,000 embeddings differed after one iteration). The exact path has no tree; it
    /// costs O(n²) per iteration: about 12 s for 1,000 customers here.
    pub fn tsne(&self, sample: usize, seed: u64) -> Result<TsneMap> {
        let rows = sample_rows(self.embedding.nrows(), sample, seed);
        let started = Instant::now();
        let points = TSneParams::embedding_size_with_rng(2, StdRng::seed_from_u64(seed))
            .perplexity(30.0)
            .approx_threshold(0.0)
            .max_iter(1000)
            .transform(self.embedding.select(Axis(0), &rows))
            .map_err(|e| Error::Data(format!("t-SNE: {e}")))?;
        Ok(TsneMap {
            points,
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Silhouette (above; the chosen k has the highest) and the elbow of the inertia (below)
    /// against k, each on its own axis.
    pub fn k_plot(&self) -> Result<Svg> {
        let max_inertia = self.choices.iter().map(|c| c.inertia).fold(0.0f64, f64::max).max(1e-12);
        let k_min = self.choices.iter().map(|c| c.k).min().unwrap_or(self.k);
        let panels = vec![
            (
                format!("Silhouette against k (chosen: {})", self.k),
                "mean silhouette".to_string(),
                vec![("silhouette".to_string(), self.choices.iter().map(|c| (c.k as f64, c.silhouette)).collect())],
            ),
            (
                "Inertia against k (the elbow)".to_string(),
                format!("inertia / inertia at k = {k_min}"),
                vec![(
                    "inertia".to_string(),
                    self.choices.iter().map(|c| (c.k as f64, c.inertia / max_inertia)).collect(),
                )],
            ),
        ];
        crate::plot::stacked_lines("k", &panels)
    }

    /// Size and mean profile of each segment.
    pub fn profile_table(&self) -> HtmlTable {
        let header: Vec<&str> = ["segment", "customers", "share"].into_iter().chain(PROFILE_NAMES).collect();
        let mut t = HtmlTable::new("Segment profiles (means)", &header);
        let n = self.labels.len() as f64;
        for s in 0..self.k {
            let rows: Vec<usize> = (0..self.labels.len()).filter(|&r| self.labels[r] == s).collect();
            let mean = self.profiles.select(Axis(0), &rows).mean_axis(Axis(0));
            let mut cells = vec![
                format!("segment {}", s + 1),
                rows.len().to_string(),
                format!("{:.1} %", 100.0 * rows.len() as f64 / n),
            ];
            cells.extend(
                mean.map_or_else(|| vec!["–".to_string(); PROFILE], |m| m.iter().map(|v| format!("{v:.2}")).collect()),
            );
            t.push(cells);
        }
        t
    }

    /// Agreement with known groups given as `(custno, group)`; see [`agreement`].
    pub fn agreement(&self, known: &[(u64, usize)], group_names: &[&str]) -> Result<Agreement> {
        agreement(&self.custno, &self.labels, known, group_names)
    }
}

/// Agreement of segment `labels` of customers `custno` with known groups given as
/// `(custno, group)`; every labelled customer must have a group.
///
/// ```
/// let a = propensity::retail::segment::agreement(&[1, 2, 3], &[0, 0, 1], &[(1, 1), (2, 1), (3, 0)], &["x", "y"]).unwrap();
/// assert_eq!((a.ari, a.crosstab.clone()), (1.0, vec![vec![0, 2], vec![1, 0]]));
/// ```
pub fn agreement(custno: &[u64], labels: &[usize], known: &[(u64, usize)], group_names: &[&str]) -> Result<Agreement> {
    let map: std::collections::HashMap<u64, usize> = known.iter().copied().collect();
    let truth: Vec<usize> = custno
        .iter()
        .map(|c| map.get(c).copied().ok_or_else(|| Error::Data(format!("customer {c} has no known group"))))
        .collect::<Result<_>>()?;
    let g = group_names.len().max(truth.iter().max().map_or(0, |m| m + 1));
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut crosstab = vec![vec![0; g]; k];
    for (&s, &t) in labels.iter().zip(&truth) {
        crosstab[s][t] += 1;
    }
    let groups = (0..g).map(|i| group_names.get(i).map_or(format!("group {i}"), |s| s.to_string())).collect();
    Ok(Agreement { ari: crate::metrics::adjusted_rand_index(labels, &truth)?, crosstab, groups })
}

/// Reads the generator's [`super::SEGMENTS_FILE`]: `(custno, segment)`.
pub fn read_segments(path: impl AsRef<Path>) -> Result<Vec<(u64, usize)>> {
    let rows: Vec<super::generate::SegmentRow> = super::clean::read_rows(path.as_ref(), |_| Ok(()))?;
    Ok(rows.into_iter().map(|r| (r.custno, r.segment)).collect())
}
