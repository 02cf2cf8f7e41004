//! Automatic exploratory data analysis: one call on any CSV (or [`Table`]) gives inferred column
//! types, missing values, duplicates, distributions with outliers, correlations, the columns most
//! associated with a chosen target, and the class balance — as a notebook display and as one
//! self-contained HTML file with the plots inline.
//!
//! ```
//! use propensity::eda::{infer_csv, Eda};
//! let dir = tempfile::tempdir().unwrap();
//! let p = dir.path().join("t.csv");
//! std::fs::write(&p, "age,city,spend,bought\n30,Oslo,10.5,1\n41,Rome,,0\n30,Oslo,10.5,1\n52,Oslo,99,1\n29,Rome,3,0\n").unwrap();
//! let table = infer_csv(&p).unwrap();
//! let eda = Eda::of(&table, Some("bought"), &[]).unwrap();
//! assert_eq!((eda.rows, eda.duplicate_rows), (5, 1));
//! let spend = eda.columns.iter().find(|c| c.name == "spend").unwrap();
//! assert_eq!((spend.missing, spend.kind), (1, propensity::eda::Kind::Numeric));
//! eda.save_html(dir.path().join("eda.html")).unwrap();
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::display::HtmlTable;
use crate::plot::Svg;
use crate::table::{CategoricalColumn, Column, Table};
use crate::{Error, Result};

/// Reads any CSV with a header row (gzipped when the name ends in `.gz`), inferring each column's
/// type: numeric when every non-empty cell is a finite number, otherwise categorical (text). Empty
/// cells are missing.
pub fn infer_csv(path: impl AsRef<Path>) -> Result<Table> {
    let (source, names, cells, lines) = crate::table::TextTable::read_csv(path)?.into_parts();
    let (mut numeric, mut categorical) = (vec![], vec![]);
    for (name, col) in names.into_iter().zip(cells) {
        let parsed: Vec<Option<Option<f64>>> = col
            .iter()
            .map(|c| if c.is_empty() { Some(None) } else { c.parse::<f64>().ok().filter(|v| v.is_finite()).map(Some) })
            .collect();
        if parsed.iter().all(Option::is_some) && parsed.iter().any(|v| matches!(v, Some(Some(_)))) {
            numeric.push(Column { name, values: parsed.into_iter().map(|v| v.flatten()).collect() });
        } else {
            categorical.push(CategoricalColumn {
                name,
                values: col.into_iter().map(|c| if c.is_empty() { None } else { Some(c) }).collect(),
            });
        }
    }
    Ok(Table::new(source, numeric)?.with_categorical(categorical)?.with_lines(lines))
}

/// What a column holds, as inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Numbers with more than two distinct values.
    Numeric,
    /// Two distinct values (numbers or text).
    Binary,
    /// Text with few distinct values.
    Categorical,
    /// A distinct value in (almost) every row: an identifier, not a feature.
    Identifier,
    /// One value only.
    Constant,
}

/// One column's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Name.
    pub name: String,
    /// Inferred kind.
    pub kind: Kind,
    /// Missing cells.
    pub missing: usize,
    /// Distinct present values.
    pub distinct: usize,
    /// Mean, standard deviation, min, median, max (numeric columns).
    pub stats: Option<[f64; 5]>,
    /// Values outside [Q1 − 1.5 IQR, Q3 + 1.5 IQR] (numeric columns).
    pub outliers: usize,
    /// The most frequent value and its count (text columns).
    pub top: Option<(String, usize)>,
}

/// Association of one column with the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Association {
    /// Column.
    pub column: String,
    /// The measure's name: |Pearson r|, correlation ratio η, or Cramér's V.
    pub measure: String,
    /// Its value in [0, 1].
    pub value: f64,
}

/// The EDA report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Eda {
    /// The source file.
    pub source: String,
    /// Rows.
    pub rows: usize,
    /// Rows equal to an earlier row.
    pub duplicate_rows: usize,
    /// Column profiles, file order (numeric first, then text).
    pub columns: Vec<ColumnProfile>,
    /// Names of the numeric feature columns of the correlation matrix.
    pub correlation_names: Vec<String>,
    /// Pairwise Pearson correlations (pairwise-complete rows).
    pub correlations: Vec<Vec<f64>>,
    /// The target column, if one was chosen.
    pub target: Option<String>,
    /// Columns ranked by association with the target, strongest first.
    pub associations: Vec<Association>,
    /// Class counts of a binary or categorical target.
    pub class_balance: Vec<(String, usize)>,
    /// Histograms of the numeric columns (not serialized).
    #[serde(skip)]
    pub distributions: Option<Svg>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = (sorted.len() - 1) as f64 * q;
    let (i, f) = (pos.floor() as usize, pos.fract());
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - f) + sorted[i + 1] * f
    } else {
        sorted[i]
    }
}

/// Labels of a column as text (for categorical grouping), `None` when missing.
fn labels(table: &Table, name: &str) -> Option<Vec<Option<String>>> {
    if let Some(c) = table.column(name) {
        return Some(c.values.iter().map(|v| v.map(|x| x.to_string())).collect());
    }
    table.categorical().iter().find(|c| c.name == name).map(|c| c.values.clone())
}

/// Correlation ratio η of numeric `values` grouped by `groups` (rows with both present).
fn correlation_ratio(values: &[Option<f64>], groups: &[Option<String>]) -> f64 {
    let pairs: Vec<(f64, &str)> = values.iter().zip(groups).filter_map(|(v, g)| Some(((*v)?, g.as_deref()?))).collect();
    let labels: Vec<usize> = {
        let mut names: Vec<&str> = pairs.iter().map(|p| p.1).collect();
        names.sort_unstable();
        names.dedup();
        pairs.iter().map(|p| names.binary_search(&p.1).expect("present")).collect()
    };
    let v: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    if v.is_empty() {
        return 0.0;
    }
    crate::metrics::eta_squared(&v, &labels).sqrt()
}

/// Cramér's V of two label columns (rows with both present).
fn cramers_v(a: &[Option<String>], b: &[Option<String>]) -> f64 {
    use std::collections::HashMap;
    let mut t: HashMap<(&str, &str), f64> = HashMap::new();
    let (mut ra, mut rb): (HashMap<&str, f64>, HashMap<&str, f64>) = (HashMap::new(), HashMap::new());
    let mut n = 0.0;
    for (x, y) in a.iter().zip(b) {
        if let (Some(x), Some(y)) = (x, y) {
            *t.entry((x, y)).or_default() += 1.0;
            *ra.entry(x).or_default() += 1.0;
            *rb.entry(y).or_default() += 1.0;
            n += 1.0;
        }
    }
    let k = ra.len().min(rb.len()) as f64;
    if n == 0.0 || k < 2.0 {
        return 0.0;
    }
    let mut chi2 = 0.0;
    for (x, nx) in &ra {
        for (y, ny) in &rb {
            let e = nx * ny / n;
            let o = t.get(&(*x, *y)).copied().unwrap_or(0.0);
            chi2 += (o - e) * (o - e) / e;
        }
    }
    (chi2 / (n * (k - 1.0))).sqrt()
}

impl Eda {
    /// Profiles `table`; with `target`, ranks the other columns by association with it and shows
    /// its class balance when it is binary or categorical. Columns in `ignore` (other targets, say)
    /// are profiled but left out of the correlations and associations.
    pub fn of(table: &Table, target: Option<&str>, ignore: &[&str]) -> Result<Eda> {
        for name in target.iter().chain(ignore) {
            if labels(table, name).is_none() {
                return Err(Error::Data(format!("no column `{name}` in {}", table.source().display())));
            }
        }
        let n = table.rows();
        let mut columns = Vec::new();
        for c in table.columns() {
            let mut v: Vec<f64> = c.present().collect();
            v.sort_by(f64::total_cmp);
            let mut distinct = v.clone();
            distinct.dedup();
            let s = crate::metrics::Summary::of(&v);
            let (q1, q3) = if v.is_empty() { (0.0, 0.0) } else { (quantile(&v, 0.25), quantile(&v, 0.75)) };
            let iqr = q3 - q1;
            columns.push(ColumnProfile {
                name: c.name.clone(),
                kind: if distinct.len() == n && n >= 20 && v.iter().all(|x| x.fract() == 0.0) {
                    Kind::Identifier // a distinct whole number per row: an id
                } else {
                    kind(distinct.len(), n, true)
                },
                missing: c.missing(),
                distinct: distinct.len(),
                stats: s.map(|s| [s.mean, s.std, s.min, quantile(&v, 0.5), s.max]),
                outliers: v.iter().filter(|&&x| x < q1 - 1.5 * iqr || x > q3 + 1.5 * iqr).count(),
                top: None,
            });
        }
        for c in table.categorical() {
            let counts = c.counts();
            columns.push(ColumnProfile {
                name: c.name.clone(),
                kind: kind(counts.len(), n, false),
                missing: c.missing(),
                distinct: counts.len(),
                stats: None,
                outliers: 0,
                top: counts.iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).cloned(),
            });
        }
        let features: Vec<&ColumnProfile> = columns
            .iter()
            .filter(|c| matches!(c.kind, Kind::Numeric | Kind::Binary) && c.stats.is_some())
            .filter(|c| Some(c.name.as_str()) != target && !ignore.contains(&c.name.as_str()))
            .collect();
        let correlation_names: Vec<String> = features.iter().map(|c| c.name.clone()).collect();
        let refs: Vec<&str> = correlation_names.iter().map(String::as_str).collect();
        let correlations = if refs.len() >= 2 { table.correlation(&refs)? } else { vec![] };
        let numeric_cols: Vec<(String, Vec<f64>)> = columns
            .iter()
            .filter(|c| c.kind == Kind::Numeric)
            .filter_map(|c| Some((c.name.clone(), table.column(&c.name)?.present().collect())))
            .collect();
        let distributions = if numeric_cols.is_empty() {
            None
        } else {
            Some(crate::plot::histograms("Distributions of the numeric columns", &numeric_cols, 4, 30)?)
        };
        let (mut associations, mut class_balance) = (vec![], vec![]);
        if let Some(t) = target {
            let tk = columns.iter().find(|c| c.name == t).map(|c| c.kind).expect("target checked");
            let t_labels = labels(table, t).expect("target checked");
            let t_numeric = table.column(t).filter(|_| tk == Kind::Numeric);
            let skip = |c: &ColumnProfile| {
                c.name == t || ignore.contains(&c.name.as_str()) || matches!(c.kind, Kind::Identifier | Kind::Constant)
            };
            for c in columns.iter().filter(|c| !skip(c)) {
                let (measure, value) = match (t_numeric, table.column(&c.name)) {
                    (Some(tc), Some(fc)) => ("|Pearson r|", pairwise_pearson(&tc.values, &fc.values).abs()),
                    (Some(tc), None) => {
                        ("correlation ratio η", correlation_ratio(&tc.values, &labels(table, &c.name).expect("column")))
                    }
                    (None, Some(fc)) if c.kind == Kind::Numeric => {
                        ("correlation ratio η", correlation_ratio(&fc.values, &t_labels))
                    }
                    (None, _) => ("Cramér's V", cramers_v(&labels(table, &c.name).expect("column"), &t_labels)),
                };
                associations.push(Association { column: c.name.clone(), measure: measure.into(), value });
            }
            associations.sort_by(|a, b| b.value.total_cmp(&a.value));
            if tk != Kind::Numeric {
                let mut counts = std::collections::BTreeMap::new();
                for l in t_labels.into_iter().flatten() {
                    *counts.entry(l).or_insert(0usize) += 1;
                }
                class_balance = counts.into_iter().collect();
            }
        }
        Ok(Eda {
            source: table
                .source()
                .file_name()
                .map_or_else(|| table.source().display().to_string(), |f| f.to_string_lossy().into_owned()),
            rows: n,
            duplicate_rows: table.duplicate_rows().len(),
            columns,
            correlation_names,
            correlations,
            target: target.map(str::to_string),
            associations,
            class_balance,
            distributions,
        })
    }

    /// Reads `path` with [`infer_csv`] and profiles it (see [`of`](Self::of)).
    pub fn of_csv(path: impl AsRef<Path>, target: Option<&str>, ignore: &[&str]) -> Result<Eda> {
        Eda::of(&infer_csv(path)?, target, ignore)
    }

    /// The column table.
    pub fn column_table(&self) -> HtmlTable {
        let mut t = HtmlTable::new(
            &format!(
                "{}: {} rows, {} columns, {} duplicate rows",
                self.source,
                self.rows,
                self.columns.len(),
                self.duplicate_rows
            ),
            &[
                "column",
                "type",
                "missing",
                "distinct",
                "mean",
                "std",
                "min",
                "median",
                "max",
                "outliers (IQR)",
                "most frequent",
            ],
        );
        for c in &self.columns {
            let mut row = vec![
                c.name.clone(),
                format!("{:?}", c.kind).to_lowercase(),
                format!("{} ({:.1} %)", c.missing, 100.0 * c.missing as f64 / self.rows as f64),
                c.distinct.to_string(),
            ];
            match c.stats {
                Some(s) => row.extend(s.iter().map(|v| format!("{v:.4}"))),
                None => row.extend(std::iter::repeat_n("—".to_string(), 5)),
            }
            row.push(if c.stats.is_some() { c.outliers.to_string() } else { "—".into() });
            row.push(c.top.as_ref().map_or("—".into(), |(v, n)| format!("{v} ({n})")));
            t.push(row);
        }
        t
    }

    /// The plots: distributions, correlation heat map, target associations, class balance.
    pub fn plots(&self) -> Result<Vec<Svg>> {
        let mut out = vec![];
        if let Some(d) = &self.distributions {
            out.push(d.clone());
        }
        if self.correlation_names.len() >= 2 {
            out.push(crate::plot::heatmap(
                "Pearson correlations of the numeric columns",
                &self.correlation_names,
                &self.correlation_names,
                &self.correlations,
                (-1.0, 1.0),
                |v| format!("{v:.2}"),
            )?);
        }
        if let Some(t) = &self.target {
            let top: Vec<&Association> = self.associations.iter().take(15).collect();
            if !top.is_empty() {
                out.push(crate::plot::hbar_chart(
                    &format!("Association with `{t}`"),
                    "strength (0 = none, 1 = perfect)",
                    &top.iter().map(|a| format!("{} ({})", a.column, a.measure)).collect::<Vec<_>>(),
                    &top.iter().map(|a| a.value).collect::<Vec<_>>(),
                )?);
            }
            if !self.class_balance.is_empty() {
                // horizontal bars, most frequent first: long or many labels stay readable
                let mut classes: Vec<&(String, usize)> = self.class_balance.iter().collect();
                classes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                out.push(crate::plot::hbar_chart(
                    &format!("Class balance of `{t}`"),
                    "rows",
                    &classes.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
                    &classes.iter().map(|c| c.1 as f64).collect::<Vec<_>>(),
                )?);
            }
        }
        Ok(out)
    }

    /// The whole report as one self-contained HTML document (tables and inline SVG plots).
    pub fn to_html(&self) -> Result<String> {
        let mut h = String::from(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>EDA</title><style>body{font-family:sans-serif;margin:2em}\
             table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}\
             caption{font-weight:bold;text-align:left}</style></head><body>",
        );
        h += &format!("<h1>Exploratory data analysis of {}</h1>", self.source);
        h += &self.column_table().to_html();
        if let Some(t) = &self.target {
            let mut a = HtmlTable::new(&format!("Columns most associated with `{t}`"), &["column", "measure", "value"]);
            for x in &self.associations {
                a.push(vec![x.column.clone(), x.measure.clone(), format!("{:.3}", x.value)]);
            }
            h += &a.to_html();
        }
        for p in self.plots()? {
            h += "<div>";
            h += p.as_str();
            h += "</div>";
        }
        Ok(h + "</body></html>")
    }

    /// Writes [`to_html`](Self::to_html) to `path` atomically.
    pub fn save_html(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_bytes_atomic(path.as_ref(), self.to_html()?.as_bytes())
    }

    /// Shows the tables and plots in a notebook.
    pub fn evcxr_display(&self) {
        match self.to_html() {
            Ok(h) => {
                let body = h.split_once("<body>").map_or(h.as_str(), |b| b.1).trim_end_matches("</body></html>");
                println!("EVCXR_BEGIN_CONTENT text/html\n{body}\nEVCXR_END_CONTENT");
            }
            Err(e) => println!("EDA report: {e}"),
        }
    }
}

fn kind(distinct: usize, rows: usize, numeric: bool) -> Kind {
    match distinct {
        0 | 1 => Kind::Constant,
        2 => Kind::Binary,
        d if !numeric && d * 10 >= rows * 9 && rows >= 20 => Kind::Identifier,
        _ if numeric => Kind::Numeric,
        _ => Kind::Categorical,
    }
}

fn pairwise_pearson(a: &[Option<f64>], b: &[Option<f64>]) -> f64 {
    let (x, y): (Vec<f64>, Vec<f64>) = a.iter().zip(b).filter_map(|(x, y)| Some(((*x)?, (*y)?))).unzip();
    if x.len() < 2 {
        0.0
    } else {
        crate::ranking::pearson(&x, &y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cramers_v_and_correlation_ratio_by_hand() {
        let s = |v: &[&str]| v.iter().map(|x| Some(x.to_string())).collect::<Vec<_>>();
        // perfectly associated 2×2 table: V = 1; independent: V = 0
        assert!((cramers_v(&s(&["a", "a", "b", "b"]), &s(&["x", "x", "y", "y"])) - 1.0).abs() < 1e-12);
        assert!(cramers_v(&s(&["a", "b", "a", "b"]), &s(&["x", "x", "y", "y"])).abs() < 1e-12);
        // groups {1, 3} and {5, 7}: η² = 16 / 20 (hand calculation)
        let v = [Some(1.0), Some(3.0), Some(5.0), Some(7.0)];
        assert!((correlation_ratio(&v, &s(&["g", "g", "h", "h"])) - 0.8f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn outliers_and_kinds() {
        let mut values: Vec<Option<f64>> = (0..40).map(|i| Some(f64::from(i % 10))).collect();
        values.push(Some(1000.0));
        let t = Table::new("x", vec![Column { name: "v".into(), values }]).unwrap();
        let e = Eda::of(&t, None, &[]).unwrap();
        assert_eq!((e.columns[0].outliers, e.columns[0].kind), (1, Kind::Numeric));
        assert!(Eda::of(&t, Some("nope"), &[]).is_err());
        assert!(Eda::of(&t, None, &["nope"]).is_err());
        assert_eq!(kind(2, 100, true), Kind::Binary);
        assert_eq!(kind(95, 100, false), Kind::Identifier);
    }

    #[test]
    fn a_text_only_file_is_profiled() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "event,platform\nhome,web\nbuy,app\nhome,web\n").unwrap();
        let e = Eda::of_csv(&p, Some("event"), &[]).unwrap();
        assert_eq!((e.rows, e.duplicate_rows), (3, 1));
        assert_eq!(e.class_balance, vec![("buy".to_string(), 1), ("home".to_string(), 2)]);
        // platform determines event here: Cramér's V = 1 (hand calculation)
        assert!((e.associations[0].value - 1.0).abs() < 1e-12);
    }
}
