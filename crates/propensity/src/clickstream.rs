//! In-session conversion and user churn on an e-commerce clickstream (31,106 events of 3,605
//! sessions by 600 users, January–June 2024, read gzipped).
//!
//! **Leakage rule.** A prediction made at some moment uses only what was known then:
//! - *conversion* is predicted at the 5th event of a session that has at least 5 events and no
//!   purchase among them, from those 5 events (counts per type, where the first cart event came,
//!   seconds elapsed) plus the session's context and the user's history of sessions *started*
//!   before it (prior sessions; prior purchases whose purchase event happened before the session
//!   started). Windows "before add_to_cart" or "before payment" leak — a session without
//!   add_to_cart never converts, and unconverted sessions would be seen whole.
//! - *churn* at a cutoff uses sessions started before the cutoff; the label is "no session in the
//!   30 days from the cutoff". Training uses the cutoff 2024-05-01, testing 2024-05-31.
//!
//! Sessions are split in time for conversion: those starting before 2024-05-15 train, later ones
//! test.
//!
//! ```no_run
//! use propensity::{clickstream, paths};
//! # fn main() -> propensity::Result<()> {
//! let events = clickstream::read(paths::data_file(clickstream::FILE)?)?;
//! let report = clickstream::conversion(&events, &clickstream::ClickConfig::default())?;
//! report.evcxr_display();
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::path::Path;

use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::calendar::{days_from_civil, parse_timestamp};
use crate::display::HtmlTable;
use crate::model::Model;
use crate::network::{Head, Network};
use crate::preprocess::{FittedScaler, StandardScaler};
use crate::ranking::{bootstrap_auc, BinaryScores};
use crate::saved::{ModelCard, Preprocessing, SavedModel};
use crate::train::{EarlyStoppingConfig, TrainConfig, Trainer};
use crate::{Dataset, Error, Result};

/// The data file's name in `data/`.
pub const FILE: &str = "ecom_clickstream.csv.gz";
/// The columns, in order.
pub const COLUMNS: [&str; 8] =
    ["user_id", "session_id", "event", "timestamp", "platform", "acquisition_channel", "user_cohort", "user_lifecycle"];
/// The event types, sorted.
pub const EVENTS: [&str; 19] = [
    "account_page",
    "add_to_cart",
    "cart",
    "catalog",
    "checkout_bug",
    "compare",
    "error_page",
    "filter_results",
    "home",
    "payment_details",
    "payment_error",
    "product_view",
    "promo_page",
    "purchase",
    "review_page",
    "search",
    "shipping_details",
    "support_chat",
    "wishlist_add",
];
/// Platforms.
pub const PLATFORMS: [&str; 3] = ["desktop", "mobile", "tablet"];
/// Acquisition channels.
pub const CHANNELS: [&str; 5] = ["direct", "email", "organic", "paid_search", "social"];
/// Lifecycle stages.
pub const LIFECYCLES: [&str; 3] = ["loyal", "new", "returning"];

const PURCHASE: usize = 13;
const ADD_TO_CART: usize = 1;

/// One event, with its categorical fields as indices into the constants above.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// User id, e.g. `user_0007`.
    pub user: String,
    /// Session id.
    pub session: String,
    /// Index into [`EVENTS`].
    pub event: usize,
    /// Seconds since 1970-01-01.
    pub time: i64,
    /// Index into [`PLATFORMS`].
    pub platform: usize,
    /// Index into [`CHANNELS`].
    pub channel: usize,
    /// Months since 2024-01 of the user's cohort (`YYYY-MM`).
    pub cohort: i32,
    /// Index into [`LIFECYCLES`].
    pub lifecycle: usize,
}

/// Reads the clickstream (`.csv` or gzipped `.csv.gz`), checking every field: an unknown event
/// type or level, or a bad timestamp, is an error naming the line and column.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("c.csv");
/// let head = "user_id,session_id,event,timestamp,platform,acquisition_channel,user_cohort,user_lifecycle\n";
/// std::fs::write(&p, format!("{head}user_1,s1,home,2024-03-13 10:21:14,desktop,email,2024-01,new\n")).unwrap();
/// assert_eq!(propensity::clickstream::read(&p).unwrap()[0].event, 8);
/// std::fs::write(&p, format!("{head}user_1,s1,teleport,2024-03-13 10:21:14,desktop,email,2024-01,new\n")).unwrap();
/// let e = propensity::clickstream::read(&p).unwrap_err().to_string();
/// assert!(e.contains("line 2, column `event`"), "{e}");
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<Vec<Event>> {
    let path = path.as_ref();
    let mut reader = csv::Reader::from_reader(crate::io::open_input(path)?);
    let format = |message: String| Error::Format { file: path.into(), message };
    let header: Vec<String> = reader.headers().map_err(|e| format(e.to_string()))?.iter().map(str::to_string).collect();
    if header != COLUMNS {
        return Err(format(format!("expected the columns {}, found {}", COLUMNS.join(","), header.join(","))));
    }
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| Error::Row { file: path.into(), line, message: e.to_string() })?;
        let cell =
            |j: usize, message: String| Error::Cell { file: path.into(), line, column: COLUMNS[j].into(), message };
        let level = |j: usize, levels: &[&str]| -> Result<usize> {
            levels
                .iter()
                .position(|l| *l == &rec[j])
                .ok_or_else(|| cell(j, format!("expected one of {levels:?}, found {:?}", &rec[j])))
        };
        let text = |j: usize| -> Result<String> {
            if rec[j].trim().is_empty() {
                Err(cell(j, "missing value".into()))
            } else {
                Ok(rec[j].to_string())
            }
        };
        let cohort = rec[6]
            .split_once('-')
            .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<i32>().ok()?)))
            .filter(|(_, m)| (1..=12).contains(m))
            .map(|(y, m)| (y - 2024) * 12 + m - 1)
            .ok_or_else(|| cell(6, format!("expected a month YYYY-MM, found {:?}", &rec[6])))?;
        out.push(Event {
            user: text(0)?,
            session: text(1)?,
            event: level(2, &EVENTS)?,
            time: parse_timestamp(&rec[3]).map_err(|m| cell(3, m))?,
            platform: level(4, &PLATFORMS)?,
            channel: level(5, &CHANNELS)?,
            cohort,
            lifecycle: level(7, &LIFECYCLES)?,
        });
    }
    if out.is_empty() {
        return Err(format("no events".into()));
    }
    Ok(out)
}

/// One session: its events in order and its context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// User id.
    pub user: String,
    /// Event types in order (file order within equal timestamps).
    pub events: Vec<usize>,
    /// Event times, seconds.
    pub times: Vec<i64>,
    /// Platform of the first event.
    pub platform: usize,
    /// Acquisition channel.
    pub channel: usize,
    /// Cohort, months since 2024-01.
    pub cohort: i32,
    /// Lifecycle stage.
    pub lifecycle: usize,
}

impl Session {
    /// Start time.
    pub fn start(&self) -> i64 {
        self.times[0]
    }

    /// Position of the first purchase event, if any.
    pub fn first_purchase(&self) -> Option<usize> {
        self.events.iter().position(|&e| e == PURCHASE)
    }

    /// Time of the first purchase event, if any.
    pub fn purchase_time(&self) -> Option<i64> {
        self.first_purchase().map(|p| self.times[p])
    }

    /// True when the session contains a purchase.
    pub fn converted(&self) -> bool {
        self.first_purchase().is_some()
    }
}

/// Groups events into sessions (sorted by user, start, id), each session's events ordered by time
/// and then file order.
pub fn sessions(events: &[Event]) -> Vec<Session> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<Session> = Vec::new();
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|&a, &b| {
        events[a].session.cmp(&events[b].session).then(events[a].time.cmp(&events[b].time)).then(a.cmp(&b))
    });
    for i in order {
        let e = &events[i];
        let k = *index.entry(&e.session).or_insert_with(|| {
            out.push(Session {
                id: e.session.clone(),
                user: e.user.clone(),
                events: vec![],
                times: vec![],
                platform: e.platform,
                channel: e.channel,
                cohort: e.cohort,
                lifecycle: e.lifecycle,
            });
            out.len() - 1
        });
        out[k].events.push(e.event);
        out[k].times.push(e.time);
    }
    out.sort_by(|a, b| a.user.cmp(&b.user).then(a.start().cmp(&b.start())).then(a.id.cmp(&b.id)));
    out
}

/// Settings of both tasks. Defaults: the peers' dates and prefix length, a logistic network, Adam
/// 1e-2, batch 64, early stopping (patience 20, best epoch restored) on 15 % of the training rows,
/// seed 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickConfig {
    /// Events seen before the conversion prediction.
    pub prefix: usize,
    /// Sessions starting before this day (`YYYYMMDD`) train the conversion model.
    pub conversion_split: String,
    /// Churn cutoff of the training snapshot.
    pub churn_train_cutoff: String,
    /// Churn cutoff of the test snapshot.
    pub churn_test_cutoff: String,
    /// Days after a cutoff without a session that make a user churned.
    pub churn_window_days: i64,
    /// Share of training rows held out for early stopping.
    pub validation_share: f64,
    /// Optimizer settings.
    pub train: TrainConfig,
}

impl Default for ClickConfig {
    fn default() -> Self {
        ClickConfig {
            prefix: 5,
            conversion_split: "20240515".into(),
            churn_train_cutoff: "20240501".into(),
            churn_test_cutoff: "20240531".into(),
            churn_window_days: 30,
            validation_share: 0.15,
            train: TrainConfig {
                batch_size: 64,
                max_epochs: 300,
                learning_rate: 1e-2,
                early_stopping: Some(EarlyStoppingConfig { patience: 20, min_delta: 0.0, restore_best: true }),
                seed: 0,
                adam: crate::optim::AdamForm::Pytorch,
                ..TrainConfig::default()
            },
        }
    }
}

fn day_seconds(field: &'static str, s: &str) -> Result<i64> {
    crate::calendar::parse_yyyymmdd(s).map(|d| d * 86_400).map_err(|m| Error::Config { field, message: m })
}

/// Names of the conversion inputs.
pub fn conversion_inputs() -> Vec<String> {
    let mut v: Vec<String> = EVENTS.iter().filter(|e| **e != "purchase").map(|e| format!("n_{e}")).collect();
    v.extend(
        ["first_add_to_cart_pos", "log_prefix_seconds", "hour", "prior_sessions", "prior_purchases"].map(String::from),
    );
    v.extend(PLATFORMS.iter().map(|l| format!("platform={l}")));
    v.extend(CHANNELS.iter().map(|l| format!("channel={l}")));
    v.extend(LIFECYCLES.iter().map(|l| format!("lifecycle={l}")));
    v
}

/// Conversion input width.
pub const CONVERSION_INPUTS: usize = 18 + 5 + 3 + 5 + 3;

/// Names of the churn inputs.
pub fn churn_inputs() -> Vec<String> {
    let mut v: Vec<String> = [
        "n_sessions",
        "n_purchase_sessions",
        "n_events",
        "days_since_last_session",
        "days_since_first_session",
        "sessions_last_30d",
        "sessions_last_7d",
        "has_purchase",
        "days_since_last_purchase",
        "events_per_session",
        "cohort_month",
    ]
    .map(String::from)
    .to_vec();
    v.extend(EVENTS.iter().map(|e| format!("total_{e}")));
    v.extend(CHANNELS.iter().map(|l| format!("channel={l}")));
    v.extend(PLATFORMS.iter().map(|l| format!("last_platform={l}")));
    v.extend(LIFECYCLES.iter().map(|l| format!("last_lifecycle={l}")));
    v
}

/// Churn input width.
pub const CHURN_INPUTS: usize = 11 + 19 + 5 + 3 + 3;

/// Logistic regression (no hidden layer) or a small MLP (one hidden layer of 16) on `inputs`
/// columns, two classes.
///
/// ```
/// assert_eq!(propensity::clickstream::network(34, false).name(), "mlp-34-2");
/// assert_eq!(propensity::clickstream::network(41, true).name(), "mlp-41-16-2");
/// ```
pub fn network(inputs: usize, hidden: bool) -> Network {
    Network::mlp(inputs, if hidden { &[16] } else { &[] }, 2, Head::Softmax)
}

fn one_hot(out: &mut Vec<f64>, level: usize, n: usize) {
    out.extend((0..n).map(|i| f64::from(u8::from(i == level))));
}

/// Model-ready rows of one task: inputs, 0/1 labels, and a row id.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Inputs (unscaled).
    pub x: Array2<f64>,
    /// Labels (1 = converted, or 1 = churned).
    pub y: Vec<usize>,
    /// Session or user id per row.
    pub ids: Vec<String>,
}

impl Rows {
    /// Writes the rows as a feature file: `id_column`, the task's inputs, its target (atomically);
    /// the input of [`crate::score::score_csv`] for the task's saved model.
    pub fn write_csv(&self, path: impl AsRef<Path>, task: Task) -> Result<()> {
        use std::io::Write;
        let names = task.inputs();
        if names.len() != self.x.ncols() {
            return Err(Error::Data(format!("{} inputs for a {}-column table", names.len(), self.x.ncols())));
        }
        crate::io::write_atomic(path.as_ref(), |w| {
            writeln!(w, "{},{},{}", task.id(), names.join(","), task.target())?;
            for (i, row) in self.x.rows().into_iter().enumerate() {
                write!(w, "{}", self.ids[i])?;
                for v in row {
                    write!(w, ",{v}")?;
                }
                writeln!(w, ",{}", self.y[i])?;
            }
            Ok(())
        })
    }
}

fn rows(features: Vec<Vec<f64>>, y: Vec<usize>, ids: Vec<String>, width: usize) -> Result<Rows> {
    if features.is_empty() {
        return Err(Error::Data("no rows for this task".into()));
    }
    let x =
        Array2::from_shape_vec((features.len(), width), features.concat()).map_err(|e| Error::Data(e.to_string()))?;
    Ok(Rows { x, y, ids })
}

/// The conversion rows of `sessions`: those with at least `prefix` events and no purchase among
/// them, with the features of the leakage rule; `train` tells which start before `split`.
pub fn conversion_rows(sessions: &[Session], prefix: usize, split: i64) -> Result<(Rows, Vec<bool>)> {
    let mut purchases_by_user: HashMap<&str, Vec<i64>> = HashMap::new();
    let mut starts_by_user: HashMap<&str, Vec<i64>> = HashMap::new();
    for s in sessions {
        if let Some(t) = s.purchase_time() {
            purchases_by_user.entry(&s.user).or_default().push(t);
        }
        starts_by_user.entry(&s.user).or_default().push(s.start());
    }
    let (mut feats, mut y, mut ids, mut train) = (vec![], vec![], vec![], vec![]);
    for s in sessions {
        if s.events.len() < prefix || s.first_purchase().is_some_and(|p| p < prefix) {
            continue;
        }
        let start = s.start();
        let mut f = Vec::with_capacity(CONVERSION_INPUTS);
        for (k, _) in EVENTS.iter().enumerate().filter(|(k, _)| *k != PURCHASE) {
            f.push(s.events[..prefix].iter().filter(|&&e| e == k).count() as f64);
        }
        f.push(s.events[..prefix].iter().position(|&e| e == ADD_TO_CART).unwrap_or(prefix) as f64);
        f.push(((s.times[prefix - 1] - start) as f64).ln_1p());
        f.push(((start.rem_euclid(86_400)) / 3600) as f64);
        f.push(starts_by_user[s.user.as_str()].iter().filter(|&&t| t < start).count() as f64);
        f.push(purchases_by_user.get(s.user.as_str()).map_or(0, |v| v.iter().filter(|&&t| t < start).count()) as f64);
        one_hot(&mut f, s.platform, PLATFORMS.len());
        one_hot(&mut f, s.channel, CHANNELS.len());
        one_hot(&mut f, s.lifecycle, LIFECYCLES.len());
        feats.push(f);
        y.push(usize::from(s.converted()));
        ids.push(s.id.clone());
        train.push(start < split);
    }
    Ok((rows(feats, y, ids, CONVERSION_INPUTS)?, train))
}

/// One row per user with a session before `cutoff`: features from those sessions, label 1 when the
/// user has no session in `[cutoff, cutoff + window)`.
pub fn churn_rows(sessions: &[Session], cutoff: i64, window_days: i64) -> Result<Rows> {
    let window = window_days * 86_400;
    let day = 86_400.0;
    let (mut feats, mut y, mut ids) = (vec![], vec![], vec![]);
    let mut i = 0;
    while i < sessions.len() {
        let user = &sessions[i].user;
        let mut j = i;
        while j < sessions.len() && &sessions[j].user == user {
            j += 1;
        }
        let mine = &sessions[i..j];
        i = j;
        let before: Vec<&Session> = mine.iter().filter(|s| s.start() < cutoff).collect();
        let Some(last) = before.last() else { continue };
        let first = before[0];
        let n = before.len() as f64;
        let purchases: Vec<i64> = before.iter().filter_map(|s| s.purchase_time()).filter(|&t| t < cutoff).collect();
        let events: usize =
            before.iter().map(|s| s.events.iter().zip(&s.times).filter(|(_, &t)| t < cutoff).count()).sum();
        let since_first = (cutoff - first.start()) as f64 / day;
        let mut f = vec![
            n,
            purchases.len() as f64,
            events as f64,
            (cutoff - last.start()) as f64 / day,
            since_first,
            before.iter().filter(|s| s.start() >= cutoff - window).count() as f64,
            before.iter().filter(|s| s.start() >= cutoff - 7 * 86_400).count() as f64,
            f64::from(u8::from(!purchases.is_empty())),
            purchases.iter().max().map_or(since_first, |&t| (cutoff - t) as f64 / day),
            events as f64 / n,
            f64::from(last.cohort),
        ];
        for k in 0..EVENTS.len() {
            f.push(
                before
                    .iter()
                    .map(|s| s.events.iter().zip(&s.times).filter(|(&e, &t)| e == k && t < cutoff).count())
                    .sum::<usize>() as f64,
            );
        }
        one_hot(&mut f, last.channel, CHANNELS.len());
        one_hot(&mut f, last.platform, PLATFORMS.len());
        one_hot(&mut f, last.lifecycle, LIFECYCLES.len());
        feats.push(f);
        y.push(usize::from(!mine.iter().any(|s| s.start() >= cutoff && s.start() < cutoff + window)));
        ids.push(user.clone());
    }
    rows(feats, y, ids, CHURN_INPUTS)
}

/// Test scores of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    /// Model name.
    pub model: String,
    /// AUC, AP, lift on the test rows.
    pub scores: BinaryScores,
    /// Percentile-bootstrap 95 % interval of the AUC (1,000 resamples, seed 0).
    pub auc_ci95: (f64, f64),
    /// Epochs trained.
    pub epochs: usize,
    /// Training time, seconds.
    pub seconds: f64,
}

/// A task's rows and results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// What was predicted.
    pub task: String,
    /// Training rows and their positive rate.
    pub train_rows: (usize, f64),
    /// Test rows and their positive rate.
    pub test_rows: (usize, f64),
    /// One result per model, the logistic network first.
    pub results: Vec<ModelResult>,
    /// The peers' numbers on the same split, for the table.
    pub peers: Vec<(String, f64, f64)>,
}

/// Trains `network` on `train` (a seeded share held out for early stopping),
/// with a scaler fitted on the rows it trains on.
fn fit(network: &Network, train: &Rows, cfg: &ClickConfig) -> Result<(Model, FittedScaler, usize, f64)> {
    let mut order: Vec<usize> = (0..train.y.len()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(cfg.train.seed));
    let n_val = ((order.len() as f64) * cfg.validation_share).round() as usize;
    let (val, fit) = order.split_at(n_val);
    let scaler = StandardScaler::fit(&train.x.select(ndarray::Axis(0), fit))?;
    let pick = |r: &[usize]| -> Result<Dataset> {
        Dataset::from_f64(
            &scaler.transform(&train.x.select(ndarray::Axis(0), r))?,
            r.iter().map(|&i| train.y[i]).collect(),
        )
    };
    let start = std::time::Instant::now();
    let fitted = Trainer::new(cfg.train.clone())?.fit(network, &pick(fit)?, Some(&pick(val)?))?;
    Ok((fitted.model, scaler, fitted.history.epochs_run(), start.elapsed().as_secs_f64()))
}

/// P(class 1) of every test row and whether the row is positive.
fn test_scores(model: &Model, scaler: &FittedScaler, test: &Rows) -> Result<(Vec<f64>, Vec<bool>)> {
    let p = model.predict_proba(&scaler.transform(&test.x)?.mapv(|v| v as f32))?;
    Ok((p.column(1).iter().map(|&v| f64::from(v)).collect(), test.y.iter().map(|&v| v == 1).collect()))
}

fn fit_eval(name: &str, hidden: bool, train: &Rows, test: &Rows, cfg: &ClickConfig) -> Result<ModelResult> {
    let (model, scaler, epochs, seconds) = fit(&network(train.x.ncols(), hidden), train, cfg)?;
    let (score, positive) = test_scores(&model, &scaler, test)?;
    let ids: Vec<u64> = (0..score.len() as u64).collect();
    Ok(ModelResult {
        model: name.into(),
        scores: BinaryScores::of(&score, &positive, &ids)?,
        auc_ci95: bootstrap_auc(&score, &positive, 1000, 0)?,
        epochs,
        seconds,
    })
}

/// The logistic network of a task trained on its training rows and saved with its scaler, with
/// the test rows (write them with [`Rows::write_csv`] and score them with
/// [`crate::score::score_csv`]).
fn saved_model(train: Rows, test: Rows, task: Task, cfg: &ClickConfig, data_file: &Path) -> Result<(SavedModel, Rows)> {
    let (model, scaler, epochs, _) = fit(&network(train.x.ncols(), false), &train, cfg)?;
    let (score, positive) = test_scores(&model, &scaler, &test)?;
    let auc = crate::classify::roc_auc(&score, &positive)?;
    let card = ModelCard::new(data_file, &cfg.train, serde_json::json!({ "test_auc": auc, "epochs": epochs }))?;
    let pre = Preprocessing {
        pipeline: crate::pipeline::FittedPipeline::numeric(task.inputs(), Some(scaler)),
        id: vec![task.id().into()],
        target: vec![task.target().into()],
        labels: crate::saved::Labels::Codes,
        regression: None,
    };
    Ok((SavedModel::new(&model, task.classes(), pre, card), test))
}

/// The two clickstream tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Session conversion at the prefix.
    Conversion,
    /// User churn in the window after the cutoff.
    Churn,
}

impl Task {
    /// The id column of the task's feature file.
    pub fn id(self) -> &'static str {
        match self {
            Task::Conversion => "session_id",
            Task::Churn => "user_id",
        }
    }

    /// The target column of the task's feature file (1 = converted / churned).
    pub fn target(self) -> &'static str {
        match self {
            Task::Conversion => "converted",
            Task::Churn => "churned",
        }
    }

    /// Input names.
    pub fn inputs(self) -> Vec<String> {
        match self {
            Task::Conversion => conversion_inputs(),
            Task::Churn => churn_inputs(),
        }
    }

    /// Class names, index order.
    pub fn classes(self) -> Vec<String> {
        match self {
            Task::Conversion => vec!["no_purchase".into(), "purchase".into()],
            Task::Churn => vec!["active".into(), "churned".into()],
        }
    }
}

/// The task's training and test rows (conversion: split in time; churn: two snapshots).
pub fn task_rows(events: &[Event], task: Task, cfg: &ClickConfig) -> Result<(Rows, Rows)> {
    let s = sessions(events);
    match task {
        Task::Conversion => {
            if cfg.prefix == 0 {
                return Err(Error::Config { field: "prefix", message: "must be at least 1".into() });
            }
            let split = day_seconds("conversion_split", &cfg.conversion_split)?;
            let (all, train_mask) = conversion_rows(&s, cfg.prefix, split)?;
            Ok(split_rows(&all, &train_mask))
        }
        Task::Churn => Ok((
            churn_rows(&s, day_seconds("churn_train_cutoff", &cfg.churn_train_cutoff)?, cfg.churn_window_days)?,
            churn_rows(&s, day_seconds("churn_test_cutoff", &cfg.churn_test_cutoff)?, cfg.churn_window_days)?,
        )),
    }
}

/// Trains the task's logistic network on its training rows and returns it as a saved model with
/// the test rows.
pub fn train_model(events: &[Event], task: Task, cfg: &ClickConfig, data_file: &Path) -> Result<(SavedModel, Rows)> {
    cfg.train.check()?;
    let (train, test) = task_rows(events, task, cfg)?;
    saved_model(train, test, task, cfg, data_file)
}

fn rate(y: &[usize]) -> f64 {
    y.iter().sum::<usize>() as f64 / y.len() as f64
}

/// Session conversion: builds the prefix rows, splits them in time, trains the logistic network and
/// the MLP on the earlier sessions and scores the later ones.
pub fn conversion(events: &[Event], cfg: &ClickConfig) -> Result<TaskReport> {
    cfg.train.check()?;
    let (train, test) = task_rows(events, Task::Conversion, cfg)?;
    Ok(TaskReport {
        task: format!("conversion at the {}th event (sessions split at {})", cfg.prefix, iso(&cfg.conversion_split)),
        train_rows: (train.y.len(), rate(&train.y)),
        test_rows: (test.y.len(), rate(&test.y)),
        results: vec![
            fit_eval("logistic network", false, &train, &test, cfg)?,
            fit_eval("MLP 34-16-2", true, &train, &test, cfg)?,
        ],
        peers: vec![
            ("scikit-learn logistic regression".into(), 0.779, 0.469),
            ("scikit-learn gradient boosting".into(), 0.771, f64::NAN),
        ],
    })
}

fn split_rows(all: &Rows, train_mask: &[bool]) -> (Rows, Rows) {
    let pick = |want: bool| {
        let r: Vec<usize> = (0..train_mask.len()).filter(|&i| train_mask[i] == want).collect();
        Rows {
            x: all.x.select(ndarray::Axis(0), &r),
            y: r.iter().map(|&i| all.y[i]).collect(),
            ids: r.iter().map(|&i| all.ids[i].clone()).collect(),
        }
    };
    (pick(true), pick(false))
}

/// A configured `yyyymmdd` day as a reader writes it (`2024-05-15`); the tasks parse the days
/// before their titles are made.
fn iso(day: &str) -> String {
    crate::calendar::parse_yyyymmdd(day).map_or_else(|_| day.to_string(), crate::calendar::format_date)
}

/// User churn: a training snapshot at `churn_train_cutoff`, a test snapshot at `churn_test_cutoff`.
pub fn churn(events: &[Event], cfg: &ClickConfig) -> Result<TaskReport> {
    cfg.train.check()?;
    let (train, test) = task_rows(events, Task::Churn, cfg)?;
    Ok(TaskReport {
        task: format!(
            "churn: no session in the {} days after the cutoff (train {}, test {})",
            cfg.churn_window_days,
            iso(&cfg.churn_train_cutoff),
            iso(&cfg.churn_test_cutoff)
        ),
        train_rows: (train.y.len(), rate(&train.y)),
        test_rows: (test.y.len(), rate(&test.y)),
        results: vec![
            fit_eval("logistic network", false, &train, &test, cfg)?,
            fit_eval("MLP 41-16-2", true, &train, &test, cfg)?,
        ],
        peers: vec![("scikit-learn logistic regression".into(), 0.676, f64::NAN)],
    })
}

impl TaskReport {
    /// Our models and the peers in one table.
    pub fn table(&self) -> HtmlTable {
        let mut t = HtmlTable::new(
            &format!(
                "{} — train {} rows ({:.1} % positive), test {} rows ({:.1} % positive)",
                self.task,
                self.train_rows.0,
                100.0 * self.train_rows.1,
                self.test_rows.0,
                100.0 * self.test_rows.1
            ),
            &["model", "ROC AUC", "AUC 95 % CI", "AP", "top-decile lift", "epochs", "fit time"],
        );
        for r in &self.results {
            t.push(vec![
                r.model.clone(),
                format!("{:.3}", r.scores.auc),
                format!("{:.3}–{:.3}", r.auc_ci95.0, r.auc_ci95.1),
                format!("{:.3}", r.scores.ap),
                format!("{:.2}", r.scores.top_decile_lift),
                r.epochs.to_string(),
                format!("{:.2} s", r.seconds),
            ]);
        }
        for (name, auc, ap) in &self.peers {
            let ap = if ap.is_nan() { "—".to_string() } else { format!("{ap:.3}") };
            t.push(vec![
                format!("peer: {name}"),
                format!("{auc:.3}"),
                "—".into(),
                ap,
                "—".into(),
                "—".into(),
                "—".into(),
            ]);
        }
        t
    }

    /// Shows the table.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

/// Day number of a `YYYY-MM-DD` date at midnight, in seconds (for notebooks).
pub fn midnight(year: i32, month: u32, day: u32) -> i64 {
    days_from_civil(year, month, day) * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(user: &str, session: &str, event: &str, time: i64) -> Event {
        Event {
            user: user.into(),
            session: session.into(),
            event: EVENTS.iter().position(|e| *e == event).unwrap(),
            time,
            platform: 0,
            channel: 1,
            cohort: 0,
            lifecycle: 2,
        }
    }

    fn log() -> Vec<Event> {
        let mut v = vec![];
        for (k, e) in ["home", "catalog", "add_to_cart", "cart", "search", "purchase"].iter().enumerate() {
            v.push(ev("u1", "a", e, 1000 + k as i64 * 10));
        }
        for (k, e) in ["home", "search", "product_view", "catalog", "search", "home"].iter().enumerate() {
            v.push(ev("u1", "b", e, 5000 + k as i64 * 10));
        }
        v
    }

    #[test]
    fn conversion_features_follow_the_leakage_rule() {
        let (r, _) = conversion_rows(&sessions(&log()), 5, 10_000).unwrap();
        assert_eq!(r.ids, ["a", "b"]);
        assert_eq!(r.y, [1, 0]);
        let names = conversion_inputs();
        let col = |n: &str| names.iter().position(|x| x == n).unwrap();
        // hand calculation: session a has add_to_cart at position 2; b has two searches, none
        assert_eq!((r.x[[0, col("first_add_to_cart_pos")]], r.x[[1, col("first_add_to_cart_pos")]]), (2.0, 5.0));
        assert_eq!(r.x[[1, col("n_search")]], 2.0);
        // b starts after a's purchase: one prior session, one prior purchase
        assert_eq!((r.x[[1, col("prior_sessions")]], r.x[[1, col("prior_purchases")]]), (1.0, 1.0));
        assert_eq!(names.len(), CONVERSION_INPUTS);
    }

    #[test]
    fn a_future_event_cannot_change_a_feature() {
        let base = log();
        let (a, _) = conversion_rows(&sessions(&base), 5, 10_000).unwrap();
        let mut later = base.clone();
        later.push(ev("u1", "b", "purchase", 7000)); // after b's 5th event and after the churn cutoff
        later.push(ev("u1", "c", "purchase", 9000)); // a later session
        let (b, _) = conversion_rows(&sessions(&later), 5, 10_000).unwrap();
        assert_eq!(a.x, b.x.slice(ndarray::s![..2, ..]));
        assert_eq!(b.y[1], 1); // only the label of b changed
        let c1 = churn_rows(&sessions(&base), 6000, 30).unwrap();
        let c2 = churn_rows(&sessions(&later), 6000, 30).unwrap();
        assert_eq!(c1.x, c2.x);
        assert_eq!((c1.y[0], c2.y[0]), (1, 0)); // the session at 9000 is inside the window
    }
}
