//! Data-quality report of a [`Table`]: missing values, duplicates, a per-column summary like
//! pandas' `describe()`, and the class counts of a target.

use serde::{Deserialize, Serialize};

use crate::display::HtmlTable;
use crate::table::Table;

/// pandas-style summary of one numeric column (missing cells left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    /// Column name.
    pub name: String,
    /// Present values.
    pub count: usize,
    /// Missing cells.
    pub missing: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (ddof 1, as `describe()`).
    pub std: f64,
    /// Minimum.
    pub min: f64,
    /// 25th percentile (linear interpolation, numpy's default).
    pub q25: f64,
    /// Median.
    pub q50: f64,
    /// 75th percentile.
    pub q75: f64,
    /// Maximum.
    pub max: f64,
}

/// Value counts of one categorical column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryCounts {
    /// Column name.
    pub name: String,
    /// Missing cells.
    pub missing: usize,
    /// `(category, rows)`, sorted by category.
    pub counts: Vec<(String, usize)>,
}

/// What [`QualityReport::of`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// The file the table came from.
    pub source: String,
    /// Data rows.
    pub rows: usize,
    /// Rows identical to an earlier row on every column not excluded.
    pub duplicate_rows: usize,
    /// Columns left out of the duplicate check (identifiers).
    pub duplicate_check_excludes: Vec<String>,
    /// One summary per numeric column.
    pub columns: Vec<ColumnSummary>,
    /// Each categorical column's missing cells and category counts.
    pub categorical: Vec<CategoryCounts>,
    /// The target column and its `(class, rows)` counts, if a target was named.
    pub class_counts: Option<(String, Vec<(String, usize)>)>,
}

impl QualityReport {
    /// Summarises `table`. `target` names a class column to count; `exclude` names columns
    /// (such as an ID) to ignore when looking for duplicate rows.
    ///
    /// ```
    /// use propensity::quality::QualityReport;
    /// use propensity::table::{Column, Table};
    /// let t = Table::new("m", vec![
    ///     Column { name: "id".into(), values: vec![Some(1.0), Some(2.0), Some(3.0)] },
    ///     Column { name: "x".into(), values: vec![Some(1.0), Some(1.0), None] },
    ///     Column { name: "y".into(), values: vec![Some(0.0), Some(0.0), Some(1.0)] },
    /// ]).unwrap();
    /// let r = QualityReport::of(&t, Some("y"), &["id"]);
    /// assert_eq!(r.duplicate_rows, 1);
    /// assert_eq!(r.columns[1].missing, 1);
    /// assert_eq!(r.class_counts.unwrap().1, vec![("0".to_string(), 2), ("1".to_string(), 1)]);
    /// ```
    pub fn of(table: &Table, target: Option<&str>, exclude: &[&str]) -> QualityReport {
        let columns = table.columns().iter().map(|c| summarise(&c.name, c.values.as_slice())).collect();
        let duplicate_rows = table.duplicate_rows_ignoring(exclude).len();
        let categorical: Vec<CategoryCounts> = table
            .categorical()
            .iter()
            .map(|c| CategoryCounts { name: c.name.clone(), missing: c.missing(), counts: c.counts() })
            .collect();
        let class_counts = target.and_then(|t| {
            if let Some(c) = table.column(t) {
                let mut counts: Vec<(f64, usize)> = Vec::new();
                for v in c.present() {
                    match counts.iter_mut().find(|(k, _)| *k == v) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((v, 1)),
                    }
                }
                counts.sort_by(|a, b| a.0.total_cmp(&b.0));
                Some((c.name.clone(), counts.into_iter().map(|(v, n)| (format_num(v), n)).collect()))
            } else {
                categorical.iter().find(|c| c.name == t).map(|c| (c.name.clone(), c.counts.clone()))
            }
        });
        QualityReport {
            source: table.source().display().to_string(),
            rows: table.rows(),
            duplicate_rows,
            duplicate_check_excludes: exclude.iter().map(|s| s.to_string()).collect(),
            columns,
            categorical,
            class_counts,
        }
    }

    /// The report as tables: an overview, the per-column summary, and the class counts.
    pub fn tables(&self) -> Vec<HtmlTable> {
        let total_missing: usize = self.columns.iter().map(|c| c.missing).sum::<usize>()
            + self.categorical.iter().map(|c| c.missing).sum::<usize>();
        let excl = if self.duplicate_check_excludes.is_empty() {
            String::new()
        } else {
            format!(" (ignoring {})", self.duplicate_check_excludes.join(", "))
        };
        let name = std::path::Path::new(&self.source)
            .file_name()
            .map_or(self.source.clone(), |n| n.to_string_lossy().into_owned());
        let overview = HtmlTable::new(&format!("Data quality of {name}"), &["check", "value"])
            .row(vec!["rows".into(), self.rows.to_string()])
            .row(vec![
                "columns".into(),
                format!(
                    "{} ({} numeric, {} categorical)",
                    self.columns.len() + self.categorical.len(),
                    self.columns.len(),
                    self.categorical.len()
                ),
            ])
            .row(vec!["missing cells".into(), total_missing.to_string()])
            .row(vec![format!("duplicate rows{excl}"), self.duplicate_rows.to_string()]);
        let mut summary = HtmlTable::new(
            "Per-column summary",
            &["column", "count", "missing", "mean", "std", "min", "25%", "50%", "75%", "max"],
        );
        for c in &self.columns {
            let mut cells = vec![c.name.clone(), c.count.to_string(), c.missing.to_string()];
            cells.extend([c.mean, c.std, c.min, c.q25, c.q50, c.q75, c.max].iter().map(|v| format_num(*v)));
            summary.push(cells);
        }
        let mut out = vec![overview, summary];
        let target = self.class_counts.as_ref().map(|c| c.0.as_str());
        for c in self.categorical.iter().filter(|c| Some(c.name.as_str()) != target) {
            let caption = format!("Categories of `{}` ({} missing)", c.name, c.missing);
            out.push(counts_table(&caption, "category", &c.counts));
        }
        if let Some((name, counts)) = &self.class_counts {
            out.push(counts_table(&format!("Class counts of `{name}`"), "class", counts));
        }
        out
    }

    /// evcxr's display hook: the tables as HTML.
    pub fn evcxr_display(&self) {
        let html: String = self.tables().iter().map(HtmlTable::to_html).collect::<Vec<_>>().join("<br/>");
        println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
    }
}

impl std::fmt::Display for QualityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for t in self.tables() {
            writeln!(f, "{t}")?;
        }
        Ok(())
    }
}

fn counts_table(caption: &str, what: &str, counts: &[(String, usize)]) -> HtmlTable {
    let total: usize = counts.iter().map(|c| c.1).sum();
    let mut t = HtmlTable::new(caption, &[what, "rows", "share"]);
    for (v, n) in counts {
        t.push(vec![v.clone(), n.to_string(), format!("{:.2}%", 100.0 * *n as f64 / total.max(1) as f64)]);
    }
    t
}

fn format_num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

fn summarise(name: &str, values: &[Option<f64>]) -> ColumnSummary {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let std =
        if n > 1 { (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { f64::NAN };
    let q = |p: f64| {
        if n == 0 {
            return f64::NAN;
        }
        let pos = p * (n - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    };
    ColumnSummary {
        name: name.into(),
        count: n,
        missing: values.len() - n,
        mean: if n == 0 { f64::NAN } else { mean },
        std,
        min: q(0.0),
        q25: q(0.25),
        q50: q(0.5),
        q75: q(0.75),
        max: q(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_pandas_describe() {
        // pd.Series([1, 2, 3, 4, 10]).describe():
        // count 5, mean 4.0, std 3.535534, min 1, 25% 2, 50% 3, 75% 4, max 10
        let s = summarise("x", &[Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(10.0), None]);
        assert_eq!((s.count, s.missing), (5, 1));
        assert!((s.std - 3.535534).abs() < 1e-6);
        assert_eq!((s.min, s.q25, s.q50, s.q75, s.max), (1.0, 2.0, 3.0, 4.0, 10.0));
        // pd.Series([1, 2, 3, 4]).quantile(0.25) = 1.75
        let s = summarise("y", &[Some(4.0), Some(1.0), Some(3.0), Some(2.0)]);
        assert!((s.q25 - 1.75).abs() < 1e-12);
    }
}
