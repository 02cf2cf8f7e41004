//! Small tables that render as HTML in a notebook and as aligned text in a terminal.

/// A captioned table of strings.
///
/// ```
/// use propensity::display::HtmlTable;
/// let t = HtmlTable::new("Runs", &["run", "accuracy"]).row(vec!["1".into(), "80.80%".into()]);
/// assert!(t.to_html().contains("<td>80.80%</td>"));
/// assert_eq!(t.to_string(), "Runs\nrun  accuracy\n  1    80.80%\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlTable {
    caption: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl HtmlTable {
    /// An empty table with a caption and column headers.
    pub fn new(caption: &str, header: &[&str]) -> Self {
        HtmlTable { caption: caption.into(), header: header.iter().map(|h| h.to_string()).collect(), rows: vec![] }
    }

    /// Appends a row.
    pub fn row(mut self, cells: Vec<String>) -> Self {
        self.rows.push(cells);
        self
    }

    /// Appends a row in place.
    pub fn push(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Per column: whether every cell is a number (or a percentage, or empty). Numbers are
    /// right-aligned so digits line up; text is left-aligned.
    fn numeric_columns(&self) -> Vec<bool> {
        let number = |c: &str| c.is_empty() || c.trim().trim_end_matches('%').trim().parse::<f64>().is_ok();
        (0..self.header.len()).map(|j| self.rows.iter().all(|r| r.get(j).is_none_or(|c| number(c)))).collect()
    }

    /// About how many pixels wide the table renders in Jupyter: 7 px a character of each
    /// column's longest cell (text longer than 40 characters wraps), plus 16 px of padding.
    pub fn width_px(&self) -> usize {
        (0..self.header.len())
            .map(|j| {
                let longest = self
                    .rows
                    .iter()
                    .filter_map(|r| r.get(j))
                    .chain([&self.header[j]])
                    .map(|c| c.chars().count().min(40))
                    .max()
                    .unwrap_or(0);
                7 * longest + 16
            })
            .sum()
    }

    /// Rows become columns: a column per row (headed by its first cell) and a row per column (a
    /// `df.head().T`), how a few rows of a wide table fit the page.
    pub fn transposed(&self) -> HtmlTable {
        let mut header = vec![self.header[0].clone()];
        header.extend(self.rows.iter().map(|r| r.first().cloned().unwrap_or_default()));
        let rows = (1..self.header.len())
            .map(|j| {
                let mut row = vec![self.header[j].clone()];
                row.extend(self.rows.iter().map(|r| r.get(j).cloned().unwrap_or_default()));
                row
            })
            .collect();
        HtmlTable { caption: self.caption.clone(), header, rows }
    }

    /// The table as an HTML fragment. A table wider than a notebook page (1,000 px, see
    /// [`width_px`](Self::width_px)) with at most 12 rows is shown [`transposed`](Self::transposed)
    /// when that is narrower.
    ///
    /// ```
    /// use propensity::display::HtmlTable;
    /// let names: Vec<String> = (0..30).map(|j| format!("column_{j}")).collect();
    /// let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    /// let t = HtmlTable::new("Wide", &refs).row((0..30).map(|j| j.to_string()).collect());
    /// assert!(t.width_px() > 1000);
    /// assert!(t.to_html().contains("<tr><td style=\"text-align:left\">column_1</td><td>1</td></tr>"));
    /// ```
    pub fn to_html(&self) -> String {
        if self.width_px() > 1000 && (1..=12).contains(&self.rows.len()) && self.header.len() > 2 {
            let turned = self.transposed();
            if turned.width_px() < self.width_px() {
                return turned.html();
            }
        }
        self.html()
    }

    fn html(&self) -> String {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let numeric = self.numeric_columns();
        let align = |j: usize| if numeric.get(j).copied().unwrap_or(true) { "" } else { " style=\"text-align:left\"" };
        let mut h = format!("<table><caption>{}</caption><thead><tr>", esc(&self.caption));
        for (j, c) in self.header.iter().enumerate() {
            h += &format!("<th{}>{}</th>", align(j), esc(c));
        }
        h += "</tr></thead><tbody>";
        for r in &self.rows {
            h += "<tr>";
            for (j, c) in r.iter().enumerate() {
                h += &format!("<td{}>{}</td>", align(j), esc(c));
            }
            h += "</tr>";
        }
        h + "</tbody></table>"
    }

    /// evcxr's display hook: emits the table as `text/html`.
    pub fn evcxr_display(&self) {
        Html(self.to_html()).evcxr_display();
    }
}

/// An HTML fragment that shows as one output in a notebook (tables and inline SVG plots
/// together: a front end shows one output per MIME type, so several displays in one cell would
/// hide all but one).
///
/// ```
/// let h = propensity::display::Html("<p>hi</p>".into());
/// assert_eq!(h.0, "<p>hi</p>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Html(pub String);

impl Html {
    /// evcxr's display hook: emits the fragment as `text/html`.
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT", self.0);
    }
}

/// The header and first `rows` rows of a CSV file as a table (a `head()` of a file too large
/// to load).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("s.csv");
/// std::fs::write(&path, "id,p\n1,0.5\n2,0.25\n").unwrap();
/// let t = propensity::display::csv_preview(&path, 1).unwrap();
/// assert!(t.to_html().contains("<td>0.5</td>") && !t.to_html().contains("0.25"));
/// ```
pub fn csv_preview(path: impl AsRef<std::path::Path>, rows: usize) -> crate::Result<HtmlTable> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| crate::Error::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let err = |e: csv::Error| crate::Error::Row {
        file: path.to_path_buf(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    };
    let header: Vec<String> = rdr.headers().map_err(err)?.iter().map(String::from).collect();
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let name = path.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let mut t = HtmlTable::new(&format!("First {rows} rows of {name}"), &header_refs);
    for rec in rdr.records().take(rows) {
        t.push(rec.map_err(err)?.iter().map(String::from).collect());
    }
    Ok(t)
}

impl std::fmt::Display for HtmlTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cols = self.header.len();
        let width = |j: usize| {
            self.rows
                .iter()
                .map(|r| r.get(j).map_or(0, |c| c.chars().count()))
                .chain([self.header[j].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..cols).map(width).collect();
        let numeric = self.numeric_columns();
        writeln!(f, "{}", self.caption)?;
        let line = |cells: &[String], header: bool| {
            cells
                .iter()
                .zip(widths.iter().zip(&numeric))
                .map(|(c, (&w, &num))| if header || !num { format!("{c:<w$}") } else { format!("{c:>w$}") })
                .collect::<Vec<_>>()
                .join("  ")
        };
        writeln!(f, "{}", line(&self.header, true).trim_end())?;
        for r in &self.rows {
            writeln!(f, "{}", line(r, false).trim_end())?;
        }
        Ok(())
    }
}
