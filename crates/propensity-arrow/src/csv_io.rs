//! CSV as Arrow batches, parsed on every core: a reader cuts the file into pieces of whole records
//! (a cheap scan on one thread), and each piece is parsed on its own into text columns for just
//! the columns a model reads, keeping every row's line number so bad rows are reported by line,
//! as `propensity score` always did. Also the writer of score batches in the CSV format
//! `propensity score` writes.
//!
//! Line numbers, record numbers and errors are the `csv` crate's, exactly: a piece of plain
//! text (no quote, no carriage return, no blank line) is split on `\n` and `,` directly; any other
//! piece is parsed by the `csv` crate from the position the reader counted for it.

use std::fmt::Write as _;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float32Array, Float64Array, Float64Builder, Int64Array, NullArray, RecordBatch,
    StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Int64Type, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use propensity::score::{csv_fields, push_probability};

use crate::{Error, Result};

/// Bytes the reader takes from the file at a time before cutting them into pieces.
const BLOCK: usize = 8 << 20;

/// A batch of CSV rows as text columns, with their line numbers.
pub(crate) struct CsvBatch {
    /// The rows that have the header's field count: the model's columns as `Utf8`, the others
    /// as `Null`.
    pub batch: RecordBatch,
    /// Each row's line in the file.
    pub lines: Vec<u64>,
    /// Rows with the wrong field count: line and message.
    pub bad: Vec<(u64, String)>,
}

/// Where a run of records starts, counted as the `csv` crate counts: byte offset, line (one more
/// than the `\n`s before it) and records before it (the header is record 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Start {
    byte: u64,
    line: u64,
    record: u64,
}

/// Whole CSV records, cut from the file by [`CsvPieces`], to be parsed by [`Layout::parse`].
pub(crate) struct Piece {
    block: Arc<Vec<u8>>,
    range: std::ops::Range<usize>,
    start: Start,
    /// No quote, no `\r`, no blank line: split on `\n` and `,` directly.
    plain: bool,
}

/// The header's columns and how each is built.
pub(crate) struct Layout {
    path: PathBuf,
    /// Every built column as text (a piece may build some as numbers).
    schema: SchemaRef,
    /// For each header column: how it is built.
    kinds: Vec<Kind>,
}

/// How a CSV column is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Not read by the model: `Null`.
    Skip,
    /// `Utf8`, trimmed.
    Text,
    /// `Float64` (empty: null) where every cell of the piece is a finite number, else `Utf8`:
    /// for columns only numeric steps read, which then skip the text.
    Number,
}

/// Reads a CSV with a header row (plain or gzip) and cuts it into pieces of whole records.
pub(crate) struct CsvPieces {
    input: Box<dyn Read + Send>,
    layout: Arc<Layout>,
    /// Bytes read but not yet cut (the start of a record).
    carry: Vec<u8>,
    start: Start,
    eof: bool,
    /// Records per piece (the last piece of a block may have fewer).
    piece_rows: usize,
    /// Bytes to read before cutting (more when one record is longer).
    block: usize,
}

impl CsvPieces {
    /// Opens `path` and reads its header; the columns named in `needed` are built, those also in
    /// `numbers` as numbers where they can be (see [`Kind::Number`]), the others as text.
    pub fn open(path: &Path, needed: &[&str], numbers: &[&str], piece_rows: usize) -> Result<CsvPieces> {
        Self::open_with(path, needed, numbers, piece_rows, BLOCK)
    }

    /// [`open`](Self::open), reading `block` bytes at a time.
    fn open_with(path: &Path, needed: &[&str], numbers: &[&str], piece_rows: usize, block: usize) -> Result<CsvPieces> {
        let mut input = propensity::io::open_input(path)?;
        let mut carry = vec![];
        let (header_end, eof) = loop {
            let want = carry.len() + block;
            let eof = fill(&mut input, &mut carry, want, path)?;
            match whole_records(&carry, eof, Some(1)) {
                (end, 1, _) => break (end, eof),
                _ if eof => break (carry.len(), eof),
                _ => {}
            }
        };
        let row_err = |e: csv::Error| propensity::Error::Row {
            file: path.to_path_buf(),
            line: e.position().map_or(1, |p| p.line()),
            message: e.to_string(),
        };
        let mut header = csv::StringRecord::new();
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(&carry[..header_end]);
        if !rdr.read_record(&mut header).map_err(row_err)? {
            return Err(Error::Propensity(propensity::Error::Format {
                file: path.to_path_buf(),
                message: "the file is empty; expected a header row".into(),
            }));
        }
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        let kinds: Vec<Kind> = names
            .iter()
            .map(|n| match (needed.contains(n), numbers.contains(n)) {
                (false, _) => Kind::Skip,
                (true, false) => Kind::Text,
                (true, true) => Kind::Number,
            })
            .collect();
        let fields = names
            .iter()
            .zip(&kinds)
            .map(|(n, &k)| Field::new(*n, if k == Kind::Skip { DataType::Null } else { DataType::Utf8 }, true))
            .collect::<Vec<_>>();
        let layout = Layout { path: path.to_path_buf(), schema: Arc::new(Schema::new(fields)), kinds };
        let start = Start { byte: header_end as u64, line: 1 + newlines(&carry[..header_end]), record: 1 };
        carry.drain(..header_end);
        Ok(CsvPieces { input, layout: Arc::new(layout), carry, start, eof, piece_rows: piece_rows.max(1), block })
    }

    /// The header as a schema (unread columns are `Null`).
    pub fn schema(&self) -> SchemaRef {
        self.layout.schema.clone()
    }

    /// What [`Layout::parse`] needs: shared by the threads that parse the pieces.
    pub fn layout(&self) -> Arc<Layout> {
        self.layout.clone()
    }

    /// The next pieces, in order, and the bytes read through them; `None` at the end of the file.
    pub fn next_pieces(&mut self) -> Result<Option<(Vec<Piece>, u64)>> {
        let path = self.layout.path.clone();
        let mut want = self.block;
        // where the block ends, and for other than plain text its records and `\n`s
        let (cut, plain, counted) = loop {
            if !self.eof {
                self.eof = fill(&mut self.input, &mut self.carry, want, &path)?;
            }
            let plain = is_plain(&self.carry);
            let (cut, counted) = match (plain, self.eof) {
                (true, true) => (self.carry.len(), None),
                (true, false) => (memchr::memrchr(b'\n', &self.carry).map_or(0, |i| i + 1), None),
                (false, _) => {
                    let (cut, records, lines) = whole_records(&self.carry, self.eof, None);
                    (cut, Some((records, lines)))
                }
            };
            if cut > 0 || self.eof {
                break (cut, plain, counted);
            }
            want = self.carry.len() * 2; // a record longer than the block: read more
        };
        if cut == 0 {
            return Ok(None); // the end (or only blank lines left)
        }
        // the next block is read after the rest of this one, in a buffer that will not grow
        let mut rest = Vec::with_capacity(self.block.max(self.carry.len() - cut) + (1 << 16));
        rest.extend_from_slice(&self.carry[cut..]);
        self.carry.truncate(cut);
        let block = Arc::new(std::mem::replace(&mut self.carry, rest));
        let mut pieces = vec![];
        let start = self.start;
        if let Some((records, lines)) = counted {
            pieces.push(Piece { range: 0..block.len(), block, start, plain });
            self.start =
                Start { byte: start.byte + cut as u64, line: start.line + lines, record: start.record + records };
        } else {
            // plain text, one record a line: cut every `piece_rows` lines
            let (mut from, mut lines, mut total) = (0, 0u64, 0u64);
            let mut at = start;
            for (k, i) in memchr::memchr_iter(b'\n', &block).enumerate() {
                total = k as u64 + 1;
                if (k + 1) % self.piece_rows == 0 {
                    pieces.push(Piece { block: block.clone(), range: from..i + 1, start: at, plain });
                    let n = (k + 1 - lines as usize) as u64;
                    at = Start { byte: start.byte + i as u64 + 1, line: at.line + n, record: at.record + n };
                    (from, lines) = (i + 1, k as u64 + 1);
                }
            }
            if from < block.len() {
                pieces.push(Piece { block: block.clone(), range: from..block.len(), start: at, plain });
            }
            let last_open = u64::from(block.last() != Some(&b'\n')); // the file's last line, no `\n`
            self.start = Start {
                byte: start.byte + block.len() as u64,
                line: start.line + total,
                record: start.record + total + last_open,
            };
        }
        Ok(Some((pieces, self.start.byte)))
    }
}

/// Reads from `input` until `buf` holds `want` bytes or the input ends (returns whether it did).
fn fill(input: &mut dyn Read, buf: &mut Vec<u8>, want: usize, path: &Path) -> Result<bool> {
    let need = want.saturating_sub(buf.len());
    let got = input.take(need as u64).read_to_end(buf).map_err(|e| propensity::Error::io(path, e))?;
    Ok(got < need)
}

/// The `\n`s in `bytes`.
fn newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Whether `bytes` ends in a record without its `\n` (text after the last `\n`).
fn from_end(bytes: &[u8]) -> bool {
    bytes.last().is_some_and(|&b| b != b'\n')
}

/// The positions of the `,`s and `\n`s of some bytes, in order, found eight bytes at a time
/// (SWAR: a word's bytes equal to either, without a branch per byte).
struct Separators<'a> {
    bytes: &'a [u8],
    /// Where the next word starts.
    next: usize,
    /// Where the current word starts, and its separators: bit 7 of each byte that is one.
    base: usize,
    found: u64,
}

impl<'a> Separators<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Separators { bytes, next: 0, base: 0, found: 0 }
    }

    /// Bit 7 of every byte of `word` that equals `b`, exactly (no borrow between bytes).
    fn equal(word: u64, b: u8) -> u64 {
        const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        let v = word ^ (0x0101_0101_0101_0101 * u64::from(b));
        // bit 7 of a byte of `(v & LOW) + LOW` is set when its low seven bits are not all zero
        !(((v & LOW) + LOW) | v | LOW)
    }
}

impl Iterator for Separators<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.found == 0 {
            let start = self.next;
            let end = (start + 8).min(self.bytes.len());
            if start >= end {
                return None;
            }
            let word = match self.bytes[start..end].try_into() {
                Ok(whole) => u64::from_le_bytes(whole),
                Err(_) => {
                    let mut word = [0u8; 8]; // zeros past the end: neither separator
                    word[..end - start].copy_from_slice(&self.bytes[start..end]);
                    u64::from_le_bytes(word)
                }
            };
            self.found = Self::equal(word, b',') | Self::equal(word, b'\n');
            (self.base, self.next) = (start, end);
        }
        let bit = self.found.trailing_zeros() as usize;
        self.found &= self.found - 1;
        Some(self.base + bit / 8)
    }
}

/// Text the plain parser reads exactly as the `csv` crate would: no quote, no `\r`, no blank line.
fn is_plain(bytes: &[u8]) -> bool {
    memchr::memchr2(b'"', b'\r', bytes).is_none()
        && bytes.first() != Some(&b'\n')
        && memchr::memmem::find(bytes, b"\n\n").is_none()
}

/// Scans whole records from the start of `bytes` with the `csv` crate's rules: the end of the
/// last whole record (of the first `limit`), the records up to there, and the `\n`s before it.
/// At the end of the input (`eof`) a last record without a line end counts too.
fn whole_records(bytes: &[u8], eof: bool, limit: Option<u64>) -> (usize, u64, u64) {
    use csv_core::ReadRecordResult::*;
    let mut rdr = csv_core::Reader::new();
    let (mut out, mut ends) = (vec![0u8; bytes.len() + 1], vec![0usize; 64]);
    let (mut at, mut o, mut e) = (0, 0, 0);
    let (mut cut, mut records, mut lines) = (0, 0, 0);
    loop {
        let (result, nin, nout, nend) = rdr.read_record(&bytes[at..], &mut out[o..], &mut ends[e..]);
        (at, o, e) = (at + nin, o + nout, e + nend);
        match result {
            Record => {
                (cut, records, lines, o, e) = (at, records + 1, rdr.line() - 1, 0, 0);
                if Some(records) == limit {
                    break;
                }
            }
            InputEmpty if !eof => break,
            InputEmpty => {} // the next call, with no input, ends the last record
            OutputFull => out.resize(out.len() * 2, 0),
            OutputEndsFull => ends.resize(ends.len() * 2, 0),
            End => break,
        }
    }
    (cut, records, lines)
}

impl Layout {
    /// Parses a piece into the model's columns; a row with the wrong field count is returned as
    /// bad, a row that is not UTF-8 text is an error (as the `csv` crate words it).
    pub fn parse(&self, piece: &Piece) -> Result<CsvBatch> {
        let bytes = &piece.block[piece.range.clone()];
        match std::str::from_utf8(bytes) {
            Ok(text) if piece.plain => match self.parse_plain(text, piece.start, true)? {
                Some(batch) => Ok(batch),
                None => Ok(self.parse_plain(text, piece.start, false)?.expect("text columns always build")),
            },
            _ => self.parse_csv(bytes, piece.start),
        }
    }

    /// A builder for each column, sized for `bytes` of CSV holding `rows` rows; numbers as text
    /// unless `numbers`.
    fn builders(&self, rows: usize, bytes: usize, numbers: bool) -> Vec<Builder> {
        let per_column = 2 * bytes / self.kinds.len().max(1);
        let builder = |k: &Kind| match k {
            Kind::Skip => Builder::Skip,
            Kind::Number if numbers => Builder::Number(Float64Builder::with_capacity(rows)),
            _ => Builder::Text(StringBuilder::with_capacity(rows, per_column)),
        };
        self.kinds.iter().map(builder).collect()
    }

    fn finish(&self, builders: Vec<Builder>, lines: Vec<u64>, bad: Vec<(u64, String)>) -> Result<CsvBatch> {
        let columns: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| match b {
                Builder::Text(mut b) => Arc::new(b.finish()) as ArrayRef,
                Builder::Number(mut b) => Arc::new(b.finish()),
                Builder::Skip => Arc::new(NullArray::new(lines.len())),
            })
            .collect();
        let fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|source| Error::Arrow { input: self.path.display().to_string(), source })?;
        Ok(CsvBatch { batch, lines, bad })
    }

    fn wrong_count(&self, found: usize) -> String {
        format!("expected {} fields (as the header), found {found}", self.kinds.len())
    }

    /// Plain text: one record a line, fields split on `,`. With `numbers`, `None` if a number
    /// column holds a cell that is not a finite number (the caller reads the piece as text, so
    /// the cell's error names its text).
    fn parse_plain(&self, text: &str, start: Start, numbers: bool) -> Result<Option<CsvBatch>> {
        let rows = newlines(text.as_bytes()) as usize + 1;
        let mut builders = self.builders(rows, text.len(), numbers);
        let (mut lines, mut bad) = (Vec::with_capacity(rows), vec![]);
        let mut cells: Vec<&str> = Vec::with_capacity(self.kinds.len());
        let (bytes, mut from, mut line) = (text.as_bytes(), 0, start.line);
        // every `,` ends a cell and every `\n` a record (a last record may have no `\n`)
        let ends = Separators::new(bytes).chain(from_end(bytes).then_some(bytes.len()));
        for at in ends {
            cells.push(&text[from..at]);
            from = at + 1;
            if at < bytes.len() && bytes[at] == b',' {
                continue;
            }
            if cells.len() != self.kinds.len() {
                bad.push((line, self.wrong_count(cells.len())));
            } else if !Self::append(&mut builders, &cells) {
                return Ok(None);
            } else {
                lines.push(line);
            }
            cells.clear();
            line += 1;
        }
        self.finish(builders, lines, bad).map(Some)
    }

    /// Appends a record's cells to the builders; false when a number column's cell is not a
    /// finite number.
    fn append(builders: &mut [Builder], cells: &[&str]) -> bool {
        for (b, cell) in builders.iter_mut().zip(cells) {
            match b {
                Builder::Skip => {}
                Builder::Text(b) => b.append_value(trim(cell)),
                Builder::Number(b) => match trim(cell) {
                    "" => b.append_null(),
                    t => match propensity::pipeline::parse_f64(t) {
                        Some(v) if v.is_finite() => b.append_value(v),
                        _ => return false,
                    },
                },
            }
        }
        true
    }

    /// Any CSV, by the `csv` crate, counting from `start`; every column as text.
    fn parse_csv(&self, bytes: &[u8], start: Start) -> Result<CsvBatch> {
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(Cursor::new(bytes));
        let row_err = |e: csv::Error| propensity::Error::Row {
            file: self.path.clone(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        };
        if start.byte > 0 {
            let mut at = csv::Position::new();
            at.set_byte(start.byte).set_line(start.line).set_record(start.record);
            rdr.seek_raw(std::io::SeekFrom::Start(0), at).map_err(row_err)?;
        }
        let mut builders = self.builders(bytes.len() / 16 + 1, bytes.len(), false);
        let (mut lines, mut bad) = (vec![], vec![]);
        let mut record = csv::StringRecord::new();
        while rdr.read_record(&mut record).map_err(row_err)? {
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != self.kinds.len() {
                bad.push((line, self.wrong_count(record.len())));
                continue;
            }
            for (b, cell) in builders.iter_mut().zip(record.iter()) {
                if let Builder::Text(b) = b {
                    b.append_value(cell.trim());
                }
            }
            lines.push(line);
        }
        self.finish(builders, lines, bad)
    }
}

/// A column being built.
enum Builder {
    Skip,
    Text(StringBuilder),
    Number(Float64Builder),
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
    // each column's writer, chosen once for the batch
    let columns = scores
        .columns()
        .iter()
        .enumerate()
        .map(|(c, column)| {
            Ok(match column.data_type() {
                DataType::Utf8 => Column::Text(column.as_string::<i32>()),
                DataType::Int64 => Column::Whole(column.as_primitive::<Int64Type>()),
                DataType::Float32 if c >= ids => Column::Probability(column.as_primitive::<Float32Type>()),
                DataType::Float64 if c >= ids => Column::Amount(column.as_primitive::<Float64Type>()),
                _ => Column::Other(ArrayFormatter::try_new(column.as_ref(), &options).map_err(arrow_err)?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut cell = String::new();
    for i in 0..scores.num_rows() {
        for (c, column) in columns.iter().enumerate() {
            if c > 0 {
                out.push(',');
            }
            match column {
                Column::Text(a) => quoted(out, if a.is_null(i) { "" } else { a.value(i) }),
                Column::Whole(a) => out.push_str(itoa::Buffer::new().format(a.value(i))),
                Column::Probability(a) => push_probability(out, a.value(i)),
                Column::Amount(a) => {
                    let _ = write!(out, "{:.4}", a.value(i));
                }
                Column::Other(f) => {
                    cell.clear();
                    let _ = write!(cell, "{}", f.value(i));
                    quoted(out, &cell);
                }
            }
        }
        out.push('\n');
    }
    Ok(())
}

/// How [`rows`] writes a column of scores.
enum Column<'a> {
    /// Ids as text, quoted when needed.
    Text(&'a StringArray),
    /// Whole-number ids.
    Whole(&'a Int64Array),
    /// Probabilities, six decimals.
    Probability(&'a Float32Array),
    /// Predicted amounts, four decimals.
    Amount(&'a Float64Array),
    /// Ids of any other type, as Arrow displays them.
    Other(ArrayFormatter<'a>),
}

/// `cell.trim()`, quicker for the usual cell: ASCII white space trimmed first, then the rest of
/// `str::trim`'s set (Unicode's, and the vertical tab) when such a character may be left at
/// either end.
fn trim(cell: &str) -> &str {
    let t = cell.trim_ascii();
    let other = |b: u8| b >= 0x80 || b == 0x0B;
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(&a), Some(&z)) if other(a) || other(z) => t.trim(),
        _ => t,
    }
}

/// Appends `text` as one CSV field.
fn quoted(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push_str(&csv_fields(std::iter::once(text)));
    } else {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn separators_are_every_comma_and_newline() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for len in 0..200 {
            // every byte value, commas and newlines often
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.gen_range(0..4) {
                    0 => b',',
                    1 => b'\n',
                    _ => rng.gen(),
                })
                .collect();
            let expected: Vec<usize> = (0..len).filter(|&i| bytes[i] == b',' || bytes[i] == b'\n').collect();
            assert_eq!(Separators::new(&bytes).collect::<Vec<_>>(), expected, "{bytes:?}");
        }
    }

    #[test]
    fn trim_is_str_trim() {
        for cell in ["", " ", " 1.5 ", "\t7\r", "\u{a0}8\u{a0}", "\u{b}9\u{b} ", " é ", "x\u{2003}", "\u{85}"] {
            assert_eq!(trim(cell), cell.trim(), "{cell:?}");
        }
    }

    /// Everything a reader gives for `text` cut `piece_rows` records at a time, with `block`
    /// bytes read at a time: (line, the kept cells) per row, and the bad rows.
    fn read(text: &[u8], piece_rows: usize, block: usize) -> Result<(Rows, Vec<(u64, String)>)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let mut reader = CsvPieces::open_with(&path, &["a", "c"], &[], piece_rows, block)?;
        let layout = reader.layout();
        let (mut rows, mut bad) = (vec![], vec![]);
        while let Some((pieces, _)) = reader.next_pieces()? {
            for p in pieces {
                let b = layout.parse(&p)?;
                for (i, &line) in b.lines.iter().enumerate() {
                    let cells = [0, 2].iter().map(|&c| b.batch.column(c).as_string::<i32>().value(i).to_string());
                    rows.push((line, cells.collect()));
                }
                bad.extend(b.bad);
            }
        }
        Ok((rows, bad))
    }

    type Rows = Vec<(u64, Vec<String>)>;

    /// The same from one `csv` reader over the whole text (what `propensity score` always did).
    fn reference(text: &[u8]) -> (Rows, Vec<(u64, String)>) {
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text);
        let mut r = csv::StringRecord::new();
        rdr.read_record(&mut r).unwrap();
        let (mut rows, mut bad) = (vec![], vec![]);
        while rdr.read_record(&mut r).unwrap() {
            let line = r.position().unwrap().line();
            match r.len() {
                3 => rows.push((line, vec![r[0].trim().to_string(), r[2].trim().to_string()])),
                n => bad.push((line, format!("expected 3 fields (as the header), found {n}"))),
            }
        }
        (rows, bad)
    }

    /// Random CSV text with quotes, CRLF, blank lines, short rows and a last line with or without
    /// a line end.
    fn random_csv(rng: &mut rand::rngs::StdRng) -> Vec<u8> {
        let mut text = String::from("a,b,c\n");
        for _ in 0..rng.gen_range(0..60) {
            let fields = if rng.gen_bool(0.1) { rng.gen_range(1..5) } else { 3 };
            let cells: Vec<String> = (0..fields)
                .map(|_| match rng.gen_range(0..10) {
                    0 => "\"q,\"\"x\"\"\ny\"".to_string(),
                    1 => " 7 ".to_string(),
                    2 => String::new(),
                    _ => rng.gen_range(0..1000).to_string(),
                })
                .collect();
            text.push_str(&cells.join(","));
            text.push_str(match rng.gen_range(0..12) {
                0 => "\r\n",
                1 => "\n\n",
                _ => "\n",
            });
        }
        if rng.gen_bool(0.3) {
            text.push_str("9,9,9");
        }
        text.into_bytes()
    }

    #[test]
    fn pieces_read_exactly_as_one_csv_reader_reads_the_whole_file() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut plain = 0;
        for case in 0..600 {
            let mut text = random_csv(&mut rng);
            if case % 3 == 0 {
                text.retain(|&b| b != b'"' && b != b'\r'); // plain text, mostly
            }
            plain += usize::from(is_plain(&text));
            let (piece_rows, block) = (rng.gen_range(1..9), rng.gen_range(1..80));
            let got = read(&text, piece_rows, block).unwrap();
            assert_eq!(got, reference(&text), "{}", String::from_utf8_lossy(&text));
        }
        assert!(plain > 30, "{plain} plain files");
    }

    #[test]
    fn a_piece_that_is_not_utf8_is_the_csv_crates_error_at_its_line() {
        let text = b"a,b,c\n1,2,3\n4,5,6\n7,\xff,9\n".to_vec();
        let err = read(&text, 1, 4).unwrap_err().to_string();
        let whole = {
            let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(&text[..]);
            let mut r = csv::StringRecord::new();
            (0..4).find_map(|_| rdr.read_record(&mut r).err()).unwrap().to_string()
        };
        assert!(err.contains(&whole), "{err} / {whole}");
        assert!(err.contains("line 4"), "{err}");
    }
}
