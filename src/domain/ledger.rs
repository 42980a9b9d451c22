//! The ledger's vocabulary: the accounts a posting can touch and the kinds of transaction.

use std::fmt;

use super::UnknownName;

/// The `prev_hash` of an account's first transaction.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The accounts a posting can touch. `Available` and `Reserved` belong to a worker's budget
/// account; the others are fund-level per scheme and have no balance row (no hot rows): their
/// balances are sums over postings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum LedgerAccount {
    Available,
    Reserved,
    GrantsIssued,
    Spent,
    Expired,
}

impl LedgerAccount {
    pub const ALL: [LedgerAccount; 5] = [
        LedgerAccount::Available,
        LedgerAccount::Reserved,
        LedgerAccount::GrantsIssued,
        LedgerAccount::Spent,
        LedgerAccount::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerAccount::Available => "available",
            LedgerAccount::Reserved => "reserved",
            LedgerAccount::GrantsIssued => "grants_issued",
            LedgerAccount::Spent => "spent",
            LedgerAccount::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<LedgerAccount> {
        LedgerAccount::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// Whether the account is a worker's own balance (and so carries the budget account id).
    pub fn is_budget_level(self) -> bool {
        matches!(self, LedgerAccount::Available | LedgerAccount::Reserved)
    }
}

impl fmt::Display for LedgerAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a ledger transaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum TxKind {
    Grant,
    Reserve,
    Release,
    Spend,
    Lapse,
    Reversal,
}

impl TxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::Grant => "grant",
            TxKind::Reserve => "reserve",
            TxKind::Release => "release",
            TxKind::Spend => "spend",
            TxKind::Lapse => "lapse",
            TxKind::Reversal => "reversal",
        }
    }
}

impl fmt::Display for TxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TxKind {
    pub const ALL: [TxKind; 6] = [TxKind::Grant, TxKind::Reserve, TxKind::Release, TxKind::Spend, TxKind::Lapse, TxKind::Reversal];

    /// The kind's place in `ALL`.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::str::FromStr for LedgerAccount {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        LedgerAccount::ALL.into_iter().find(|v| v.as_str() == text).ok_or(UnknownName)
    }
}

impl std::str::FromStr for TxKind {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        TxKind::ALL.into_iter().find(|v| v.as_str() == text).ok_or(UnknownName)
    }
}
