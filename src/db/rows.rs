//! Row types (one insert form per table) and the queries of the reference data: funds,
//! schemes, employers, workers. Ledger rows are written only by `crate::ledger`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::{
    budget_accounts, claims, coaching_sessions, employers, funds, grant_lots, idempotency_keys, ledger_postings, ledger_transactions,
    scheme_versions, schemes, voucher_lots, vouchers, workers,
};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = funds)]
pub struct FundRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = schemes)]
pub struct SchemeRow {
    pub id: String,
    pub fund_id: String,
    pub code: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = scheme_versions)]
pub struct SchemeVersionRow {
    pub id: String,
    pub fund_id: String,
    pub scheme_id: String,
    pub effective_from: NaiveDate,
    pub annual_amount_cents: i64,
    pub max_balance_cents: i64,
    pub validity_years: i32,
    pub eligible_categories: String,
    pub max_claim_amount_cents: i64,
    pub allow_partial: bool,
    pub guidance_required_above_cents: Option<i64>,
    pub guidance_window_days: i32,
    pub funding_pct: i32,
    pub claim_deadline_days: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = employers)]
pub struct EmployerRow {
    pub id: String,
    pub fund_id: String,
    pub kvk_number: String,
    pub name: String,
    pub sector: String,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = workers)]
pub struct WorkerRow {
    pub id: String,
    pub fund_id: String,
    pub participant_number: String,
    pub employer_id: String,
    pub birth_year: Option<i32>,
    pub education_level: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = budget_accounts)]
pub struct AccountRow {
    pub id: String,
    pub fund_id: String,
    pub worker_id: String,
    pub scheme_id: String,
    pub available_cents: i64,
    pub reserved_cents: i64,
    pub granted_cents: i64,
    pub spent_cents: i64,
    pub expired_cents: i64,
    pub tx_count: i64,
    pub chain_head: String,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = grant_lots)]
pub struct LotRow {
    pub id: String,
    pub fund_id: String,
    pub account_id: String,
    pub transaction_id: String,
    pub grant_year: i32,
    pub amount_cents: i64,
    pub available_cents: i64,
    pub reserved_cents: i64,
    pub expires_on: NaiveDate,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = ledger_transactions)]
pub struct TransactionRow {
    pub id: String,
    pub fund_id: String,
    pub account_id: String,
    pub seq: i64,
    pub kind: String,
    pub effective_date: NaiveDate,
    pub recorded_at: NaiveDateTime,
    pub actor: String,
    pub reverses: Option<String>,
    pub reference: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = ledger_postings)]
pub struct PostingRow {
    pub transaction_id: String,
    pub line: i32,
    pub fund_id: String,
    pub account: String,
    pub budget_account_id: Option<String>,
    pub scheme_id: String,
    pub lot_id: Option<String>,
    pub amount_cents: i64,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = vouchers)]
pub struct VoucherRow {
    pub id: String,
    pub fund_id: String,
    pub worker_id: String,
    pub scheme_id: String,
    pub account_id: String,
    pub code: String,
    pub amount_cents: i64,
    pub course: String,
    pub provider: String,
    pub valid_until: NaiveDate,
    pub status: String,
    pub issued_by: String,
    pub claim_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = voucher_lots)]
pub struct VoucherLotRow {
    pub voucher_id: String,
    pub lot_id: String,
    pub fund_id: String,
    pub amount_cents: i64,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = claims)]
pub struct ClaimRow {
    pub id: String,
    pub fund_id: String,
    pub worker_id: String,
    pub employer_id: String,
    pub scheme_id: String,
    pub scheme_version_id: String,
    pub account_id: Option<String>,
    pub amount_cents: i64,
    pub category: String,
    pub course: String,
    pub provider: String,
    pub invoice_reference: String,
    pub training_start: NaiveDate,
    pub training_end: NaiveDate,
    pub voucher_id: Option<String>,
    pub voucher_code: Option<String>,
    pub evidence_reference: Option<String>,
    pub status: String,
    pub approved_cents: i64,
    pub rejection_reason: Option<String>,
    pub decision_note: Option<String>,
    pub payment_reference: Option<String>,
    pub spend_tx_id: Option<String>,
    pub reversal_tx_id: Option<String>,
    pub submitted_by: String,
    pub submitted_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    pub paid_at: Option<NaiveDateTime>,
    pub reversed_at: Option<NaiveDateTime>,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub fund_id: String,
    pub caller: String,
    pub key: String,
    pub request_hash: String,
    pub status_code: Option<i32>,
    pub response_body: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = coaching_sessions)]
pub struct SessionRow {
    pub id: String,
    pub fund_id: String,
    pub worker_id: String,
    pub coach: String,
    pub held_on: NaiveDate,
    pub duration_minutes: i32,
    pub kind: String,
    pub voucher_id: Option<String>,
    pub claim_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A page request: at most `limit` rows with ids below `after`, newest first.
#[derive(Clone, Debug)]
pub struct PageQuery {
    pub after: Option<String>,
    pub limit: i64,
}

pub fn find_fund(conn: &mut DbConn, fund_id: &str) -> QueryResult<Option<FundRow>> {
    funds::table.find(fund_id).select(FundRow::as_select()).first(conn).optional()
}

pub fn list_funds(conn: &mut DbConn, page: &PageQuery) -> QueryResult<Vec<FundRow>> {
    let mut query = funds::table.select(FundRow::as_select()).into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(funds::id.lt(after.clone()));
    }
    query.order(funds::id.desc()).limit(page.limit).load(conn)
}

pub fn find_scheme(conn: &mut DbConn, fund_id: &str, scheme_id: &str) -> QueryResult<Option<SchemeRow>> {
    schemes::table
        .filter(schemes::fund_id.eq(fund_id))
        .filter(schemes::id.eq(scheme_id))
        .select(SchemeRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_schemes(conn: &mut DbConn, fund_id: &str, page: &PageQuery) -> QueryResult<Vec<SchemeRow>> {
    let mut query = schemes::table
        .filter(schemes::fund_id.eq(fund_id.to_string()))
        .select(SchemeRow::as_select())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(schemes::id.lt(after.clone()));
    }
    query.order(schemes::id.desc()).limit(page.limit).load(conn)
}

/// All versions of a scheme, oldest rules first.
pub fn scheme_versions_of(conn: &mut DbConn, scheme_id: &str) -> QueryResult<Vec<SchemeVersionRow>> {
    scheme_versions::table
        .filter(scheme_versions::scheme_id.eq(scheme_id))
        .order(scheme_versions::effective_from.asc())
        .select(SchemeVersionRow::as_select())
        .load(conn)
}

/// The version of a scheme of this fund in force on `date` (before the first version, the
/// first version), in one query when it exists.
pub fn scheme_version_in_fund(
    conn: &mut DbConn,
    fund_id: &str,
    scheme_id: &str,
    date: NaiveDate,
) -> QueryResult<Option<SchemeVersionRow>> {
    let in_force = scheme_versions::table
        .inner_join(schemes::table)
        .filter(schemes::fund_id.eq(fund_id))
        .filter(scheme_versions::scheme_id.eq(scheme_id))
        .filter(scheme_versions::effective_from.le(date))
        .order((scheme_versions::effective_from.desc(), scheme_versions::created_at.desc()))
        .select(SchemeVersionRow::as_select())
        .first(conn)
        .optional()?;
    match in_force {
        Some(version) => Ok(Some(version)),
        None => scheme_versions::table
            .inner_join(schemes::table)
            .filter(schemes::fund_id.eq(fund_id))
            .filter(scheme_versions::scheme_id.eq(scheme_id))
            .order((scheme_versions::effective_from.asc(), scheme_versions::created_at.asc()))
            .select(SchemeVersionRow::as_select())
            .first(conn)
            .optional(),
    }
}

/// A worker of this fund and the id of its budget account in a scheme, if it has one: one query.
pub fn worker_with_account(
    conn: &mut DbConn,
    fund_id: &str,
    worker_id: &str,
    scheme_id: &str,
) -> QueryResult<Option<(WorkerRow, Option<String>)>> {
    workers::table
        .left_join(
            budget_accounts::table.on(budget_accounts::worker_id
                .eq(workers::id)
                .and(budget_accounts::scheme_id.eq(scheme_id.to_string()))),
        )
        .filter(workers::fund_id.eq(fund_id))
        .filter(workers::id.eq(worker_id))
        .select((WorkerRow::as_select(), budget_accounts::id.nullable()))
        .first(conn)
        .optional()
}

pub fn find_employer(conn: &mut DbConn, fund_id: &str, employer_id: &str) -> QueryResult<Option<EmployerRow>> {
    employers::table
        .filter(employers::fund_id.eq(fund_id))
        .filter(employers::id.eq(employer_id))
        .select(EmployerRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_employers(conn: &mut DbConn, fund_id: &str, page: &PageQuery) -> QueryResult<Vec<EmployerRow>> {
    let mut query = employers::table
        .filter(employers::fund_id.eq(fund_id.to_string()))
        .select(EmployerRow::as_select())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(employers::id.lt(after.clone()));
    }
    query.order(employers::id.desc()).limit(page.limit).load(conn)
}

pub fn find_worker(conn: &mut DbConn, fund_id: &str, worker_id: &str) -> QueryResult<Option<WorkerRow>> {
    workers::table
        .filter(workers::fund_id.eq(fund_id))
        .filter(workers::id.eq(worker_id))
        .select(WorkerRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_workers(
    conn: &mut DbConn,
    fund_id: &str,
    employer_id: Option<&str>,
    page: &PageQuery,
) -> QueryResult<Vec<WorkerRow>> {
    let mut query = workers::table
        .filter(workers::fund_id.eq(fund_id.to_string()))
        .select(WorkerRow::as_select())
        .into_boxed();
    if let Some(employer_id) = employer_id {
        query = query.filter(workers::employer_id.eq(employer_id.to_string()));
    }
    if let Some(after) = &page.after {
        query = query.filter(workers::id.lt(after.clone()));
    }
    query.order(workers::id.desc()).limit(page.limit).load(conn)
}

pub fn accounts_of_worker(conn: &mut DbConn, worker_id: &str) -> QueryResult<Vec<AccountRow>> {
    budget_accounts::table
        .filter(budget_accounts::worker_id.eq(worker_id))
        .order(budget_accounts::id.asc())
        .select(AccountRow::as_select())
        .load(conn)
}

pub fn lots_of_account(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<LotRow>> {
    grant_lots::table
        .filter(grant_lots::account_id.eq(account_id))
        .order((grant_lots::expires_on.asc(), grant_lots::id.asc()))
        .select(LotRow::as_select())
        .load(conn)
}

impl ClaimRow {
    /// The claim's state; `None` only for a row this service did not write.
    pub fn state(&self) -> Option<crate::domain::status::ClaimStatus> {
        crate::domain::status::ClaimStatus::parse(&self.status)
    }

    pub fn is(&self, status: crate::domain::status::ClaimStatus) -> bool {
        self.status == status.as_str()
    }
}

impl VoucherRow {
    /// The voucher's state; `None` only for a row this service did not write.
    pub fn state(&self) -> Option<crate::domain::status::VoucherStatus> {
        crate::domain::status::VoucherStatus::parse(&self.status)
    }

    pub fn is(&self, status: crate::domain::status::VoucherStatus) -> bool {
        self.status == status.as_str()
    }
}
