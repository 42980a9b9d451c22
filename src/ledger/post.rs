//! Posting a transaction: the conditional balance update, lot updates, the chained entry.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::chain::transaction_hash;
use super::{LedgerAccount, LedgerError, TxKind};
use crate::db::conn::DbConn;
use crate::db::rows::{AccountRow, PostingRow, TransactionRow};
use crate::db::ledger_statements::{self as statements, BalanceChange};
use crate::db::schema::budget_accounts;
use crate::domain::time::now_utc;
use crate::domain::{AccountId, FundId, LotId, SchemeId, TransactionId, WorkerId};

/// One leg of a transaction. Postings to `Available`/`Reserved` may name the grant lot they
/// move money of; the lot's own balances follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    pub account: LedgerAccount,
    pub lot: Option<LotId>,
    pub amount_cents: i64,
}

impl Posting {
    pub fn new(account: LedgerAccount, lot: Option<LotId>, amount_cents: i64) -> Posting {
        Posting { account, lot, amount_cents }
    }
}

/// A transaction about to be posted on one budget account.
#[derive(Clone, Debug)]
pub struct NewTransaction {
    /// Chosen by the caller, so that rows written with the transaction can refer to it.
    pub id: TransactionId,
    pub kind: TxKind,
    pub effective_date: NaiveDate,
    pub actor: String,
    pub reverses: Option<TransactionId>,
    pub reference: Option<String>,
    pub postings: Vec<Posting>,
    /// When the entry is recorded: now, except for the demo data set, which builds a
    /// simulated history (in order per account).
    pub recorded_at: Option<chrono::NaiveDateTime>,
}

/// Makes sure the budget account of a worker in a scheme exists, and returns its id.
/// Two transactions creating it at once both end up with the same row.
pub fn ensure_account(
    conn: &mut DbConn,
    fund_id: FundId,
    worker_id: WorkerId,
    scheme_id: SchemeId,
) -> Result<AccountId, LedgerError> {
    let find = |conn: &mut DbConn| {
        budget_accounts::table
            .filter(budget_accounts::worker_id.eq(worker_id))
            .filter(budget_accounts::scheme_id.eq(scheme_id))
            .select(budget_accounts::id)
            .first::<AccountId>(conn)
            .optional()
    };
    if let Some(id) = find(conn)? {
        return Ok(id);
    }
    let row = AccountRow::empty(fund_id, worker_id, scheme_id, now_utc());
    // A savepoint, so that losing the race to create the row leaves the transaction usable.
    let inserted = conn.transaction(|conn| diesel::insert_into(budget_accounts::table).values(&row).execute(conn));
    match inserted {
        Ok(_) => Ok(row.id),
        Err(e) if crate::db::is_unique_violation(&e) => match find(conn)? {
            Some(id) => Ok(id),
            None => Err(LedgerError::Db(e)),
        },
        Err(e) => Err(LedgerError::Db(e)),
    }
}

/// Locks a budget account for the rest of the database transaction and returns its current
/// row (see `db::ledger_statements::lock_account`).
pub fn lock_account(conn: &mut DbConn, account_id: AccountId) -> Result<AccountRow, LedgerError> {
    Ok(statements::lock_account(conn, account_id)?)
}

/// Balance changes a transaction makes to its budget account row.
pub(crate) fn deltas(postings: &[Posting]) -> BalanceChange {
    let mut d = BalanceChange::default();
    for p in postings {
        match p.account {
            LedgerAccount::Available => d.available += p.amount_cents,
            LedgerAccount::Reserved => d.reserved += p.amount_cents,
            // Money leaves grants_issued when it is granted: the account is negative by design.
            LedgerAccount::GrantsIssued => d.granted -= p.amount_cents,
            LedgerAccount::Spent => d.spent += p.amount_cents,
            LedgerAccount::Expired => d.expired += p.amount_cents,
        }
    }
    d
}

/// The rows of a transaction about to follow the account's chain head: the transaction with
/// its hash, and its postings. The one place ledger rows are built, for `post` and for bulk
/// grants alike. Refuses postings that do not balance.
pub(crate) fn transaction_rows(account: &AccountRow, tx: &NewTransaction) -> Result<(TransactionRow, Vec<PostingRow>), LedgerError> {
    if tx.postings.len() < 2 {
        return Err(LedgerError::Invariant(format!("{} transaction with fewer than two postings", tx.kind)));
    }
    let sum: i64 = tx.postings.iter().map(|p| p.amount_cents).sum();
    if sum != 0 || tx.postings.iter().any(|p| p.amount_cents == 0) {
        return Err(LedgerError::Invariant(format!("{} postings do not balance: sum {sum}", tx.kind)));
    }
    let row = TransactionRow {
        id: tx.id,
        fund_id: account.fund_id,
        account_id: account.id,
        seq: account.tx_count + 1,
        kind: tx.kind,
        effective_date: tx.effective_date,
        recorded_at: tx.recorded_at.unwrap_or_else(now_utc),
        actor: tx.actor.clone(),
        reverses: tx.reverses,
        reference: tx.reference.clone(),
        prev_hash: account.chain_head.clone(),
        hash: String::new(),
    };
    let postings: Vec<PostingRow> = tx
        .postings
        .iter()
        .enumerate()
        .map(|(i, p)| PostingRow {
            transaction_id: row.id,
            line: i as i32 + 1,
            fund_id: account.fund_id,
            account: p.account,
            budget_account_id: p.account.is_budget_level().then_some(account.id),
            scheme_id: account.scheme_id,
            lot_id: p.lot,
            amount_cents: p.amount_cents,
        })
        .collect();
    let row = TransactionRow { hash: transaction_hash(&row, &postings), ..row };
    Ok((row, postings))
}

/// Posts a transaction on a budget account that the caller has locked with `lock_account`
/// in this database transaction. Refuses (and writes nothing) when a balance would go below
/// zero. Returns the stored transaction.
pub fn post(conn: &mut DbConn, account: &AccountRow, tx: NewTransaction) -> Result<TransactionRow, LedgerError> {
    let (row, postings) = transaction_rows(account, &tx)?;
    let d = deltas(&tx.postings);
    // The check-and-debit: one conditional statement, never a read followed by a write.
    let updated = statements::apply_if_covered(conn, account, &d, row.seq, &row.hash)?;
    if updated != 1 {
        let usable = account.available_cents;
        return Err(LedgerError::InsufficientBudget { usable_cents: usable });
    }
    for p in &tx.postings {
        if let Some(lot) = p.lot {
            apply_to_lot(conn, account, lot, p)?;
        }
    }
    statements::insert_transaction(conn, &row)?;
    statements::insert_postings(conn, &postings)?;
    crate::telemetry::tally_posted(tx.kind);
    Ok(row)
}

fn apply_to_lot(conn: &mut DbConn, account: &AccountRow, lot: LotId, p: &Posting) -> Result<(), LedgerError> {
    if !p.account.is_budget_level() {
        return Err(LedgerError::Invariant(format!("a {} posting cannot name a lot", p.account.as_str())));
    }
    if statements::move_lot_money(conn, account.id, lot, p.account, p.amount_cents)? != 1 {
        return Err(LedgerError::Invariant(format!("lot {lot} cannot take {} cents", p.amount_cents)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_raises_available_and_granted() {
        let d = deltas(&[
            Posting::new(LedgerAccount::GrantsIssued, None, -500),
            Posting::new(LedgerAccount::Available, None, 500),
        ]);
        assert_eq!(d, BalanceChange { available: 500, granted: 500, ..BalanceChange::default() });
    }

    #[test]
    fn spending_from_a_reservation_moves_reserved_to_spent() {
        let d = deltas(&[
            Posting::new(LedgerAccount::Reserved, None, -300),
            Posting::new(LedgerAccount::Spent, None, 300),
        ]);
        assert_eq!(d, BalanceChange { reserved: -300, spent: 300, ..BalanceChange::default() });
    }
}
