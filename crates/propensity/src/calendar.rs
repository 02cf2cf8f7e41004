//! Calendar arithmetic on day numbers (days since 1970-01-01, proleptic Gregorian), for the
//! transaction and event logs: parse a date, count days and weeks between two dates.

/// Days since 1970-01-01 of a calendar date (negative before it). Howard Hinnant's
/// `days_from_civil`; the caller checks that the date exists ([`parse_yyyymmdd`] does).
///
/// ```
/// use propensity::calendar::days_from_civil;
/// assert_eq!(days_from_civil(1970, 1, 1), 0);
/// assert_eq!(days_from_civil(1997, 9, 30) - days_from_civil(1997, 1, 1), 272);
/// assert_eq!(days_from_civil(1998, 6, 30) - days_from_civil(1997, 9, 30), 273); // 39 weeks
/// ```
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date `(year, month, day)` of a day number; the inverse of [`days_from_civil`].
///
/// ```
/// use propensity::calendar::{civil_from_days, days_from_civil};
/// assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
/// ```
pub fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// Days in `month` of `year`.
///
/// ```
/// use propensity::calendar::days_in_month;
/// assert_eq!((days_in_month(2024, 2), days_in_month(1900, 2), days_in_month(2000, 2)), (29, 28, 29));
/// ```
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses a compact `YYYYMMDD` date into its day number, checking that the day exists.
///
/// ```
/// use propensity::calendar::{days_from_civil, parse_yyyymmdd};
/// assert_eq!(parse_yyyymmdd("19970101"), Ok(days_from_civil(1997, 1, 1)));
/// assert!(parse_yyyymmdd("19970230").is_err());
/// assert!(parse_yyyymmdd("1997-01-01").is_err());
/// ```
pub fn parse_yyyymmdd(s: &str) -> Result<i64, String> {
    let bad = || format!("expected a date YYYYMMDD, found {s:?}");
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (y, m, d) = (
        s[..4].parse::<i32>().map_err(|_| bad())?,
        s[4..6].parse::<u32>().map_err(|_| bad())?,
        s[6..].parse::<u32>().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(format!("{s:?} is not a calendar date"));
    }
    Ok(days_from_civil(y, m, d))
}

/// Parses `YYYY-MM-DD HH:MM:SS` into seconds since 1970-01-01 00:00:00.
///
/// ```
/// use propensity::calendar::parse_timestamp;
/// assert_eq!(parse_timestamp("1970-01-02 00:00:01"), Ok(86_401));
/// assert!(parse_timestamp("2024-13-01 00:00:00").is_err());
/// assert!(parse_timestamp("2024-01-01T00:00:00").is_err());
/// ```
pub fn parse_timestamp(s: &str) -> Result<i64, String> {
    let bad = || format!("expected a timestamp `YYYY-MM-DD HH:MM:SS`, found {s:?}");
    let b = s.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let t = &s[r];
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse::<i64>().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || d == 0 || d > i64::from(days_in_month(y as i32, m as u32)) {
        return Err(format!("{s:?} is not a calendar date"));
    }
    if h > 23 || mi > 59 || sec > 59 {
        return Err(format!("{s:?} is not a time of day"));
    }
    Ok(days_from_civil(y as i32, m as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Parses a calendar date written `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`, optionally followed
/// by a time (`T` or a space, then anything), into days since 1970-01-01.
///
/// ```
/// use propensity::calendar::{days_from_civil, parse_date};
/// let d = days_from_civil(2024, 2, 29);
/// assert_eq!(parse_date("2024-02-29"), Ok(d));
/// assert_eq!(parse_date("2024/02/29"), Ok(d));
/// assert_eq!(parse_date("20240229"), Ok(d));
/// assert_eq!(parse_date("2024-02-29T13:45:00Z"), Ok(d));
/// assert!(parse_date("2023-02-29").is_err());
/// assert!(parse_date("29.02.2024").is_err());
/// ```
pub fn parse_date(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let day = s.split(['T', ' ']).next().unwrap_or("");
    let b = day.as_bytes();
    let compact = match b.len() {
        8 => day.to_string(),
        10 if (b[4] == b'-' && b[7] == b'-') || (b[4] == b'/' && b[7] == b'/') => {
            format!("{}{}{}", &day[..4], &day[5..7], &day[8..])
        }
        _ => return Err(format!("expected a date YYYY-MM-DD, found {s:?}")),
    };
    parse_yyyymmdd(&compact).map_err(|_| format!("expected a date YYYY-MM-DD, found {s:?}"))
}

/// Formats days since 1970-01-01 as `YYYY-MM-DD`.
///
/// ```
/// assert_eq!(propensity::calendar::format_date(0), "1970-01-01");
/// ```
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_over_four_centuries() {
        for d in (-146_097..146_097).step_by(37) {
            let (y, m, dd) = civil_from_days(d);
            assert!(dd >= 1 && dd <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
