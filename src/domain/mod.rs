//! Pure types and rules: money, ids, dates, schemes, lots. No actix and no queries; diesel
//! appears only as derive markers naming the SQL type a value is stored as (`Text`), while
//! the mapping itself lives in `crate::db::types`.

/// A closed set of names stored as TEXT (`crate::db::types` maps it), serialised in snake case;
/// the first variant is the default.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            #[default]
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::UnknownName;
            fn from_str(text: &str) -> Result<Self, $crate::domain::UnknownName> {
                $name::ALL.iter().copied().find(|v| v.as_str() == text).ok_or($crate::domain::UnknownName)
            }
        }
    };
}


pub mod claims;
pub mod digest;
pub mod employment;
pub mod events;
pub mod iban;
pub mod ids;
pub mod ledger;
pub mod lots;
pub mod money;
pub mod objections;
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
