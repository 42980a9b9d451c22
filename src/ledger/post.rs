//! Posting a transaction: the conditional balance update, lot updates, the chained entry.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::chain::{transaction_hash, GENESIS_HASH};
use super::{LedgerAccount, LedgerError, TxKind};
use crate::db::conn::DbConn;
use crate::db::rows::{AccountRow, PostingRow, TransactionRow};
use crate::db::schema::{budget_accounts, grant_lots, ledger_postings, ledger_transactions};
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
    let row = AccountRow {
        id: AccountId::new(),
        fund_id,
        worker_id,
        scheme_id,
        available_cents: 0,
        reserved_cents: 0,
        granted_cents: 0,
        spent_cents: 0,
        expired_cents: 0,
        tx_count: 0,
        chain_head: GENESIS_HASH.to_string(),
        created_at: now_utc(),
    };
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
/// row. On PostgreSQL the no-op update takes the row lock (other transactions on the same
/// worker wait; others do not); on SQLite the write transaction already holds the lock.
pub fn lock_account(conn: &mut DbConn, account_id: AccountId) -> Result<AccountRow, LedgerError> {
    let locked = crate::on_backend!(conn, |c| diesel::update(budget_accounts::table.find(account_id))
        .set(budget_accounts::tx_count.eq(budget_accounts::tx_count))
        .returning(AccountRow::as_returning())
        .get_result(c))?;
    Ok(locked)
}

/// Balance changes a transaction makes to its budget account row.
#[derive(Default, Debug, PartialEq, Eq)]
struct Deltas {
    available: i64,
    reserved: i64,
    granted: i64,
    spent: i64,
    expired: i64,
}

fn deltas(postings: &[Posting]) -> Deltas {
    let mut d = Deltas::default();
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
pub(super) fn transaction_rows(account: &AccountRow, tx: &NewTransaction) -> Result<(TransactionRow, Vec<PostingRow>), LedgerError> {
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
    let updated = crate::on_backend!(conn, |c| diesel::update(
        budget_accounts::table
            .filter(budget_accounts::id.eq(account.id))
            .filter(budget_accounts::tx_count.eq(account.tx_count))
            .filter((budget_accounts::available_cents + d.available).ge(0))
            .filter((budget_accounts::reserved_cents + d.reserved).ge(0)),
    )
    .set((
        budget_accounts::available_cents.eq(budget_accounts::available_cents + d.available),
        budget_accounts::reserved_cents.eq(budget_accounts::reserved_cents + d.reserved),
        budget_accounts::granted_cents.eq(budget_accounts::granted_cents + d.granted),
        budget_accounts::spent_cents.eq(budget_accounts::spent_cents + d.spent),
        budget_accounts::expired_cents.eq(budget_accounts::expired_cents + d.expired),
        budget_accounts::tx_count.eq(row.seq),
        budget_accounts::chain_head.eq(&row.hash),
    ))
    .execute(c))?;
    if updated != 1 {
        let usable = account.available_cents;
        return Err(LedgerError::InsufficientBudget { usable_cents: usable });
    }
    for p in &tx.postings {
        if let Some(lot) = p.lot {
            apply_to_lot(conn, account, lot, p)?;
        }
    }
    crate::on_backend!(conn, |c| diesel::insert_into(ledger_transactions::table).values(&row).execute(c))?;
    insert_postings(conn, &postings)?;
    crate::telemetry::tally_posted(tx.kind);
    Ok(row)
}

/// All postings of a transaction in one statement. Multi-row inserts do not go through
/// diesel's `MultiConnection`, so each backend gets its own, identical statement.
fn insert_postings(conn: &mut DbConn, postings: &[PostingRow]) -> QueryResult<usize> {
    let insert = diesel::insert_into(ledger_postings::table).values(postings);
    match conn {
        DbConn::Pg(pg) => insert.execute(pg),
        DbConn::Sqlite(sqlite) => insert.execute(sqlite),
    }
}

fn apply_to_lot(conn: &mut DbConn, account: &AccountRow, lot: LotId, p: &Posting) -> Result<(), LedgerError> {
    let target = grant_lots::table
        .filter(grant_lots::id.eq(lot))
        .filter(grant_lots::account_id.eq(account.id));
    let updated = match p.account {
        LedgerAccount::Available => crate::on_backend!(conn, |c| diesel::update(target.filter((grant_lots::available_cents + p.amount_cents).ge(0)))
            .set(grant_lots::available_cents.eq(grant_lots::available_cents + p.amount_cents))
            .execute(c))?,
        LedgerAccount::Reserved => crate::on_backend!(conn, |c| diesel::update(target.filter((grant_lots::reserved_cents + p.amount_cents).ge(0)))
            .set(grant_lots::reserved_cents.eq(grant_lots::reserved_cents + p.amount_cents))
            .execute(c))?,
        other => {
            return Err(LedgerError::Invariant(format!("a {} posting cannot name a lot", other.as_str())));
        }
    };
    if updated != 1 {
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
        assert_eq!(d, Deltas { available: 500, granted: 500, ..Deltas::default() });
    }

    #[test]
    fn spending_from_a_reservation_moves_reserved_to_spent() {
        let d = deltas(&[
            Posting::new(LedgerAccount::Reserved, None, -300),
            Posting::new(LedgerAccount::Spent, None, 300),
        ]);
        assert_eq!(d, Deltas { reserved: -300, spent: 300, ..Deltas::default() });
    }
}
