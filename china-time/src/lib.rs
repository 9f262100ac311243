//! China time, in one place: every date, hour, week and report period Xiaowu shows or groups by is
//! counted in Asia/Shanghai, from Unix milliseconds. Conversions go through `jiff` and its
//! time-zone database (compiled in, so a host without tzdata answers the same); opening hours and
//! holidays will be counted here too.
//!
//! The report tables group rows in SQL by `(ms + OFFSET_MS) / width`, and the hot paths (the
//! desk's hour cuts, a whole report's bucketing) count the same way: Asia/Shanghai has kept
//! UTC+8 without daylight saving since 1991, so for any time Xiaowu handles, that arithmetic and
//! the zone database agree (a test checks it for every day from 1992 to 2100). Anything before
//! 1992 is outside what this system records.

#![forbid(unsafe_code)]

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
/// Asia/Shanghai's offset from UTC (see the module summary for why a constant is exact here).
pub const OFFSET_MS: i64 = 8 * HOUR_MS;

/// A date or time that is not one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("not a date in the form YYYY-MM-DD: {0:?}")]
    BadDate(String),
    #[error("outside the range of dates this system counts")]
    OutOfRange,
}

/// The Asia/Shanghai zone from the bundled database.
pub fn zone() -> TimeZone {
    TimeZone::get("Asia/Shanghai").expect("Asia/Shanghai is in the bundled time-zone database")
}

fn timestamp(ms: i64) -> Timestamp {
    // Out of jiff's range (years -9999..=9999) only for a corrupt value: clamp rather than panic.
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

/// The instant `ms` in China time.
pub fn zoned(ms: i64) -> ZonedDateTime {
    timestamp(ms).to_zoned_datetime(zone())
}

/// The China date of `ms`.
pub fn date(ms: i64) -> Date {
    zoned(ms).date()
}

/// `2026-11-22`: the China date of `ms`.
pub fn date_string(ms: i64) -> String {
    date(ms).to_string()
}

/// A date written `YYYY-MM-DD` (exactly: no time, no offset, no other form).
pub fn parse_date(text: &str) -> Result<Date, Error> {
    let bad = || Error::BadDate(text.chars().take(40).collect());
    if text.len() != 10 || text.as_bytes()[4] != b'-' || text.as_bytes()[7] != b'-' {
        return Err(bad());
    }
    text.parse::<Date>().map_err(|_| bad())
}

/// Midnight at the start of `date` in China, as Unix ms.
pub fn date_start_ms(date: Date) -> Result<i64, Error> {
    let zoned = date.to_datetime(Time::midnight()).to_zoned_datetime(zone()).map_err(|_| Error::OutOfRange)?;
    Ok(zoned.timestamp().as_millisecond())
}

/// The China day of `ms`, counted from 1970-01-01 (the reports' day bucket).
pub fn day_number(ms: i64) -> i64 {
    (ms + OFFSET_MS).div_euclid(DAY_MS)
}

/// Midnight at the start of China day `day` (a [`day_number`]), as Unix ms.
pub fn day_start_ms(day: i64) -> i64 {
    day * DAY_MS - OFFSET_MS
}

/// The [`day_number`] of a date.
pub fn day_of_date(date: Date) -> Result<i64, Error> {
    Ok(day_number(date_start_ms(date)?))
}

/// The China hour of `ms`, counted from 1970-01-01 00:00 China time (the reports' hour bucket).
pub fn hour_number(ms: i64) -> i64 {
    (ms + OFFSET_MS).div_euclid(HOUR_MS)
}

/// The start of the China hour `ms` falls in, as Unix ms.
pub fn hour_start_ms(ms: i64) -> i64 {
    hour_number(ms) * HOUR_MS - OFFSET_MS
}

/// The start of the China week (Monday 00:00) `ms` falls in, as Unix ms.
pub fn week_start_ms(ms: i64) -> i64 {
    let day = day_number(ms);
    // 1970-01-01 was a Thursday: day 0 is three days after a Monday.
    day_start_ms(day - (day + 3).rem_euclid(7))
}

/// The minute of the China day `ms` falls in, 0..1440 (opening hours).
pub fn minute_of_day(ms: i64) -> u32 {
    ((ms + OFFSET_MS).rem_euclid(DAY_MS) / 60_000) as u32
}

/// `2026-12-01T09:00+08:00`: a period's start as the reports and staffing plans label it.
pub fn period_label(ms: i64) -> String {
    zoned(ms).strftime("%Y-%m-%dT%H:%M%:z").to_string()
}

/// `2026-12-01T09:00:00+08:00`: an instant in RFC 3339 with China's offset.
pub fn rfc3339(ms: i64) -> String {
    zoned(ms).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// The instant of a China date and time of day.
pub fn at(date: Date, hour: i8, minute: i8) -> Result<i64, Error> {
    let time = Time::new(hour, minute, 0, 0).map_err(|_| Error::OutOfRange)?;
    let zoned = DateTime::from_parts(date, time).to_zoned_datetime(zone()).map_err(|_| Error::OutOfRange)?;
    Ok(zoned.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date as d;

    #[test]
    fn the_constant_offset_matches_the_zone_database_from_1992_to_2100() {
        let tz = zone();
        let mut day = d(1992, 1, 1);
        while day < d(2100, 1, 1) {
            let start = date_start_ms(day).unwrap();
            assert_eq!(start, day_start_ms(day_number(start)), "{day}");
            let offset = tz.to_offset(timestamp(start + 12 * HOUR_MS)).seconds();
            assert_eq!(offset as i64 * 1000, OFFSET_MS, "{day}");
            day = day.tomorrow().unwrap();
        }
    }

    #[test]
    fn dates_hours_and_weeks_fall_in_china_time() {
        // 2026-12-01 15:59:59.999 UTC is 23:59 in China on the 1st; a millisecond later, the 2nd.
        let before = at(d(2026, 12, 1), 23, 59).unwrap() + 59_999;
        assert_eq!(date_string(before), "2026-12-01");
        assert_eq!(date_string(before + 1), "2026-12-02");
        assert_eq!(minute_of_day(before), 23 * 60 + 59);
        assert_eq!(minute_of_day(before + 1), 0);
        assert_eq!(hour_start_ms(before), at(d(2026, 12, 1), 23, 0).unwrap());
        assert_eq!(period_label(at(d(2026, 12, 2), 9, 0).unwrap()), "2026-12-02T09:00+08:00");
        assert_eq!(rfc3339(at(d(2026, 12, 2), 9, 30).unwrap()), "2026-12-02T09:30:00+08:00");
        // 2026-12-02 is a Wednesday: its week began on Monday 2026-11-30 at 00:00 China time.
        assert_eq!(week_start_ms(before + 1), at(d(2026, 11, 30), 0, 0).unwrap());
        assert_eq!(week_start_ms(at(d(2026, 11, 30), 0, 0).unwrap()), at(d(2026, 11, 30), 0, 0).unwrap());
        assert_eq!(week_start_ms(at(d(2026, 11, 29), 23, 59).unwrap()), at(d(2026, 11, 23), 0, 0).unwrap());
        let day = day_of_date(d(2026, 12, 2)).unwrap();
        assert_eq!(day_start_ms(day), at(d(2026, 12, 2), 0, 0).unwrap());
    }

    #[test]
    fn only_a_plain_date_parses() {
        assert_eq!(parse_date("2026-02-28"), Ok(d(2026, 2, 28)));
        for bad in ["2026-02-30", "2026-2-28", "2026-02-28T00:00", "20260228", "", "２０２６-02-28"] {
            assert!(matches!(parse_date(bad), Err(Error::BadDate(_))), "{bad:?}");
        }
    }
}
