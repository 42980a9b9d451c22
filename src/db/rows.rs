//! Row types (one insert form per table) and the queries of the reference data: funds,
//! schemes, employers, workers. Ledger rows are written only by `crate::ledger`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use crate::domain::scheme::{join_categories, split_categories, SchemeRules};
use crate::domain::time::now_utc;
use crate::domain::Money;
use crate::domain::ledger::{LedgerAccount, TxKind};
use crate::domain::providers::{Payee, ProviderPolicy};
use crate::domain::status::{ClaimStatus, SessionKind, VoucherStatus};
use crate::domain::{AccountId, ClaimId, ProviderId, EmployerId, FundId, LotId, SchemeId, SchemeVersionId, SessionId, TransactionId, VoucherId, WorkerId};
use super::schema::{
    budget_accounts, claims, coaching_sessions, employers, funds, grant_lots, idempotency_keys, ledger_postings, ledger_transactions,
    scheme_versions, schemes, voucher_lots, claim_lots, vouchers, workers,
};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = funds)]
pub struct FundRow {
    pub id: FundId,
    pub code: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    /// The fund as the debtor of its payment files; set with PATCH.
    pub legal_name: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = schemes)]
pub struct SchemeRow {
    pub id: SchemeId,
    pub fund_id: FundId,
    pub code: String,
    pub name: String,
    pub created_at: NaiveDateTime,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = scheme_versions)]
pub struct SchemeVersionRow {
    pub id: SchemeVersionId,
    pub fund_id: FundId,
    pub scheme_id: SchemeId,
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
    pub provider_policy: ProviderPolicy,
    pub payee: Payee,
    pub review_above_cents: Option<i64>,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = employers)]
pub struct EmployerRow {
    pub id: EmployerId,
    pub fund_id: FundId,
    pub kvk_number: String,
    pub name: String,
    pub sector: String,
    pub created_at: NaiveDateTime,
    pub iban: Option<String>,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = workers)]
pub struct WorkerRow {
    pub id: WorkerId,
    pub fund_id: FundId,
    pub participant_number: String,
    pub employer_id: EmployerId,
    pub birth_year: Option<i32>,
    pub education_level: Option<String>,
    pub created_at: NaiveDateTime,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = budget_accounts)]
pub struct AccountRow {
    pub id: AccountId,
    pub fund_id: FundId,
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    pub available_cents: i64,
    pub reserved_cents: i64,
    pub granted_cents: i64,
    pub spent_cents: i64,
    pub expired_cents: i64,
    pub tx_count: i64,
    pub chain_head: String,
    pub created_at: NaiveDateTime,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = grant_lots)]
pub struct LotRow {
    pub id: LotId,
    pub fund_id: FundId,
    pub account_id: AccountId,
    pub transaction_id: TransactionId,
    pub grant_year: i32,
    pub amount_cents: i64,
    pub available_cents: i64,
    pub reserved_cents: i64,
    pub expires_on: NaiveDate,
    pub created_at: NaiveDateTime,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = ledger_transactions)]
pub struct TransactionRow {
    pub id: TransactionId,
    pub fund_id: FundId,
    pub account_id: AccountId,
    pub seq: i64,
    pub kind: TxKind,
    pub effective_date: NaiveDate,
    pub recorded_at: NaiveDateTime,
    pub actor: String,
    pub reverses: Option<TransactionId>,
    pub reference: Option<String>,
    pub prev_hash: String,
    pub hash: String,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = ledger_postings)]
pub struct PostingRow {
    pub transaction_id: TransactionId,
    pub line: i32,
    pub fund_id: FundId,
    pub account: LedgerAccount,
    pub budget_account_id: Option<AccountId>,
    pub scheme_id: SchemeId,
    pub lot_id: Option<LotId>,
    pub amount_cents: i64,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = vouchers)]
pub struct VoucherRow {
    pub id: VoucherId,
    pub fund_id: FundId,
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    pub account_id: AccountId,
    pub code: String,
    pub amount_cents: i64,
    pub course: String,
    pub provider: String,
    pub valid_until: NaiveDate,
    pub status: VoucherStatus,
    pub issued_by: String,
    pub claim_id: Option<ClaimId>,
    pub created_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub provider_id: Option<ProviderId>,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = voucher_lots)]
pub struct VoucherLotRow {
    pub voucher_id: VoucherId,
    pub lot_id: LotId,
    pub fund_id: FundId,
    pub amount_cents: i64,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = claim_lots)]
pub struct ClaimLotRow {
    pub claim_id: ClaimId,
    pub lot_id: LotId,
    pub fund_id: FundId,
    pub amount_cents: i64,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = claims)]
pub struct ClaimRow {
    pub id: ClaimId,
    pub fund_id: FundId,
    pub worker_id: WorkerId,
    pub employer_id: EmployerId,
    pub scheme_id: SchemeId,
    pub scheme_version_id: SchemeVersionId,
    pub account_id: Option<AccountId>,
    pub amount_cents: i64,
    pub category: String,
    pub course: String,
    pub provider: String,
    pub invoice_reference: String,
    pub training_start: NaiveDate,
    pub training_end: NaiveDate,
    pub voucher_id: Option<VoucherId>,
    pub voucher_code: Option<String>,
    pub evidence_reference: Option<String>,
    pub status: ClaimStatus,
    pub approved_cents: i64,
    pub rejection_reason: Option<String>,
    pub decision_note: Option<String>,
    pub payment_reference: Option<String>,
    pub spend_tx_id: Option<TransactionId>,
    pub reversal_tx_id: Option<TransactionId>,
    pub submitted_by: String,
    pub submitted_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    pub paid_at: Option<NaiveDateTime>,
    pub reversed_at: Option<NaiveDateTime>,
    pub provider_id: Option<ProviderId>,
    /// What the claim holds while under review: its own reservation plus the voucher part.
    pub held_cents: i64,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub fund_id: FundId,
    pub caller: String,
    pub key: String,
    pub request_hash: String,
    pub status_code: Option<i32>,
    pub response_body: Option<String>,
    pub created_at: NaiveDateTime,}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = coaching_sessions)]
pub struct SessionRow {
    pub id: SessionId,
    pub fund_id: FundId,
    pub worker_id: WorkerId,
    pub coach: String,
    pub held_on: NaiveDate,
    pub duration_minutes: i32,
    pub kind: SessionKind,
    pub voucher_id: Option<VoucherId>,
    pub claim_id: Option<ClaimId>,
    pub created_at: NaiveDateTime,}

/// A page request: at most `limit` rows with ids below `after`, newest first.
#[derive(Clone, Debug)]
pub struct PageQuery {
    pub after: Option<String>,
    pub limit: i64,
}

pub fn find_fund(conn: &mut DbConn, fund_id: FundId) -> QueryResult<Option<FundRow>> {
    funds::table.find(fund_id).select(FundRow::as_select()).first(conn).optional()
}

pub fn list_funds(conn: &mut DbConn, page: &PageQuery) -> QueryResult<Vec<FundRow>> {
    let mut query = funds::table.select(FundRow::as_select()).into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(funds::id.lt(after.clone()));
    }
    query.order(funds::id.desc()).limit(page.limit).load(conn)
}

pub fn find_scheme(conn: &mut DbConn, fund_id: FundId, scheme_id: SchemeId) -> QueryResult<Option<SchemeRow>> {
    schemes::table
        .filter(schemes::fund_id.eq(fund_id))
        .filter(schemes::id.eq(scheme_id))
        .select(SchemeRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_schemes(conn: &mut DbConn, fund_id: FundId, page: &PageQuery) -> QueryResult<Vec<SchemeRow>> {
    let mut query = schemes::table
        .filter(schemes::fund_id.eq(fund_id))
        .select(SchemeRow::as_select())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(schemes::id.lt(after.clone()));
    }
    query.order(schemes::id.desc()).limit(page.limit).load(conn)
}

/// All versions of a scheme, oldest rules first.
pub fn scheme_versions_of(conn: &mut DbConn, scheme_id: SchemeId) -> QueryResult<Vec<SchemeVersionRow>> {
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
    fund_id: FundId,
    scheme_id: SchemeId,
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
    fund_id: FundId,
    worker_id: WorkerId,
    scheme_id: SchemeId,
) -> QueryResult<Option<(WorkerRow, Option<AccountId>)>> {
    workers::table
        .left_join(
            budget_accounts::table.on(budget_accounts::worker_id
                .eq(workers::id)
                .and(budget_accounts::scheme_id.eq(scheme_id))),
        )
        .filter(workers::fund_id.eq(fund_id))
        .filter(workers::id.eq(worker_id))
        .select((WorkerRow::as_select(), budget_accounts::id.nullable()))
        .first(conn)
        .optional()
}

pub fn find_employer(conn: &mut DbConn, fund_id: FundId, employer_id: EmployerId) -> QueryResult<Option<EmployerRow>> {
    employers::table
        .filter(employers::fund_id.eq(fund_id))
        .filter(employers::id.eq(employer_id))
        .select(EmployerRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_employers(conn: &mut DbConn, fund_id: FundId, kvk_number: Option<&str>, page: &PageQuery) -> QueryResult<Vec<EmployerRow>> {
    let mut query = employers::table
        .filter(employers::fund_id.eq(fund_id))
        .select(EmployerRow::as_select())
        .into_boxed();
    if let Some(kvk) = kvk_number {
        query = query.filter(employers::kvk_number.eq(kvk.to_string()));
    }
    if let Some(after) = &page.after {
        query = query.filter(employers::id.lt(after.clone()));
    }
    query.order(employers::id.desc()).limit(page.limit).load(conn)
}

pub fn find_worker(conn: &mut DbConn, fund_id: FundId, worker_id: WorkerId) -> QueryResult<Option<WorkerRow>> {
    workers::table
        .filter(workers::fund_id.eq(fund_id))
        .filter(workers::id.eq(worker_id))
        .select(WorkerRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_workers(
    conn: &mut DbConn,
    fund_id: FundId,
    employer_id: Option<EmployerId>,
    participant_number: Option<&str>,
    page: &PageQuery,
) -> QueryResult<Vec<WorkerRow>> {
    let mut query = workers::table
        .filter(workers::fund_id.eq(fund_id))
        .select(WorkerRow::as_select())
        .into_boxed();
    if let Some(employer_id) = employer_id {
        query = query.filter(workers::employer_id.eq(employer_id));
    }
    if let Some(number) = participant_number {
        query = query.filter(workers::participant_number.eq(number.to_string()));
    }
    if let Some(after) = &page.after {
        query = query.filter(workers::id.lt(after.clone()));
    }
    query.order(workers::id.desc()).limit(page.limit).load(conn)
}

pub fn accounts_of_worker(conn: &mut DbConn, worker_id: WorkerId) -> QueryResult<Vec<AccountRow>> {
    budget_accounts::table
        .filter(budget_accounts::worker_id.eq(worker_id))
        .order(budget_accounts::id.asc())
        .select(AccountRow::as_select())
        .load(conn)
}

pub fn lots_of_account(conn: &mut DbConn, account_id: AccountId) -> QueryResult<Vec<LotRow>> {
    grant_lots::table
        .filter(grant_lots::account_id.eq(account_id))
        .order((grant_lots::expires_on.asc(), grant_lots::id.asc()))
        .select(LotRow::as_select())
        .load(conn)
}

impl SchemeVersionRow {
    /// The row of a new version of a scheme with these (validated) rules.
    pub fn new(fund_id: FundId, scheme_id: SchemeId, rules: &SchemeRules) -> SchemeVersionRow {
        SchemeVersionRow {
            id: SchemeVersionId::new(),
            fund_id,
            scheme_id,
            effective_from: rules.effective_from,
            annual_amount_cents: rules.annual_amount.cents(),
            max_balance_cents: rules.max_balance.cents(),
            validity_years: rules.validity_years,
            eligible_categories: join_categories(&rules.eligible_categories),
            max_claim_amount_cents: rules.max_claim_amount.cents(),
            allow_partial: rules.allow_partial,
            guidance_required_above_cents: rules.guidance_required_above.map(Money::cents),
            guidance_window_days: rules.guidance_window_days,
            funding_pct: rules.funding_pct,
            claim_deadline_days: rules.claim_deadline_days,
            created_at: now_utc(),
            provider_policy: rules.provider_policy,
            payee: rules.payee,
            review_above_cents: rules.review_above.map(Money::cents),
        }
    }

    /// The categories a claim may be for, as the list they were given.
    pub fn categories(&self) -> Vec<String> {
        split_categories(&self.eligible_categories)
    }
}

impl AccountRow {
    /// A budget account that has seen no transaction yet: zero balances, the genesis head.
    pub fn empty(fund_id: FundId, worker_id: WorkerId, scheme_id: SchemeId, created_at: NaiveDateTime) -> AccountRow {
        AccountRow {
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
            chain_head: crate::domain::ledger::GENESIS_HASH.to_string(),
            created_at,
        }
    }
}
