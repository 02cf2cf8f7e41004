//! Scoring raw CSV rows with a saved model, streaming: rows are read, encoded with the saved
//! preprocessing, and scored in batches, so memory stays flat whatever the input size. Bad rows
//! are reported with their line numbers and either skipped or stop the run; the output file is
//! written to a temporary file and renamed only when the run succeeds.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::saved::{Preprocessing, SavedModel};
use crate::{Error, Result};

/// Scoring options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreOptions {
    /// Rows per batch.
    pub batch_rows: usize,
    /// Skip bad rows (counting them) instead of stopping at the first.
    pub skip_bad: bool,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions { batch_rows: 8_192, skip_bad: false }
    }
}

/// What a scoring run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreSummary {
    /// Rows scored and written.
    pub rows_scored: u64,
    /// Bad rows skipped (with `skip_bad`).
    pub rows_skipped: u64,
    /// The first 100 bad rows: line number and what was wrong.
    pub bad_lines: Vec<(u64, String)>,
    /// Bytes of input read (after decompression for a `.gz` file).
    pub bytes_read: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Turns one raw CSV record into model inputs (already scaled).
enum RowEncoder {
    Audiobooks {
        review_fill: f64,
        mean: Vec<f64>,
        scale: Vec<f64>,
    },
    Shopping {
        levels: Vec<Vec<String>>,
        mean: Vec<f64>,
        scale: Vec<f64>,
    },
    Retail {
        mean: Vec<f64>,
        scale: Vec<f64>,
    },
    Cdnow {
        log1p: bool,
        mean: Vec<f64>,
        scale: Vec<f64>,
    },
    Features {
        columns: Vec<String>,
        mean: Vec<f64>,
        scale: Vec<f64>,
    },
    /// The generic pipeline reads columns by name: the file's header row binds them.
    Pipeline {
        pipeline: crate::pipeline::FittedPipeline,
        id: Option<String>,
        bound: Option<Bound>,
        scratch: Vec<f64>,
    },
}

/// Where the pipeline's columns are in the file being scored.
struct Bound {
    positions: Vec<usize>,
    id: Option<usize>,
    fields: usize,
}

impl RowEncoder {
    fn new(pre: &Preprocessing) -> RowEncoder {
        match pre {
            Preprocessing::Audiobooks { fill, scaler } => RowEncoder::Audiobooks {
                review_fill: fill.means()[0],
                mean: scaler.mean.clone(),
                scale: scaler.scale.clone(),
            },
            Preprocessing::Shopping { onehot, scaler, .. } => RowEncoder::Shopping {
                levels: onehot.columns.iter().map(|c| c.1.clone()).collect(),
                mean: scaler.mean.clone(),
                scale: scaler.scale.clone(),
            },
            Preprocessing::Retail { scaler } => {
                RowEncoder::Retail { mean: scaler.mean.clone(), scale: scaler.scale.clone() }
            }
            Preprocessing::Features { id, inputs, target, scaler } => RowEncoder::Features {
                columns: std::iter::once(id).chain(inputs).chain(std::iter::once(target)).cloned().collect(),
                mean: scaler.mean.clone(),
                scale: scaler.scale.clone(),
            },
            Preprocessing::Pipeline { pipeline, id, .. } => {
                RowEncoder::Pipeline { pipeline: pipeline.clone(), id: id.clone(), bound: None, scratch: vec![] }
            }
            Preprocessing::Cdnow { transform } | Preprocessing::CdnowSpend { transform, .. } => RowEncoder::Cdnow {
                log1p: transform.log1p,
                mean: transform.scaler.mean.clone(),
                scale: transform.scaler.scale.clone(),
            },
        }
    }

    /// Inputs per row after encoding.
    fn width(&self) -> usize {
        match self {
            RowEncoder::Audiobooks { mean, .. }
            | RowEncoder::Shopping { mean, .. }
            | RowEncoder::Retail { mean, .. }
            | RowEncoder::Cdnow { mean, .. }
            | RowEncoder::Features { mean, .. } => mean.len(),
            RowEncoder::Pipeline { pipeline, .. } => pipeline.width(),
        }
    }

    /// For the generic pipeline: binds its columns to the positions in the file's `header`
    /// (the first record); `Ok(false)` for encoders with a fixed column order.
    fn bind(&mut self, header: &csv::StringRecord) -> std::result::Result<bool, String> {
        let RowEncoder::Pipeline { pipeline, id, bound, .. } = self else { return Ok(false) };
        let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
        let positions = pipeline.positions(&names)?;
        let id = match id {
            Some(c) => Some(
                names
                    .iter()
                    .position(|n| n == c)
                    .ok_or_else(|| format!("the model's id column `{c}` is not in the header {names:?}"))?,
            ),
            None => None,
        };
        *bound = Some(Bound { positions, id, fields: names.len() });
        Ok(true)
    }

    /// Column names of the raw file, target last.
    /// The input file's columns; the last (the target) is optional — for the retail modelling
    /// file, the six target columns are.
    fn columns(&self) -> Vec<String> {
        match self {
            RowEncoder::Audiobooks { .. } => crate::audiobooks::COLUMNS.iter().map(|s| s.to_string()).collect(),
            RowEncoder::Shopping { .. } => crate::shopping::COLUMNS.iter().map(|s| s.to_string()).collect(),
            RowEncoder::Retail { .. } => ["custno".to_string(), "month".to_string()]
                .into_iter()
                .chain(crate::retail::features::input_names())
                .chain(crate::retail::features::target_names())
                .collect(),
            RowEncoder::Cdnow { .. } => crate::cdnow::Customers::csv_header().iter().map(|s| s.to_string()).collect(),
            RowEncoder::Features { columns, .. } => columns.clone(),
            RowEncoder::Pipeline { pipeline, .. } => pipeline.features.iter().map(|f| f.column().to_string()).collect(),
        }
    }

    /// How many trailing columns are targets (optional in the input).
    fn target_columns(&self) -> usize {
        match self {
            RowEncoder::Retail { .. } => crate::retail::CATEGORIES,
            RowEncoder::Cdnow { .. } => crate::cdnow::TARGETS.len(),
            _ => 1,
        }
    }

    /// Row id (the ID column, or the line number) and the encoded inputs appended to `out`.
    /// Encodes one record into `out`; `names` is [`columns`](Self::columns), computed once.
    fn encode(
        &mut self,
        rec: &csv::StringRecord,
        names: &[String],
        line: u64,
        out: &mut Vec<f32>,
    ) -> std::result::Result<String, String> {
        if let RowEncoder::Pipeline { pipeline, bound, scratch, .. } = self {
            let b = bound.as_ref().expect("the header binds the columns first");
            if rec.len() != b.fields {
                return Err(format!("expected {} fields (as the header), found {}", b.fields, rec.len()));
            }
            scratch.clear();
            pipeline.encode_row(&b.positions, |p| rec.get(p).unwrap_or("").trim(), scratch)?;
            out.extend(scratch.iter().map(|&v| v as f32));
            return Ok(b.id.map_or_else(|| line.to_string(), |p| rec.get(p).unwrap_or("").trim().to_string()));
        }
        let (n, t) = (names.len(), self.target_columns());
        if rec.len() != n && rec.len() != n - t {
            let optional = if t == 1 { "target optional" } else { "targets optional" };
            return Err(format!("expected {} or {} columns ({optional}), found {}", n - t, n, rec.len()));
        }
        let num = |j: usize| -> std::result::Result<f64, String> {
            let f = rec.get(j).unwrap_or("").trim();
            match f.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ if f.is_empty() => Err(format!("column `{}`: missing value", names[j])),
                _ => Err(format!("column `{}`: expected a finite number, found {f:?}", names[j])),
            }
        };
        let start = out.len();
        let result = (|| match self {
            RowEncoder::Audiobooks { review_fill, mean, scale } => {
                for j in 0..10 {
                    let empty = rec.get(1 + j).is_some_and(|f| f.trim().is_empty());
                    let v = if empty && names[1 + j] == crate::audiobooks::REVIEW_RATING {
                        *review_fill
                    } else {
                        num(1 + j)?
                    };
                    out.push(((v - mean[j]) / scale[j]) as f32);
                }
                Ok(rec.get(0).unwrap_or("").trim().to_string())
            }
            RowEncoder::Shopping { levels, mean, scale } => {
                for j in 0..22 {
                    out.push(((num(j)? - mean[j]) / scale[j]) as f32);
                }
                let mut k = 22;
                for (c, lv) in levels.iter().enumerate() {
                    let f = rec.get(22 + c).unwrap_or("").trim();
                    let hit = lv.iter().position(|l| l == f).ok_or_else(|| {
                        format!("column `{}`: unseen category {f:?}; known levels are {lv:?}", names[22 + c])
                    })?;
                    for i in 0..lv.len() {
                        out.push((((i == hit) as u8 as f64 - mean[k]) / scale[k]) as f32);
                        k += 1;
                    }
                }
                Ok(line.to_string())
            }
            RowEncoder::Retail { mean, scale } => {
                for j in 0..mean.len() {
                    out.push(((num(2 + j)? - mean[j]) / scale[j]) as f32);
                }
                Ok(format!("{}:{}", rec.get(0).unwrap_or("").trim(), rec.get(1).unwrap_or("").trim()))
            }
            RowEncoder::Features { mean, scale, .. } => {
                for j in 0..mean.len() {
                    out.push(((num(1 + j)? - mean[j]) / scale[j]) as f32);
                }
                Ok(rec.get(0).unwrap_or("").trim().to_string())
            }
            RowEncoder::Pipeline { .. } => unreachable!("encoded above"),
            RowEncoder::Cdnow { log1p, mean, scale } => {
                for j in 0..mean.len() {
                    let v = num(1 + j)?;
                    let v = if *log1p {
                        if v < 0.0 {
                            return Err(format!("column `{}`: expected a number ≥ 0, found {v}", names[1 + j]));
                        }
                        v.ln_1p()
                    } else {
                        v
                    };
                    out.push(((v - mean[j]) / scale[j]) as f32);
                }
                Ok(rec.get(0).unwrap_or("").trim().to_string())
            }
        })();
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

/// Scores `input` with the model saved at `model_path` and writes `output`: the row id, one
/// probability column per class (`p_<class>`) and the predicted class. `progress` is called
/// after each batch with the rows and bytes read so far.
pub fn score_csv(
    model_path: &Path,
    input: &Path,
    output: &Path,
    options: ScoreOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ScoreSummary> {
    if options.batch_rows == 0 {
        return Err(Error::Config { field: "batch_rows", message: "must be at least 1".into() });
    }
    if let (Ok(i), Ok(o)) = (input.canonicalize(), output.canonicalize()) {
        if i == o {
            return Err(Error::Config {
                field: "output",
                message: format!("{} is the input file; scoring would replace it", output.display()),
            });
        }
    }
    let started = Instant::now();
    let saved = SavedModel::read(model_path)?;
    let model: Model = saved.model(model_path)?;
    let mut encoder = RowEncoder::new(&saved.preprocessing);
    let names = encoder.columns();
    let file = crate::io::open_input(input)?; // plain or gzip
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let tmp = crate::io::temp_beside(output)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, tmp);
    let regression = saved.preprocessing.regression();
    // the generic pipeline keeps its id column's name; the seed datasets' ids are `id`
    let id = match &saved.preprocessing {
        Preprocessing::Pipeline { id: Some(c), .. } => c.as_str(),
        _ => "id",
    };
    let header = match &regression {
        Some(r) => format!("{id},predicted_{}", r.name),
        None => {
            format!("{id},{},predicted", saved.classes.iter().map(|c| format!("p_{c}")).collect::<Vec<_>>().join(","))
        }
    };
    writeln!(out, "{header}").map_err(|e| Error::io(output, e))?;

    let width = model.network().inputs;
    let batch_rows = options.batch_rows;
    // Two stages on the two cores: this thread scores and writes while a reader thread parses
    // and encodes the next batches; the bounded channel keeps at most two batches in flight.
    let (rows_scored, read) = std::thread::scope(|scope| -> Result<(u64, ReadStats)> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
        let reader =
            scope.spawn(move || read_batches(&mut rdr, &mut encoder, &names, input, batch_rows, options.skip_bad, tx));
        let mut rows_scored = 0u64;
        let mut line_buf = String::new();
        let mut write_result = Ok(());
        for batch in rx.iter() {
            let n = batch.ids.len();
            let x = Array2::from_shape_vec((n, width), batch.xs).expect("rows × width");
            let step = if let Some(r) = &regression {
                model.outputs(&x).and_then(|y| {
                    line_buf.clear();
                    for (id, v) in batch.ids.iter().zip(y.column(0)) {
                        let _ = writeln!(line_buf, "{id},{:.4}", r.amount(*v));
                    }
                    out.write_all(line_buf.as_bytes()).map_err(|e| Error::io(output, e))
                })
            } else {
                model.predict_proba(&x).and_then(|proba| {
                    line_buf.clear();
                    for (id, p) in batch.ids.iter().zip(proba.rows()) {
                        line_buf.push_str(id);
                        for &v in p.iter() {
                            line_buf.push(',');
                            push_probability(&mut line_buf, v);
                        }
                        line_buf.push(',');
                        line_buf.push_str(&saved.classes[crate::model::argmax_row(p)]);
                        line_buf.push('\n');
                    }
                    out.write_all(line_buf.as_bytes()).map_err(|e| Error::io(output, e))
                })
            };
            if let Err(e) = step {
                write_result = Err(e);
                break; // dropping the receiver stops the reader
            }
            rows_scored += n as u64;
            progress(rows_scored + batch.skipped_so_far, batch.bytes_so_far);
        }
        drop(rx);
        let read = reader.join().expect("the reader thread does not panic")?;
        write_result?;
        Ok((rows_scored, read))
    })?;
    let summary = ScoreSummary {
        rows_scored,
        rows_skipped: read.skipped,
        bad_lines: read.bad_lines,
        bytes_read: read.bytes,
        seconds: 0.0,
    };
    let tmp = out.into_inner().map_err(|e| Error::io(output, e.into_error()))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(output, e))?;
    crate::io::make_readable(tmp.as_file()).map_err(|e| Error::io(output, e))?;
    tmp.persist(output).map_err(|e| Error::io(output, e.error))?;
    Ok(ScoreSummary { seconds: started.elapsed().as_secs_f64(), ..summary })
}

/// Appends a probability in [0, 1] with six decimals (`0.123457`), exactly as `{:.6}` prints it
/// (ties to even), without the general float formatter.
fn push_probability(out: &mut String, p: f32) {
    let micro = ((p as f64).clamp(0.0, 1.0) * 1e6).round_ties_even() as u32;
    let _ = write!(out, "{}.{:06}", micro / 1_000_000, micro % 1_000_000);
}

/// Encoded rows on their way from the reader thread to the scorer.
struct Batch {
    ids: Vec<String>,
    xs: Vec<f32>,
    skipped_so_far: u64,
    bytes_so_far: u64,
}

/// What the reader thread saw.
struct ReadStats {
    skipped: u64,
    bad_lines: Vec<(u64, String)>,
    bytes: u64,
}

fn read_batches<R: std::io::Read>(
    rdr: &mut csv::Reader<R>,
    encoder: &mut RowEncoder,
    names: &[String],
    input: &Path,
    batch_rows: usize,
    skip_bad: bool,
    tx: std::sync::mpsc::SyncSender<Batch>,
) -> Result<ReadStats> {
    let width = encoder.width();
    let mut stats = ReadStats { skipped: 0, bad_lines: Vec::new(), bytes: 0 };
    let (mut ids, mut xs) = (Vec::with_capacity(batch_rows), Vec::with_capacity(batch_rows * width));
    let mut record = csv::StringRecord::new();
    let mut first = true;
    loop {
        let more = rdr.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::Row { file: input.to_path_buf(), line, message: e.to_string() }
        })?;
        if more {
            let line = record.position().map_or(0, |p| p.line());
            let header = first
                && (encoder.bind(&record).map_err(|message| Error::Row {
                    file: input.to_path_buf(),
                    line,
                    message,
                })? || record.iter().zip(names).all(|(f, n)| f.trim() == n.trim()));
            first = false;
            if !header {
                match encoder.encode(&record, names, line, &mut xs) {
                    Ok(id) => ids.push(id),
                    Err(message) if skip_bad => {
                        stats.skipped += 1;
                        if stats.bad_lines.len() < 100 {
                            stats.bad_lines.push((line, message));
                        }
                    }
                    Err(message) => return Err(Error::Row { file: input.to_path_buf(), line, message }),
                }
            }
        }
        stats.bytes = rdr.position().byte();
        if ids.len() == batch_rows || (!more && !ids.is_empty()) {
            let batch = Batch {
                ids: std::mem::replace(&mut ids, Vec::with_capacity(batch_rows)),
                xs: std::mem::replace(&mut xs, Vec::with_capacity(batch_rows * width)),
                skipped_so_far: stats.skipped,
                bytes_so_far: stats.bytes,
            };
            if tx.send(batch).is_err() {
                break; // the scorer stopped; its error is reported
            }
        }
        if !more {
            break;
        }
    }
    Ok(stats)
}
