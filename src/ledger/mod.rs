//! The ledger: the only code that writes money.
//!
//! Every ledger transaction concerns exactly one budget account, moves money between that
//! account's `available`/`reserved` balances and the fund-level accounts of its scheme
//! (`grants_issued`, `spent`, `expired`), and its postings sum to zero. The account row is the
//! projection of its postings, updated in the same database transaction by one conditional
//! statement that refuses to take a balance below zero, and it holds the head of the
//! account's SHA-256 chain.

pub mod chain;
pub mod coaching;
pub mod employment;
pub mod expiry;
pub mod grants;
pub mod guidance;
pub mod objections;
pub mod outbox;
pub mod payments;
pub mod periods;
pub mod post;
pub mod review;
pub mod spending;
pub mod verify;
mod verify_links;
pub mod vouchers;
pub mod worker_import;
pub mod claims;

pub use post::{ensure_account, lock_account, post, NewTransaction, Posting};

pub use crate::domain::ledger::{LedgerAccount, TxKind};

/// A write transaction that moves money: `db::write_tx`, after which the ledger transactions
/// posted in it are counted (`/metrics`) if, and only if, it committed.
pub fn write_tx<T, E>(conn: &mut crate::db::DbConn, f: impl FnOnce(&mut crate::db::DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<crate::db::DbError>,
{
    crate::telemetry::settle_tally(false);
    let result = crate::db::write_tx(conn, f);
    crate::telemetry::settle_tally(result.is_ok());
    result
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
