//! Claim decisions: pure rules, applied in a fixed order so that a rejection names the first
//! rule the claim breaks.

use chrono::NaiveDate;
use serde::Serialize;

/// Why a claim was rejected: stable, machine-readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    CategoryNotEligible,
    AboveMaxClaim,
    ClaimTooLate,
    InsufficientBudget,
    VoucherUnknown,
    VoucherMismatch,
    VoucherCancelled,
    VoucherExpired,
    VoucherUsed,
    RejectedByFund,
    ProviderNotRegistered,
    ProviderSuspended,
}

impl RejectionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::CategoryNotEligible => "category_not_eligible",
            RejectionReason::AboveMaxClaim => "above_max_claim",
            RejectionReason::ClaimTooLate => "claim_too_late",
            RejectionReason::InsufficientBudget => "insufficient_budget",
            RejectionReason::VoucherUnknown => "voucher_unknown",
            RejectionReason::VoucherMismatch => "voucher_mismatch",
            RejectionReason::VoucherCancelled => "voucher_cancelled",
            RejectionReason::VoucherExpired => "voucher_expired",
            RejectionReason::VoucherUsed => "voucher_used",
            RejectionReason::RejectedByFund => "rejected_by_fund",
            RejectionReason::ProviderNotRegistered => "provider_not_registered",
            RejectionReason::ProviderSuspended => "provider_suspended",
        }
    }
}

/// The share of an invoice the fund pays, in cents, rounded down to the cent.
///
/// Rounded down because a scheme promises *at most* `funding_pct` of the invoice: the fund never
/// pays a fraction of a cent more than its share, and the difference is under one cent.
pub fn funded_cents(invoice_cents: i64, funding_pct: i32) -> i64 {
    // In 128 bits: no invoice and percentage can overflow the product.
    let cents = i128::from(invoice_cents) * i128::from(funding_pct) / 100;
    i64::try_from(cents).unwrap_or(if cents < 0 { i64::MIN } else { i64::MAX })
}

/// What a claim asks of the rules, before money.
#[derive(Clone, Copy)]
pub struct ClaimFacts<'a> {
    pub category: &'a str,
    pub eligible_categories: &'a [String],
    pub amount_cents: i64,
    pub max_claim_amount_cents: i64,
    pub training_end: NaiveDate,
    pub claim_deadline_days: i32,
    pub received_on: NaiveDate,
}

/// The first rule (of category, maximum, deadline) the claim breaks, if any.
pub fn rule_breach(facts: &ClaimFacts<'_>) -> Option<RejectionReason> {
    if !facts.eligible_categories.iter().any(|c| c == facts.category) {
        return Some(RejectionReason::CategoryNotEligible);
    }
    if facts.amount_cents > facts.max_claim_amount_cents {
        return Some(RejectionReason::AboveMaxClaim);
    }
    // Checked: a deadline past the end of the calendar is no deadline at all.
    let deadline = u64::try_from(facts.claim_deadline_days)
        .ok()
        .and_then(|days| facts.training_end.checked_add_days(chrono::Days::new(days)));
    if deadline.is_some_and(|deadline| facts.received_on > deadline) {
        return Some(RejectionReason::ClaimTooLate);
    }
    None
}

/// How much of `wanted` to approve from `usable`: all, the part that is there (with
/// `allow_partial`), or nothing.
pub fn affordable_cents(wanted_cents: i64, usable_cents: i64, allow_partial: bool) -> Option<i64> {
    if usable_cents >= wanted_cents {
        Some(wanted_cents)
    } else if allow_partial && usable_cents > 0 {
        Some(usable_cents)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funding_rounds_down_to_the_cent() {
        assert_eq!(funded_cents(100_000, 50), 50_000);
        assert_eq!(funded_cents(12_345, 50), 6_172); // 61.725 → 61.72
        assert_eq!(funded_cents(99, 33), 32); // 0.3267 → 0.32
        assert_eq!(funded_cents(12_345, 100), 12_345);
    }

    #[test]
    fn rules_apply_in_order() {
        let categories = vec!["vakopleiding".to_string()];
        let date = |s: &str| s.parse::<NaiveDate>().expect("date");
        let facts = ClaimFacts {
            category: "vakopleiding",
            eligible_categories: &categories,
            amount_cents: 10_000,
            max_claim_amount_cents: 100_000,
            training_end: date("2026-06-30"),
            claim_deadline_days: 120,
            received_on: date("2026-10-28"),
        };
        assert_eq!(rule_breach(&facts), None);
        assert_eq!(rule_breach(&ClaimFacts { received_on: date("2026-10-29"), ..facts }), Some(RejectionReason::ClaimTooLate));
        let facts = ClaimFacts { received_on: date("2026-07-01"), ..facts };
        assert_eq!(rule_breach(&ClaimFacts { amount_cents: 100_001, ..facts }), Some(RejectionReason::AboveMaxClaim));
        assert_eq!(rule_breach(&ClaimFacts { category: "taal", ..facts }), Some(RejectionReason::CategoryNotEligible));
        // At the edge of the calendar the deadline arithmetic cannot overflow.
        let edge = ClaimFacts { training_end: NaiveDate::MAX, claim_deadline_days: i32::MAX, ..facts };
        assert_eq!(rule_breach(&edge), None);
        assert_eq!(funded_cents(i64::MAX, 100), i64::MAX);
    }

    #[test]
    fn partial_approval_only_when_allowed() {
        assert_eq!(affordable_cents(500, 800, false), Some(500));
        assert_eq!(affordable_cents(500, 300, false), None);
        assert_eq!(affordable_cents(500, 300, true), Some(300));
        assert_eq!(affordable_cents(500, 0, true), None);
    }
}
