//! Objections (bezwaar): under Dutch administrative law a decision may be objected to within six
//! weeks. Here: a claim's rejection or partial approval, within 42 days of the decision.

use chrono::NaiveDate;

text_enum!(
    /// Open until the back office decides it: upheld (the claim may then be approved, within
    /// budget) or dismissed.
    ObjectionStatus { Open => "open", Upheld => "upheld", Dismissed => "dismissed" }
);

/// Six weeks.
pub const OBJECTION_PERIOD_DAYS: u64 = 42;

/// The last day an objection to a decision of `decided_on` may be filed.
pub fn last_day(decided_on: NaiveDate) -> NaiveDate {
    decided_on.checked_add_days(chrono::Days::new(OBJECTION_PERIOD_DAYS)).unwrap_or(NaiveDate::MAX)
}

/// Whether a claim's decision can be objected to: a rejection, or an approval of less than the
/// fund's share of the invoice (partial, for lack of budget).
pub fn objectionable(rejected: bool, approved_cents: i64, funded_cents: i64) -> bool {
    rejected || (approved_cents > 0 && approved_cents < funded_cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_weeks_and_what_may_be_objected_to() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(last_day(day("2026-11-01")), day("2026-12-13"));
        assert!(objectionable(true, 0, 10_000));
        assert!(objectionable(false, 5_000, 10_000));
        assert!(!objectionable(false, 10_000, 10_000));
        assert!(!objectionable(false, 0, 10_000), "waiting or submitted: nothing decided yet");
    }
}
