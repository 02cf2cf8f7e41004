//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong when scoring Arrow batches and files.
///
/// A bad row names where it is: the file and its line for a CSV (as `propensity score` always
/// did), the file or batch and its 1-based row for Parquet and Arrow input.
///
/// ```
/// use propensity_arrow::Error;
/// let e = Error::Row { input: "lake/part-0.parquet".into(), row: 7, message: "column `plan`: unseen category \"x\"".into() };
/// assert_eq!(e.to_string(), "lake/part-0.parquet, row 7: column `plan`: unseen category \"x\"");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the model or a CSV file (`propensity`'s errors, lines included).
    #[error(transparent)]
    Propensity(#[from] propensity::Error),
    /// A row the model cannot read.
    #[error("{input}, row {row}: {message}")]
    Row {
        /// The file, or `the batch` for an in-memory batch.
        input: String,
        /// 1-based row number in the input.
        row: u64,
        /// The column and what was expected.
        message: String,
    },
    /// The input's columns do not fit the model (a column missing, or of a type no step reads).
    #[error("{input}: {message}")]
    Schema {
        /// The file, or `the batch`.
        input: String,
        /// What is missing or wrong.
        message: String,
    },
    /// Arrow could not build or convert an array.
    #[error("{input}: {source}")]
    Arrow {
        /// The file, or `the batch`.
        input: String,
        /// What Arrow said.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A Parquet file could not be read or written.
    #[error("{}: {source}", file.display())]
    Parquet {
        /// The file concerned.
        file: PathBuf,
        /// What the Parquet reader or writer said.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A file format the scorer does not read or write.
    #[error("{}: {message}", file.display())]
    Format {
        /// The file concerned.
        file: PathBuf,
        /// What is supported.
        message: String,
    },
}

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
