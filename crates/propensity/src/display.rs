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

    /// The table as an HTML fragment.
    pub fn to_html(&self) -> String {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let mut h = format!("<table><caption>{}</caption><thead><tr>", esc(&self.caption));
        for c in &self.header {
            h += &format!("<th>{}</th>", esc(c));
        }
        h += "</tr></thead><tbody>";
        for r in &self.rows {
            h += "<tr>";
            for c in r {
                h += &format!("<td>{}</td>", esc(c));
            }
            h += "</tr>";
        }
        h + "</tbody></table>"
    }

    /// evcxr's display hook: emits the table as `text/html`.
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT", self.to_html());
    }
}

impl std::fmt::Display for HtmlTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cols = self.header.len();
        let width = |j: usize| {
            self.rows.iter().map(|r| r.get(j).map_or(0, |c| c.chars().count())).chain([self.header[j].chars().count()]).max().unwrap_or(0)
        };
        let widths: Vec<usize> = (0..cols).map(width).collect();
        writeln!(f, "{}", self.caption)?;
        let line = |cells: &[String], left: bool| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, &w)| if left { format!("{c:<w$}") } else { format!("{c:>w$}") })
                .collect::<Vec<_>>()
                .join("  ")
        };
        writeln!(f, "{}", line(&self.header, true).trim_end())?;
        for r in &self.rows {
            writeln!(f, "{}", line(r, false))?;
        }
        Ok(())
    }
}
