//! Numeric tables loaded from CSV and validated cell by cell.
//!
//! A [`Table`] is the first stop of the data flow: every cell is a finite number or, in the
//! columns the [`CsvSchema`] allows it for, missing. It remembers the file and the line each row
//! came from, so later checks (a target that is not 0/1, say) can still point at the line.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::{Error, Result};

/// Whether the CSV must start with a header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// The first row must name the schema's columns.
    Required,
    /// A first row that matches the schema's names is a header; a first row of numbers is data.
    Optional,
}

/// What a CSV file must hold: its columns in order, which of them hold text categories, and
/// which may have empty cells.
///
/// ```
/// use propensity::table::{CsvSchema, Header};
/// let schema = CsvSchema { columns: &["a", "b"], categorical: &["b"], nullable: &[], header: Header::Optional };
/// assert_eq!(schema.columns.len(), 2);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CsvSchema<'a> {
    /// Column names, in file order. Header names are compared with surrounding spaces trimmed.
    pub columns: &'a [&'a str],
    /// Columns holding text categories (kept as strings); every other column is numeric.
    pub categorical: &'a [&'a str],
    /// Columns in which an empty cell means "missing" rather than an error.
    pub nullable: &'a [&'a str],
    /// Whether a header row is required or optional.
    pub header: Header,
}

/// One named numeric column; `None` marks a missing cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name (as in the schema).
    pub name: String,
    /// One value per row.
    pub values: Vec<Option<f64>>,
}

impl Column {
    /// Number of missing cells.
    pub fn missing(&self) -> usize {
        self.values.iter().filter(|v| v.is_none()).count()
    }

    /// The values that are present.
    pub fn present(&self) -> impl Iterator<Item = f64> + '_ {
        self.values.iter().flatten().copied()
    }
}

/// One named text column (a category per row); `None` marks a missing cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalColumn {
    /// The column's name.
    pub name: String,
    /// One category per row.
    pub values: Vec<Option<String>>,
}

impl CategoricalColumn {
    /// Number of missing cells.
    pub fn missing(&self) -> usize {
        self.values.iter().filter(|v| v.is_none()).count()
    }

    /// `(category, rows)` pairs, sorted by category.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut m = std::collections::BTreeMap::new();
        for v in self.values.iter().flatten() {
            *m.entry(v.clone()).or_insert(0) += 1;
        }
        m.into_iter().collect()
    }
}

/// A validated table: numeric cells are finite, categorical cells are non-empty text, and only
/// nullable columns have missing cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    source: PathBuf,
    columns: Vec<Column>,
    categorical: Vec<CategoricalColumn>,
    lines: Vec<u64>,
}

impl Table {
    /// Builds a table from columns of equal length; `source` names where they came from and
    /// rows are numbered from line 1.
    ///
    /// ```
    /// use propensity::table::{Column, Table};
    /// let t = Table::new("memory", vec![
    ///     Column { name: "x".into(), values: vec![Some(1.0), None] },
    /// ]).unwrap();
    /// assert_eq!(t.rows(), 2);
    /// ```
    pub fn new(source: impl Into<PathBuf>, columns: Vec<Column>) -> Result<Table> {
        let rows = columns.first().map_or(0, |c| c.values.len());
        if let Some(c) = columns.iter().find(|c| c.values.len() != rows) {
            return Err(Error::Data(format!(
                "column `{}` has {} values, the first column has {rows}",
                c.name,
                c.values.len()
            )));
        }
        if let Some((c, v)) = columns.iter().find_map(|c| c.present().find(|v| !v.is_finite()).map(|v| (c, v))) {
            return Err(Error::Data(format!("column `{}` holds the non-finite value {v}", c.name)));
        }
        Ok(Table { source: source.into(), columns, categorical: Vec::new(), lines: (1..=rows as u64).collect() })
    }

    /// Adds categorical columns of the table's length (builder style, for in-memory tables).
    ///
    /// ```
    /// use propensity::table::{CategoricalColumn, Column, Table};
    /// let t = Table::new("m", vec![Column { name: "x".into(), values: vec![Some(1.0)] }]).unwrap()
    ///     .with_categorical(vec![CategoricalColumn { name: "c".into(), values: vec![Some("a".into())] }])
    ///     .unwrap();
    /// assert_eq!(t.categorical_column("c").unwrap().counts(), vec![("a".to_string(), 1)]);
    /// let text_only = Table::new("m", vec![]).unwrap()
    ///     .with_categorical(vec![CategoricalColumn { name: "c".into(), values: vec![None, None] }]).unwrap();
    /// assert_eq!(text_only.rows(), 2);
    /// ```
    pub fn with_categorical(mut self, columns: Vec<CategoricalColumn>) -> Result<Table> {
        if self.columns.is_empty() && self.categorical.is_empty() {
            // a table of text columns only takes its length from them
            self.lines = (1..=columns.first().map_or(0, |c| c.values.len()) as u64).collect();
        }
        if let Some(c) = columns.iter().find(|c| c.values.len() != self.rows()) {
            return Err(Error::Data(format!(
                "column `{}` has {} values, the table has {} rows",
                c.name,
                c.values.len(),
                self.rows()
            )));
        }
        self.categorical.extend(columns);
        Ok(self)
    }

    /// The same table with each row's source line set (rows are numbered from 1 otherwise).
    pub(crate) fn with_lines(mut self, lines: Vec<u64>) -> Table {
        assert_eq!(lines.len(), self.rows(), "one line per row");
        self.lines = lines;
        self
    }

    /// Reads and validates a CSV file against `schema`.
    ///
    /// Errors name the file, the line and the column: a wrong column count, a header that does
    /// not match, a cell that is not a number, a NaN or infinite value, an empty cell outside the
    /// nullable columns, or a file without data rows.
    pub fn read_csv(path: impl AsRef<Path>, schema: &CsvSchema) -> Result<Table> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        Self::from_reader(path, file, schema)
    }

    /// Like [`read_csv`](Self::read_csv), from any reader; `source` is used in error messages.
    ///
    /// ```
    /// use propensity::table::{CsvSchema, Header, Table};
    /// let schema = CsvSchema { columns: &["a", "b"], categorical: &[], nullable: &["b"], header: Header::Optional };
    /// let t = Table::from_reader("inline.csv", "a,b\n1,2\n3,\n".as_bytes(), &schema).unwrap();
    /// assert_eq!(t.column("b").unwrap().values, vec![Some(2.0), None]);
    /// let err = Table::from_reader("inline.csv", "1,x\n".as_bytes(), &schema).unwrap_err();
    /// assert_eq!(err.to_string(), "inline.csv, line 1, column `b`: expected a number, found \"x\"");
    /// ```
    pub fn from_reader(source: impl Into<PathBuf>, reader: impl std::io::Read, schema: &CsvSchema) -> Result<Table> {
        let source = source.into();
        let width = schema.columns.len();
        let nullable: Vec<bool> = schema.columns.iter().map(|c| schema.nullable.contains(c)).collect();
        let is_cat: Vec<bool> = schema.columns.iter().map(|c| schema.categorical.contains(c)).collect();
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(reader);
        let mut columns: Vec<Vec<Option<f64>>> = vec![Vec::new(); width];
        let mut texts: Vec<Vec<Option<String>>> = vec![Vec::new(); width];
        let mut lines = Vec::new();
        let mut record = csv::StringRecord::new();
        let mut first = true;
        loop {
            let more = rdr.read_record(&mut record).map_err(|e| csv_error(&source, e))?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
                continue; // blank line
            }
            if record.len() != width {
                return Err(Error::Row {
                    file: source.clone(),
                    line,
                    message: format!("expected {width} columns, found {}", record.len()),
                });
            }
            if first {
                first = false;
                let names_match = record.iter().zip(schema.columns).all(|(f, c)| f.trim() == c.trim());
                if names_match {
                    continue;
                }
                // A first row with any number in it is data (a bad cell is then reported as such);
                // one of names only is a header that does not match.
                let looks_like_data = record.iter().any(|f| f.trim().parse::<f64>().is_ok());
                if schema.header == Header::Required || !looks_like_data {
                    let found: Vec<&str> = record.iter().collect();
                    return Err(Error::Row {
                        file: source.clone(),
                        line,
                        message: format!("expected the header {:?}, found {:?}", schema.columns, found),
                    });
                }
            }
            for (j, field) in record.iter().enumerate() {
                if is_cat[j] {
                    texts[j].push(parse_category(&source, line, schema.columns[j], field, nullable[j])?);
                } else {
                    columns[j].push(parse_cell(&source, line, schema.columns[j], field, nullable[j])?);
                }
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Err(Error::Format { file: source, message: "no data rows".into() });
        }
        let mut numeric = Vec::new();
        let mut categorical = Vec::new();
        for ((name, values), (text, cat)) in schema.columns.iter().zip(columns).zip(texts.into_iter().zip(is_cat)) {
            if cat {
                categorical.push(CategoricalColumn { name: name.to_string(), values: text });
            } else {
                numeric.push(Column { name: name.to_string(), values });
            }
        }
        Ok(Table { source, columns: numeric, categorical, lines })
    }

    /// Where the table came from (a file path, or a label for in-memory tables).
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// The numeric columns, in schema order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The categorical columns, in schema order.
    pub fn categorical(&self) -> &[CategoricalColumn] {
        &self.categorical
    }

    /// The categorical column called `name`, or an error naming the file.
    pub fn categorical_column(&self, name: &str) -> Result<&CategoricalColumn> {
        self.categorical.iter().find(|c| c.name == name).ok_or_else(|| Error::Format {
            file: self.source.clone(),
            message: format!(
                "no categorical column `{name}`; categorical columns are {:?}",
                self.categorical.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()
            ),
        })
    }

    /// The column called `name`, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Mutable access to the column called `name`, if any.
    pub fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    /// The 1-based file line of each row.
    pub fn lines(&self) -> &[u64] {
        &self.lines
    }

    /// Keeps the rows at `indices`, in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Table {
        Table {
            source: self.source.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| Column { name: c.name.clone(), values: indices.iter().map(|&i| c.values[i]).collect() })
                .collect(),
            categorical: self
                .categorical
                .iter()
                .map(|c| CategoricalColumn {
                    name: c.name.clone(),
                    values: indices.iter().map(|&i| c.values[i].clone()).collect(),
                })
                .collect(),
            lines: indices.iter().map(|&i| self.lines[i]).collect(),
        }
    }

    /// Indices of the rows that repeat an earlier row exactly (every column compared), like
    /// the `True` rows of pandas' `df.duplicated()`.
    ///
    /// ```
    /// use propensity::table::{Column, Table};
    /// let t = Table::new("m", vec![Column { name: "x".into(), values: vec![Some(1.0), Some(2.0), Some(1.0)] }]).unwrap();
    /// assert_eq!(t.duplicate_rows(), vec![2]);
    /// assert_eq!(t.select_rows(&[0, 1]).duplicate_rows(), Vec::<usize>::new());
    /// ```
    pub fn duplicate_rows(&self) -> Vec<usize> {
        self.duplicate_rows_ignoring(&[])
    }

    /// Like [`duplicate_rows`](Self::duplicate_rows), comparing every column but those named in
    /// `ignore` (an ID makes every row unique otherwise).
    ///
    /// ```
    /// use propensity::table::{Column, Table};
    /// let t = Table::new("m", vec![
    ///     Column { name: "id".into(), values: vec![Some(1.0), Some(2.0)] },
    ///     Column { name: "x".into(), values: vec![Some(5.0), Some(5.0)] },
    /// ]).unwrap();
    /// assert_eq!(t.duplicate_rows_ignoring(&["id"]), vec![1]);
    /// ```
    pub fn duplicate_rows_ignoring(&self, ignore: &[&str]) -> Vec<usize> {
        let nums: Vec<&Column> = self.columns.iter().filter(|c| !ignore.contains(&c.name.as_str())).collect();
        let texts: Vec<&CategoricalColumn> =
            self.categorical.iter().filter(|c| !ignore.contains(&c.name.as_str())).collect();
        let mut seen = std::collections::HashSet::new();
        (0..self.rows())
            .filter(|&i| {
                let key: Vec<Option<u64>> = nums.iter().map(|c| c.values[i].map(f64::to_bits)).collect();
                let text: Vec<Option<&str>> = texts.iter().map(|c| c.values[i].as_deref()).collect();
                !seen.insert((key, text))
            })
            .collect()
    }

    /// The values of numeric `column` grouped by the categories of `by`, groups sorted by
    /// category: the data of a per-class box plot.
    ///
    /// ```
    /// use propensity::table::{CategoricalColumn, Column, Table};
    /// let t = Table::new("m", vec![Column { name: "x".into(), values: vec![Some(1.0), Some(2.0), Some(3.0)] }]).unwrap()
    ///     .with_categorical(vec![CategoricalColumn { name: "c".into(),
    ///         values: vec![Some("b".into()), Some("a".into()), Some("b".into())] }]).unwrap();
    /// assert_eq!(t.grouped("c", "x").unwrap(), vec![("a".to_string(), vec![2.0]), ("b".to_string(), vec![1.0, 3.0])]);
    /// ```
    pub fn grouped(&self, by: &str, column: &str) -> Result<Vec<(String, Vec<f64>)>> {
        let keys = self.categorical_column(by)?;
        let values = self.require(column)?;
        let mut groups: std::collections::BTreeMap<String, Vec<f64>> = std::collections::BTreeMap::new();
        for (k, v) in keys.values.iter().zip(&values.values) {
            if let (Some(k), Some(v)) = (k, v) {
                groups.entry(k.clone()).or_default().push(*v);
            }
        }
        Ok(groups.into_iter().collect())
    }

    /// Rows per (level of `rows`, level of `cols`) of two categorical columns, levels sorted —
    /// `pd.crosstab`. Returns the row levels, the column levels and the counts.
    ///
    /// ```
    /// use propensity::table::{CategoricalColumn, Column, Table};
    /// let cat = |name: &str, v: &[&str]| CategoricalColumn { name: name.into(), values: v.iter().map(|s| Some(s.to_string())).collect() };
    /// let t = Table::new("m", vec![Column { name: "x".into(), values: vec![Some(0.0); 3] }]).unwrap()
    ///     .with_categorical(vec![cat("g", &["m", "f", "m"]), cat("y", &["A", "A", "B"])]).unwrap();
    /// let (r, c, n) = t.crosstab("g", "y").unwrap();
    /// assert_eq!((r, c, n), (vec!["f".into(), "m".into()], vec!["A".into(), "B".into()], vec![vec![1, 0], vec![1, 1]]));
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn crosstab(&self, rows: &str, cols: &str) -> Result<(Vec<String>, Vec<String>, Vec<Vec<usize>>)> {
        let (a, b) = (self.categorical_column(rows)?, self.categorical_column(cols)?);
        let ra: Vec<String> = a.counts().into_iter().map(|c| c.0).collect();
        let cb: Vec<String> = b.counts().into_iter().map(|c| c.0).collect();
        let mut n = vec![vec![0usize; cb.len()]; ra.len()];
        for (x, y) in a.values.iter().zip(&b.values) {
            if let (Some(x), Some(y)) = (x, y) {
                let i = ra.iter().position(|l| l == x).expect("level from counts");
                let j = cb.iter().position(|l| l == y).expect("level from counts");
                n[i][j] += 1;
            }
        }
        Ok((ra, cb, n))
    }

    /// Pearson correlation matrix of the named numeric columns (rows with a missing value in
    /// either column of a pair are skipped for that pair) — `df[cols].corr()`.
    ///
    /// ```
    /// use propensity::table::{Column, Table};
    /// let t = Table::new("m", vec![
    ///     Column { name: "a".into(), values: vec![Some(1.0), Some(2.0), Some(3.0)] },
    ///     Column { name: "b".into(), values: vec![Some(3.0), Some(2.0), Some(1.0)] },
    /// ]).unwrap();
    /// assert_eq!(t.correlation(&["a", "b"]).unwrap(), vec![vec![1.0, -1.0], vec![-1.0, 1.0]]);
    /// ```
    pub fn correlation(&self, names: &[&str]) -> Result<Vec<Vec<f64>>> {
        let cols = names.iter().map(|n| self.require(n)).collect::<Result<Vec<_>>>()?;
        let pearson = |a: &Column, b: &Column| {
            let pairs: Vec<(f64, f64)> =
                a.values.iter().zip(&b.values).filter_map(|(x, y)| Some(((*x)?, (*y)?))).collect();
            let n = pairs.len() as f64;
            let (ma, mb) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
            let cov: f64 = pairs.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum();
            let va: f64 = pairs.iter().map(|p| (p.0 - ma).powi(2)).sum();
            let vb: f64 = pairs.iter().map(|p| (p.1 - mb).powi(2)).sum();
            cov / (va * vb).sqrt()
        };
        Ok(cols.iter().map(|a| cols.iter().map(|b| pearson(a, b)).collect()).collect())
    }

    /// The named columns as a row-major matrix. Fails on an unknown name or a missing cell
    /// (fill it first, see [`crate::preprocess::MeanFill`]).
    ///
    /// ```
    /// use propensity::table::{Column, Table};
    /// let t = Table::new("m", vec![
    ///     Column { name: "a".into(), values: vec![Some(1.0), Some(2.0)] },
    ///     Column { name: "b".into(), values: vec![Some(3.0), Some(4.0)] },
    /// ]).unwrap();
    /// assert_eq!(t.to_matrix(&["b", "a"]).unwrap(), ndarray::array![[3.0, 1.0], [4.0, 2.0]]);
    /// ```
    pub fn to_matrix(&self, names: &[&str]) -> Result<Array2<f64>> {
        let cols = names.iter().map(|n| self.require(n)).collect::<Result<Vec<_>>>()?;
        let mut out = Array2::zeros((self.rows(), cols.len()));
        for (j, c) in cols.iter().enumerate() {
            for (i, v) in c.values.iter().enumerate() {
                out[[i, j]] = v.ok_or_else(|| self.cell_error(i, &c.name, "missing value (fill it before use)"))?;
            }
        }
        Ok(out)
    }

    /// The column called `name`, or an error naming the file and the columns it has.
    pub fn require(&self, name: &str) -> Result<&Column> {
        self.column(name).ok_or_else(|| Error::Format {
            file: self.source.clone(),
            message: format!(
                "no column `{name}`; columns are {:?}",
                self.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()
            ),
        })
    }

    /// An error about the cell at `row` (0-based) of `column`, naming file and line.
    pub fn cell_error(&self, row: usize, column: &str, message: impl Into<String>) -> Error {
        Error::Cell {
            file: self.source.clone(),
            line: self.lines[row],
            column: column.to_string(),
            message: message.into(),
        }
    }
}

/// Any CSV with a header row, every cell kept as trimmed text: the input of the generic feature
/// pipeline ([`crate::pipeline`]), which decides per column how to read it. Rows remember their
/// line numbers for error messages.
///
/// ```
/// use propensity::table::TextTable;
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("t.csv");
/// std::fs::write(&p, "id,plan\n1, gold\n2,\n").unwrap();
/// let t = TextTable::read_csv(&p).unwrap();
/// assert_eq!((t.rows(), t.cell(0, 1), t.cell(1, 1)), (2, "gold", ""));
/// assert!(TextTable::read_csv(dir.path().join("missing.csv")).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TextTable {
    source: PathBuf,
    names: Vec<String>,
    /// Column-major cells.
    cells: Vec<Vec<String>>,
    lines: Vec<u64>,
}

impl TextTable {
    /// Reads a CSV (gzipped when the name ends in `.gz`) whose first row names the columns. A
    /// row with another number of fields, a repeated or empty column name, or a file without data
    /// rows is an error naming the file and line.
    pub fn read_csv(path: impl AsRef<Path>) -> Result<TextTable> {
        let path = path.as_ref();
        let mut reader = csv::Reader::from_reader(crate::io::open_input(path)?);
        // an unnamed column (a saved pandas index) is called `Unnamed: j`, as pandas reads it
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| Error::Format { file: path.into(), message: e.to_string() })?
            .iter()
            .enumerate()
            .map(|(j, s)| if s.trim().is_empty() { format!("Unnamed: {j}") } else { s.trim().to_string() })
            .collect();
        for (j, n) in names.iter().enumerate() {
            if names[..j].contains(n) {
                return Err(Error::Row { file: path.into(), line: 1, message: format!("column `{n}` appears twice") });
            }
        }
        let mut cells: Vec<Vec<String>> = vec![Vec::new(); names.len()];
        let mut lines = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            let more = reader.read_record(&mut record).map_err(|e| Error::Row {
                file: path.into(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != names.len() {
                return Err(Error::Row {
                    file: path.into(),
                    line,
                    message: format!("expected {} fields, found {}", names.len(), record.len()),
                });
            }
            for (j, f) in record.iter().enumerate() {
                cells[j].push(f.trim().to_string());
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Err(Error::Format { file: path.into(), message: "no data rows".into() });
        }
        Ok(TextTable { source: path.into(), names, cells, lines })
    }

    /// The file the table came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Column names, file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// The position of column `name`, or an error listing the columns the file has.
    pub fn position(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name).ok_or_else(|| Error::Format {
            file: self.source.clone(),
            message: format!("no column `{name}`; columns are {:?}", self.names),
        })
    }

    /// The cells of column `j`, one per row (empty text for an empty cell).
    pub fn column(&self, j: usize) -> &[String] {
        &self.cells[j]
    }

    /// The cell at `row`, column `j`.
    pub fn cell(&self, row: usize, j: usize) -> &str {
        &self.cells[j][row]
    }

    /// The line each row came from.
    pub fn lines(&self) -> &[u64] {
        &self.lines
    }

    /// An error about the cell at `row` (0-based) of column `j`, naming file, line and column.
    pub fn cell_error(&self, row: usize, j: usize, message: impl Into<String>) -> Error {
        Error::Cell {
            file: self.source.clone(),
            line: self.lines[row],
            column: self.names[j].clone(),
            message: message.into(),
        }
    }

    /// Splits into its parts: source, names, column-major cells, lines.
    pub(crate) fn into_parts(self) -> (PathBuf, Vec<String>, Vec<Vec<String>>, Vec<u64>) {
        (self.source, self.names, self.cells, self.lines)
    }
}

fn parse_cell(file: &Path, line: u64, column: &str, field: &str, nullable: bool) -> Result<Option<f64>> {
    let err = |message: String| Error::Cell { file: file.to_path_buf(), line, column: column.to_string(), message };
    let field = field.trim();
    if field.is_empty() {
        return if nullable { Ok(None) } else { Err(err("missing value".into())) };
    }
    match field.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err(err(format!("expected a finite number, found {field:?}"))),
        Err(_) => Err(err(format!("expected a number, found {field:?}"))),
    }
}

fn parse_category(file: &Path, line: u64, column: &str, field: &str, nullable: bool) -> Result<Option<String>> {
    let field = field.trim();
    if field.is_empty() {
        if nullable {
            return Ok(None);
        }
        return Err(Error::Cell {
            file: file.to_path_buf(),
            line,
            column: column.to_string(),
            message: "missing value".into(),
        });
    }
    Ok(Some(field.to_string()))
}

fn csv_error(file: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::io(file, source),
        kind => Error::Row { file: file.to_path_buf(), line, message: format!("{kind:?}") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: CsvSchema =
        CsvSchema { columns: &["a", "b", "c"], categorical: &[], nullable: &["c"], header: Header::Optional };

    fn read(text: &str) -> Result<Table> {
        Table::from_reader("t.csv", text.as_bytes(), &SCHEMA)
    }

    #[test]
    fn header_is_optional_and_lines_are_kept() {
        let with = read("a,b,c\n1,2,3\n4,5,6\n").unwrap();
        let without = read("1,2,3\n4,5,6\n").unwrap();
        assert_eq!(with.columns(), without.columns());
        assert_eq!(with.lines(), &[2, 3]);
        assert_eq!(without.lines(), &[1, 2]);
    }

    #[test]
    fn wrong_column_count_names_the_line() {
        let e = read("a,b,c\n1,2,3\n4,5\n").unwrap_err();
        assert!(matches!(e, Error::Row { line: 3, .. }), "{e}");
        assert!(e.to_string().contains("expected 3 columns, found 2"), "{e}");
    }

    #[test]
    fn non_numeric_and_non_finite_cells_are_refused() {
        let e = read("1,2,3\n4,x,6\n").unwrap_err();
        assert!(matches!(&e, Error::Cell { line: 2, column, .. } if column == "b"), "{e}");
        let e = read("1,inf,3\n").unwrap_err();
        assert!(e.to_string().contains("finite"), "{e}");
        let e = read("NaN,1,3\n").unwrap_err();
        assert!(matches!(&e, Error::Cell { column, .. } if column == "a"), "{e}");
    }

    #[test]
    fn empty_cells_only_in_nullable_columns() {
        let t = read("1,2,\n").unwrap();
        assert_eq!(t.column("c").unwrap().missing(), 1);
        let e = read("1,,3\n").unwrap_err();
        assert!(e.to_string().contains("missing value"), "{e}");
    }

    #[test]
    fn a_wrong_header_and_an_empty_file_are_refused() {
        let e = read("a,b,x\n1,2,3\n").unwrap_err();
        assert!(e.to_string().contains("expected the header"), "{e}");
        let e = read("a,b,c\n").unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{e}");
        let required = CsvSchema { header: Header::Required, ..SCHEMA };
        assert!(Table::from_reader("t.csv", "1,2,3\n".as_bytes(), &required).is_err());
    }

    #[test]
    fn categorical_columns_keep_text_and_refuse_empty_cells() {
        let schema = CsvSchema { columns: &["x", "g"], categorical: &["g"], nullable: &[], header: Header::Required };
        let t = Table::from_reader("t.csv", "x,g\n1,Male\n2, Female \n".as_bytes(), &schema).unwrap();
        assert_eq!(t.columns().len(), 1);
        let g = t.categorical_column("g").unwrap();
        assert_eq!(g.values, vec![Some("Male".to_string()), Some("Female".to_string())]);
        assert_eq!(t.select_rows(&[1]).categorical_column("g").unwrap().values, vec![Some("Female".to_string())]);
        let e = Table::from_reader("t.csv", "x,g\n1,\n".as_bytes(), &schema).unwrap_err();
        assert!(matches!(&e, Error::Cell { line: 2, column, .. } if column == "g"), "{e}");
        assert!(t.categorical_column("x").is_err());
    }

    #[test]
    fn to_matrix_refuses_missing_cells_with_their_line() {
        let t = read("a,b,c\n1,2,3\n4,5,\n").unwrap();
        let e = t.to_matrix(&["a", "c"]).unwrap_err();
        assert!(matches!(e, Error::Cell { line: 3, .. }), "{e}");
        assert!(t.to_matrix(&["zzz"]).is_err());
    }
}
