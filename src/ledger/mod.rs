//! The ledger: the only code that writes money.
//!
//! Every ledger transaction concerns exactly one budget account, moves money between that
//! account's `available`/`reserved` balances and the fund-level accounts of its scheme
//! (`grants_issued`, `spent`, `expired`), and its postings sum to zero. The account row is the
//! projection of its postings, updated in the same database transaction by one conditional
//! statement that refuses to take a balance below zero, and it holds the head of the
//! account's SHA-256 chain.

pub mod chain;
pub mod expiry;
pub mod grants;
pub mod guidance;
pub mod post;
pub mod read;
pub mod spending;
pub mod verify;
mod verify_links;
pub mod vouchers;
pub mod claims;

pub use post::{ensure_account, lock_account, post, NewTransaction, Posting};

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The accounts a posting can touch. `Available` and `Reserved` belong to a worker's budget
/// account; the others are fund-level per scheme and have no balance row (no hot rows): their
/// balances are sums over postings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// What a ledger transaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

    fn index(self) -> usize {
        self as usize
    }
}

/// Ledger transactions committed by this process, per kind, for `/metrics`. Posting counts
/// into a per-thread tally that `db::write_tx` adds here on commit and drops on rollback, so
/// a transaction that rolls back is never counted.
static COMMITTED: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

thread_local! {
    static PENDING: Cell<[u64; 6]> = const { Cell::new([0; 6]) };
}

pub(crate) fn tally_posted(kind: TxKind) {
    PENDING.with(|p| {
        let mut counts = p.get();
        counts[kind.index()] += 1;
        p.set(counts);
    });
}

/// Called by `db::write_tx` when a transaction starts (`commit = false`: forget the tally) and
/// when it commits (`commit = true`: publish it).
pub fn settle_tally(commit: bool) {
    let counts = PENDING.with(|p| p.replace([0; 6]));
    if commit {
        for (slot, n) in COMMITTED.iter().zip(counts) {
            slot.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Committed ledger transactions per kind.
pub fn committed_transactions() -> Vec<(TxKind, u64)> {
    TxKind::ALL.iter().map(|k| (*k, COMMITTED[k.index()].load(Ordering::Relaxed))).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The budget cannot cover the movement; nothing was written.
    #[error("insufficient budget: {usable_cents} cents usable")]
    InsufficientBudget { usable_cents: i64 },
    /// A rule of the ledger itself would break (postings not summing to zero, a lot below
    /// zero). A bug, not bad input: the transaction is rolled back.
    #[error("ledger invariant violated: {0}")]
    Invariant(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}
