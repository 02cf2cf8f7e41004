//! KPI-supervised segments: groups of customers alike in behaviour *and* in a KPI (holdout spend),
//! whose KPI means differ — next to plain k-means on the same behaviour features.
//!
//! Behaviour = five calibration features ([`BEHAVIOUR`]), z-scored over all customers. k-means
//! groups customers by behaviour alone; the KPI tree ([`Method::KpiTree`]) is a regression tree on
//! the same features fitted to log(1 + KPI), grown best first to `k` leaves with every leaf at least
//! `min_share` of the customers, so each segment is a readable rule on behaviour. Both are scored
//! on behaviour silhouette (all customers, exact) and KPI eta² (between-segment share of KPI
//! variance), in sample and out of sample (fit on four folds of `id mod 5`, eta² in the fifth).
//!
//! ```no_run
//! use propensity::cdnow::{self, segments::{compare, SegmentConfig}};
//! # fn main() -> propensity::Result<()> {
//! let c = compare(&cdnow::load_default()?, &SegmentConfig::default())?;
//! c.evcxr_display();
//! # Ok(()) }
//! ```

use std::time::Instant;

use linfa::prelude::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use ndarray::{Array2, Axis};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Customers;
use crate::display::HtmlTable;
use crate::plot::Svg;
use crate::preprocess::{FittedScaler, StandardScaler};
use crate::tree::{RegressionTree, TreeParams};
use crate::{Error, Result};

/// The behaviour features segments are built on.
pub const BEHAVIOUR: [&str; 5] = ["frequency", "recency", "T", "mean_cds_per_day", "mean_ipt_days"];

/// The behaviour matrix (n × 5): repeat days, recency and age in weeks, CDs per purchase day, and
/// days between purchase days (days since the first purchase for one-time buyers).
pub fn behaviour(c: &Customers) -> Array2<f64> {
    let mut x = Array2::zeros((c.len(), BEHAVIOUR.len()));
    for (i, r) in c.rows.iter().enumerate() {
        for (j, v) in [r.frequency, r.recency, r.t, r.mean_cds_per_day, r.mean_ipt_w * 7.0].into_iter().enumerate() {
            x[[i, j]] = v;
        }
    }
    x
}

/// How segments are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// k-means on the z-scored behaviour (k-means++ starts, `kmeans_runs` restarts).
    KMeans,
    /// A regression tree on behaviour fitted to log(1 + KPI), `k` leaves of at least `min_share`.
    KpiTree,
}

impl Method {
    /// A display name.
    pub fn label(self) -> &'static str {
        match self {
            Method::KMeans => "k-means (behaviour only)",
            Method::KpiTree => "KPI tree (behaviour → log(1 + holdout spend))",
        }
    }
}

/// Segmentation settings. Defaults: 4 segments, none under 2 % of customers, 10 k-means
/// restarts, seed 0.
///
/// ```
/// use propensity::cdnow::segments::SegmentConfig;
/// assert!(SegmentConfig::default().check().is_ok());
/// assert!(SegmentConfig { k: 1, ..Default::default() }.check().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentConfig {
    /// Number of segments.
    pub k: usize,
    /// Smallest allowed segment, as a share of the customers a segmentation is fitted on.
    pub min_share: f64,
    /// k-means restarts.
    pub kmeans_runs: usize,
    /// Seed of k-means.
    pub seed: u64,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig { k: 4, min_share: 0.02, kmeans_runs: 10, seed: 0 }
    }
}

impl SegmentConfig {
    /// Checks the ranges.
    pub fn check(&self) -> Result<()> {
        if !(2..=20).contains(&self.k) {
            return Err(Error::Config { field: "k", message: "must be 2 to 20".into() });
        }
        if !(0.0..0.5).contains(&self.min_share) || self.min_share * self.k as f64 > 1.0 {
            return Err(Error::Config {
                field: "min_share",
                message: "must be in [0, 0.5) with k · min_share ≤ 1".into(),
            });
        }
        if self.kmeans_runs == 0 {
            return Err(Error::Config { field: "kmeans_runs", message: "must be at least 1".into() });
        }
        Ok(())
    }
}

/// A fitted segmentation rule: assigns a segment to any customer's behaviour.
enum Segmenter {
    KMeans(KMeans<f64, linfa_nn::distance::L2Dist>, FittedScaler),
    Tree(RegressionTree),
}

impl Segmenter {
    fn fit(method: Method, x: &Array2<f64>, kpi: &[f64], cfg: &SegmentConfig) -> Result<Segmenter> {
        match method {
            Method::KMeans => {
                let scaler = StandardScaler::fit(x)?;
                let model = KMeans::params_with_rng(cfg.k, StdRng::seed_from_u64(cfg.seed))
                    .n_runs(cfg.kmeans_runs)
                    .max_n_iterations(300)
                    .tolerance(1e-6)
                    .fit(&DatasetBase::from(scaler.transform(x)?))
                    .map_err(|e| Error::Data(format!("k-means with k = {}: {e}", cfg.k)))?;
                Ok(Segmenter::KMeans(model, scaler))
            }
            Method::KpiTree => {
                let y: Vec<f64> = kpi.iter().map(|v| v.ln_1p()).collect();
                let min_leaf = ((cfg.min_share * x.nrows() as f64).ceil() as usize).max(1);
                Ok(Segmenter::Tree(RegressionTree::fit(x, &y, &TreeParams { max_leaves: cfg.k, min_leaf })?))
            }
        }
    }

    fn assign(&self, x: &Array2<f64>) -> Result<Vec<usize>> {
        Ok(match self {
            Segmenter::KMeans(model, scaler) => model.predict(&scaler.transform(x)?).to_vec(),
            Segmenter::Tree(tree) => tree.apply(x),
        })
    }
}

/// Mean silhouette over all rows (Euclidean), exact: O(n²) distances, spread over the cores.
/// Rows alone in their segment count 0, as in scikit-learn.
///
/// ```
/// use propensity::cdnow::segments::silhouette;
/// let x = ndarray::array![[0.0], [1.0], [10.0], [11.0]];
/// // hand calculation: a = 1, b = 10 (resp. 9 and 11 …): mean of 1 − a/b over the four rows
/// let s = silhouette(&x, &[0, 0, 1, 1]).unwrap();
/// let want = ((1.0 - 1.0 / 10.5) + (1.0 - 1.0 / 9.5)) / 2.0;
/// assert!((s - want).abs() < 1e-12);
/// ```
pub fn silhouette(x: &Array2<f64>, labels: &[usize]) -> Result<f64> {
    if x.nrows() != labels.len() || x.nrows() < 2 {
        return Err(Error::Data(format!("silhouette of {} rows with {} labels", x.nrows(), labels.len())));
    }
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    if sizes.iter().filter(|&&s| s > 0).count() < 2 {
        return Err(Error::Data("silhouette needs at least two segments".into()));
    }
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let total: f64 = (0..rows.len())
        .into_par_iter()
        .map(|i| {
            let mut dist = vec![0.0; k];
            for (j, r) in rows.iter().enumerate() {
                dist[labels[j]] += rows[i].iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
            }
            let own = labels[i];
            if sizes[own] < 2 {
                return 0.0;
            }
            let a = dist[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&g| g != own && sizes[g] > 0)
                .map(|g| dist[g] / sizes[g] as f64)
                .fold(f64::INFINITY, f64::min);
            if a.max(b) > 0.0 {
                (b - a) / a.max(b)
            } else {
                0.0
            }
        })
        .sum();
    Ok(total / rows.len() as f64)
}

/// One segment's size, KPI and behaviour, for a marketer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentProfile {
    /// Segment number (segments are ordered by mean KPI, highest first).
    pub segment: usize,
    /// Customers.
    pub n: usize,
    /// Share of all customers.
    pub share: f64,
    /// Mean holdout spend (the KPI).
    pub kpi_mean: f64,
    /// Share of the segment that bought in the holdout.
    pub buyers: f64,
    /// Mean CDs bought in the holdout (the second KPI: number of products).
    pub cds_mean: f64,
    /// Mean calibration spend (a second KPI).
    pub cal_spend_mean: f64,
    /// Means of the [`BEHAVIOUR`] features.
    pub behaviour: [f64; 5],
    /// The tree's rule for the segment (KPI tree only).
    pub rule: Option<String>,
    /// A one-line description.
    pub description: String,
}

/// A segmentation of all customers with its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segmentation {
    /// How it was made.
    pub method: Method,
    /// The settings.
    pub config: SegmentConfig,
    /// Segment of each customer (table order), numbered by mean KPI, highest first.
    pub labels: Vec<usize>,
    /// Mean silhouette in z-scored behaviour space, all customers.
    pub silhouette: f64,
    /// η² of the holdout spend, in sample.
    pub eta2: f64,
    /// η² of log(1 + holdout spend), in sample.
    pub eta2_log: f64,
    /// η² of the holdout spend out of sample (mean over the five folds).
    pub eta2_oos: f64,
    /// η² of log(1 + holdout spend) out of sample (mean over the five folds).
    pub eta2_log_oos: f64,
    /// Smallest segment's share of the customers (in sample).
    pub min_share: f64,
    /// Smallest segment's share within any out-of-sample fold.
    pub min_share_oos: f64,
    /// One profile per segment.
    pub segments: Vec<SegmentProfile>,
    /// Wall time (fit on all, silhouette, five refits).
    pub seconds: f64,
}

/// Fits `method` on all customers and scores it (silhouette, in- and out-of-sample η²).
pub fn segment(c: &Customers, method: Method, cfg: &SegmentConfig) -> Result<Segmentation> {
    cfg.check()?;
    let start = Instant::now();
    let x = behaviour(c);
    let kpi = c.column(|r| r.spend_holdout);
    let log_kpi: Vec<f64> = kpi.iter().map(|v| v.ln_1p()).collect();
    let all: Vec<usize> = (0..c.len()).collect();
    let seg = Segmenter::fit(method, &x, &kpi, cfg)?;
    let raw = seg.assign(&x)?;
    let (labels, order) = order_by_kpi(&raw, &kpi);
    let z = StandardScaler::fit(&x)?.transform(&x)?;
    let sil = silhouette(&z, &labels)?;
    let folds = c.folds();
    let (mut oos, mut oos_log, mut min_oos) = (vec![], vec![], f64::INFINITY);
    for f in 0..5 {
        let (tr, te): (Vec<usize>, Vec<usize>) = all.iter().partition(|&&i| folds[i] != f);
        let s = Segmenter::fit(method, &x.select(Axis(0), &tr), &tr.iter().map(|&i| kpi[i]).collect::<Vec<_>>(), cfg)?;
        let lab = s.assign(&x.select(Axis(0), &te))?;
        oos.push(crate::metrics::eta_squared(&te.iter().map(|&i| kpi[i]).collect::<Vec<_>>(), &lab));
        oos_log.push(crate::metrics::eta_squared(&te.iter().map(|&i| log_kpi[i]).collect::<Vec<_>>(), &lab));
        min_oos = min_oos.min(min_size(&lab, cfg.k) as f64 / te.len() as f64);
    }
    let rules = match &seg {
        Segmenter::Tree(t) => Some(t.rules(&BEHAVIOUR)),
        Segmenter::KMeans(..) => None,
    };
    let segments = profiles(c, &x, &labels, &order, rules.as_deref());
    Ok(Segmentation {
        method,
        config: *cfg,
        silhouette: sil,
        eta2: crate::metrics::eta_squared(&kpi, &labels),
        eta2_log: crate::metrics::eta_squared(&log_kpi, &labels),
        eta2_oos: oos.iter().sum::<f64>() / 5.0,
        eta2_log_oos: oos_log.iter().sum::<f64>() / 5.0,
        min_share: min_size(&labels, cfg.k) as f64 / c.len() as f64,
        min_share_oos: min_oos,
        segments,
        labels,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn min_size(labels: &[usize], k: usize) -> usize {
    let mut n = vec![0usize; k.max(labels.iter().max().map_or(0, |m| m + 1))];
    for &l in labels {
        n[l] += 1;
    }
    n.into_iter().filter(|&v| v > 0).min().unwrap_or(0)
}

/// Renumbers segments by mean KPI, highest first; returns the new labels and, per new number,
/// the old one.
fn order_by_kpi(raw: &[usize], kpi: &[f64]) -> (Vec<usize>, Vec<usize>) {
    let k = raw.iter().max().map_or(0, |m| m + 1);
    let (mut sum, mut n) = (vec![0.0; k], vec![0.0; k]);
    for (&l, &v) in raw.iter().zip(kpi) {
        sum[l] += v;
        n[l] += 1.0;
    }
    let mut order: Vec<usize> = (0..k).filter(|&g| n[g] > 0.0).collect();
    order.sort_by(|&a, &b| (sum[b] / n[b]).total_cmp(&(sum[a] / n[a])));
    let mut new = vec![0; k];
    for (i, &g) in order.iter().enumerate() {
        new[g] = i;
    }
    (raw.iter().map(|&l| new[l]).collect(), order)
}

fn profiles(
    c: &Customers,
    x: &Array2<f64>,
    labels: &[usize],
    order: &[usize],
    rules: Option<&[String]>,
) -> Vec<SegmentProfile> {
    let overall_kpi = c.rows.iter().map(|r| r.spend_holdout).sum::<f64>() / c.len() as f64;
    (0..order.len())
        .map(|g| {
            let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == g).collect();
            let n = members.len() as f64;
            let avg = |f: &dyn Fn(usize) -> f64| members.iter().map(|&i| f(i)).sum::<f64>() / n;
            let behaviour: [f64; 5] = std::array::from_fn(|j| avg(&|i| x[[i, j]]));
            let kpi_mean = avg(&|i| c.rows[i].spend_holdout);
            let buyers = avg(&|i| f64::from(u8::from(c.rows[i].bought_in_holdout())));
            let description = format!(
                "{:.0} % of customers; {:.1} repeat purchase days in 39 weeks, last purchase {:.0} weeks before the \
                 cutoff, {:.1} CDs per purchase day; {:.0} % bought again in the next 39 weeks, spending ${:.0} on \
                 average ({:.1}× the overall mean)",
                100.0 * n / c.len() as f64,
                behaviour[0],
                avg(&|i| c.rows[i].weeks_since_last),
                behaviour[3],
                100.0 * buyers,
                kpi_mean,
                kpi_mean / overall_kpi
            );
            SegmentProfile {
                segment: g,
                n: members.len(),
                share: n / c.len() as f64,
                kpi_mean,
                buyers,
                cds_mean: avg(&|i| c.rows[i].cds_holdout),
                cal_spend_mean: avg(&|i| c.rows[i].cal_spend),
                behaviour,
                rule: rules.map(|r| r[order[g]].clone()),
                description,
            }
        })
        .collect()
}

impl Segmentation {
    /// The per-segment table.
    pub fn table(&self) -> HtmlTable {
        let mut t = HtmlTable::new(
            self.method.label(),
            &[
                "segment",
                "customers",
                "share",
                "holdout spend",
                "holdout CDs",
                "bought again",
                "calibration spend",
                "frequency",
                "recency (w)",
                "T (w)",
                "CDs/day",
                "days between",
                "rule",
            ],
        );
        for s in &self.segments {
            let mut row = vec![
                s.segment.to_string(),
                s.n.to_string(),
                format!("{:.1} %", 100.0 * s.share),
                format!("${:.2}", s.kpi_mean),
                format!("{:.2}", s.cds_mean),
                format!("{:.1} %", 100.0 * s.buyers),
                format!("${:.2}", s.cal_spend_mean),
            ];
            row.extend(s.behaviour.iter().map(|v| format!("{v:.2}")));
            row.push(s.rule.clone().unwrap_or_else(|| "—".into()));
            t.push(row);
        }
        t
    }

    /// Shows [`table`](Self::table) in a notebook.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

/// k-means and the KPI tree side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Plain k-means.
    pub kmeans: Segmentation,
    /// KPI-supervised tree.
    pub kpi_tree: Segmentation,
}

/// Both segmentations with the same settings.
pub fn compare(c: &Customers, cfg: &SegmentConfig) -> Result<Comparison> {
    Ok(Comparison { kmeans: segment(c, Method::KMeans, cfg)?, kpi_tree: segment(c, Method::KpiTree, cfg)? })
}

impl Comparison {
    /// The scores table: silhouette, η² in and out of sample, smallest segment.
    pub fn table(&self) -> HtmlTable {
        let mut t = HtmlTable::new(
            &format!("Segmentations of {} customers, k = {}", self.kmeans.labels.len(), self.kmeans.config.k),
            &[
                "method",
                "behaviour silhouette",
                "η² spend",
                "η² log(1+spend)",
                "η² spend, out of sample",
                "η² log(1+spend), out of sample",
                "smallest segment",
                "time",
            ],
        );
        for s in [&self.kmeans, &self.kpi_tree] {
            t.push(vec![
                s.method.label().into(),
                format!("{:.3}", s.silhouette),
                format!("{:.3}", s.eta2),
                format!("{:.3}", s.eta2_log),
                format!("{:.3}", s.eta2_oos),
                format!("{:.3}", s.eta2_log_oos),
                format!("{:.1} %", 100.0 * s.min_share),
                format!("{:.1} s", s.seconds),
            ]);
        }
        t
    }

    /// Mean holdout spend per segment, both methods side by side.
    pub fn kpi_plot(&self) -> Result<Svg> {
        let k = self.kmeans.segments.len().max(self.kpi_tree.segments.len());
        let groups: Vec<String> = (0..k).map(|g| format!("segment {g}")).collect();
        let series =
            |s: &Segmentation| -> Vec<f64> { (0..k).map(|g| s.segments.get(g).map_or(0.0, |p| p.kpi_mean)).collect() };
        crate::plot::bar_chart(
            "Mean holdout spend per segment (segments ordered by it)",
            "dollars per customer",
            &groups,
            &[("k-means".into(), series(&self.kmeans)), ("KPI tree".into(), series(&self.kpi_tree))],
        )
    }

    /// Shows the scores table and the KPI plot.
    pub fn evcxr_display(&self) {
        // one output: a front end shows one MIME type per output, so the plot goes inside the HTML
        let plot = self.kpi_plot().map_or(String::new(), |svg| svg.as_str().to_string());
        crate::display::Html(format!("{}{plot}", self.table().to_html())).evcxr_display();
    }
}
