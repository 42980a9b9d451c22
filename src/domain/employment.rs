//! Employment: which employer a worker is with, over time. The budget is the worker's; the
//! employment decides which employer's HR system reads the worker and under which employer the
//! report counts them.

use chrono::NaiveDate;

use super::{EmployerId, FieldError};

/// The period a worker is in now: with `employer` since `from` (inclusive), open-ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentPeriod {
    pub employer: EmployerId,
    pub from: NaiveDate,
}

/// What a request to move a worker to `employer` from `from` does to the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The worker is with that employer already, since `from` or earlier: nothing changes (a
    /// retried request answers as the first did).
    Unchanged,
    /// `from` is the current period's first day: that period gets the new employer.
    ReplaceCurrent,
    /// The current period ends the day before `from`; a new period starts on `from`.
    CloseAndOpen { until: NaiveDate },
}

/// The rule: `from` may be the current period's start or any later day up to today (a change
/// is recorded once it has happened, possibly late; never ahead of time).
pub fn plan(current: CurrentPeriod, employer: EmployerId, from: NaiveDate, today: NaiveDate) -> Result<Change, FieldError> {
    if from > today {
        return Err(FieldError::new("from", format!("must not be after today ({today}): record a change once it has taken effect")));
    }
    if from < current.from {
        return Err(FieldError::new(
            "from",
            format!("must not be before the current employment's start ({}); earlier history is closed", current.from),
        ));
    }
    if employer == current.employer {
        return Ok(Change::Unchanged);
    }
    if from == current.from {
        return Ok(Change::ReplaceCurrent);
    }
    // `from` is after the current period's start, so it has a day before it.
    let until = from.pred_opt().ok_or_else(|| FieldError::new("from", super::time::DATE_RULE))?;
    Ok(Change::CloseAndOpen { until })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_change_closes_the_current_period_the_day_before() {
        let (a, b) = (EmployerId::new(), EmployerId::new());
        let current = CurrentPeriod { employer: a, from: day("2026-01-01") };
        let today = day("2026-06-30");
        assert_eq!(plan(current, b, day("2026-03-01"), today), Ok(Change::CloseAndOpen { until: day("2026-02-28") }));
        assert_eq!(plan(current, b, day("2026-01-01"), today), Ok(Change::ReplaceCurrent));
        assert_eq!(plan(current, a, day("2026-03-01"), today), Ok(Change::Unchanged));
        assert_eq!(plan(current, a, day("2026-01-01"), today), Ok(Change::Unchanged));
        assert_eq!(plan(current, b, day("2026-06-30"), today).map(|_| ()), Ok(()));
        assert_eq!(plan(current, b, day("2026-07-01"), today).map_err(|e| e.field), Err("from"));
        assert_eq!(plan(current, b, day("2025-12-31"), today).map_err(|e| e.field), Err("from"));
    }
}
