//! Reading the ledger: a worker's entries, the fund's digest as of a moment, lapsing money.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::conn::DbConn;
use crate::domain::digest::fund_digest;
use crate::domain::{AccountId, FundId, TransactionId, WorkerId};
use super::rows::{PageQuery, PostingRow, TransactionRow};
use super::schema::{budget_accounts, ledger_postings, ledger_transactions};

/// A worker's ledger transactions with their postings, newest first.
pub fn worker_transactions(
    conn: &mut DbConn,
    worker_id: WorkerId,
    page: &PageQuery,
) -> QueryResult<Vec<(TransactionRow, Vec<PostingRow>)>> {
    let accounts: Vec<AccountId> = budget_accounts::table
        .filter(budget_accounts::worker_id.eq(worker_id))
        .select(budget_accounts::id)
        .load(conn)?;
    let mut query = ledger_transactions::table
        .filter(ledger_transactions::account_id.eq_any(accounts))
        .select(TransactionRow::as_select())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(ledger_transactions::id.lt(after.clone()));
    }
    let transactions: Vec<TransactionRow> = query.order(ledger_transactions::id.desc()).limit(page.limit).load(conn)?;
    let ids: Vec<TransactionId> = transactions.iter().map(|t| t.id).collect();
    let postings: Vec<PostingRow> = ledger_postings::table
        .filter(ledger_postings::transaction_id.eq_any(ids))
        .order((ledger_postings::transaction_id.asc(), ledger_postings::line.asc()))
        .select(PostingRow::as_select())
        .load(conn)?;
    let mut by_tx: HashMap<TransactionId, Vec<PostingRow>> = HashMap::new();
    for p in postings {
        by_tx.entry(p.transaction_id).or_default().push(p);
    }
    Ok(transactions
        .into_iter()
        .map(|t| {
            let postings = by_tx.remove(&t.id).unwrap_or_default();
            (t, postings)
        })
        .collect())
}

/// Whether anything was recorded in the fund after `at`. If not, the projections (balances,
/// chain heads, lots) are the state at `at`, and readers can use them instead of summing entries.
pub fn recorded_after(conn: &mut DbConn, fund_id: FundId, at: NaiveDateTime) -> QueryResult<bool> {
    let later: Vec<i64> = ledger_transactions::table
        .filter(ledger_transactions::fund_id.eq(fund_id))
        .filter(ledger_transactions::recorded_at.gt(at))
        .select(ledger_transactions::seq)
        .limit(1)
        .load(conn)?;
    Ok(!later.is_empty())
}

/// The fund's fingerprint as of `at`: a hash over the chain head of every budget account as
/// it stood at that moment. Returns the digest and the number of accounts it covers.
pub fn fund_digest_at(conn: &mut DbConn, fund_id: FundId, at: NaiveDateTime) -> QueryResult<(String, usize)> {
    // Nothing recorded since `at`: the heads are the accounts' current chain heads.
    if !recorded_after(conn, fund_id, at)? {
        let heads: Vec<(AccountId, String)> = budget_accounts::table
            .filter(budget_accounts::fund_id.eq(fund_id))
            .filter(budget_accounts::tx_count.gt(0))
            .select((budget_accounts::id, budget_accounts::chain_head))
            .load(conn)?;
        let count = heads.len();
        return Ok((fund_digest(heads), count));
    }
    let rows: Vec<(AccountId, i64, String)> = ledger_transactions::table
        .filter(ledger_transactions::fund_id.eq(fund_id))
        .filter(ledger_transactions::recorded_at.le(at))
        .select((ledger_transactions::account_id, ledger_transactions::seq, ledger_transactions::hash))
        .load(conn)?;
    let mut heads: HashMap<AccountId, (i64, String)> = HashMap::new();
    for (account, seq, hash) in rows {
        match heads.get(&account) {
            Some((head_seq, _)) if *head_seq >= seq => {}
            _ => {
                heads.insert(account, (seq, hash));
            }
        }
    }
    let count = heads.len();
    let digest = fund_digest(heads.into_iter().map(|(account, (_, hash))| (account, hash)).collect());
    Ok((digest, count))
}

/// Per worker, the available money of lots that lapse between `from` and `until` (inclusive):
/// (worker id, cents, first expiry). Reserved money of valid vouchers does not lapse.
pub fn lapsing_by_worker(
    conn: &mut DbConn,
    fund_id: FundId,
    from: chrono::NaiveDate,
    until: chrono::NaiveDate,
) -> QueryResult<Vec<(WorkerId, i64, chrono::NaiveDate)>> {
    use super::schema::grant_lots;
    let rows: Vec<(WorkerId, i64, chrono::NaiveDate)> = grant_lots::table
        .inner_join(budget_accounts::table)
        .filter(grant_lots::fund_id.eq(fund_id))
        .filter(grant_lots::available_cents.gt(0))
        .filter(grant_lots::expires_on.ge(from))
        .filter(grant_lots::expires_on.le(until))
        .select((budget_accounts::worker_id, grant_lots::available_cents, grant_lots::expires_on))
        .load(conn)?;
    let mut by_worker: HashMap<WorkerId, (i64, chrono::NaiveDate)> = HashMap::new();
    for (worker, cents, expires_on) in rows {
        let entry = by_worker.entry(worker).or_insert((0, expires_on));
        entry.0 += cents;
        entry.1 = entry.1.min(expires_on);
    }
    Ok(by_worker.into_iter().map(|(w, (c, d))| (w, c, d)).collect())
}

/// The spend transactions of one account that carry `reference` (a claim's first spend and any
/// top-up), in the account's order.
pub fn spends_of(conn: &mut DbConn, account_id: AccountId, reference: &str) -> QueryResult<Vec<TransactionId>> {
    ledger_transactions::table
        .filter(ledger_transactions::account_id.eq(account_id))
        .filter(ledger_transactions::reference.eq(reference))
        .filter(ledger_transactions::kind.eq(crate::ledger::TxKind::Spend))
        .order(ledger_transactions::seq.asc())
        .select(ledger_transactions::id)
        .load(conn)
}
