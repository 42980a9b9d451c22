//! The tamper-evident chain: each transaction's SHA-256 over its canonical encoding and the
//! previous transaction's hash of the same budget account.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::rows::{PostingRow, TransactionRow};
use crate::domain::time::rfc3339;

/// The `prev_hash` of an account's first transaction.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize)]
struct CanonicalPosting<'a> {
    line: i32,
    account: &'a str,
    budget_account_id: Option<&'a str>,
    scheme_id: &'a str,
    lot_id: Option<&'a str>,
    amount_cents: i64,
}

/// Version 1 of the canonical encoding: JSON with a fixed field order.
#[derive(Serialize)]
struct CanonicalTransaction<'a> {
    v: u8,
    id: &'a str,
    fund_id: &'a str,
    account_id: &'a str,
    seq: i64,
    kind: &'a str,
    effective_date: String,
    recorded_at: String,
    actor: &'a str,
    reverses: Option<&'a str>,
    reference: Option<&'a str>,
    prev_hash: &'a str,
    postings: Vec<CanonicalPosting<'a>>,
}

/// The hash of a transaction (its `hash` field is not part of the input). Postings must be
/// in line order.
pub fn transaction_hash(tx: &TransactionRow, postings: &[PostingRow]) -> String {
    let canonical = CanonicalTransaction {
        v: 1,
        id: &tx.id,
        fund_id: &tx.fund_id,
        account_id: &tx.account_id,
        seq: tx.seq,
        kind: &tx.kind,
        effective_date: tx.effective_date.to_string(),
        recorded_at: rfc3339(tx.recorded_at),
        actor: &tx.actor,
        reverses: tx.reverses.as_deref(),
        reference: tx.reference.as_deref(),
        prev_hash: &tx.prev_hash,
        postings: postings
            .iter()
            .map(|p| CanonicalPosting {
                line: p.line,
                account: &p.account,
                budget_account_id: p.budget_account_id.as_deref(),
                scheme_id: &p.scheme_id,
                lot_id: p.lot_id.as_deref(),
                amount_cents: p.amount_cents,
            })
            .collect(),
    };
    // Serialising plain strings and integers cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}
