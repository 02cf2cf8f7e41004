//! Autotuning of the churn network: a seeded random or successive-halving search over learning
//! rate, batch size, patience, class weighting and architecture, each candidate scored by
//! cross-validated ROC AUC.
//!
//! The search sees only the customers of folds 0–3 (`id mod 5 ≠ 4`), split into three inner folds
//! by `(id / 5) mod 3`; fold 4 stays untouched, and the chosen and the default configurations are
//! both trained on folds 0–3 and scored on it, so the gain is measured on customers the tuner never
//! saw. The chosen configuration is saved as serde JSON and loads as a [`ChurnConfig`].
//!
//! ```no_run
//! use propensity::cdnow::{self, tune::{tune, TuneConfig}};
//! # fn main() -> propensity::Result<()> {
//! let report = tune(&cdnow::load_default()?, &TuneConfig::default())?;
//! report.save_best("out/cdnow/churn-config.json")?;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::models::{churn_cross_validate, churn_train_test, ChurnArchitecture, ChurnConfig};
use super::Customers;
use crate::display::HtmlTable;
use crate::ranking::BinaryScores;
use crate::train::{ClassWeights, EarlyStoppingConfig};
use crate::{Error, Result};

/// The values the search picks from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSpace {
    /// Adam learning rates.
    pub learning_rates: Vec<f64>,
    /// Batch sizes.
    pub batch_sizes: Vec<usize>,
    /// Early-stopping patiences.
    pub patiences: Vec<usize>,
    /// Balanced class weights or none.
    pub class_weighting: Vec<bool>,
    /// Network shapes.
    pub architectures: Vec<ChurnArchitecture>,
    /// The epoch budget of a full evaluation (successive halving gives early rungs less).
    pub max_epochs: usize,
}

impl Default for SearchSpace {
    fn default() -> Self {
        SearchSpace {
            learning_rates: vec![3e-4, 1e-3, 3e-3, 1e-2],
            batch_sizes: vec![64, 128, 256, 512],
            patiences: vec![3, 5, 10, 20],
            class_weighting: vec![false, true],
            architectures: ChurnArchitecture::ALL.to_vec(),
            max_epochs: 200,
        }
    }
}

/// How candidates are searched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// `trials` random configurations, each with the full epoch budget.
    Random {
        /// Number of configurations.
        trials: usize,
    },
    /// Successive halving: `candidates` random configurations get `max_epochs / eta^(rungs−1)`
    /// epochs; the best `1/eta` move to the next rung with `eta` times the budget, until the last
    /// rung trains with the full budget.
    SuccessiveHalving {
        /// Configurations in the first rung.
        candidates: usize,
        /// Reduction factor (≥ 2).
        eta: usize,
        /// Number of rungs (≥ 1).
        rungs: usize,
    },
}

/// Tuner settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TuneConfig {
    /// Search strategy.
    pub strategy: Strategy,
    /// The values searched.
    pub space: SearchSpace,
    /// Seed of the sampling (and of every candidate's training).
    pub seed: u64,
}

impl Default for TuneConfig {
    fn default() -> Self {
        TuneConfig {
            strategy: Strategy::SuccessiveHalving { candidates: 18, eta: 3, rungs: 3 },
            space: SearchSpace::default(),
            seed: 0,
        }
    }
}

impl TuneConfig {
    /// Checks the ranges.
    pub fn check(&self) -> Result<()> {
        let s = &self.space;
        let bad = |field, message: &str| Err(Error::Config { field, message: message.into() });
        if s.learning_rates.is_empty()
            || s.batch_sizes.is_empty()
            || s.patiences.is_empty()
            || s.class_weighting.is_empty()
            || s.architectures.is_empty()
        {
            return bad("space", "every list needs at least one value");
        }
        if s.max_epochs == 0 {
            return bad("space.max_epochs", "must be at least 1");
        }
        match self.strategy {
            Strategy::Random { trials: 0 } => bad("strategy.trials", "must be at least 1"),
            Strategy::SuccessiveHalving { candidates, eta, rungs } if candidates == 0 || eta < 2 || rungs == 0 => {
                bad("strategy", "needs candidates ≥ 1, eta ≥ 2, rungs ≥ 1")
            }
            _ => Ok(()),
        }
    }
}

/// One evaluated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Candidate number (sampling order).
    pub candidate: usize,
    /// Rung (0 for random search).
    pub rung: usize,
    /// The configuration.
    pub config: ChurnConfig,
    /// Cross-validated scores on the tuning customers.
    pub cv: BinaryScores,
    /// Epochs trained per inner fold.
    pub epochs: Vec<usize>,
    /// Wall time.
    pub seconds: f64,
}

/// The search's trials, the chosen configuration and its check on untouched customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneReport {
    /// Every trial, in evaluation order.
    pub trials: Vec<Trial>,
    /// The configuration with the best cross-validated AUC in the last rung.
    pub best: ChurnConfig,
    /// The chosen configuration trained on folds 0–3, scored on fold 4.
    pub best_on_fold4: BinaryScores,
    /// [`ChurnConfig::default`] trained and scored the same way.
    pub default_on_fold4: BinaryScores,
    /// Wall time of the whole search.
    pub seconds: f64,
}

fn sample(space: &SearchSpace, n: usize, seed: u64) -> Vec<ChurnConfig> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let base = ChurnConfig::default();
            let pick = |v: &[f64], r: &mut rand::rngs::StdRng| *v.choose(r).expect("checked non-empty");
            let lr = pick(&space.learning_rates, &mut rng);
            let batch = *space.batch_sizes.choose(&mut rng).expect("checked");
            let patience = *space.patiences.choose(&mut rng).expect("checked");
            let weighted = *space.class_weighting.choose(&mut rng).expect("checked");
            let architecture = *space.architectures.choose(&mut rng).expect("checked");
            ChurnConfig {
                architecture,
                train: crate::train::TrainConfig {
                    learning_rate: lr,
                    batch_size: batch,
                    max_epochs: space.max_epochs,
                    class_weights: if weighted { ClassWeights::Balanced } else { ClassWeights::None },
                    early_stopping: Some(EarlyStoppingConfig { patience, min_delta: 0.0, restore_best: true }),
                    seed,
                    ..base.train
                },
                ..base
            }
        })
        .collect()
}

fn subset(c: &Customers, keep: impl Fn(u32) -> bool) -> Customers {
    Customers { protocol: c.protocol, rows: c.rows.iter().filter(|r| keep(r.id)).cloned().collect() }
}

/// Trains `cfg` on folds 0–3 and scores fold 4.
fn fold4_scores(c: &Customers, cfg: &ChurnConfig) -> Result<BinaryScores> {
    churn_train_test(c, &c.rows.iter().map(|r| r.id % 5 == 4).collect::<Vec<_>>(), cfg)
}

/// Runs the search on `customers` (see the module docs for which customers it sees).
pub fn tune(customers: &Customers, cfg: &TuneConfig) -> Result<TuneReport> {
    cfg.check()?;
    let start = Instant::now();
    let tuning = subset(customers, |id| id % 5 != 4);
    let inner: Vec<usize> = tuning.rows.iter().map(|r| ((r.id / 5) % 3) as usize).collect();
    let evaluate = |candidate: usize, rung: usize, config: ChurnConfig| -> Result<Trial> {
        let t = Instant::now();
        let oof = churn_cross_validate(&tuning, &inner, &config)?;
        Ok(Trial { candidate, rung, cv: oof.scores()?, epochs: oof.epochs, config, seconds: t.elapsed().as_secs_f64() })
    };
    let mut trials = Vec::new();
    let mut survivors: Vec<(usize, ChurnConfig)>;
    match cfg.strategy {
        Strategy::Random { trials: n } => {
            survivors = sample(&cfg.space, n, cfg.seed).into_iter().enumerate().collect();
            for (i, c) in &survivors {
                trials.push(evaluate(*i, 0, c.clone())?);
            }
        }
        Strategy::SuccessiveHalving { candidates, eta, rungs } => {
            survivors = sample(&cfg.space, candidates, cfg.seed).into_iter().enumerate().collect();
            for rung in 0..rungs {
                let budget = (cfg.space.max_epochs / eta.pow((rungs - 1 - rung) as u32)).max(1);
                let mut scored = Vec::new();
                for (i, c) in &survivors {
                    let mut c = c.clone();
                    c.train.max_epochs = budget;
                    let t = evaluate(*i, rung, c)?;
                    scored.push((t.cv.auc, *i, t.config.clone()));
                    trials.push(t);
                }
                if rung + 1 < rungs {
                    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                    scored.truncate(scored.len().div_ceil(eta));
                    survivors = scored.into_iter().map(|(_, i, c)| (i, c)).collect();
                }
            }
        }
    }
    let best = best_trial(&trials).expect("at least one trial").config.clone();
    Ok(TuneReport {
        best_on_fold4: fold4_scores(customers, &best)?,
        default_on_fold4: fold4_scores(customers, &ChurnConfig::default())?,
        best,
        trials,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The trial of the last rung with the best cross-validated AUC (the lower candidate on a tie).
fn best_trial(trials: &[Trial]) -> Option<&Trial> {
    let last_rung = trials.iter().map(|t| t.rung).max()?;
    trials
        .iter()
        .filter(|t| t.rung == last_rung)
        .max_by(|a, b| a.cv.auc.total_cmp(&b.cv.auc).then(b.candidate.cmp(&a.candidate)))
}

impl TuneReport {
    /// Every trial as a table, best cross-validated AUC first within each rung.
    pub fn table(&self) -> HtmlTable {
        let mut t = HtmlTable::new(
            &format!("{} trials in {:.0} s (3-fold CV on folds 0–3)", self.trials.len(), self.seconds),
            &[
                "rung",
                "candidate",
                "architecture",
                "learning rate",
                "batch",
                "patience",
                "class weights",
                "epoch budget",
                "CV AUC",
                "CV AP",
                "epochs per fold",
                "time",
            ],
        );
        let mut order: Vec<&Trial> = self.trials.iter().collect();
        order.sort_by(|a, b| b.rung.cmp(&a.rung).then(b.cv.auc.total_cmp(&a.cv.auc)));
        for tr in order {
            let c = &tr.config;
            t.push(vec![
                tr.rung.to_string(),
                tr.candidate.to_string(),
                c.architecture.name(),
                format!("{}", c.train.learning_rate),
                c.train.batch_size.to_string(),
                c.train.early_stopping.map_or("—".into(), |e| e.patience.to_string()),
                if c.train.class_weights == ClassWeights::Balanced { "balanced".into() } else { "none".into() },
                c.train.max_epochs.to_string(),
                format!("{:.4}", tr.cv.auc),
                format!("{:.4}", tr.cv.ap),
                format!("{:?}", tr.epochs),
                format!("{:.1} s", tr.seconds),
            ]);
        }
        t
    }

    /// Each candidate's cross-validated AUC at each rung's epoch budget, one line per candidate,
    /// coloured by the rung it reached (the chosen one apart).
    pub fn plot(&self) -> Result<crate::plot::Svg> {
        let last = self.trials.iter().map(|t| t.rung).max().unwrap_or(0);
        let mut candidates: Vec<usize> = self.trials.iter().map(|t| t.candidate).collect();
        candidates.sort_unstable();
        candidates.dedup();
        let chosen = best_trial(&self.trials).map(|t| t.candidate);
        let mut groups: Vec<(String, crate::plot::Polylines)> = Vec::new();
        for c in candidates {
            let line: Vec<(f64, f64)> = self
                .trials
                .iter()
                .filter(|t| t.candidate == c)
                .map(|t| (t.config.train.max_epochs as f64, t.cv.auc))
                .collect();
            let reached = self.trials.iter().filter(|t| t.candidate == c).map(|t| t.rung).max().unwrap_or(0);
            let budget = self.trials.iter().find(|t| t.rung == reached).map_or(0, |t| t.config.train.max_epochs);
            let name = if Some(c) == chosen {
                "chosen".to_string()
            } else if reached == last {
                format!("final rung ({budget} epochs)")
            } else {
                format!("stopped after {budget} epochs")
            };
            match groups.iter_mut().find(|g| g.0 == name) {
                Some(g) => g.1.push(line),
                None => groups.push((name, vec![line])),
            }
        }
        // legend order: how far the candidates went, the chosen one last
        groups.sort_by_key(|g| (g.0 == "chosen", g.1.iter().map(Vec::len).max().unwrap_or(0)));
        crate::plot::trajectories(
            &format!(
                "Successive halving: {} candidates, 3-fold CV AUC per epoch budget",
                self.trials.iter().filter(|t| t.rung == 0).count()
            ),
            "epoch budget",
            "cross-validated ROC AUC",
            &groups,
        )
    }

    /// The chosen and default configurations on the untouched fold 4.    /// The chosen and default configurations on the untouched fold 4.
    pub fn check_table(&self) -> HtmlTable {
        crate::ranking::binary_table(
            "Trained on folds 0–3, scored on fold 4 (never seen by the search)",
            &[("tuned".into(), self.best_on_fold4), ("default".into(), self.default_on_fold4)],
        )
    }

    /// Writes the chosen configuration as JSON, atomically.
    pub fn save_best(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.best).expect("ChurnConfig serialises");
        crate::io::write_bytes_atomic(path.as_ref(), text.as_bytes())
    }

    /// Shows both tables.
    pub fn evcxr_display(&self) {
        self.check_table().evcxr_display();
        self.table().evcxr_display();
    }
}

/// Reads a churn configuration saved by [`TuneReport::save_best`] (or written by hand), checked.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("c.json");
/// std::fs::write(&p, r#"{"architecture": "logistic", "train": {"learning_rate": 0.01}}"#).unwrap();
/// let c = propensity::cdnow::tune::load_config(&p).unwrap();
/// assert_eq!(c.train.learning_rate, 0.01);
/// std::fs::write(&p, r#"{"architecture": "huge"}"#).unwrap();
/// assert!(propensity::cdnow::tune::load_config(&p).is_err());
/// ```
pub fn load_config(path: impl AsRef<Path>) -> Result<ChurnConfig> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let cfg: ChurnConfig = serde_json::from_str(&text).map_err(|e| Error::Json { file: path.into(), source: e })?;
    cfg.check()?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_seeded_and_stays_in_the_space() {
        let space = SearchSpace::default();
        let a = sample(&space, 10, 3);
        assert_eq!(a, sample(&space, 10, 3));
        assert_ne!(a, sample(&space, 10, 4));
        assert!(a.iter().all(|c| space.learning_rates.contains(&c.train.learning_rate)
            && space.batch_sizes.contains(&c.train.batch_size)));
        let bad = TuneConfig {
            strategy: Strategy::SuccessiveHalving { candidates: 4, eta: 1, rungs: 2 },
            ..Default::default()
        };
        assert!(bad.check().is_err());
    }
}
