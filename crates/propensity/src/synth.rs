//! A seeded generator of large synthetic CSV files with a real table's schema, for scoring
//! benchmarks and tests: each row is a random row of the source table with every numeric input
//! jittered (uniformly, by up to a tenth of the column's standard deviation, kept within the
//! column's range and integer where the column is), categories and targets kept.

use std::io::Write;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::table::Table;
use crate::{Error, Result};

/// Writes a header and `rows` synthetic rows shaped like `table`, in the column order
/// `columns`. Columns in `keep` (targets) are copied unchanged; `id_column`, if any, is
/// numbered 1, 2, …. The same `seed` writes the same bytes.
///
/// ```
/// use propensity::table::{Column, Table};
/// let t = Table::new("m", vec![
///     Column { name: "id".into(), values: vec![Some(7.0), Some(9.0)] },
///     Column { name: "x".into(), values: vec![Some(1.0), Some(3.0)] },
///     Column { name: "y".into(), values: vec![Some(0.0), Some(1.0)] },
/// ]).unwrap();
/// let mut out = Vec::new();
/// propensity::synth::write_like(&t, &["id", "x", "y"], &["y"], Some("id"), 3, 1, &mut out).unwrap();
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.lines().count(), 4);
/// assert!(text.starts_with("id,x,y\n1,"));
/// ```
pub fn write_like(
    table: &Table,
    columns: &[&str],
    keep: &[&str],
    id_column: Option<&str>,
    rows: u64,
    seed: u64,
    out: &mut impl Write,
) -> Result<()> {
    if table.rows() == 0 {
        return Err(Error::Data("cannot generate rows like an empty table".into()));
    }
    enum Kind<'a> {
        Id,
        Copy(&'a [Option<f64>]),
        Text(&'a [Option<String>]),
        Jitter { values: &'a [Option<f64>], half_width: f64, min: f64, max: f64, integral: bool },
    }
    let kinds: Vec<Kind> = columns
        .iter()
        .map(|&name| {
            if Some(name) == id_column {
                return Ok(Kind::Id);
            }
            if let Ok(c) = table.categorical_column(name) {
                return Ok(Kind::Text(&c.values));
            }
            let c = table.require(name)?;
            if keep.contains(&name) {
                return Ok(Kind::Copy(&c.values));
            }
            let v: Vec<f64> = c.present().collect();
            let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
            let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt();
            Ok(Kind::Jitter {
                values: &c.values,
                half_width: 0.1 * std,
                min: v.iter().copied().fold(f64::INFINITY, f64::min),
                max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                integral: v.iter().all(|x| x.fract() == 0.0),
            })
        })
        .collect::<Result<_>>()?;
    let io = |e| Error::io("synthetic output", e);
    writeln!(out, "{}", columns.join(",")).map_err(io)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut line = String::new();
    for i in 1..=rows {
        use std::fmt::Write as _;
        line.clear();
        let r = rng.gen_range(0..table.rows());
        for (j, kind) in kinds.iter().enumerate() {
            if j > 0 {
                line.push(',');
            }
            let _ = match kind {
                Kind::Id => write!(line, "{i}"),
                Kind::Copy(v) => write!(line, "{}", v[r].map_or(String::new(), |x| x.to_string())),
                Kind::Text(v) => write!(line, "{}", v[r].as_deref().unwrap_or("")),
                Kind::Jitter { values, half_width, min, max, integral } => match values[r] {
                    None => Ok(()),
                    Some(x) => {
                        let y = (x + rng.gen_range(-1.0..=1.0) * half_width).clamp(*min, *max);
                        if *integral {
                            write!(line, "{}", y.round())
                        } else {
                            write!(line, "{:.2}", y)
                        }
                    }
                },
            };
        }
        line.push('\n');
        out.write_all(line.as_bytes()).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// [`write_like`] into a file, atomically.
pub fn write_like_file(
    path: impl AsRef<std::path::Path>,
    table: &Table,
    columns: &[&str],
    keep: &[&str],
    id_column: Option<&str>,
    rows: u64,
    seed: u64,
) -> Result<()> {
    crate::io::write_atomic(path.as_ref(), |w| {
        write_like(table, columns, keep, id_column, rows, seed, w).map_err(std::io::Error::other)
    })
}
