//! Payment batches: the fund's payment settings, the payable claims, batches and their items.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::rows::FundRow;
use super::schema::{claims, employers, funds, payment_batch_items, payment_batches, payment_returns, providers, scheme_versions};
use crate::domain::payments::BatchStatus;
use crate::domain::status::ClaimStatus;
use crate::domain::providers::{Payee, ProviderStatus};
use crate::domain::{BatchId, ClaimId, FundId};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = payment_batches)]
pub struct BatchRow {
    pub id: BatchId,
    pub fund_id: FundId,
    pub status: BatchStatus,
    pub execution_date: NaiveDate,
    pub debtor_name: String,
    pub debtor_iban: String,
    pub debtor_bic: Option<String>,
    pub transaction_count: i32,
    pub total_cents: i64,
    pub created_at: NaiveDateTime,
    pub created_by: String,
    pub bank_reference: Option<String>,
    pub closed_at: Option<NaiveDateTime>,
    pub closed_by: Option<String>,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = payment_batch_items)]
pub struct ItemRow {
    pub batch_id: BatchId,
    pub claim_id: ClaimId,
    pub fund_id: FundId,
    pub line: i32,
    pub amount_cents: i64,
    pub creditor_name: String,
    pub creditor_iban: String,
    pub end_to_end_id: String,
    pub remittance: String,
    pub active: bool,
}

/// What a payment settings change sets; `None` leaves a field, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct PaymentSettings {
    pub legal_name: Option<Option<String>>,
    pub iban: Option<Option<String>>,
    pub bic: Option<Option<String>>,
}

/// Applies `settings` to the fund and answers it as it is afterwards.
pub fn update_fund_settings(conn: &mut DbConn, fund: FundId, settings: PaymentSettings) -> QueryResult<Option<FundRow>> {
    let target = funds::table.filter(funds::id.eq(fund));
    let legal_name = settings.legal_name.map(|v| funds::legal_name.eq(v));
    let iban = settings.iban.map(|v| funds::iban.eq(v));
    let bic = settings.bic.map(|v| funds::bic.eq(v));
    if legal_name.is_none() && iban.is_none() && bic.is_none() {
        return target.select(FundRow::as_select()).first(conn).optional();
    }
    crate::on_backend!(conn, |c| diesel::update(target)
        .set((legal_name.clone(), iban.clone(), bic.clone()))
        .returning(FundRow::as_returning())
        .get_result(c)
        .optional())
}

/// An approved claim that is in no active batch item, with what paying it needs: the scheme's
/// payee, the submitting employer and the provider it names (if registered).
#[derive(Debug, Clone, Queryable)]
pub struct Payable {
    pub claim_id: ClaimId,
    pub approved_cents: i64,
    pub invoice_reference: String,
    pub payee: Payee,
    pub employer_name: String,
    pub employer_iban: Option<String>,
    pub provider_name: Option<String>,
    pub provider_iban: Option<String>,
    pub provider_status: Option<ProviderStatus>,
}

/// The fund's approved claims that no open or confirmed batch holds, oldest first.
pub fn payable_claims(conn: &mut DbConn, fund: FundId) -> QueryResult<Vec<Payable>> {
    let in_batch = payment_batch_items::table
        .filter(payment_batch_items::active.eq(true))
        .filter(payment_batch_items::claim_id.eq(claims::id))
        .select(payment_batch_items::claim_id);
    claims::table
        .inner_join(employers::table.on(employers::id.eq(claims::employer_id)))
        .inner_join(scheme_versions::table.on(scheme_versions::id.eq(claims::scheme_version_id)))
        .left_join(providers::table.on(providers::id.nullable().eq(claims::provider_id)))
        .filter(claims::fund_id.eq(fund))
        .filter(claims::status.eq(ClaimStatus::Approved))
        .filter(claims::approved_cents.gt(0))
        .filter(diesel::dsl::not(diesel::dsl::exists(in_batch)))
        .order(claims::id.asc())
        .select((
            claims::id,
            claims::approved_cents,
            claims::invoice_reference,
            scheme_versions::payee,
            employers::name,
            employers::iban,
            providers::name.nullable(),
            providers::iban.nullable(),
            providers::status.nullable(),
        ))
        .load(conn)
}

pub fn insert_batch(conn: &mut DbConn, batch: &BatchRow, items: &[ItemRow]) -> QueryResult<()> {
    diesel::insert_into(payment_batches::table).values(batch).execute(conn)?;
    for chunk in items.chunks(super::ledger_statements::INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(payment_batch_items::table).values(chunk).execute(c))?;
    }
    Ok(())
}

pub fn find_batch(conn: &mut DbConn, fund: FundId, batch: BatchId) -> QueryResult<Option<BatchRow>> {
    payment_batches::table
        .filter(payment_batches::fund_id.eq(fund))
        .filter(payment_batches::id.eq(batch))
        .select(BatchRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_batches(conn: &mut DbConn, fund: FundId, page: &super::rows::PageQuery) -> QueryResult<Vec<BatchRow>> {
    let mut query = payment_batches::table.filter(payment_batches::fund_id.eq(fund)).select(BatchRow::as_select()).into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(payment_batches::id.lt(after.clone()));
    }
    query.order(payment_batches::id.desc()).limit(page.limit).load(conn)
}

/// A batch's credit transfers in file order.
pub fn items_of(conn: &mut DbConn, batch: BatchId) -> QueryResult<Vec<ItemRow>> {
    payment_batch_items::table
        .filter(payment_batch_items::batch_id.eq(batch))
        .order(payment_batch_items::line.asc())
        .select(ItemRow::as_select())
        .load(conn)
}

/// Moves an open batch to `status`, once: the conditional update is the guard (and on
/// PostgreSQL its row lock makes a second confirm wait, then find the batch closed). `false`
/// when the batch was not open.
pub fn close_batch(conn: &mut DbConn, batch: BatchId, status: BatchStatus, bank_reference: Option<&str>, by: &str, at: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(payment_batches::table.filter(payment_batches::id.eq(batch)).filter(payment_batches::status.eq(BatchStatus::Open)))
        .set((
            payment_batches::status.eq(status),
            payment_batches::bank_reference.eq(bank_reference),
            payment_batches::closed_at.eq(Some(at)),
            payment_batches::closed_by.eq(Some(by)),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Releases the claims of a cancelled batch, so that a later batch may take them.
pub fn release_items(conn: &mut DbConn, batch: BatchId) -> QueryResult<usize> {
    diesel::update(payment_batch_items::table.filter(payment_batch_items::batch_id.eq(batch)).filter(payment_batch_items::active.eq(true)))
        .set(payment_batch_items::active.eq(false))
        .execute(conn)
}

/// The open batch holding a claim, if any: such a claim is neither paid by hand nor reversed.
pub fn open_batch_of_claim(conn: &mut DbConn, claim: ClaimId) -> QueryResult<Option<BatchId>> {
    payment_batch_items::table
        .inner_join(payment_batches::table.on(payment_batches::id.eq(payment_batch_items::batch_id)))
        .filter(payment_batch_items::claim_id.eq(claim))
        .filter(payment_batch_items::active.eq(true))
        .filter(payment_batches::status.eq(BatchStatus::Open))
        .select(payment_batches::id)
        .first(conn)
        .optional()
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = payment_returns)]
pub struct ReturnRow {
    pub batch_id: BatchId,
    pub claim_id: ClaimId,
    pub fund_id: FundId,
    pub reason_code: Option<String>,
    pub report_id: String,
    pub recorded_at: NaiveDateTime,
}

/// Records a transfer the bank refused and releases its claim from the batch.
pub fn return_item(conn: &mut DbConn, row: &ReturnRow) -> QueryResult<()> {
    diesel::insert_into(payment_returns::table).values(row).execute(conn)?;
    diesel::update(
        payment_batch_items::table
            .filter(payment_batch_items::batch_id.eq(row.batch_id))
            .filter(payment_batch_items::claim_id.eq(row.claim_id))
            .filter(payment_batch_items::active.eq(true)),
    )
    .set(payment_batch_items::active.eq(false))
    .execute(conn)?;
    Ok(())
}

/// The transfers of a batch the bank refused.
pub fn returns_of(conn: &mut DbConn, batch: BatchId) -> QueryResult<Vec<ReturnRow>> {
    payment_returns::table.filter(payment_returns::batch_id.eq(batch)).select(ReturnRow::as_select()).load(conn)
}
