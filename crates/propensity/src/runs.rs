//! A table of training runs so far, so reruns of a notebook cell can be compared.

use serde::{Deserialize, Serialize};

use crate::display::HtmlTable;
use crate::metrics::{Evaluation, Summary};
use crate::train::History;

/// One finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    /// 1-based run number.
    pub run: usize,
    /// Training seed.
    pub seed: u64,
    /// Epochs run.
    pub epochs: usize,
    /// Loss on the test set.
    pub test_loss: f64,
    /// Accuracy on the test set.
    pub test_accuracy: f64,
}

/// Runs in the order they finished, with a summary of test accuracy.
///
/// ```
/// use propensity::runs::RunTable;
/// use propensity::metrics::Evaluation;
/// let mut runs = RunTable::new(1);
/// assert_eq!(runs.next_seed(), 1);
/// runs.push(1, 12, Evaluation { loss: 0.36, accuracy: 0.80, rows: 448 });
/// runs.push(2, 9, Evaluation { loss: 0.38, accuracy: 0.82, rows: 448 });
/// assert_eq!(runs.next_seed(), 3);
/// assert!((runs.summary().unwrap().mean - 0.81).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTable {
    first_seed: u64,
    rows: Vec<RunRow>,
}

impl RunTable {
    /// An empty table whose first suggested seed is `first_seed`.
    pub fn new(first_seed: u64) -> Self {
        RunTable { first_seed, rows: Vec::new() }
    }

    /// A seed not used yet: one more than the largest so far.
    pub fn next_seed(&self) -> u64 {
        self.rows.iter().map(|r| r.seed + 1).max().unwrap_or(self.first_seed)
    }

    /// Records a run.
    pub fn push(&mut self, seed: u64, epochs: usize, test: Evaluation) {
        let run = self.rows.len() + 1;
        self.rows.push(RunRow { run, seed, epochs, test_loss: test.loss, test_accuracy: test.accuracy });
    }

    /// Records a run from its history and test evaluation.
    pub fn push_history(&mut self, history: &History, test: Evaluation) {
        self.push(history.config.seed, history.epochs_run(), test);
    }

    /// The runs so far.
    pub fn rows(&self) -> &[RunRow] {
        &self.rows
    }

    /// Mean, std, min and max of test accuracy; `None` before the first run.
    pub fn summary(&self) -> Option<Summary> {
        Summary::of(&self.rows.iter().map(|r| r.test_accuracy).collect::<Vec<_>>())
    }

    /// The runs as a table.
    pub fn table(&self) -> HtmlTable {
        let mut t = HtmlTable::new("Runs so far", &["run", "seed", "epochs", "test loss", "test accuracy"]);
        for r in &self.rows {
            t.push(vec![
                r.run.to_string(),
                r.seed.to_string(),
                r.epochs.to_string(),
                format!("{:.4}", r.test_loss),
                format!("{:.2}%", r.test_accuracy * 100.0),
            ]);
        }
        t
    }

    /// One line on test accuracy over the runs, once there are at least two.
    ///
    /// ```
    /// use propensity::{metrics::Evaluation, runs::RunTable};
    /// let mut runs = RunTable::new(1);
    /// runs.push(1, 10, Evaluation { loss: 0.4, accuracy: 0.80, rows: 448 });
    /// assert_eq!(runs.summary_line(), None);
    /// runs.push(2, 12, Evaluation { loss: 0.4, accuracy: 0.82, rows: 448 });
    /// assert_eq!(runs.summary_line().unwrap(),
    ///     "test accuracy over 2 runs: 81.00% ± 1.00 (min 80.00, max 82.00); 11.0 epochs on average");
    /// ```
    pub fn summary_line(&self) -> Option<String> {
        let s = self.summary().filter(|s| s.n > 1)?;
        let epochs = self.rows.iter().map(|r| r.epochs as f64).sum::<f64>() / s.n as f64;
        Some(format!(
            "test accuracy over {} runs: {:.2}% ± {:.2} (min {:.2}, max {:.2}); {epochs:.1} epochs on average",
            s.n,
            s.mean * 100.0,
            s.std * 100.0,
            s.min * 100.0,
            s.max * 100.0
        ))
    }

    /// evcxr's display hook: the table and the summary line.
    pub fn evcxr_display(&self) {
        let summary = self.summary_line().map_or(String::new(), |l| format!("<p>{l}</p>"));
        println!("EVCXR_BEGIN_CONTENT text/html\n{}{summary}\nEVCXR_END_CONTENT", self.table().to_html());
    }
}

impl std::fmt::Display for RunTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table())?;
        if let Some(line) = self.summary_line() {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// One training run as appended to the run log (`runs/runs.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `"audiobooks"`, `"shopping"`, ….
    pub dataset: String,
    /// SHA-256 of the data file.
    pub data_sha256: String,
    /// Free label of the variant (e.g. `"default"`, `"shuffle once"`).
    pub label: String,
    /// The training configuration (its seed included).
    pub config: crate::train::TrainConfig,
    /// Epochs run.
    pub epochs: usize,
    /// Per-epoch history.
    pub history: Vec<crate::train::EpochLog>,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// Test loss.
    pub test_loss: f64,
    /// Other test metrics (macro F1, AUC, …).
    pub metrics: serde_json::Value,
    /// Wall time of training, seconds.
    pub seconds: f64,
    /// `propensity` version.
    pub crate_version: String,
    /// When the run finished (RFC 3339).
    pub finished: String,
}

impl RunRecord {
    /// A record of a finished run.
    pub fn new(
        dataset: &str,
        data_sha256: &str,
        label: &str,
        history: &History,
        test: Evaluation,
        metrics: serde_json::Value,
    ) -> RunRecord {
        RunRecord {
            dataset: dataset.into(),
            data_sha256: data_sha256.into(),
            label: label.into(),
            config: history.config.clone(),
            epochs: history.epochs_run(),
            history: history.epochs.clone(),
            test_accuracy: test.accuracy,
            test_loss: test.loss,
            metrics,
            seconds: history.seconds,
            crate_version: env!("CARGO_PKG_VERSION").into(),
            finished: crate::saved::now_rfc3339(),
        }
    }
}

/// Appends `record` as one JSON line to `path` (created with its folder if needed). The line is
/// written with a single `write` call, so a reader never sees half a record.
pub fn append_record(path: impl AsRef<std::path::Path>, record: &RunRecord) -> crate::Result<()> {
    use std::io::Write;
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    }
    let mut line = serde_json::to_string(record).expect("RunRecord serialises");
    line.push('\n');
    let mut f =
        std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| crate::Error::io(path, e))?;
    f.write_all(line.as_bytes()).map_err(|e| crate::Error::io(path, e))
}

/// Reads every record of a run log; a line that is not a record is an error with its number.
pub fn read_records(path: impl AsRef<std::path::Path>) -> crate::Result<Vec<RunRecord>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| crate::Error::Row {
                file: path.to_path_buf(),
                line: i as u64 + 1,
                message: format!("not a run record: {e}"),
            })
        })
        .collect()
}

/// A mean with its 95 % confidence interval (Student's t on n − 1 degrees of freedom).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Sample size.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (ddof 1).
    pub std: f64,
    /// Lower end of the 95 % interval.
    pub low: f64,
    /// Upper end of the 95 % interval.
    pub high: f64,
}

impl Interval {
    /// The 95 % t-interval of the mean of `values` (at least two).
    ///
    /// ```
    /// use propensity::runs::Interval;
    /// // scipy.stats.t.interval(0.95, 4, loc=3, scale=stats.sem([1, 2, 3, 4, 5])) = (1.0367, 4.9633)
    /// let i = Interval::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    /// assert!((i.low - 1.0367).abs() < 1e-4 && (i.high - 4.9633).abs() < 1e-4);
    /// ```
    pub fn of(values: &[f64]) -> Option<Interval> {
        use statrs::distribution::{ContinuousCDF, StudentsT};
        let n = values.len();
        if n < 2 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).ok()?.inverse_cdf(0.975);
        let half = t * std / (n as f64).sqrt();
        Some(Interval { n, mean, std, low: mean - half, high: mean + half })
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.4} ± {:.4} (95 % CI {:.4} … {:.4}, n = {})", self.mean, self.std, self.low, self.high, self.n)
    }
}

/// Two variants scored on the same seeds: the per-seed differences `b − a` and their interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// Seeds, in order.
    pub seeds: Vec<u64>,
    /// Scores of variant A.
    pub a: Vec<f64>,
    /// Scores of variant B.
    pub b: Vec<f64>,
    /// Interval of the mean difference B − A.
    pub difference: Interval,
}

impl PairedComparison {
    /// Pairs the scores by seed.
    ///
    /// ```
    /// use propensity::runs::PairedComparison;
    /// let c = PairedComparison::new(vec![1, 2, 3], vec![0.80, 0.81, 0.79], vec![0.82, 0.82, 0.81]).unwrap();
    /// assert!((c.difference.mean - 0.05 / 3.0).abs() < 1e-12);
    /// assert!(c.difference.low > 0.0, "B is better on every seed");
    /// ```
    pub fn new(seeds: Vec<u64>, a: Vec<f64>, b: Vec<f64>) -> Option<PairedComparison> {
        if a.len() != b.len() || a.len() != seeds.len() {
            return None;
        }
        let diffs: Vec<f64> = a.iter().zip(&b).map(|(x, y)| y - x).collect();
        Some(PairedComparison { seeds, difference: Interval::of(&diffs)?, a, b })
    }

    /// The comparison as a table.
    pub fn table(&self, name_a: &str, name_b: &str) -> HtmlTable {
        let mut t =
            HtmlTable::new(&format!("Paired comparison: {name_b} − {name_a}"), &["seed", name_a, name_b, "difference"]);
        for ((s, a), b) in self.seeds.iter().zip(&self.a).zip(&self.b) {
            t.push(vec![s.to_string(), format!("{:.4}", a), format!("{:.4}", b), format!("{:+.4}", b - a)]);
        }
        let d = &self.difference;
        t.push(vec![
            "mean".into(),
            String::new(),
            String::new(),
            format!("{:+.4} (95 % CI {:+.4} … {:+.4})", d.mean, d.low, d.high),
        ]);
        t
    }
}

/// The run log as a table: one row per record.
pub fn records_table(records: &[RunRecord]) -> HtmlTable {
    let mut t =
        HtmlTable::new("Run log", &["#", "dataset", "label", "seed", "epochs", "test accuracy", "seconds", "finished"]);
    for (i, r) in records.iter().enumerate() {
        t.push(vec![
            (i + 1).to_string(),
            r.dataset.clone(),
            r.label.clone(),
            r.config.seed.to_string(),
            r.epochs.to_string(),
            format!("{:.2}%", r.test_accuracy * 100.0),
            format!("{:.2}", r.seconds),
            r.finished.clone(),
        ]);
    }
    t
}

/// Test accuracy per run, as a line plot with one series per (dataset, label).
pub fn records_plot(records: &[RunRecord]) -> crate::Result<crate::plot::Svg> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let key = format!("{} / {}", r.dataset, r.label);
        let point = ((i + 1) as f64, r.test_accuracy * 100.0);
        match series.iter_mut().find(|s| s.0 == key) {
            Some(s) => s.1.push(point),
            None => series.push((key, vec![point])),
        }
    }
    // independent runs: points, not a line that suggests a trend from one seed to the next
    crate::plot::scatter("Test accuracy per run", "run", "test accuracy, %", &series)
}

/// Trains two configurations of `network` on the same seeds (each config's seed is
/// replaced) and pairs their test accuracies: the difference B − A with its 95 % interval.
pub fn paired_accuracy(
    network: &crate::network::Network,
    train: &crate::Dataset,
    validation: Option<&crate::Dataset>,
    test: &crate::Dataset,
    a: &crate::train::TrainConfig,
    b: &crate::train::TrainConfig,
    seeds: &[u64],
) -> crate::Result<PairedComparison> {
    let score = |cfg: &crate::train::TrainConfig, seed: u64| -> crate::Result<f64> {
        let fitted = crate::train::Trainer::new(crate::train::TrainConfig { seed, ..cfg.clone() })?
            .fit(network, train, validation)?;
        Ok(fitted.model.evaluate(test)?.accuracy)
    };
    let sa = seeds.iter().map(|&s| score(a, s)).collect::<crate::Result<Vec<_>>>()?;
    let sb = seeds.iter().map(|&s| score(b, s)).collect::<crate::Result<Vec<_>>>()?;
    PairedComparison::new(seeds.to_vec(), sa, sb)
        .ok_or_else(|| crate::Error::Data("a paired comparison needs at least two seeds".into()))
}
