//! The tamper-evident chain: each transaction's SHA-256 over its canonical encoding and the
//! previous transaction's hash of the same budget account.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::rows::{PostingRow, TransactionRow};
use crate::domain::time::rfc3339;
use crate::domain::{AccountId, FundId, LotId, SchemeId, TransactionId};

pub use crate::domain::ledger::GENESIS_HASH;

#[derive(Serialize)]
struct CanonicalPosting<'a> {
    line: i32,
    account: &'a str,
    budget_account_id: Option<AccountId>,
    scheme_id: SchemeId,
    lot_id: Option<LotId>,
    amount_cents: i64,
}

/// Version 1 of the canonical encoding: JSON with a fixed field order. Ids are written as
/// their hyphenated lower-case text, as they are stored.
#[derive(Serialize)]
struct CanonicalTransaction<'a> {
    v: u8,
    id: TransactionId,
    fund_id: FundId,
    account_id: AccountId,
    seq: i64,
    kind: &'a str,
    effective_date: String,
    recorded_at: String,
    actor: &'a str,
    reverses: Option<TransactionId>,
    reference: Option<&'a str>,
    prev_hash: &'a str,
    postings: Vec<CanonicalPosting<'a>>,
}

/// The hash of a transaction (its `hash` field is not part of the input). Postings must be
/// in line order.
pub fn transaction_hash(tx: &TransactionRow, postings: &[PostingRow]) -> String {
    let canonical = CanonicalTransaction {
        v: 1,
        id: tx.id,
        fund_id: tx.fund_id,
        account_id: tx.account_id,
        seq: tx.seq,
        kind: tx.kind.as_str(),
        effective_date: tx.effective_date.to_string(),
        recorded_at: rfc3339(tx.recorded_at),
        actor: &tx.actor,
        reverses: tx.reverses,
        reference: tx.reference.as_deref(),
        prev_hash: &tx.prev_hash,
        postings: postings
            .iter()
            .map(|p| CanonicalPosting {
                line: p.line,
                account: p.account.as_str(),
                budget_account_id: p.budget_account_id,
                scheme_id: p.scheme_id,
                lot_id: p.lot_id,
                amount_cents: p.amount_cents,
            })
            .collect(),
    };
    // Serialising plain strings and integers cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}
