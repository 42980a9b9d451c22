//! Grants: each one a lot with its own expiry date, capped by the scheme's `max_balance`.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;

use std::collections::{BTreeSet, HashMap};

use super::post::transaction_rows;
use super::{LedgerAccount, LedgerError, NewTransaction, Posting, TxKind};
use crate::db::conn::DbConn;
use crate::db::rows::{self, AccountRow, LotRow, PostingRow, SchemeVersionRow, TransactionRow};
use crate::db::ledger_statements::{self as statements, Advanced, INSERT_CHUNK_ROWS};
use crate::db::schema::{grant_lots, workers};
use crate::domain::scheme::{capped_grant_cents, lot_expires_on};
use crate::domain::time::now_utc;
use crate::domain::{AccountId, Amount, EmployerId, FundId, LotId, SchemeId, TransactionId, WorkerId};

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

/// Books many grants inside the caller's write transaction with set-based statements: one
/// lookup of the workers, one of the accounts, one lock of all accounts (in id order, so bulks
/// cannot deadlock each other), multi-row inserts of lots, transactions and postings, and one
/// update per account. It is the posting engine's batch mode: the rows come from the same
/// builder as `post`'s. Grants of which nothing fits under `max_balance` are reported with
/// zero and no lot. An invalid item fails the whole bulk with its index.
pub fn grant_many(
    conn: &mut DbConn,
    fund_id: FundId,
    actor: &str,
    requests: &[GrantRequest],
    today: NaiveDate,
) -> Result<Vec<GrantOutcome>, BulkGrantError> {
    let employers = check_requests(conn, fund_id, requests, today)?;
    let rules = rules_per_scheme_and_year(conn, fund_id, requests)?;
    let mut accounts = lock_accounts(conn, fund_id, requests)?;
    let before: HashMap<AccountId, (i64, i64)> = accounts.values().map(|a| (a.id, (a.tx_count, a.available_cents))).collect();
    // Money that can no longer be spent (lots past their date that no expiry run has lapsed
    // yet) does not count against the cap: a grant gives the same budget before and after
    // the year-end run.
    let account_ids: Vec<AccountId> = before.keys().copied().collect();
    let unusable = unusable_available_cents(conn, &account_ids, today).map_err(BulkGrantError::db)?;
    let mut batch = Batch {
        actor,
        today,
        // Recorded after the locks are held, so that along every account's chain `recorded_at`
        // follows `seq` (a digest or balance as of a moment agrees with one printed then).
        now: now_utc(),
        unusable,
        lots: Vec::new(),
        txs: Vec::new(),
        postings: Vec::new(),
    };
    let mut outcomes = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        let version = &rules[&(r.scheme_id, r.grant_year)];
        let account = accounts
            .get_mut(&(r.worker_id, r.scheme_id))
            .ok_or(BulkGrantError::at(i, GrantError::Ledger(LedgerError::Invariant("account missing after insert".into()))))?;
        outcomes.push(batch.book(account, version, r).map_err(|e| BulkGrantError::at(i, e))?);
    }
    batch.insert(conn).map_err(BulkGrantError::db)?;
    grant_events(conn, fund_id, &outcomes, &employers).map_err(|e| BulkGrantError { index: None, error: e.into() })?;
    let changed: Vec<Advanced<'_>> = accounts
        .values()
        .filter_map(|a| {
            let (old_count, old_available) = before[&a.id];
            (a.tx_count != old_count).then_some(Advanced { account: a, old_count, added_cents: a.available_cents - old_available })
        })
        .collect();
    let updated = statements::advance_accounts(conn, &changed).map_err(BulkGrantError::db)?;
    if updated != changed.len() {
        return Err(BulkGrantError { index: None, error: GrantError::Ledger(LedgerError::Invariant("an account changed under its lock".into())) });
    }
    for _ in &batch.txs {
        crate::telemetry::tally_posted(TxKind::Grant);
    }
    Ok(outcomes)
}

/// Every grant year in range and every worker in this fund, or the first item that is not.
/// Returns each named worker's employer, for the events.
fn check_requests(conn: &mut DbConn, fund: FundId, requests: &[GrantRequest], today: NaiveDate) -> Result<HashMap<WorkerId, EmployerId>, BulkGrantError> {
    let latest = today.year() + 1;
    if let Some(i) = requests.iter().position(|r| !(EARLIEST_GRANT_YEAR..=latest).contains(&r.grant_year)) {
        return Err(BulkGrantError::at(i, GrantError::GrantYear { year: requests[i].grant_year, latest }));
    }
    let named: BTreeSet<WorkerId> = requests.iter().map(|r| r.worker_id).collect();
    let named: Vec<WorkerId> = named.into_iter().collect();
    let mut known: HashMap<WorkerId, EmployerId> = HashMap::new();
    for chunk in named.chunks(INSERT_CHUNK_ROWS) {
        let found: Vec<(WorkerId, EmployerId)> = workers::table
            .filter(workers::fund_id.eq(fund))
            .filter(workers::id.eq_any(chunk))
            .select((workers::id, workers::employer_id))
            .load(conn)
            .map_err(BulkGrantError::db)?;
        known.extend(found);
    }
    match requests.iter().position(|r| !known.contains_key(&r.worker_id)) {
        Some(i) => Err(BulkGrantError::at(i, GrantError::UnknownWorker(requests[i].worker_id))),
        None => Ok(known),
    }
}

/// The rules per scheme and grant year: the version in force on 1 January of the year.
fn rules_per_scheme_and_year(
    conn: &mut DbConn,
    fund: FundId,
    requests: &[GrantRequest],
) -> Result<HashMap<(SchemeId, i32), SchemeVersionRow>, BulkGrantError> {
    let mut rules = HashMap::new();
    for (i, r) in requests.iter().enumerate() {
        if rules.contains_key(&(r.scheme_id, r.grant_year)) {
            continue;
        }
        let year_start = NaiveDate::from_ymd_opt(r.grant_year, 1, 1)
            .ok_or(BulkGrantError::at(i, GrantError::GrantYear { year: r.grant_year, latest: r.grant_year }))?;
        let version = rows::scheme_version_in_fund(conn, fund, r.scheme_id, year_start)
            .map_err(BulkGrantError::db)?
            .ok_or(BulkGrantError::at(i, GrantError::UnknownScheme(r.scheme_id)))?;
        rules.insert((r.scheme_id, r.grant_year), version);
    }
    Ok(rules)
}

/// Creates the accounts that do not exist yet, then locks every account of the named workers
/// for the rest of the transaction, all in one ascending order of account id, so that two bulks
/// over overlapping workers cannot deadlock: FOR UPDATE on PostgreSQL; on SQLite the write
/// transaction already excludes every other writer.
fn lock_accounts(conn: &mut DbConn, fund: FundId, requests: &[GrantRequest]) -> Result<HashMap<(WorkerId, SchemeId), AccountRow>, BulkGrantError> {
    let db = BulkGrantError::db;
    let pairs: BTreeSet<(WorkerId, SchemeId)> = requests.iter().map(|r| (r.worker_id, r.scheme_id)).collect();
    let created_at = now_utc();
    let fresh: Vec<AccountRow> = pairs
        .iter()
        .map(|&(worker_id, scheme_id)| AccountRow::empty(fund, worker_id, scheme_id, created_at))
        .collect();
    let named: BTreeSet<WorkerId> = pairs.iter().map(|(worker, _)| *worker).collect();
    let named: Vec<WorkerId> = named.into_iter().collect();
    let rows = statements::ensure_and_lock_accounts(conn, fund, &fresh, &named).map_err(db)?;
    Ok(rows.into_iter().map(|row| ((row.worker_id, row.scheme_id), row)).collect())
}

/// What booking one grant on an account row held in memory writes: for the demo's bulk path,
/// which inserts the rows itself.
pub(crate) struct BookedGrant {
    pub outcome: GrantOutcome,
    pub lots: Vec<LotRow>,
    pub txs: Vec<TransactionRow>,
    pub postings: Vec<PostingRow>,
}

/// Books one grant on `account` (whose row follows in memory) exactly as `grant_many` books
/// each of its items; `unusable_cents` is the account's money in lots past their date.
pub(crate) fn book_in_memory(
    account: &mut AccountRow,
    version: &SchemeVersionRow,
    request: &GrantRequest,
    actor: &str,
    today: NaiveDate,
    unusable_cents: i64,
) -> Result<BookedGrant, GrantError> {
    let mut batch = Batch {
        actor,
        today,
        now: now_utc(),
        unusable: HashMap::from([(account.id, unusable_cents)]),
        lots: Vec::new(),
        txs: Vec::new(),
        postings: Vec::new(),
    };
    let outcome = batch.book(account, version, request)?;
    Ok(BookedGrant { outcome, lots: batch.lots, txs: batch.txs, postings: batch.postings })
}

/// The rows a bulk writes, built in memory under the locks and inserted together.
struct Batch<'a> {
    actor: &'a str,
    today: NaiveDate,
    now: chrono::NaiveDateTime,
    /// Per account, money held that can no longer be spent.
    unusable: HashMap<AccountId, i64>,
    lots: Vec<LotRow>,
    txs: Vec<TransactionRow>,
    postings: Vec<PostingRow>,
}

impl Batch<'_> {
    /// Books one grant on its locked account (whose row follows in memory): capped under
    /// `max_balance` by the money that can still be spent, a lot and its grant transaction.
    fn book(&mut self, account: &mut AccountRow, version: &SchemeVersionRow, r: &GrantRequest) -> Result<GrantOutcome, GrantError> {
        let expires_on = lot_expires_on(r.grant_year, version.validity_years)
            .ok_or(GrantError::GrantYear { year: r.grant_year, latest: self.today.year() + 1 })?;
        let requested_cents = r.amount.map(Amount::cents).unwrap_or(version.annual_amount_cents);
        let usable_cents = account.available_cents + account.reserved_cents - self.unusable.get(&account.id).copied().unwrap_or(0);
        let granted_cents = capped_grant_cents(requested_cents, usable_cents, version.max_balance_cents);
        let mut outcome = GrantOutcome {
            lot_id: None,
            transaction_id: None,
            account_id: account.id,
            worker_id: r.worker_id,
            scheme_id: r.scheme_id,
            grant_year: r.grant_year,
            requested_cents,
            granted_cents,
            expires_on,
        };
        if granted_cents == 0 {
            return Ok(outcome);
        }
        // A back-dated lot already past its date is held, but cannot be spent: it does not
        // count against the cap for the items after it either.
        if expires_on < self.today {
            *self.unusable.entry(account.id).or_insert(0) += granted_cents;
        }
        let (lot_id, tx_id) = (LotId::new(), TransactionId::new());
        let tx = NewTransaction {
            id: tx_id,
            kind: TxKind::Grant,
            effective_date: self.today,
            actor: self.actor.to_string(),
            reverses: None,
            // The lot's terms ride in the hashed reference: a grant year or expiry date
            // changed on the lot row later no longer matches its chain.
            reference: Some(crate::domain::lots::lot_reference(&lot_id, r.grant_year, expires_on)),
            postings: vec![
                Posting::new(LedgerAccount::GrantsIssued, None, -granted_cents),
                Posting::new(LedgerAccount::Available, Some(lot_id), granted_cents),
            ],
            recorded_at: Some(r.recorded_at.unwrap_or(self.now)),
        };
        let (row, postings) = transaction_rows(account, &tx)?;
        self.lots.push(LotRow {
            id: lot_id,
            fund_id: account.fund_id,
            account_id: account.id,
            transaction_id: tx_id,
            grant_year: r.grant_year,
            amount_cents: granted_cents,
            available_cents: granted_cents,
            reserved_cents: 0,
            expires_on,
            created_at: self.now,
        });
        account.tx_count = row.seq;
        account.chain_head = row.hash.clone();
        account.available_cents += granted_cents;
        account.granted_cents += granted_cents;
        outcome.lot_id = Some(lot_id);
        outcome.transaction_id = Some(tx_id);
        self.txs.push(row);
        self.postings.extend(postings);
        Ok(outcome)
    }

    fn insert(&self, conn: &mut DbConn) -> QueryResult<()> {
        statements::insert_entries(conn, &self.txs, &self.lots, &self.postings)
    }
}

/// One `grant.created` per grant that booked money, in request order.
fn grant_events(conn: &mut DbConn, fund: FundId, outcomes: &[GrantOutcome], employers: &HashMap<WorkerId, EmployerId>) -> Result<(), LedgerError> {
    let views: Vec<(WorkerId, crate::views::GrantView)> =
        outcomes.iter().filter(|o| o.lot_id.is_some()).map(|o| (o.worker_id, crate::views::GrantView::from(o.clone()))).collect();
    let events = views.iter().map(|(worker, view)| super::outbox::Event {
        fund,
        kind: crate::domain::events::EventType::GrantCreated,
        worker: Some(*worker),
        employer: employers.get(worker).copied(),
        data: view,
    });
    super::outbox::emit_all(conn, events)
}

/// Per account, the available money of lots past their date on `on` (awaiting an expiry run).
pub fn unusable_available_cents(conn: &mut DbConn, account_ids: &[AccountId], on: NaiveDate) -> QueryResult<HashMap<AccountId, i64>> {
    let mut unusable = HashMap::new();
    for chunk in account_ids.chunks(INSERT_CHUNK_ROWS) {
        let rows: Vec<(AccountId, i64)> = grant_lots::table
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

/// The view of a grant, for its answer and its `grant.created` event.
impl From<GrantOutcome> for crate::views::GrantView {
    fn from(o: GrantOutcome) -> crate::views::GrantView {
        crate::views::GrantView {
            id: o.lot_id,
            transaction_id: o.transaction_id,
            account_id: o.account_id,
            worker_id: o.worker_id,
            scheme_id: o.scheme_id,
            grant_year: o.grant_year,
            requested_amount: crate::domain::format_cents(o.requested_cents),
            amount: crate::domain::format_cents(o.granted_cents),
            capped: o.granted_cents < o.requested_cents,
            expires_on: o.expires_on,
        }
    }
}
