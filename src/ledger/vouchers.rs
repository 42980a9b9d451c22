//! Vouchers: earmark budget for a course (available → reserved) until `valid_until`.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::spending::{release, reserve, Booking};
use super::{lock_account, LedgerError};
use crate::domain::status::VoucherStatus;
use crate::db::conn::DbConn;
use crate::db::rows::{self, VoucherLotRow, VoucherRow};
use crate::db::schema::{budget_accounts, voucher_lots, vouchers};
use crate::domain::time::now_utc;
use crate::domain::voucher_code::VoucherCode;
use super::outbox::{emit, Event};
use crate::domain::events::EventType;
use crate::domain::providers::{verdict, ProviderRefusal};
use crate::domain::{AccountId, Amount, FundId, LotId, ProviderId, SchemeId, VoucherId, WorkerId};
use crate::views::VoucherView;

#[derive(Clone, Debug)]
pub struct VoucherRequest {
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    pub amount: Amount,
    pub course: String,
    pub provider: String,
    pub valid_until: NaiveDate,
    pub provider_id: Option<ProviderId>,
}

#[derive(Debug, thiserror::Error)]
pub enum VoucherError {
    #[error("worker {0} not found in this fund")]
    UnknownWorker(WorkerId),
    #[error("scheme {0} not found in this fund")]
    UnknownScheme(SchemeId),
    #[error("provider_id: provider {0} is not registered in this fund")]
    UnknownProvider(ProviderId),
    #[error("this scheme pays only registered providers: name an active one of the fund by provider_id")]
    ProviderNotRegistered,
    #[error("the provider is suspended: no voucher may name it until it is reinstated")]
    ProviderSuspended,
    #[error("voucher not found")]
    NotFound,
    #[error("the voucher is {0}, not issued")]
    NotIssued(VoucherStatus),
    #[error("claim {0} under review holds this voucher: it can be cancelled once the review is decided")]
    HeldByClaim(crate::domain::ClaimId),
    #[error("a coaching session within {window_days} days is required for a voucher above {threshold}")]
    GuidanceRequired { threshold: String, window_days: i32 },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<diesel::result::Error> for VoucherError {
    fn from(e: diesel::result::Error) -> VoucherError {
        VoucherError::Ledger(LedgerError::Db(e))
    }
}

/// The account of a worker in a scheme, if it was ever granted anything.
pub fn find_account(conn: &mut DbConn, worker_id: WorkerId, scheme_id: SchemeId) -> QueryResult<Option<AccountId>> {
    budget_accounts::table
        .filter(budget_accounts::worker_id.eq(worker_id))
        .filter(budget_accounts::scheme_id.eq(scheme_id))
        .select(budget_accounts::id)
        .first(conn)
        .optional()
}

/// The lots a voucher reserved, oldest expiry first.
pub fn allocations(conn: &mut DbConn, voucher_id: VoucherId) -> QueryResult<Vec<(LotId, i64)>> {
    let rows: Vec<(LotId, i64, NaiveDate)> = voucher_lots::table
        .inner_join(crate::db::schema::grant_lots::table.on(crate::db::schema::grant_lots::id.eq(voucher_lots::lot_id)))
        .filter(voucher_lots::voucher_id.eq(voucher_id))
        .select((voucher_lots::lot_id, voucher_lots::amount_cents, crate::db::schema::grant_lots::expires_on))
        .load(conn)?;
    let mut rows = rows;
    rows.sort_by_key(|&(lot, _, expires_on)| (expires_on, lot));
    Ok(rows.into_iter().map(|(lot, cents, _)| (lot, cents)).collect())
}

/// The row of a voucher just issued, with a new code.
pub(crate) fn new_voucher_row(id: VoucherId, fund_id: FundId, account_id: AccountId, request: &VoucherRequest, actor: &str) -> VoucherRow {
    VoucherRow {
        id,
        fund_id,
        worker_id: request.worker_id,
        scheme_id: request.scheme_id,
        account_id,
        code: VoucherCode::generate().canonical().to_string(),
        amount_cents: request.amount.cents(),
        course: request.course.clone(),
        provider: request.provider.clone(),
        valid_until: request.valid_until,
        status: VoucherStatus::Issued,
        issued_by: actor.to_string(),
        claim_id: None,
        created_at: now_utc(),
        closed_at: None,
        provider_id: request.provider_id,
    }
}

/// Issues a voucher inside the caller's write transaction: 409-worthy `InsufficientBudget`
/// when the usable budget cannot cover it, and then nothing is reserved.
pub fn issue(
    conn: &mut DbConn,
    fund_id: FundId,
    actor: &str,
    request: &VoucherRequest,
    today: NaiveDate,
) -> Result<VoucherRow, VoucherError> {
    let (worker, scheme) = (request.worker_id, request.scheme_id);
    if rows::find_worker(conn, fund_id, worker)?.is_none() {
        return Err(VoucherError::UnknownWorker(request.worker_id));
    }
    let rules = rows::scheme_version_in_fund(conn, fund_id, scheme, today)?.ok_or(VoucherError::UnknownScheme(request.scheme_id))?;
    let named = match request.provider_id {
        Some(id) => Some(crate::db::providers::standing(conn, fund_id, id)?),
        None => None,
    };
    match verdict(rules.provider_policy, named) {
        Ok(()) => {}
        Err(ProviderRefusal::NotRegistered) => return Err(VoucherError::ProviderNotRegistered),
        Err(ProviderRefusal::Suspended) => return Err(VoucherError::ProviderSuspended),
        Err(ProviderRefusal::UnknownReference) => return Err(VoucherError::UnknownProvider(request.provider_id.unwrap_or_default())),
    }
    if !super::guidance::met(conn, worker, &rules, request.amount.cents(), today)? {
        return Err(VoucherError::GuidanceRequired {
            threshold: crate::domain::format_cents(rules.guidance_required_above_cents.unwrap_or_default()),
            window_days: rules.guidance_window_days,
        });
    }
    let account_id = find_account(conn, worker, scheme)?
        .ok_or(VoucherError::Ledger(LedgerError::InsufficientBudget { usable_cents: 0 }))?;
    let account = lock_account(conn, account_id)?;
    let voucher_id = VoucherId::new();
    let booking = Booking::new(actor, today, format!("voucher:{voucher_id}"));
    let (_, taken) = reserve(conn, &account, request.amount.cents(), &booking)?;
    let row = new_voucher_row(voucher_id, fund_id, account.id, request, actor);
    diesel::insert_into(vouchers::table).values(&row).execute(conn)?;
    for (lot, cents) in taken {
        let allocation = VoucherLotRow { voucher_id: row.id, lot_id: lot, fund_id, amount_cents: cents };
        diesel::insert_into(voucher_lots::table).values(&allocation).execute(conn)?;
    }
    voucher_event(conn, &row)?;
    Ok(row)
}

pub fn find_voucher(conn: &mut DbConn, fund: FundId, voucher_id: VoucherId) -> QueryResult<Option<VoucherRow>> {
    vouchers::table
        .filter(vouchers::fund_id.eq(fund))
        .filter(vouchers::id.eq(voucher_id))
        .select(VoucherRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_voucher_by_code(conn: &mut DbConn, fund: FundId, code: &VoucherCode) -> QueryResult<Option<VoucherRow>> {
    vouchers::table
        .filter(vouchers::fund_id.eq(fund))
        .filter(vouchers::code.eq(code.canonical()))
        .select(VoucherRow::as_select())
        .first(conn)
        .optional()
}

/// Closes an issued voucher (`cancelled` or `expired`) and releases its reservation, inside
/// the caller's write transaction. The account is locked before the status is read, so two
/// closes cannot both release.
pub fn close(
    conn: &mut DbConn,
    fund: FundId,
    voucher_id: VoucherId,
    actor: &str,
    today: NaiveDate,
    new_status: VoucherStatus,
) -> Result<VoucherRow, VoucherError> {
    let voucher = find_voucher(conn, fund, voucher_id)?.ok_or(VoucherError::NotFound)?;
    let account = lock_account(conn, voucher.account_id)?;
    let voucher = find_voucher(conn, fund, voucher_id)?.ok_or(VoucherError::NotFound)?;
    if voucher.status != VoucherStatus::Issued {
        return Err(VoucherError::NotIssued(voucher.status));
    }
    if let Some(claim) = super::review::holding_claim(conn, voucher_id)? {
        return Err(VoucherError::HeldByClaim(claim));
    }
    let allocations = allocations(conn, voucher_id)?;
    let booking = Booking::new(actor, today, format!("voucher:{voucher_id}"));
    release(conn, &account, &allocations, &booking)?;
    let closed_at = now_utc();
    let updated = diesel::update(vouchers::table.filter(vouchers::id.eq(voucher_id)).filter(vouchers::status.eq(VoucherStatus::Issued)))
        .set((vouchers::status.eq(new_status), vouchers::closed_at.eq(Some(closed_at))))
        .execute(conn)?;
    if updated != 1 {
        return Err(VoucherError::Ledger(LedgerError::Invariant(format!("voucher {voucher_id} changed under its account lock"))));
    }
    let closed = VoucherRow { status: new_status, closed_at: Some(closed_at), ..voucher };
    voucher_event(conn, &closed)?;
    Ok(closed)
}

/// The event of a voucher's new state; the worker's employer and the worker may read it.
/// The event a voucher's new state emits.
pub(crate) fn voucher_event_type(status: VoucherStatus) -> EventType {
    match status {
        VoucherStatus::Issued => EventType::VoucherIssued,
        VoucherStatus::Redeemed => EventType::VoucherRedeemed,
        VoucherStatus::Cancelled => EventType::VoucherCancelled,
        VoucherStatus::Expired => EventType::VoucherExpired,
    }
}

pub(crate) fn voucher_event(conn: &mut DbConn, voucher: &VoucherRow) -> Result<(), LedgerError> {
    let kind = voucher_event_type(voucher.status);
    let employer = super::outbox::employer_of(conn, voucher.fund_id, voucher.worker_id)?;
    let view = VoucherView::from(voucher.clone());
    emit(conn, Event { fund: voucher.fund_id, kind, worker: Some(voucher.worker_id), employer, data: &view })
}
