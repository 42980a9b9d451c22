//! Pure types and rules: money, ids, dates, schemes, lots. No actix and no queries; diesel
//! appears only as derive markers naming the SQL type a value is stored as (`Text`), while
//! the mapping itself lives in `crate::db::types`.

pub mod claims;
pub mod digest;
pub mod employment;
pub mod events;
pub mod iban;
pub mod ids;
pub mod ledger;
pub mod lots;
pub mod money;
pub mod payments;
pub mod providers;
pub mod scheme;
pub mod status;
pub mod time;
pub mod voucher_code;
pub mod webhooks;

pub use ids::*;
pub use money::{format_cents, Amount, Money, MoneyError, SignedCents, MAX_AMOUNT_CENTS};

/// A name that is none of a closed set's names (a status, a transaction kind, an account).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a known name")]
pub struct UnknownName;

/// A field of a request that parsed but breaks a rule; answered 422 naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError { field, message: message.into() }
    }
}

/// The education levels the board's breakdowns use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EducationLevel {
    Praktisch,
    Middelbaar,
    Theoretisch,
}

impl EducationLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            EducationLevel::Praktisch => "praktisch",
            EducationLevel::Middelbaar => "middelbaar",
            EducationLevel::Theoretisch => "theoretisch",
        }
    }

    pub fn parse(text: &str) -> Option<EducationLevel> {
        match text {
            "praktisch" => Some(EducationLevel::Praktisch),
            "middelbaar" => Some(EducationLevel::Middelbaar),
            "theoretisch" => Some(EducationLevel::Theoretisch),
            _ => None,
        }
    }
}
