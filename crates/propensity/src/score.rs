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

use crate::loaded::LoadedModel;
use crate::saved::Preprocessing;
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

impl ScoreOptions {
    /// Checks the options of a run from `input` to `output`: at least one row per batch, and an
    /// output that is not the input.
    ///
    /// ```
    /// use propensity::score::ScoreOptions;
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("c.csv");
    /// std::fs::write(&file, "x\n1\n").unwrap();
    /// let e = ScoreOptions::default().check(&file, &file).unwrap_err();
    /// assert!(e.to_string().contains("is the input file"));
    /// ```
    pub fn check(&self, input: &Path, output: &Path) -> Result<()> {
        if self.batch_rows == 0 {
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
        Ok(())
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

/// Turns one raw CSV record into model inputs (already scaled): the saved pipeline reads
/// columns by name, so the file's header row binds them first.
struct RowEncoder {
    pipeline: crate::pipeline::FittedPipeline,
    id: Vec<String>,
    bound: Option<Bound>,
    scratch: Vec<f64>,
}

/// Where the pipeline's columns are in the file being scored.
struct Bound {
    positions: Vec<usize>,
    id: Vec<usize>,
    fields: usize,
}

impl RowEncoder {
    fn new(pre: &Preprocessing) -> RowEncoder {
        RowEncoder { pipeline: pre.pipeline.clone(), id: pre.id.clone(), bound: None, scratch: vec![] }
    }

    /// Inputs per row after encoding.
    fn width(&self) -> usize {
        self.pipeline.width()
    }

    /// Binds the pipeline's columns and the id columns to their positions in the file's
    /// `header` (the first record).
    fn bind(&mut self, header: &csv::StringRecord) -> std::result::Result<(), String> {
        let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
        let positions = self.pipeline.positions(&names)?;
        let id = self
            .id
            .iter()
            .map(|c| {
                names
                    .iter()
                    .position(|n| n == c)
                    .ok_or_else(|| format!("the model's id column `{c}` is not in the header {names:?}"))
            })
            .collect::<std::result::Result<_, _>>()?;
        self.bound = Some(Bound { positions, id, fields: names.len() });
        Ok(())
    }

    /// Encodes one record into `out` and returns its id: the id columns as CSV fields, or the
    /// line number.
    fn encode(
        &mut self,
        rec: &csv::StringRecord,
        line: u64,
        out: &mut Vec<f32>,
    ) -> std::result::Result<String, String> {
        let b = self.bound.as_ref().expect("the header binds the columns first");
        if rec.len() != b.fields {
            return Err(format!("expected {} fields (as the header), found {}", b.fields, rec.len()));
        }
        self.scratch.clear();
        self.pipeline.encode_row(&b.positions, |p| rec.get(p).unwrap_or("").trim(), &mut self.scratch)?;
        out.extend(self.scratch.iter().map(|&v| v as f32));
        if b.id.is_empty() {
            return Ok(line.to_string());
        }
        Ok(csv_fields(b.id.iter().map(|&p| rec.get(p).unwrap_or("").trim())))
    }
}

/// `texts` as CSV fields joined by commas, each quoted when it holds a comma, quote or line
/// break.
///
/// ```
/// assert_eq!(propensity::score::csv_fields(["a", "b,c"].into_iter()), "a,\"b,c\"");
/// ```
pub fn csv_fields<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (k, text) in texts.enumerate() {
        if k > 0 {
            out.push(',');
        }
        if text.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(text);
        }
    }
    out
}

/// Scores `input` (a CSV with a header row, plain or gzip) with the model saved at
/// `model_path` and writes `output`: the model's id columns (or the line number, as `id`), then
/// one probability column per class (`p_<class>`) and the predicted class — or, for a
/// regressor, `predicted_<target>`. `progress` is called
/// after each batch with the rows and bytes read so far.
pub fn score_csv(
    model_path: &Path,
    input: &Path,
    output: &Path,
    options: ScoreOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ScoreSummary> {
    let started = Instant::now();
    let loaded = LoadedModel::read(model_path)?;
    let summary = score_loaded(&loaded, input, output, options, progress)?;
    Ok(ScoreSummary { seconds: started.elapsed().as_secs_f64(), ..summary })
}

/// [`score_csv`] with a model already loaded ([`LoadedModel::score_csv`]); `seconds` counts
/// from the call.
pub(crate) fn score_loaded(
    loaded: &LoadedModel,
    input: &Path,
    output: &Path,
    options: ScoreOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ScoreSummary> {
    let started = Instant::now();
    options.check(input, output)?;
    let (saved, model) = (&loaded.saved, &loaded.model);
    let mut encoder = RowEncoder::new(&saved.preprocessing);
    let file = crate::io::open_input(input)?; // plain or gzip
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let tmp = crate::io::Writeback::beside(output)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, tmp);
    let regression = saved.preprocessing.regression;
    // the id columns keep their names; without them the id (`id`) is the line number
    let mut id = csv_fields(saved.preprocessing.id.iter().map(String::as_str));
    if id.is_empty() {
        id.push_str("id");
    }
    let header = match &regression {
        Some(_) => format!("{id},predicted_{}", saved.preprocessing.target[0]),
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
        let reader = scope.spawn(move || read_batches(&mut rdr, &mut encoder, input, batch_rows, options.skip_bad, tx));
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
    tmp.persist(output)?;
    Ok(ScoreSummary { seconds: started.elapsed().as_secs_f64(), ..summary })
}

/// Appends a probability in [0, 1] with six decimals (`0.123457`), exactly as `{:.6}` prints it
/// (ties to even), without the general float formatter.
///
/// ```
/// let mut s = String::new();
/// propensity::score::push_probability(&mut s, 0.25);
/// assert_eq!(s, "0.250000");
/// ```
pub fn push_probability(out: &mut String, p: f32) {
    let micro = micro(p);
    let mut text = *b"0.000000";
    text[0] = b'0' + (micro / 1_000_000) as u8;
    let mut decimals = micro % 1_000_000;
    for d in text[2..].iter_mut().rev() {
        *d = b'0' + (decimals % 10) as u8;
        decimals /= 10;
    }
    out.push_str(std::str::from_utf8(&text).expect("ASCII digits"));
}

/// `p` in millionths, rounded half to even: `((p as f64).clamp(0.0, 1.0) * 1e6).round_ties_even()`
/// without a call to libm's `rint` (a tenth of writing scores): adding and taking away 2⁵² leaves
/// a number in `0..=1e6` rounded to a whole one as the default rounding mode rounds, to even.
fn micro(p: f32) -> u32 {
    const SHIFT: f64 = 4_503_599_627_370_496.0;
    (((p as f64).clamp(0.0, 1.0) * 1e6 + SHIFT) - SHIFT) as u32
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
            if first {
                first = false;
                encoder.bind(&record).map_err(|message| Error::Row { file: input.to_path_buf(), line, message })?;
            } else {
                match encoder.encode(&record, line, &mut xs) {
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

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    #[test]
    fn millionths_round_half_to_even_as_round_ties_even() {
        let reference = |p: f32| ((p as f64).clamp(0.0, 1.0) * 1e6).round_ties_even() as u32;
        // halves of a millionth (0.0000005, 0.0000015, …) as f32 and their neighbours, the ends,
        // out-of-range and random probabilities
        let mut cases: Vec<f32> = (0..2_000_000u32).map(|k| (k as f64 / 2e6) as f32).collect();
        cases.extend(cases.clone().iter().flat_map(|&p| [p.next_up(), p.next_down()]));
        cases.extend([0.0, -0.0, 1.0, 1.5, -0.25, f32::MIN_POSITIVE, 0.9999999]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        cases.extend((0..1_000_000).map(|_| rng.gen::<f32>()));
        for p in cases {
            assert_eq!(super::micro(p), reference(p), "{p:e}");
        }
    }
}
