//! Dates as the funds see them: days and months in Europe/Amsterdam, instants in UTC.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};

thread_local! {
    /// The demo's simulated moment on this thread, if it is writing history (`at_moment`).
    static SIMULATED_NOW: std::cell::Cell<Option<NaiveDateTime>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with `now_utc()` answering `at` on this thread: only the demo, which writes a fund's
/// history through the ledger's own code, each entry recorded at its simulated moment. The
/// service never sets it (no request handler calls this).
pub fn at_moment<T>(at: NaiveDateTime, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<NaiveDateTime>);
    impl Drop for Reset {
        fn drop(&mut self) {
            SIMULATED_NOW.with(|cell| cell.set(self.0));
        }
    }
    let _reset = Reset(SIMULATED_NOW.with(|cell| cell.replace(Some(at))));
    f()
}

/// Now, in UTC, truncated to microseconds: both databases store that precision, and the
/// ledger hashes what it stores.
pub fn now_utc() -> NaiveDateTime {
    if let Some(at) = SIMULATED_NOW.with(std::cell::Cell::get) {
        return at;
    }
    let now = Utc::now().naive_utc();
    let micros = now.and_utc().timestamp_micros();
    DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc()).unwrap_or(now)
}

/// The offset of Europe/Amsterdam from UTC at an instant: CET (+1) in winter, CEST (+2) from
/// 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October (EU rule).
pub fn amsterdam_offset_hours(instant: NaiveDateTime) -> i64 {
    let year = instant.year();
    let summer_starts = last_sunday(year, 3).and_hms_opt(1, 0, 0);
    let summer_ends = last_sunday(year, 10).and_hms_opt(1, 0, 0);
    match (summer_starts, summer_ends) {
        (Some(start), Some(end)) if instant >= start && instant < end => 2,
        _ => 1,
    }
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let next_month = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    let mut day = next_month.unwrap_or(NaiveDate::MIN) - Duration::days(1);
    while day.weekday() != Weekday::Sun {
        day -= Duration::days(1);
    }
    day
}

/// The local date in Amsterdam at a UTC instant.
pub fn amsterdam_date(instant: NaiveDateTime) -> NaiveDate {
    (instant + Duration::hours(amsterdam_offset_hours(instant))).date()
}

/// Today in Amsterdam.
pub fn today() -> NaiveDate {
    amsterdam_date(Utc::now().naive_utc())
}

/// The service's idea of today. Always the real Amsterdam date in a running server; tests move
/// it forward to see budgets lapse and deadlines pass without waiting for them.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_days: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    pub fn today(&self) -> NaiveDate {
        today() + Duration::days(self.offset_days.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Moves the clock so that `today()` is `date`. For tests.
    pub fn set_today(&self, date: NaiveDate) {
        let offset = (date - today()).num_days();
        self.offset_days.store(offset, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The UTC instant at which a local Amsterdam date begins.
pub fn amsterdam_day_start_utc(date: NaiveDate) -> NaiveDateTime {
    let local_midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    // The offset at local midnight equals the offset one hour before it in UTC terms, except on
    // no day at all: DST switches happen at 01:00 UTC, never near local midnight.
    let guess = local_midnight - Duration::hours(1);
    local_midnight - Duration::hours(amsterdam_offset_hours(guess))
}

/// The first and last calendar years the service takes in any date, time or month: far
/// enough for every real training, grant or decision, near enough that no date arithmetic on
/// them can overflow. Anything outside is bad input.
pub const EARLIEST_YEAR: i32 = 1900;
pub const LATEST_YEAR: i32 = 2199;

/// Why a date was refused, in words a person can act on.
pub const DATE_RULE: &str = "must be a date written YYYY-MM-DD, from 1900-01-01 to 2199-12-31";

pub fn year_in_range(year: i32) -> bool {
    (EARLIEST_YEAR..=LATEST_YEAR).contains(&year)
}

/// Parses an ISO 8601 calendar date exactly as `YYYY-MM-DD` (no `2026-1-1`, no signs, no
/// spaces) within the service's years.
pub fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().filter(|d| year_in_range(d.year()))
}

/// Parses an RFC 3339 instant whose written date is within the service's years, as UTC. Only
/// the RFC's own form: a `T` between date and time, ASCII throughout.
pub fn parse_rfc3339_utc(text: &str) -> Option<NaiveDateTime> {
    let shaped = text.is_ascii() && text.len() > 10 && matches!(text.as_bytes()[10], b'T' | b't');
    if !shaped || parse_iso_date(&text[..10]).is_none() {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.naive_utc())
}

/// serde for request dates: `#[serde(deserialize_with = "iso_date::required")]`, or
/// `optional` with `#[serde(default)]`.
pub mod iso_date {
    use chrono::NaiveDate;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};

    pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_iso_date(&text).ok_or_else(|| D::Error::custom(format!("{}, not {text:?}", super::DATE_RULE)))
    }

    pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<NaiveDate>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => super::parse_iso_date(&text)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("{}, not {text:?}", super::DATE_RULE))),
        }
    }
}

/// RFC 3339 text of a stored UTC instant.
pub fn rfc3339(instant: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&instant).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The last day of calendar year `year`.
pub fn end_of_year(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, 12, 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("valid test time")
    }

    #[test]
    fn dates_are_exactly_iso_and_within_the_service_years() {
        assert_eq!(parse_iso_date("2026-01-01"), NaiveDate::from_ymd_opt(2026, 1, 1));
        assert_eq!(parse_iso_date("1900-01-01"), NaiveDate::from_ymd_opt(1900, 1, 1));
        assert_eq!(parse_iso_date("2199-12-31"), NaiveDate::from_ymd_opt(2199, 12, 31));
        for bad in ["2026-1-1", "1899-12-31", "2200-01-01", "0000-01-01", "-001-01-01", "+2026-01-01", " 2026-01-01",
            "2026-02-30", "2026-13-01", "20260101", "2026-01-01T00:00:00Z", "", "२०२६-०१-०१"] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
        assert!(parse_rfc3339_utc("2026-10-31T23:00:00Z").is_some());
        assert_eq!(parse_rfc3339_utc("2200-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_utc("1899-12-31T23:00:00-01:00"), None);
        assert!(parse_rfc3339_utc("2199-12-31T23:30:00-01:00").is_some());
        assert_eq!(parse_rfc3339_utc("2026-10-31 23:00:00Z"), None);
    }

    #[test]
    fn amsterdam_switches_at_one_utc_on_the_last_sundays() {
        // 2026: summer time from 29 March to 25 October.
        assert_eq!(amsterdam_offset_hours(at("2026-03-29 00:59:59")), 1);
        assert_eq!(amsterdam_offset_hours(at("2026-03-29 01:00:00")), 2);
        assert_eq!(amsterdam_offset_hours(at("2026-10-25 00:59:59")), 2);
        assert_eq!(amsterdam_offset_hours(at("2026-10-25 01:00:00")), 1);
    }

    #[test]
    fn local_dates_and_day_starts() {
        assert_eq!(amsterdam_date(at("2026-12-31 23:30:00")).to_string(), "2027-01-01");
        assert_eq!(amsterdam_date(at("2026-07-31 21:59:00")).to_string(), "2026-07-31");
        assert_eq!(amsterdam_date(at("2026-07-31 22:00:00")).to_string(), "2026-08-01");
        let d = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
        assert_eq!(amsterdam_day_start_utc(d), at("2026-10-31 23:00:00"));
        let d = NaiveDate::from_ymd_opt(2026, 7, 1).expect("date");
        assert_eq!(amsterdam_day_start_utc(d), at("2026-06-30 22:00:00"));
    }
}
