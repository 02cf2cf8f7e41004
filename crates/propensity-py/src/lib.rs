//! `propensity._propensity`, the compiled half of the `propensity` Python package: a saved model
//! scores pyarrow record batches through the Arrow C data interface (the batch's buffers are
//! read in place, the scores handed back without a copy), with the same `Scorer` the CLI and
//! Spark use. The Python half (`python/propensity`) turns pandas and polars frames into Arrow and
//! back.

use std::path::PathBuf;
use std::ptr::addr_of;

use arrow::array::{Array, RecordBatch, StructArray};
use arrow::datatypes::Schema;
use arrow::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use propensity::loaded::LoadedModel;
use propensity::score::ScoreOptions;
use propensity_arrow::{Error, Scorer};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    propensity,
    ScoringError,
    PyValueError,
    "A row or column the model cannot read; the message names the row (or CSV line) and column."
);

/// A Rust error as the Python exception a user would catch: files → OSError, data → ScoringError.
fn py_err(e: Error) -> PyErr {
    match &e {
        Error::Propensity(propensity::Error::Io { .. }) => PyOSError::new_err(e.to_string()),
        _ => ScoringError::new_err(e.to_string()),
    }
}

/// A pyarrow schema as an Arrow schema (through `_export_to_c`).
fn schema_from_py(schema: &Bound<'_, PyAny>) -> PyResult<Schema> {
    let c = FFI_ArrowSchema::empty();
    schema.call_method1("_export_to_c", (addr_of!(c) as usize,))?;
    Schema::try_from(&c).map_err(|e| PyValueError::new_err(format!("not an Arrow schema: {e}")))
}

/// An Arrow schema as a pyarrow schema.
fn schema_to_py<'py>(py: Python<'py>, schema: &Schema) -> PyResult<Bound<'py, PyAny>> {
    let c = FFI_ArrowSchema::try_from(schema).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("pyarrow")?.getattr("Schema")?.call_method1("_import_from_c", (addr_of!(c) as usize,))
}

/// A pyarrow record batch as an Arrow record batch, its buffers shared, not copied.
fn batch_from_py(batch: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
    let (array, schema) = (FFI_ArrowArray::empty(), FFI_ArrowSchema::empty());
    batch.call_method1("_export_to_c", (addr_of!(array) as usize, addr_of!(schema) as usize))?;
    // SAFETY: pyarrow has just filled both structs with a valid struct array and its schema
    let data = unsafe { from_ffi(array, &schema) }.map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(RecordBatch::from(StructArray::from(data)))
}

/// An Arrow record batch as a pyarrow record batch, handed over without a copy.
fn batch_to_py<'py>(py: Python<'py>, batch: RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let data = StructArray::from(batch).into_data();
    let (array, schema) = to_ffi(&data).map_err(|e| PyValueError::new_err(e.to_string()))?;
    // pyarrow moves the buffers out of `array` (its release callback is then null, so dropping
    // the Rust structs afterwards frees nothing twice)
    py.import("pyarrow")?
        .getattr("RecordBatch")?
        .call_method1("_import_from_c", (addr_of!(array) as usize, addr_of!(schema) as usize))
}

/// Rows left out, as (row or CSV line, what was wrong).
type BadRows = Vec<(u64, String)>;

/// A saved model (`model.json` from `propensity train`, `audiobooks`, `shopping`, …), read and
/// checked once, scoring Arrow batches.
#[pyclass(frozen, module = "propensity._propensity")]
struct Model {
    loaded: LoadedModel,
}

#[pymethods]
impl Model {
    #[new]
    fn new(path: PathBuf) -> PyResult<Model> {
        LoadedModel::read(&path).map(|loaded| Model { loaded }).map_err(|e| py_err(e.into()))
    }

    /// The class names (empty for a regressor).
    #[getter]
    fn classes(&self) -> Vec<String> {
        match self.loaded.saved.preprocessing.regression {
            Some(_) => vec![],
            None => self.loaded.saved.classes.clone(),
        }
    }

    /// The columns the model reads, in its input order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.loaded.saved.preprocessing.pipeline.features.iter().map(|f| f.column().to_string()).collect()
    }

    /// The id columns passed through to the scores (empty: rows are numbered in `id`).
    #[getter]
    fn id_columns(&self) -> Vec<String> {
        self.loaded.saved.preprocessing.id.clone()
    }

    /// The schema of the scores of a table with `schema`.
    fn output_schema<'py>(&self, py: Python<'py>, schema: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let schema = schema_from_py(schema)?;
        let scorer = Scorer::new(&self.loaded, &schema, "the table").map_err(py_err)?;
        schema_to_py(py, &scorer.output_schema())
    }

    /// Scores `batches` (pyarrow record batches of one table with `schema`, in order; rows are
    /// numbered across them). Returns the score batches and the rows skipped as (row, message):
    /// with `skip_bad` false the first bad row raises ScoringError instead. The GIL is released
    /// while the batches are scored.
    fn score_batches<'py>(
        &self,
        py: Python<'py>,
        batches: Vec<Bound<'py, PyAny>>,
        schema: &Bound<'py, PyAny>,
        skip_bad: bool,
    ) -> PyResult<(Vec<Bound<'py, PyAny>>, BadRows)> {
        let schema = schema_from_py(schema)?;
        let inputs = batches.iter().map(batch_from_py).collect::<PyResult<Vec<_>>>()?;
        let (scores, bad) = py
            .detach(|| {
                let mut scorer = Scorer::new(&self.loaded, &schema, "the table")?;
                let (mut scores, mut bad) = (vec![], vec![]);
                for b in &inputs {
                    if skip_bad {
                        let (s, rows) = scorer.score_skipping(b)?;
                        scores.push(s);
                        bad.extend(rows);
                    } else {
                        scores.push(scorer.score(b)?);
                    }
                }
                Ok((scores, bad))
            })
            .map_err(py_err)?;
        let scores = scores.into_iter().map(|s| batch_to_py(py, s)).collect::<PyResult<Vec<_>>>()?;
        Ok((scores, bad))
    }

    /// Scores a file into another (CSV, gzipped CSV or Parquet in; CSV or Parquet out, by
    /// extension) as `propensity score` does. Returns (rows scored, rows skipped, bad rows).
    #[pyo3(signature = (input, output, skip_bad = false, batch_rows = 65_536))]
    fn score_file(
        &self,
        py: Python<'_>,
        input: PathBuf,
        output: PathBuf,
        skip_bad: bool,
        batch_rows: usize,
    ) -> PyResult<(u64, u64, BadRows)> {
        let options = ScoreOptions { batch_rows, skip_bad };
        let s = py
            .detach(|| propensity_arrow::score_file(&self.loaded, &input, &output, options, &mut |_, _| ()))
            .map_err(py_err)?;
        Ok((s.rows_scored, s.rows_skipped, s.bad_lines))
    }

    fn __repr__(&self) -> String {
        format!(
            "Model({:?}: {}, columns {:?})",
            self.loaded.path.display().to_string(),
            self.loaded.model.network().name(),
            self.columns()
        )
    }
}

/// Fits the repeat-purchase model and Gamma-Gamma to a summary file (lifetimes' columns
/// `customer_id, frequency, recency, T[, monetary_value]`, times in `period`s) as
/// `propensity clv --summary` does, writes the per-customer predictions to `customers_csv` and
/// returns the fits as JSON. The Python side (`propensity.clv.fit`) passes tables through these
/// files; the GIL is released meanwhile.
#[pyfunction]
#[pyo3(signature = (summary_csv, customers_csv, period, model, months, discount_rate, monetary))]
#[allow(clippy::too_many_arguments)]
fn fit_clv_summary(
    py: Python<'_>,
    summary_csv: PathBuf,
    customers_csv: PathBuf,
    period: &str,
    model: &str,
    months: usize,
    discount_rate: f64,
    monetary: bool,
) -> PyResult<String> {
    use propensity::btyd::RepeatModel;
    use propensity::clv::{fit_summary, ClvConfig, CustomerSummary, Period, SummaryColumns};
    let period: Period = period.parse().map_err(|e: propensity::Error| PyValueError::new_err(e.to_string()))?;
    let model = RepeatModel::parse(model).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let columns = SummaryColumns { monetary: monetary.then(|| "monetary_value".to_string()), ..Default::default() };
    let config = ClvConfig { period, model, months, discount_rate, ..Default::default() };
    py.detach(|| -> propensity::Result<String> {
        let customers = CustomerSummary::read_csv(&summary_csv, &columns, period)?;
        let clv = fit_summary(customers, &config)?;
        clv.write_csv(&customers_csv)?;
        let fits = serde_json::json!({
            "config": clv.config,
            "repeat_model": clv.model,
            "gamma_gamma": clv.gamma_gamma.as_ref().map(|(g, n)| serde_json::json!({ "fit": g, "customers": n })),
        });
        Ok(fits.to_string())
    })
    .map_err(|e| py_err(e.into()))
}

#[pymodule]
fn _propensity(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(fit_clv_summary, m)?)?;
    m.add("ScoringError", m.py().get_type::<ScoringError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
