//! The ledger's write statements whose form differs per backend: row locks, the conditional
//! balance update, multi-row inserts and the batch update of bulk grants. The money rules that
//! decide what they write are in `crate::ledger`; every backend fork of the service is in `db`.
//!
//! Statements run through `on_backend!` on the backend's own connection type, so that they are
//! kept as prepared statements and may use `RETURNING`.

use diesel::prelude::*;

use super::conn::DbConn;
use super::rows::{AccountRow, ClaimRow, LotRow, PostingRow, TransactionRow};
use super::schema::{budget_accounts, claims, grant_lots, ledger_postings, ledger_transactions};
use crate::domain::ledger::LedgerAccount;
use crate::domain::{AccountId, FundId, LotId, WorkerId};

/// Rows written per multi-row INSERT: well under both databases' limits on bound parameters.
pub const INSERT_CHUNK_ROWS: usize = 1_000;

/// Locks a budget account for the rest of the database transaction and returns its current
/// row. On PostgreSQL the no-op update takes the row lock (other transactions on the same
/// worker wait; others do not); on SQLite the write transaction already holds the lock.
pub fn lock_account(conn: &mut DbConn, account_id: AccountId) -> QueryResult<AccountRow> {
    crate::on_backend!(conn, |c| diesel::update(budget_accounts::table.find(account_id))
        .set(budget_accounts::tx_count.eq(budget_accounts::tx_count))
        .returning(AccountRow::as_returning())
        .get_result(c))
}

/// A claim row, locked for the rest of the transaction on PostgreSQL (`FOR UPDATE`); on SQLite
/// the write transaction holds the lock already.
pub fn lock_claim(conn: &mut DbConn, fund: FundId, claim: crate::domain::ClaimId) -> QueryResult<Option<ClaimRow>> {
    macro_rules! query {
        () => {
            claims::table.filter(claims::fund_id.eq(fund)).filter(claims::id.eq(claim)).select(ClaimRow::as_select())
        };
    }
    match conn {
        DbConn::Pg(c) => query!().for_update().first(c).optional(),
        DbConn::Sqlite(c) => query!().first(c).optional(),
    }
}

/// Locks the fund's approved claims (PostgreSQL), in id order, while a payment batch is made:
/// a payment or reversal of one of them waits until the batch is committed.
pub fn lock_approved_claims(conn: &mut DbConn, fund: FundId) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn {
        claims::table
            .filter(claims::fund_id.eq(fund))
            .filter(claims::status.eq(crate::domain::status::ClaimStatus::Approved))
            .order(claims::id.asc())
            .select(claims::id)
            .for_update()
            .load::<crate::domain::ClaimId>(c)?;
    }
    Ok(())
}

/// What a transaction adds to each balance of its budget account row.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct BalanceChange {
    pub available: i64,
    pub reserved: i64,
    pub granted: i64,
    pub spent: i64,
    pub expired: i64,
}

/// The check-and-debit: applies `change` and moves the chain head to (`seq`, `head`), only if
/// the account is still at the `tx_count` the caller read under its lock and neither available
/// nor reserved money would go below zero. One conditional statement, never a read followed by
/// a write. Returns the number of rows changed (0: refused).
pub fn apply_if_covered(conn: &mut DbConn, account: &AccountRow, change: &BalanceChange, seq: i64, head: &str) -> QueryResult<usize> {
    crate::on_backend!(conn, |c| diesel::update(
        budget_accounts::table
            .filter(budget_accounts::id.eq(account.id))
            .filter(budget_accounts::tx_count.eq(account.tx_count))
            .filter((budget_accounts::available_cents + change.available).ge(0))
            .filter((budget_accounts::reserved_cents + change.reserved).ge(0)),
    )
    .set((
        budget_accounts::available_cents.eq(budget_accounts::available_cents + change.available),
        budget_accounts::reserved_cents.eq(budget_accounts::reserved_cents + change.reserved),
        budget_accounts::granted_cents.eq(budget_accounts::granted_cents + change.granted),
        budget_accounts::spent_cents.eq(budget_accounts::spent_cents + change.spent),
        budget_accounts::expired_cents.eq(budget_accounts::expired_cents + change.expired),
        budget_accounts::tx_count.eq(seq),
        budget_accounts::chain_head.eq(head),
    ))
    .execute(c))
}

/// Moves `cents` into (or, negative, out of) a lot's available or reserved money, only if the
/// lot belongs to the account and the balance stays at or above zero. Returns the rows changed.
pub fn move_lot_money(conn: &mut DbConn, account_id: AccountId, lot: LotId, balance: LedgerAccount, cents: i64) -> QueryResult<usize> {
    let target = grant_lots::table.filter(grant_lots::id.eq(lot)).filter(grant_lots::account_id.eq(account_id));
    match balance {
        LedgerAccount::Available => crate::on_backend!(conn, |c| diesel::update(target.filter((grant_lots::available_cents + cents).ge(0)))
            .set(grant_lots::available_cents.eq(grant_lots::available_cents + cents))
            .execute(c)),
        LedgerAccount::Reserved => crate::on_backend!(conn, |c| diesel::update(target.filter((grant_lots::reserved_cents + cents).ge(0)))
            .set(grant_lots::reserved_cents.eq(grant_lots::reserved_cents + cents))
            .execute(c)),
        // Fund-level accounts have no lots: nothing to change.
        _ => Ok(0),
    }
}

/// One transaction row (a single-row insert, kept as a prepared statement).
pub fn insert_transaction(conn: &mut DbConn, row: &TransactionRow) -> QueryResult<usize> {
    crate::on_backend!(conn, |c| diesel::insert_into(ledger_transactions::table).values(row).execute(c))
}

/// All postings of a transaction in one statement.
pub fn insert_postings(conn: &mut DbConn, postings: &[PostingRow]) -> QueryResult<usize> {
    crate::on_backend!(conn, |c| diesel::insert_into(ledger_postings::table).values(postings).execute(c))
}

/// Transactions before lots and postings, which refer to them; multi-row inserts in chunks.
pub fn insert_entries(conn: &mut DbConn, transactions: &[TransactionRow], lots: &[LotRow], postings: &[PostingRow]) -> QueryResult<()> {
    for chunk in transactions.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(ledger_transactions::table).values(chunk).execute(c))?;
    }
    for chunk in lots.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(grant_lots::table).values(chunk).execute(c))?;
    }
    for chunk in postings.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(ledger_postings::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// Inserts the accounts that do not exist yet (a worker and scheme already with an account keep
/// theirs), then locks every account of `workers` in this fund for the rest of the transaction,
/// in ascending id order so that two bulks over overlapping workers cannot deadlock: FOR UPDATE
/// on PostgreSQL; on SQLite the write transaction already excludes every other writer.
pub fn ensure_and_lock_accounts(conn: &mut DbConn, fund: FundId, fresh: &[AccountRow], workers: &[WorkerId]) -> QueryResult<Vec<AccountRow>> {
    for chunk in fresh.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(budget_accounts::table).values(chunk).on_conflict_do_nothing().execute(c))?;
    }
    let mut account_ids: Vec<AccountId> = Vec::new();
    for chunk in workers.chunks(INSERT_CHUNK_ROWS) {
        // By worker alone, so that the (worker_id, scheme_id) index is used: with the fund's id
        // in the WHERE clause SQLite walks every account of the fund (its fund_id index looks
        // more selective to a planner without statistics), which made a grant cost grow with the
        // fund. The fund is checked on the rows.
        let ids: Vec<(AccountId, FundId)> = budget_accounts::table
            .filter(budget_accounts::worker_id.eq_any(chunk))
            .select((budget_accounts::id, budget_accounts::fund_id))
            .load(conn)?;
        account_ids.extend(ids.into_iter().filter(|(_, f)| *f == fund).map(|(id, _)| id));
    }
    account_ids.sort();
    let mut accounts = Vec::with_capacity(account_ids.len());
    for chunk in account_ids.chunks(INSERT_CHUNK_ROWS) {
        macro_rules! query {
            () => {
                budget_accounts::table.filter(budget_accounts::id.eq_any(chunk)).order(budget_accounts::id.asc()).select(AccountRow::as_select())
            };
        }
        let rows: Vec<AccountRow> = match conn {
            DbConn::Pg(c) => query!().for_update().load(c),
            DbConn::Sqlite(c) => query!().load(c),
        }?;
        accounts.extend(rows);
    }
    Ok(accounts)
}

/// An account a bulk changed: its row as the bulk left it, the `tx_count` read under the lock,
/// and the money it added.
pub struct Advanced<'a> {
    pub account: &'a AccountRow,
    pub old_count: i64,
    pub added_cents: i64,
}

/// Adds each account's granted money and moves its chain head, only where `tx_count` is still
/// what was read under the lock. PostgreSQL: one statement per chunk (`UPDATE ... FROM VALUES`);
/// SQLite, in-process: one statement per account. Returns the number of rows updated.
pub fn advance_accounts(conn: &mut DbConn, changed: &[Advanced<'_>]) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Text};
    let mut total = 0;
    match conn {
        DbConn::Pg(pg) => {
            for chunk in changed.chunks(INSERT_CHUNK_ROWS) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let b = i * 5;
                        format!("(${}, ${}::bigint, ${}::bigint, ${}::bigint, ${})", b + 1, b + 2, b + 3, b + 4, b + 5)
                    })
                    .collect();
                let text = format!(
                    "UPDATE budget_accounts AS a SET available_cents = a.available_cents + v.added, \
                     granted_cents = a.granted_cents + v.added, tx_count = v.new_count, chain_head = v.head \
                     FROM (VALUES {}) AS v(id, old_count, added, new_count, head) \
                     WHERE a.id = v.id AND a.tx_count = v.old_count",
                    values.join(", ")
                );
                let mut query = diesel::sql_query(text).into_boxed::<diesel::pg::Pg>();
                for c in chunk {
                    query = query
                        .bind::<Text, _>(c.account.id)
                        .bind::<BigInt, _>(c.old_count)
                        .bind::<BigInt, _>(c.added_cents)
                        .bind::<BigInt, _>(c.account.tx_count)
                        .bind::<Text, _>(c.account.chain_head.clone());
                }
                total += query.execute(pg)?;
            }
        }
        DbConn::Sqlite(sqlite) => {
            for c in changed {
                total += diesel::update(
                    budget_accounts::table.filter(budget_accounts::id.eq(c.account.id)).filter(budget_accounts::tx_count.eq(c.old_count)),
                )
                .set((
                    budget_accounts::available_cents.eq(budget_accounts::available_cents + c.added_cents),
                    budget_accounts::granted_cents.eq(budget_accounts::granted_cents + c.added_cents),
                    budget_accounts::tx_count.eq(c.account.tx_count),
                    budget_accounts::chain_head.eq(&c.account.chain_head),
                ))
                .execute(sqlite)?;
            }
        }
    }
    Ok(total)
}

/// Inserts a decided claim.
pub fn insert_claim(conn: &mut DbConn, row: &ClaimRow) -> QueryResult<usize> {
    crate::on_backend!(conn, |c| diesel::insert_into(claims::table).values(row).execute(c))
}
