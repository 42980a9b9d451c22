//! The report's read-only queries. Aggregation happens in the database (one pass over the
//! postings), per budget account; the rest is arithmetic on at most one row per account.
//!
//! The SQL is the same on both backends except for placeholders: written `$1` (PostgreSQL),
//! turned into `?1` for SQLite.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text, Timestamp};

use super::DbConn;
use crate::domain::FundId;

fn sql(conn: &DbConn, text: &str) -> String {
    match conn {
        DbConn::Pg(_) => text.to_string(),
        DbConn::Sqlite(_) => text.replace('$', "?"),
    }
}

/// Sums of one budget account over the report's windows.
#[derive(Debug, Clone, QueryableByName)]
pub struct AccountSums {
    #[diesel(sql_type = Text)]
    pub account_id: String,
    #[diesel(sql_type = BigInt)]
    pub granted_month: i64,
    #[diesel(sql_type = BigInt)]
    pub granted_ytd: i64,
    #[diesel(sql_type = BigInt)]
    pub granted_all: i64,
    #[diesel(sql_type = BigInt)]
    pub spent_month: i64,
    #[diesel(sql_type = BigInt)]
    pub spent_ytd: i64,
    #[diesel(sql_type = BigInt)]
    pub reversed_month: i64,
    #[diesel(sql_type = BigInt)]
    pub reversed_ytd: i64,
    #[diesel(sql_type = BigInt)]
    pub expired_month: i64,
    #[diesel(sql_type = BigInt)]
    pub available_end: i64,
    #[diesel(sql_type = BigInt)]
    pub reserved_end: i64,
}

/// The report's time windows, as UTC instants (recorded time decides where an entry falls).
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub month_start: NaiveDateTime,
    pub year_start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub month_first_day: NaiveDate,
}

/// Per budget account, the report's sums: one pass over the postings recorded since the year's
/// start, not over the whole history. What an account holds at the month's end is what its row
/// holds now (the projection that every write keeps in step with the ledger, and `verify`
/// checks) less what was recorded after the month; the flows of the month and of the year are
/// summed from their own postings. Accounts with no entry before the month's end are left out.
pub fn account_sums(conn: &mut DbConn, fund_id: FundId, w: &Windows) -> QueryResult<Vec<AccountSums>> {
    let text = sql(
        conn,
        "SELECT a.id AS account_id,
           CAST(COALESCE(x.granted_month, 0) AS BIGINT) AS granted_month,
           CAST(COALESCE(x.granted_ytd, 0) AS BIGINT) AS granted_ytd,
           CAST(a.granted_cents - COALESCE(x.granted_after, 0) AS BIGINT) AS granted_all,
           CAST(COALESCE(x.spent_month, 0) AS BIGINT) AS spent_month,
           CAST(COALESCE(x.spent_ytd, 0) AS BIGINT) AS spent_ytd,
           CAST(COALESCE(x.reversed_month, 0) AS BIGINT) AS reversed_month,
           CAST(COALESCE(x.reversed_ytd, 0) AS BIGINT) AS reversed_ytd,
           CAST(COALESCE(x.expired_month, 0) AS BIGINT) AS expired_month,
           CAST(a.available_cents - COALESCE(x.available_after, 0) AS BIGINT) AS available_end,
           CAST(a.reserved_cents - COALESCE(x.reserved_after, 0) AS BIGINT) AS reserved_end
         FROM budget_accounts a
         LEFT JOIN (
           SELECT t.account_id AS account_id,
             SUM(CASE WHEN p.account = 'grants_issued' AND t.recorded_at >= $2 AND t.recorded_at < $4 THEN -p.amount_cents ELSE 0 END) AS granted_month,
             SUM(CASE WHEN p.account = 'grants_issued' AND t.recorded_at < $4 THEN -p.amount_cents ELSE 0 END) AS granted_ytd,
             SUM(CASE WHEN p.account = 'grants_issued' AND t.recorded_at >= $4 THEN -p.amount_cents ELSE 0 END) AS granted_after,
             SUM(CASE WHEN p.account = 'spent' AND p.amount_cents > 0 AND t.recorded_at >= $2 AND t.recorded_at < $4 THEN p.amount_cents ELSE 0 END) AS spent_month,
             SUM(CASE WHEN p.account = 'spent' AND p.amount_cents > 0 AND t.recorded_at < $4 THEN p.amount_cents ELSE 0 END) AS spent_ytd,
             SUM(CASE WHEN p.account = 'spent' AND p.amount_cents < 0 AND t.recorded_at >= $2 AND t.recorded_at < $4 THEN -p.amount_cents ELSE 0 END) AS reversed_month,
             SUM(CASE WHEN p.account = 'spent' AND p.amount_cents < 0 AND t.recorded_at < $4 THEN -p.amount_cents ELSE 0 END) AS reversed_ytd,
             SUM(CASE WHEN p.account = 'expired' AND t.recorded_at >= $2 AND t.recorded_at < $4 THEN p.amount_cents ELSE 0 END) AS expired_month,
             SUM(CASE WHEN p.account = 'available' AND t.recorded_at >= $4 THEN p.amount_cents ELSE 0 END) AS available_after,
             SUM(CASE WHEN p.account = 'reserved' AND t.recorded_at >= $4 THEN p.amount_cents ELSE 0 END) AS reserved_after,
             SUM(CASE WHEN p.line = 1 AND t.recorded_at >= $4 THEN 1 ELSE 0 END) AS entries_after
           FROM ledger_transactions t
           JOIN ledger_postings p ON p.transaction_id = t.id
           WHERE t.fund_id = $1 AND t.recorded_at >= $3
           GROUP BY t.account_id
         ) x ON x.account_id = a.id
         WHERE a.fund_id = $1 AND a.tx_count > COALESCE(x.entries_after, 0)",
    );
    diesel::sql_query(text)
        .bind::<Text, _>(fund_id)
        .bind::<Timestamp, _>(w.month_start)
        .bind::<Timestamp, _>(w.year_start)
        .bind::<Timestamp, _>(w.end)
        .load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct AccountOwner {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub worker_id: String,
    #[diesel(sql_type = Text)]
    pub scheme_id: String,
}

pub fn account_owners(conn: &mut DbConn, fund_id: FundId) -> QueryResult<Vec<AccountOwner>> {
    let text = sql(conn, "SELECT id, worker_id, scheme_id FROM budget_accounts WHERE fund_id = $1");
    diesel::sql_query(text).bind::<Text, _>(fund_id).load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct Count {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Transactions recorded in the month with an effective date before it.
pub fn backdated(conn: &mut DbConn, fund_id: FundId, w: &Windows) -> QueryResult<i64> {
    let text = sql(
        conn,
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ledger_transactions
         WHERE fund_id = $1 AND recorded_at >= $2 AND recorded_at < $3 AND effective_date < $4",
    );
    let rows: Vec<Count> = diesel::sql_query(text)
        .bind::<Text, _>(fund_id)
        .bind::<Timestamp, _>(w.month_start)
        .bind::<Timestamp, _>(w.end)
        .bind::<Date, _>(w.month_first_day)
        .load(conn)?;
    Ok(rows.first().map_or(0, |r| r.n))
}

#[derive(Debug, Clone, QueryableByName)]
pub struct WorkerFacts {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub employer_id: String,
    #[diesel(sql_type = Text)]
    pub employer_name: String,
    #[diesel(sql_type = Text)]
    pub sector: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Integer>)]
    pub birth_year: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub education_level: Option<String>,
}

/// Workers registered before the month's end, with the employer of the month's last day (the
/// current one for a worker whose first period starts later, e.g. registered that last day).
pub fn workers(conn: &mut DbConn, fund_id: FundId, end: NaiveDateTime, last_day: NaiveDate) -> QueryResult<Vec<WorkerFacts>> {
    let text = sql(
        conn,
        "SELECT w.id AS id, e.id AS employer_id, e.name AS employer_name, e.sector AS sector,
                w.birth_year AS birth_year, w.education_level AS education_level
         FROM workers w
         LEFT JOIN employments m ON m.worker_id = w.id AND m.valid_from <= $3 AND (m.valid_until IS NULL OR m.valid_until >= $3)
         JOIN employers e ON e.id = COALESCE(m.employer_id, w.employer_id)
         WHERE w.fund_id = $1 AND w.created_at < $2",
    );
    diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Timestamp, _>(end).bind::<Date, _>(last_day).load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct EmployerSpending {
    #[diesel(sql_type = Text)]
    pub employer_id: String,
    #[diesel(sql_type = Text)]
    pub employer_name: String,
    #[diesel(sql_type = BigInt)]
    pub spent: i64,
}

/// The claim of a spend or reversal transaction: its reference is `claim:<id>`, so the claim is
/// found by its primary key (a first spend, a top-up and their reversals alike).
const CLAIM_OF_TX: &str = "c.id = substr(t.reference, 7)";

/// Net spending recorded from `from` up to `end`, per employer that submitted the claim (spends
/// less reversals), so that a worker's move does not carry the old employer's claims along.
pub fn spending_by_claim_employer(conn: &mut DbConn, fund_id: FundId, from: NaiveDateTime, end: NaiveDateTime) -> QueryResult<Vec<EmployerSpending>> {
    let text = sql(
        conn,
        &format!(
            "SELECT c.employer_id AS employer_id, e.name AS employer_name, CAST(COALESCE(SUM(p.amount_cents), 0) AS BIGINT) AS spent
             FROM ledger_transactions t
             JOIN claims c ON {CLAIM_OF_TX}
             JOIN ledger_postings p ON p.transaction_id = t.id AND p.account = 'spent'
             JOIN employers e ON e.id = c.employer_id
             WHERE t.fund_id = $1 AND t.kind IN ('spend', 'reversal') AND t.recorded_at >= $2 AND t.recorded_at < $3
             GROUP BY c.employer_id, e.name"
        ),
    );
    diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Timestamp, _>(from).bind::<Timestamp, _>(end).load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct SchemeName {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Text)]
    pub name: String,
}

pub fn schemes(conn: &mut DbConn, fund_id: FundId) -> QueryResult<Vec<SchemeName>> {
    let text = sql(conn, "SELECT id, code, name FROM schemes WHERE fund_id = $1");
    diesel::sql_query(text).bind::<Text, _>(fund_id).load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct MonthSums {
    #[diesel(sql_type = BigInt)]
    pub bucket: i64,
    #[diesel(sql_type = BigInt)]
    pub granted: i64,
    #[diesel(sql_type = BigInt)]
    pub spent: i64,
    #[diesel(sql_type = BigInt)]
    pub expired: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct SpendAt {
    #[diesel(sql_type = Text)]
    pub account_id: String,
    #[diesel(sql_type = Timestamp)]
    pub recorded_at: NaiveDateTime,
}

/// Every spend recorded in [from, end): which account, when.
pub fn spends(conn: &mut DbConn, fund_id: FundId, from: NaiveDateTime, end: NaiveDateTime) -> QueryResult<Vec<SpendAt>> {
    let text = sql(
        conn,
        "SELECT account_id, recorded_at FROM ledger_transactions
         WHERE fund_id = $1 AND kind = 'spend' AND recorded_at >= $2 AND recorded_at < $3",
    );
    diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Timestamp, _>(from).bind::<Timestamp, _>(end).load(conn)
}

/// Flows per month for the trend: `starts` are the 13 month boundaries (12 months).
pub fn trend(conn: &mut DbConn, fund_id: FundId, starts: &[NaiveDateTime]) -> QueryResult<Vec<MonthSums>> {
    // The bucket of a transaction: how many month starts lie at or before its recorded time.
    let bucket: String = (1..starts.len() - 1).map(|i| format!("CASE WHEN t.recorded_at >= ${} THEN 1 ELSE 0 END", i + 2)).collect::<Vec<_>>().join(" + ");
    let text = sql(
        conn,
        &format!(
            "SELECT CAST(({bucket}) AS BIGINT) AS bucket,
               CAST(COALESCE(SUM(CASE WHEN p.account = 'grants_issued' THEN -p.amount_cents ELSE 0 END), 0) AS BIGINT) AS granted,
               CAST(COALESCE(SUM(CASE WHEN p.account = 'spent' THEN p.amount_cents ELSE 0 END), 0) AS BIGINT) AS spent,
               CAST(COALESCE(SUM(CASE WHEN p.account = 'expired' THEN p.amount_cents ELSE 0 END), 0) AS BIGINT) AS expired
             FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
             WHERE t.fund_id = $1 AND t.recorded_at >= $2 AND t.recorded_at < ${last}
               AND p.account IN ('grants_issued', 'spent', 'expired')
             GROUP BY 1",
            last = starts.len() + 1
        ),
    );
    let mut query = diesel::sql_query(text).into_boxed().bind::<Text, _>(fund_id.to_string());
    for start in starts {
        query = query.bind::<Timestamp, _>(*start);
    }
    query.load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LapsingLot {
    #[diesel(sql_type = Text)]
    pub worker_id: String,
    #[diesel(sql_type = Date)]
    pub expires_on: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub available: i64,
}

/// Per lot lapsing after `after` and up to `until`, its available money at the month's end.
pub fn lapsing(conn: &mut DbConn, fund_id: FundId, after: NaiveDate, until: NaiveDate, end: NaiveDateTime) -> QueryResult<Vec<LapsingLot>> {
    // `end` is exclusive: entries recorded at or after it are not the month's.
    if !crate::db::ledger_reads::recorded_after(conn, fund_id, end - chrono::Duration::microseconds(1))? {
        let text = sql(
            conn,
            "SELECT a.worker_id AS worker_id, g.expires_on AS expires_on, g.available_cents AS available
             FROM grant_lots g JOIN budget_accounts a ON a.id = g.account_id
             WHERE g.fund_id = $1 AND g.expires_on > $2 AND g.expires_on <= $3 AND g.available_cents > 0",
        );
        return diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Date, _>(after).bind::<Date, _>(until).load(conn);
    }
    let text = sql(
        conn,
        "SELECT a.worker_id AS worker_id, g.expires_on AS expires_on, CAST(SUM(p.amount_cents) AS BIGINT) AS available
         FROM grant_lots g
         JOIN ledger_postings p ON p.lot_id = g.id AND p.account = 'available'
         JOIN ledger_transactions t ON t.id = p.transaction_id
         JOIN budget_accounts a ON a.id = g.account_id
         WHERE g.fund_id = $1 AND g.expires_on > $2 AND g.expires_on <= $3 AND t.recorded_at < $4
         GROUP BY g.id, a.worker_id, g.expires_on",
    );
    diesel::sql_query(text)
        .bind::<Text, _>(fund_id)
        .bind::<Date, _>(after)
        .bind::<Date, _>(until)
        .bind::<Timestamp, _>(end)
        .load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct ProviderSpend {
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = BigInt)]
    pub spent: i64,
}

/// Net spending per provider in [from, end): spends minus reversals of claims.
pub fn provider_spend(conn: &mut DbConn, fund_id: FundId, from: NaiveDateTime, end: NaiveDateTime) -> QueryResult<Vec<ProviderSpend>> {
    let text = sql(
        conn,
        &format!(
            "SELECT c.provider AS provider, CAST(COALESCE(SUM(p.amount_cents), 0) AS BIGINT) AS spent
             FROM ledger_transactions t
             JOIN claims c ON {CLAIM_OF_TX}
             JOIN ledger_postings p ON p.transaction_id = t.id AND p.account = 'spent'
             WHERE t.fund_id = $1 AND t.kind IN ('spend', 'reversal') AND t.recorded_at >= $2 AND t.recorded_at < $3
             GROUP BY c.provider"
        ),
    );
    diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Timestamp, _>(from).bind::<Timestamp, _>(end).load(conn)
}

/// Lets the report's sorts and hashes use `work_mem` for the rest of this transaction
/// (PostgreSQL; SQLite has no such limit).
pub fn allow_report_memory(conn: &mut DbConn, work_mem: &str) -> QueryResult<()> {
    if let DbConn::Pg(pg) = conn {
        use diesel::connection::SimpleConnection;
        pg.batch_execute(&format!("SET LOCAL work_mem = '{work_mem}'"))?;
    }
    Ok(())
}

/// A sum of postings recorded up to a moment: per budget account, lot and ledger account.
#[derive(Debug, Clone, QueryableByName)]
pub struct PostingSum {
    #[diesel(sql_type = Text)]
    pub account_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub lot_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub account: String,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

/// A worker's postings recorded at or before `at`, summed per budget account, lot and ledger
/// account: the worker's balances as they stood then.
pub fn worker_sums_at(conn: &mut DbConn, fund_id: FundId, worker: crate::domain::WorkerId, at: NaiveDateTime) -> QueryResult<Vec<PostingSum>> {
    let text = sql(
        conn,
        "SELECT t.account_id AS account_id, p.lot_id AS lot_id, p.account AS account, CAST(SUM(p.amount_cents) AS BIGINT) AS cents
         FROM budget_accounts a
         JOIN ledger_transactions t ON t.account_id = a.id
         JOIN ledger_postings p ON p.transaction_id = t.id
         WHERE a.fund_id = $1 AND a.worker_id = $2 AND t.recorded_at <= $3
         GROUP BY t.account_id, p.lot_id, p.account",
    );
    diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Text, _>(worker).bind::<Timestamp, _>(at).load(conn)
}

/// A fund's ledger at a moment, per scheme and ledger account.
#[derive(Debug, Clone, QueryableByName)]
pub struct SchemeSum {
    #[diesel(sql_type = Text)]
    pub scheme_id: String,
    #[diesel(sql_type = Text)]
    pub account: String,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

/// The fund's postings recorded at or before `at`, summed per scheme and ledger account.
pub fn fund_sums_at(conn: &mut DbConn, fund_id: FundId, at: NaiveDateTime) -> QueryResult<Vec<SchemeSum>> {
    let text = sql(
        conn,
        "SELECT p.scheme_id AS scheme_id, p.account AS account, CAST(SUM(p.amount_cents) AS BIGINT) AS cents
         FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
         WHERE t.fund_id = $1 AND t.recorded_at <= $2
         GROUP BY p.scheme_id, p.account",
    );
    diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Timestamp, _>(at).load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct SchemeCount {
    #[diesel(sql_type = Text)]
    pub scheme_id: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Per scheme, the budget accounts with a transaction recorded at or before `at`.
pub fn accounts_at(conn: &mut DbConn, fund_id: FundId, at: NaiveDateTime) -> QueryResult<Vec<SchemeCount>> {
    let text = sql(
        conn,
        "SELECT a.scheme_id AS scheme_id, CAST(COUNT(*) AS BIGINT) AS n FROM budget_accounts a
         WHERE a.fund_id = $1 AND EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.account_id = a.id AND t.recorded_at <= $2)
         GROUP BY a.scheme_id",
    );
    diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Timestamp, _>(at).load(conn)
}

/// Where the fund's payments and objections stood at a month's end.
#[derive(Debug, Clone, QueryableByName)]
pub struct PaymentFacts {
    #[diesel(sql_type = BigInt)]
    pub approved_unpaid_claims: i64,
    #[diesel(sql_type = BigInt)]
    pub approved_unpaid_cents: i64,
    #[diesel(sql_type = BigInt)]
    pub paid_month_claims: i64,
    #[diesel(sql_type = BigInt)]
    pub paid_month_cents: i64,
    #[diesel(sql_type = BigInt)]
    pub objections_open: i64,
    #[diesel(sql_type = BigInt)]
    pub under_review_claims: i64,
    #[diesel(sql_type = BigInt)]
    pub under_review_cents: i64,
}

/// Claims approved but not paid (nor reversed) at `end` with what their spends recorded before
/// `end` moved (a later top-up does not change a past month), claims paid in [month_start, end),
/// objections open at `end`, and claims under review at `end` with the money they hold: from the recorded times, so a past month's figures stay as they were.
pub fn payment_facts(conn: &mut DbConn, fund_id: FundId, month_start: NaiveDateTime, end: NaiveDateTime) -> QueryResult<PaymentFacts> {
    let text = sql(
        conn,
        "SELECT
           CAST(COALESCE(SUM(CASE WHEN ts.recorded_at < $3 AND (c.paid_at IS NULL OR c.paid_at >= $3)
                                   AND (c.reversed_at IS NULL OR c.reversed_at >= $3) THEN 1 ELSE 0 END), 0) AS BIGINT) AS approved_unpaid_claims,
           (SELECT CAST(COALESCE(SUM(p.amount_cents), 0) AS BIGINT)
              FROM ledger_transactions t
              JOIN claims u ON u.id = substr(t.reference, 7)
              JOIN ledger_postings p ON p.transaction_id = t.id AND p.account = 'spent'
             WHERE t.fund_id = $1 AND t.kind = 'spend' AND t.recorded_at < $3
               AND (u.paid_at IS NULL OR u.paid_at >= $3) AND (u.reversed_at IS NULL OR u.reversed_at >= $3)) AS approved_unpaid_cents,
           CAST(COALESCE(SUM(CASE WHEN c.paid_at >= $2 AND c.paid_at < $3 THEN 1 ELSE 0 END), 0) AS BIGINT) AS paid_month_claims,
           CAST(COALESCE(SUM(CASE WHEN c.paid_at >= $2 AND c.paid_at < $3 THEN c.approved_cents ELSE 0 END), 0) AS BIGINT) AS paid_month_cents,
           (SELECT CAST(COUNT(*) AS BIGINT) FROM objections o
             WHERE o.fund_id = $1 AND o.filed_at < $3 AND (o.decided_at IS NULL OR o.decided_at >= $3)) AS objections_open,
           (SELECT CAST(COUNT(*) AS BIGINT) FROM claim_periods r
             WHERE r.fund_id = $1 AND r.kind = 'under_review' AND r.opened_at < $3 AND (r.closed_at IS NULL OR r.closed_at >= $3)) AS under_review_claims,
           (SELECT CAST(COALESCE(SUM(h.held_cents), 0) AS BIGINT) FROM claim_periods r JOIN claims h ON h.id = r.claim_id
             WHERE r.fund_id = $1 AND r.kind = 'under_review' AND r.opened_at < $3 AND (r.closed_at IS NULL OR r.closed_at >= $3)) AS under_review_cents
         FROM claims c JOIN ledger_transactions ts ON ts.id = c.spend_tx_id
         WHERE c.fund_id = $1",
    );
    diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Timestamp, _>(month_start).bind::<Timestamp, _>(end).get_result(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct FirstSession {
    #[diesel(sql_type = Text)]
    pub worker_id: String,
    #[diesel(sql_type = Date)]
    pub held_on: NaiveDate,
}

/// Per worker coached, the first coaching session held from `from` to `to` (recorded before
/// `end`): the report's coached workers, and when their guidance began.
pub fn first_sessions(conn: &mut DbConn, fund_id: FundId, from: NaiveDate, to: NaiveDate, end: NaiveDateTime) -> QueryResult<Vec<FirstSession>> {
    let text = sql(
        conn,
        "SELECT worker_id, MIN(held_on) AS held_on FROM coaching_sessions
         WHERE fund_id = $1 AND held_on >= $2 AND held_on <= $3 AND created_at < $4
         GROUP BY worker_id",
    );
    diesel::sql_query(text)
        .bind::<Text, _>(fund_id)
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .bind::<Timestamp, _>(end)
        .load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct PileRow {
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

/// Claims waiting for guidance at `end`, with the fund's share of their invoices.
pub fn awaiting_guidance(conn: &mut DbConn, fund_id: FundId, end: NaiveDateTime) -> QueryResult<PileRow> {
    let text = sql(
        conn,
        "SELECT CAST(COUNT(*) AS BIGINT) AS count, CAST(COALESCE(SUM(c.amount_cents * v.funding_pct / 100), 0) AS BIGINT) AS cents
         FROM claims c
         JOIN scheme_versions v ON v.id = c.scheme_version_id
         JOIN claim_periods w ON w.claim_id = c.id AND w.kind = 'awaiting_guidance'
         WHERE w.fund_id = $1 AND w.opened_at < $2 AND (w.closed_at IS NULL OR w.closed_at >= $2)",
    );
    diesel::sql_query(text).bind::<Text, _>(fund_id).bind::<Timestamp, _>(end).get_result(conn)
}

/// Vouchers issued before `end` and still open at it whose `valid_until` is after `after` and
/// on or before `until`: they lapse unused unless a claim redeems them.
pub fn vouchers_expiring(conn: &mut DbConn, fund_id: FundId, after: NaiveDate, until: NaiveDate, end: NaiveDateTime) -> QueryResult<PileRow> {
    let text = sql(
        conn,
        "SELECT CAST(COUNT(*) AS BIGINT) AS count, CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) AS cents
         FROM vouchers
         WHERE fund_id = $1 AND created_at < $4 AND (closed_at IS NULL OR closed_at >= $4)
           AND valid_until > $2 AND valid_until <= $3",
    );
    diesel::sql_query(text)
        .bind::<Text, _>(fund_id)
        .bind::<Date, _>(after)
        .bind::<Date, _>(until)
        .bind::<Timestamp, _>(end)
        .get_result(conn)
}
