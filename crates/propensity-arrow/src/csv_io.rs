//! CSV as Arrow batches: a reader that keeps each row's line number (so bad rows are reported
//! by line, as `propensity score` always did) and builds text columns only for the columns a model
//! reads, and the writer of score batches in the CSV format `propensity score` writes.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, NullArray, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Int64Type, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use propensity::score::{csv_fields, push_probability};

use crate::{Error, Result};

/// A batch of CSV rows as text columns, with their line numbers.
pub(crate) struct CsvBatch {
    /// The rows that have the header's field count: the model's columns as `Utf8`, the others
    /// as `Null`.
    pub batch: RecordBatch,
    /// Each row's line in the file.
    pub lines: Vec<u64>,
    /// Rows with the wrong field count: line and message.
    pub bad: Vec<(u64, String)>,
    /// Bytes read so far (after decompression).
    pub bytes: u64,
}

/// Reads a CSV with a header row (plain or gzip) in batches.
pub(crate) struct CsvBatches {
    rdr: csv::Reader<Box<dyn Read + Send>>,
    path: PathBuf,
    schema: SchemaRef,
    /// For each header column: whether it is built (the model reads it).
    keep: Vec<bool>,
    batch_rows: usize,
    done: bool,
}

impl CsvBatches {
    /// Opens `path` and reads its header; the columns named in `needed` are built as text.
    pub fn open(path: &Path, needed: &[&str], batch_rows: usize) -> Result<CsvBatches> {
        let file = propensity::io::open_input(path)?;
        let mut rdr =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(1 << 20).from_reader(file);
        let mut header = csv::StringRecord::new();
        let row_err = |e: csv::Error| propensity::Error::Row {
            file: path.to_path_buf(),
            line: e.position().map_or(1, |p| p.line()),
            message: e.to_string(),
        };
        if !rdr.read_record(&mut header).map_err(row_err)? {
            return Err(Error::Propensity(propensity::Error::Format {
                file: path.to_path_buf(),
                message: "the file is empty; expected a header row".into(),
            }));
        }
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        let keep: Vec<bool> = names.iter().map(|n| needed.contains(n)).collect();
        let fields = names
            .iter()
            .zip(&keep)
            .map(|(n, &k)| Field::new(*n, if k { DataType::Utf8 } else { DataType::Null }, true))
            .collect::<Vec<_>>();
        let schema = Schema::new(fields);
        Ok(CsvBatches { rdr, path: path.to_path_buf(), schema: Arc::new(schema), keep, batch_rows, done: false })
    }

    /// The header as a schema (unread columns are `Null`).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch, `None` at the end of the file. A row that is not CSV or not UTF-8 text is
    /// an error; a row with the wrong field count is returned as bad.
    pub fn next_batch(&mut self) -> Result<Option<CsvBatch>> {
        if self.done {
            return Ok(None);
        }
        let fields = self.keep.len();
        let mut builders: Vec<Option<StringBuilder>> = self
            .keep
            .iter()
            .map(|&k| k.then(|| StringBuilder::with_capacity(self.batch_rows, self.batch_rows * 8)))
            .collect();
        let (mut lines, mut bad) = (Vec::with_capacity(self.batch_rows), vec![]);
        let mut record = csv::StringRecord::new();
        let kept: Vec<usize> = (0..fields).filter(|&c| self.keep[c]).collect();
        while lines.len() < self.batch_rows {
            let more = self.rdr.read_record(&mut record).map_err(|e| propensity::Error::Row {
                file: self.path.clone(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
            if !more {
                self.done = true;
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != fields {
                bad.push((line, format!("expected {fields} fields (as the header), found {}", record.len())));
                continue;
            }
            for &c in &kept {
                builders[c].as_mut().expect("a kept column").append_value(record[c].trim());
            }
            lines.push(line);
        }
        let columns: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| match b {
                Some(mut b) => Arc::new(b.finish()) as ArrayRef,
                None => Arc::new(NullArray::new(lines.len())),
            })
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|source| Error::Arrow { input: self.path.display().to_string(), source })?;
        Ok(Some(CsvBatch { batch, lines, bad, bytes: self.rdr.position().byte() }))
    }
}

/// The header line of a scores CSV: the output schema's names as CSV fields.
pub(crate) fn header(schema: &Schema) -> String {
    let mut line = csv_fields(schema.fields().iter().map(|f| f.name().as_str()));
    line.push('\n');
    line
}

/// Appends the rows of a score batch whose first `ids` columns are id columns: ids as text
/// (quoted when needed), probabilities with six decimals, predicted amounts with four.
pub(crate) fn rows(out: &mut String, scores: &RecordBatch, ids: usize, input: &str) -> Result<()> {
    let options = FormatOptions::default();
    let arrow_err = |source| Error::Arrow { input: input.into(), source };
    let formatters = scores
        .columns()
        .iter()
        .take(ids)
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).map_err(arrow_err))
        .collect::<Result<Vec<_>>>()?;
    let mut cell = String::new();
    for i in 0..scores.num_rows() {
        for (c, column) in scores.columns().iter().enumerate() {
            if c > 0 {
                out.push(',');
            }
            match column.data_type() {
                DataType::Utf8 => quoted(out, if column.is_null(i) { "" } else { column.as_string::<i32>().value(i) }),
                DataType::Int64 => {
                    let _ = write!(out, "{}", column.as_primitive::<Int64Type>().value(i));
                }
                DataType::Float32 if c >= ids => push_probability(out, column.as_primitive::<Float32Type>().value(i)),
                DataType::Float64 if c >= ids => {
                    let _ = write!(out, "{:.4}", column.as_primitive::<Float64Type>().value(i));
                }
                _ => {
                    cell.clear();
                    let _ = write!(cell, "{}", formatters[c].value(i));
                    quoted(out, &cell);
                }
            }
        }
        out.push('\n');
    }
    Ok(())
}

/// Appends `text` as one CSV field.
fn quoted(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push_str(&csv_fields(std::iter::once(text)));
    } else {
        out.push_str(text);
    }
}
