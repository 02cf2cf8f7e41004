//! Scoring files: CSV (plain or gzip) or Parquet in, CSV or Parquet out, chosen by extension,
//! streamed in batches (a reader thread decodes the next batches while this one scores and
//! writes) and written to a temporary file renamed over the output only when the run succeeds.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use propensity::io::Writeback;
use propensity::loaded::LoadedModel;
use propensity::pipeline::FittedFeature;
use propensity::score::{ScoreOptions, ScoreSummary};

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::iter::{ParallelBridge, ParallelIterator};

use crate::csv_io::{self, CsvPieces, Layout, Piece};
use crate::scorer::{Scorer, SLICE};
use crate::{Error, Result};

/// A file's format, from its name: `.parquet` or `.pq` is Parquet, anything else CSV (`.gz`:
/// gzipped).
///
/// ```
/// use propensity_arrow::Format;
/// assert_eq!(Format::of("lake/part-0.parquet".as_ref()), Format::Parquet);
/// assert_eq!(Format::of("customers.csv.gz".as_ref()), Format::Csv);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated text with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format of `path`.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq") => Format::Parquet,
            _ => Format::Csv,
        }
    }
}

/// Scores `input` with a loaded model into `output` (formats by extension, see [`Format`]):
/// every batch goes through [`Scorer`], so a file, a Python table and a Spark partition get the
/// same scores. A CSV's bad rows are reported by line, a Parquet file's by row; with
/// `skip_bad` they are counted and skipped, else the first one stops the run and nothing is
/// written. `progress` is called after each batch with the rows and bytes read so far.
///
/// ```
/// use propensity::loaded::LoadedModel;
/// use propensity::score::ScoreOptions;
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = propensity_arrow::doc_model(dir.path());
/// let model = LoadedModel::read(&path).unwrap();
/// let (csv, parquet) = (dir.path().join("new.csv"), dir.path().join("scores.parquet"));
/// std::fs::write(&csv, "x\n-2\n2\n").unwrap();
/// let s = propensity_arrow::score_file(&model, &csv, &parquet, ScoreOptions::default(), &mut |_, _| ()).unwrap();
/// assert_eq!(s.rows_scored, 2);
/// let back = dir.path().join("back.csv");
/// propensity_arrow::score_file(&model, &csv, &back, ScoreOptions::default(), &mut |_, _| ()).unwrap();
/// assert!(std::fs::read_to_string(&back).unwrap().starts_with("id,p_no,p_yes,predicted\n2,"));
/// ```
pub fn score_file(
    model: &LoadedModel,
    input: &Path,
    output: &Path,
    options: ScoreOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ScoreSummary> {
    let started = Instant::now();
    options.check(input, output)?;
    let name = input.display().to_string();
    let pre = &model.saved.preprocessing;
    let needed: Vec<&str> =
        pre.pipeline.features.iter().map(|f| f.column()).chain(pre.id.iter().map(String::as_str)).collect();
    let (mut source, scorer) = match Format::of(input) {
        Format::Csv => {
            // columns only numeric steps read are parsed straight to numbers
            let numbers: Vec<&str> = needed
                .iter()
                .copied()
                .filter(|&c| {
                    !pre.id.iter().any(|i| i == c)
                        && pre
                            .pipeline
                            .features
                            .iter()
                            .all(|f| f.column() != c || matches!(f, FittedFeature::Numeric { .. }))
                })
                .collect();
            let csv = CsvPieces::open(input, &needed, &numbers, options.batch_rows.min(PART_ROWS))?;
            // a header the model cannot read is line 1's problem, as the default build says
            let scorer = Scorer::new(model, &csv.schema(), &name).map_err(|e| match e {
                Error::Schema { message, .. } => propensity::Error::Row { file: input.into(), line: 1, message }.into(),
                e => e,
            })?;
            (Source::Csv(csv), scorer)
        }
        Format::Parquet => {
            let parquet_err = |source| Error::Parquet { file: input.to_path_buf(), source };
            let file = File::open(input).map_err(|e| propensity::Error::io(input, e))?;
            let bytes = file.metadata().map_err(|e| propensity::Error::io(input, e))?.len();
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
            Scorer::new(model, builder.schema(), &name)?; // names missing columns against the whole file
            let total = builder.metadata().file_metadata().num_rows().max(1) as u64;
            let wanted: Vec<usize> = builder
                .schema()
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| needed.contains(&f.name().trim()))
                .map(|(i, _)| i)
                .collect();
            let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
            let reader = builder
                .with_projection(mask)
                .with_batch_size(options.batch_rows.min(PART_ROWS))
                .build()
                .map_err(parquet_err)?;
            let scorer = Scorer::new(model, &reader.schema(), &name)?;
            (Source::Parquet { reader, name: name.clone(), bytes, total, rows: 0 }, scorer)
        }
    };
    let layout = match &source {
        Source::Csv(csv) => Some(csv.layout()),
        Source::Parquet { .. } => None,
    };
    let sink = Sink::create(output, &scorer)?;
    let csv_out = matches!(sink, Sink::Csv { .. });
    let mut summary = ScoreSummary { rows_scored: 0, rows_skipped: 0, bad_lines: vec![], bytes_read: 0, seconds: 0.0 };
    let stop = AtomicBool::new(false);
    let sink = std::thread::scope(|scope| -> Result<Sink> {
        // A reader thread reads (and cuts or decodes) the input into numbered parts; the cores
        // score the parts as they come (no waiting between blocks); this thread puts the results
        // back in order and checks them; a writer thread writes them.
        let (to_score, parts) = std::sync::mpsc::sync_channel::<(u64, Result<Part>, u64)>(IN_FLIGHT);
        let stop = &stop;
        let reader = scope.spawn(move || {
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (parts, bytes, end) = match source.next() {
                    Ok(Some(d)) => (d.parts.into_iter().map(Ok).collect::<Vec<_>>(), d.bytes, false),
                    Ok(None) => break,
                    Err(e) => (vec![Err(e)], 0, true),
                };
                for part in parts {
                    if to_score.send((seq, part, bytes)).is_err() {
                        return; // scoring stopped
                    }
                    seq += 1;
                }
                if end {
                    break;
                }
            }
        });
        let (to_order, scored) = std::sync::mpsc::sync_channel::<(u64, Result<Scored>, u64)>(IN_FLIGHT);
        let (layout, scorer) = (layout.as_deref(), &scorer);
        let scoring = scope.spawn(move || {
            parts.into_iter().par_bridge().for_each_with(to_order, |to_order, (seq, part, bytes)| {
                if stop.load(Ordering::Relaxed) {
                    return; // a part before this one failed: drain the reader
                }
                let result = part.and_then(|p| p.score(scorer, layout, csv_out));
                let _ = to_order.send((seq, result, bytes));
            })
        });
        let (to_writer, written) = std::sync::mpsc::sync_channel::<Scored>(IN_FLIGHT);
        let mut sink = sink;
        let writer = scope.spawn(move || -> Result<Sink> {
            for part in written {
                sink.write(&part.scores, output)?;
            }
            Ok(sink)
        });
        let result = (|| {
            let (mut waiting, mut next) = (std::collections::BTreeMap::new(), 0u64);
            for (seq, part, bytes) in scored.iter() {
                waiting.insert(seq, (part, bytes));
                while let Some((part, bytes)) = waiting.remove(&next) {
                    next += 1;
                    let mut part = part?;
                    if let Some((at, message)) = part.bad.first().filter(|_| !options.skip_bad) {
                        return Err(match part.by_line {
                            true => propensity::Error::Row {
                                file: input.to_path_buf(),
                                line: *at,
                                message: message.clone(),
                            }
                            .into(),
                            false => Error::Row { input: name.clone(), row: *at, message: message.clone() },
                        });
                    }
                    let bad = std::mem::take(&mut part.bad);
                    summary.rows_skipped += bad.len() as u64;
                    let room = 100usize.saturating_sub(summary.bad_lines.len());
                    summary.bad_lines.extend(bad.into_iter().take(room));
                    summary.rows_scored += part.rows as u64;
                    if to_writer.send(part).is_err() {
                        return Ok(()); // the writer failed: its error is returned below
                    }
                    summary.bytes_read = bytes;
                    progress(summary.rows_scored + summary.rows_skipped, bytes);
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed); // the end, or stop early: the reader and scorers drain
        drop(scored);
        drop(to_writer);
        reader.join().expect("the reader thread does not panic");
        scoring.join().expect("the scoring thread does not panic");
        let sink = writer.join().expect("the writer thread does not panic");
        result.and(sink)
    })?;
    sink.finish(output)?;
    Ok(ScoreSummary { seconds: started.elapsed().as_secs_f64(), ..summary })
}

/// Parts read, being scored or waiting to be written, at most (each stage holds this many).
const IN_FLIGHT: usize = 16;

/// Rows a part of the input holds at most, whatever the batch size — a CSV piece or a decoded
/// Parquet batch: parts spread over the cores as they come and keep memory low, at the best
/// speed. Measured on 1.9 M rows: CSV 47 MB peak against 164 MB with 65,536-row parts; Parquet
/// (medians of 9 runs) 0.219 s with 8,192 rows a batch, 0.220 s with 16,384, 0.236 s with 65,536.
const PART_ROWS: usize = 8_192;

/// Input on its way to the scorer: parts to score in parallel, in order.
struct Decoded {
    parts: Vec<Part>,
    /// Bytes read so far (after decompression; a Parquet file's share of its bytes).
    bytes: u64,
}

/// One part of the input.
enum Part {
    /// CSV records, parsed where they are scored.
    Csv(Piece),
    /// Decoded rows; the first is row `first` of the input, counted from 0.
    Rows { batch: RecordBatch, first: u64 },
}

/// A part's scores, as the output takes them, and its bad rows in order (by CSV line, or by row
/// number when `by_line` is false).
struct Scored {
    rows: usize,
    scores: Scores,
    bad: Vec<(u64, String)>,
    by_line: bool,
}

/// Scores on their way to the output.
enum Scores {
    /// CSV rows.
    Text(String),
    /// A batch for Parquet.
    Batch(RecordBatch),
}

impl Part {
    fn score(&self, scorer: &Scorer<'_>, layout: Option<&Layout>, csv_out: bool) -> Result<Scored> {
        let (scores, bad, by_line) = match (self, layout) {
            (Part::Csv(piece), Some(layout)) => {
                let b = layout.parse(piece)?;
                let (scores, bad) = scorer.score_slice(&b.batch, Some(&b.lines), 0)?;
                let mut bad: Vec<(u64, String)> = bad.into_iter().map(|(i, m)| (b.lines[i], m)).collect();
                bad.extend(b.bad);
                bad.sort_by_key(|(at, _)| *at);
                (scores, bad, true)
            }
            (Part::Rows { batch, first }, _) => {
                let (scores, bad) = scorer.score_slice(batch, None, *first)?;
                (scores, bad.into_iter().map(|(i, m)| (first + i as u64 + 1, m)).collect(), false)
            }
            (Part::Csv(_), None) => unreachable!("CSV parts come with the CSV's layout"),
        };
        let rows = scores.num_rows();
        let scores = match csv_out {
            true => {
                let mut text = String::with_capacity(rows * 32);
                csv_io::rows(&mut text, &scores, scorer.id_columns(), scorer.input())?;
                Scores::Text(text)
            }
            false => Scores::Batch(scores),
        };
        Ok(Scored { rows, scores, bad, by_line })
    }
}

enum Source {
    Csv(CsvPieces),
    Parquet { reader: ParquetRecordBatchReader, name: String, bytes: u64, total: u64, rows: u64 },
}

impl Source {
    fn next(&mut self) -> Result<Option<Decoded>> {
        match self {
            Source::Csv(csv) => Ok(csv
                .next_pieces()?
                .map(|(pieces, bytes)| Decoded { parts: pieces.into_iter().map(Part::Csv).collect(), bytes })),
            Source::Parquet { reader, name, bytes, total, rows } => match reader.next() {
                None => Ok(None),
                Some(Err(source)) => Err(Error::Arrow { input: name.clone(), source }),
                Some(Ok(batch)) => {
                    let first = *rows;
                    *rows += batch.num_rows() as u64;
                    // bytes are not counted per batch: the share of rows read stands in for them
                    let read = (*bytes as f64 * (*rows as f64 / *total as f64)) as u64;
                    let parts = (0..batch.num_rows())
                        .step_by(SLICE)
                        .map(|s| Part::Rows {
                            batch: batch.slice(s, SLICE.min(batch.num_rows() - s)),
                            first: first + s as u64,
                        })
                        .collect();
                    Ok(Some(Decoded { parts, bytes: read }))
                }
            },
        }
    }
}

/// Rows a row group of scores holds at most: a megabyte of ids and probabilities (DuckDB writes
/// 122,880 rows a group, pyarrow 1,048,576). With pyarrow's size, writing and flushing the last
/// group took 11–13 ms after the last row was scored (of 0.2 s for 1.9 M rows); with this one
/// 6 ms.
const ROW_GROUP: usize = 131_072;

/// How scores are written to Parquet. Chosen by `bash scripts/bench-score.sh` on 1.9 M rows (the
/// writer thread was the busiest: 0.27 → 0.22 s end to end, 22.4 → 15.5 MB):
/// - a dictionary only for the class names (`predicted`), the one column with few values, and no
///   min/max statistics for it (comparing every name was a tenth of the writer's time; the
///   dictionary page lists the names a reader can filter on);
/// - integer ids as deltas (`DELTA_BINARY_PACKED`): customer numbers that run in order cost a few
///   bits each instead of eight bytes;
/// - probabilities uncompressed: Snappy saved 8 % of their bytes at a quarter of the writer's time;
///   and without min/max statistics: a row group of thousands of customers spans nearly 0 to 1,
///   so they would let a reader skip nothing, and comparing every value was 4 % of the run's CPU
///   time;
/// - everything else Snappy, as pyarrow and Spark write by default;
/// - row groups of [`ROW_GROUP`] rows: the writer keeps a row group in memory until it is
///   complete, so the last one is written (and flushed to disk) after everything else.
///
/// `ids` is how many id columns lead `schema` (passed through with their own types).
fn output_properties(schema: &arrow::datatypes::Schema, ids: usize) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_size(ROW_GROUP)
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(ColumnPath::from("predicted"), true)
        .set_column_statistics_enabled(ColumnPath::from("predicted"), EnabledStatistics::None);
    for (i, f) in schema.fields().iter().enumerate() {
        let path = ColumnPath::from(f.name().as_str());
        props = match f.data_type() {
            DataType::Int32 | DataType::Int64 | DataType::UInt32 | DataType::UInt64 => {
                props.set_column_encoding(path, Encoding::DELTA_BINARY_PACKED)
            }
            DataType::Float32 if i >= ids => props
                .set_column_compression(path.clone(), Compression::UNCOMPRESSED)
                .set_column_statistics_enabled(path, EnabledStatistics::None),
            _ => props,
        };
    }
    props.build()
}

enum Sink {
    Csv { out: BufWriter<Writeback> },
    Parquet(Box<ArrowWriter<Writeback>>),
}

impl Sink {
    fn create(output: &Path, scorer: &Scorer<'_>) -> Result<Sink> {
        let tmp = Writeback::beside(output)?;
        let schema = scorer.output_schema();
        Ok(match Format::of(output) {
            Format::Csv => {
                let mut out = BufWriter::with_capacity(1 << 20, tmp);
                out.write_all(csv_io::header(&schema).as_bytes()).map_err(|e| propensity::Error::io(output, e))?;
                Sink::Csv { out }
            }
            Format::Parquet => {
                let props = output_properties(&schema, scorer.id_columns());
                let writer = ArrowWriter::try_new(tmp, schema, Some(props))
                    .map_err(|source| Error::Parquet { file: output.to_path_buf(), source })?;
                Sink::Parquet(Box::new(writer))
            }
        })
    }

    /// Writes a part's scores: CSV rows to a CSV, a batch to Parquet.
    fn write(&mut self, scores: &Scores, output: &Path) -> Result<()> {
        match (self, scores) {
            (Sink::Csv { out }, Scores::Text(text)) => {
                out.write_all(text.as_bytes()).map_err(|e| propensity::Error::io(output, e).into())
            }
            (Sink::Parquet(w), Scores::Batch(b)) => {
                w.write(b).map_err(|source| Error::Parquet { file: output.to_path_buf(), source })
            }
            _ => unreachable!("parts are scored as the output takes them"),
        }
    }

    fn finish(self, output: &Path) -> Result<()> {
        let tmp = match self {
            Sink::Csv { out, .. } => out.into_inner().map_err(|e| propensity::Error::io(output, e.into_error()))?,
            Sink::Parquet(w) => {
                w.into_inner().map_err(|source| Error::Parquet { file: output.to_path_buf(), source })?
            }
        };
        Ok(tmp.persist(output)?)
    }
}
