//! Grants: each one a lot with its own expiry date, capped by the scheme's `max_balance`.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;

use super::{LedgerAccount, LedgerError, TxKind};
use crate::db::conn::DbConn;
use crate::db::rows::{self, AccountRow, LotRow};
use crate::db::schema::grant_lots;
use crate::domain::scheme::{capped_grant_cents, lot_expires_on};
use crate::domain::time::now_utc;
use crate::domain::ids::stored;
use crate::domain::{AccountId, Amount, FundId, LotId, SchemeId, TransactionId, WorkerId};

/// Grant years accepted: back-dated moves of existing balances, up to next year's grant.
pub const EARLIEST_GRANT_YEAR: i32 = 2000;

#[derive(Clone, Debug)]
pub struct GrantRequest {
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    /// `None`: the scheme's annual amount.
    pub amount: Option<Amount>,
    pub grant_year: i32,
    /// Only for the demo's simulated history; `None` records now.
    pub recorded_at: Option<chrono::NaiveDateTime>,
}

#[derive(Clone, Debug)]
pub struct GrantOutcome {
    pub lot_id: Option<LotId>,
    pub transaction_id: Option<TransactionId>,
    pub account_id: AccountId,
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    pub grant_year: i32,
    pub requested_cents: i64,
    pub granted_cents: i64,
    pub expires_on: NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("worker {0} not found in this fund")]
    UnknownWorker(WorkerId),
    #[error("scheme {0} not found in this fund")]
    UnknownScheme(SchemeId),
    #[error("grant_year {year} is outside {EARLIEST_GRANT_YEAR}..={latest}")]
    GrantYear { year: i32, latest: i32 },
    #[error("the budget is at the scheme's max_balance: nothing of the grant fits")]
    MaxBalanceReached,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<diesel::result::Error> for GrantError {
    fn from(e: diesel::result::Error) -> GrantError {
        GrantError::Ledger(LedgerError::Db(e))
    }
}

/// Books one grant inside the caller's write transaction: a bulk of one. A grant of which
/// nothing fits under `max_balance` is `MaxBalanceReached` (and the caller rolls back).
pub fn grant_one(
    conn: &mut DbConn,
    fund_id: FundId,
    actor: &str,
    request: &GrantRequest,
    today: NaiveDate,
) -> Result<GrantOutcome, GrantError> {
    let outcome = grant_many(conn, fund_id, actor, std::slice::from_ref(request), today)
        .map_err(|e| e.error)?
        .pop()
        .ok_or(GrantError::Ledger(LedgerError::Invariant("a bulk of one gave no outcome".into())))?;
    if outcome.granted_cents == 0 {
        return Err(GrantError::MaxBalanceReached);
    }
    Ok(outcome)
}

/// A bulk that failed: the error, and the item it is about (none for a database failure).
#[derive(Debug)]
pub struct BulkGrantError {
    pub index: Option<usize>,
    pub error: GrantError,
}

impl BulkGrantError {
    fn at(index: usize, error: GrantError) -> BulkGrantError {
        BulkGrantError { index: Some(index), error }
    }

    fn db(error: diesel::result::Error) -> BulkGrantError {
        BulkGrantError { index: None, error: error.into() }
    }
}

/// Rows written per multi-row INSERT: well under both databases' limits on bound parameters.
const INSERT_CHUNK_ROWS: usize = 1_000;

/// Books many grants inside the caller's write transaction with set-based statements: one
/// lookup of the workers, one of the accounts, one lock of all accounts (in id order, so bulks
/// cannot deadlock each other), multi-row inserts of lots, transactions and postings, and one
/// update per account. Grants of which nothing fits under `max_balance` are reported with zero
/// and no lot. An invalid item fails the whole bulk with its index.
pub fn grant_many(
    conn: &mut DbConn,
    fund_id: FundId,
    actor: &str,
    requests: &[GrantRequest],
    today: NaiveDate,
) -> Result<Vec<GrantOutcome>, BulkGrantError> {
    use std::collections::{BTreeSet, HashMap};

    use crate::db::rows::{PostingRow, TransactionRow};
    use crate::db::schema::{budget_accounts, ledger_postings, ledger_transactions, workers};
    use crate::ledger::chain::{transaction_hash, GENESIS_HASH};

    let fund = fund_id.to_string();
    let db = BulkGrantError::db;
    let latest = today.year() + 1;
    for (i, r) in requests.iter().enumerate() {
        if !(EARLIEST_GRANT_YEAR..=latest).contains(&r.grant_year) {
            return Err(BulkGrantError::at(i, GrantError::GrantYear { year: r.grant_year, latest }));
        }
    }
    // Workers of this fund among those named.
    let named: BTreeSet<String> = requests.iter().map(|r| r.worker_id.to_string()).collect();
    let mut known: BTreeSet<String> = BTreeSet::new();
    let named_list: Vec<String> = named.iter().cloned().collect();
    for chunk in named_list.chunks(INSERT_CHUNK_ROWS) {
        let found: Vec<String> = workers::table
            .filter(workers::fund_id.eq(&fund))
            .filter(workers::id.eq_any(chunk))
            .select(workers::id)
            .load(conn)
            .map_err(db)?;
        known.extend(found);
    }
    if let Some(i) = requests.iter().position(|r| !known.contains(&r.worker_id.to_string())) {
        return Err(BulkGrantError::at(i, GrantError::UnknownWorker(requests[i].worker_id)));
    }
    // The rules per scheme and grant year.
    let mut rules: HashMap<(SchemeId, i32), crate::db::rows::SchemeVersionRow> = HashMap::new();
    for (i, r) in requests.iter().enumerate() {
        if rules.contains_key(&(r.scheme_id, r.grant_year)) {
            continue;
        }
        let year_start = NaiveDate::from_ymd_opt(r.grant_year, 1, 1).unwrap_or(today);
        let version = rows::scheme_version_in_fund(conn, &fund, &r.scheme_id.to_string(), year_start)
            .map_err(db)?
            .ok_or(BulkGrantError::at(i, GrantError::UnknownScheme(r.scheme_id)))?;
        rules.insert((r.scheme_id, r.grant_year), version);
    }
    // Accounts: create the missing ones, then lock all of them in id order.
    let pairs: BTreeSet<(String, String)> = requests.iter().map(|r| (r.worker_id.to_string(), r.scheme_id.to_string())).collect();
    let account_created_at = now_utc();
    let fresh: Vec<AccountRow> = pairs
        .iter()
        .map(|(worker, scheme)| AccountRow {
            id: AccountId::new().to_string(),
            fund_id: fund.clone(),
            worker_id: worker.clone(),
            scheme_id: scheme.clone(),
            available_cents: 0,
            reserved_cents: 0,
            granted_cents: 0,
            spent_cents: 0,
            expired_cents: 0,
            tx_count: 0,
            chain_head: GENESIS_HASH.to_string(),
            created_at: account_created_at,
        })
        .collect();
    for chunk in fresh.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(budget_accounts::table).values(chunk).on_conflict_do_nothing().execute(c))
            .map_err(db)?;
    }
    // Locked for the rest of the transaction, all in one ascending order of account id, so that
    // two bulks over overlapping workers cannot deadlock: FOR UPDATE on PostgreSQL; on SQLite
    // the write transaction already excludes every other writer.
    let mut account_ids: Vec<String> = Vec::new();
    for chunk in named_list.chunks(INSERT_CHUNK_ROWS) {
        let ids: Vec<String> = budget_accounts::table
            .filter(budget_accounts::fund_id.eq(&fund))
            .filter(budget_accounts::worker_id.eq_any(chunk))
            .select(budget_accounts::id)
            .load(conn)
            .map_err(db)?;
        account_ids.extend(ids);
    }
    account_ids.sort();
    let mut accounts: HashMap<(String, String), AccountRow> = HashMap::new();
    for chunk in account_ids.chunks(INSERT_CHUNK_ROWS) {
        macro_rules! query {
            () => {
                budget_accounts::table.filter(budget_accounts::id.eq_any(chunk)).order(budget_accounts::id.asc()).select(AccountRow::as_select())
            };
        }
        let rows: Vec<AccountRow> = match conn {
            DbConn::Pg(c) => query!().for_update().load(c),
            DbConn::Sqlite(c) => query!().load(c),
        }
        .map_err(db)?;
        for row in rows {
            accounts.insert((row.worker_id.clone(), row.scheme_id.clone()), row);
        }
    }
    let before: HashMap<String, (i64, i64)> = accounts.values().map(|a| (a.id.clone(), (a.tx_count, a.available_cents))).collect();
    // Money that can no longer be spent (lots past their date that no expiry run has lapsed
    // yet) does not count against the cap: a grant gives the same budget before and after
    // the year-end run.
    let mut unusable = unusable_available_cents(conn, &account_ids, today).map_err(db)?;
    // Recorded after the locks are held, so that along every account's chain `recorded_at`
    // follows `seq` (a digest or balance as of a moment agrees with one printed then).
    let now = now_utc();

    let mut outcomes = Vec::with_capacity(requests.len());
    let (mut lots, mut txs, mut postings) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in requests.iter().enumerate() {
        let version = &rules[&(r.scheme_id, r.grant_year)];
        let expires_on = lot_expires_on(r.grant_year, version.validity_years)
            .ok_or(BulkGrantError::at(i, GrantError::GrantYear { year: r.grant_year, latest }))?;
        let account = accounts
            .get_mut(&(r.worker_id.to_string(), r.scheme_id.to_string()))
            .ok_or(BulkGrantError::at(i, GrantError::Ledger(LedgerError::Invariant("account missing after insert".into()))))?;
        let requested_cents = r.amount.map(Amount::cents).unwrap_or(version.annual_amount_cents);
        let usable_cents = account.available_cents + account.reserved_cents - unusable.get(&account.id).copied().unwrap_or(0);
        let granted_cents = capped_grant_cents(requested_cents, usable_cents, version.max_balance_cents);
        let mut outcome = GrantOutcome {
            lot_id: None,
            transaction_id: None,
            account_id: stored(&account.id),
            worker_id: r.worker_id,
            scheme_id: r.scheme_id,
            grant_year: r.grant_year,
            requested_cents,
            granted_cents,
            expires_on,
        };
        if granted_cents > 0 {
            // A back-dated lot already past its date is held, but cannot be spent: it does not
            // count against the cap for the items after it either.
            if expires_on < today {
                *unusable.entry(account.id.clone()).or_insert(0) += granted_cents;
            }
            let (lot_id, tx_id) = (LotId::new(), TransactionId::new());
            lots.push(LotRow {
                id: lot_id.to_string(),
                fund_id: fund.clone(),
                account_id: account.id.clone(),
                transaction_id: tx_id.to_string(),
                grant_year: r.grant_year,
                amount_cents: granted_cents,
                available_cents: granted_cents,
                reserved_cents: 0,
                expires_on,
                created_at: now,
            });
            let tx = TransactionRow {
                id: tx_id.to_string(),
                fund_id: fund.clone(),
                account_id: account.id.clone(),
                seq: account.tx_count + 1,
                kind: TxKind::Grant.as_str().to_string(),
                effective_date: today,
                recorded_at: r.recorded_at.unwrap_or(now),
                actor: actor.to_string(),
                reverses: None,
                // The lot's terms ride in the hashed reference: a grant year or expiry date
                // changed on the lot row later no longer matches its chain.
                reference: Some(crate::domain::lots::lot_reference(&lot_id, r.grant_year, expires_on)),
                prev_hash: account.chain_head.clone(),
                hash: String::new(),
            };
            let legs = [
                (LedgerAccount::GrantsIssued, None, None, -granted_cents),
                (LedgerAccount::Available, Some(account.id.clone()), Some(lot_id.to_string()), granted_cents),
            ];
            let tx_postings: Vec<PostingRow> = legs
                .into_iter()
                .enumerate()
                .map(|(line, (ledger_account, budget_account_id, lot, cents))| PostingRow {
                    transaction_id: tx.id.clone(),
                    line: line as i32 + 1,
                    fund_id: fund.clone(),
                    account: ledger_account.as_str().to_string(),
                    budget_account_id,
                    scheme_id: account.scheme_id.clone(),
                    lot_id: lot,
                    amount_cents: cents,
                })
                .collect();
            let tx = TransactionRow { hash: transaction_hash(&tx, &tx_postings), ..tx };
            account.tx_count = tx.seq;
            account.chain_head = tx.hash.clone();
            account.available_cents += granted_cents;
            account.granted_cents += granted_cents;
            outcome.lot_id = Some(lot_id);
            outcome.transaction_id = Some(tx_id);
            txs.push(tx);
            postings.extend(tx_postings);
        }
        outcomes.push(outcome);
    }
    // Transactions before lots and postings, which refer to them.
    for chunk in txs.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(ledger_transactions::table).values(chunk).execute(c)).map_err(db)?;
    }
    for chunk in lots.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(grant_lots::table).values(chunk).execute(c)).map_err(db)?;
    }
    for chunk in postings.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(ledger_postings::table).values(chunk).execute(c)).map_err(db)?;
    }
    let changed: Vec<(&AccountRow, i64, i64)> = accounts
        .values()
        .filter_map(|a| {
            let (old_count, old_available) = before[&a.id];
            (a.tx_count != old_count).then_some((a, old_count, a.available_cents - old_available))
        })
        .collect();
    let updated = update_accounts(conn, &changed).map_err(db)?;
    if updated != changed.len() {
        return Err(BulkGrantError { index: None, error: GrantError::Ledger(LedgerError::Invariant("an account changed under its lock".into())) });
    }
    for _ in &txs {
        crate::telemetry::tally_posted(TxKind::Grant);
    }
    Ok(outcomes)
}

/// Per account, the available money of lots past their date on `on` (awaiting an expiry run).
pub fn unusable_available_cents(conn: &mut DbConn, account_ids: &[String], on: NaiveDate) -> QueryResult<std::collections::HashMap<String, i64>> {
    let mut unusable = std::collections::HashMap::new();
    for chunk in account_ids.chunks(INSERT_CHUNK_ROWS) {
        let rows: Vec<(String, i64)> = grant_lots::table
            .filter(grant_lots::account_id.eq_any(chunk))
            .filter(grant_lots::expires_on.lt(on))
            .filter(grant_lots::available_cents.gt(0))
            .select((grant_lots::account_id, grant_lots::available_cents))
            .load(conn)?;
        for (account, cents) in rows {
            *unusable.entry(account).or_insert(0) += cents;
        }
    }
    Ok(unusable)
}

/// Adds each account's granted money and moves its chain head, only where `tx_count` is still
/// what was read under the lock. PostgreSQL: one statement per chunk (`UPDATE ... FROM VALUES`);
/// SQLite, in-process: one statement per account. Returns the number of rows updated.
fn update_accounts(conn: &mut DbConn, changed: &[(&AccountRow, i64, i64)]) -> QueryResult<usize> {
    use crate::db::schema::budget_accounts;
    use diesel::sql_types::{BigInt, Text};
    match conn {
        DbConn::Pg(pg) => {
            let mut total = 0;
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
                for (account, old_count, added) in chunk {
                    query = query
                        .bind::<Text, _>(account.id.clone())
                        .bind::<BigInt, _>(*old_count)
                        .bind::<BigInt, _>(*added)
                        .bind::<BigInt, _>(account.tx_count)
                        .bind::<Text, _>(account.chain_head.clone());
                }
                total += query.execute(pg)?;
            }
            Ok(total)
        }
        DbConn::Sqlite(sqlite) => {
            let mut total = 0;
            for (account, old_count, added) in changed {
                total += diesel::update(
                    budget_accounts::table.filter(budget_accounts::id.eq(&account.id)).filter(budget_accounts::tx_count.eq(*old_count)),
                )
                .set((
                    budget_accounts::available_cents.eq(budget_accounts::available_cents + *added),
                    budget_accounts::granted_cents.eq(budget_accounts::granted_cents + *added),
                    budget_accounts::tx_count.eq(account.tx_count),
                    budget_accounts::chain_head.eq(&account.chain_head),
                ))
                .execute(sqlite)?;
            }
            Ok(total)
        }
    }
}
