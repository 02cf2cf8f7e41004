//! The period a purchase is counted in: purchases of one customer in the same day, week, month
//! or year are one purchase, and recency and T are whole numbers of periods.

use serde::{Deserialize, Serialize};

use crate::calendar::{civil_from_days, days_from_civil};
use crate::{Error, Result};

/// Weeks per month in lifetimes' `customer_lifetime_value` (its `freq="W"` factor); also the
/// length of a [`Period::Month`] in weeks.
pub const WEEKS_PER_MONTH: f64 = 4.345;

/// The counting period, as lifetimes' `freq` (`"D"`, `"W"`, `"M"`, `"Y"`). Times are reported in
/// weeks whatever the period: a day is 1/7 week, a month [`WEEKS_PER_MONTH`] weeks, a year 12
/// months.
///
/// ```
/// use propensity::calendar::days_from_civil;
/// use propensity::clv::Period;
/// // pandas' weekly periods end on Sunday: Monday 2024-01-01 … Sunday 2024-01-07 are one week
/// let (mon, sun) = (days_from_civil(2024, 1, 1), days_from_civil(2024, 1, 7));
/// assert_eq!(Period::Week.index(mon), Period::Week.index(sun));
/// assert_eq!(Period::Week.index(sun + 1), Period::Week.index(sun) + 1);
/// assert_eq!(Period::Month.index(days_from_civil(2024, 3, 31)) - Period::Month.index(mon), 2);
/// assert_eq!(Period::Month.weeks(2), 2.0 * 4.345);
/// assert_eq!("week".parse::<Period>().unwrap(), Period::Week);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Calendar days (lifetimes' `freq="D"` with `freq_multiplier=7`: CDNOW's convention).
    #[default]
    Day,
    /// Weeks from Monday to Sunday (pandas' `W`, i.e. `W-SUN`).
    Week,
    /// Calendar months.
    Month,
    /// Calendar years (BG/BB's annual opportunities: a yearly donation or renewal).
    Year,
}

impl Period {
    /// Every period, in the order help texts list them.
    pub const ALL: [Period; 4] = [Period::Day, Period::Week, Period::Month, Period::Year];

    /// The name a user types, also the unit in reports (`day`, `week`, `month`).
    pub fn key(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    /// The period holding `day` (days since 1970-01-01), numbered consecutively.
    pub fn index(self, day: i64) -> i64 {
        match self {
            Period::Day => day,
            // 1970-01-01 was a Thursday: the week of Monday 1969-12-29 is week 0
            Period::Week => (day + 3).div_euclid(7),
            Period::Month => {
                let (y, m, _) = civil_from_days(day);
                i64::from(y) * 12 + i64::from(m) - 1
            }
            Period::Year => i64::from(civil_from_days(day).0),
        }
    }

    /// The first day (days since 1970-01-01) of period `index`: the inverse of
    /// [`index`](Self::index) on a period's first day.
    ///
    /// ```
    /// use propensity::{calendar::days_from_civil, clv::Period};
    /// let day = days_from_civil(2024, 3, 14);
    /// assert_eq!(Period::Month.start(Period::Month.index(day)), days_from_civil(2024, 3, 1));
    /// assert_eq!(Period::Week.start(Period::Week.index(day)), days_from_civil(2024, 3, 11)); // a Monday
    /// ```
    pub fn start(self, index: i64) -> i64 {
        match self {
            Period::Day => index,
            Period::Week => index * 7 - 3,
            Period::Month => {
                let (y, m) = (index.div_euclid(12), index.rem_euclid(12));
                days_from_civil(y as i32, m as u32 + 1, 1)
            }
            Period::Year => days_from_civil(index as i32, 1, 1),
        }
    }

    /// `periods` of this period, in weeks.
    pub fn weeks(self, periods: i64) -> f64 {
        match self {
            Period::Day => periods as f64 / 7.0,
            Period::Week => periods as f64,
            Period::Month => periods as f64 * WEEKS_PER_MONTH,
            Period::Year => periods as f64 * 12.0 * WEEKS_PER_MONTH,
        }
    }

    /// A time in this period's units, in weeks (a summary file's recency or T).
    pub fn to_weeks(self, value: f64) -> f64 {
        match self {
            Period::Day => value / 7.0,
            Period::Week => value,
            Period::Month => value * WEEKS_PER_MONTH,
            Period::Year => value * 12.0 * WEEKS_PER_MONTH,
        }
    }
}

impl std::str::FromStr for Period {
    type Err = Error;
    fn from_str(s: &str) -> Result<Period> {
        Period::ALL.into_iter().find(|p| p.key() == s).ok_or_else(|| Error::Config {
            field: "period",
            message: format!("unknown period {s:?}; expected one of day, week, month, year"),
        })
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}
