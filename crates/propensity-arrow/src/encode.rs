//! A saved model's feature pipeline run column by column on an Arrow batch: each step reads its
//! column once (through [`FittedFeature::encode_cell`], the same code that reads a CSV cell, or a
//! column of numbers a chunk at a time) and writes its inputs standardized, as the network's
//! `f32` inputs, into each row.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, Schema};
use propensity::pipeline::{Cell, FittedFeature, FittedPipeline};

use crate::{Error, Result};

/// A text cell: trimmed, and missing when empty (as a CSV field).
fn text(t: &str) -> Cell<'_> {
    match t.trim() {
        "" => Cell::Missing,
        t => Cell::Text(t),
    }
}

/// The pipeline's columns found in a schema.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    /// Each step's column index in the batch.
    pub columns: Vec<usize>,
}

/// Finds each step's column in `schema` by name; an error names the missing ones.
pub(crate) fn bind(pipeline: &FittedPipeline, schema: &Schema, input: &str) -> Result<Bound> {
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let columns = pipeline.positions(&names).map_err(|message| Error::Schema { input: input.into(), message })?;
    for (f, &c) in pipeline.features.iter().zip(&columns) {
        readable(schema.field(c).data_type()).map_err(|expected| Error::Schema {
            input: input.into(),
            message: format!("column `{}` is {}; expected {expected}", f.column(), schema.field(c).data_type()),
        })?;
    }
    Ok(Bound { columns })
}

/// How a column of this type is read: `Ok` if some cell type fits, else what would.
fn readable(t: &DataType) -> std::result::Result<(), &'static str> {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean | DataType::Null => Ok(()),
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => Ok(()),
        DataType::Dictionary(_, v) => readable(v),
        t if t.is_numeric() => Ok(()),
        _ => Err("a number, text, a boolean or a date"),
    }
}

/// A batch's rows as model inputs.
pub(crate) struct Encoded {
    /// The rows that could be read, standardized, row-major (`good.len()` × width).
    pub x: Vec<f32>,
    /// Their indices in the batch.
    pub good: Vec<usize>,
    /// The rows that could not be read, in order, each with its first bad column.
    pub bad: Vec<(usize, String)>,
}

/// Runs `pipeline` over the columns `bound` of `columns`, step by step, each step writing its
/// inputs standardized (`((v − mean) / scale) as f32`, in `f64` as the scaler computes them) into
/// its place of every row; the rows that could not be read are then dropped.
pub(crate) fn encode(pipeline: &FittedPipeline, bound: &Bound, columns: &[ArrayRef], input: &str) -> Result<Encoded> {
    let rows = columns.first().map_or(0, |c| c.len());
    let width = pipeline.width();
    // every step writes each of its places in every good row
    let mut x = vec![0.0f32; rows * width];
    let mut bad: Vec<(usize, String)> = vec![];
    let mut offset = 0;
    for (f, &c) in pipeline.features.iter().zip(&bound.columns) {
        let places = offset..offset + f.width();
        let scale = pipeline.scaler.as_ref().map(|s| (&s.mean[places.clone()], &s.scale[places]));
        let mut out = Out { x: &mut x, width, offset, scale };
        encode_step(f, &columns[c], &mut out, &mut bad, input)?;
        offset += f.width();
    }
    // the first bad column of each row: steps ran in order, so a stable sort keeps it first
    bad.sort_by_key(|(i, _)| *i);
    bad.dedup_by_key(|(i, _)| *i);
    let mut good = Vec::with_capacity(rows - bad.len());
    let mut next_bad = bad.iter().map(|(i, _)| *i).peekable();
    for i in 0..rows {
        if next_bad.peek() == Some(&i) {
            next_bad.next();
            continue;
        }
        if good.len() < i {
            // a bad row before this one: move the row up into its place
            x.copy_within(i * width..(i + 1) * width, good.len() * width);
        }
        good.push(i);
    }
    x.truncate(good.len() * width);
    Ok(Encoded { x, good, bad })
}

/// Where a step writes: its first place in each row of `x` (`width` places a row), and the
/// scaler's means and scales for its places.
struct Out<'a> {
    x: &'a mut [f32],
    width: usize,
    offset: usize,
    scale: Option<(&'a [f64], &'a [f64])>,
}

impl Out<'_> {
    /// Row `i`'s values of this step, standardized.
    #[inline]
    fn put(&mut self, i: usize, values: &[f64]) {
        let row = &mut self.x[i * self.width + self.offset..][..values.len()];
        match self.scale {
            Some((mean, scale)) => {
                for (((y, v), m), s) in row.iter_mut().zip(values).zip(mean).zip(scale) {
                    *y = ((v - m) / s) as f32;
                }
            }
            None => row.iter_mut().zip(values).for_each(|(y, &v)| *y = v as f32),
        }
    }
}

/// One step over its column, by the column's Arrow type.
fn encode_step(
    f: &FittedFeature,
    array: &ArrayRef,
    out: &mut Out<'_>,
    bad: &mut Vec<(usize, String)>,
    input: &str,
) -> Result<()> {
    let mut one = Vec::with_capacity(f.width());
    let mut put = |i: usize, cell: Cell<'_>| {
        one.clear();
        match f.encode_cell(cell, &mut one) {
            Ok(()) => out.put(i, &one),
            Err(m) => bad.push((i, format!("column `{}`: {m}", f.column()))),
        }
    };
    let cast =
        |to: &DataType| arrow::compute::cast(array, to).map_err(|source| Error::Arrow { input: input.into(), source });
    match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            (0..a.len()).for_each(|i| put(i, if a.is_null(i) { Cell::Missing } else { text(a.value(i)) }));
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            (0..a.len()).for_each(|i| put(i, if a.is_null(i) { Cell::Missing } else { text(a.value(i)) }));
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            (0..a.len()).for_each(|i| put(i, if a.is_null(i) { Cell::Missing } else { text(a.value(i)) }));
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..a.len()).for_each(|i| put(i, if a.is_null(i) { Cell::Missing } else { Cell::Bool(a.value(i)) }));
        }
        DataType::Null => (0..array.len()).for_each(|i| put(i, Cell::Missing)),
        DataType::Date32 => {
            let a = array.as_primitive::<Date32Type>();
            let day = |i| if a.is_null(i) { Cell::Missing } else { Cell::Day(i64::from(a.value(i))) };
            (0..a.len()).for_each(|i| put(i, day(i)));
        }
        DataType::Date64 | DataType::Timestamp(..) => {
            return encode_step(f, &cast(&DataType::Date32)?, out, bad, input);
        }
        DataType::Dictionary(_, v) => {
            let to = if v.is_numeric() { DataType::Float64 } else { v.as_ref().clone() };
            return encode_step(f, &cast(&to)?, out, bad, input);
        }
        DataType::Float64 => {
            // NaN is how pandas and numpy mark a missing number: it is read as missing
            let a = array.as_primitive::<Float64Type>();
            if let FittedFeature::Numeric { column, fill, log1p } = f {
                // the common case without the per-cell dispatch: numbers into a numeric step
                numbers(a.values(), |v| v, a.logical_nulls(), (column, *fill, *log1p), out, bad);
                return Ok(());
            }
            let number = |i| {
                let v = a.value(i);
                if a.is_null(i) || v.is_nan() {
                    Cell::Missing
                } else {
                    Cell::Number(v)
                }
            };
            (0..a.len()).for_each(|i| put(i, number(i)));
        }
        DataType::Int64 => {
            let FittedFeature::Numeric { column, fill, log1p } = f else {
                return encode_step(f, &cast(&DataType::Float64)?, out, bad, input);
            };
            // whole numbers (counts, days) read as `f64`, as Arrow's cast reads them, without the cast
            let a = array.as_primitive::<Int64Type>();
            numbers(a.values(), |v| v as f64, a.logical_nulls(), (column, *fill, *log1p), out, bad);
        }
        t if t.is_numeric() => return encode_step(f, &cast(&DataType::Float64)?, out, bad, input),
        t => {
            return Err(Error::Schema {
                input: input.into(),
                message: format!("column `{}` is {t}; expected a number, text, a boolean or a date", f.column()),
            })
        }
    }
    Ok(())
}

/// A numeric step over a column of numbers (`values`, each read as `f64` by `number`): a null
/// or NaN is missing (filled, or the row is bad), an infinity is bad.
///
/// Chunk by chunk, reading the column where it is: a chunk of finite numbers without nulls (no
/// log1p) is standardized in one tight loop the compiler vectorizes, then stored in its rows;
/// any other chunk goes number by number. Both compute `((v − mean) / scale) as f32`, so the
/// inputs are the same either way.
fn numbers<T: Copy>(
    values: &[T],
    number: impl Fn(T) -> f64 + Copy,
    nulls: Option<NullBuffer>,
    (column, fill, log1p): (&str, Option<f64>, bool),
    out: &mut Out<'_>,
    bad: &mut Vec<(usize, String)>,
) {
    const CHUNK: usize = 512;
    let nulls = nulls.filter(|n| n.null_count() > 0);
    let mut std = [0.0f32; CHUNK];
    for (start, chunk) in (0..).step_by(CHUNK).zip(values.chunks(CHUNK)) {
        let std = &mut std[..chunk.len()];
        // no early exit: the whole chunk is checked in vectors
        if !log1p && nulls.is_none() && chunk.iter().fold(true, |finite, &v| finite & number(v).is_finite()) {
            match out.scale {
                Some((mean, scale)) => {
                    let (m, s) = (mean[0], scale[0]);
                    std.iter_mut().zip(chunk).for_each(|(y, &v)| *y = ((number(v) - m) / s) as f32);
                }
                None => std.iter_mut().zip(chunk).for_each(|(y, &v)| *y = number(v) as f32),
            }
            let width = out.width;
            let column = out.x[start * width + out.offset..].iter_mut().step_by(width);
            column.zip(std.iter()).for_each(|(y, &v)| *y = v);
            continue;
        }
        for (j, &v) in chunk.iter().enumerate() {
            let i = start + j;
            let v = match number(v) {
                v if v.is_nan() || nulls.as_ref().is_some_and(|n| n.is_null(i)) => None,
                v if v.is_finite() => Some(v),
                v => {
                    bad.push((i, format!("column `{column}`: expected a finite number, found {v}")));
                    continue;
                }
            };
            match propensity::pipeline::numeric(v, fill, log1p) {
                Ok(v) => out.put(i, &[v]),
                Err(m) => bad.push((i, format!("column `{column}`: {m}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Float32Array, Int64Array, StringArray};
    use arrow::datatypes::Field;
    use propensity::pipeline::{FittedFeature, FittedPipeline};

    use super::*;

    fn pipeline() -> FittedPipeline {
        FittedPipeline {
            features: vec![
                FittedFeature::Numeric { column: "visits".into(), fill: Some(3.0), log1p: false },
                FittedFeature::Categorical {
                    column: "plan".into(),
                    levels: vec!["1".into(), "2".into()],
                    other: false,
                },
                FittedFeature::Date { column: "seen".into(), reference: "1970-01-11".into(), weeks: false, fill: None },
            ],
            scaler: None,
        }
    }

    #[test]
    fn typed_columns_read_as_their_text_would_and_bad_rows_keep_their_first_column() {
        let schema = Schema::new(vec![
            Field::new("seen", DataType::Date32, true),
            Field::new("visits", DataType::Float32, true),
            Field::new("plan", DataType::Int64, true),
        ]);
        let p = pipeline();
        let bound = bind(&p, &schema, "t").unwrap();
        assert_eq!(bound.columns, [1, 2, 0]);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from(vec![Some(1), Some(10), None, Some(3)])),
            Arc::new(Float32Array::from(vec![Some(2.5), None, Some(f32::NAN), Some(1.0)])),
            Arc::new(Int64Array::from(vec![Some(2), Some(1), Some(1), Some(7)])),
        ];
        let e = encode(&p, &bound, &columns, "t").unwrap();
        // NaN and null are missing (filled with 3); row 2 has no date fill, row 3 an unseen level
        assert_eq!(e.good, [0, 1]);
        assert_eq!(e.x, [2.5, 0.0, 1.0, 9.0, 3.0, 1.0, 0.0, 0.0]);
        assert_eq!(e.bad[0], (2, "column `seen`: missing value (the model has no fill for it)".to_string()));
        assert!(e.bad[1].1.starts_with("column `plan`: unseen category \"7\""), "{:?}", e.bad);
        // the same rows as CSV text give the same inputs
        let text: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["1970-01-02", " 1970-01-11 "])),
            Arc::new(StringArray::from(vec!["2.5", ""])),
            Arc::new(StringArray::from(vec!["2", "1"])),
        ];
        let schema = Schema::new(["seen", "visits", "plan"].map(|n| Field::new(n, DataType::Utf8, true)).to_vec());
        let t = encode(&p, &bind(&p, &schema, "t").unwrap(), &text, "t").unwrap();
        assert_eq!(t.x, e.x);
    }

    #[test]
    fn the_float_fast_path_reports_as_the_cell_encoder_does() {
        let f = FittedFeature::Numeric { column: "spend".into(), fill: None, log1p: true };
        let p = FittedPipeline { features: vec![f.clone()], scaler: None };
        let values = vec![Some(1.0), Some(f64::INFINITY), Some(-2.0), None, Some(f64::NAN)];
        let floats: ArrayRef = Arc::new(arrow::array::Float64Array::from(values.clone()));
        let schema = Schema::new(vec![Field::new("spend", DataType::Float64, true)]);
        let e = encode(&p, &bind(&p, &schema, "t").unwrap(), &[floats], "t").unwrap();
        let expected: Vec<(usize, String)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let cell = match v {
                    Some(v) if !v.is_nan() => Cell::Number(*v),
                    _ => Cell::Missing,
                };
                f.encode_cell(cell, &mut vec![]).err().map(|m| (i, format!("column `spend`: {m}")))
            })
            .collect();
        assert_eq!(e.bad, expected);
        assert_eq!(e.bad.len(), 4);
        assert_eq!(e.x, [1f64.ln_1p() as f32]);
    }

    #[test]
    fn a_missing_or_unreadable_column_is_named() {
        let p = pipeline();
        let schema = Schema::new(vec![Field::new("visits", DataType::Float64, true)]);
        let e = bind(&p, &schema, "lake.parquet").unwrap_err().to_string();
        assert!(e.starts_with("lake.parquet: the model needs columns [\"plan\", \"seen\"]"), "{e}");
        let schema = Schema::new(vec![
            Field::new("visits", DataType::Binary, true),
            Field::new("plan", DataType::Utf8, true),
            Field::new("seen", DataType::Utf8, true),
        ]);
        let e = bind(&p, &schema, "lake.parquet").unwrap_err().to_string();
        assert_eq!(e, "lake.parquet: column `visits` is Binary; expected a number, text, a boolean or a date");
    }
}
