//! Scoring Arrow record batches: the one function the CLI, the Python package and Spark call.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use propensity::loaded::LoadedModel;
use propensity::ndarray::Array2;

use rayon::prelude::*;

use crate::encode::{bind, encode, Bound, Encoded};

/// Rows a core scores at a time: small enough that a batch of 65,536 rows spreads over the cores
/// and a slice's activations stay in cache, large enough for the matrix products to be efficient.
pub(crate) const SLICE: usize = 4_096;

/// Rows of a batch the model could not read: index in the batch, and the column and what was
/// wrong.
type BadRows = Vec<(usize, String)>;
use crate::{Error, Result};

/// Scores one batch with a loaded model: the model's id columns passed through (or `id`, the
/// 1-based row number, for a model without one), then per-class probabilities `p_<class>`
/// (`Float32`) and the most likely class `predicted` — or, for a regressor,
/// `predicted_<target>` (`Float64`). Columns are found by name; extra columns are ignored. A row
/// the model cannot read is an error naming the row and column ([`Scorer`] can skip them).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Float64Array, RecordBatch};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use propensity::loaded::LoadedModel;
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = propensity_arrow::doc_model(dir.path());
/// let model = LoadedModel::read(&path).unwrap(); // one numeric input `x`, classes no / yes
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(vec![-2.0, 2.0]))]).unwrap();
/// let scores = propensity_arrow::score_batch(&model, &batch).unwrap();
/// let names: Vec<_> = scores.schema().fields().iter().map(|f| f.name().clone()).collect();
/// assert_eq!(names, ["id", "p_no", "p_yes", "predicted"]);
/// assert_eq!(scores.num_rows(), 2);
/// ```
pub fn score_batch(model: &LoadedModel, batch: &RecordBatch) -> Result<RecordBatch> {
    Scorer::new(model, batch.schema_ref(), "the batch")?.score(batch)
}

/// A model bound to an input schema, scoring its batches in order (row numbers run on from one
/// batch to the next).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Float64Array, RecordBatch};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use propensity::loaded::LoadedModel;
/// use propensity_arrow::Scorer;
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = propensity_arrow::doc_model(dir.path());
/// let model = LoadedModel::read(&path).unwrap();
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
/// let mut scorer = Scorer::new(&model, &schema, "new customers").unwrap();
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(vec![Some(1.0), None]))]).unwrap();
/// let (scores, bad) = scorer.score_skipping(&batch).unwrap();
/// assert_eq!(scores.num_rows(), 1);
/// assert_eq!(bad, [(2, "column `x`: missing value (the model has no fill for it)".to_string())]);
/// assert_eq!(scorer.output_schema().field(0).name(), "id");
/// ```
pub struct Scorer<'m> {
    model: &'m LoadedModel,
    input: String,
    bound: Bound,
    /// The id columns' indices in the input (empty: the row number is the id).
    ids: Vec<usize>,
    output: SchemaRef,
    rows_seen: u64,
}

impl<'m> Scorer<'m> {
    /// Binds `model`'s columns (and id columns) to `schema`; `input` names the data in errors (a
    /// file name, `the batch`).
    pub fn new(model: &'m LoadedModel, schema: &Schema, input: impl Into<String>) -> Result<Scorer<'m>> {
        let input = input.into();
        let pre = &model.saved.preprocessing;
        let bound = bind(&pre.pipeline, schema, &input)?;
        let ids = pre
            .id
            .iter()
            .map(|c| {
                schema.fields().iter().position(|f| f.name().trim() == c).ok_or_else(|| Error::Schema {
                    input: input.clone(),
                    message: format!("the model's id column `{c}` is not in the input's columns"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut fields: Vec<Field> = ids.iter().map(|&i| schema.field(i).clone()).collect();
        if ids.is_empty() {
            fields.push(Field::new("id", DataType::Int64, false));
        }
        match &pre.regression {
            Some(_) => fields.push(Field::new(format!("predicted_{}", pre.target[0]), DataType::Float64, false)),
            None => {
                fields
                    .extend(model.saved.classes.iter().map(|c| Field::new(format!("p_{c}"), DataType::Float32, false)));
                fields.push(Field::new("predicted", DataType::Utf8, false));
            }
        }
        Ok(Scorer { model, input, bound, ids, output: Arc::new(Schema::new(fields)), rows_seen: 0 })
    }

    /// How many id columns lead the output: the model's, or `id`.
    pub(crate) fn id_columns(&self) -> usize {
        self.ids.len().max(1)
    }

    /// What the input is called in errors.
    pub(crate) fn input(&self) -> &str {
        &self.input
    }

    /// The schema of the batches [`score`](Self::score) returns.
    pub fn output_schema(&self) -> SchemaRef {
        self.output.clone()
    }

    /// Scores every row of `batch`; the first row the model cannot read is an error naming its
    /// row number (counted from the first batch) and column.
    pub fn score(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let first = self.rows_seen;
        let (scores, bad) = self.score_rows(batch)?;
        match bad.into_iter().next() {
            Some((i, message)) => Err(Error::Row { input: self.input.clone(), row: first + i as u64 + 1, message }),
            None => self.concat(&scores),
        }
    }

    /// Scores the rows of `batch` the model can read and returns the others as (row number,
    /// what was wrong).
    pub fn score_skipping(&mut self, batch: &RecordBatch) -> Result<(RecordBatch, Vec<(u64, String)>)> {
        let first = self.rows_seen;
        let (scores, bad) = self.score_rows(batch)?;
        Ok((self.concat(&scores)?, bad.into_iter().map(|(i, m)| (first + i as u64 + 1, m)).collect()))
    }

    fn concat(&self, parts: &[RecordBatch]) -> Result<RecordBatch> {
        match parts {
            [one] => Ok(one.clone()),
            _ => arrow::compute::concat_batches(&self.output, parts)
                .map_err(|source| Error::Arrow { input: self.input.clone(), source }),
        }
    }

    /// Scores the rows it can read, in slices of [`SLICE`] rows spread over the cores (each
    /// row's scores do not depend on the slicing). Returns the scores slice by slice and the bad
    /// rows by index in the batch.
    fn score_rows(&mut self, batch: &RecordBatch) -> Result<(Vec<RecordBatch>, BadRows)> {
        let rows = batch.num_rows();
        let this = &*self;
        let parts: Vec<Result<(RecordBatch, BadRows)>> = (0..rows.div_ceil(SLICE).max(1))
            .into_par_iter()
            .map(|k| {
                let (start, len) = (k * SLICE, SLICE.min(rows - k * SLICE));
                let (scores, bad) = this.score_slice(&batch.slice(start, len), None, this.rows_seen + start as u64)?;
                Ok((scores, bad.into_iter().map(|(i, m)| (start + i, m)).collect()))
            })
            .collect();
        self.rows_seen += rows as u64;
        let (mut scores, mut bad) = (Vec::with_capacity(parts.len()), vec![]);
        for part in parts {
            let (s, b) = part?;
            scores.push(s);
            bad.extend(b);
        }
        Ok((scores, bad))
    }

    /// Scores the rows of `part` it can read, on this thread. A model without id columns numbers
    /// the rows from `first` (the input row of `part`'s first row, counted from 0), or by
    /// `numbers` (a CSV's line numbers). Returns the bad rows by index in `part`.
    pub(crate) fn score_slice(
        &self,
        part: &RecordBatch,
        numbers: Option<&[u64]>,
        first: u64,
    ) -> Result<(RecordBatch, BadRows)> {
        let encoded = encode(&self.model.saved.preprocessing.pipeline, &self.bound, part.columns(), &self.input)?;
        self.forward(part, encoded, numbers, first)
    }

    /// The network over the encoded rows of `batch` (whose first row is row `first` of the
    /// input, counted from 0), with the ids.
    fn forward(
        &self,
        batch: &RecordBatch,
        encoded: Encoded,
        numbers: Option<&[u64]>,
        first: u64,
    ) -> Result<(RecordBatch, BadRows)> {
        let pre = &self.model.saved.preprocessing;
        let n = encoded.good.len();
        let x = Array2::from_shape_vec((n, pre.pipeline.width()), encoded.x).expect("rows × width");
        let arrow_err = |source| Error::Arrow { input: self.input.clone(), source };
        let mut columns: Vec<ArrayRef> = if self.ids.is_empty() {
            let id = |i: usize| numbers.map_or((first + i as u64 + 1) as i64, |l| l[i] as i64);
            vec![Arc::new(Int64Array::from_iter_values(encoded.good.iter().map(|&i| id(i))))]
        } else if encoded.bad.is_empty() {
            self.ids.iter().map(|&c| batch.column(c).clone()).collect()
        } else {
            let take = UInt32Array::from_iter_values(encoded.good.iter().map(|&i| i as u32));
            self.ids
                .iter()
                .map(|&c| arrow::compute::take(batch.column(c), &take, None).map_err(arrow_err))
                .collect::<Result<_>>()?
        };
        if let Some(r) = &pre.regression {
            let y = self.model.model.outputs(&x)?;
            columns.push(Arc::new(Float64Array::from_iter_values(y.column(0).iter().map(|&v| r.amount(v)))));
        } else {
            let (p, predicted) = self.model.model.class_columns(&x)?;
            columns.extend(p.into_iter().map(|c| Arc::new(Float32Array::from(c)) as ArrayRef));
            let classes = &self.model.saved.classes;
            columns.push(Arc::new(StringArray::from_iter_values(predicted.iter().map(|&c| &classes[c]))));
        }
        let scores = RecordBatch::try_new(self.output.clone(), columns).map_err(arrow_err)?;
        Ok((scores, encoded.bad))
    }
}
