//! The rules of an allowance scheme, and the pure decisions that follow from them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::money::{Amount, Money};
use super::providers::{Payee, ProviderPolicy};
use super::FieldError;

/// Limits on scheme fields: generous for real schemes, tight enough to refuse typos.
pub const MAX_VALIDITY_YEARS: i32 = 10;
pub const MAX_WINDOW_DAYS: i32 = 3_650;
pub const MAX_CATEGORIES: usize = 20;
pub const DEFAULT_GUIDANCE_WINDOW_DAYS: i32 = 365;
pub const DEFAULT_FUNDING_PCT: i32 = 100;
/// OOM's rule: a declaration within four months after the course.
pub const DEFAULT_CLAIM_DEADLINE_DAYS: i32 = 120;

/// A scheme's rules as validated; what a scheme version stores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SchemeRules {
    pub annual_amount: Amount,
    pub max_balance: Amount,
    pub validity_years: i32,
    pub eligible_categories: Vec<String>,
    pub max_claim_amount: Amount,
    pub allow_partial: bool,
    pub guidance_required_above: Option<Money>,
    pub guidance_window_days: i32,
    pub funding_pct: i32,
    pub claim_deadline_days: i32,
    pub effective_from: NaiveDate,
    pub provider_policy: ProviderPolicy,
    pub payee: Payee,
    pub review_above: Option<Money>,
}

/// The rules as a client sends them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    pub annual_amount: Amount,
    pub max_balance: Amount,
    pub validity_years: i32,
    pub eligible_categories: Vec<String>,
    pub max_claim_amount: Amount,
    #[serde(default)]
    pub allow_partial: bool,
    #[serde(default)]
    pub guidance_required_above: Option<Money>,
    #[serde(default)]
    pub guidance_window_days: Option<i32>,
    #[serde(default)]
    pub funding_pct: Option<i32>,
    #[serde(default)]
    pub claim_deadline_days: Option<i32>,
    #[serde(default, deserialize_with = "crate::domain::time::iso_date::optional")]
    pub effective_from: Option<NaiveDate>,
    #[serde(default)]
    pub provider_policy: ProviderPolicy,
    #[serde(default)]
    pub payee: Payee,
    #[serde(default)]
    pub review_above: Option<Money>,
}

impl RulesInput {
    pub fn validate(self, today: NaiveDate) -> Result<SchemeRules, FieldError> {
        let in_range = |field: &'static str, value: i32, max: i32| {
            if (1..=max).contains(&value) {
                Ok(value)
            } else {
                Err(FieldError::new(field, format!("must be a whole number from 1 to {max}")))
            }
        };
        let validity_years = in_range("validity_years", self.validity_years, MAX_VALIDITY_YEARS)?;
        let guidance_window_days = in_range(
            "guidance_window_days",
            self.guidance_window_days.unwrap_or(DEFAULT_GUIDANCE_WINDOW_DAYS),
            MAX_WINDOW_DAYS,
        )?;
        let funding_pct = in_range("funding_pct", self.funding_pct.unwrap_or(DEFAULT_FUNDING_PCT), 100)?;
        let claim_deadline_days = in_range(
            "claim_deadline_days",
            self.claim_deadline_days.unwrap_or(DEFAULT_CLAIM_DEADLINE_DAYS),
            MAX_WINDOW_DAYS,
        )?;
        if self.max_balance < self.annual_amount {
            return Err(FieldError::new("max_balance", "must be at least annual_amount"));
        }
        let eligible_categories = validate_categories(self.eligible_categories)?;
        if self.payee == Payee::Provider && self.provider_policy != ProviderPolicy::Registered {
            return Err(FieldError::new("payee", "provider needs provider_policy registered: the fund pays only providers it knows"));
        }
        Ok(SchemeRules {
            annual_amount: self.annual_amount,
            max_balance: self.max_balance,
            validity_years,
            eligible_categories,
            max_claim_amount: self.max_claim_amount,
            allow_partial: self.allow_partial,
            guidance_required_above: self.guidance_required_above,
            guidance_window_days,
            funding_pct,
            claim_deadline_days,
            effective_from: self.effective_from.unwrap_or(today),
            provider_policy: self.provider_policy,
            payee: self.payee,
            review_above: self.review_above,
        })
    }
}

fn validate_categories(mut categories: Vec<String>) -> Result<Vec<String>, FieldError> {
    const FIELD: &str = "eligible_categories";
    if categories.is_empty() || categories.len() > MAX_CATEGORIES {
        return Err(FieldError::new(FIELD, format!("must list 1 to {MAX_CATEGORIES} categories")));
    }
    for category in &categories {
        if !is_slug(category, 40) {
            return Err(FieldError::new(
                FIELD,
                format!("{category:?} is not a category: use lower-case letters, digits and _ (e.g. \"vakopleiding\")"),
            ));
        }
    }
    categories.sort();
    categories.dedup();
    Ok(categories)
}

/// A short machine name: lower-case ASCII letters, digits, `_` and `-`, starting with a letter.
pub fn is_slug(text: &str, max_len: usize) -> bool {
    !text.is_empty()
        && text.len() <= max_len
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The stored form of a scheme's categories: one text column, comma-separated.
pub fn join_categories(categories: &[String]) -> String {
    categories.join(",")
}

/// The categories of their stored form.
pub fn split_categories(stored: &str) -> Vec<String> {
    stored.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect()
}

/// The last day a grant of `grant_year` can be used: the end of the calendar year
/// `grant_year + validity_years - 1`.
pub fn lot_expires_on(grant_year: i32, validity_years: i32) -> Option<NaiveDate> {
    super::time::end_of_year(grant_year.checked_add(validity_years)?.checked_sub(1)?)
}

/// How much of a requested grant fits under the cap on available + reserved.
pub fn capped_grant_cents(requested_cents: i64, held_cents: i64, max_balance_cents: i64) -> i64 {
    requested_cents.min((max_balance_cents - held_cents).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lots_lapse_at_the_end_of_their_last_year() {
        assert_eq!(lot_expires_on(2026, 1).map(|d| d.to_string()), Some("2026-12-31".into()));
        assert_eq!(lot_expires_on(2026, 3).map(|d| d.to_string()), Some("2028-12-31".into()));
    }

    #[test]
    fn grants_are_capped_to_what_fits() {
        assert_eq!(capped_grant_cents(50_000, 0, 150_000), 50_000);
        assert_eq!(capped_grant_cents(50_000, 120_000, 150_000), 30_000);
        assert_eq!(capped_grant_cents(50_000, 150_000, 150_000), 0);
        assert_eq!(capped_grant_cents(50_000, 160_000, 150_000), 0);
    }

    #[test]
    fn slugs() {
        assert!(is_slug("vakopleiding", 40));
        assert!(is_slug("digitaal_2", 40));
        assert!(!is_slug("Taal", 40));
        assert!(!is_slug("", 40));
        assert!(!is_slug("1abc", 40));
    }
}
