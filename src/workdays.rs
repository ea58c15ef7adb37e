//! Working days (工作日) and the county's holiday calendar (节假日安排): the arithmetic behind
//! every time limit counted in working days, shared by the kiosk and the back office.
//!
//! Sans-IO: the calendar is parsed from text the caller read; dates go in, dates come out.
//!
//! # The holiday calendar file
//!
//! One date per line, `YYYY-MM-DD`, then `off` (放假: a weekday with no work) or `work` (调休上班:
//! a Saturday or Sunday that is a working day), then an optional comment. Blank lines and lines
//! starting with `#` are ignored:
//!
//! ```text
//! # 2026 国庆节、中秋节
//! 2026-09-20 work 国庆调休上班（星期日）
//! 2026-10-01 off  国庆节
//! 2026-10-10 work 国庆调休上班（星期六）
//! ```
//!
//! A day not listed is a working day from Monday to Friday and a rest day on the weekend. A line
//! that is not of this form, or a date listed twice, is refused with its line number.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// What a listed day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// 放假: no work, whatever the weekday.
    Off,
    /// 调休上班: a working day, whatever the weekday.
    Work,
}

/// A line of a holiday calendar that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("line {line}: {value:?} is not a date; write YYYY-MM-DD (e.g. 2026-10-01)")]
    BadDate { line: usize, value: String },
    #[error(
        "line {line}: after the date write `off` (holiday) or `work` (working weekend), not {value:?}"
    )]
    BadKind { line: usize, value: String },
    #[error("line {line}: {date} is listed twice (first on line {first})")]
    Duplicate {
        line: usize,
        date: NaiveDate,
        first: usize,
    },
}

/// The county's holiday calendar: holidays and adjusted working weekends (调休).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolidayCalendar {
    days: BTreeMap<NaiveDate, DayKind>,
}

impl HolidayCalendar {
    /// Weekends off, no holidays.
    pub fn weekends_only() -> Self {
        HolidayCalendar::default()
    }

    /// Parses the calendar file's text (format in the module doc).
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let mut days = BTreeMap::new();
        let mut lines_of = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let body = raw.trim();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            let mut words = body.split_whitespace();
            let date_text = words.next().unwrap_or_default();
            let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d")
                .ok()
                .filter(|_| date_text.len() == 10)
                .ok_or_else(|| CalendarError::BadDate {
                    line,
                    value: date_text.to_string(),
                })?;
            let kind = match words.next().unwrap_or_default() {
                "off" => DayKind::Off,
                "work" => DayKind::Work,
                other => {
                    return Err(CalendarError::BadKind {
                        line,
                        value: other.to_string(),
                    });
                }
            };
            if let Some(first) = lines_of.insert(date, line) {
                return Err(CalendarError::Duplicate { line, date, first });
            }
            days.insert(date, kind);
        }
        Ok(HolidayCalendar { days })
    }

    /// How many dates the calendar lists.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.days.get(&date) {
            Some(DayKind::Off) => false,
            Some(DayKind::Work) => true,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The last day of a time limit of `n` working days counted from the day after `start`
    /// (受理之日的次日起算); `start` itself when `n` is 0 (即办件).
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => return NaiveDate::MAX,
            }
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not after `from`):
    /// how many working days are left until a due date.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut day = from;
        while day < to {
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => break,
            }
            if self.is_working_day(day) {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weekends_are_skipped() {
        let cal = HolidayCalendar::weekends_only();
        // Friday + 1 working day = Monday.
        assert_eq!(cal.add_working_days(d("2026-11-27"), 1), d("2026-11-30"));
        assert_eq!(cal.add_working_days(d("2026-11-27"), 0), d("2026-11-27"));
        assert_eq!(
            cal.working_days_between(d("2026-11-27"), d("2026-11-30")),
            1
        );
        assert_eq!(
            cal.working_days_between(d("2026-11-30"), d("2026-11-27")),
            0
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        assert_eq!(
            HolidayCalendar::parse("# x\n2026-10-01 off\n2026-02-30 off\n"),
            Err(CalendarError::BadDate {
                line: 3,
                value: "2026-02-30".into()
            })
        );
        assert!(matches!(
            HolidayCalendar::parse("2026-10-01 rest"),
            Err(CalendarError::BadKind { line: 1, .. })
        ));
        assert!(matches!(
            HolidayCalendar::parse("2026-10-01 off\n\n2026-10-01 work"),
            Err(CalendarError::Duplicate {
                line: 3,
                first: 1,
                ..
            })
        ));
    }
}
