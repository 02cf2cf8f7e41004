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

    /// The runs as a table, with a summary row when there is more than one run.
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
        if let Some(s) = self.summary().filter(|s| s.n > 1) {
            let epochs = self.rows.iter().map(|r| r.epochs as f64).sum::<f64>() / s.n as f64;
            t.push(vec![
                format!("mean ± std of {}", s.n),
                String::new(),
                format!("{epochs:.1}"),
                String::new(),
                format!("{:.2}% ± {:.2} (min {:.2}, max {:.2})", s.mean * 100.0, s.std * 100.0, s.min * 100.0, s.max * 100.0),
            ]);
        }
        t
    }

    /// evcxr's display hook.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display()
    }
}

impl std::fmt::Display for RunTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table())
    }
}
