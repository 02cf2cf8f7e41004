//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `propensity`.
///
/// Variants that come from a file name the file, and where it applies the 1-based line and the
/// column, so a message can be acted on without a debugger:
///
/// ```
/// use propensity::Error;
/// let e = Error::Cell {
///     file: "data/x.csv".into(),
///     line: 7,
///     column: "Price_avg".into(),
///     message: "expected a number, found \"abc\"".into(),
/// };
/// assert_eq!(e.to_string(), "data/x.csv, line 7, column `Price_avg`: expected a number, found \"abc\"");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read, written or renamed.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file concerned.
        file: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file's shape is wrong as a whole (header, column count, no rows).
    #[error("{}: {message}", file.display())]
    Format {
        /// The file concerned.
        file: PathBuf,
        /// What was expected and what was found.
        message: String,
    },
    /// A row has the wrong number of fields or cannot be parsed as CSV.
    #[error("{}, line {line}: {message}", file.display())]
    Row {
        /// The file concerned.
        file: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// What was expected and what was found.
        message: String,
    },
    /// One cell holds a value that is not allowed in its column.
    #[error("{}, line {line}, column `{column}`: {message}", file.display())]
    Cell {
        /// The file concerned.
        file: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// The column's name.
        column: String,
        /// What was expected and what was found.
        message: String,
    },
    /// An `.npz` archive is missing an array, or its arrays do not fit together.
    #[error("{}: {message}", file.display())]
    Npz {
        /// The file concerned.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// In-memory data do not fit the operation (empty, one class only, mismatched lengths, …).
    #[error("invalid data: {0}")]
    Data(String),
    /// A hyperparameter is out of its allowed range.
    #[error("invalid config: `{field}` {message}")]
    Config {
        /// The field's name, as in the serde config.
        field: &'static str,
        /// What is allowed.
        message: String,
    },
    /// Training produced a loss that is NaN or infinite.
    #[error("training diverged: loss is {loss} at epoch {epoch}, batch {batch}")]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The offending value.
        loss: f32,
    },
    /// A saved model file cannot be used: truncated, another architecture, another dataset.
    #[error("{}: {message}", file.display())]
    Model {
        /// The file concerned.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A plot could not be drawn.
    #[error("plot: {0}")]
    Plot(String),
    /// A JSON document could not be written or read.
    #[error("{}: {source}", file.display())]
    Json {
        /// The file concerned.
        file: PathBuf,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] naming `file`.
    ///
    /// ```
    /// let e = propensity::Error::io("out/x.csv", std::io::ErrorKind::NotFound.into());
    /// assert_eq!(e.to_string(), "out/x.csv: entity not found");
    /// ```
    pub fn io(file: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { file: file.into(), source }
    }
}
