//! Seeded transaction logs of any size, for the lifetime-value pipeline at data-lake scale:
//! customers drawn from BG/NBD (purchases) and Gamma-Gamma (amounts), one row per purchase,
//! written as Parquet or CSV in row groups, so memory stays flat whatever the size.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Date32Array, Float64Array, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use propensity::btyd::generate::CustomerDraw;
use propensity::btyd::{BgNbd, GammaGamma};
use propensity::calendar::{days_from_civil, format_date};
use rand::SeedableRng;
use rand_distr::{Distribution, Gamma};

use crate::{Error, Format, Result};

/// What to draw. The defaults are the CDNOW fits (lifetimes' `BetaGeoFitter` and
/// `GammaGammaFitter` on the CDNOW sample, weeks and dollars): first purchases over the 12 weeks
/// from 1997-01-01, 78 weeks observed, on a daily grid.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSpec {
    /// Customers to draw.
    pub customers: u64,
    /// Purchase process, time in weeks.
    pub model: BgNbd,
    /// Amounts per purchase.
    pub spend: GammaGamma,
    /// The first day of the window (days since 1970-01-01).
    pub start: i64,
    /// Days over which first purchases are spread.
    pub cohort_days: u32,
    /// Days observed from `start`.
    pub observed_days: u32,
    /// Seed of the purchases (the amounts use a stream derived from it).
    pub seed: u64,
}

impl Default for LogSpec {
    fn default() -> Self {
        LogSpec {
            customers: 10_000,
            model: BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
            spend: GammaGamma { p: 6.25, q: 3.74, v: 15.44 },
            start: days_from_civil(1997, 1, 1),
            cohort_days: 84,
            observed_days: 546,
            seed: 0,
        }
    }
}

impl LogSpec {
    /// The day after the window, the calibration end that sees every purchase with
    /// T = `observed_days` − the first purchase's day (as [`propensity::btyd::generate::bgnbd`]).
    pub fn end(&self) -> i64 {
        self.start + i64::from(self.observed_days)
    }
}

/// Rows per batch (and Parquet row group) of a generated log.
const BATCH: usize = 1 << 20;

/// Writes the log of `spec` to `path` (Parquet for `.parquet`, else CSV) atomically:
/// `customer_id` (text), `date`, `amount` (dollars and cents), one row per purchase, customers in
/// the order drawn. Returns the rows written. With the same seed, the daily summary of the log is
/// [`propensity::btyd::generate::bgnbd`]'s.
///
/// ```
/// use propensity_arrow::generate::{write_transactions, LogSpec};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("log.parquet");
/// let rows = write_transactions(&path, &LogSpec { customers: 100, seed: 1, ..LogSpec::default() }).unwrap();
/// assert!(rows >= 100); // every customer's first purchase, then the repeats
/// ```
pub fn write_transactions(path: &Path, spec: &LogSpec) -> Result<u64> {
    let mut draw = CustomerDraw::new(&spec.model, 7, spec.cohort_days, spec.observed_days, spec.seed)?;
    let bad = |e: String| propensity::Error::Data(format!("Gamma-Gamma parameters {:?}: {e}", spec.spend));
    let spend_rate = Gamma::new(spec.spend.q, 1.0 / spec.spend.v).map_err(|e| bad(e.to_string()))?;
    // the amounts draw from their own stream, so the purchases are bgnbd's whatever the spend
    let mut amounts = rand::rngs::StdRng::seed_from_u64(spec.seed ^ 0x9E37_79B9_7F4A_7C15);
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("date", DataType::Date32, false),
        Field::new("amount", DataType::Float64, false),
    ]));
    let mut sink = LogSink::create(path, &schema)?;
    let width = spec.customers.max(1).to_string().len();
    let (mut ids, mut days, mut values) = (StringBuilder::new(), Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
    let mut rows = 0u64;
    let mut ticks = Vec::new();
    for k in 0..spec.customers {
        ticks.clear();
        ticks.push(0);
        let c = draw.next(|t| ticks.push(t));
        let nu = spend_rate.sample(&mut amounts);
        let per_purchase = Gamma::new(spec.spend.p, 1.0 / nu).map_err(|e| bad(e.to_string()))?;
        let id = format!("{:0width$}", k + 1);
        for &t in &ticks {
            ids.append_value(&id);
            days.push((spec.start + i64::from(c.first + t)) as i32);
            values.push((per_purchase.sample(&mut amounts) * 100.0).round() / 100.0);
        }
        if days.len() >= BATCH {
            rows += sink.write(&schema, &mut ids, &mut days, &mut values, path)?;
        }
    }
    rows += sink.write(&schema, &mut ids, &mut days, &mut values, path)?;
    sink.finish(path)?;
    Ok(rows)
}

enum LogSink {
    Csv(std::io::BufWriter<propensity::io::Writeback>),
    Parquet(Box<ArrowWriter<propensity::io::Writeback>>),
}

impl LogSink {
    fn create(path: &Path, schema: &SchemaRef) -> Result<LogSink> {
        let tmp = propensity::io::Writeback::beside(path)?;
        Ok(match Format::of(path) {
            Format::Csv => {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp);
                w.write_all(b"customer_id,date,amount\n").map_err(|e| propensity::Error::io(path, e))?;
                LogSink::Csv(w)
            }
            Format::Parquet => {
                let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
                let w = ArrowWriter::try_new(tmp, schema.clone(), Some(props))
                    .map_err(|source| Error::Parquet { file: path.to_path_buf(), source })?;
                LogSink::Parquet(Box::new(w))
            }
        })
    }

    /// Writes and empties the buffered rows; returns how many.
    fn write(
        &mut self,
        schema: &SchemaRef,
        ids: &mut StringBuilder,
        days: &mut Vec<i32>,
        values: &mut Vec<f64>,
        path: &Path,
    ) -> Result<u64> {
        let n = days.len();
        let ids = ids.finish();
        match self {
            LogSink::Csv(w) => {
                let mut text = String::with_capacity(n * 32);
                for i in 0..n {
                    use std::fmt::Write as _;
                    let _ = writeln!(text, "{},{},{:.2}", ids.value(i), format_date(i64::from(days[i])), values[i]);
                }
                w.write_all(text.as_bytes()).map_err(|e| propensity::Error::io(path, e))?;
            }
            LogSink::Parquet(w) => {
                let columns: Vec<arrow::array::ArrayRef> = vec![
                    Arc::new(ids),
                    Arc::new(Date32Array::from(std::mem::take(days))),
                    Arc::new(Float64Array::from(std::mem::take(values))),
                ];
                let batch = RecordBatch::try_new(schema.clone(), columns)
                    .map_err(|source| Error::Arrow { input: path.display().to_string(), source })?;
                w.write(&batch).map_err(|source| Error::Parquet { file: path.to_path_buf(), source })?;
            }
        }
        days.clear();
        values.clear();
        Ok(n as u64)
    }

    fn finish(self, path: &Path) -> Result<()> {
        let tmp = match self {
            LogSink::Csv(w) => w.into_inner().map_err(|e| propensity::Error::io(path, e.into_error()))?,
            LogSink::Parquet(w) => {
                w.into_inner().map_err(|source| Error::Parquet { file: path.to_path_buf(), source })?
            }
        };
        Ok(tmp.persist(path)?)
    }
}
