//! Money: integer euro cents inside, decimal strings with at most two decimals outside.
//!
//! Parse, don't validate: once you hold a `Money` or an `Amount` it is within bounds.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount the service accepts in one field: 1,000,000.00 euro. Larger is a typo
/// or an attack, and keeps every sum of amounts far from `i64` overflow.
pub const MAX_AMOUNT_CENTS: i64 = 100_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not an amount: write a decimal string with at most two decimals, e.g. \"250.00\"")]
    Format(String),
    #[error("{0:?} has more than two decimals: amounts are in whole euro cents")]
    TooPrecise(String),
    #[error("{0:?} is above the largest amount accepted, 1000000.00")]
    TooLarge(String),
    #[error("{0:?} must be more than zero")]
    Zero(String),
}

/// A non-negative amount of money, at most `MAX_AMOUNT_CENTS`. Used where zero is meaningful
/// (a threshold, a balance).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// A positive amount of money: what a grant, voucher or claim is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Money);

impl Money {
    pub const ZERO: Money = Money(0);

    /// Parses a decimal string: digits, optionally a point and one or two digits.
    /// Signs, exponents, separators and spaces are refused rather than guessed at.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_only(whole) || fraction.is_some_and(|f| !digits_only(f)) {
            return Err(MoneyError::Format(text.to_string()));
        }
        if fraction.is_some_and(|f| f.len() > 2) {
            return Err(MoneyError::TooPrecise(text.to_string()));
        }
        if whole.len() > 12 {
            return Err(MoneyError::TooLarge(text.to_string()));
        }
        let decimal = Decimal::from_str_exact(text).map_err(|_| MoneyError::Format(text.to_string()))?;
        let cents = (decimal * Decimal::ONE_HUNDRED)
            .to_i64()
            .ok_or_else(|| MoneyError::TooLarge(text.to_string()))?;
        Money::from_cents(cents).ok_or_else(|| MoneyError::TooLarge(text.to_string()))
    }

    /// An amount from cents, if within `0..=MAX_AMOUNT_CENTS`.
    pub fn from_cents(cents: i64) -> Option<Money> {
        (0..=MAX_AMOUNT_CENTS).contains(&cents).then_some(Money(cents))
    }

    pub fn cents(self) -> i64 {
        self.0
    }
}

impl Amount {
    pub fn parse(text: &str) -> Result<Amount, MoneyError> {
        let money = Money::parse(text)?;
        Amount::try_from(money).map_err(|_| MoneyError::Zero(text.to_string()))
    }

    pub fn from_cents(cents: i64) -> Option<Amount> {
        Money::from_cents(cents).and_then(|m| Amount::try_from(m).ok())
    }

    pub fn cents(self) -> i64 {
        self.0 .0
    }

    pub fn money(self) -> Money {
        self.0
    }
}

impl TryFrom<Money> for Amount {
    type Error = MoneyError;
    fn try_from(money: Money) -> Result<Amount, MoneyError> {
        if money.0 > 0 {
            Ok(Amount(money))
        } else {
            Err(MoneyError::Zero(money.to_string()))
        }
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Money, MoneyError> {
        Money::parse(s)
    }
}

impl FromStr for Amount {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Amount, MoneyError> {
        Amount::parse(s)
    }
}

/// Formats cents as a decimal string with two decimals. Works for any `i64`, also negative
/// sums (a posting to a fund-level account), so reports and ledgers share it.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_cents(self.0))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct AmountVisitor<T>(std::marker::PhantomData<T>);

impl<T: FromStr<Err = MoneyError>> de::Visitor<'_> for AmountVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount as a decimal string with at most two decimals, e.g. \"250.00\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        deserializer.deserialize_str(AmountVisitor(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        deserializer.deserialize_str(AmountVisitor(std::marker::PhantomData))
    }
}

/// A signed sum of cents in a response (a fund-level balance, a posting). Read-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedCents(pub i64);

impl Serialize for SignedCents {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_cents(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_strings_to_cents() {
        assert_eq!(Money::parse("250.00").map(Money::cents), Ok(25_000));
        assert_eq!(Money::parse("250.5").map(Money::cents), Ok(25_050));
        assert_eq!(Money::parse("7").map(Money::cents), Ok(700));
        assert_eq!(Money::parse("0").map(Money::cents), Ok(0));
        assert_eq!(Money::parse("1000000.00").map(Money::cents), Ok(MAX_AMOUNT_CENTS));
    }

    #[test]
    fn refuses_what_it_would_have_to_guess() {
        for bad in ["", "-1.00", "+1", "1e3", "1.", ".5", "1,50", " 1", "1 ", "1_000", "NaN", "0x10", "１"] {
            assert!(matches!(Money::parse(bad), Err(MoneyError::Format(_))), "{bad:?} accepted");
        }
        assert!(matches!(Money::parse("1.001"), Err(MoneyError::TooPrecise(_))));
        assert!(matches!(Money::parse("1000000.01"), Err(MoneyError::TooLarge(_))));
        assert!(matches!(Money::parse("99999999999999999999999"), Err(MoneyError::TooLarge(_))));
        assert!(matches!(Amount::parse("0.00"), Err(MoneyError::Zero(_))));
    }

    #[test]
    fn formats_with_two_decimals() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-12_345), "-123.45");
        assert_eq!(Money(25_000).to_string(), "250.00");
    }

    #[test]
    fn json_numbers_are_refused() {
        assert!(serde_json::from_str::<Amount>("250").is_err());
        assert!(serde_json::from_str::<Amount>("250.5").is_err());
        assert_eq!(serde_json::from_str::<Amount>("\"250.5\"").map(Amount::cents).ok(), Some(25_050));
    }
}
