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
