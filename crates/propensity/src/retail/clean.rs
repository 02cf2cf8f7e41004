//! Reading the raw orders and sessions tables and fixing their quality problems, one function
//! per problem (as the original's `test_dataset_creation.py` tested them one by one):
//! [`drop_duplicates`], [`fill_missing_event1`], [`drop_anonymous`], [`parse_datetime`] (both
//! date formats) and [`drop_non_positive_revenue`]; [`clean`] applies them all and reports
//! what each changed.

use std::collections::HashSet;
use std::hash::Hash;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CATEGORIES, EVENT_TYPES, ORDERS_FILE, SESSIONS_FILE};
use crate::display::HtmlTable;
use crate::{Error, Result};

/// One row of the raw online-sessions table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RawSession {
    /// Session id.
    pub session: u64,
    /// Visitor (browser) id.
    pub visitor: u64,
    /// Customer number; empty for visitors who are not customers.
    pub custno: Option<u64>,
    /// Date and time, `YYYY-MM-DD HH:MM:SS` or `MM/DD/YYYY HH:MM`.
    pub dt: String,
    /// Product category browsed, 1–6.
    pub category: u8,
    /// A context code (device/referrer), sometimes missing.
    pub event1: Option<u8>,
    /// Page or action type, 1–10 (8 add to cart, 9 wishlist, 10 checkout).
    pub event2: u8,
}

/// One order line of the raw orders table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawOrder {
    /// Customer number.
    pub custno: u64,
    /// Order number (one order has one line per product).
    pub ordno: u64,
    /// Order date and time, in either format.
    pub orderdate: String,
    /// Finer category, nested in `prodcat1` (`prodcat2 / 10 == prodcat1`).
    pub prodcat2: u16,
    /// Top-level category, 1–6.
    pub prodcat1: u8,
    /// Line revenue; zero or negative in the raw data for returns and errors.
    pub revenue: f64,
}

impl RawSession {
    /// Checks the codes and the date; returns the parsed date, or the first bad cell as
    /// `(column, what is wrong)`. Shared by [`read_sessions`] (which adds file and line) and
    /// [`clean`] (which adds the session id).
    pub fn check(&self) -> std::result::Result<DateTime, (&'static str, String)> {
        let at = parse_datetime(&self.dt).map_err(|m| ("dt", m))?;
        check_code(self.category, CATEGORIES).map_err(|m| ("category", m))?;
        check_code(self.event2, EVENT_TYPES).map_err(|m| ("event2", m))?;
        Ok(at)
    }
}

impl RawOrder {
    /// Checks the date, the categories and the revenue; returns the parsed date, or the first
    /// bad cell as `(column, what is wrong)`.
    pub fn check(&self) -> std::result::Result<DateTime, (&'static str, String)> {
        let at = parse_datetime(&self.orderdate).map_err(|m| ("orderdate", m))?;
        check_code(self.prodcat1, CATEGORIES).map_err(|m| ("prodcat1", m))?;
        if self.prodcat2 / 10 != self.prodcat1 as u16 {
            return Err(("prodcat2", format!("{} is not a subcategory of prodcat1 {}", self.prodcat2, self.prodcat1)));
        }
        if !self.revenue.is_finite() {
            return Err(("revenue", format!("expected a number, found {}", self.revenue)));
        }
        Ok(at)
    }
}

fn check_code(v: u8, max: usize) -> std::result::Result<(), String> {
    if v == 0 || v as usize > max {
        return Err(format!("expected 1–{max}, found {v}"));
    }
    Ok(())
}

/// A date and time read from either raw format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DateTime {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month.
    pub day: u32,
    /// Seconds since midnight.
    pub second: u32,
}

impl DateTime {
    /// Months since year 0, for month arithmetic.
    pub fn month_key(&self) -> i32 {
        self.year * 12 + self.month as i32 - 1
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` or `MM/DD/YYYY HH:MM`, checking that the day exists.
///
/// ```
/// use propensity::retail::clean::parse_datetime;
/// let a = parse_datetime("2018-03-05 14:22:01").unwrap();
/// let b = parse_datetime("03/05/2018 14:22").unwrap();
/// assert_eq!((a.year, a.month, a.day), (b.year, b.month, b.day));
/// assert_eq!(a.second - b.second, 1);
/// assert!(parse_datetime("2018-02-30 10:00:00").is_err());
/// assert!(parse_datetime("5 March 2018").is_err());
/// ```
pub fn parse_datetime(s: &str) -> std::result::Result<DateTime, String> {
    let s = s.trim();
    let bad = || format!("expected a date `YYYY-MM-DD HH:MM:SS` or `MM/DD/YYYY HH:MM`, found {s:?}");
    let (date, time) = s.split_once(' ').ok_or_else(bad)?;
    let num = |t: &str| t.parse::<u32>().map_err(|_| bad());
    let (year, month, day) = if date.contains('/') {
        let p: Vec<&str> = date.split('/').collect();
        if p.len() != 3 || p[2].len() != 4 {
            return Err(bad());
        }
        (num(p[2])? as i32, num(p[0])?, num(p[1])?)
    } else {
        let p: Vec<&str> = date.split('-').collect();
        if p.len() != 3 || p[0].len() != 4 {
            return Err(bad());
        }
        (num(p[0])? as i32, num(p[1])?, num(p[2])?)
    };
    let t: Vec<&str> = time.split(':').collect();
    if !(2..=3).contains(&t.len()) {
        return Err(bad());
    }
    let (h, mi, sec) = (num(t[0])?, num(t[1])?, if t.len() == 3 { num(t[2])? } else { 0 });
    if !(1..=12).contains(&month) || day == 0 || day > crate::calendar::days_in_month(year, month) {
        return Err(format!("{s:?} is not a calendar date"));
    }
    if h > 23 || mi > 59 || sec > 59 {
        return Err(format!("{s:?} is not a time of day"));
    }
    Ok(DateTime { year, month, day, second: h * 3600 + mi * 60 + sec })
}

/// Removes exact duplicate rows, keeping the first; returns how many were removed.
///
/// ```
/// use propensity::retail::clean::drop_duplicates;
/// let mut rows = vec![1, 2, 2, 3, 1];
/// assert_eq!(drop_duplicates(&mut rows, |r| *r), 2);
/// assert_eq!(rows, [1, 2, 3]);
/// ```
pub fn drop_duplicates<T, K: Hash + Eq>(rows: &mut Vec<T>, key: impl Fn(&T) -> K) -> usize {
    let before = rows.len();
    let mut seen = HashSet::with_capacity(rows.len());
    rows.retain(|r| seen.insert(key(r)));
    before - rows.len()
}

/// The key of an order line for [`drop_duplicates`] (revenue compared bit for bit).
pub fn order_key(o: &RawOrder) -> (u64, u64, String, u16, u64) {
    (o.custno, o.ordno, o.orderdate.clone(), o.prodcat2, o.revenue.to_bits())
}

/// Replaces a missing `event1` with 0, its own "unknown" level; returns how many were filled.
///
/// ```
/// use propensity::retail::clean::{fill_missing_event1, RawSession};
/// let s = RawSession { session: 1, visitor: 2, custno: Some(3), dt: "2018-01-01 00:00:00".into(),
///     category: 1, event1: None, event2: 4 };
/// let mut rows = vec![s.clone(), RawSession { event1: Some(5), ..s }];
/// assert_eq!(fill_missing_event1(&mut rows), 1);
/// assert_eq!((rows[0].event1, rows[1].event1), (Some(0), Some(5)));
/// ```
pub fn fill_missing_event1(sessions: &mut [RawSession]) -> usize {
    let mut filled = 0;
    for s in sessions.iter_mut().filter(|s| s.event1.is_none()) {
        s.event1 = Some(0);
        filled += 1;
    }
    filled
}

/// Removes sessions without a customer number (they cannot be joined to orders); returns how
/// many were removed.
pub fn drop_anonymous(sessions: &mut Vec<RawSession>) -> usize {
    let before = sessions.len();
    sessions.retain(|s| s.custno.is_some());
    before - sessions.len()
}

/// Removes order lines with zero or negative revenue (returns, test orders); returns how many.
pub fn drop_non_positive_revenue(orders: &mut Vec<RawOrder>) -> usize {
    let before = orders.len();
    orders.retain(|o| o.revenue > 0.0);
    before - orders.len()
}

/// A cleaned session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Customer number.
    pub custno: u64,
    /// Session id.
    pub session: u64,
    /// When it started.
    pub at: DateTime,
    /// Category index, 0–5 (`category - 1`).
    pub category: usize,
    /// Context code, 0 = unknown.
    pub event1: u8,
    /// Action index, 0–9 (`event2 - 1`).
    pub event2: usize,
}

/// A cleaned order line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Customer number.
    pub custno: u64,
    /// Order number.
    pub ordno: u64,
    /// When the order was placed.
    pub at: DateTime,
    /// Category index, 0–5 (`prodcat1 - 1`).
    pub category: usize,
    /// Finer category code.
    pub prodcat2: u16,
    /// Line revenue, > 0.
    pub revenue: f64,
}

/// What [`clean`] changed, problem by problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CleaningReport {
    /// Raw session rows.
    pub sessions_in: usize,
    /// Duplicate session rows removed.
    pub session_duplicates: usize,
    /// Sessions without a customer number removed.
    pub anonymous_sessions: usize,
    /// Missing `event1` values filled with 0.
    pub event1_filled: usize,
    /// Dates in the `MM/DD/YYYY HH:MM` format converted (sessions and orders).
    pub us_dates: usize,
    /// Session rows kept.
    pub sessions_out: usize,
    /// Raw order lines.
    pub orders_in: usize,
    /// Duplicate order lines removed.
    pub order_duplicates: usize,
    /// Order lines with zero or negative revenue removed.
    pub non_positive_revenue: usize,
    /// Order lines kept.
    pub orders_out: usize,
}

impl CleaningReport {
    /// The report as a table.
    pub fn table(&self) -> HtmlTable {
        let rows = [
            ("sessions: raw rows", self.sessions_in),
            ("sessions: duplicate rows removed", self.session_duplicates),
            ("sessions: without customer number removed", self.anonymous_sessions),
            ("sessions: missing event1 filled with 0", self.event1_filled),
            ("sessions: kept", self.sessions_out),
            ("orders: raw lines", self.orders_in),
            ("orders: duplicate lines removed", self.order_duplicates),
            ("orders: zero or negative revenue removed", self.non_positive_revenue),
            ("orders: kept", self.orders_out),
            ("dates in MM/DD/YYYY HH:MM converted", self.us_dates),
        ];
        let mut t = HtmlTable::new("Cleaning", &["step", "rows"]);
        for (step, n) in rows {
            t.push(vec![step.into(), n.to_string()]);
        }
        t
    }

    /// Shows the table in a notebook.
    pub fn evcxr_display(&self) {
        self.table().evcxr_display()
    }
}

/// Clean sessions and orders, with the month range they cover.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanData {
    /// Customer sessions, deduplicated, with `event1` filled.
    pub sessions: Vec<Session>,
    /// Order lines with positive revenue, deduplicated.
    pub orders: Vec<OrderLine>,
    /// The first month present ([`DateTime::month_key`]).
    pub first_month: i32,
    /// Number of months from the first to the last present.
    pub months: usize,
    /// What cleaning changed.
    pub report: CleaningReport,
}

impl CleanData {
    /// Month index (0 = first month) of a date.
    pub fn month_index(&self, at: &DateTime) -> usize {
        (at.month_key() - self.first_month) as usize
    }

    /// `YYYY-MM` of month index `m`.
    pub fn month_name(&self, m: usize) -> String {
        let key = self.first_month + m as i32;
        format!("{:04}-{:02}", key.div_euclid(12), key.rem_euclid(12) + 1)
    }

    /// Order lines per month and category, as a bar chart (seasonality at a glance).
    pub fn orders_per_month_plot(&self) -> Result<crate::plot::Svg> {
        let mut counts = vec![vec![0.0; self.months]; CATEGORIES];
        for o in &self.orders {
            counts[o.category][self.month_index(&o.at)] += 1.0;
        }
        let months: Vec<String> = (0..self.months).map(|m| self.month_name(m)[5..].to_string()).collect();
        let series: Vec<(String, Vec<f64>)> =
            super::CATEGORY_NAMES.iter().zip(counts).map(|(n, c)| (n.to_string(), c)).collect();
        crate::plot::bar_chart("Order lines per month and category", "order lines", &months, &series)
    }

    /// All customer numbers that have a session or an order, sorted.
    pub fn customers(&self) -> Vec<u64> {
        let mut c: Vec<u64> =
            self.sessions.iter().map(|s| s.custno).chain(self.orders.iter().map(|o| o.custno)).collect();
        c.sort_unstable();
        c.dedup();
        c
    }
}

/// Applies every cleaning step to the raw tables.
///
/// ```
/// use propensity::retail::{clean::clean, generate::{generate, GeneratorConfig}};
/// let g = generate(&GeneratorConfig { customers: 300, ..Default::default() }).unwrap();
/// let c = clean(g.sessions.clone(), g.orders.clone()).unwrap();
/// assert!(c.orders.iter().all(|o| o.revenue > 0.0));
/// assert_eq!(c.report.sessions_out, c.sessions.len());
/// assert_eq!(c.months, 12);
/// ```
pub fn clean(mut sessions: Vec<RawSession>, mut orders: Vec<RawOrder>) -> Result<CleanData> {
    let mut report = CleaningReport { sessions_in: sessions.len(), orders_in: orders.len(), ..Default::default() };
    report.session_duplicates = drop_duplicates(&mut sessions, |s| s.clone());
    report.anonymous_sessions = drop_anonymous(&mut sessions);
    report.event1_filled = fill_missing_event1(&mut sessions);
    report.order_duplicates = drop_duplicates(&mut orders, order_key);
    report.non_positive_revenue = drop_non_positive_revenue(&mut orders);
    let bad = |what: String, (column, message): (&str, String)| Error::Data(format!("{what}, `{column}`: {message}"));
    let mut us_dates = 0;
    let sessions: Vec<Session> = sessions
        .iter()
        .map(|s| {
            us_dates += usize::from(s.dt.contains('/'));
            Ok(Session {
                custno: s.custno.expect("anonymous sessions were dropped"),
                session: s.session,
                at: s.check().map_err(|e| bad(format!("session {}", s.session), e))?,
                category: s.category as usize - 1,
                event1: s.event1.unwrap_or(0),
                event2: s.event2 as usize - 1,
            })
        })
        .collect::<Result<_>>()?;
    let orders: Vec<OrderLine> = orders
        .iter()
        .map(|o| {
            us_dates += usize::from(o.orderdate.contains('/'));
            Ok(OrderLine {
                custno: o.custno,
                ordno: o.ordno,
                at: o.check().map_err(|e| bad(format!("order {}", o.ordno), e))?,
                category: o.prodcat1 as usize - 1,
                prodcat2: o.prodcat2,
                revenue: o.revenue,
            })
        })
        .collect::<Result<_>>()?;
    report.us_dates = us_dates;
    report.sessions_out = sessions.len();
    report.orders_out = orders.len();
    let keys = sessions.iter().map(|s| s.at.month_key()).chain(orders.iter().map(|o| o.at.month_key()));
    let (lo, hi) = keys.fold((i32::MAX, i32::MIN), |(lo, hi), k| (lo.min(k), hi.max(k)));
    if lo > hi {
        return Err(Error::Data("no customer sessions and no orders left after cleaning".into()));
    }
    Ok(CleanData { sessions, orders, first_month: lo, months: (hi - lo + 1) as usize, report })
}

/// What is wrong with one row: `(column, message)`.
pub(crate) type CellProblem = (&'static str, String);

/// Reads a CSV with a header into typed rows, checking each with `check`; a cell that does not
/// parse or does not pass is reported with file, line and column.
pub(crate) fn read_rows<T: for<'de> Deserialize<'de>>(
    path: &Path,
    check: impl Fn(&T) -> std::result::Result<(), CellProblem>,
) -> Result<Vec<T>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = csv::Reader::from_reader(std::io::BufReader::new(file));
    let header = rdr.headers().map_err(|e| Error::Format { file: path.to_path_buf(), message: e.to_string() })?.clone();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::Row {
            file: path.to_path_buf(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let cell = |column: &str, message: String| Error::Cell {
            file: path.to_path_buf(),
            line,
            column: column.into(),
            message,
        };
        let row: T = rec.deserialize(Some(&header)).map_err(|e| match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => {
                cell(err.field().and_then(|f| header.get(f as usize)).unwrap_or("?"), err.kind().to_string())
            }
            _ => Error::Row { file: path.to_path_buf(), line, message: e.to_string() },
        })?;
        check(&row).map_err(|(column, message)| cell(column, message))?;
        rows.push(row);
    }
    Ok(rows)
}

/// Reads the raw sessions table, checking types, codes and dates cell by cell ([`RawSession::check`]).
pub fn read_sessions(path: impl AsRef<Path>) -> Result<Vec<RawSession>> {
    read_rows(path.as_ref(), |s: &RawSession| s.check().map(drop))
}

/// Reads the raw orders table, checking types, codes and dates cell by cell ([`RawOrder::check`]).
pub fn read_orders(path: impl AsRef<Path>) -> Result<Vec<RawOrder>> {
    read_rows(path.as_ref(), |o: &RawOrder| o.check().map(drop))
}

/// Reads [`SESSIONS_FILE`] and [`ORDERS_FILE`] from `dir` and cleans them.
pub fn read_and_clean(dir: impl AsRef<Path>) -> Result<CleanData> {
    let dir = dir.as_ref();
    clean(read_sessions(dir.join(SESSIONS_FILE))?, read_orders(dir.join(ORDERS_FILE))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: u64, custno: Option<u64>, event1: Option<u8>) -> RawSession {
        RawSession { session: id, visitor: 7, custno, dt: "2018-01-02 03:04:05".into(), category: 2, event1, event2: 8 }
    }

    fn order(ordno: u64, revenue: f64) -> RawOrder {
        RawOrder { custno: 5, ordno, orderdate: "01/02/2018 10:00".into(), prodcat2: 23, prodcat1: 2, revenue }
    }

    #[test]
    fn duplicates_are_removed_once_keeping_order() {
        let mut s = vec![session(1, Some(1), None), session(2, Some(1), None), session(1, Some(1), None)];
        assert_eq!(drop_duplicates(&mut s, |r| r.clone()), 1);
        assert_eq!(s.iter().map(|r| r.session).collect::<Vec<_>>(), [1, 2]);
        // same session id but another field differs: not a duplicate row
        let mut s = vec![session(1, Some(1), None), session(1, Some(1), Some(3))];
        assert_eq!(drop_duplicates(&mut s, |r| r.clone()), 0);
        let mut o = vec![order(1, 10.0), order(1, 10.0), order(1, 10.5)];
        assert_eq!(drop_duplicates(&mut o, order_key), 1);
    }

    #[test]
    fn anonymous_sessions_are_dropped() {
        let mut s = vec![session(1, None, None), session(2, Some(4), None)];
        assert_eq!(drop_anonymous(&mut s), 1);
        assert_eq!(s[0].session, 2);
    }

    #[test]
    fn non_positive_revenue_is_dropped() {
        let mut o = vec![order(1, 0.0), order(2, -12.5), order(3, 0.01)];
        assert_eq!(drop_non_positive_revenue(&mut o), 2);
        assert_eq!(o[0].ordno, 3);
    }

    #[test]
    fn both_date_formats_parse_to_the_same_day() {
        let iso = parse_datetime("2018-12-31 23:59:00").unwrap();
        let us = parse_datetime("12/31/2018 23:59").unwrap();
        assert_eq!(iso, us);
        assert_eq!(iso.month_key(), 2018 * 12 + 11);
        for bad in ["2018-13-01 00:00:00", "02/29/2018 10:00", "2018-01-01", "2018-01-01 24:00:00", "31/12/2018 10:00"]
        {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
        assert!(parse_datetime("02/29/2020 10:00").is_ok(), "leap day");
    }

    #[test]
    fn clean_reports_each_step() {
        let sessions = vec![session(1, Some(5), None), session(1, Some(5), None), session(2, None, Some(1))];
        let orders = vec![order(1, 10.0), order(1, 10.0), order(2, -3.0)];
        let c = clean(sessions, orders).unwrap();
        let r = c.report;
        assert_eq!((r.session_duplicates, r.anonymous_sessions, r.event1_filled, r.sessions_out), (1, 1, 1, 1));
        assert_eq!((r.order_duplicates, r.non_positive_revenue, r.orders_out, r.us_dates), (1, 1, 1, 1));
        assert_eq!((c.sessions[0].category, c.sessions[0].event2, c.sessions[0].event1), (1, 7, 0));
        assert_eq!((c.months, c.month_name(0)), (1, "2018-01".to_string()));
    }

    #[test]
    fn bad_cells_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("online.csv");
        std::fs::write(
            &p,
            "session,visitor,custno,dt,category,event1,event2\n1,2,3,2018-01-01 00:00:00,1,,4\n2,2,3,2018-01-01 00:00:00,x,,4\n",
        )
        .unwrap();
        let e = read_sessions(&p).unwrap_err();
        assert!(matches!(&e, Error::Cell { line: 3, column, .. } if column == "category"), "{e}");
        std::fs::write(&p, "session,visitor,custno,dt,category,event1,event2\n1,2,3,2018-02-30 00:00:00,1,,4\n")
            .unwrap();
        let e = read_sessions(&p).unwrap_err();
        assert!(matches!(&e, Error::Cell { line: 2, column, .. } if column == "dt"), "{e}");
        std::fs::write(&p, "custno,ordno,orderdate,prodcat2,prodcat1,revenue\n1,2,2018-01-01 00:00:00,31,2,5.0\n")
            .unwrap();
        let e = read_orders(&p).unwrap_err();
        assert!(matches!(&e, Error::Cell { line: 2, column, .. } if column == "prodcat2"), "{e}");
    }
}
